// Watch page: time-anchored danmaku over the player. Messages are fetched a minute at a
// time as playback gets near them; each one is shown when playback passes its ts_ms; a
// seek clears the screen and starts again from the new position; a pause freezes the
// overlay. A message sent from the page is anchored at the current playback time. Under the
// player, a curve of where the messages are (click it to jump there).
"use strict";

(() => {
  const root = document.getElementById("watch");
  if (!root) return;
  const videoId = root.dataset.videoId;
  const api = `/api/videos/${encodeURIComponent(videoId)}`;
  // Cookie-authenticated API calls that change something carry the session's CSRF token.
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  const deleteButton = document.getElementById("delete-video");
  if (deleteButton) {
    deleteButton.addEventListener("click", async () => {
      if (!window.confirm("Delete this video for everyone?")) return;
      const res = await fetch(api, {
        method: "DELETE",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
      });
      if (res.status === 202) window.location.assign("/videos");
      else window.alert(`Could not delete: ${(await res.json().catch(() => ({}))).error || res.status}`);
    });
  }

  const video = document.getElementById("player");
  if (!video) return;
  const screen = window.DanmakuOverlay(document.getElementById("overlay"));
  window.DanmakuControls(document.getElementById("danmaku-controls"), screen);
  const list = document.getElementById("danmaku-list");
  const countEl = document.getElementById("danmaku-count");
  const notice = document.getElementById("notice");
  const form = document.getElementById("send-form");

  const WINDOW_MS = 60000; // fetched at a time
  const LOOKAHEAD_MS = 10000; // fetch the next window this early
  const items = []; // every known message, sorted by ts_ms
  const known = new Set();
  const windows = new Map(); // window index -> promise
  let cursor = 0; // playback ms up to which messages have been shown

  function label(ms) {
    const s = Math.floor(ms / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function insert(item) {
    if (known.has(item.id)) return;
    known.add(item.id);
    let i = items.length;
    while (i > 0 && items[i - 1].ts_ms > item.ts_ms) i--;
    items.splice(i, 0, item);
    const li = document.createElement("li");
    li.dataset.id = item.id;
    li.dataset.ts = item.ts_ms;
    li.hidden = screen.blocks(item);
    const ts = document.createElement("span");
    ts.className = "ts";
    ts.textContent = label(item.ts_ms);
    ts.addEventListener("click", () => { video.currentTime = item.ts_ms / 1000; });
    const text = document.createElement("span");
    text.textContent = item.text;
    li.append(ts, text);
    const after = [...list.children].find((el) => Number(el.dataset.ts) > item.ts_ms);
    list.insertBefore(li, after || null);
    countEl.textContent = String(items.length);
  }

  function load(index) {
    if (!windows.has(index)) {
      const from = index * WINDOW_MS;
      const url = `${api}/danmaku?from_ms=${from}&to_ms=${from + WINDOW_MS - 1}`;
      const done = fetch(url)
        .then((res) => (res.ok ? res.json() : Promise.reject(new Error(res.status))))
        .then((body) => body.items.forEach(insert))
        .catch(() => windows.delete(index)); // fetched again on the next tick
      windows.set(index, done);
    }
    return windows.get(index);
  }

  function nowMs() {
    return Math.round(video.currentTime * 1000);
  }

  // Shows every message with cursor < ts_ms <= now.
  function tick() {
    const now = nowMs();
    load(Math.floor(now / WINDOW_MS));
    load(Math.floor((now + LOOKAHEAD_MS) / WINDOW_MS));
    if (now > cursor) {
      for (const item of items) {
        if (item.ts_ms > now) break;
        if (item.ts_ms > cursor) screen.show(item);
      }
      cursor = now;
    }
    if (!video.paused) requestAnimationFrame(tick);
  }

  video.addEventListener("play", () => { screen.resume(); requestAnimationFrame(tick); });
  video.addEventListener("pause", () => screen.pause());
  video.addEventListener("seeking", () => {
    screen.clear();
    // Messages exactly at the new position are still to come.
    cursor = nowMs() - 1;
  });
  video.addEventListener("seeked", () => { cursor = nowMs() - 1; tick(); });
  load(0);

  // ---------- density: where the messages are ("high-energy" curve over the seek bar) ----------
  const densityEl = document.getElementById("density");
  const SVG = "http://www.w3.org/2000/svg";
  const SLICES = 100;
  let densityDuration = 0;
  async function drawDensity() {
    if (!densityEl) return;
    const res = await fetch(`${api}/danmaku/density?buckets=${SLICES}`).catch(() => null);
    if (!res || !res.ok) return;
    const { buckets, max, duration_ms: duration } = await res.json();
    densityDuration = duration;
    // A smooth area: each slice's count as a height (the busiest is full height).
    const h = (n) => (max ? 20 - (18 * n) / max : 20).toFixed(2);
    let d = `M0,20 L0,${h(buckets[0] || 0)}`;
    buckets.forEach((n, i) => { d += ` L${i + 0.5},${h(n)}`; });
    d += ` L${SLICES},${h(buckets[buckets.length - 1] || 0)} L${SLICES},20 Z`;
    let area = densityEl.querySelector("path.curve");
    if (!area) {
      area = document.createElementNS(SVG, "path");
      area.setAttribute("class", "curve");
      densityEl.appendChild(area);
    }
    area.setAttribute("d", d);
    densityEl.dataset.max = String(max);
    densityEl.dataset.ready = "true";
  }
  if (densityEl) {
    const head = document.createElementNS(SVG, "line");
    head.setAttribute("class", "playhead");
    head.setAttribute("y1", "0");
    head.setAttribute("y2", "20");
    densityEl.appendChild(head);
    const moveHead = () => {
      const x = video.duration ? (100 * video.currentTime) / video.duration : 0;
      head.setAttribute("x1", x.toFixed(2));
      head.setAttribute("x2", x.toFixed(2));
    };
    video.addEventListener("timeupdate", moveHead);
    moveHead();
    // A click jumps to that moment.
    densityEl.addEventListener("click", (ev) => {
      const box = densityEl.getBoundingClientRect();
      const share = Math.min(1, Math.max(0, (ev.clientX - box.left) / box.width));
      const duration = video.duration || densityDuration / 1000;
      if (duration) video.currentTime = share * duration;
    });
    drawDensity();
  }

  // ---------- sending ----------
  function say(text) {
    if (notice) notice.textContent = text;
  }

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = document.getElementById("send-text");
      const body = {
        ts_ms: Math.min(nowMs(), Math.round((video.duration || 0) * 1000)),
        text: input.value,
        color: document.getElementById("send-color").value,
        mode: document.getElementById("send-mode").value,
      };
      const res = await fetch(`${api}/danmaku`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
      });
      const reply = await res.json().catch(() => ({}));
      if (res.status === 201) {
        input.value = "";
        say(`Sent at ${label(reply.ts_ms)}.`);
        insert(reply);
        screen.show(reply);
        cursor = Math.max(cursor, reply.ts_ms);
        drawDensity();
      } else {
        say(reply.error || `Not sent (${res.status}).`);
      }
    });
  }
})();
