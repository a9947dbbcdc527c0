/**
 * Loading at scale (issue 19, item 1), old and new side by side in one run: generated LANs of
 * 1,000 to 30,000 machines with 10 input rules each (test/bench/generate.ts), in YAML and JSON.
 *
 *   in process (sizes up to 10,000): read + load + check + lower, new (src/) against old (REACH_OLD_DIST:
 *   a dist/ built from main before the change, e.g. `git worktree add /tmp/old-load main && cd
 *   /tmp/old-load && ln -s /work/main/node_modules && npx tsc -p tsconfig.json`);
 *   whole process: `reach show` per size and format and `reach ask` on 10,000 machines (reachable
 *   from outside, and unreachable between LAN machines), old and new alternating, with wall time,
 *   CPU time (user + system) and peak resident memory from /usr/bin/time, and the machine's load
 *   average beside them (the machine is shared: CPU time is the fair comparison).
 *
 * `REACH_OLD_DIST=/tmp/old-load/dist npx vitest bench --run test/bench/load.bench.ts` (npm run build
 * first). REACH_SCALE=1000,3000 picks the sizes; REACH_LOAD_RUNS=3 the whole-process runs of each
 * (default 1; the median is shown).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { lanTopology } from "./generate.js";

const SIZES = (process.env.REACH_SCALE ?? "1000,3000,10000,30000").split(",").map(Number);
const RUNS = Number(process.env.REACH_LOAD_RUNS ?? 1);
const OLD = process.env.REACH_OLD_DIST;
const NEW = join(import.meta.dirname, "..", "..", "dist");
const dir = mkdtempSync(join(tmpdir(), "reach-bench-load-"));
const file = (n: number, fmt: "yaml" | "json") => join(dir, `lan${n}.${fmt}`);
for (const n of SIZES) for (const fmt of ["yaml", "json"] as const) writeFileSync(file(n, fmt), lanTopology(n, 10, fmt));

/** Read, load, check and lower one file, as the CLI does (an ASCII file's bytes are scanned as read: src/topology/load.ts readSource). */
type Load = (file: string) => unknown;
const oldLoad: Load | undefined =
  OLD && existsSync(join(OLD, "topology", "load.js"))
    ? await (async () => {
        const [{ loadTopologyFile: load }, { lower: low }] = (await Promise.all([
          import(join(OLD, "topology", "load.js")),
          import(join(OLD, "lower", "lower.js")),
        ])) as [{ loadTopologyFile: typeof loadTopologyFile }, { lower: typeof lower }];
        return (f: string) => low(load(f).topology);
      })()
    : undefined;
const newLoad: Load = (f) => lower(loadTopologyFile(f).topology);

interface Run {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMb: number;
  readonly status: number | null;
}

/** One whole process under /usr/bin/time. */
function measure(cli: string, args: readonly string[]): Run {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", process.execPath, cli, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, CI: "1" },
  });
  const [wall, user, sys, kb] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number) as [number, number, number, number];
  return { wall, cpu: user + sys, rssMb: Math.round(kb / 1024), status: r.status };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cell = (runs: readonly Run[]) =>
  `${median(runs.map((r) => r.wall)).toFixed(2)} s (CPU ${median(runs.map((r) => r.cpu)).toFixed(2)} s), ${median(runs.map((r) => r.rssMb))} MB, exit ${runs[0]!.status}`;

const rows: string[] = [];
/** Old and new alternating, RUNS times each; the medians, and the load average while they ran. */
function row(what: string, args: readonly string[]): void {
  // the command: the bundle (dist/bin) since 2026-12-06, tsc's dist/cli/main.js before it
  const oldCli = OLD ? (existsSync(join(OLD, "bin", "main.js")) ? join(OLD, "bin", "main.js") : join(OLD, "cli", "main.js")) : undefined;
  const olds: Run[] = [];
  const news: Run[] = [];
  const load0 = loadavg()[0]!;
  for (let i = 0; i < RUNS; i++) {
    if (oldCli && existsSync(oldCli)) olds.push(measure(oldCli, args));
    news.push(measure(join(NEW, "bin", "main.js"), args));
  }
  const load = ((load0 + loadavg()[0]!) / 2).toFixed(1);
  rows.push(`| ${what} | ${olds.length ? cell(olds) : "-"} | ${cell(news)} | ${load} |`);
}

afterAll(() => {
  for (const n of SIZES)
    for (const fmt of ["yaml", "json"] as const) {
      const f = file(n, fmt);
      row(`\`reach show\` ${n} machines, ${fmt} (${(readFileSync(f).length / 1e6).toFixed(1)} MB)`, ["show", f]);
    }
  const ten = SIZES.includes(10_000) ? 10_000 : Math.max(...SIZES);
  row(`\`reach ask\` ${ten}: outside -> m0:8080/tcp (reachable)`, ["ask", file(ten, "yaml"), "outside -> m0:8080/tcp"]);
  // --no-fix: the inline repair (src/fix) is not loading, and has its own budget
  row(`\`reach ask --no-fix\` ${ten}: m1 -> m${ten - 1}:9999/tcp (unreachable)`, [
    "ask",
    "--no-fix",
    file(ten, "yaml"),
    `m1 -> m${ten - 1}:9999/tcp`,
  ]);
  console.log(
    `\n| whole process, median of ${RUNS} | old (${OLD ?? "not given"}) | new | load average |\n|---|---|---|---|\n${rows.join("\n")}`,
  );
  rmSync(dir, { recursive: true, force: true });
}, 3_600_000);

for (const n of SIZES.filter((x) => x <= 10_000)) {
  describe(`load + check + lower: ${n} machines x 10 input rules`, () => {
    for (const fmt of ["yaml", "json"] as const) {
      const f = file(n, fmt);
      const opts = { iterations: 3, warmupIterations: 1, time: 0 };
      if (oldLoad) bench(`old ${fmt}`, () => void oldLoad(f), opts);
      bench(`new ${fmt}`, () => void newLoad(f), opts);
    }
  });
}
