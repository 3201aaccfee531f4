// Opens topictable's web view in headless Chromium, selects a table, and
// waits for a given text to appear in its grid.
//
//   node web_view.mjs BASE_URL TABLE TEXT SCREENSHOT.png
//
// Prints READY once the grid shows rows (the caller then produces the
// record holding TEXT), FOUND when TEXT is in the grid (as the newest row),
// then PAUSED and RESUMED after pressing the pipeline's buttons; exits
// non-zero if a step does not happen within 30 s.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, table, text, screenshot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "topictable-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 720 },
});
let code = 0;
try {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(base + "/");
  await page.locator("#tables tbody tr", { hasText: table }).first().click({ timeout: 30000 });
  await page.locator("#grid tbody tr").first().waitFor({ timeout: 30000 });
  console.log("READY");
  await page.locator("#grid tbody td", { hasText: text }).first().waitFor({ timeout: 30000 });
  console.log("FOUND");
  // The grid follows the updates stream: the newest row comes first.
  const first = await page.locator("#grid tbody tr").first().textContent();
  if (!first.includes(text)) throw new Error(`the newest row is not first: ${first}`);
  await page.screenshot({ path: screenshot });
  // Pause and resume from the pipelines list.
  await page.locator("#pipelines button", { hasText: "pause" }).click();
  await page.locator("#pipelines td", { hasText: "Paused" }).waitFor({ timeout: 30000 });
  console.log("PAUSED");
  await page.locator("#pipelines button", { hasText: "resume" }).click();
  await page.locator("#pipelines td", { hasText: "Running" }).waitFor({ timeout: 30000 });
  console.log("RESUMED");
} catch (e) {
  console.error(String(e));
  code = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
