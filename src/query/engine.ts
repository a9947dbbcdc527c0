/**
 * Which engine decides, and how the two check each other.
 *
 *   smt (default)  Z3 decides over every packet. A witness is replayed in the
 *                  simulator and its trace shown; a witness the simulator does
 *                  not confirm is a bug (Disagreement, exit 4). An unreachable
 *                  verdict is explained by the simulator's closest attempts, and
 *                  if one of those succeeds, that is a bug too.
 *   sim            the simulator, exhaustive over the packet equivalence classes
 *                  of the topology (sim/exhaustive.ts).
 *   both           both, and their verdicts must agree.
 *
 * A concrete dial that works is a proof: when Z3 runs out of time but the
 * simulator found a working dial, the answer is reachable, not unknown.
 */
import type { Network } from "../ir/types.js";
import { attempt, machineIndex, meetsQuery } from "../sim/connect.js";
import { exhaustive, type ExhaustiveResult } from "../sim/exhaustive.js";
import { decide, type SmtDecision } from "../smt/decide.js";
import { formatEndpoint, LOOPBACK4, LOOPBACK6 } from "../net/addr.js";
import type { Dial } from "../ir/dial.js";
import type { Attempt } from "../sim/types.js";
import { ask, dialTargets, localhostAnswer, reachedReason, type Answer } from "./dials.js";
import { failureReason } from "./explain.js";
import type { Query } from "../ir/query.js";
import { formatQuery } from "../ir/query.js";
import { decisionText } from "../ir/decision.js";

export type EngineName = "smt" | "sim" | "both";

export interface EngineOptions {
  readonly engine: EngineName;
  readonly timeoutMs: number;
  /** keep the SMT-LIB 2 text of each solver query */
  readonly smt2?: boolean;
  /**
   * false: verdicts only (matrix-sized runs). Z3 decides and its witness is still
   * replayed, but an unreachable answer is not explained by the simulator's dials.
   */
  readonly explain?: boolean;
}

/** How the verdict was reached, for the answer's last line and its JSON. */
export interface EngineReport {
  readonly engine: EngineName;
  /** Z3: candidate paths handed to the solver */
  readonly paths?: number;
  /** the simulator's dial satisfies one of the candidate paths: no solver call was needed */
  readonly certified?: boolean;
  /** what Z3 concluded (unknown: it did not decide) */
  readonly smt?: "reachable" | "unreachable" | "unknown";
  /** simulator: exchanges simulated */
  readonly exchanges?: number;
  readonly note?: string;
}

export interface Decided {
  readonly answer: Answer;
  readonly report: EngineReport;
  readonly smt2: readonly { readonly query: string; readonly text: string }[];
  readonly smt?: SmtDecision;
  readonly sim?: ExhaustiveResult;
}

/** The two engines (or an engine and its own replay) disagree: a bug in reach, never hidden. */
export class Disagreement extends Error {
  constructor(
    readonly query: Query,
    readonly views: readonly { readonly engine: string; readonly verdict: string; readonly detail: string }[],
  ) {
    super(`engines disagree on ${formatQuery(query)}: ${views.map((v) => `${v.engine} says ${v.verdict} (${v.detail})`).join("; ")}`);
  }
}

/** Test hook: REACH_FAULT=smt-verdict makes Z3's answer wrong on purpose, so that the disagreement path can be tested end to end. */
const fault = () => process.env.REACH_FAULT;

