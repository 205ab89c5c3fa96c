// The dashboard behind a required token, in headless Chromium: without the token the page is
// refused; the one-time URL `/?token=T` sets an HttpOnly, SameSite=Strict cookie and redirects
// to the page without the token in the address; the dashboard then streams the signal over its
// WebSocket and calls the API with the cookie alone. Expects a server at $NEUROPIPE_TOKEN_URL
// started with --require-token and the token $NEUROPIPE_TEST_TOKEN.
import { createRequire } from "node:module";
const require = createRequire(process.env.PLAYWRIGHT_DIR + "/");
const { chromium } = require("playwright-core");

const URL = process.env.NEUROPIPE_TOKEN_URL;
const TOKEN = process.env.NEUROPIPE_TEST_TOKEN;
let failed = 0;
function check(ok, what) {
  console.log((ok ? "ok   " : "FAIL ") + what);
  if (!ok) failed++;
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const refused = await page.goto(URL + "/");
  check(refused.status() === 401, `without the token the page is refused (${refused.status()})`);

  await page.goto(URL + "/?token=" + encodeURIComponent(TOKEN));
  check(page.url() === URL + "/", `the token left the address bar (${page.url()})`);
  const cookie = (await context.cookies()).find((c) => c.name === "neuropipe_token");
  check(cookie && cookie.httpOnly && cookie.sameSite === "Strict",
    `cookie set HttpOnly, SameSite=Strict (${JSON.stringify(cookie && { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite })})`);
  check(!(await page.evaluate(() => document.cookie)).includes("neuropipe_token"),
    "page scripts cannot read the cookie");

  await page.waitForFunction(() => window.np && window.np.frames > 50, null, { timeout: 10000 })
    .then(() => check(true, "the signal streams over the WebSocket with the cookie"))
    .catch(() => check(false, "the signal streams over the WebSocket with the cookie"));
  const status = await page.evaluate(async () => (await fetch("/api/pipeline")).status);
  check(status === 200, `the API answers the page with the cookie alone (${status})`);
  const stranger = await fetch(URL + "/api/pipeline");
  check(stranger.status === 401, `a client without the cookie is refused (${stranger.status})`);
} finally {
  await browser.close();
}
if (failed) {
  console.log(`${failed} token check(s) failed`);
  process.exit(1);
}
