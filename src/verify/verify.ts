/**
 * Checking a topology's `expect:` list, each expectation with its evidence:
 *
 *   query     "A -> B:P" is reachable / unreachable. A violated `unreachable`
 *             carries the working dial and its trace; a violated `reachable`
 *             the reasons each way in is blocked.
 *   isolated  between two groups of machines no connection works, either way:
 *             no service of the other side (any protocol and port it listens
 *             on) and no ping. A violation carries every flow that works.
 *   exposes   from a vantage machine, M accepts connections on exactly the
 *             listed ports: each extra port comes with its witness, each
 *             missing one with why it is not reachable.
 *
 * Every question is answered by the chosen engine (Z3 by default, see
 * query/engine.ts), so a verdict holds for every packet, not for the ones tried.
 */
import type { Span } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import type { Answer } from "../query/dials.js";
import { answerQuery, type Decided, type EngineOptions, type EngineReport } from "../query/engine.js";
import type { Query } from "../ir/query.js";
import { parseQuery } from "../ir/query.js";
import type { Topology } from "../topology/check.js";
import type { ExpectDoc } from "../topology/schema.js";
import { parseServicePort } from "../net/port.js";

export interface Finding {
  /** one line: what this flow shows */
  readonly title: string;
  readonly answer: Answer;
  readonly report: EngineReport;
}

export type Status = "holds" | "violated" | "unknown";

export interface VerifyResult {
  readonly kind: "query" | "isolated" | "exposes";
  /** the expectation in words */
  readonly text: string;
  readonly status: Status;
  /** one line: what was found */
  readonly message: string;
  readonly because?: string;
  readonly span: Span;
  /** counterexamples and witnesses (violations), or the flows that decided an unknown */
  readonly findings: readonly Finding[];
  /** how many questions the engine answered for this expectation */
  readonly questions: number;
}

/** One line for an answer: its first root cause with the code, or its reason. */
const headline = (a: Answer): string => (a.causes?.[0] ? `${a.causes[0].code}: ${a.causes[0].text}` : a.reason);

/** The (protocol, port) pairs a machine's services listen on, in file order. */
export function servicesOf(net: Network, machine: string): { proto: "tcp" | "udp"; port: number }[] {
  const m = net.machines.find((x) => x.name === machine);
  const out: { proto: "tcp" | "udp"; port: number }[] = [];
  for (const s of m?.sockets ?? []) {
    if (s.role.kind === "service" && !out.some((o) => o.proto === s.proto && o.port === s.port)) out.push({ proto: s.proto, port: s.port });
  }
  return out;
}

const portText = (p: { proto: string; port: number }) => `${p.port}/${p.proto}`;

/** Asking the engine: `ask` one flow (with explanations unless told not), or `survey` many and explain only the reported ones. */
interface Asker {
  ask(text: string, explain?: boolean): Promise<{ answer: Answer; report: EngineReport }>;
  survey(text: string, reported: (verdict: Answer["verdict"]) => boolean): Promise<{ answer: Answer; report: EngineReport }>;
}

/** What every result of one expectation shares: where it is and its `because:`. */
interface Place {
  readonly span: Span;
  readonly because: { because?: string };
}

/**
 * Checks the expectations (only those `select` takes, by their index in `expect:`, when given: a
 * shard's), in order: `select(k)` is called just before expectation k is checked. `decide` answers
 * each question (watch mode passes one that remembers its decisions: decision-cache.ts).
 */
export async function verifyTopology(
  net: Network,
  topo: Topology,
  opts: EngineOptions,
  select?: (index: number) => boolean,
  decide: (net: Network, q: Query, opts: EngineOptions) => Promise<Decided> = answerQuery,
): Promise<VerifyResult[]> {
  const ask = async (text: string, explain = true) => {
    const q = parseQuery(text);
    if (!q.ok) throw new Error(`internal: generated query does not parse: ${text}`);
    const { answer, report } = await decide(net, q.query, explain ? opts : { ...opts, explain: false });
    return { answer, report };
  };
  /** Many flows, few findings: decide each without explanations, then explain only the ones reported. */
  const survey = async (text: string, reported: (verdict: Answer["verdict"]) => boolean) => {
    const quick = await ask(text, false);
    return reported(quick.answer.verdict) ? ask(text) : quick;
  };
  const asker: Asker = { ask, survey };
  const results: VerifyResult[] = [];
  for (const [k, e] of (topo.doc.expect ?? []).entries()) {
    if (select && !select(k)) continue;
    const at: Place = { span: topo.loc.at(["expect", k]), because: e.because !== undefined ? { because: e.because } : {} };
    if (e.query !== undefined) results.push(await verifyQuery(asker, at, e.query, e.verdict ?? "reachable"));
    else if (e.isolated) results.push(notOverIncomplete(net, await verifyIsolated(net, asker, at, e.isolated)));
    else if (e.exposes) results.push(notOverIncomplete(net, await verifyExposes(net, asker, at, e.exposes)));
  }
  return results;
}

/**
 * "Exactly these" and "nothing between" are claims about everything: over a topology imported
 * without some parts of its inputs (`incomplete:`), one that holds on what was read is unknown.
 */
