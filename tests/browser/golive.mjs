// The owner's go-live panel in a real browser: the key is hidden until asked for, the panel
// shows the server and key, ffmpeg publishing with them (as OBS would) makes the room play
// over the socket and the panel report the publisher; a new key (after a confirmation)
// replaces the old one and cuts its stream off; "Disconnect encoder" (after a confirmation)
// ends a stream; a visitor sees no panel.
// Usage: node golive.mjs http://127.0.0.1:PORT ROOM_ID OWNER_TOKEN
import { spawn } from "node:child_process";
import { launch, check } from "./lib.mjs";

const [base, room, token] = process.argv.slice(2);

const browser = await launch();
let ffmpeg = null;
try {
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto(`${base}/live/${room}`);
  check((await visitor.getByTestId("go-live").count()) === 0, "a visitor sees no go-live panel");

  const context = await browser.newContext();
  await context.addCookies([{ name: "roomcast_session", value: token, url: base }]);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/live/${room}`);
  await page.getByTestId("go-live").waitFor({ timeout: 10000 });
  check(await page.getByTestId("go-live-key").isHidden(), "the key is hidden until asked for");
  check(!(await page.content()).includes(`${room}_`), "the key is not in the page");
  const server = (await page.getByTestId("go-live-server").textContent()).trim();
  check(/^rtmp:\/\/[^/]+:\d+\/live$/.test(server), `the server: ${server}`);

  await page.getByTestId("go-live-show").click();
  await page.getByTestId("go-live-key").waitFor({ state: "visible", timeout: 10000 });
  const key = (await page.getByTestId("go-live-key").textContent()).trim();
  check(key.startsWith(`${room}_`), `the key: ${key}`);

  // Publish exactly as OBS would, with what the panel shows.
  const publish = (withKey) => spawn("ffmpeg", [
    "-nostdin", "-v", "error", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
    "-f", "lavfi", "-i", "sine",
    "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
    "-f", "flv", `${server}/${withKey}`,
  ], { stdio: "ignore" });
  ffmpeg = publish(key);
  await page.waitForFunction(() => {
    const v = document.getElementById("live-video");
    return v && !v.hidden && v.currentTime > 1.0;
  }, null, { timeout: 30000 });
  await page.getByTestId("go-live-status").filter({ hasText: "Live: h264 320×240" }).waitFor({ timeout: 15000 });

  // A new key, after a confirmation: the panel shows it and the old stream ends. (The exit
  // is watched from before the click: the publisher may be gone before the key is shown.)
  const exited = new Promise((resolve) => ffmpeg.once("exit", () => resolve(true)));
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByTestId("go-live-new").click();
  await page.waitForFunction((old) => {
    const k = document.getElementById("go-live-key").textContent.trim();
    return k && k !== old;
  }, key, { timeout: 10000 });
  const ended = await Promise.race([
    exited,
    new Promise((resolve) => setTimeout(() => resolve(false), 20000)),
  ]);
  check(ended, "the publisher using the old key was cut off");
  await page.getByTestId("go-live-status").filter({ hasText: "Waiting" }).waitFor({ timeout: 15000 });
  check(await page.getByTestId("go-live-kick").isHidden(), "nothing to disconnect while waiting");

  // Live again with the new key; "Disconnect encoder" (after a confirmation) ends it.
  const newKey = (await page.getByTestId("go-live-key").textContent()).trim();
  ffmpeg = publish(newKey);
  const kicked = new Promise((resolve) => ffmpeg.once("exit", () => resolve(true)));
  await page.getByTestId("go-live-status").filter({ hasText: "Live:" }).waitFor({ timeout: 20000 });
  await page.getByTestId("go-live-kick").waitFor({ state: "visible", timeout: 5000 });
  page.once("dialog", (dialog) => dialog.accept());
  await page.getByTestId("go-live-kick").click();
  const gone = await Promise.race([kicked, new Promise((resolve) => setTimeout(() => resolve(false), 20000))]);
  check(gone, "the encoder was disconnected");
  await page.getByTestId("go-live-status").filter({ hasText: "Waiting" }).waitFor({ timeout: 15000 });
  check(errors.length === 0, `no page errors: ${errors}`);
  console.log("ok");
} finally {
  if (ffmpeg && ffmpeg.exitCode === null) ffmpeg.kill("SIGKILL");
  await browser.close();
}
