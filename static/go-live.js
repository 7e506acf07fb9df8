// The room owner's go-live panel: the RTMP server and stream key for OBS (the key is fetched
// only when asked for, so it is not in the page), copy buttons, a new key after a
// confirmation, the publisher's status, kept current, and a button that disconnects the
// encoder (after a confirmation).
"use strict";

(() => {
  const panel = document.getElementById("go-live");
  const root = document.getElementById("room");
  if (!panel || !root) return;
  const roomId = root.dataset.roomId;
  const keyUrl = `/api/rooms/${encodeURIComponent(roomId)}/stream-key`;
  const keyEl = document.getElementById("go-live-key");
  const showButton = document.getElementById("go-live-show");
  const newButton = document.getElementById("go-live-new");
  const status = document.getElementById("go-live-status");
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  function showKey(answer) {
    keyEl.textContent = answer.key;
    keyEl.hidden = false;
    document.getElementById("go-live-server").textContent = answer.server;
    panel.querySelector('[data-copy="go-live-key"]').hidden = false;
    showButton.textContent = "Hide";
  }

  async function keyRequest(method) {
    const res = await fetch(keyUrl, {
      method,
      credentials: "same-origin",
      headers: method === "POST" ? { "X-CSRF-Token": csrf } : {},
    });
    if (!res.ok) throw new Error(`stream key: ${res.status}`);
    return res.json();
  }

  showButton.addEventListener("click", async () => {
    if (!keyEl.hidden) {
      keyEl.hidden = true;
      keyEl.textContent = "";
      panel.querySelector('[data-copy="go-live-key"]').hidden = true;
      showButton.textContent = "Show";
      return;
    }
    try {
      showKey(await keyRequest("GET"));
    } catch (e) {
      status.textContent = "The key could not be fetched; try again.";
    }
  });

  newButton.addEventListener("click", async () => {
    if (!confirm("Make a new stream key? The old one stops working at once and a stream using it ends.")) return;
    try {
      showKey(await keyRequest("POST"));
      status.textContent = "New key made. Paste it into your encoder.";
    } catch (e) {
      status.textContent = "A new key could not be made; try again.";
    }
  });

  for (const button of panel.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
        setTimeout(() => (button.textContent = "Copy"), 1500);
      } catch (e) {
        status.textContent = "Copying is not allowed here; select the text instead.";
      }
    });
  }

  // Disconnecting the encoder ends the stream now; the key keeps working, so the encoder
  // can come back (a new key keeps it out).
  const kickButton = document.getElementById("go-live-kick");
  kickButton.addEventListener("click", async () => {
    if (!confirm("Disconnect your encoder? The stream ends for every viewer; the encoder may connect again with the same key.")) return;
    try {
      const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/ingest/kick`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
      });
      if (!res.ok && res.status !== 404) throw new Error(`kick: ${res.status}`);
      kickButton.hidden = true;
      status.textContent = "Encoder disconnected.";
    } catch (e) {
      status.textContent = "The encoder could not be disconnected; try again.";
    }
  });

  function describe(live) {
    if (!live || live.state === "waiting") return "Waiting for your encoder…";
    const p = live.publisher;
    if (!p) return `Publisher: ${live.state}`;
    const v = p.video || {};
    const size = v.width && v.height ? ` ${v.width}×${v.height}` : "";
    const fps = v.fps ? ` ${Math.round(v.fps)} fps` : "";
    const kbps = p.kbps ? `, ${Math.round(p.kbps)} kbit/s` : "";
    const audio = p.audio ? ` + ${p.audio.codec}` : "";
    const copy = live.transcoding ? " (transcoded to H.264)" : "";
    return `Live: ${v.codec || "video"}${size}${fps}${audio}${kbps}${copy}`;
  }

  async function poll() {
    try {
      const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}`, { credentials: "same-origin" });
      if (res.ok) {
        const room = await res.json();
        status.textContent = describe(room.live);
        panel.dataset.state = room.live ? room.live.state : "off";
        kickButton.hidden = !(room.live && room.live.publisher);
      }
    } catch (e) {
      // The next poll tries again.
    }
    setTimeout(poll, 2000);
  }
  poll();
})();
