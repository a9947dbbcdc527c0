/**
 * Whole-topology questions, decided by the chosen engine (Z3 by default);
 * exposure and matrix by classes, source by source (query/classes.ts), each
 * verdict equal to its single query's:
 *
 *   exposure  every service (machine, proto, port) a vantage machine can
 *             connect to, and what it dials to get there;
 *   matrix    every machine against every service: can it connect?
 *   diff      the flows whose answer changed between two versions of a
 *             topology, each with the witness and both explanations.
 *
 * A flow is "A -> B:PORT/PROTO" for a service B listens on (forwards count on
 * the machine they lead to, as in a query); NAT engines are not machines a
 * user names.
 */
import type { Network } from "../ir/types.js";
import { formatEndpoint } from "../net/addr.js";
import type { Answer } from "../query/dials.js";
import { answerQuery, dialWords, Disagreement, type EngineOptions, type EngineReport } from "../query/engine.js";
import { meetsQuery } from "../sim/connect.js";
import { attempt, machineIndex } from "../sim/connect.js";
import { decideDifference } from "../smt/decide.js";
import { parseQuery } from "../ir/query.js";
import { servicesOf } from "./verify.js";
import { explainCell, sourceAnswers } from "../query/classes.js";

export interface Service {
  readonly machine: string;
  readonly proto: "tcp" | "udp";
  readonly port: number;
}

export interface FlowAnswer {
  readonly from: string;
  readonly service: Service;
  readonly query: string;
  readonly answer: Answer;
  readonly report: EngineReport;
}

/** The machines a user names (not the NAT engines the lowering adds). */
export const userMachines = (net: Network): string[] => net.machines.filter((m) => m.kind !== "nat-engine").map((m) => m.name);

export function servicesIn(net: Network): Service[] {
  return userMachines(net).flatMap((machine) => servicesOf(net, machine).map((s) => ({ machine, ...s })));
}

export const flowQuery = (from: string, s: Service): string => `${from} -> ${s.machine}:${s.port}/${s.proto}`;

async function answer(net: Network, from: string, s: Service, opts: EngineOptions): Promise<FlowAnswer> {
  const text = flowQuery(from, s);
  const q = parseQuery(text);
  if (!q.ok) throw new Error(`internal: flow query does not parse: ${text}`);
  const { answer: a, report } = await answerQuery(net, q.query, opts);
  return { from, service: s, query: text, answer: a, report };
}

/** What a dial looks like, for tables: "192.168.1.10:2222". */
export function dialOf(a: Answer): string {
  const p = a.attempt?.legs[0]?.packet;
  return a.verdict === "reachable" && p ? formatEndpoint(p.dst, p.dport) : "";
}

/**
 * Every service of every other machine that `from` can connect to (and the undecided ones): the
 * verdicts of all of them by classes (query/classes.ts: one exploration, each verdict equal to
 * the flow's own), then the shown ones explained.
 */
export async function exposure(
  net: Network,
  from: string,
  opts: EngineOptions,
  progress?: (done: number, total: number) => void,
  select?: (service: Service, index: number) => boolean,
): Promise<FlowAnswer[]> {
  const services = exposureServices(net, from).filter((s, i) => !select || select(s, i));
  let done = 0;
  const cells = await sourceAnswers(net, from, services, opts, () => progress?.(++done, services.length));
  const out: FlowAnswer[] = [];
  for (const c of cells) {
    if (c.answer.verdict === "unreachable") continue;
    const { answer: a, report } = await explainCell(net, from, c, opts);
    if (a.verdict !== "unreachable") out.push({ from, service: c.service, query: flowQuery(from, c.service), answer: a, report });
  }
  return out;
}

/** The services exposure asks about, in its order: every service of another machine. */
export const exposureServices = (net: Network, from: string): Service[] => servicesIn(net).filter((s) => s.machine !== from);

/** One question of the matrix: which source, which service. */
export interface Cell {
  readonly from: string;
  readonly service: Service;
}

export function matrixCells(net: Network): Cell[] {
  const services = servicesIn(net);
  return userMachines(net).flatMap((from) => services.filter((s) => s.machine !== from).map((service) => ({ from, service })));
}

/**
 * The verdicts of `cells` (verdict-only answers: reachable with a replayed witness), decided by
 * classes source by source (query/classes.ts), in the cells' order.
 */