function notOverIncomplete(net: Network, r: VerifyResult): VerifyResult {
  const parts = net.incomplete ?? [];
  if (r.status !== "holds" || !parts.length) return r;
  const where = parts
    .slice(0, 3)
    .map((p) => p.at)
    .join(", ");
  return {
    ...r,
    status: "unknown",
    message: `unknown: it holds on what was read, but ${parts.length} part${parts.length === 1 ? "" : "s"} of the inputs ${parts.length === 1 ? "was" : "were"} not read (${where}${parts.length > 3 ? ", ..." : ""})`,
  };
}

/** query: the flow has the expected verdict; otherwise the answer is the finding. */
async function verifyQuery(asker: Asker, { span, because }: Place, query: string, expected: Answer["verdict"]): Promise<VerifyResult> {
  const { answer, report } = await asker.ask(query);
  const status: Status = answer.verdict === "unknown" ? "unknown" : answer.verdict === expected ? "holds" : "violated";
  return {
    kind: "query",
    text: `${query} is ${expected}`,
    status,
    message:
      status === "holds"
        ? `${answer.verdict}`
        : status === "unknown"
          ? `unknown: ${answer.reason}`
          : `${answer.verdict}: ${headline(answer)}`,
    ...because,
    span,
    findings: status === "holds" ? [] : [{ title: `${query}: ${answer.verdict}`, answer, report }],
    questions: 1,
  };
}

/** isolated: no service port and no ping works between the two groups, either way; every flow that works is a finding. */
async function verifyIsolated(
  net: Network,
  asker: Asker,
  { span, because }: Place,
  { between, and }: NonNullable<ExpectDoc["isolated"]>,
): Promise<VerifyResult> {
  const pairs: [string, string][] = [];
  for (const a of between) for (const b of and) if (a !== b) pairs.push([a, b], [b, a]);
  const findings: Finding[] = [];
  const unknown: Finding[] = [];
  let questions = 0;
  for (const [from, to] of pairs) {
    const flows = [...servicesOf(net, to).map((s) => `${from} -> ${to}:${s.port}/${s.proto}`), `${from} -> ${to}/icmp`];
    for (const text of flows) {
      const { answer, report } = await asker.survey(text, (v) => v !== "unreachable");
      questions++;
      if (answer.verdict === "reachable") findings.push({ title: `${text} works`, answer, report });
      if (answer.verdict === "unknown") unknown.push({ title: `${text}: unknown`, answer, report });
    }
  }
  const status: Status = findings.length ? "violated" : unknown.length ? "unknown" : "holds";
  return {
    kind: "isolated",
    text: `${between.join(", ")} and ${and.join(", ")} are isolated`,
    status,
    message:
      status === "holds"
        ? `no connection either way (${questions} flows: every service port and ping)`
        : status === "unknown"
          ? `${unknown.length} of ${questions} flows undecided`
          : `${findings.length} flow${findings.length === 1 ? "" : "s"} get${findings.length === 1 ? "s" : ""} through: ${findings.map((f) => f.title.replace(/ works$/, "")).join("; ")}`,
    ...because,
    span,
    findings: status === "violated" ? findings : unknown,
    questions,
  };
}

/** exposes: from the vantage machine exactly the listed ports connect; extra and missing ports are the findings. */
async function verifyExposes(
  net: Network,
  asker: Asker,
  { span, because }: Place,
  { machine, from, exactly }: NonNullable<ExpectDoc["exposes"]>,
): Promise<VerifyResult> {
  const expected = exactly.map(parseServicePort).filter((x): x is { port: number; proto: "tcp" | "udp" } => x !== undefined);
  const candidates = [...servicesOf(net, machine)];
  for (const x of expected) if (!candidates.some((c) => c.proto === x.proto && c.port === x.port)) candidates.push(x);
  const extra: Finding[] = [];
  const missing: Finding[] = [];
  const unknown: Finding[] = [];
  for (const c of candidates) {
    const text = `${from} -> ${machine}:${c.port}/${c.proto}`;
    const wanted = expected.some((x) => x.proto === c.proto && x.port === c.port);
    const { answer, report } = await asker.survey(text, (v) => v === "unknown" || (v === "reachable") !== wanted);
    if (answer.verdict === "unknown") unknown.push({ title: `${portText(c)}: unknown`, answer, report });
    else if (answer.verdict === "reachable" && !wanted)
      extra.push({ title: `${portText(c)} is exposed to ${from}, but not listed`, answer, report });
    else if (answer.verdict !== "reachable" && wanted)
      missing.push({ title: `${portText(c)} is listed, but ${from} cannot connect to it`, answer, report });
  }
  const status: Status = extra.length || missing.length ? "violated" : unknown.length ? "unknown" : "holds";
  const parts = [
    ...(extra.length ? [`exposed but not listed: ${extra.map((f) => f.title.split(" ")[0]).join(", ")}`] : []),
    ...(missing.length ? [`listed but not reachable: ${missing.map((f) => f.title.split(" ")[0]).join(", ")}`] : []),
  ];
  return {
    kind: "exposes",
    text: `${machine} exposes exactly ${exactly.length ? exactly.join(", ") : "nothing"} to ${from}`,
    status,
    message:
      status === "holds"
        ? `exactly ${expected.map(portText).join(", ") || "nothing"} (${candidates.length} ports checked)`
        : status === "unknown"
          ? `${unknown.length} ports undecided`
          : parts.join("; "),
    ...because,
    span,
    findings: status === "violated" ? [...extra, ...missing] : unknown,
    questions: candidates.length,
  };
}
