// A live room in a real browser: the source plays through Media Source Extensions over the
// video socket (currentTime advances), through HLS with hls.js (?player=hls), and through
// the browser's own HLS when Media Source Extensions are disabled. When an admin stops the
// source, the page shows its offline notice; when the source starts again, playback resumes
// without a reload (over the socket and over hls.js).
// Usage: node live.mjs http://127.0.0.1:PORT ROOM_ID ADMIN_TOKEN
import { launch, check } from "./lib.mjs";

const [base, room, token] = process.argv.slice(2);

async function ingest(action) {
  const res = await fetch(`${base}/api/admin/rooms/${room}/ingest/${action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  check(res.status === 202, `ingest ${action}: ${res.status}`);
}

const playing = (after) => {
  const v = document.getElementById("live-video");
  return v && !v.hidden && document.getElementById("room").dataset.live === "on" && v.currentTime > after;
};

async function offlineAndBack(page, url, player) {
  await page.goto(url);
  await page.waitForFunction(playing, 1.0, { timeout: 30000 });
  await ingest("stop");
  await page.getByTestId("offline").waitFor({ state: "visible", timeout: 30000 });
  check(await page.locator("#live-video").isHidden(), `${player}: no picture while offline`);
  await ingest("start");
  // Back by itself: a new run's timestamps start again near 0.
  await page.waitForFunction(playing, 0.5, { timeout: 45000 });
  check(await page.getByTestId("offline").isHidden(), `${player}: the offline notice is gone again`);
}

async function plays(page, url, player, hls) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction((p) => document.getElementById("room").dataset.player === p, player, { timeout: 10000 });
  await page.waitForFunction(() => {
    const v = document.getElementById("live-video");
    return v && !v.hidden && v.currentTime > 1.0;
  }, null, { timeout: 30000 });
  if (hls) {
    const engine = await page.evaluate(() => document.getElementById("room").dataset.hls);
    check(engine === hls, `HLS through ${hls}, not ${engine}`);
  }
  const first = await page.evaluate(() => document.getElementById("live-video").currentTime);
  // Playing on: the picture keeps moving (given time, as the suite shares the machine's two
  // cores with encoders).
  const moved = await page
    .waitForFunction((t) => document.getElementById("live-video").currentTime > t + 0.5, first, { timeout: 15000 })
    .then(() => true, () => false);
  const later = await page.evaluate(() => document.getElementById("live-video").currentTime);
  check(moved, `${player}: currentTime advances (${first} -> ${later})`);
  check(await page.getByTestId("offline").isHidden(), `${player}: the offline notice is hidden`);
  check(errors.length === 0, `${player}: no page errors: ${errors}`);
}

const browser = await launch();
try {
  const context = await browser.newContext();
  await plays(await context.newPage(), `${base}/live/${room}`, "mse");
  await plays(await context.newPage(), `${base}/live/${room}?player=hls`, "hls", "hls.js");
  // Media Source Extensions disabled: neither the socket player nor hls.js can run.
  const noMse = await browser.newContext();
  await noMse.addInitScript(() => {
    delete window.MediaSource;
    delete window.ManagedMediaSource;
    delete window.WebKitMediaSource;
  });
  await plays(await noMse.newPage(), `${base}/live/${room}`, "hls", "native");
  await offlineAndBack(await context.newPage(), `${base}/live/${room}`, "mse");
  await offlineAndBack(await context.newPage(), `${base}/live/${room}?player=hls`, "hls.js");
  console.log("ok");
} finally {
  await browser.close();
}
