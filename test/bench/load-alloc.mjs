#!/usr/bin/env node
/**
 * What a cold load allocates (issue 19 item 1), old and new: V8's sampling heap profiler, with the
 * objects that the collector has freed counted too, over read + load + check + lower of FILE in a
 * fresh process per build; prints the megabytes sampled and the functions that allocate most.
 * Unlike the time, this does not move with the machine's load (sampling varies by a few MB).
 *   node test/bench/load-alloc.mjs OLD_DIST FILE [TOP=12]
 * OLD_DIST: as in load-compare.mjs.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const [oldDist, file, topArg] = process.argv.slice(2);
if (!oldDist || !file) {
  console.error("usage: node test/bench/load-alloc.mjs OLD_DIST FILE [TOP]");
  process.exit(2);
}
const top = Number(topArg ?? 12);
const newDist = join(import.meta.dirname, "..", "..", "dist");
const child = `
import { Session } from "node:inspector/promises";
const [{ loadTopologyFile }, { lower }] = await Promise.all([import(process.argv[1] + "/topology/load.js"), import(process.argv[1] + "/lower/lower.js")]);
const s = new Session();
s.connect();
await s.post("HeapProfiler.enable");
await s.post("HeapProfiler.startSampling", { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
lower(loadTopologyFile(process.argv[2]).topology);
const { profile } = await s.post("HeapProfiler.stopSampling");
const by = new Map();
const walk = (n) => {
  const f = n.callFrame;
  const k = (f.functionName || "(anonymous)") + " " + f.url.split("/").slice(-2).join("/") + ":" + (f.lineNumber + 1);
  by.set(k, (by.get(k) ?? 0) + n.selfSize);
  for (const c of n.children ?? []) walk(c);
};
walk(profile.head);
console.log(JSON.stringify([...by].sort((a, b) => b[1] - a[1])));`;
for (const [name, dist] of [
  ["old", oldDist],
  ["new", newDist],
]) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", child, dist, file], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${dist}: exit ${r.status}\n${r.stderr}`);
  const rows = JSON.parse(r.stdout.trim().split("\n").at(-1));
  const mb = (b) => (b / 2 ** 20).toFixed(1);
  console.log(`${name}: ${mb(rows.reduce((t, [, b]) => t + b, 0))} MB allocated (sampled)`);
  for (const [k, b] of rows.slice(0, top)) console.log(`  ${mb(b).padStart(6)} MB  ${k}`);
}
