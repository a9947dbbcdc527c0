/**
 * The half-second CLI (issue 19 item 5): whole processes of `reach --version`, `reach --help` and
 * one `reach ask` on a seed model. Goals: --version and --help < 0.2 s, the ask <= 0.5 s (median).
 * With REACH_OLD_CLI=/path/to/old/dist/bin/main.js (dist/cli/main.js before the bundle) the old build runs beside the new one in each
 * group. test/bench/cli-compare.mjs interleaves old and new runs (fairer on a busy machine).
 */
import { spawnSync } from "node:child_process";
import { bench, describe } from "vitest";

const CLIS: readonly (readonly [string, string])[] = [
  ["new", "dist/bin/main.js"],
  ...(process.env.REACH_OLD_CLI ? [["old", process.env.REACH_OLD_CLI] as const] : []),
];

const COMMANDS: readonly (readonly [string, readonly string[]])[] = [
  ["reach --version", ["--version"]],
  ["reach --help", ["--help"]],
  ['reach ask models/virtualbox-nat.yaml "host -> guest:22/tcp"', ["ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp"]],
];

for (const [name, args] of COMMANDS)
  describe(name, () => {
    for (const [which, cli] of CLIS)
      bench(
        `${which}: whole process`,
        () => {
          const r = spawnSync(process.execPath, [cli, ...args]);
          if (r.status !== 0) throw new Error(`${which} ${name}: exit ${r.status}: ${String(r.stderr)}`);
        },
        { iterations: 5, warmupIterations: 1 },
      );
  });
