/**
 * The kernel against generated asymmetric return paths (test/properties/asymmetric.ts): a client
 * on the WAN reaching a LAN through a forwarding host, servers answering through home routers,
 * plain routers, masquerade and SNAT rules and FORWARD rules on conntrack state that never saw
 * the request. Z3, the simulator and the kernel must agree on every verdict, and the simulator and
 * the kernel on every dial: this is where the server's data is picked up as a new connection
 * (docs/semantics.md 4). Failed dials whose client saw another class than reach states are counted
 * and logged (an ICMP error that a router drops as invalid on its way back is a known gap:
 * semantics.md 10), not failed.
 *
 * KERNEL_ASYM_RUNS (default 24) topologies from KERNEL_ASYM_SEED (default 20261206).
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emulate } from "../../src/emulate/emulate.js";
import { dialProbeText } from "../../src/emulate/probe.js";
import { lower } from "../../src/lower/lower.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyText } from "../../src/topology/load.js";
import type { Scenario } from "../properties/arbitraries.js";
import { asymmetricScenarioArb } from "../properties/asymmetric.js";
import { disagreementText, kernelSkip } from "./support.js";
import { q } from "../regressions/support.js";

const RUNS = Number(process.env.KERNEL_ASYM_RUNS ?? 24);
const SEED = Number(process.env.KERNEL_ASYM_SEED ?? 20261206);

const tally = { topologies: 0, queries: 0, dials: 0, reachable: 0, dataDials: 0, symptoms: 0, symptomsDiffer: [] as string[] };

async function check(s: Scenario): Promise<void> {
  const net = lower(loadTopologyText("asymmetric.yaml", s.topology.yaml).topology);
  const queries = s.queries.map(q);
  const r = await emulate(net, queries);
  tally.topologies++;
  for (const p of r.probes) {
    tally.queries++;
    tally.dials += p.dials.length;
    if (p.kernel === "reachable") tally.reachable++;
    for (const d of p.dials) {
      if (d.sim.legs.some((l) => l.data)) tally.dataDials++;
      if (!d.symptom) continue;
      tally.symptoms++;
      if (!d.symptom.agree) tally.symptomsDiffer.push(`${p.query.text}: ${dialProbeText(d)}`);
    }
  }
  if (r.leftBehind.length) throw new Error(`left behind: ${r.leftBehind.join(" ")}`);
  const wrong = r.probes.filter((p) => !p.agree);
  if (wrong.length) throw new Error(wrong.map(disagreementText).join("\n"));
}

describe.skipIf(kernelSkip)("generated asymmetric return paths: Z3, the simulator and the kernel agree", () => {
  it(`${RUNS} topologies from seed ${SEED}`, async () => {
    try {
      const details = await fc.check(fc.asyncProperty(asymmetricScenarioArb, check), { seed: SEED, numRuns: RUNS, endOnFailure: true });
      console.log(
        `kernel, asymmetric return paths, seed ${SEED}: ${tally.topologies} topologies, ${tally.queries} queries (${tally.reachable} reachable), ${tally.dials} dials (${tally.dataDials} walked the server's data); ` +
          `${tally.symptoms} failed dials' symptoms compared, ${tally.symptomsDiffer.length} differ${tally.symptomsDiffer.length ? `:\n  ${tally.symptomsDiffer.slice(0, 5).join("\n  ")}` : ""}`,
      );
      if (details.failed) {
        const ce = details.counterexample?.[0];
        const yaml = ce
          ? `${ce.topology.yaml}# queries (reach emulate FILE --probe "QUERY"):\n${ce.queries.map((q) => `#   ${q}`).join("\n")}\n`
          : "(none)";
        const out = join(tmpdir(), `reach-kernel-asymmetric-counterexample-${SEED}.yaml`);
        writeFileSync(out, yaml);
        throw new Error(
          `the kernel disagrees (seed ${SEED}, replay with KERNEL_ASYM_SEED=${SEED} KERNEL_ASYM_RUNS=${RUNS})\nfailure: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}\ntopology written to ${out}:\n${yaml}`,
        );
      }
      expect(tally.topologies).toBe(RUNS);
      // the family is there to exercise the server's data: some dials must walk it
      expect(tally.dataDials).toBeGreaterThan(0);
    } finally {
      shutdown();
    }
  }, 1_200_000);
});
