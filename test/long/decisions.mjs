#!/usr/bin/env node
/**
 * `npm run longrun -- [N] [K]` (after `npm run build`): N decisions (default
 * 100,000) in one process over the expectations of the bundled models, printing
 * every K decisions (default N/50) the decisions made, resident memory, JS heap,
 * the WASM heap, solver rebuilds and elapsed time. Exits 1 on any error or a
 * verdict that differs from the model's expectation (issue 13: the in-process
 * solver must survive long runs with flat memory).
 */
import { join } from "node:path";
import { loadTopologyFile } from "../../dist/topology/load.js";
import { lower } from "../../dist/lower/lower.js";
import { parseQuery } from "../../dist/ir/query.js";
import { decide } from "../../dist/smt/decide.js";
import * as solver from "../../dist/smt/solver.js";

const N = Number(process.argv[2] ?? 100_000);
const K = Number(process.argv[3] ?? Math.max(1, Math.floor(N / 50)));
const FILES = ["lab-all-conditions.yaml", "home-router-hairpin.yaml", "nat-forward-host-firewall.yaml", "natnetwork.yaml", "hostonly.yaml"];

const cases = [];
for (const f of FILES) {
  const loaded = loadTopologyFile(join("models", f));
  const net = lower(loaded.topology);
  for (const e of loaded.topology.doc.expect ?? []) {
    if (e.query === undefined) continue;
    const q = parseQuery(e.query);
    if (q.ok) cases.push({ net, query: q.query, text: `${f}: ${e.query}`, verdict: e.verdict });
  }
}
const counts = { reachable: 0, unreachable: 0, unknown: 0 };
console.log(`longrun: ${N} decisions over ${cases.length} queries of ${FILES.length} models, report every ${K}`);
const mb = (n) => (n / 2 ** 20).toFixed(1);
const wasm = () => {
  const s = solver.solverStats();
  return `calls ${s.calls}  z3 heap ${mb(s.z3Bytes).padStart(6)} MB  live ${s.live}  workers ${s.workers}  contexts ${s.contexts}  rebuilds ${s.rebuilds}  failures ${s.failures}`;
};
const t0 = performance.now();
let errors = 0;
let wrong = 0;
const line = (i) => {
  const m = process.memoryUsage();
  console.log(
    `${String(i).padStart(8)} decisions  rss ${mb(m.rss).padStart(7)} MB  heap ${mb(m.heapUsed).padStart(6)} MB  ${wasm()}  ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
};
for (let i = 0; i < N; i++) {
  const c = cases[i % cases.length];
  try {
    const d = await decide(c.net, c.query);
    counts[d.verdict]++;
    if (c.verdict !== undefined && d.verdict !== c.verdict) {
      if (wrong++ < 5) console.log(`wrong verdict at ${i}: ${c.text}: ${d.verdict} (expected ${c.verdict})`);
    }
  } catch (e) {
    if (errors++ < 5) console.log(`error at decision ${i}: ${c.text}: ${e?.stack ?? e}`);
  }
  if ((i + 1) % K === 0) line(i + 1);
}
console.log(`done: ${N} decisions, ${JSON.stringify(counts)}, ${errors} errors, ${wrong} wrong verdicts`);
await solver.shutdown();
process.exit(errors || wrong ? 1 : 0);
