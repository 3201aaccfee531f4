// Opens topictable's web view in a headless browser (Debian's Chromium or
// Firefox ESR, driven by puppeteer-core: CDP for Chromium, WebDriver BiDi for
// Firefox), selects a table, and waits for a given text to appear in its grid.
//
//   node web_view.mjs chromium|firefox BASE_URL TABLE TEXT SCREENSHOT.png
//
// Prints READY once the grid shows rows (the caller then produces the
// record holding TEXT), FOUND when TEXT is in the grid (as the newest row,
// with the row count above the grid matching the rows in it),
// then PAUSED and RESUMED after pressing the pipeline's buttons; exits
// non-zero if a step does not happen within 30 s.
import puppeteer from "puppeteer-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [which, base, table, text, screenshot] = process.argv.slice(2);
const BROWSERS = {
  chromium: {
    browser: "chrome",
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  },
  firefox: {
    browser: "firefox",
    executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
    args: [],
  },
};
if (!BROWSERS[which]) {
  console.error(`unknown browser ${which}: chromium or firefox`);
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), `topictable-${which}-`));
const browser = await puppeteer.launch({
  ...BROWSERS[which],
  headless: true,
  userDataDir: profile,
  defaultViewport: { width: 1280, height: 720 },
});
const within = (locator) => locator.setTimeout(30000);
let code = 0;
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(base + "/");
  await within(page.locator(`#tables tbody tr ::-p-text(${table})`)).click();
  await within(page.locator("#grid tbody tr")).wait();
  console.log("READY");
  await within(page.locator(`#grid tbody td ::-p-text(${text})`)).wait();
  console.log("FOUND");
  // The grid follows the updates stream: the newest row comes first, and
  // the row count above it is of the same cycle as the rows below.
  const [first, shown, note] = await page.evaluate(() => [
    document.querySelector("#grid tbody tr").textContent,
    document.querySelectorAll("#grid tbody tr").length,
    document.getElementById("grid-note").textContent,
  ]);
  if (!first.includes(text)) throw new Error(`the newest row is not first: ${first}`);
  if (!note.includes(`: ${shown} row${shown === 1 ? "" : "s"}`)) {
    throw new Error(`the grid shows ${shown} rows under "${note}"`);
  }
  await page.screenshot({ path: screenshot });
  // Pause and resume from the pipelines list.
  await within(page.locator("#pipelines button ::-p-text(pause)")).click();
  await within(page.locator("#pipelines td ::-p-text(Paused)")).wait();
  console.log("PAUSED");
  await within(page.locator("#pipelines button ::-p-text(resume)")).click();
  await within(page.locator("#pipelines td ::-p-text(Running)")).wait();
  console.log("RESUMED");
} catch (e) {
  console.error(String(e));
  code = 1;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
