// Live video in a room: fragmented MP4 over the room's video socket into Media Source
// Extensions (sub-second latency), HLS when that is not possible (hls.js where Media Source
// Extensions exist, else the browser's own HLS, as on iPhones), an offline notice while the
// source is down, and automatic resumption.
// `?player=hls` on the room's address forces HLS.
"use strict";

(() => {
  const root = document.getElementById("room");
  if (!root || root.dataset.hasSource !== "true") return;
  const roomId = root.dataset.roomId;
  const player = document.getElementById("player");
  const offline = document.getElementById("offline");
  const hlsUrl = `/hls/${encodeURIComponent(roomId)}/index.m3u8`;
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/rooms/${encodeURIComponent(roomId)}/video`;

  // The socket player keeps the picture close behind the newest fragment: about TARGET_AHEAD
  // seconds of buffer when a fragment has just arrived (they arrive every 0.2 s). With more
  // than 1.5 times that it plays at 1.1x until back at the target; with more than JUMP_AHEAD
  // (on joining, when the fragments since the last keyframe arrive at once, or after a stall)
  // it jumps.
  const TARGET_AHEAD = 0.3;
  const JUMP_AHEAD = 0.8;
  const KEEP_BEHIND = 20; // seconds of played video kept in the buffer
  const SILENT_MS = 5000; // no fragment for this long: the source is down

  const video = document.createElement("video");
  video.id = "live-video";
  video.muted = true; // browsers only autoplay muted video; the controls unmute
  video.autoplay = true;
  video.playsInline = true;
  video.controls = true;
  video.dataset.testid = "live-video";
  video.hidden = true;
  player.appendChild(video);

  function setOnline(on) {
    video.hidden = !on;
    offline.hidden = on;
    root.dataset.live = on ? "on" : "off";
  }

  const wantHls = new URLSearchParams(location.search).get("player") === "hls";
  const mse = window.MediaSource && !wantHls;
  root.dataset.player = mse ? "mse" : "hls";
  if (mse) playOverSocket();
  else playHls();

  // ---------- MSE over the video socket ----------
  function boxType(bytes) {
    return String.fromCharCode(bytes[4], bytes[5], bytes[6], bytes[7]);
  }

  function indexOf(bytes, text) {
    const codes = [...text].map((c) => c.charCodeAt(0));
    outer: for (let i = 0; i + codes.length <= bytes.length; i++) {
      for (let j = 0; j < codes.length; j++) if (bytes[i + j] !== codes[j]) continue outer;
      return i;
    }
    return -1;
  }

  // The MIME type with codecs, read from the init segment (avcC carries the profile).
  function mimeOf(init) {
    const codecs = [];
    const avcC = indexOf(init, "avcC");
    if (avcC >= 0) {
      const hex = (b) => b.toString(16).padStart(2, "0");
      codecs.push(`avc1.${hex(init[avcC + 5])}${hex(init[avcC + 6])}${hex(init[avcC + 7])}`);
    }
    if (indexOf(init, "mp4a") >= 0) codecs.push("mp4a.40.2");
    return `video/mp4; codecs="${codecs.join(",")}"`;
  }

  function playOverSocket() {
    let socket = null;
    let source = null;
    let buffer = null;
    let queue = [];
    let lastFragment = 0;
    let retries = 0;

    function reset() {
      queue = [];
      buffer = null;
      if (source && source.readyState === "open") {
        try { source.endOfStream(); } catch (_) { /* already ended */ }
      }
      source = null;
    }

    function pump() {
      if (!buffer || buffer.updating || !queue.length) return;
      try {
        buffer.appendBuffer(queue.shift());
      } catch (e) {
        // QuotaExceeded: drop what was played and try again later.
        queue = [];
        trim(true);
      }
    }

    function trim(force) {
      if (!buffer || buffer.updating || !video.buffered.length) return;
      const start = video.buffered.start(0);
      if (force || video.currentTime - start > KEEP_BEHIND * 2) {
        try { buffer.remove(start, Math.max(start, video.currentTime - KEEP_BEHIND)); } catch (_) { /* busy */ }
      }
    }

    function chase() {
      if (!video.buffered.length) return;
      const end = video.buffered.end(video.buffered.length - 1);
      const ahead = end - video.currentTime;
      if (ahead > JUMP_AHEAD) video.currentTime = Math.max(0, end - TARGET_AHEAD);
      else if (ahead > 1.5 * TARGET_AHEAD) video.playbackRate = 1.1;
      else if (ahead <= TARGET_AHEAD) video.playbackRate = 1.0;
      if (video.paused && !video.ended) video.play().catch(() => {});
    }

    function onInit(bytes) {
      reset();
      const mime = mimeOf(bytes);
      if (!MediaSource.isTypeSupported(mime)) {
        console.warn(`MSE cannot play ${mime}; using HLS`);
        socket.close();
        socket = null;
        playHls();
        return;
      }
      source = new MediaSource();
      const current = source;
      video.src = URL.createObjectURL(source);
      source.addEventListener("sourceopen", () => {
        if (current !== source) return;
        buffer = source.addSourceBuffer(mime);
        buffer.mode = "segments";
        buffer.addEventListener("updateend", () => { trim(false); chase(); pump(); });
        buffer.appendBuffer(bytes);
      }, { once: true });
    }

    function connect() {
      socket = new WebSocket(wsUrl);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => { retries = 0; };
      socket.onmessage = (event) => {
        const bytes = new Uint8Array(event.data);
        if (boxType(bytes) === "ftyp") return onInit(bytes);
        lastFragment = performance.now();
        setOnline(true);
        queue.push(bytes);
        pump();
      };
      socket.onclose = () => {
        if (!socket) return; // switched to HLS
        setOnline(false);
        reset();
        retries = Math.min(retries + 1, 5);
        setTimeout(connect, 1000 * retries);
      };
    }

    setInterval(() => {
      if (lastFragment && performance.now() - lastFragment > SILENT_MS) setOnline(false);
    }, 1000);
    connect();
  }

  // ---------- HLS ----------
  function playHls() {
    root.dataset.player = "hls";
    // Browsers do not play hidden muted video: show it once there is something to play.
    const show = () => {
      setOnline(true);
      video.play().catch(() => {});
    };
    const hlsJs = Boolean(window.Hls && window.Hls.isSupported());
    root.dataset.hls = hlsJs ? "hls.js" : "native";
    if (!hlsJs && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = hlsUrl;
      video.addEventListener("loadedmetadata", () => {
        // Start near the live edge, not at the oldest segment of the playlist.
        if (video.seekable.length) video.currentTime = Math.max(0, video.seekable.end(0) - 2);
        show();
      });
      video.addEventListener("error", () => {
        setOnline(false);
        setTimeout(() => { video.src = hlsUrl; video.play().catch(() => {}); }, 3000);
      });
      return;
    }
    if (!hlsJs) {
      offline.textContent = "This browser cannot play live video.";
      return;
    }
    let hls = null;
    // A source that goes down leaves hls.js waiting on a playlist that no longer changes
    // (until the server calls it stale): a picture that stands still while playing is offline.
    let lastTime = -1;
    let lastMove = performance.now();
    setInterval(() => {
      if (video.paused || video.currentTime !== lastTime) {
        lastTime = video.currentTime;
        lastMove = performance.now();
      } else if (!video.hidden && performance.now() - lastMove > SILENT_MS) {
        setOnline(false);
        hls.destroy();
        setTimeout(start, 1000);
      }
    }, 1000);
    function start() {
      hls = new window.Hls({ enableWorker: false, lowLatencyMode: true, liveSyncDurationCount: 2 });
      hls.on(window.Hls.Events.FRAG_BUFFERED, () => { if (video.hidden) show(); });
      hls.on(window.Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        setOnline(false);
        hls.destroy();
        setTimeout(start, 3000);
      });
      hls.loadSource(hlsUrl);
      hls.attachMedia(video);
    }
    start();
  }
})();
