// Two viewers in one live room see each other's danmaku on the overlay and in the list;
// markup is shown as text; a viewer whose socket drops gets what was sent meanwhile once it
// is back, exactly once; the rate limit shows a countdown. Viewer one's browser inflates
// compressed frames; viewer two's lacks DecompressionStream and gets plain ones.
// Usage: node room.mjs http://127.0.0.1:PORT
import { launch, check } from "./lib.mjs";

const base = process.argv[2];

async function api(path, body, token) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function signIn(name) {
  await api("/api/users", { username: name, password: "browser-password" });
  return (await api("/api/sessions", { username: name, password: "browser-password" })).token;
}

async function viewer(browser, token, room, { plain = false } = {}) {
  const context = await browser.newContext();
  await context.addCookies([{ name: "roomcast_session", value: token, url: base }]);
  if (plain) await context.addInitScript(() => { delete window.DecompressionStream; });
  // Keeps the page's danmaku sockets within reach, so the test can drop one.
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__danmakuSockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        if (/\/ws\/rooms\/[^/?]+(\?|$)/.test(this.url)) window.__danmakuSockets.push(this);
      }
    };
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/live/${room}`);
  await page.getByTestId("status").filter({ hasText: "live" }).waitFor({ timeout: 10000 });
  return { page, errors };
}

async function sendFrom(page, text) {
  await page.locator("#send-text").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

async function sees(page, text) {
  await page.getByTestId("messages").getByText(text, { exact: true }).waitFor({ timeout: 10000 });
  await page.getByTestId("overlay").getByText(text, { exact: true }).first().waitFor({ state: "attached", timeout: 10000 });
}

const browser = await launch();
try {
  const one = await signIn("viewer_one");
  const two = await signIn("viewer_two");
  const room = (await api("/api/rooms", { title: "Browser room" }, one)).id;
  const a = await viewer(browser, one, room);
  const b = await viewer(browser, two, room, { plain: true });

  await b.page.getByTestId("online").filter({ hasText: "2" }).waitFor({ timeout: 5000 });

  await sendFrom(a.page, "hello from one");
  await sees(b.page, "hello from one");
  await sees(a.page, "hello from one");
  await sendFrom(b.page, "hello from two");
  await sees(a.page, "hello from two");

  // Markup arrives as text, never as elements.
  await sendFrom(b.page, "<b>not bold</b>");
  await sees(a.page, "<b>not bold</b>");
  check((await a.page.locator("#messages b, #overlay b").count()) === 0, "no element was made from a message");

  // A network blip: b's socket drops, a sends while b is away. b reconnects where it left
  // off: the message reaches its overlay (only resumed messages are drawn, not history)
  // and its list once.
  await b.page.evaluate(() => window.__danmakuSockets.at(-1).close());
  await sendFrom(a.page, "while you were away");
  await sees(a.page, "while you were away");
  await sees(b.page, "while you were away");
  const urls = await b.page.evaluate(() => window.__danmakuSockets.map((ws) => ws.url));
  check(urls.length === 2 && /[?]epoch=[0-9a-f]+&since=\d+$/.test(urls[1]), `b resumed: ${urls.join(" ")}`);
  const compressed = await a.page.evaluate(() => window.__danmakuSockets.map((ws) => ws.url));
  check(compressed.every((u) => u.includes("compress=deflate")), `a asked for compressed frames: ${compressed}`);
  check(!urls.some((u) => u.includes("compress=")), "b, without DecompressionStream, did not");
  const copies = await b.page.getByTestId("messages").getByText("while you were away", { exact: true }).count();
  check(copies === 1, `shown once in the list, not ${copies} times`);

  // Sending fast is refused with a visible countdown, and the button waits it out.
  const button = a.page.getByRole("button", { name: "Send" });
  for (let i = 0; i < 6 && (await button.isEnabled()); i++) {
    await sendFrom(a.page, `quick ${i}`);
    await a.page.waitForTimeout(50);
  }
  check(await button.isDisabled(), "the send button is disabled while rate-limited");
  await a.page.getByTestId("notice").filter({ hasText: /send again in \d+ s/ }).waitFor({ timeout: 5000 });

  check(a.errors.length === 0 && b.errors.length === 0, `no page errors: ${[...a.errors, ...b.errors].join("; ")}`);
  console.log("ok: two viewers exchanged danmaku");
} finally {
  await browser.close();
}
