/**
 * Differential property: on random valid topologies (arbitraries.ts: every VM
 * mode, forwards, binds, firewalls with every match kind, routes, IPv4 and IPv6,
 * home routers) and queries over them (machine, address, localhost, ping), Z3's
 * verdict equals the simulator's exact verdict, which is exhaustive over the
 * packet equivalence classes of the topology (sim/exhaustive.ts); and every Z3
 * witness, replayed in the simulator, does what the query asked.
 *
 * Seed: FC_SEED (default 20261123); runs: DIFF_RUNS (default 1000 topologies).
 * `npm run fuzz -- --count N --seed S` runs more. A failure prints the seed,
 * fast-check's shrunk counterexample, and writes the shrunk topology (with its
 * queries as comments) to a YAML file that `reach ask` loads.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import { formatIP, type IP } from "../../src/net/addr.js";
import { meetsQuery } from "../../src/query/ask.js";
import { failureReason } from "../../src/query/explain.js";
import { parseQuery, type Query } from "../../src/query/parse.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { scenarioArb, type Scenario } from "./arbitraries.js";

const SEED = Number(process.env.FC_SEED ?? 20261123);
const RUNS = Number(process.env.DIFF_RUNS ?? 1000);
const FILE = "generated.yaml";

/** A scenario plus address queries: an address picked from the network, dialed on a port in play. */
interface DiffCase {
  readonly scenario: Scenario;
  readonly addressPicks: readonly { readonly from: number; readonly addr: number; readonly port: number; readonly proto: "tcp" | "udp" | "icmp" }[];
}

const caseArb: fc.Arbitrary<DiffCase> = fc.record({
  scenario: scenarioArb(["machine", "icmp", "localhost", "entry", "up"], 3),
  addressPicks: fc.array(fc.record({ from: fc.nat({ max: 31 }), addr: fc.nat({ max: 63 }), port: fc.nat({ max: 31 }), proto: fc.constantFrom<"tcp" | "udp" | "icmp">("tcp", "udp", "icmp") }), { maxLength: 2 }),
});

const host = (ip: IP) => (ip.v === 6 ? `[${formatIP(ip)}]` : formatIP(ip));

function addressQueries(net: Network, c: DiffCase): string[] {
  const names = net.machines.filter((m) => m.kind !== "nat-engine").map((m) => m.name);
  const addrs: IP[] = [{ v: 4, n: 0x7f000001n }, { v: 6, n: 1n }];
  for (const m of net.machines) for (const i of m.interfaces) for (const a of i.addrs) if (i.name !== "lo") addrs.push(a.ip);
  const ports = [...new Set(net.machines.flatMap((m) => m.sockets.map((s) => s.port)))];
  return c.addressPicks.map((p) => {
    const from = names[p.from % names.length]!;
    const ip = addrs[p.addr % addrs.length]!;
    if (p.proto === "icmp") return `${from} -> ${formatIP(ip)}/icmp`;
    return `${from} -> ${host(ip)}:${ports.length ? ports[p.port % ports.length] : 80}/${p.proto}`;
  });
}

function parse(text: string): Query {
  const p = parseQuery(text);
  if (!p.ok) throw new Error(`generated query does not parse: ${text}: ${p.message}`);
  return p.query;
}

export interface Tally {
  topologies: number;
  queries: number;
  reachable: number;
  unreachable: number;
  simMs: number;
  smtMs: number;
  exploreMs: number;
}

