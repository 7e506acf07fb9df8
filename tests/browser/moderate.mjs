// Moderating a room from its page, and the viewer's own danmaku settings.
// The owner bans a viewer from the chat list (asked first; a dismissed question bans nobody),
// sees the ban in the panel and lifts it; saves blocked words, which then refuse the
// viewer's message; turns on slow mode, which the viewer's send box counts down; names a
// moderator. The viewer hides words and dims the overlay for themselves, and finds both
// again after a reload. An admin's ban on the panel asks first and is lifted from its list;
// the site's words are saved there.
// Usage: node moderate.mjs http://127.0.0.1:PORT ADMIN_TOKEN
import { launch, check } from "./lib.mjs";

const base = process.argv[2];
const rootToken = process.argv[3];

async function api(method, path, body, token) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : res.json();
}

async function signIn(name) {
  await api("POST", "/api/users", { username: name, password: "browser-password" });
  return (await api("POST", "/api/sessions", { username: name, password: "browser-password" })).token;
}

async function open(browser, token, path) {
  const context = await browser.newContext();
  await context.addCookies([{ name: "roomcast_session", value: token, url: base }]);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}${path}`);
  return { page, errors };
}

async function live(page) {
  await page.getByTestId("status").filter({ hasText: "live" }).waitFor({ timeout: 10000 });
}

async function sendFrom(page, text) {
  await page.locator("#send-text").fill(text);
  await page.locator("#send-button").click();
}

function message(page, text) {
  return page.getByTestId("messages").locator("li", { hasText: text });
}

const browser = await launch();
try {
  const owner = await signIn("owner");
  const viewerToken = await signIn("viewer");
  await signIn("helper");
  const room = (await api("POST", "/api/rooms", { title: "Moderated room" }, owner)).id;
  const o = await open(browser, owner, `/live/${room}`);
  const v = await open(browser, viewerToken, `/live/${room}`);
  await live(o.page);
  await live(v.page);
  check((await v.page.getByTestId("moderation").count()) === 0, "a viewer has no moderation panel");
  await o.page.getByTestId("moderation").waitFor();

  // A ban from the chat list asks first; dismissed, nothing happens.
  await sendFrom(v.page, "annoying message");
  const row = message(o.page, "annoying message");
  await row.waitFor({ timeout: 10000 });
  o.page.once("dialog", (d) => d.dismiss());
  await row.getByRole("button", { name: "Ban" }).click();
  check((await api("GET", `/api/rooms/${room}/bans`, undefined, owner)).bans.length === 0, "a dismissed ban bans nobody");
  let asked = "";
  o.page.once("dialog", (d) => { asked = d.message(); d.accept(); });
  await row.getByRole("button", { name: "Ban" }).click();
  await o.page.getByTestId("bans").locator("li", { hasText: "viewer" }).waitFor({ timeout: 5000 });
  check(asked.includes("viewer"), `the question names the user: ${asked}`);
  await v.page.getByTestId("notice").filter({ hasText: "Muted" }).waitFor({ timeout: 5000 });

  // Lifted from the panel: the viewer sends again.
  await o.page.getByTestId("bans").getByTestId("lift-ban").click();
  await o.page.locator("#bans-empty").waitFor({ state: "visible", timeout: 5000 });
  await v.page.getByTestId("notice").filter({ hasText: "lifted your mute" }).waitFor({ timeout: 5000 });
  check(!(await v.page.locator("#send-button").isDisabled()), "the viewer's send box is open again");
  await sendFrom(v.page, "back again");
  await message(o.page, "back again").waitFor({ timeout: 10000 });

  // Blocked words saved on the panel refuse the viewer's message; nobody sees it.
  await o.page.locator("#filters").fill("垃圾\nＳＰＡＭ");
  await o.page.getByTestId("filters-form").getByRole("button", { name: "Save words" }).click();
  await o.page.getByTestId("moderation-status").filter({ hasText: "2 blocked words saved" }).waitFor({ timeout: 5000 });
  check((await o.page.locator("#filters").inputValue()) === "spam\n垃圾", "the words come back folded");
  await sendFrom(v.page, "这是垃圾");
  await v.page.getByTestId("notice").filter({ hasText: "does not allow" }).waitFor({ timeout: 5000 });
  await sendFrom(v.page, "clean words");
  await message(o.page, "clean words").waitFor({ timeout: 10000 });
  check((await message(o.page, "这是垃圾").count()) === 0, "the filtered message reached nobody");

  // Slow mode: the viewer is told and the send box counts down after a message.
  await o.page.getByTestId("slow-mode").selectOption("10");
  await o.page.getByTestId("slow-mode-form").getByRole("button", { name: "Save" }).click();
  await v.page.getByTestId("notice").filter({ hasText: "one message every 10 s" }).waitFor({ timeout: 5000 });
  await sendFrom(v.page, "slow one");
  await message(o.page, "slow one").waitFor({ timeout: 10000 });
  await v.page.getByTestId("notice").filter({ hasText: /Slow mode: you can send again in \d+ s/ }).waitFor({ timeout: 5000 });
  check(await v.page.locator("#send-button").isDisabled(), "the send button waits out slow mode");
  // The owner is not held.
  await sendFrom(o.page, "owner one");
  await sendFrom(o.page, "owner two");
  await message(v.page, "owner two").waitFor({ timeout: 10000 });

  // Naming a moderator.
  await o.page.locator("#moderator-name").fill("helper");
  await o.page.getByTestId("moderator-form").getByRole("button", { name: "Add moderator" }).click();
  await o.page.getByTestId("moderators").locator("li", { hasText: "helper" }).waitFor({ timeout: 5000 });

  // The viewer's own settings: a blocked word and half opacity, kept after a reload.
  await v.page.getByText("Danmaku settings").click();
  const settings = v.page.getByTestId("danmaku-settings");
  await settings.locator('textarea[name="blocked"]').fill("secret");
  await settings.locator('input[name="opacity"]').fill("50");
  await v.page.waitForFunction(() => document.getElementById("overlay").style.opacity === "0.5");
  await sendFrom(o.page, "a secret for nobody");
  await sendFrom(o.page, "visible to all");
  await v.page.getByTestId("overlay").getByText("visible to all").first().waitFor({ state: "attached", timeout: 10000 });
  await message(v.page, "visible to all").waitFor({ timeout: 10000 });
  check((await v.page.getByTestId("overlay").getByText("a secret for nobody").count()) === 0, "a blocked word is not drawn");
  check((await message(v.page, "a secret for nobody").count()) === 0, "nor listed");
  await v.page.reload();
  await live(v.page);
  await v.page.getByText("Danmaku settings").click();
  check((await settings.locator('textarea[name="blocked"]').inputValue()) === "secret", "the blocklist is remembered");
  check((await settings.locator('input[name="opacity"]').inputValue()) === "50", "the opacity is remembered");
  check((await v.page.evaluate(() => document.getElementById("overlay").style.opacity)) === "0.5", "and applied");
  await settings.locator('input[name="show"]').uncheck();
  check(await v.page.getByTestId("overlay").isHidden(), "danmaku can be hidden");

  // The admin panel: a ban asks first, shows in the list and is lifted there.
  const a = await open(browser, rootToken, "/admin/moderation");
  const adminRow = a.page.getByTestId("messages").locator("tr", { hasText: "clean words" });
  a.page.once("dialog", (d) => d.dismiss());
  await adminRow.getByRole("button", { name: "Ban" }).click();
  check((await a.page.getByTestId("no-bans").count()) === 1, "a dismissed ban bans nobody");
  a.page.once("dialog", (d) => d.accept());
  await adminRow.getByRole("button", { name: "Ban" }).click();
  await a.page.getByTestId("bans").locator("tr", { hasText: "viewer" }).waitFor({ timeout: 5000 });
  await a.page.getByTestId("bans").getByRole("button", { name: "Lift" }).click();
  await a.page.getByTestId("no-bans").waitFor({ timeout: 5000 });
  // The site's words.
  await a.page.getByTestId("site-words").locator("textarea").fill("Forbidden\nｆｏｒｂｉｄｄｅｎ");
  await a.page.getByTestId("site-words").getByRole("button", { name: "Save words" }).click();
  await a.page.waitForLoadState();
  check((await a.page.getByTestId("site-words").locator("textarea").inputValue()).trim() === "forbidden", "one folded word");
  const words = await api("GET", "/api/admin/filters", undefined, rootToken);
  check(JSON.stringify(words.words) === '["forbidden"]', JSON.stringify(words));

  for (const p of [o, v, a]) check(p.errors.length === 0, `page errors: ${p.errors.join("; ")}`);
  console.log("ok");
} finally {
  await browser.close();
}
