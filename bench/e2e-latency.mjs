// End-to-end latency of live video, read from the picture itself. The bench source burns the
// wall clock (milliseconds since the epoch, modulo 2^32) into the top 48 rows of every frame as
// 32 blocks of 40 pixels, black for 0 and white for 1, lowest bit on the left. A real Chromium
// plays the room page; on every frame it presents (requestVideoFrameCallback) the page reads
// the blocks back from the decoded picture and subtracts the stamp from the time the frame is
// shown. Source and browser share this machine's clock, so the figure is glass to glass:
// the source's encoder, the pull, Roomcast, the network and the player's buffer.
// A player's latency depends on where in the source's GOP it joined, so the page is opened
// JOINS times (each a fresh viewer) and the samples pooled.
// Usage: node bench/e2e-latency.mjs ROOM_PAGE_URL SECONDS [JOINS]
// Prints one JSON line: {"frames", "unreadable", "median_ms", "p95_ms", "max_ms", "joins"},
// where "joins" holds the median of each join.
import { launch } from "../tests/browser/lib.mjs";

const [url, seconds, joins = "1"] = process.argv.slice(2);
if (!url || !seconds) {
  console.error("usage: node bench/e2e-latency.mjs ROOM_PAGE_URL SECONDS [JOINS]");
  process.exit(2);
}

async function join(browser, secs) {
  const page = await browser.newPage();
  await page.goto(url);
  // Playing, then 2 s for the player to settle on the live edge.
  await page.waitForFunction(() => {
    const v = document.getElementById("live-video");
    return v && !v.hidden && !v.paused && v.readyState >= 3;
  }, null, { timeout: 60000 });
  await page.waitForTimeout(2000);
  const samples = await page.evaluate(async (secs) => {
    const video = document.getElementById("live-video");
    const canvas = document.createElement("canvas");
    canvas.width = 1280;
    canvas.height = 48;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const latencies = [];
    let unreadable = 0;
    let firstBad = null;
    const until = performance.now() + secs * 1000;
    await new Promise((done) => {
      const onFrame = (_, frame) => {
        ctx.drawImage(video, 0, 0, 1280, 48, 0, 0, 1280, 48);
        const pixels = ctx.getImageData(0, 24, 1280, 1).data;
        let stamp = 0;
        let clear = true;
        for (let bit = 0; bit < 32; bit++) {
          const red = pixels[(40 * bit + 20) * 4];
          if (red > 96 && red < 160) clear = false; // neither black nor white: not a stamp
          if (red >= 128) stamp += 2 ** bit;
        }
        const shown = (performance.timeOrigin + frame.expectedDisplayTime) % 2 ** 32;
        const latency = (shown - stamp + 2 ** 32) % 2 ** 32;
        if (clear && latency < 60000) latencies.push(latency);
        else {
          unreadable += 1;
          if (!firstBad) firstBad = `latency ${latency} ms, blocks ${[...Array(32).keys()].map((b) => pixels[(40 * b + 20) * 4])}`;
        }
        if (performance.now() < until) video.requestVideoFrameCallback(onFrame);
        else done();
      };
      video.requestVideoFrameCallback(onFrame);
    });
    return { latencies, unreadable, firstBad };
  }, secs);
  await page.close();
  return samples;
}

const median = (sorted) => Math.round(sorted[Math.floor(sorted.length / 2)]);

const browser = await launch();
try {
  const latencies = [];
  const perJoin = [];
  let unreadable = 0;
  for (let i = 0; i < Number(joins); i++) {
    const samples = await join(browser, Number(seconds) / Number(joins));
    latencies.push(...samples.latencies);
    unreadable += samples.unreadable;
    if (samples.firstBad) console.error(`an unreadable frame: ${samples.firstBad}`);
    if (samples.latencies.length) perJoin.push(median(samples.latencies.sort((a, b) => a - b)));
  }
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  if (!sorted.length) throw new Error(`no readable frame (${unreadable} unreadable)`);
  console.log(JSON.stringify({
    frames: sorted.length,
    unreadable,
    median_ms: at(0.5),
    p95_ms: at(0.95),
    max_ms: Math.round(sorted[sorted.length - 1]),
    joins: perJoin,
  }));
} finally {
  await browser.close();
}