export async function answerQuery(net: Network, q: Query, opts: EngineOptions): Promise<Decided> {
  if (q.target.kind === "localhost") return answerLocalhost(net, q, opts);
  if (opts.explain === false && opts.engine === "smt") return verdictOnly(net, q, opts);
  const heuristic = ask(net, q);
  const sim = opts.engine !== "smt" ? exhaustive(net, q) : undefined;
  if (sim && sim.verdict === "unreachable" && heuristic.verdict === "reachable") {
    throw new Disagreement(q, [
      { engine: "simulator (exhaustive)", verdict: "unreachable", detail: `${sim.tried} exchanges` },
      { engine: "simulator (usual dials)", verdict: "reachable", detail: heuristic.dial ? dialWords(heuristic.dial) : "" },
    ]);
  }
  const smt = opts.engine !== "sim" ? await askZ3(net, q, opts, heuristic) : undefined;
  const smt2 = smt?.smt2 !== undefined ? [{ query: formatQuery(q), text: smt.smt2 }] : [];
  const index = machineIndex(net);
  const decided = (answer: Answer, extra: Partial<EngineReport> = {}): Decided => ({
    answer,
    report: { ...report(opts, smt, sim), ...extra },
    smt2,
    ...(smt ? { smt } : {}),
    ...(sim ? { sim } : {}),
  });
  if (smt && smt.verdict === "reachable") return decided(z3Reachable(net, q, smt, sim, heuristic));
  if (smt && smt.verdict === "unreachable") return decided(z3Unreachable(q, smt, sim, heuristic));
  // Z3 unknown (or not asked): the simulator's word, where a concrete dial is proof.
  if (sim?.verdict === "reachable" || (smt && heuristic.verdict === "reachable")) {
    const answer = heuristic.verdict === "reachable" ? heuristic : simAnswer(q, sim!, index);
    return decided(answer, smt ? { note: `Z3: ${smt.reason}; the simulator's dial is proof` } : {});
  }
  if (smt) {
    // undecided: no causes (they explain an unreachable answer, which this is not)
    const { causes: _c, intended: _i, ...rest } = heuristic;
    return decided({ ...rest, verdict: "unknown", reason: `${smt.reason ?? "unknown"}; no dial the simulator tried works` });
  }
  return decided(heuristic);
}

/** "A -> localhost:P": the query for 127.0.0.1 and for ::1, one answer each. */
async function answerLocalhost(net: Network, q: Query, opts: EngineOptions): Promise<Decided> {
  const subs = [];
  for (const ip of [LOOPBACK4, LOOPBACK6]) subs.push(await answerQuery(net, { ...q, target: { kind: "address", ip } }, opts));
  const paths = subs.reduce((n, s) => n + (s.report.paths ?? 0), 0);
  const verdicts = subs.map((s) => s.report.smt);
  const smtVerdict = verdicts.includes("reachable") ? "reachable" : verdicts.includes("unknown") ? "unknown" : "unreachable";
  const exchanges = subs.reduce((n, s) => n + (s.report.exchanges ?? 0), 0);
  // without a solver call only when every address was settled so: a dial that satisfies a path, or no path at all
  const certified = subs.some((s) => s.report.certified) && subs.every((s) => s.report.certified || s.report.paths === 0);
  return {
    answer: localhostAnswer(
      q,
      subs.map((s) => s.answer),
    ),
    report: {
      engine: opts.engine,
      ...(opts.engine !== "sim" ? { paths, smt: smtVerdict, ...(certified ? { certified } : {}) } : {}),
      ...(opts.engine !== "smt" ? { exchanges } : {}),
    },
    smt2: subs.flatMap((s) => s.smt2),
  };
}

/** Z3's decision, preferring the dials a person would make for its witness. */
async function askZ3(net: Network, q: Query, opts: EngineOptions, heuristic: Answer): Promise<SmtDecision> {
  const smt = await decide(net, q, {
    timeoutMs: opts.timeoutMs,
    ...(opts.smt2 ? { smt2: true } : {}),
    // familiar addresses and ports come first in the list; a few dozen are enough to prefer one
    ...(q.target.kind === "machine"
      ? { nice: (({ addrs, ports }) => ({ addrs: addrs.slice(0, 64), ports: ports.slice(0, 64) }))(dialTargets(net, q)) }
      : {}),
    ...(heuristic.dial ? { hint: heuristic.dial } : {}),
  });
  return fault() === "smt-verdict" ? faulty(smt, heuristic) : smt;
}

/** Z3 says reachable: its witness, replayed; the exhaustive simulator must agree. */
function z3Reachable(net: Network, q: Query, smt: SmtDecision, sim: ExhaustiveResult | undefined, heuristic: Answer): Answer {
  const answer = witnessAnswer(net, q, smt, heuristic.tried);
  if (sim && sim.verdict !== "reachable") {
    throw new Disagreement(q, [
      { engine: "Z3", verdict: "reachable", detail: `witness: ${dialWords(answer.dial!)}, confirmed by replay` },
      { engine: "simulator (exhaustive)", verdict: sim.verdict, detail: `${sim.tried} exchanges` },
    ]);
  }
  return answer;
}

/** A reachable answer from Z3's witness, replayed in the simulator (which must confirm it). */
function witnessAnswer(net: Network, q: Query, smt: SmtDecision, tried: number): Answer {
  const { dial, replay } = replayWitness(net, q, smt);
  return { query: q, verdict: "reachable", dial, attempt: replay, closest: [], reason: reachedReason(replay, machineIndex(net)), tried };
}

