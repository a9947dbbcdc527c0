/**
 * The report in a real browser: headless Chromium (the system's /usr/bin/chromium, driven by
 * playwright-core; no browser is downloaded) opens the page from a file with every network
 * request refused. No console error, no failed request; every machine and every expectation on
 * the page; clicking the failed expectation shows its path picture with the blocked hop; and a
 * screenshot within 2% of differing pixels of the committed baseline
 * (test/report/baseline/report.png, rewritten with UPDATE_GOLDEN=1). The pixels are compared in
 * the browser itself (two canvases), so no PNG library is needed. Skipped, saying so, when
 * Chromium is not installed (CI installs it: .ci/run). The baseline is drawn in Liberation Sans
 * (apt fonts-liberation, which .ci/run installs): with only DejaVu, 6.7% of the pixels differ.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { reportFile } from "../../src/report/build.js";
import { reportHtml, type ReportFile } from "../../src/report/html.js";

const CHROMIUM = "/usr/bin/chromium";
const FIXTURE = "test/report/fixtures/lab.yaml";
const BASELINE = join(import.meta.dirname, "baseline", "report.png");
/** Fraction of pixels that may differ from the baseline (font antialiasing, hinting). */
const TOLERANCE = 0.02;
const have = existsSync(CHROMIUM);
/**
 * Runs in the page (plain JavaScript: the tests are typed without the DOM): the fraction of pixels
 * of two PNGs (base64) whose colour differs by more than a little (antialiasing), or 1 when the
 * sizes differ.
 */
const COMPARE = `async function (a, b) {
  const load = (src) => new Promise((res, rej) => { const i = new Image(); i.onload = () => res(i); i.onerror = () => rej(new Error("image")); i.src = "data:image/png;base64," + src; });
  const [x, y] = await Promise.all([load(a), load(b)]);
  if (x.width !== y.width || x.height !== y.height) return { differing: 1, size: x.width + "x" + x.height + " vs " + y.width + "x" + y.height };
  const px = (img) => { const c = document.createElement("canvas"); c.width = img.width; c.height = img.height; const g = c.getContext("2d"); g.drawImage(img, 0, 0); return g.getImageData(0, 0, img.width, img.height).data; };
  const p = px(x), q = px(y);
  let n = 0;
  for (let i = 0; i < p.length; i += 4) if (Math.abs(p[i] - q[i]) + Math.abs(p[i + 1] - q[i + 1]) + Math.abs(p[i + 2] - q[i + 2]) > 48) n++;
  return { differing: n / (p.length / 4), size: x.width + "x" + x.height };
}`;
if (!have) console.warn(`test/report/browser.test.ts: skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(!have)("reach report in headless Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "reach-report-"));
  const page$ = join(dir, "report.html");
  let ctx: BrowserContext;
  let page: Page;
  let file: ReportFile;
  const consoleErrors: string[] = [];
  const failed: string[] = [];

  beforeAll(async () => {
    const loaded = loadTopologyFile(FIXTURE);
    const net = lower(loaded.topology);
    file = await reportFile(FIXTURE, loaded, net, { engine: "smt", timeoutMs: 30_000 });
    writeFileSync(page$, reportHtml([file]));
    ctx = await chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
      viewport: { width: 1200, height: 900 },
      deviceScaleFactor: 1,
      colorScheme: "light",
      timeout: 30_000,
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    // offline: anything but the page's own file is refused (and counted as a failed request)
    await ctx.route("**/*", (route) => (route.request().url() === `file://${page$}` ? route.continue() : route.abort()));
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("requestfailed", (r) => failed.push(r.url()));
    await page.goto(`file://${page$}`);
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("loads with no console error and no failed request", () => {
    expect(consoleErrors).toEqual([]);
    expect(failed).toEqual([]);
  });

  it("shows every machine and every expectation", async () => {
    const text = (await page.textContent("main")) ?? "";
    for (const m of file.net.machines) expect(text).toContain(m.name);
    const rows = await page.locator("details.exp").allTextContents();
    expect(rows).toHaveLength(file.expectations.length);
    for (const e of file.expectations) expect(text).toContain(e.result.text);
  });

  it("clicking the failed expectation shows its path picture, blocked, with its cause", async () => {
    const failedExp = page.locator("details.exp.violated");
    await expect(failedExp.count()).resolves.toBe(1);
    expect(await failedExp.locator("svg").count()).toBe(0);
    await failedExp.locator("summary").click();
    const svg = failedExp.locator("svg").first();
    await svg.waitFor({ state: "visible" });
    const pic = (await svg.textContent()) ?? "";
    expect(pic).toContain("✖");
    expect(pic).toContain("BIND_LOOPBACK");
    expect(pic).toContain("guest-nat");
  });

  it("opening the matrix puts its heatmap in the page: one row per machine, a cell per service, each titled in words", async () => {
    const heat = page.locator("details.heatmap");
    expect(await heat.locator("table.matrix").count()).toBe(0);
    await heat.locator("summary").click();
    await heat.locator("table.matrix").waitFor({ state: "visible" });
    expect(await heat.locator("table.matrix tr").count()).toBe(file.matrix.from.length + 1);
    expect(await heat.locator("td.c").count()).toBe(file.matrix.from.length * file.matrix.services.length);
    expect(await heat.locator("td.c.reachable").first().getAttribute("title")).toMatch(/ -> .*: reachable$/);
    await heat.locator("summary").click();
  });

  it("the search box filters the expectations", async () => {
    await page.fill("#search", "lan-pc -> guest:80");
    await expect.poll(() => page.locator("details.exp.hidden").count()).toBe(2);
    await page.fill("#search", "");
    await expect.poll(() => page.locator("details.exp.hidden").count()).toBe(0);
  });

  it("looks like the baseline screenshot (under 2% of pixels differ)", async () => {
    const shot = await page.screenshot({ fullPage: false });
    if (process.env.UPDATE_GOLDEN === "1" || !existsSync(BASELINE)) {
      if (process.env.CI && !existsSync(BASELINE))
        throw new Error("missing baseline: run UPDATE_GOLDEN=1 npx vitest run test/report/browser.test.ts");
      mkdirSync(join(import.meta.dirname, "baseline"), { recursive: true });
      writeFileSync(BASELINE, shot);
    }
    const baseline = readFileSync(BASELINE);
    const cmp = await ctx.newPage();
    const diff = (await cmp.evaluate(
      `(${COMPARE})(${JSON.stringify(shot.toString("base64"))}, ${JSON.stringify(baseline.toString("base64"))})`,
    )) as {
      differing: number;
      size: string;
    };
    await cmp.close();
    expect(diff.differing, `screenshot ${diff.size}: ${(diff.differing * 100).toFixed(2)}% of pixels differ from ${BASELINE}`).toBeLessThan(
      TOLERANCE,
    );
  });
});
