// The danmaku overlay shared by live rooms and the watch page: lanes per mode (scroll, top,
// bottom) so messages never overlap in a lane, a bounded queue for messages waiting for a
// free lane, and pause/resume for players. Text goes in through textContent, never as HTML.
//
// Each viewer tunes it for themselves (DanmakuControls): hide it, its opacity, text size,
// density (the share of the screen's lanes it may use) and a personal list of blocked words,
// all remembered by this browser (localStorage) and the same on every page.
"use strict";

window.DanmakuSettings = (() => {
  const KEY = "roomcast.danmaku";
  const DEFAULTS = { show: true, opacity: 100, size: 100, density: 100, blocked: [] };
  // The form words and text are compared in: compatibility forms unified (full-width and
  // half-width alike), case ignored, as the server's filters do.
  const fold = (text) => String(text).normalize("NFKC").toLowerCase();
  function load() {
    try {
      const stored = JSON.parse(localStorage.getItem(KEY) || "{}");
      return { ...DEFAULTS, ...stored };
    } catch (_) {
      return { ...DEFAULTS };
    }
  }
  function save(settings) {
    try {
      localStorage.setItem(KEY, JSON.stringify(settings));
    } catch (_) {
      // Private mode or full storage: the settings hold for this page only.
    }
  }
  return { load, save, fold, DEFAULTS };
})();

window.DanmakuOverlay = function DanmakuOverlay(overlay) {
  const BASE_LANE_HEIGHT = 30;
  const BASE_FONT_PX = 22;
  const SCROLL_SPEED = 140; // pixels per second: one speed, so a lane never catches up
  const LANE_GAP = 24; // pixels between two messages in a scroll lane
  const FIXED_MS = 4000; // how long top and bottom messages stay
  const MAX_WAITING = 100; // messages waiting for a free lane; older ones are dropped

  let settings = window.DanmakuSettings.load();
  let blocked = [];
  let LANE_HEIGHT = BASE_LANE_HEIGHT;
  function apply() {
    const scale = Math.min(200, Math.max(50, Number(settings.size) || 100)) / 100;
    LANE_HEIGHT = Math.round(BASE_LANE_HEIGHT * scale);
    overlay.style.setProperty("--danmaku-font", `${Math.round(BASE_FONT_PX * scale)}px`);
    overlay.style.setProperty("--danmaku-line", `${LANE_HEIGHT}px`);
    overlay.style.opacity = String(Math.min(100, Math.max(10, Number(settings.opacity) || 100)) / 100);
    overlay.hidden = !settings.show;
    blocked = (settings.blocked || []).map(window.DanmakuSettings.fold).filter((w) => w);
  }
  apply();

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
    const share = Math.min(100, Math.max(25, Number(settings.density) || 100)) / 100;
    return Math.max(1, Math.floor((overlay.clientHeight * share) / LANE_HEIGHT));
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

  function isBlocked(item) {
    if (!blocked.length) return false;
    const text = window.DanmakuSettings.fold(item.text);
    return blocked.some((word) => text.includes(word));
  }

  return {
    /// Whether the viewer's own blocklist hides this message (lists use it too).
    blocks: isBlocked,
    settings: () => ({ ...settings }),
    configure(changes) {
      settings = { ...settings, ...changes };
      window.DanmakuSettings.save(settings);
      apply();
      if (!settings.show) this.clear();
    },
    show(item) {
      if (!settings.show || isBlocked(item)) return;
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

// The viewer's controls for an overlay, built into `container`: a button that opens a small
// form (show, opacity, size, density, blocked words). Changes apply at once and are kept.
window.DanmakuControls = function DanmakuControls(container, screen) {
  if (!container) return;
  const current = screen.settings();
  const details = document.createElement("details");
  details.className = "danmaku-settings";
  const summary = document.createElement("summary");
  summary.textContent = "Danmaku settings";
  details.appendChild(summary);
  const form = document.createElement("form");
  form.dataset.testid = "danmaku-settings";
  details.appendChild(form);

  function field(label, input) {
    const wrap = document.createElement("label");
    wrap.append(document.createTextNode(label), input);
    form.appendChild(wrap);
    return input;
  }
  function range(name, min, max, step, value) {
    const input = document.createElement("input");
    Object.assign(input, { type: "range", name, min, max, step, value });
    return input;
  }

  const show = document.createElement("input");
  show.type = "checkbox";
  show.name = "show";
  show.checked = current.show;
  field("Show danmaku ", show);
  const opacity = field("Opacity ", range("opacity", 10, 100, 5, current.opacity));
  const size = field("Size ", range("size", 50, 200, 10, current.size));
  const density = document.createElement("select");
  density.name = "density";
  for (const [value, text] of [[100, "Full screen"], [75, "Three quarters"], [50, "Half"], [25, "A quarter"]]) {
    const option = document.createElement("option");
    option.value = String(value);
    option.textContent = text;
    density.appendChild(option);
  }
  density.value = String(current.density);
  field("Density ", density);
  const words = document.createElement("textarea");
  words.name = "blocked";
  words.rows = 3;
  words.placeholder = "One word per line";
  words.value = (current.blocked || []).join("\n");
  field("Hide messages with ", words);

  form.addEventListener("input", () => {
    screen.configure({
      show: show.checked,
      opacity: Number(opacity.value),
      size: Number(size.value),
      density: Number(density.value),
      blocked: words.value.split(/[\n,]/).map((w) => w.trim()).filter((w) => w),
    });
  });
  form.addEventListener("submit", (ev) => ev.preventDefault());
  container.appendChild(details);
};
