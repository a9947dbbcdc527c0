/**
 * All pairs by classes (issue 19 item 3): the verdicts of every service from one source machine
 * in one exploration per protocol, each equal to the per-flow decision of "A -> B:P/proto",
 * then explanations only for the cells that are shown.
 *
 *   smt   smt/classes.ts: one symbolic exploration with every asked service wanted; each
 *         service's paths decided over the classes of their conditions (Z3 where the classes are
 *         too many). A service whose per-flow exploration might be over the per-flow budget, and
 *         every service of an exploration that ran over its cap or out of time, is decided flow by
 *         flow (answerQuery): "unknown" exactly where the per-flow engine says it.
 *   sim   sim/classes.ts: one enumeration of the packet classes, every exchange's end recorded.
 *   both  both, and they must agree (Disagreement, exit 4) as per flow.
 *
 * Every reachable verdict comes with a dial that is replayed in the simulator and must do what
 * the query asks (a Disagreement otherwise), as Z3's witnesses are per flow.
 *
 * Explaining a shown cell (explainCell): a reachable one by the dials a person would make
 * (ask(), the same dial answerQuery prefers as Z3's witness), or per flow when none of them
 * works; an unknown one per flow (its simulator may still find a dial that is proof).
 */
import type { Network } from "../ir/types.js";
import type { Query } from "../ir/query.js";
import { attempt, machineIndex, meetsQuery } from "../sim/connect.js";
import { packetClasses, type PacketClasses } from "../sim/exhaustive.js";
import { reachedServices, type ServicesReached, type Witness } from "../sim/classes.js";
import {
  decideService,
  exploreServices,
  FLOW_BUDGET,
  satisfiedBy,
  serviceKey,
  type ServiceDecision,
  type ServicesExplored,
} from "../smt/classes.js";
import type { Found } from "../smt/decide.js";
import { ask, reachedReason, type Answer } from "./dials.js";
import { answerQuery, dialWords, Disagreement, type EngineOptions, type EngineReport } from "./engine.js";
import { failureReason } from "./explain.js";

/** A service of a machine, as a flow's target. */
export interface ServiceRef {
  readonly machine: string;
  readonly proto: "tcp" | "udp";
  readonly port: number;
}

/** One cell's verdict: the answer a verdict-only per-flow decision gives (reachable: the witness replayed), and how it was reached. */
export interface CellAnswer {
  readonly service: ServiceRef;
  readonly answer: Answer;
  readonly report: EngineReport;
  /** Z3's candidate paths, when decided by classes (to certify an explanation's dial) */
  readonly found?: readonly Found[];
}

/** The all-services exploration's cap: this many per-flow budgets (it is one exploration for all of a source's services). */
const CAP_FLOWS = 20;

const queryOf = (from: string, s: ServiceRef): Query => ({
  text: `${from} -> ${s.machine}:${s.port}/${s.proto}`,
  from,
  target: { kind: "machine", machine: s.machine },
  proto: s.proto,
  port: s.port,
});

const indexCache = new WeakMap<Network, ReturnType<typeof machineIndex>>();
const indexOf = (net: Network): ReturnType<typeof machineIndex> => {
  let c = indexCache.get(net);
  if (!c) indexCache.set(net, (c = machineIndex(net)));
  return c;
};

const classCache = new WeakMap<Network, PacketClasses>();
const classesOf = (net: Network): PacketClasses => {
  let c = classCache.get(net);
  if (!c) classCache.set(net, (c = packetClasses(net)));
  return c;
};

/** The verdicts of `services` from `from`, in their order; `progress` after each. */
export async function sourceAnswers(
  net: Network,
  from: string,
  services: readonly ServiceRef[],
  opts: EngineOptions,
  progress?: () => void,
): Promise<CellAnswer[]> {
  await turn();
  const out: CellAnswer[] = [];
  const byProto = new Map<"tcp" | "udp", { smt?: ServicesExplored; sim?: ServicesReached }>();
  const machines = new Set(services.map((s) => s.machine));
  for (const s of services) {
    let e = byProto.get(s.proto);
    if (!e) byProto.set(s.proto, (e = explore(net, from, s.proto, machines, opts)));
    out.push(await cellAnswer(net, from, s, e, opts));
    progress?.();
  }
  return out;
}

let lastTurn = performance.now();
/** Lets the event loop turn now and then (a progress bar, timers): deciding by classes rarely waits for anything. */
async function turn(): Promise<void> {
  if (performance.now() - lastTurn < 50) return;
  await new Promise((r) => setImmediate(r));
  lastTurn = performance.now();
}

function explore(
  net: Network,
  from: string,
  proto: "tcp" | "udp",
  machines: ReadonlySet<string>,
  opts: EngineOptions,
): { smt?: ServicesExplored; sim?: ServicesReached } {
  const cap = FLOW_BUDGET * CAP_FLOWS;
  const smt = opts.engine !== "sim" ? exploreServices(net, from, proto, machines, cap, Date.now() + opts.timeoutMs) : undefined;
  const sim = opts.engine !== "smt" ? reachedServices(net, from, proto, classesOf(net)) : undefined;
  return { ...(smt ? { smt } : {}), ...(sim ? { sim } : {}) };
}

