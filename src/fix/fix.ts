/**
 * `reach fix FILE QUERY --want reachable|unreachable`: the smallest edit of the
 * user's topology that gives the wanted verdict while every other expectation
 * of the file keeps holding.
 *
 * The repair space (space.ts) is a set of slots; each candidate (up to
 * `maxEdits` changed slots) is compiled and explored like a member of a proof
 * family, and Z3 solves MaxSMT over the slot variables: the query's verdict
 * is a hard constraint (for "unreachable", an exists-forall question, handled
 * by excluding every candidate a found packet still reaches), and "this slot
 * unchanged" is a soft constraint per slot (weight 10, plus 1 for a slot's
 * first, most usual alternative, which only breaks ties), so the optimum changes
 * the fewest slots. The file's other expectations are hard too: a candidate
 * that breaks one is excluded and Z3 asked again. Before a repair is shown it
 * is applied to the user's YAML and everything is re-checked with both engines.
 */
import YAML from "yaml";
import { diagnostic, InputError } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import { lower } from "../lower/lower.js";
import { answerQuery, Disagreement, type Decided } from "../query/engine.js";
import { formatQuery, parseQuery, type Query } from "../ir/query.js";
import { carries, DOMAIN, explore, pathsFormula, type Found } from "../smt/decide.js";
import { optimizeFamily, solveFamily } from "../smt/solver.js";
import { and, cfgAll, cfgIs, not, or, type F } from "../smt/term.js";
import type { Span } from "../diagnostics/diagnostic.js";
import { loadTopologyText, type Loaded } from "../topology/load.js";
import type { TopologyDoc } from "../topology/schema.js";
import { verifyTopology, type VerifyResult } from "../verify/verify.js";
import { isJsonDoc, spliceEdits } from "./splice.js";
import { spanAt } from "../import/types.js";
import { applyToData, applyToYaml, repairSpace, type Alternative, type Edit, type Slot } from "./space.js";

export type Want = "reachable" | "unreachable";

export interface Change {
  readonly slot: Slot;
  readonly alternative: Alternative;
  /** Where in the user's file (the edited key, or the list it adds to). */
  readonly span: Span;
}

export interface Repair {
  readonly changes: readonly Change[];
  /** The user's file with the repair applied (comments and layout kept). */
  readonly text: string;
  readonly decided: Decided;
  readonly net: Network;
  /** The file's other expectations, re-checked on the repaired topology: all hold. */
  readonly expectations: readonly VerifyResult[];
}

/** A candidate that gives the wanted verdict but breaks other expectations of the file. */
export interface Rejected {
  readonly changes: readonly Change[];
  readonly broken: readonly VerifyResult[];
}

export interface FixResult {
  readonly query: Query;
  readonly want: Want;
  /** The verdict before any edit. */
  readonly before: Decided;
  readonly repairs: readonly Repair[];
  /** The smallest candidates that were rejected because they break another expectation (at most 3). */
  readonly rejected: readonly Rejected[];
  readonly slots: number;
  readonly candidates: number;
  readonly rounds: number;
  readonly maxEdits: number;
  /**
   * Why the search is incomplete, when it is: candidates whose exploration hit the bound or the
   * deadline, or the solver gave up. Repairs found are still checked repairs, but a smaller one
   * may have been missed, and "no repair" is not an answer.
   */
  readonly unknown?: string;
  /** When candidates were left unbuilt for time: about how long the whole search would take. */
  readonly neededMs?: number;
}

export interface FixOptions {
  readonly maxEdits: number;
  /** Repairs to find: the best, then the next best (none contains an earlier one). */
  readonly count: number;
  readonly timeoutMs: number;
  /**
   * The file's network and the query's answer when the caller has them (`reach ask`'s inline fix):
   * not lowered and decided again. Without it the answer is decided with both engines.
   */
  readonly answered?: { readonly net: Network; readonly before: Decided };
}

interface Candidate {
  /** alternative index + 1 per slot; 0 = unchanged */
  readonly choice: readonly number[];
  readonly found: readonly Found[];
}

