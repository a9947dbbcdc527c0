/**
 * Figures only, no timed assertion (issue 16 item 4): the report of a generated 200-machine lab
 * (matrixLab(200, 10)) in headless Chromium, opened offline from its file. Printed: the page's
 * size, the time from navigation to the `load` event, to the first answered interaction (typing
 * in the search box filters the rows; the goal "interactive in < 2 s" is this figure), and to
 * the heatmap drawn after its section is opened. Skipped without /usr/bin/chromium.
 *
 *   npm run build && npx vitest bench --run test/bench/report-page.bench.ts
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, bench, describe } from "vitest";
import { chromium, type BrowserContext } from "playwright-core";
import { matrixLab } from "./generate.js";

const CHROMIUM = "/usr/bin/chromium";
const dir = mkdtempSync(join(tmpdir(), "reach-bench-page-"));
const lab = join(dir, "lab200.yaml");
const page$ = join(dir, "lab200.html");
const figures: string[] = [];
let ctx: BrowserContext | undefined;

beforeAll(async () => {
  writeFileSync(lab, matrixLab(200, 10));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["dist/bin/main.js", "report", lab, "-o", page$], { encoding: "utf8" });
  if (r.status !== 0 && r.status !== 1) throw new Error(`reach report exited ${r.status}: ${r.stderr}`);
  figures.push(
    `reach report, 200 machines: ${((performance.now() - t0) / 1000).toFixed(2)} s whole command, ${statSync(page$).size} bytes`,
  );
  ctx = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    viewport: { width: 1200, height: 900 },
  });
  await ctx.route("**/*", (route) => (route.request().url() === `file://${page$}` ? route.continue() : route.abort()));
}, 600_000);

afterAll(async () => {
  await ctx?.close();
  console.log(`\n${figures.join("\n")}`);
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!existsSync(CHROMIUM))("the 200-machine report in Chromium", () => {
  bench(
    "open, search, open the heatmap",
    async () => {
      try {
        await openOnce();
      } catch (e) {
        figures.push(`failed: ${String(e)}`);
        throw e;
      }
    },
    { iterations: 3, warmupIterations: 0, time: 0 },
  );
});

async function openOnce(): Promise<void> {
  const page = await ctx!.newPage();
  const t0 = performance.now();
  await page.goto(`file://${page$}`, { waitUntil: "load" });
  const loaded = performance.now() - t0;
  await page.fill("#search", "m1 ");
  // every row the search box filters (machines, exposure rows, expectations) carries data-search
  await page.locator("[data-search].hidden").first().waitFor({ state: "attached" });
  const interactive = performance.now() - t0;
  const heat = page.locator("details.heatmap").first();
  await heat.locator("summary").click();
  await heat.locator("table.matrix").waitFor({ state: "visible" });
  const heatmap = performance.now() - t0;
  figures.push(
    `page: load ${loaded.toFixed(0)} ms, interactive (search answered) ${interactive.toFixed(0)} ms, heatmap drawn ${heatmap.toFixed(0)} ms`,
  );
  await page.close();
}
