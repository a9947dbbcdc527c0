#!/usr/bin/env node
/**
 * Loading at scale, cold, old and new side by side (issue 19 item 1): each round runs one fresh
 * process per build that reads, loads, checks and lowers FILE (what the CLI does before it
 * answers), old and new alternating so that both see the same machine; prints the medians.
 *   node test/bench/load-compare.mjs OLD_DIST FILE [ROUNDS=8]
 * FILE: e.g. the 10,000-machine LAN of test/bench/generate.ts as JSON (the load bench writes it).
 * OLD_DIST: tsc's dist/ of the old commit (git worktree add /tmp/old C; ln -s $PWD/node_modules
 * /tmp/old/; (cd /tmp/old && npx tsc -p tsconfig.json)).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const [oldDist, file, roundsArg] = process.argv.slice(2);
if (!oldDist || !file) {
  console.error("usage: node test/bench/load-compare.mjs OLD_DIST FILE [ROUNDS]");
  process.exit(2);
}
const rounds = Number(roundsArg ?? 8);
const newDist = join(import.meta.dirname, "..", "..", "dist");
// one cold load in a child: milliseconds from before the read to after lowering, the CPU time of
// all its threads (steadier than the wall clock on a busy machine), its minor page faults (fresh
// memory is slow on this VM: docs/benchmarks.md), and the resident memory then
const child = `
import { readFileSync } from "node:fs";
const [{ loadTopologyFile }, { lower }] = await Promise.all([import(process.argv[1] + "/topology/load.js"), import(process.argv[1] + "/lower/lower.js")]);
const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
const f0 = faults();
const c0 = process.cpuUsage();
const t0 = performance.now();
lower(loadTopologyFile(process.argv[2]).topology);
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, faults: faults() - f0, rssMb: process.memoryUsage().rss / 2 ** 20 }));`;
const run = (dist) => {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", child, dist, file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${dist}: exit ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1));
};
const runs = { old: [], new: [] };
for (let i = 0; i < rounds; i++) {
  runs.old.push(run(oldDist));
  runs.new.push(run(newDist));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rs] of Object.entries(runs)) {
  const ms = rs.map((r) => r.ms);
  console.log(
    `${name}: median ${median(ms).toFixed(0)} ms (min ${Math.min(...ms).toFixed(0)}, max ${Math.max(...ms).toFixed(0)}), CPU ${median(rs.map((r) => r.cpuMs)).toFixed(0)} ms, ${median(rs.map((r) => r.faults))} page faults, ${median(rs.map((r) => r.rssMb)).toFixed(0)} MB, ${rounds} runs`,
  );
}
