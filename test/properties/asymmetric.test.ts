/**
 * Differential property over generated asymmetric return paths (asymmetric.ts): Z3's verdict
 * equals the exhaustive simulator's and every Z3 witness replays (the differential check of
 * differential.ts), on topologies where the server's answers cross routers that never saw the
 * request, so that both engines' walk of the server's data (sim `attempt`, smt `tcpAfterS`) is
 * exercised. The test also counts the TCP exchanges that walked the server's data and those that
 * failed on it, and requires both to be common, or the property says little.
 *
 * Seed: ASYM_SEED (default 20261206); runs: ASYM_RUNS (default 150 topologies). A failure prints
 * the seed and fast-check's shrunk counterexample, and writes it as YAML that `reach ask` loads.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyText } from "../../src/topology/load.js";
import type { Scenario } from "./arbitraries.js";
import { asymmetricScenarioArb } from "./asymmetric.js";
import { caseYaml, checkCase, type Tally } from "./differential.js";

const SEED = Number(process.env.ASYM_SEED ?? 20261206);
const RUNS = Number(process.env.ASYM_RUNS ?? 150);

afterAll(() => shutdown());

/** Each TCP query's dial of its server's address: did it walk the server's data, did it fail there? */
function dataLegs(s: Scenario, seen: { tcp: number; data: number; failedOnData: number }): void {
  const net = lower(loadTopologyText("asymmetric.yaml", s.topology.yaml).topology);
  const index = machineIndex(net);
  for (const text of s.queries) {
    const p = parseQuery(text);
    if (!p.ok || p.query.proto !== "tcp" || p.query.target.kind !== "machine") continue;
    const server = index.get(p.query.target.machine)!;
    const dst = server.interfaces.find((i) => i.name === "eth0")!.addrs[0]!.ip;
    const a = attempt(net, index, { from: p.query.from, proto: "tcp", dst, dport: 5432, sport: 40000 });
    seen.tcp++;
    if (a.legs.some((l) => l.data)) seen.data++;
    if (a.outcome.kind === "failed" && a.outcome.direction === "data") seen.failedOnData++;
  }
}

describe(`asymmetric return paths: Z3 against the exhaustive simulator (seed ${SEED}, ${RUNS} topologies)`, () => {
  it(
    "same verdict on every generated topology and query; the server's data is walked, and fails, in many of them",
    async () => {
      const tally: Tally = { topologies: 0, queries: 0, reachable: 0, unreachable: 0, simMs: 0, smtMs: 0, exploreMs: 0 };
      const seen = { tcp: 0, data: 0, failedOnData: 0 };
      const details = await fc.check(
        fc.asyncProperty(asymmetricScenarioArb, async (scenario) => {
          await checkCase({ scenario, addressPicks: [] }, tally);
          dataLegs(scenario, seen);
        }),
        { seed: SEED, numRuns: RUNS },
      );
      if (details.failed) {
        const ce = details.counterexample?.[0];
        const yaml = ce ? caseYaml({ scenario: ce, addressPicks: [] }) : "(none)";
        const out = join(tmpdir(), `reach-asymmetric-counterexample-${SEED}.yaml`);
        if (ce) writeFileSync(out, yaml);
        throw new Error(
          `${fc.defaultReportMessage(details) ?? "property failed"}\n\nseed: ${SEED} (replay with ASYM_SEED=${SEED} ASYM_RUNS=${RUNS})\nshrunk topology written to ${out}:\n${yaml}`,
        );
      }
      console.log(
        `asymmetric: ${tally.topologies} topologies, ${tally.queries} queries (${tally.reachable} reachable, ${tally.unreachable} unreachable); of ${seen.tcp} TCP dials of a server's address, ${seen.data} walked the server's data and ${seen.failedOnData} failed on it; 0 disagreements`,
      );
      expect(tally.topologies).toBeGreaterThanOrEqual(RUNS);
      expect(tally.reachable).toBeGreaterThan(tally.queries / 10);
      expect(tally.unreachable).toBeGreaterThan(tally.queries / 10);
      expect(seen.data).toBeGreaterThan(seen.tcp / 8);
      expect(seen.failedOnData).toBeGreaterThan(seen.tcp / 20);
    },
    Math.max(120_000, RUNS * 2_000),
  );
});
