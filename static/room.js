// Live room: the danmaku socket, the overlay (static/overlay.js) and the viewer's settings
// for it, the chat list and the send box (with slow mode's countdown). All user text goes
// in through textContent, never as HTML.
"use strict";

(() => {
  const root = document.getElementById("room");
  if (!root) return;
  const roomId = root.dataset.roomId;
  const overlay = document.getElementById("overlay");
  const list = document.getElementById("messages");
  const onlineEl = document.getElementById("online");
  const statusEl = document.getElementById("status");
  const notice = document.getElementById("notice");
  const form = document.getElementById("send-form");

  const MAX_LIST = 200;

  let socket = null;
  let retries = 0;
  // Where this page is in the room's stream: the room's run (`epoch`) and the last batch
  // received. A reconnect asks to resume from there, so a blip loses nothing.
  let epoch = null;
  let lastSeq = 0;
  let blockedUntil = 0;
  const seen = new Set();

  const screen = window.DanmakuOverlay(overlay);
  window.DanmakuControls(document.getElementById("danmaku-controls"), screen);
  const me = root.dataset.username;
  // Moderators, the owner and admins are not held by slow mode.
  const exempt = root.dataset.exempt === "true";
  let slowModeSecs = Number(root.dataset.slowMode) || 0;

  // ---------- chat list ----------
  function addToList(item) {
    if (seen.has(item.id)) return false;
    seen.add(item.id);
    if (screen.blocks(item)) return false;
    const li = document.createElement("li");
    li.dataset.id = item.id;
    li.dataset.user = item.user;
    const who = document.createElement("strong");
    who.textContent = item.user;
    const text = document.createElement("span");
    text.textContent = item.text;
    text.style.color = /^#[0-9a-f]{6}$/i.test(item.color) ? item.color : "";
    li.append(who, document.createTextNode(" "), text);
    list.appendChild(li);
    while (list.children.length > MAX_LIST) {
      seen.delete(list.firstElementChild.dataset.id);
      list.firstElementChild.remove();
    }
    list.scrollTop = list.scrollHeight;
    return true;
  }

  function retract(ids) {
    screen.retract(ids);
    for (const id of ids) {
      for (const el of list.querySelectorAll(`[data-id="${CSS.escape(id)}"]`)) el.remove();
    }
  }

  // ---------- notices ----------
  let countdown = null;
  function say(text) {
    if (notice) notice.textContent = text;
  }

  function blockFor(ms, why) {
    blockedUntil = Date.now() + ms;
    clearInterval(countdown);
    const tick = () => {
      const left = blockedUntil - Date.now();
      if (left <= 0) {
        clearInterval(countdown);
        say("");
        setSendEnabled(true);
        slowModeNotice();
        return;
      }
      say(`${why}: you can send again in ${Math.ceil(left / 1000)} s`);
      setSendEnabled(false);
    };
    tick();
    countdown = setInterval(tick, 250);
  }

  function slowModeNotice() {
    if (Date.now() >= blockedUntil) say(slowModeSecs && !exempt ? `Slow mode: one message every ${slowModeSecs} s` : "");
  }

  // One's own message came back: under slow mode, the next may go after the period.
  function sentByMe(item) {
    if (item.user === me && slowModeSecs > 0 && !exempt) blockFor(slowModeSecs * 1000, "Slow mode");
  }

  function setSendEnabled(on) {
    const button = document.getElementById("send-button");
    if (button) button.disabled = !on;
  }

  // ---------- socket ----------
  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        retries = 0;
        epoch = frame.epoch;
        lastSeq = frame.seq;
        slowModeSecs = frame.slow_mode_secs || 0;
        slowModeNotice();
        statusEl.textContent = "live";
        onlineEl.textContent = frame.online;
        // Resumed: the messages sent while away, shown as they would have been. Otherwise
        // the recent history (what this page already has is not added twice).
        for (const item of frame.history) {
          if (addToList(item) && frame.recovered) screen.show(item);
        }
        break;
      case "batch":
        if (lastSeq && frame.seq !== lastSeq + 1) console.warn(`danmaku: frames ${lastSeq + 1}..${frame.seq - 1} skipped`);
        lastSeq = frame.seq;
        for (const item of frame.items) {
          if (addToList(item)) screen.show(item);
          sentByMe(item);
        }
        break;
      case "unmuted":
        blockFor(0, "");
        say("A moderator lifted your mute: you can send again.");
        break;
      case "rules":
        slowModeSecs = frame.slow_mode_secs || 0;
        if (!slowModeSecs && blockedUntil > Date.now()) blockFor(0, "");
        slowModeNotice();
        break;
      case "online":
        onlineEl.textContent = frame.count;
        break;
      case "retract":
        retract(frame.ids);
        break;
      case "error":
        if (frame.retry_after_ms) {
          const why = frame.code === "muted" ? "Muted" : frame.message.startsWith("slow mode") ? "Slow mode" : "Slow down";
          blockFor(frame.retry_after_ms, why);
        } else {
          say(frame.message);
        }
        break;
    }
  }

  // Compressed frames where the browser can inflate them: hello and batches then come as
  // binary raw DEFLATE, about a third of their size. Frames are handled one after another
  // in arrival order (inflating is asynchronous, and a batch must not overtake another).
  const compress = typeof DecompressionStream === "function";
  let inbox = Promise.resolve();

  async function textOf(data) {
    if (typeof data === "string") return data;
    const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream).text();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = [];
    if (compress) query.push("compress=deflate");
    if (epoch) query.push(`epoch=${encodeURIComponent(epoch)}`, `since=${lastSeq}`);
    const search = query.length ? `?${query.join("&")}` : "";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/rooms/${encodeURIComponent(roomId)}${search}`);
    ws.binaryType = "arraybuffer";
    socket = ws;
    statusEl.textContent = "connecting…";
    ws.onmessage = (ev) => {
      inbox = inbox.then(async () => {
        try {
          const text = await textOf(ev.data);
          if (socket === ws) onFrame(JSON.parse(text));
        } catch (e) {
          console.warn("danmaku: unreadable frame", e);
        }
      });
    };
    ws.onclose = () => {
      // Back off 1, 2, 4 ... 30 s, with jitter so a restarted server is not stampeded.
      const delay = Math.min(30000, 1000 * 2 ** retries) * (0.75 + Math.random() * 0.5);
      retries += 1;
      statusEl.textContent = `reconnecting in ${Math.round(delay / 1000)} s`;
      setTimeout(connect, delay);
    };
  }

  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = document.getElementById("send-text");
      const text = input.value.trim();
      if (!text || Date.now() < blockedUntil) return;
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        say("not connected yet");
        return;
      }
      socket.send(
        JSON.stringify({
          type: "send",
          text,
          color: document.getElementById("send-color").value,
          mode: document.getElementById("send-mode").value,
        }),
      );
      input.value = "";
    });
  }

  connect();
})();