const slotVar = (i: number) => `slot${i}`;
const select = (choice: readonly number[]): F => cfgAll(choice.map((v, i) => [slotVar(i), v] as const));

/** Every way to change at most `k` slots, one alternative each. */
export function choices(slots: readonly Slot[], k: number): number[][] {
  const out: number[][] = [];
  const rec = (i: number, left: number, acc: number[]) => {
    if (i === slots.length) {
      out.push(acc);
      return;
    }
    rec(i + 1, left, [...acc, 0]);
    if (left > 0) slots[i]!.alternatives.forEach((_, a) => rec(i + 1, left - 1, [...acc, a + 1]));
  };
  rec(0, k, []);
  return out;
}

export const editsOf = (slots: readonly Slot[], choice: readonly number[]): Edit[] =>
  choice.flatMap((v, i) => (v ? [slots[i]!.alternatives[v - 1]!.edit] : []));

export async function fix(loaded: Loaded, q: Query, want: Want, opts: FixOptions): Promise<FixResult> {
  refuseAliases(loaded);
  // one deadline for the whole search: the answer before, building the candidates, the optimizer
  const deadline = Date.now() + opts.timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const topo = loaded.topology;
  const net = opts.answered?.net ?? lower(topo);
  const before = opts.answered?.before ?? (await answerQuery(net, q, { engine: "both", timeoutMs: opts.timeoutMs }));
  const base = { query: q, want, before, maxEdits: opts.maxEdits };
  if (before.answer.verdict === want) return { ...base, repairs: [], rejected: [], slots: 0, candidates: 0, rounds: 0 };
  const slots = repairSpace(topo.doc, net, q, want);
  const { candidates, unexplored, unbuilt } = buildCandidates(loaded, q, slots, opts.maxEdits, deadline);
  let gaveUp: string | undefined;
  const domains = Object.fromEntries(slots.map((s, i) => [slotVar(i), s.alternatives.length + 1]));
  const reach = or(...candidates.map((c) => and(select(c.choice), pathsFormula(c.found))));
  const inSpace = or(...candidates.map((c) => select(c.choice)));
  const hard: F[] = want === "reachable" ? [DOMAIN, reach] : [inSpace];
  // each changed slot costs 10; taking a slot's first alternative (the usual fix: 0.0.0.0 before ::) saves 1,
  // which can only break ties, since a repair changes at most 3 slots
  const soft = slots.flatMap((_, i) => [
    { f: cfgIs(slotVar(i), 0), weight: 10 },
    { f: or(cfgIs(slotVar(i), 0), cfgIs(slotVar(i), 1)), weight: 1 },
  ]);
  const excluded: F[] = [];
  const repairs: Repair[] = [];
  const rejected: Rejected[] = [];
  const ownIndex = (topo.doc.expect ?? []).findIndex((e) => sameQuery(e.query, q));
  let rounds = 0;
  while (repairs.length < opts.count && candidates.length) {
    rounds++;
    const r = await optimizeFamily([...hard, ...excluded], soft, domains, left());
    if (r.status === "unknown") gaveUp = `the optimizer: ${r.reason}`;
    if (r.status !== "sat") break;
    const c = candidates.find((x) => x.choice.every((v, i) => v === (r.cfg[slotVar(i)] ?? 0)));
    if (!c) throw new Error("internal: the optimizer chose edits outside the repair space");
    if (want === "unreachable") {
      rounds++;
      const p = await solveFamily([DOMAIN, pathsFormula(c.found)], {}, left());
      if (p.status === "sat") {
        // this packet still gets through: no candidate it reaches is a repair
        excluded.push(not(or(...candidates.filter((x) => carries(x.found, p.model)).map((x) => select(x.choice)))));
        continue;
      }
      if (p.status === "unknown") {
        gaveUp = `the solver: ${p.reason}`;
        break;
      }
    }
    const repair = await check(loaded, slots, c.choice, q, want, opts.timeoutMs);
    // never show a repair that is not one; one that breaks another expectation is excluded
    excluded.push(not(select(c.choice)));
    if ("broken" in repair) {
      if (rejected.length < 3) rejected.push(repair);
      continue;
    }
    repairs.push(repair);
    // the next best must not contain this one (a superset is never smaller, only noisier)
    excluded.push(not(and(...c.choice.flatMap((v, i) => (v ? [cfgIs(slotVar(i), v)] : [])))));
  }
  const unknown = [
    unexplored ? `${unexplored} candidate${unexplored === 1 ? "" : "s"} could not be explored in time` : "",
    unbuilt ? unbuiltText(unbuilt) : "",
    gaveUp ?? "",
  ]
    .filter(Boolean)
    .join("; ");
  return {
    ...base,
    repairs,
    rejected,
    slots: slots.length,
    candidates: candidates.length,
    rounds,
    ...(unknown ? { unknown } : {}),
    ...(unbuilt ? { neededMs: unbuilt.neededMs } : {}),
  };
}

