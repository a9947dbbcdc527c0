#!/usr/bin/env node
/**
 * Old and new CLI side by side (issue 19 item 5): each command runs ROUNDS times, old and new
 * alternating, so both see the same load; prints the medians and the machine's load average.
 *   node test/bench/cli-compare.mjs /tmp/old-cli/dist/cli/main.js [ROUNDS=5]
 * The old build: git worktree add /tmp/old-cli 52c25e5; ln -s $PWD/node_modules /tmp/old-cli/;
 * (cd /tmp/old-cli && npx tsc -p tsconfig.json).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const [oldCli, roundsArg] = process.argv.slice(2);
if (!oldCli) {
  console.error(
    "usage: node test/bench/cli-compare.mjs OLD_MAIN_JS (dist/bin/main.js; dist/cli/main.js for a build before the bundle) [ROUNDS]",
  );
  process.exit(2);
}
const rounds = Number(roundsArg ?? 5);
const commands = [
  ["--version"],
  ["--help"],
  ["ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp"],
  ["ask", "models/virtualbox-nat.yaml", "web -> guest:22/tcp", "--no-fix"],
];
// CPU time (user + system, all threads) as GNU time reports it: less sensitive to a busy machine than the wall clock
const GNU_TIME = "/usr/bin/time";
const dir = mkdtempSync(join(tmpdir(), "reach-cli-compare-"));
const cpuFile = join(dir, "cpu");
const time = (cli, args) => {
  const t = process.hrtime.bigint();
  const cmd = existsSync(GNU_TIME) ? [GNU_TIME, "-f", "%U %S", "-o", cpuFile, process.execPath] : [process.execPath];
  const r = spawnSync(cmd[0], [...cmd.slice(1), cli, ...args]);
  if (r.status !== 0) throw new Error(`${cli} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  const cpu = existsSync(GNU_TIME)
    ? readFileSync(cpuFile, "utf8")
        .trim()
        .split(/\s+/)
        .slice(-2)
        .reduce((a, b) => a + Number(b) * 1000, 0)
    : NaN;
  return { wall, cpu };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const args of commands) {
  const old = [];
  const now = [];
  for (let i = 0; i < rounds; i++) {
    old.push(time(oldCli, args));
    now.push(time("dist/bin/main.js", args));
  }
  const [ow, nw, oc, nc] = [old, now, old, now].map((xs, i) => median(xs.map((x) => (i < 2 ? x.wall : x.cpu))));
  console.log(
    `reach ${args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}: wall old ${ow.toFixed(0)} ms, new ${nw.toFixed(0)} ms ` +
      `(${(ow / nw).toFixed(2)}x); cpu old ${oc.toFixed(0)} ms, new ${nc.toFixed(0)} ms; load ${loadavg()[0].toFixed(1)}`,
  );
}
rmSync(dir, { recursive: true, force: true });
