// A visitor registers, logs out and logs back in through the pages.
// Usage: node accounts.mjs http://127.0.0.1:PORT
import { launch, check } from "./lib.mjs";

const base = process.argv[2];
const browser = await launch();
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The deliberate wrong-password post answers 401; anything else logged as an error counts.
  page.on("console", (m) => m.type() === "error" && !m.text().includes("401") && errors.push(m.text()));

  await page.goto(`${base}/`);
  check(await page.getByTestId("videos-empty").isVisible(), "home shows the empty state");

  await page.getByRole("link", { name: "Create an account" }).click();
  await page.waitForURL(`${base}/register`);
  await page.getByLabel("Username").fill("browser_user");
  await page.getByLabel("Password").fill("browser-password");
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole("button", { name: "Create account" }).click()]);
  check((await page.getByTestId("username").textContent()) === "browser_user", "signed in after registering");

  await Promise.all([page.waitForURL(`${base}/`), page.getByRole("button", { name: "Log out" }).click()]);
  check(await page.getByRole("link", { name: "Log in" }).isVisible(), "signed out");
  check((await page.getByTestId("username").count()) === 0, "no user shown after logout");

  await page.getByRole("link", { name: "Log in" }).click();
  await page.waitForURL(`${base}/login`);
  await page.getByLabel("Username").fill("browser_user");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Log in" }).click();
  check((await page.getByTestId("form-error").textContent()).includes("wrong username or password"), "a wrong password is explained");

  await page.getByLabel("Password").fill("browser-password");
  await Promise.all([page.waitForURL(`${base}/`), page.getByRole("button", { name: "Log in" }).click()]);
  check((await page.getByTestId("username").textContent()) === "browser_user", "signed in again");

  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "roomcast_session");
  check(session && session.httpOnly && session.sameSite === "Lax", "the session cookie is HttpOnly and SameSite=Lax");
  check(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  console.log("ok: register, logout, login");
} finally {
  await browser.close();
}