async function cellAnswer(
  net: Network,
  from: string,
  s: ServiceRef,
  e: { smt?: ServicesExplored; sim?: ServicesReached },
  opts: EngineOptions,
): Promise<CellAnswer> {
  const q = queryOf(from, s);
  const key = serviceKey(s.machine, s.port);
  const smt = e.smt ? await decideService(e.smt, key, s.port, { timeoutMs: opts.timeoutMs }) : undefined;
  if (e.smt && !smt) {
    // the exploration ran over its cap or out of time, or this flow's own might be over its bound: per flow
    const d = await answerQuery(net, q, { engine: opts.engine, timeoutMs: opts.timeoutMs, explain: false });
    return { service: s, answer: d.answer, report: d.report };
  }
  const sim = e.sim ? simCell(e.sim, key) : undefined;
  const report: EngineReport = {
    engine: opts.engine,
    ...(smt ? { paths: smt.paths, smt: smt.verdict } : {}),
    ...(sim ? { exchanges: sim.tried } : {}),
  };
  if (smt && sim) agree(q, smt, sim);
  const index = indexOf(net);
  const dial = smt?.verdict === "reachable" ? smt.dial! : sim?.reached?.dial;
  if (dial) {
    const replay = sim?.reached && !smt?.dial ? sim.reached.attempt : attempt(net, index, dial);
    if (!meetsQuery(q, replay)) {
      throw new Disagreement(q, [
        { engine: smt?.dial ? "Z3 (by packet classes)" : "simulator (by packet classes)", verdict: "reachable", detail: dialWords(dial) },
        { engine: "simulator (replay of the witness)", verdict: "unreachable", detail: failureReason(replay) },
      ]);
    }
    const answer: Answer = {
      query: q,
      verdict: "reachable",
      dial,
      attempt: replay,
      closest: [],
      reason: reachedReason(replay, index),
      tried: 0,
    };
    return { service: s, answer, report, ...(e.smt ? { found: e.smt.paths.get(key) ?? [] } : {}) };
  }
  const unknown = smt?.verdict === "unknown";
  const reason = unknown
    ? smt!.reason!
    : smt
      ? "no packet of this query gets there (Z3's paths, by packet classes)"
      : "no packet class gets there";
  return { service: s, answer: { query: q, verdict: unknown ? "unknown" : "unreachable", closest: [], reason, tried: 0 }, report };
}

/** The simulator's word on one service: its first witness, and the exchanges the per-flow enumeration would have made. */
function simCell(r: ServicesReached, key: string): { readonly reached?: Witness; readonly tried: number } {
  const reached = r.reached.get(key);
  return reached ? { reached, tried: r.triedAt.get(key)! } : { tried: r.tried };
}

/** Both engines asked: a definite Z3 verdict the simulator contradicts is a bug, as per flow. */
function agree(q: Query, smt: ServiceDecision, sim: ReturnType<typeof simCell>): void {
  const simVerdict = sim.reached ? "reachable" : "unreachable";
  if (smt.verdict === "unknown" || smt.verdict === simVerdict) return;
  throw new Disagreement(q, [
    { engine: "Z3 (by packet classes)", verdict: smt.verdict, detail: smt.dial ? dialWords(smt.dial) : `${smt.paths} candidate paths` },
    { engine: "simulator (exhaustive, by packet classes)", verdict: simVerdict, detail: sim.reached ? dialWords(sim.reached.dial) : "" },
  ]);
}

/**
 * A shown cell explained as answerQuery would: reachable by the usual dials when one works (the
 * dial Z3 is asked to prefer per flow), otherwise (and for unknown) per flow; unreachable as is.
 */
export async function explainCell(net: Network, from: string, cell: CellAnswer, opts: EngineOptions): Promise<CellAnswer> {
  if (cell.answer.verdict === "unreachable") return cell;
  if (cell.answer.verdict === "reachable") {
    const usual = ask(net, cell.answer.query);
    // Z3's witness per flow is the usual dial when it satisfies a path (decided without a solver call: certified)
    if (usual.verdict === "reachable" && !cell.found) return { ...cell, answer: usual };
    if (usual.verdict === "reachable" && satisfiedBy(cell.found!, usual.dial!))
      return { ...cell, answer: usual, report: { ...cell.report, certified: true } };
  }
  const d = await answerQuery(net, queryOf(from, cell.service), opts);
  return { service: cell.service, answer: d.answer, report: d.report };
}

/**
 * The answer to a query whose verdict is already decided (an expectation `reach verify` found to
 * hold), explained as answerQuery explains it, without deciding it again: the usual dials when
 * they give that verdict (a reachable answer's dial is Z3's witness when it satisfies a path; an
 * unreachable answer's attempts and causes are theirs), otherwise per flow.
 */
export async function explainDecided(net: Network, q: Query, verdict: "reachable" | "unreachable", opts: EngineOptions): Promise<Answer> {
  const usual = ask(net, q);
  if (usual.verdict === verdict) return usual;
  return (await answerQuery(net, q, opts)).answer;
}
