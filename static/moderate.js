// The room's moderation panel, for its owner, its moderators and admins: slow mode, the
// room's blocked words, who is banned or muted (each with a button that lifts it), the
// moderators (owner and admins only), and Remove / Mute / Ban on every message in the chat
// list. Mute and ban ask first. Everything goes through the JSON API with the session's
// CSRF token; text from the server goes in through textContent.
"use strict";

(() => {
  const panel = document.getElementById("moderation");
  const root = document.getElementById("room");
  if (!panel || !root) return;
  const api = `/api/rooms/${encodeURIComponent(root.dataset.roomId)}`;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const status = document.getElementById("moderation-status");
  const owns = panel.dataset.owns === "true";
  const MUTE_SECS = 600;
  const BAN_SECS = 30 * 24 * 3600;

  async function call(method, path, body) {
    const res = await fetch(`${api}${path}`, {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: {
        "X-CSRF-Token": csrf,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(answer.error || `the server answered ${res.status}`);
    return answer;
  }

  function say(text) {
    status.textContent = text;
  }

  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // ---------- bans ----------
  const bansList = document.getElementById("bans");
  const bansEmpty = document.getElementById("bans-empty");
  async function loadBans() {
    const { bans } = await call("GET", "/bans");
    bansList.replaceChildren();
    for (const ban of bans) {
      const li = document.createElement("li");
      li.dataset.user = ban.username;
      const who = document.createElement("strong");
      who.textContent = ban.username;
      const until = document.createElement("span");
      until.textContent = `until ${new Date(ban.until).toLocaleString()}${ban.reason ? ` (${ban.reason})` : ""}`;
      const lift = button("Lift", async () => {
        try {
          await call("DELETE", `/bans/${encodeURIComponent(ban.user_id)}`);
          say(`${ban.username} may send again.`);
        } catch (e) {
          say(`Could not lift the ban: ${e.message}`);
        }
        loadBans().catch(() => {});
      });
      lift.dataset.testid = "lift-ban";
      li.append(who, until, lift);
      bansList.appendChild(li);
    }
    bansEmpty.hidden = bans.length > 0;
  }

  async function ban(user, seconds) {
    const what = seconds > MUTE_SECS ? `Ban ${user} from sending here for 30 days?` : `Mute ${user} here for 10 minutes?`;
    if (!window.confirm(what)) return;
    try {
      await call("POST", "/bans", { user, seconds, reason: "from the room page" });
      say(seconds > MUTE_SECS ? `${user} is banned.` : `${user} is muted.`);
    } catch (e) {
      say(`Could not do that: ${e.message}`);
    }
    loadBans().catch(() => {});
  }

  // ---------- actions on each message ----------
  const me = root.dataset.username;
  function addActions(li) {
    const user = li.dataset.user;
    if (!li.dataset.id || li.querySelector(".mod-actions")) return;
    const actions = document.createElement("span");
    actions.className = "mod-actions";
    actions.append(
      button("Remove", async () => {
        try {
          await call("DELETE", `/danmaku/${encodeURIComponent(li.dataset.id)}`);
        } catch (e) {
          say(`Could not remove it: ${e.message}`);
        }
      }),
    );
    if (user && user !== me) {
      actions.append(button("Mute", () => ban(user, MUTE_SECS)), button("Ban", () => ban(user, BAN_SECS)));
    }
    li.appendChild(actions);
  }
  const list = document.getElementById("messages");
  for (const li of list.children) addActions(li);
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) if (node.nodeType === 1) addActions(node);
  }).observe(list, { childList: true });

  // ---------- slow mode ----------
  document.getElementById("slow-mode-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const secs = Number(document.getElementById("slow-mode").value);
    try {
      await call("PATCH", "", { slow_mode_secs: secs });
      say(secs ? `Slow mode: one message per ${secs} s.` : "Slow mode is off.");
    } catch (e) {
      say(`Could not change slow mode: ${e.message}`);
    }
  });

  // ---------- blocked words ----------
  const words = document.getElementById("filters");
  async function loadWords() {
    words.value = (await call("GET", "/filters")).words.join("\n");
  }
  document.getElementById("filters-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const list = words.value.split("\n").map((w) => w.trim()).filter((w) => w);
    try {
      const saved = await call("PUT", "/filters", { words: list });
      words.value = saved.words.join("\n");
      say(`${saved.words.length} blocked words saved.`);
    } catch (e) {
      say(`Could not save the words: ${e.message}`);
    }
  });

  // ---------- moderators ----------
  const mods = document.getElementById("moderators");
  async function loadModerators() {
    const { moderators } = await call("GET", "/moderators");
    mods.replaceChildren();
    for (const m of moderators) {
      const li = document.createElement("li");
      li.dataset.user = m.username;
      const who = document.createElement("strong");
      who.textContent = m.username;
      const remove = button("Remove", async () => {
        if (!window.confirm(`${m.username} will no longer moderate this room. Go on?`)) return;
        try {
          await call("DELETE", `/moderators/${encodeURIComponent(m.username)}`);
        } catch (e) {
          say(`Could not remove ${m.username}: ${e.message}`);
        }
        loadModerators().catch(() => {});
      });
      li.append(who, remove);
      mods.appendChild(li);
    }
  }
  if (owns) {
    document.getElementById("moderator-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = document.getElementById("moderator-name");
      try {
        const added = await call("POST", "/moderators", { username: input.value.trim() });
        say(`${added.username} moderates this room.`);
        input.value = "";
      } catch (e) {
        say(`Could not add that moderator: ${e.message}`);
      }
      loadModerators().catch(() => {});
    });
  }

  const loads = [loadBans(), loadWords()];
  if (owns) loads.push(loadModerators());
  Promise.all(loads).catch((e) => say(`Could not load the panel: ${e.message}`));
  setInterval(() => loadBans().catch(() => {}), 15000);
})();
