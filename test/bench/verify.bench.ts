/**
 * `reach matrix` on a generated 200-machine topology (4 LAN segments, 10
 * servers with 2 services each: 200 x 20 flows), as the command runs it
 * (child process, Z3 initialised in each worker): one worker thread against two.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { matrixLab } from "./generate.js";

const dir = mkdtempSync(join(tmpdir(), "reach-bench-matrix-"));
const file = join(dir, "lab200.yaml");
writeFileSync(file, matrixLab(200, 10));
const times: Record<string, number[]> = { "1": [], "2": [] };

function run(workers: string) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["dist/bin/main.js", "matrix", file, "--workers", workers, "--format", "json"], {
    encoding: "utf8",
    env: { ...process.env, CI: "1" },
  });
  if (r.status !== 0) throw new Error(`reach matrix failed: ${r.stderr}`);
  times[workers]!.push(performance.now() - t0);
  return JSON.parse(r.stdout).flows.length as number;
}

afterAll(() => {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const one = median(times["1"]!);
  const two = median(times["2"]!);
  console.log(
    `\nreach matrix, 200 machines x 20 services: 1 worker ${(one / 1000).toFixed(2)} s, 2 workers ${(two / 1000).toFixed(2)} s, speed-up ${(one / two).toFixed(2)}x`,
  );
  rmSync(dir, { recursive: true, force: true });
});

describe("reach matrix on a generated 200-machine topology (whole command)", () => {
  bench("1 worker thread", () => void run("1"), { iterations: 2, warmupIterations: 0, time: 0 });
  bench("2 worker threads", () => void run("2"), { iterations: 2, warmupIterations: 0, time: 0 });
});