/**
 * The candidates: each choice of edits compiled and explored (one that is not a valid topology
 * is not a repair). A candidate is the whole file again (loaded, checked, lowered): on a large
 * file one takes about as long as loading it. So the search goes on only while all the
 * candidates left, at the slowest one's cost, fit before the deadline: a search that cannot
 * finish stops at once and says how long it would need, instead of spending the time on a part.
 */
function buildCandidates(
  loaded: Loaded,
  q: Query,
  slots: readonly Slot[],
  maxEdits: number,
  deadline: number,
): { candidates: Candidate[]; unexplored: number; unbuilt?: Unbuilt } {
  const all = choices(slots, maxEdits).filter((choice) => choice.some((v) => v !== 0));
  const candidates: Candidate[] = [];
  let unexplored = 0;
  let slowest = 0;
  const begun = Date.now();
  for (let k = 0; k < all.length; k++) {
    const start = Date.now();
    if (start + slowest * (all.length - k) >= deadline) {
      const unbuilt = { count: all.length - k, slowestMs: slowest, neededMs: start - begun + slowest * (all.length - k) };
      return { candidates, unexplored, unbuilt };
    }
    const choice = all[k]!;
    let cnet: Network | undefined;
    try {
      // as JSON text: the same value as the YAML the user would write, read by the fast reader
      cnet = lower(loadTopologyText(loaded.file, JSON.stringify(applyToData(loaded.topology.doc, editsOf(slots, choice)))).topology);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
    }
    if (cnet) {
      const x = explore(cnet, q, 200_000, deadline);
      if (x.hit === undefined) candidates.push({ choice, found: x.found });
      else unexplored++;
    }
    slowest = Math.max(slowest, Date.now() - start);
  }
  return { candidates, unexplored };
}

/** Candidates left unbuilt for time: how many, the slowest one built, and about how long the whole search needs. */
interface Unbuilt {
  readonly count: number;
  readonly slowestMs: number;
  readonly neededMs: number;
}

function unbuiltText({ count: n, slowestMs, neededMs }: Unbuilt): string {
  const s = (ms: number) => (ms < 10_000 ? (ms / 1000).toFixed(1) : String(Math.ceil(ms / 1000)));
  const each = slowestMs ? `; each loads the whole file again (${s(slowestMs)} s), so all of them need about ${s(neededMs)} s` : "";
  return `${n} candidate${n === 1 ? " was" : "s were"} not built: they do not fit in the time limit${each}`;
}

/** A JSON file with the edits, rendered whole as JSON in its own indentation (a JSON file stays JSON); undefined for YAML. */
function jsonRendered(source: string, edits: readonly Edit[]): string | undefined {
  if (!isJsonDoc(source)) return undefined;
  let data: TopologyDoc;
  try {
    data = JSON.parse(source) as TopologyDoc;
  } catch {
    return undefined; // YAML written in flow style
  }
  const indent = /\n( +|\t)\S/.exec(source)?.[1] ?? "";
  return JSON.stringify(applyToData(data, edits), null, indent) + "\n";
}

