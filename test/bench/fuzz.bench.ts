/**
 * Fuzz throughput: generated topologies per second through the differential
 * check (Z3 and the exhaustive simulator on every query, witnesses replayed),
 * as `npm run fuzz` runs it. Goal: at least 20 topologies per second.
 */
import fc from "fast-check";
import { afterAll, beforeAll, bench, describe } from "vitest";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { parseQuery } from "../../src/ir/query.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { caseArb, checkCase, type Tally } from "../properties/differential.js";

const BATCH = 50;
const cases = fc.sample(caseArb, { seed: 424242, numRuns: BATCH });
const tally: Tally = { topologies: 0, queries: 0, reachable: 0, unreachable: 0, simMs: 0, smtMs: 0, exploreMs: 0 };
let runs = 0;
let total = 0;

beforeAll(async () => {
  // Z3 initialised before measuring (as in a fuzz run, where it is paid once)
  const net = lower(loadTopologyText("warm.yaml", "machines: { a: {} }").topology);
  const q = parseQuery("a -> a:22/tcp");
  if (q.ok) await decide(net, q.query);
});

afterAll(async () => {
  if (runs) {
    const perSecond = (tally.topologies / total) * 1000;
    console.log(
      `\nfuzz throughput: ${perSecond.toFixed(1)} topologies/s (goal >= 20) over ${tally.topologies} topologies, ${tally.queries} queries; ` +
        `simulator ${(tally.simMs / tally.queries).toFixed(1)} ms/query, Z3 ${(tally.smtMs / tally.queries).toFixed(1)} ms/query`,
    );
  }
  await shutdown();
});

describe("fuzz throughput (npm run fuzz): Z3 against the exhaustive simulator", () => {
  bench(
    `${BATCH} generated topologies (seed 424242), every query decided by both engines`,
    async () => {
      const t0 = performance.now();
      for (const c of cases) await checkCase(c, tally);
      total += performance.now() - t0;
      runs++;
    },
    { iterations: 3, warmupIterations: 0, time: 0 },
  );
});
