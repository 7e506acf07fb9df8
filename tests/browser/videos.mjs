// The video website in a real browser: upload through the page (tus, with its progress
// bar), watch the video play, post a danmaku at a playback time, and after a reload see it
// appear on the overlay when playback reaches that time, not before; the density curve
// under the player shows where it is and a click on it seeks.
// Usage: node videos.mjs http://127.0.0.1:PORT /path/to/video.mp4
import { launch, check } from "./lib.mjs";

const [base, file] = process.argv.slice(2);

async function api(path, body) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const browser = await launch();
try {
  await api("/api/users", { username: "uploader", password: "browser-password" });
  const { token } = await api("/api/sessions", { username: "uploader", password: "browser-password" });
  const context = await browser.newContext();
  await context.addCookies([{ name: "roomcast_session", value: token, url: base }]);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // Upload through the page; the progress bar reaches 100%.
  await page.goto(`${base}/upload`);
  await page.locator("#upload-title").fill("Browser upload <i>card</i>");
  await page.locator("#upload-description").fill("Made by ffmpeg\nsecond line");
  await page.locator("#upload-file").setInputFiles(file);
  // The page records each value the bar takes in sessionStorage, which outlives the
  // navigation that follows the upload; polling from here could miss the last value on a
  // busy machine.
  await page.evaluate(() => {
    const bar = document.getElementById("progress");
    new MutationObserver(() => {
      const seen = JSON.parse(sessionStorage.getItem("progress") || "[]");
      seen.push(Number(bar.getAttribute("value")));
      sessionStorage.setItem("progress", JSON.stringify(seen));
    }).observe(bar, { attributes: true, attributeFilter: ["value"] });
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await page.waitForURL(/\/videos\/[0-9a-f-]{36}$/, { timeout: 30000 });
  const seen = await page.evaluate(() => JSON.parse(sessionStorage.getItem("progress") || "[]"));
  check(seen.length > 0 && Math.max(...seen) === 100, `the progress bar reached 100 (saw ${seen})`);
  const id = page.url().split("/").pop();

  // Wait for processing, then play.
  for (let i = 0; i < 100; i++) {
    if (await page.locator("#player").count()) break;
    await page.waitForTimeout(200);
    await page.reload();
  }
  await page.getByTestId("title").filter({ hasText: "Browser upload <i>card</i>" }).waitFor();
  const video = page.locator("#player");
  await video.evaluate((v) => { v.muted = true; return v.play(); });
  await page.waitForFunction(() => document.getElementById("player").currentTime > 0.5, null, { timeout: 15000 });

  // Pause at 1.0 s and send a danmaku: it is anchored there.
  await video.evaluate(async (v) => {
    v.pause();
    v.currentTime = 1.0;
    await new Promise((r) => v.addEventListener("seeked", r, { once: true }));
  });
  await page.locator("#send-text").fill("at one second");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByTestId("notice").filter({ hasText: "Sent at 0:01" }).waitFor();
  const stored = await (await fetch(`${base}/api/videos/${id}/danmaku`)).json();
  check(stored.items.length === 1 && stored.items[0].ts_ms === 1000, `anchored at 1000 ms: ${JSON.stringify(stored)}`);

  // After a reload it appears when playback reaches 1.0 s, not before.
  await page.reload();
  await page.getByTestId("danmaku-list").getByText("at one second").waitFor();
  // The density curve under the player knows where the message is; a click jumps there.
  await page.locator('#density[data-ready="true"]').waitFor({ state: "attached", timeout: 10000 });
  check((await page.locator("#density").getAttribute("data-max")) === "1", "one message at the peak");
  await page.waitForFunction(() => document.getElementById("player").duration > 0, null, { timeout: 10000 });
  const bar = await page.locator("#density").boundingBox();
  await page.mouse.click(bar.x + bar.width * 0.5, bar.y + bar.height / 2);
  await page.waitForFunction(() => {
    const v = document.getElementById("player");
    return Math.abs(v.currentTime - v.duration / 2) < 0.5;
  }, null, { timeout: 5000 });
  await video.evaluate(async (v) => {
    v.muted = true;
    v.currentTime = 0.2;
    await new Promise((r) => v.addEventListener("seeked", r, { once: true }));
  });
  const bullet = page.getByTestId("overlay").getByText("at one second", { exact: true });
  check((await bullet.count()) === 0, "nothing on the overlay before its time");
  // The page itself records the playback time at the moment the bullet is attached, so a
  // busy machine's round trips to the browser do not move the figure.
  await page.evaluate(() => {
    const overlay = document.querySelector("[data-testid=overlay]");
    const player = document.getElementById("player");
    window.shownAt = [];
    new MutationObserver((records) => {
      for (const r of records) {
        for (const node of r.addedNodes) {
          if (node.textContent === "at one second") window.shownAt.push(player.currentTime);
        }
      }
    }).observe(overlay, { childList: true, subtree: true });
  });
  const shownAtTime = async (n) => {
    await page.waitForFunction((k) => window.shownAt.length >= k, n, { timeout: 10000 });
    return page.evaluate((k) => window.shownAt[k - 1], n);
  };
  await video.evaluate((v) => v.play());
  const shownAt = await shownAtTime(1);
  check(shownAt >= 1.0 && shownAt < 1.6, `shown at playback time ${shownAt}`);

  // A seek back before it clears the overlay; playing again shows it again at its time.
  await video.evaluate(async (v) => {
    v.pause();
    v.currentTime = 0.3;
    await new Promise((r) => v.addEventListener("seeked", r, { once: true }));
  });
  check((await bullet.count()) === 0, "a seek clears the overlay");
  await video.evaluate((v) => v.play());
  const again = await shownAtTime(2);
  check(again >= 1.0 && again < 1.6, `shown again at ${again}`);

  check(errors.length === 0, `no page errors: ${errors}`);
  console.log("ok");
} finally {
  await browser.close();
}