/**
 * Applies a candidate to the user's YAML and checks everything on the result:
 * the query with both engines (which must give the wanted verdict: Z3 said so)
 * and every other expectation; what breaks, when one does.
 */
async function check(
  loaded: Loaded,
  slots: readonly Slot[],
  choice: readonly number[],
  q: Query,
  want: Want,
  timeoutMs: number,
): Promise<Repair | Rejected> {
  const changes: Change[] = choice.flatMap((v, i) => {
    if (!v) return [];
    const slot = slots[i]!;
    const alternative = slot.alternatives[v - 1]!;
    const e = alternative.edit;
    const span = e.op === "append" || e.op === "prepend" ? loaded.topology.loc.key(e.path) : loaded.topology.loc.at(e.path);
    return [{ slot, alternative, span }];
  });
  const edits = changes.map((c) => c.alternative.edit);
  // only the edited nodes change in the user's text; should splicing ever not mean exactly the edit,
  // the whole document is rendered instead (comments kept, layout normalised)
  let text = spliceEdits(loaded.source, edits);
  if (text === undefined) text = jsonRendered(loaded.source, edits);
  if (text === undefined) {
    const ydoc = YAML.parseDocument(loaded.source);
    applyToYaml(ydoc, edits);
    text = ydoc.toString({ lineWidth: 0, flowCollectionPadding: /[{[] [^\s}\]]/.test(loaded.source) });
  }
  const edited = loadTopologyText(loaded.file, text);
  const net = lower(edited.topology);
  const decided = await answerQuery(net, q, { engine: "both", timeoutMs });
  if (decided.answer.verdict !== want)
    throw new Disagreement(q, [
      { engine: "smt", verdict: want, detail: "the repair space's model" },
      { engine: "both", verdict: decided.answer.verdict, detail: "on the repaired file" },
    ]);
  // the file's expectations other than the one being changed must hold; they are reported where
  // they are in the user's file (edits never touch expect:, so entry k is the user's entry k)
  const keep = (edited.topology.doc.expect ?? []).flatMap((e, k) => (sameQuery(e.query, q) ? [] : [{ e, k }]));
  const doc = { ...edited.topology.doc, expect: keep.map((x) => x.e) };
  const results = await verifyTopology(net, { doc, loc: edited.topology.loc }, { engine: "both", timeoutMs });
  if (results.length !== keep.length) throw new Error("internal: verify did not answer each expectation once");
  const expectations = results.map((r, i) => ({ ...r, span: loaded.topology.loc.at(["expect", keep[i]!.k]) }));
  const broken = expectations.filter((x) => x.status !== "holds");
  if (broken.length) return { changes, broken };
  return { changes, text, decided, net, expectations };
}

/** Is this expectation's query the one being fixed? (Compared parsed: "a->b:80" is "a -> b:80/tcp".) */
function sameQuery(text: string | undefined, q: Query): boolean {
  if (text === undefined) return false;
  const p = parseQuery(text);
  return p.ok && formatQuery(p.query) === formatQuery(q);
}

/**
 * An alias (`*name`) shares one node between several places: an edit there would change all
 * of them, which the repair space does not model. Such files are refused, at the first alias.
 */
function refuseAliases(loaded: Loaded): void {
  // an alias names an anchor (&name): a file without a '&' has none, and a large file is not parsed again to see it
  if (!loaded.source.includes("&")) return;
  const doc = YAML.parseDocument(loaded.source);
  let at: number | undefined;
  YAML.visit(doc, {
    Alias(_, node) {
      at = node.range?.[0] ?? 0;
      return YAML.visit.BREAK;
    },
  });
  if (at === undefined) return;
  throw new InputError([
    diagnostic(
      "RCH004",
      spanAt({ file: loaded.file, text: loaded.source }, at),
      "reach fix does not edit files with YAML aliases: an edit of a shared node would change every place that uses it",
      {
        expected: "the file without anchors and aliases (&name, *name), or edit it by hand",
      },
    ),
  ]);
}

export const changeText = (c: Change): string => `${c.slot.where}: ${c.alternative.text}`;
