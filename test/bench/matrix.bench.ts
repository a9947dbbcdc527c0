/**
 * All pairs by classes (issue 19 item 3; issue 16 item 4): figures only, no timed assertion.
 * Old (per flow) and new (by classes) side by side in one run, as the commands run them (child
 * processes, wall clock and CPU time):
 *
 *   - `reach matrix` on 1,000 machines x 100 services (matrixLab(1000, 50): 100,000 flows), 2
 *     workers (goal < 60 s on 2 cores). The old code on the whole matrix would take many
 *     minutes, so it runs one shard of OLD_SHARDS (`--shard 1/N`, whole sources' cells) and
 *     its time is scaled up; the new code runs the whole matrix and the same shard;
 *   - `reach matrix` on 200 machines x 20 services, old and new whole;
 *   - `reach report models/` (goal < 5 s whole process) and `reach report` of a 200-machine
 *     lab (goal < 10 s), old and new.
 *
 * The old code: OLD_CLI=/path/to/dist/bin/main.js (dist/cli/main.js before the bundle), or else it is built here from git
 * (REACH_OLD_REF, default ba53b74: main, per flow, just before the classes) into a temporary folder.
 * Run: npm run build && npx vitest bench --run test/bench/matrix.bench.ts
 */
import { execSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { matrixLab } from "./generate.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "reach-bench-classes-"));
const lab1000 = join(dir, "lab1000.yaml");
const lab200 = join(dir, "lab200.yaml");
writeFileSync(lab1000, matrixLab(1000, 50));
writeFileSync(lab200, matrixLab(200, 10));
const OLD_SHARDS = Number(process.env.OLD_SHARDS ?? 50);
const NEW = join(ROOT, "dist", "bin", "main.js");

/** The old CLI: given, or built from git into the temporary folder. */
function oldCli(): string {
  if (process.env.OLD_CLI) return resolve(process.env.OLD_CLI);
  const ref = process.env.REACH_OLD_REF ?? "ba53b74";
  const src = join(dir, "old");
  execSync(`mkdir -p ${src} && git -C ${ROOT} archive ${ref} | tar -x -C ${src}`);
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
  execSync(`${process.execPath} ${join(ROOT, "node_modules", "typescript", "bin", "tsc")} -p ${join(src, "tsconfig.json")}`);
  // the command: the bundle since 2026-12-06, tsc's main.js before it
  const bin = join(src, "dist", "bin", "main.js");
  return existsSync(bin) ? bin : join(src, "dist", "cli", "main.js");
}
const OLD = oldCli();

const GNU_TIME = "/usr/bin/time";
const cpuFile = join(dir, "cpu");

/** One whole command: wall clock and CPU time (user + system, every thread), in seconds. */
function run(cli: string, args: readonly string[]): { wall: number; cpu: number; stdout: string } {
  const timed = existsSync(GNU_TIME);
  const cmd = timed ? [GNU_TIME, "-f", "%U %S", "-o", cpuFile, process.execPath, cli, ...args] : [process.execPath, cli, ...args];
  const t0 = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", maxBuffer: 1 << 30, env: { ...process.env, CI: "1" } });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cli} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  const cpu = timed
    ? readFileSync(cpuFile, "utf8")
        .trim()
        .split(/\s+/)
        .slice(-2)
        .reduce((a, b) => a + Number(b), 0)
    : NaN;
  return { wall, cpu, stdout: r.stdout };
}

const figures: string[] = [];
const fmt = (x: { wall: number; cpu: number }, scale = 1) => `${(x.wall * scale).toFixed(1)} s wall, ${(x.cpu * scale).toFixed(1)} s cpu`;
const verdicts = (json: string) => {
  const flows = JSON.parse(json).flows as { from: string; service: string; verdict: string }[];
  return new Map(flows.map((f) => [`${f.from} -> ${f.service}`, f.verdict]));
};

/** Old and new on the same command: the figures, and whether their cells are the same. */
function sideBySide(what: string, args: readonly string[], compare: boolean): void {
  const old = run(OLD, args);
  const now = run(NEW, args);
  let same = "";
  if (compare) {
    const a = verdicts(old.stdout);
    const b = verdicts(now.stdout);
    const differ = [...a].filter(([k, v]) => b.get(k) !== v).length + (a.size === b.size ? 0 : Math.abs(a.size - b.size));
    same = `; ${a.size} cells, ${differ} differ`;
  }
  figures.push(
    `${what}: old ${fmt(old)}, new ${fmt(now)} (${(old.wall / now.wall).toFixed(1)}x wall)${same}; load ${(loadavg()[0] ?? 0).toFixed(1)}`,
  );
}

afterAll(() => {
  console.log(`\n${figures.join("\n")}`);
  rmSync(dir, { recursive: true, force: true });
});

describe("reach matrix: per flow against by classes (whole command)", () => {
  bench(
    "1,000 machines x 100 services, 2 workers",
    () => {
      const shard = ["matrix", lab1000, "--workers", "2", "--format", "json", "--shard", `1/${OLD_SHARDS}`];
      const old = run(OLD, shard);
      const nowShard = run(NEW, shard);
      const a = verdicts(old.stdout);
      const b = verdicts(nowShard.stdout);
      const differ = [...a].filter(([k, v]) => b.get(k) !== v).length;
      const now = run(NEW, ["matrix", lab1000, "--workers", "2", "--format", "json"]);
      const cells = verdicts(now.stdout).size;
      figures.push(
        `matrix 1,000 x 100 (${cells} cells): new ${fmt(now)} (goal < 60 s); shard 1/${OLD_SHARDS} (${a.size} cells, ${differ} differ): ` +
          `old ${fmt(old)}, new ${fmt(nowShard)}; old scaled to the whole matrix ${fmt(old, OLD_SHARDS)}; load ${(loadavg()[0] ?? 0).toFixed(1)}`,
      );
    },
    { iterations: 1, warmupIterations: 0, time: 0 },
  );
  bench(
    "200 machines x 20 services, 2 workers",
    () => sideBySide("matrix 200 x 20", ["matrix", lab200, "--workers", "2", "--format", "json"], true),
    {
      iterations: 1,
      warmupIterations: 0,
      time: 0,
    },
  );
});

describe("reach report: per flow against by classes (whole command)", () => {
  bench("report models/", () => sideBySide("report models/", ["report", join(ROOT, "models"), "-o", join(dir, "models.html")], false), {
    iterations: 1,
    warmupIterations: 0,
    time: 0,
  });
  bench("report of a 200-machine lab", () => sideBySide("report 200 machines", ["report", lab200, "-o", join(dir, "lab200.html")], false), {
    iterations: 1,
    warmupIterations: 0,
    time: 0,
  });
});
