/**
 * The kernel against generated topologies: the property tests' arbitraries
 * (test/properties/arbitraries.ts), those the emulator can build (refusals are
 * counted; test/kernel/emulable.test.ts measures the share), are built in network
 * namespaces and their queries probed. Z3, the exhaustive simulator and the
 * kernel must agree on every verdict and the simulator and the kernel on every
 * dial. On a failure the seed and the shrunk topology (as YAML, with its
 * queries) are printed and written to a file.
 *
 * KERNEL_RUNS (default 200) topologies per run, from KERNEL_SEED (default
 * 20261123): `KERNEL_RUNS=500 KERNEL_SEED=7 npm run test:kernel`. Most of a
 * probe's time is waiting (a dropped packet costs the whole timeout), so
 * KERNEL_CHAINS (default 4) properties run side by side, chain i from seed
 * KERNEL_SEED + i, each with its share of the runs.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emulate } from "../../src/emulate/emulate.js";
import { dialProbeText } from "../../src/emulate/probe.js";
import { unsupported } from "../../src/emulate/plan.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { scenarioArb, type Scenario } from "../properties/arbitraries.js";
import { disagreementText, kernelSkip } from "./support.js";
import { q } from "../regressions/support.js";

const RUNS = Number(process.env.KERNEL_RUNS ?? 200);
const SEED = Number(process.env.KERNEL_SEED ?? 20261123);
const CHAINS = Math.max(1, Number(process.env.KERNEL_CHAINS ?? 4));
/**
 * Each shrinking step builds a network (about a second): fast-check stops after this long, reporting the smallest
 * failure so far. The bound holds for the whole check, not only its shrinking: a by-hand run goes in chunks that
 * end within it (on a loaded 2 vCPU machine about 50 topologies per chain), or it stops short and says so below.
 */
const SHRINK_LIMIT_MS = 20 * 60_000;

const tally = {
  topologies: 0,
  queries: 0,
  dials: 0,
  reachable: 0,
  notEmulated: 0,
  skippedTopologies: 0,
  buildMs: 0,
  probeMs: 0,
  symptoms: 0,
};
/** Failed dials whose client saw another class than the symptom reach states (the first few of each kind, for the log). */
const symptomsDiffer: string[] = [];
/** How often reach's symptom met each other class in the kernel ("refused -> timeout": 12). */
const symptomPairs = new Map<string, number>();

async function check(s: Scenario): Promise<void> {
  const net = lower(loadTopologyText("generated.yaml", s.topology.yaml).topology);
  if (unsupported(net).length) {
    tally.skippedTopologies++;
    fc.pre(false);
  }
  const queries = s.queries.map(q);
  const r = await emulate(net, queries);
  tally.topologies++;
  tally.buildMs += r.buildMs;
  tally.probeMs += r.probeMs;
  for (const p of r.probes) {
    tally.queries++;
    tally.dials += p.dials.length;
    if (p.kernel === "reachable") tally.reachable++;
    if (p.kernel === "not emulated") tally.notEmulated++;
    for (const d of p.dials) {
      if (!d.symptom) continue;
      tally.symptoms++;
      if (d.symptom.agree) continue;
      const pair = `${d.symptom.reach} -> ${d.symptom.kernel}`;
      const n = (symptomPairs.get(pair) ?? 0) + 1;
      symptomPairs.set(pair, n);
      // a few of each kind for the log
      if (n <= 3) symptomsDiffer.push(`${p.query.text}: ${dialProbeText(d)}`);
    }
  }
  if (r.leftBehind.length) throw new Error(`left behind: ${r.leftBehind.join(" ")}`);
  const wrong = r.probes.filter((p) => !p.agree && p.kernel !== "not emulated");
  if (wrong.length) throw new Error(wrong.map(disagreementText).join("\n"));
}

describe.skipIf(kernelSkip)("generated topologies: Z3, the simulator and the kernel agree", () => {
  it(`${RUNS} topologies from seeds ${SEED}..${SEED + CHAINS - 1}`, async () => {
    const share = (i: number) => Math.floor(RUNS / CHAINS) + (i < RUNS % CHAINS ? 1 : 0);
    const chains = await Promise.all(
      Array.from({ length: CHAINS }, (_, i) =>
        fc.check(fc.asyncProperty(scenarioArb(["machine", "icmp", "localhost", "entry", "up"], 3), check), {
          seed: SEED + i,
          numRuns: share(i),
          maxSkipsPerRun: 100,
          endOnFailure: process.env.KERNEL_SHRINK === "0",
          interruptAfterTimeLimit: SHRINK_LIMIT_MS,
        }),
      ),
    );
    console.log(
      `kernel, seeds ${SEED}..${SEED + CHAINS - 1}: ${tally.topologies} topologies built (${tally.skippedTopologies} generated ones not emulable), ${tally.queries} queries (${tally.reachable} reachable, ${tally.notEmulated} not emulated), ${tally.dials} dials; ` +
        `build ${Math.round(tally.buildMs / Math.max(1, tally.topologies))} ms and probing ${Math.round(tally.probeMs / Math.max(1, tally.topologies))} ms per topology; ` +
        `${tally.symptoms} failed dials' symptoms compared, ${[...symptomPairs.values()].reduce((a, b) => a + b, 0)} differ (reach -> kernel: ${[...symptomPairs].map(([k, n]) => `${k} ${n}`).join(", ") || "none"})${symptomsDiffer.length ? `; for example:\n  ${symptomsDiffer.join("\n  ")}` : ""}`,
    );
    const failed = chains.map((details, i) => ({ details, seed: SEED + i })).filter((c) => c.details.failed);
    for (const { details, seed } of failed) {
      const ce = details.counterexample?.[0] as Scenario | undefined;
      const yaml = ce
        ? `${ce.topology.yaml}# queries (reach emulate FILE --probe "QUERY"):\n${ce.queries.map((q) => `#   ${q}`).join("\n")}\n`
        : "(none)";
      const out = join(tmpdir(), `reach-kernel-counterexample-${seed}.yaml`);
      writeFileSync(out, yaml);
      throw new Error(
        [
          `the kernel disagrees (seed ${seed}, fast-check path ${details.counterexamplePath ?? "?"}; replay with KERNEL_SEED=${seed} KERNEL_CHAINS=1 KERNEL_RUNS=${share(seed - SEED)})`,
          `failure: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
          `shrunk topology written to ${out}:`,
          yaml,
        ].join("\n"),
      );
    }
    expect(
      tally.topologies,
      `stopped short at the time limit (${SHRINK_LIMIT_MS / 60_000} min): run fewer per chunk`,
    ).toBeGreaterThanOrEqual(RUNS);
  }, 1_800_000);
});
