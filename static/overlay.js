// The danmaku overlay shared by live rooms and the watch page: lanes per mode (scroll, top,
// bottom) so messages never overlap in a lane, a bounded queue for messages waiting for a
// free lane, and pause/resume for players. Text goes in through textContent, never as HTML.
"use strict";

window.DanmakuOverlay = function DanmakuOverlay(overlay) {
  const LANE_HEIGHT = 30;
  const SCROLL_SPEED = 140; // pixels per second: one speed, so a lane never catches up
  const LANE_GAP = 24; // pixels between two messages in a scroll lane
  const FIXED_MS = 4000; // how long top and bottom messages stay
  const MAX_WAITING = 100; // messages waiting for a free lane; older ones are dropped

  const waiting = [];
  const running = new Set(); // animations on screen, so a pause can stop them all
  let paused = false;
  // Per mode, the overlay time (ms) at which each lane can take its next message. Overlay
  // time stands still while paused, so lanes stay consistent with frozen bullets.
  const lanes = { scroll: [], top: [], bottom: [] };
  let clock = 0;
  let last = performance.now();
  function now() {
    const t = performance.now();
    if (!paused) clock += t - last;
    last = t;
    return clock;
  }

  function laneCount() {
    return Math.max(1, Math.floor(overlay.clientHeight / LANE_HEIGHT));
  }

  function freeLane(mode, at) {
    const count = mode === "scroll" ? laneCount() : Math.max(1, Math.floor(laneCount() / 2));
    const free = lanes[mode];
    for (let i = 0; i < count; i++) {
      if (!free[i] || free[i] <= at) return i;
    }
    return -1;
  }

  function makeBullet(item) {
    const el = document.createElement("span");
    el.className = "bullet";
    el.textContent = item.text;
    el.style.color = /^#[0-9a-f]{6}$/i.test(item.color) ? item.color : "#ffffff";
    el.dataset.id = item.id;
    return el;
  }

  function animate(el, keyframes, duration) {
    const animation = el.animate(keyframes, { duration, easing: "linear" });
    running.add(animation);
    animation.onfinish = () => {
      running.delete(animation);
      el.remove();
    };
    if (paused) animation.pause();
  }

  function place(item) {
    const at = now();
    const mode = item.mode === "top" || item.mode === "bottom" ? item.mode : "scroll";
    const lane = freeLane(mode, at);
    if (lane < 0) return false;
    const el = makeBullet(item);
    overlay.appendChild(el);
    const width = el.offsetWidth;
    if (mode === "scroll") {
      const distance = overlay.clientWidth + width;
      el.style.top = `${lane * LANE_HEIGHT}px`;
      el.style.left = `${overlay.clientWidth}px`;
      animate(el, [{ transform: "translateX(0)" }, { transform: `translateX(${-distance}px)` }],
        (distance / SCROLL_SPEED) * 1000);
      // The lane is free once this message's tail (plus a gap) has left the right edge.
      lanes.scroll[lane] = at + ((width + LANE_GAP) / SCROLL_SPEED) * 1000;
    } else {
      el.classList.add("fixed");
      const offset = lane * LANE_HEIGHT;
      if (mode === "top") el.style.top = `${offset}px`;
      else el.style.bottom = `${offset}px`;
      animate(el, [{ opacity: 1 }, { opacity: 1 }], FIXED_MS);
      lanes[mode][lane] = at + FIXED_MS;
    }
    return true;
  }

  setInterval(() => {
    if (paused) return;
    while (waiting.length && place(waiting[0])) waiting.shift();
  }, 100);

  return {
    show(item) {
      if (paused || waiting.length || !place(item)) {
        waiting.push(item);
        if (waiting.length > MAX_WAITING) waiting.shift();
      }
    },
    retract(ids) {
      for (const id of ids) {
        for (const el of overlay.querySelectorAll(`[data-id="${CSS.escape(id)}"]`)) el.remove();
        const i = waiting.findIndex((w) => w.id === id);
        if (i >= 0) waiting.splice(i, 1);
      }
    },
    pause() {
      now();
      paused = true;
      for (const a of running) a.pause();
    },
    resume() {
      now();
      paused = false;
      for (const a of running) a.play();
    },
    clear() {
      for (const a of running) a.cancel();
      running.clear();
      overlay.replaceChildren();
      waiting.length = 0;
      lanes.scroll = [];
      lanes.top = [];
      lanes.bottom = [];
    },
  };
};
