/**
 * Scale (issue 19, items 1, 2 and 4): generated LANs of 1,000 to 30,000 machines with 10 input
 * rules each (test/bench/generate.ts), in YAML and JSON.
 *
 *   in process: load + check + lower; the usual dials of one query (reachable and unreachable)
 *   whole process, side by side with the code before issue 19 when REACH_OLD names its
 *   dist/cli/main.js (build it: `git worktree add /tmp/old-reach 52c25e5`, link node_modules,
 *   `npx tsc -p tsconfig.json`): `reach show`, `reach ask` (reachable and unreachable) and
 *   `reach verify` of 1,000 expectations on 1,000 machines, wall and CPU time and peak memory
 *   (/usr/bin/time), printed as one table at the end.
 *
 * REACH_SCALE=1000,3000 picks the sizes (default 1000,3000,10000,30000); REACH_SCALE_PROCESS=0 leaves
 * out the whole-process table. `npx vitest bench --run test/bench/scale.bench.ts` (npm run build first).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { ask } from "../../src/query/dials.js";
import { lanTopology, lanWithExpectations } from "./generate.js";

const SIZES = (process.env.REACH_SCALE ?? "1000,3000,10000,30000").split(",").map(Number);
const OLD = process.env.REACH_OLD;
const dir = mkdtempSync(join(tmpdir(), "reach-bench-scale-"));
const file = (n: number, fmt: "yaml" | "json") => join(dir, `lan${n}.${fmt}`);
for (const n of SIZES) for (const fmt of ["yaml", "json"] as const) writeFileSync(file(n, fmt), lanTopology(n, 10, fmt));
const spec = join(dir, "verify1000.yaml");
writeFileSync(spec, lanWithExpectations(1000, 10, 1000));

const q = (text: string) => {
  const r = parseQuery(text);
  if (!r.ok) throw new Error(r.message);
  return r.query;
};

/** One whole process under /usr/bin/time: wall and CPU seconds, peak resident memory in MB, exit code. */
function measure(cli: string, args: readonly string[]): { wall: number; cpu: number; rssMb: number; status: number | null } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", process.execPath, cli, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, CI: "1" },
  });
  const last = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
  const [wall, user, sys, kb] = last as [number, number, number, number];
  return { wall, cpu: user + sys, rssMb: Math.round(kb / 1024), status: r.status };
}

const rows: string[] = [];
function row(what: string, args: readonly string[]) {
  const cell = (cli: string) => {
    const m = measure(cli, args);
    return `${m.wall.toFixed(2)} s (CPU ${m.cpu.toFixed(2)} s), ${m.rssMb} MB, exit ${m.status}`;
  };
  rows.push(`| ${what} | ${OLD && existsSync(OLD) ? cell(OLD) : "-"} | ${cell("dist/bin/main.js")} |`);
}

afterAll(() => {
  if (process.env.REACH_SCALE_PROCESS !== "0") {
    for (const n of SIZES)
      for (const fmt of ["yaml", "json"] as const) {
        const f = file(n, fmt);
        const mb = (readFileSync(f).length / 1e6).toFixed(1);
        row(`\`reach show\` ${n} machines, ${fmt} (${mb} MB)`, ["show", f]);
        if (fmt === "yaml") {
          row(`\`reach ask\` ${n}: m1 -> m${n - 1}:8080/tcp (reachable)`, ["ask", f, `m1 -> m${n - 1}:8080/tcp`]);
          row(`\`reach ask\` ${n}: m1 -> m${n - 1}:9999/tcp (unreachable)`, ["ask", f, `m1 -> m${n - 1}:9999/tcp`]);
        }
      }
    row("`reach verify` 1,000 expectations on 1,000 machines", ["verify", spec]);
    console.log(`\n| whole process | old (52c25e5) | new |\n|---|---|---|\n${rows.join("\n")}`);
  }
  rmSync(dir, { recursive: true, force: true });
});

for (const n of SIZES.filter((x) => x <= 10_000)) {
  describe(`generated LAN: ${n} machines x 10 input rules`, () => {
    for (const fmt of ["yaml", "json"] as const) {
      const text = readFileSync(file(n, fmt), "utf8");
      bench(`load + check + lower (${fmt})`, () => void lower(loadTopologyText(file(n, fmt), text).topology), {
        iterations: 3,
        warmupIterations: 1,
        time: 0,
      });
    }
    const net = lower(loadTopologyText(file(n, "json"), readFileSync(file(n, "json"), "utf8")).topology);
    bench(`usual dials: m1 -> m${n - 1}:8080/tcp (reachable)`, () => void ask(net, q(`m1 -> m${n - 1}:8080/tcp`)), {
      iterations: 3,
      time: 0,
    });
    bench(`usual dials: m1 -> m${n - 1}:9999/tcp (unreachable)`, () => void ask(net, q(`m1 -> m${n - 1}:9999/tcp`)), {
      iterations: 3,
      time: 0,
    });
  });
}