/** Checks one case; throws with both engines' views on a disagreement. */
export async function checkCase(c: DiffCase, tally?: Tally): Promise<void> {
  const net = lower(loadTopologyText(FILE, c.scenario.topology.yaml).topology);
  const index = machineIndex(net);
  if (tally) tally.topologies++;
  for (const text of [...c.scenario.queries, ...addressQueries(net, c)]) {
    const q = parse(text);
    const t0 = performance.now();
    const sim = exhaustive(net, q);
    const t1 = performance.now();
    const smt = await decide(net, q, { timeoutMs: 60_000, witness: "any" });
    const t2 = performance.now();
    if (tally) {
      tally.simMs += t1 - t0;
      tally.smtMs += t2 - t1;
      tally.exploreMs += smt.stats.exploreMs;
    }
    if (tally) {
      tally.queries++;
      if (sim.verdict === "reachable") tally.reachable++;
      else tally.unreachable++;
    }
    const simView = sim.verdict === "reachable" && sim.dial ? `reachable by dialing ${host(sim.dial.dst)}:${sim.dial.dport} from port ${sim.dial.sport}` : `unreachable after ${sim.tried} exchanges`;
    if (smt.verdict !== sim.verdict) {
      throw new Error(`${text}: Z3 says ${smt.verdict}${smt.dial ? ` (witness ${host(smt.dial.dst)}:${smt.dial.dport} from port ${smt.dial.sport})` : ""}${smt.reason ? ` (${smt.reason})` : ""}; the exhaustive simulator says ${simView}`);
    }
    if (smt.dial) {
      const replay = attempt(net, index, smt.dial);
      if (!meetsQuery(q, replay)) throw new Error(`${text}: Z3's witness ${host(smt.dial.dst)}:${smt.dial.dport} from port ${smt.dial.sport} fails in the simulator: ${failureReason(replay)}`);
    }
  }
}

export const caseYaml = (c: DiffCase): string => {
  let net: Network | undefined;
  try {
    net = lower(loadTopologyText(FILE, c.scenario.topology.yaml).topology);
  } catch {
    net = undefined;
  }
  const qs = [...c.scenario.queries, ...(net ? addressQueries(net, c) : [])];
  return `${c.scenario.topology.yaml}# queries (reach ask FILE "QUERY" --engine both):\n${qs.map((q) => `#   ${q}`).join("\n")}\n`;
};

/** Runs the property; on failure writes the shrunk topology to a file and throws a report with the seed. */
export async function runDifferential(seed: number, runs: number, tally: Tally): Promise<void> {
  const details = await fc.check(
    fc.asyncProperty(caseArb, (c) => checkCase(c, tally)),
    { seed, numRuns: runs },
  );
  if (!details.failed) return;
  const ce = details.counterexample?.[0];
  const yaml = ce ? caseYaml(ce) : "(none)";
  const out = join(tmpdir(), `reach-counterexample-${seed}.yaml`);
  if (ce) writeFileSync(out, yaml);
  throw new Error(
    [
      fc.defaultReportMessage(details) ?? "property failed",
      "",
      `failure: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
      "",
      `seed: ${seed} (replay with FC_SEED=${seed} DIFF_RUNS=${runs}; fast-check path ${details.counterexamplePath ?? "?"})`,
      `shrunk topology written to ${out}:`,
      yaml,
    ].join("\n"),
  );
}

afterAll(() => shutdown());

describe(`differential: Z3 against the exhaustive simulator (seed ${SEED}, ${RUNS} topologies)`, () => {
  it(
    "same verdict on every generated topology and query; every witness replays",
    async () => {
      const tally: Tally = { topologies: 0, queries: 0, reachable: 0, unreachable: 0, simMs: 0, smtMs: 0, exploreMs: 0 };
      const t0 = performance.now();
      await runDifferential(SEED, RUNS, tally);
      const s = (performance.now() - t0) / 1000;
      console.log(`differential: ${tally.topologies} topologies, ${tally.queries} queries (${tally.reachable} reachable, ${tally.unreachable} unreachable), 0 disagreements, ${s.toFixed(1)} s, ${(tally.topologies / s).toFixed(1)} topologies/s (simulator ${(tally.simMs / 1000).toFixed(1)} s, Z3 ${(tally.smtMs / 1000).toFixed(1)} s of which exploring ${(tally.exploreMs / 1000).toFixed(1)} s)`);
      expect(tally.topologies).toBeGreaterThanOrEqual(RUNS);
      // both verdicts must be well represented, or the property says little
      expect(tally.reachable).toBeGreaterThan(tally.queries / 10);
      expect(tally.unreachable).toBeGreaterThan(tally.queries / 10);
    },
    Math.max(120_000, RUNS * 1_000),
  );
});
