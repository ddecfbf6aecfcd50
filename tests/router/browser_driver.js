// Drives headless Chromium (playwright-core, Debian's /usr/bin/chromium) through the example page:
// argv: URL AUTHID TICKET USER_DATA_DIR [PLANTED]. Prints one JSON line per step; before the last step it
// prints {"step": "wait"} and reads a line on stdin (the test revokes the cookie meanwhile). With
// PLANTED (a cbtid value an attacker got), the browser starts with that cookie, visits and logs in.
"use strict";

const { chromium } = require("playwright-core");
const readline = require("readline");

const [url, authid, ticket, userDataDir, planted] = process.argv.slice(2);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function report(step, data) {
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
}

async function settled(page) {
  await page.waitForFunction(() => ["joined", "denied", "closed"].includes(document.body.dataset.state),
                             null, { timeout: 30000 });
  return page.evaluate(() => ({ state: document.body.dataset.state,
                                detail: document.getElementById("detail").textContent,
                                documentCookie: document.cookie }));
}

async function ticketLogin(page) {
  await page.fill("#authid", authid);
  await page.fill("#ticket", ticket);
  await page.click("#login button");
  return settled(page);
}

(async () => {
  // A fresh profile (--user-data-dir) that Playwright passes to Chromium.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium", headless: true, args: FLAGS,
    ignoreHTTPSErrors: url.startsWith("https:"), // the test's own self-signed certificate
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    if (planted) {
      await context.addCookies([{ name: "cbtid", value: planted, url }]);
      await page.goto(url);
      report("planted-visit", { ...(await settled(page)), cookies: await context.cookies(url) });
      report("ticket-login", { ...(await ticketLogin(page)), cookies: await context.cookies(url) });
      return;
    }
    await page.goto(url);
    report("first-visit", await settled(page));
    report("ticket-login", { ...(await ticketLogin(page)), cookies: await context.cookies(url) });
    await page.reload();
    report("reload", await settled(page));
    await page.click("#logout");
    await page.waitForFunction(() => document.body.dataset.state === "closed", null, { timeout: 30000 });
    await page.reload();
    report("after-logout", { ...(await settled(page)), cookies: await context.cookies(url) });
    report("login-again", await ticketLogin(page));
    report("wait", {});
    await lines.next();
    await page.reload();
    report("after-revoke", await settled(page));
  } finally {
    await context.close();
  }
  process.exit(0);
})().catch((err) => {
  report("error", { message: String(err && err.stack || err) });
  process.exit(1);
});
