// The admin panel's live parts (and a question before a mute or ban): the dashboard and the rooms page follow
// /admin/overview.json, the jobs page follows /api/admin/jobs, every two seconds, without
// reloading the page. Everything is written with textContent (nothing from the server is
// parsed as HTML).
"use strict";

(() => {
  const EVERY_MS = 2000;

  // Forms that undo something for someone (a mute, a ban) ask first.
  document.addEventListener("submit", (ev) => {
    const question = ev.target.dataset && ev.target.dataset.confirm;
    if (question && !window.confirm(question)) ev.preventDefault();
  });

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function duration(secs) {
    const d = Math.floor(secs / 86400);
    const h = Math.floor((secs % 86400) / 3600);
    const m = Math.floor((secs % 3600) / 60);
    return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min ${secs % 60} s`;
  }

  function progress(live) {
    if (!live || live.state !== "running") return "";
    const parts = [];
    if (live.fps != null) parts.push(`${live.fps.toFixed(0)} fps`);
    if (live.bitrate_kbps != null) parts.push(`${live.bitrate_kbps.toFixed(0)} kbit/s`);
    if (live.speed != null) parts.push(`${live.speed.toFixed(2)}x`);
    return parts.join(", ");
  }

  async function poll(url, apply) {
    try {
      const res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (res.ok) apply(await res.json());
    } catch (_) {
      // The next round tries again.
    }
    setTimeout(() => poll(url, apply), EVERY_MS);
  }

  const bytes = (n) => {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i += 1;
    }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  };

  // ---------- dashboard ----------
  const dashboard = document.getElementById("admin-dashboard");
  if (dashboard) {
    let last = null;
    const stat = (name) => dashboard.querySelector(`[data-stat="${name}"]`);
    poll("/admin/overview.json", (o) => {
      stat("uptime").textContent = duration(o.uptime_secs);
      stat("viewers").textContent = String(o.viewers);
      const now = performance.now();
      if (last) {
        const rate = (o.messages_total - last.total) / ((now - last.at) / 1000);
        stat("rate").textContent = Math.max(0, rate).toFixed(1);
      }
      last = { total: o.messages_total, at: now };
      const q = o.queue;
      stat("queue").textContent = `${q.queued} / ${q.running} / ${q.failed} / ${q.dead}`;
      const disk = o.storage;
      stat("disk").textContent = disk
        ? `${bytes(disk.free_bytes)} of ${bytes(disk.total_bytes)}`
        : "unknown";
      dashboard.querySelector('[data-live="disk-warning"]').hidden = !(disk && disk.low);
      const rooms = dashboard.querySelector('[data-live="rooms"]');
      rooms.replaceChildren(...o.rooms.map((r) => {
        const row = document.createElement("tr");
        const link = document.createElement("a");
        link.href = `/live/${encodeURIComponent(r.id)}`;
        link.textContent = r.title;
        cell(row, "").appendChild(link);
        cell(row, String(r.online));
        cell(row, r.live ? r.live.state : "no source");
        cell(row, r.live ? String(r.live.restarts) : "");
        cell(row, (r.live && r.live.last_error) || "");
        return row;
      }));
      const failures = dashboard.querySelector('[data-live="failures"]');
      failures.replaceChildren(...o.failures.map((j) => {
        const row = document.createElement("tr");
        cell(row, j.id.slice(0, 8));
        cell(row, j.kind);
        cell(row, `${j.attempts} / ${j.max_attempts}`);
        cell(row, j.last_error || "");
        return row;
      }));
    });
  }

  // ---------- rooms ----------
  const rooms = document.getElementById("admin-rooms");
  if (rooms) {
    poll("/admin/overview.json", (o) => {
      for (const r of o.rooms) {
        const row = document.getElementById(`room-${r.id}`);
        if (!row) continue;
        const set = (name, text) => { row.querySelector(`[data-cell="${name}"]`).textContent = text; };
        set("online", String(r.online));
        set("state", r.live ? r.live.state : "no source");
        set("progress", progress(r.live));
        set("restarts", r.live ? String(r.live.restarts) : "");
        set("error", (r.live && r.live.last_error) || "");
      }
    });
  }

  // A live preview under a room's row: its HLS, muted (hls.js where Media Source Extensions
  // exist, else the browser's own HLS). Clicking again closes it.
  if (rooms) {
    rooms.addEventListener("click", (event) => {
      const button = event.target.closest("[data-preview]");
      if (!button) return;
      const id = button.dataset.preview;
      const open = document.getElementById(`preview-${id}`);
      if (open) {
        if (open.hls) open.hls.destroy();
        open.closest("tr").remove();
        return;
      }
      const row = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 8;
      const video = document.createElement("video");
      video.id = `preview-${id}`;
      video.className = "preview";
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      video.controls = true;
      const url = `/hls/${encodeURIComponent(id)}/index.m3u8`;
      if (window.Hls && window.Hls.isSupported()) {
        video.hls = new window.Hls({ enableWorker: false, lowLatencyMode: true });
        video.hls.loadSource(url);
        video.hls.attachMedia(video);
      } else {
        video.src = url;
      }
      td.appendChild(video);
      row.appendChild(td);
      document.getElementById(`room-${id}`).after(row);
      video.play().catch(() => {});
    });
  }

  // ---------- jobs ----------
  const runs = document.querySelector('#admin-jobs [data-live="runs"]');
  if (runs) {
    const csrf = runs.dataset.csrf;
    const detail = (j) => (j.state === "done" ? j.result : j.last_error || j.result) || "";
    function retryForm(j) {
      const form = document.createElement("form");
      form.method = "post";
      form.action = `/admin/jobs/runs/${encodeURIComponent(j.id)}/retry`;
      form.className = "inline";
      const token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = csrf;
      const button = document.createElement("button");
      button.type = "submit";
      button.textContent = "Retry";
      form.append(token, button);
      return form;
    }
    function render(j) {
      const row = document.createElement("tr");
      row.id = `job-${j.id}`;
      row.dataset.job = j.id;
      row.dataset.state = j.state;
      cell(row, j.id.slice(0, 8)).title = j.id;
      cell(row, j.kind);
      cell(row, j.state).className = "state";
      cell(row, `${j.attempts} / ${j.max_attempts}`);
      cell(row, detail(j)).className = "detail";
      cell(row, j.created_at.replace("T", " ").slice(0, 19));
      const actions = cell(row, "");
      if (j.state === "dead") actions.appendChild(retryForm(j));
      return row;
    }
    poll("/api/admin/jobs", (o) => {
      runs.replaceChildren(...o.recent.map(render));
    });
  }
})();