export async function answerCells(
  net: Network,
  cells: readonly Cell[],
  opts: EngineOptions,
  progress?: (done: number) => void,
): Promise<FlowAnswer[]> {
  const bySource = new Map<string, number[]>();
  cells.forEach((c, i) => {
    let list = bySource.get(c.from);
    if (!list) bySource.set(c.from, (list = []));
    list.push(i);
  });
  const out: FlowAnswer[] = new Array(cells.length);
  let done = 0;
  for (const [from, indices] of bySource) {
    const answers = await sourceAnswers(
      net,
      from,
      indices.map((i) => cells[i]!.service),
      opts,
    );
    answers.forEach((c, k) => {
      const cell = cells[indices[k]!]!;
      out[indices[k]!] = { from, service: cell.service, query: flowQuery(from, cell.service), answer: c.answer, report: c.report };
      progress?.(++done);
    });
  }
  return out;
}

/** The verdicts of `cells` flow by flow (the decision the classes must equal; for tests and benchmarks). */
export async function answerCellsPerFlow(net: Network, cells: readonly Cell[], opts: EngineOptions): Promise<FlowAnswer[]> {
  const out: FlowAnswer[] = [];
  for (const c of cells) out.push(await answer(net, c.from, c.service, opts));
  return out;
}

export interface Change {
  readonly query: string;
  readonly before: FlowAnswer | undefined;
  readonly after: FlowAnswer | undefined;
  /** e.g. "now reachable", "no longer reachable", "reachable by other packets" */
  readonly what: string;
  /** for "reachable by other packets": the dials that stopped or started working */
  readonly detail?: string;
}

/**
 * The flows whose answer differs between two versions. Flows are matched by
 * their query text, so a service that appears or disappears is a change too
 * (reachable in one, absent in the other).
 */
/** A dial that works in one version only, both ways round, confirmed in the simulator; undefined when none exists. */
async function packetsMoved(
  before: Network,
  after: Network,
  flow: FlowAnswer,
  opts: EngineOptions,
): Promise<{ what: string; detail: string } | undefined> {
  const q = parseQuery(flow.query);
  if (!q.ok) throw new Error(`internal: flow query does not parse: ${flow.query}`);
  const parts: string[] = [];
  for (const [from, to, word] of [
    [before, after, "no longer works"],
    [after, before, "works now"],
  ] as const) {
    const d = await decideDifference(from, to, q.query, { timeoutMs: opts.timeoutMs });
    if (d.verdict === "unknown") return { what: "undecided", detail: `whether the same packets get through: ${d.reason}` };
    if (d.verdict !== "differs" || !d.dial) continue;
    const works = (net: Network) => meetsQuery(q.query, attempt(net, machineIndex(net), d.dial!));
    if (!works(from) || works(to))
      throw new Disagreement(q.query, [
        { engine: "Z3", verdict: "differs", detail: dialWords(d.dial) },
        { engine: "simulator (replay in both versions)", verdict: "same", detail: "" },
      ]);
    parts.push(`${dialWords(d.dial)} ${word}`);
  }
  return parts.length ? { what: "reachable by other packets", detail: parts.join("; ") } : undefined;
}

export async function diffFlows(before: Network, after: Network, opts: EngineOptions): Promise<Change[]> {
  const cellsOf = (net: Network) => new Map(matrixCells(net).map((c) => [flowQuery(c.from, c.service), c] as const));
  const a = cellsOf(before);
  const b = cellsOf(after);
  const names = new Set([...a.keys(), ...b.keys()]);
  const changes: Change[] = [];
  for (const text of names) {
    const ca = a.get(text);
    const cb = b.get(text);
    // a flow can only be asked where both its machines exist
    const askIn = async (net: Network, c: Cell | undefined, other: Cell | undefined) => {
      const cell = c ?? other!;
      if (!net.machines.some((m) => m.name === cell.from) || !net.machines.some((m) => m.name === cell.service.machine)) return undefined;
      return answer(net, cell.from, cell.service, opts);
    };
    const fa = await askIn(before, ca, cb);
    const fb = await askIn(after, cb, ca);
    const va = fa?.answer.verdict ?? "absent";
    const vb = fb?.answer.verdict ?? "absent";
    const reachableA = va === "reachable";
    const reachableB = vb === "reachable";
    if (reachableA && reachableB && fa && fb && opts.engine !== "sim") {
      // reachable in both, but maybe not by the same packets: ask Z3 for one that works in only one version
      const moved = await packetsMoved(before, after, fa, opts);
      if (moved) changes.push({ query: text, before: fa, after: fb, ...moved });
      continue;
    }
    if (reachableA === reachableB && va !== "unknown" && vb !== "unknown") continue;
    const what =
      va === "unknown" || vb === "unknown"
        ? `undecided`
        : reachableB
          ? va === "absent"
            ? "new, reachable"
            : "now reachable"
          : vb === "absent"
            ? "gone (was reachable)"
            : "no longer reachable";
    changes.push({ query: text, before: fa, after: fb, what });
  }
  return changes.sort((x, y) => x.query.localeCompare(y.query));
}
