/**
 * The differential check shared by the property test (differential.test.ts),
 * `npm run fuzz` and the fuzz-throughput benchmark: on a generated topology and
 * its queries, Z3's verdict must equal the exhaustive simulator's, and every Z3
 * witness must replay in the simulator. Matrix cells too (issue 19), in one
 * case of MATRIX_EVERY: from the source of the case's first query, every service of another machine decided
 * by classes with both engines (query/classes.ts: they must agree, and every
 * witness replays); a cell that is one of the case's queries has its verdict.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import { formatIP, type IP } from "../../src/net/addr.js";
import { meetsQuery } from "../../src/sim/connect.js";
import { failureReason } from "../../src/query/explain.js";
import { formatQuery, parseQuery, type Query } from "../../src/ir/query.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decide } from "../../src/smt/decide.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { sourceAnswers } from "../../src/query/classes.js";
import { servicesIn } from "../../src/verify/flows.js";
import { scenarioArb, type Scenario } from "./arbitraries.js";

const FILE = "generated.yaml";

/** A scenario plus address queries: an address picked from the network, dialed on a port in play. */
export interface DiffCase {
  readonly scenario: Scenario;
  readonly addressPicks: readonly {
    readonly from: number;
    readonly addr: number;
    readonly port: number;
    readonly proto: "tcp" | "udp" | "icmp";
  }[];
}

export const caseArb: fc.Arbitrary<DiffCase> = fc.record({
  scenario: scenarioArb(["machine", "icmp", "localhost", "entry", "up"], 3),
  addressPicks: fc.array(
    fc.record({
      from: fc.nat({ max: 31 }),
      addr: fc.nat({ max: 63 }),
      port: fc.nat({ max: 31 }),
      proto: fc.constantFrom<"tcp" | "udp" | "icmp">("tcp", "udp", "icmp"),
    }),
    { maxLength: 2 },
  ),
});

const host = (ip: IP) => (ip.v === 6 ? `[${formatIP(ip)}]` : formatIP(ip));

function addressQueries(net: Network, c: DiffCase): string[] {
  const names = net.machines.filter((m) => m.kind !== "nat-engine").map((m) => m.name);
  const addrs: IP[] = [
    { v: 4, n: 0x7f000001n },
    { v: 6, n: 1n },
  ];
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
  /** matrix cells decided by classes and compared */
  cells?: number;
  cellsMs?: number;
}

/** One case in MATRIX_EVERY has its matrix row checked, chosen by its topology's text (a case is always checked alike: a seed replays). */
const MATRIX_EVERY = 8;
function matrixRow(c: DiffCase): boolean {
  let h = 0;
  for (const ch of c.scenario.topology.yaml) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return (h >>> 0) % MATRIX_EVERY === 0;
}

/**
 * One matrix row: every service of another machine from the source of the case's first query,
 * decided by classes with both engines (they must agree, and every witness replays); each cell
 * that is also one of the case's queries must have the per-flow verdict found for it.
 */
async function checkCells(net: Network, from: string, perFlow: ReadonlyMap<string, string>, tally?: Tally): Promise<void> {
  const t0 = performance.now();
  const services = servicesIn(net).filter((s) => s.machine !== from);
  const cells = await sourceAnswers(net, from, services, { engine: "both", timeoutMs: 60_000, explain: false });
  for (const cell of cells) {
    const flow = perFlow.get(cell.answer.query.text);
    if (flow !== undefined && flow !== cell.answer.verdict)
      throw new Error(`matrix cell ${cell.answer.query.text}: by classes ${cell.answer.verdict}; per flow ${flow}`);
  }
  if (tally) {
    tally.cells = (tally.cells ?? 0) + cells.length;
    tally.cellsMs = (tally.cellsMs ?? 0) + performance.now() - t0;
  }
}

/** Checks one case; throws with both engines' views on a disagreement. */
export async function checkCase(c: DiffCase, tally?: Tally): Promise<void> {
  const net = lower(loadTopologyText(FILE, c.scenario.topology.yaml).topology);
  const index = machineIndex(net);
  if (tally) tally.topologies++;
  const perFlow = new Map<string, string>();
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
    const simView =
      sim.verdict === "reachable" && sim.dial
        ? `reachable by dialing ${host(sim.dial.dst)}:${sim.dial.dport} from port ${sim.dial.sport}`
        : `unreachable after ${sim.tried} exchanges`;
    perFlow.set(formatQuery(q), sim.verdict);
    if (smt.verdict !== sim.verdict) {
      throw new Error(
        `${text}: Z3 says ${smt.verdict}${smt.dial ? ` (witness ${host(smt.dial.dst)}:${smt.dial.dport} from port ${smt.dial.sport})` : ""}${smt.reason ? ` (${smt.reason})` : ""}; the exhaustive simulator says ${simView}`,
      );
    }
    if (smt.dial) {
      const replay = attempt(net, index, smt.dial);
      if (!meetsQuery(q, replay))
        throw new Error(
          `${text}: Z3's witness ${host(smt.dial.dst)}:${smt.dial.dport} from port ${smt.dial.sport} fails in the simulator: ${failureReason(replay)}`,
        );
    }
  }
  if (matrixRow(c)) await checkCells(net, parse(c.scenario.queries[0]!).from, perFlow, tally);
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
