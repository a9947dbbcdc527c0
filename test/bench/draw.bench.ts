/**
 * Figures only, no timed assertion: `reach draw` on the largest bundled model
 * (models/lab-all-conditions.yaml, in process: Graphviz WebAssembly layout and SVG) and on a
 * generated 200-machine lab; `reach report models/` as the command runs it (child process:
 * verify every expectation, draw every path, the exposure of every machine), with the page's size.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { drawTopology } from "../../src/draw/draw.js";
import { matrixLab } from "./generate.js";

const dir = mkdtempSync(join(tmpdir(), "reach-bench-draw-"));
const lab200 = join(dir, "lab200.yaml");
writeFileSync(lab200, matrixLab(200, 10));
const largest = loadTopologyFile("models/lab-all-conditions.yaml");
const largestNet = lower(largest.topology);
const big = loadTopologyFile(lab200);
const bigNet = lower(big.topology);
const figures: string[] = [];

afterAll(() => {
  console.log(`\n${figures.join("\n")}`);
  rmSync(dir, { recursive: true, force: true });
});

describe("reach draw (in process)", () => {
  bench(
    "models/lab-all-conditions.yaml, topology as SVG",
    async () => {
      const t0 = performance.now();
      const svg = await drawTopology(largest, largestNet, "svg");
      figures.push(`draw lab-all-conditions: ${(performance.now() - t0).toFixed(0)} ms, ${svg.length} bytes of SVG`);
    },
    { iterations: 3, warmupIterations: 1, time: 0 },
  );
  bench(
    "generated 200-machine lab, topology as SVG",
    async () => {
      const t0 = performance.now();
      const svg = await drawTopology(big, bigNet, "svg");
      figures.push(`draw 200 machines: ${(performance.now() - t0).toFixed(0)} ms, ${svg.length} bytes of SVG`);
    },
    { iterations: 2, warmupIterations: 0, time: 0 },
  );
});

describe("reach report models/ (whole command)", () => {
  bench(
    "report models/",
    () => {
      const out = join(dir, "report.html");
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ["dist/bin/main.js", "report", "models/", "-o", out], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`reach report failed: ${r.stderr}`);
      figures.push(`report models/: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(statSync(out).size / 1024).toFixed(0)} KiB`);
    },
    { iterations: 1, warmupIterations: 0, time: 0 },
  );
});