/** Z3 says unreachable: no simulator dial may work; the unsat cores become the proof lines. */
function z3Unreachable(q: Query, smt: SmtDecision, sim: ExhaustiveResult | undefined, heuristic: Answer): Answer {
  const counter = heuristic.verdict === "reachable" ? heuristic.dial : sim?.verdict === "reachable" ? sim.dial : undefined;
  if (counter) {
    throw new Disagreement(q, [
      { engine: "Z3", verdict: "unreachable", detail: `${smt.stats.paths} candidate paths, all infeasible` },
      { engine: "simulator", verdict: "reachable", detail: dialWords(counter) },
    ]);
  }
  const proof = (smt.cores ?? []).map((c) => {
    const by = c.decisions.filter((d) => d.kind !== "query").map(decisionText);
    return `no packet of any source port takes the path to ${c.socket ?? "the kernel"} on ${c.machine}: ruled out by ${by.join(" together with ") || "the query itself"}`;
  });
  return { ...heuristic, ...(proof.length ? { proof } : {}) };
}

/** Z3's verdict with its witness replayed, and nothing more (see EngineOptions.explain). */
async function verdictOnly(net: Network, q: Query, opts: EngineOptions): Promise<Decided> {
  let smt = await decide(net, q, { timeoutMs: opts.timeoutMs, witness: "any" });
  if (fault() === "smt-verdict") smt = faulty(smt, { query: q, verdict: "unreachable", closest: [], reason: "", tried: 0 });
  const report = { engine: opts.engine, paths: smt.stats.paths, smt: smt.verdict };
  if (smt.verdict === "reachable") return { answer: witnessAnswer(net, q, smt, 0), report, smt2: [], smt };
  const reason = smt.verdict === "unknown" ? (smt.reason ?? "unknown") : "no packet of this query gets there (Z3)";
  return { answer: { query: q, verdict: smt.verdict, closest: [], reason, tried: 0 }, report, smt2: [], smt };
}

/** A dial in words, for disagreements and diffs: "dial 192.168.1.10:2222 from port 40000". */
export const dialWords = (d: Dial): string => `dial ${formatEndpoint(d.dst, d.dport)} from port ${d.sport}`;

/** Z3's witness replayed in the simulator; a witness that does not do what the query asks is a bug (Disagreement). */
function replayWitness(net: Network, q: Query, smt: SmtDecision): { dial: Dial; replay: Attempt } {
  if (!smt.dial) throw new Disagreement(q, [{ engine: "Z3", verdict: "reachable", detail: "no witness decoded" }]);
  const replay = attempt(net, machineIndex(net), smt.dial);
  if (!meetsQuery(q, replay)) {
    throw new Disagreement(q, [
      { engine: "Z3", verdict: "reachable", detail: `witness: ${dialWords(smt.dial)}` },
      { engine: "simulator (replay of the witness)", verdict: "unreachable", detail: failureReason(replay) },
    ]);
  }
  return { dial: smt.dial, replay };
}

/** The test hook's wrong answer: reachable becomes unreachable; unreachable becomes reachable with the closest failed dial as its "witness". */
function faulty(smt: SmtDecision, heuristic: Answer): SmtDecision {
  if (smt.verdict === "reachable") return { verdict: "unreachable", stats: smt.stats };
  const p = heuristic.closest[0]?.legs[0]?.packet;
  const dial = p ? { from: heuristic.closest[0]!.legs[0]!.from, proto: p.proto, dst: p.dst, dport: p.dport, sport: p.sport } : undefined;
  return { verdict: "reachable", stats: smt.stats, ...(dial ? { dial } : {}) };
}

function simAnswer(q: Query, sim: ExhaustiveResult, index: ReturnType<typeof machineIndex>): Answer {
  const a = sim.attempt!;
  return { query: q, verdict: "reachable", dial: sim.dial!, attempt: a, closest: [], reason: reachedReason(a, index), tried: sim.tried };
}

function report(opts: EngineOptions, smt: SmtDecision | undefined, sim: ExhaustiveResult | undefined): EngineReport {
  return {
    engine: opts.engine,
    ...(smt ? { paths: smt.stats.paths, smt: smt.verdict, ...(smt.stats.certified ? { certified: true } : {}) } : {}),
    ...(sim ? { exchanges: sim.tried } : {}),
  };
}
