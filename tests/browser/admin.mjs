// The admin panel in a real browser: an admin signs in through the login page, runs the
// cleanup job from the jobs page and watches its run reach "done" without reloading, then
// stops and starts a room's source from the rooms page and watches its state follow, and
// opens the room's live preview; the dashboard lists the room.
// Usage: node admin.mjs http://127.0.0.1:PORT ROOM_ID   (admin "root", password "password123")
import { launch, check } from "./lib.mjs";

const [base, room] = process.argv.slice(2);

const browser = await launch();
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/login`);
  await page.getByLabel("Username").fill("root");
  await page.getByLabel("Password").fill("password123");
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole("button", { name: "Log in" }).click()]);
  await page.getByRole("link", { name: "Admin" }).click();
  await page.waitForURL(`${base}/admin`);

  // The dashboard fills itself in: the room with its ingest state.
  const dashboardRoom = page.locator('[data-live="rooms"] tr', { hasText: "Panel cam" });
  await dashboardRoom.waitFor({ timeout: 10000 });
  await page.getByText("running").first().waitFor({ timeout: 20000 });
  // The storage's free space, as "N GiB of M GiB" (the test disk is not nearly full).
  const disk = page.locator('[data-stat="disk"]');
  await page.waitForFunction(() => / of /.test(document.querySelector('[data-stat="disk"]').textContent), null, { timeout: 10000 });
  check(/^[\d.]+ [KMGT]?i?B of [\d.]+ [KMGT]?i?B$/.test(await disk.textContent()), "the dashboard shows free disk space");
  check(await page.locator('[data-live="disk-warning"]').isHidden(), "no low-space warning");

  // Jobs: run the cleanup now; the run appears and reaches done on the same page.
  await page.getByRole("link", { name: "Jobs" }).click();
  await page.waitForURL(`${base}/admin/jobs`);
  await Promise.all([
    page.waitForURL(/\/admin\/jobs#job-/),
    page.getByTestId("run-cleanup_deleted_videos").click(),
  ]);
  const jobId = new URL(page.url()).hash.slice("#job-".length);
  check(jobId.length === 36, `a job id in the address: ${page.url()}`);
  await page.waitForFunction(
    (id) => document.getElementById(`job-${id}`)?.dataset.state === "done",
    jobId,
    { timeout: 20000 },
  );
  const detail = await page.locator(`#job-${jobId} .detail`).textContent();
  check(detail.includes("removed the files of 0 deleted videos"), `the run's result: ${detail}`);

  // Rooms: stop and start the source; the state cell follows.
  await page.getByRole("link", { name: "Rooms and sources" }).click();
  await page.waitForURL(`${base}/admin/rooms`);
  const state = page.getByTestId(`state-${room}`);
  await page.waitForFunction((id) => document.querySelector(`[data-testid="state-${id}"]`).textContent === "running", room, { timeout: 20000 });
  await Promise.all([page.waitForURL(/\/admin\/rooms/), page.getByTestId(`stop-${room}`).click()]);
  await page.waitForFunction((id) => document.querySelector(`[data-testid="state-${id}"]`).textContent === "stopped", room, { timeout: 20000 });
  await Promise.all([page.waitForURL(/\/admin\/rooms/), page.getByTestId(`start-${room}`).click()]);
  await page.waitForFunction((id) => document.querySelector(`[data-testid="state-${id}"]`).textContent === "running", room, { timeout: 30000 });
  check((await state.textContent()) === "running", "the source runs again");

  // A live preview plays under the room's row.
  await page.getByTestId(`preview-${room}`).click();
  await page.waitForFunction((id) => {
    const v = document.getElementById(`preview-${id}`);
    return v && v.currentTime > 0.5;
  }, room, { timeout: 30000 });

  // What the admin did is in the audit log.
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.waitForURL(`${base}/admin/audit`);
  const audit = await page.getByTestId("audit").textContent();
  for (const action of ["job.run", "ingest.stop", "ingest.start"]) {
    check(audit.includes(action), `${action} in the audit log`);
  }
  check(errors.length === 0, `no page errors: ${errors}`);
  console.log("ok: admin runs a job and controls a source");
} finally {
  await browser.close();
}
