/**
 * Differential property: on random valid topologies (arbitraries.ts: every VM
 * mode, forwards, binds, firewalls with every match kind, routes, IPv4 and IPv6,
 * home routers) and queries over them (machine, address, localhost, ping), Z3's
 * verdict equals the simulator's exact verdict, which is exhaustive over the
 * packet equivalence classes of the topology (sim/exhaustive.ts); and every Z3
 * witness, replayed in the simulator, does what the query asked. Matrix cells
 * too (issue 19), in one case of eight: the row of the first query's source, decided by classes with
 * both engines, which must agree, and equal the per-flow verdicts of the queries.
 *
 * Seed: FC_SEED (default 20261123); runs: DIFF_RUNS (default 1000 topologies).
 * `npm run fuzz -- --count N --seed S` runs more. A failure prints the seed,
 * fast-check's shrunk counterexample, and writes the shrunk topology (with its
 * queries as comments) to a YAML file that `reach ask` loads.
 */
import { afterAll, describe, expect, it } from "vitest";
import { shutdown } from "../../src/smt/solver.js";
import { runDifferential, type Tally } from "./differential.js";

const SEED = Number(process.env.FC_SEED ?? 20261123);
const RUNS = Number(process.env.DIFF_RUNS ?? 1000);

afterAll(() => shutdown());

describe(`differential: Z3 against the exhaustive simulator (seed ${SEED}, ${RUNS} topologies)`, () => {
  it(
    "same verdict on every generated topology and query, and on the matrix cells by classes; every witness replays",
    async () => {
      const tally: Tally = { topologies: 0, queries: 0, reachable: 0, unreachable: 0, simMs: 0, smtMs: 0, exploreMs: 0 };
      const t0 = performance.now();
      await runDifferential(SEED, RUNS, tally);
      const s = (performance.now() - t0) / 1000;
      console.log(
        `differential: ${tally.topologies} topologies, ${tally.queries} queries (${tally.reachable} reachable, ${tally.unreachable} unreachable), ${tally.cells ?? 0} matrix cells by classes (${((tally.cellsMs ?? 0) / 1000).toFixed(1)} s), 0 disagreements, ${s.toFixed(1)} s, ${(tally.topologies / s).toFixed(1)} topologies/s (simulator ${(tally.simMs / 1000).toFixed(1)} s, Z3 ${(tally.smtMs / 1000).toFixed(1)} s of which exploring ${(tally.exploreMs / 1000).toFixed(1)} s)`,
      );
      expect(tally.topologies).toBeGreaterThanOrEqual(RUNS);
      // both verdicts must be well represented, or the property says little
      expect(tally.reachable).toBeGreaterThan(tally.queries / 10);
      expect(tally.unreachable).toBeGreaterThan(tally.queries / 10);
      expect(tally.cells).toBeGreaterThan(RUNS / 16);
    },
    Math.max(120_000, RUNS * 1_000),
  );
});
