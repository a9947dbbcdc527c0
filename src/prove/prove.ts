/**
 * Checking a family's theorems two independent ways.
 *
 * Z3, for every parameter value at once: each member of the family is compiled
 * to its forwarding model and explored symbolically (smt/decide.ts `explore`);
 * the family is then ONE formula in which the parameters are solver variables
 * (term.ts `cfg`): Reach(cfg, packet) = OR over members m of (cfg = m AND some
 * path of m carries the packet). "Q is reachable iff C" is refuted by
 *   (a) cfg, packet with not C(cfg) and Reach(cfg, packet): one query; or
 *   (b) cfg with C(cfg) and no packet at all: an exists-forall question, solved
 *       by counterexample-guided search: Z3 proposes cfg with C; if some packet
 *       works for it, every member that packet works for is excluded at once,
 *       and Z3 proposes again, until it proposes a member no packet reaches (a
 *       refutation) or none is left (proved).
 * The simulator, by enumeration: every member, concretely, with the exhaustive
 * simulator. The two must agree on the outcome and on every counterexample;
 * when they do not, that is a bug in reach, reported as such, never a verdict.
 */
import YAML from "yaml";
import { diagnostic, InputError } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import { lower } from "../lower/lower.js";
import { answerQuery, type Decided } from "../query/engine.js";
import { carries, DOMAIN, explore, pathsFormula, type Found } from "../smt/decide.js";
import { solveFamily } from "../smt/solver.js";
import { and, cfgAll, cfgIs, FALSE, not, or, TRUE, type F } from "../smt/term.js";
import { loadTopologyFile, loadTopologyText } from "../topology/load.js";
import { assignments, assignmentText, holds, instantiate, type Assignment, type Cond, type Family, type Theorem } from "./family.js";

export interface Member {
  readonly assignment: Assignment;
  readonly doc: Record<string, unknown>;
  readonly net: Network;
}

export interface Counterexample {
  readonly member: Member;
  /** What the theorem says for this member; reach answers the opposite. */
  readonly claimed: boolean;
}

export interface TheoremResult {
  readonly theorem: Theorem;
  readonly status: "proved" | "refuted" | "unknown";
  /** Z3: solver calls of the counterexample-guided search (plus the one for direction a). */
  readonly rounds: number;
  /** Members the simulator enumerated. */
  readonly enumerated: number;
  readonly counterexample?: Counterexample;
  readonly reason?: string;
}

export interface FamilyResult {
  readonly family: Family;
  readonly members: number;
  readonly theorems: readonly TheoremResult[];
}

/** Z3 and the simulator disagree about a family: a bug in reach. */
export class ProofDisagreement extends Error {}

/** Loads and lowers every member; a member that is not a valid topology is an error in the proof file. */
export function members(f: Family): Member[] {
  const all = assignments(f);
  if (!all.length)
    throw new InputError([
      diagnostic(
        "RCH004",
        { file: f.file, line: 1, col: 1 },
        "the family has no members (a parameter without values, or where: excludes every assignment)",
        { expected: "at least one assignment of the parameters" },
      ),
    ]);
  return all.map((assignment) => {
    const doc = instantiate(f, assignment);
    const name = `${f.file} [${assignmentText(f, assignment)}]`;
    let net: Network;
    try {
      net = lower(loadTopologyText(name, YAML.stringify(doc)).topology);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const first = e.diagnostics.find((d) => d.severity === "error") ?? e.diagnostics[0];
      throw new InputError([
        diagnostic(
          "RCH004",
          { file: f.file, line: 1, col: 1 },
          `the member ${assignmentText(f, assignment)} is not a valid topology: ${first ? `${first.code} ${first.message}` : "rejected"}`,
          {
            expected: "a template that is a valid topology for every assignment (exclude the others with where:)",
          },
        ),
      ]);
    }
    // a theorem's machines must exist in every member (a missing one is a mistake, not "unreachable")
    const present = net.machines.filter((m) => m.kind !== "nat-engine").map((m) => m.name);
    for (const t of f.theorems) {
      const missing = [t.query.from, ...(t.query.target.kind === "machine" ? [t.query.target.machine] : [])].filter(
        (n) => !present.includes(n),
      );
      if (missing.length)
        throw new InputError([
          diagnostic(
            "RCH041",
            t.span,
            `the query names ${missing.join(", ")}, which the member ${assignmentText(f, assignment)} does not have`,
            { expected: `machines of every member: ${present.join(", ")}` },
          ),
        ]);
    }
    return { assignment, doc, net };
  });
}

function condFormula(f: Family, c: Cond): F {
  switch (c.k) {
    case "const":
      return c.b ? TRUE : FALSE;
    case "in":
      return or(...c.values.map((v) => cfgIs(c.param, v)));
    case "all":
      return and(...c.xs.map((x) => condFormula(f, x)));
    case "any":
      return or(...c.xs.map((x) => condFormula(f, x)));
    case "not":
      return not(condFormula(f, c.x));
  }
}

const select = (f: Family, a: Assignment): F => cfgAll(f.params.map((p, i) => [p.name, a[i]!] as const));

interface Z3Outcome {
  readonly status: "proved" | "refuted" | "unknown";
  readonly rounds: number;
  readonly member?: number;
  readonly reason?: string;
}

async function proveWithZ3(f: Family, ms: readonly Member[], t: Theorem, timeoutMs: number): Promise<Z3Outcome> {
  const deadline = Date.now() + timeoutMs;
  const explored: Found[][] = [];
  for (const m of ms) {
    const e = explore(m.net, t.query, 200_000, deadline);
    if (e.hit !== undefined) return { status: "unknown", rounds: 0, reason: `bound hit: ${e.hit}` };
    explored.push(e.found);
  }
  const domains = Object.fromEntries(f.params.map((p) => [p.name, p.values.length]));
  const where = condFormula(f, f.where);
  const claim = condFormula(f, t.reachable);
  const reach = or(...ms.map((m, i) => and(select(f, m.assignment), pathsFormula(explored[i]!))));
  const left = () => Math.max(1, deadline - Date.now());
  const memberOf = (cfg: Record<string, number>) => ms.findIndex((m) => f.params.every((p, i) => m.assignment[i] === cfg[p.name]));
  // (a) reachable where the claim says unreachable
  let rounds = 1;
  const over = await solveFamily([DOMAIN, where, not(claim), reach], domains, left());
  if (over.status === "unknown") return { status: "unknown", rounds, reason: over.reason };
  if (over.status === "sat") return { status: "refuted", rounds, member: memberOf(over.model.cfg) };
  // (b) unreachable where the claim says reachable: counterexample-guided
  const excluded: F[] = [];
  for (;;) {
    rounds++;
    const pick = await solveFamily([where, claim, ...excluded, or(...ms.map((m) => select(f, m.assignment)))], domains, left());
    if (pick.status === "unknown") return { status: "unknown", rounds, reason: pick.reason };
    if (pick.status === "unsat") return { status: "proved", rounds };
    const i = memberOf(pick.model.cfg);
    if (i < 0) throw new Error("internal: the solver picked parameter values outside the family");
    rounds++;
    const packet = await solveFamily([DOMAIN, pathsFormula(explored[i]!)], {}, left());
    if (packet.status === "unknown") return { status: "unknown", rounds, reason: packet.reason };
    if (packet.status === "unsat") return { status: "refuted", rounds, member: i };
    const works = ms.flatMap((m, j) => (carries(explored[j]!, packet.model) ? [m] : []));
    if (!works.includes(ms[i]!)) throw new Error("internal: the solver's packet does not satisfy the member it was found for");
    excluded.push(not(or(...works.map((m) => select(f, m.assignment)))));
  }
}

export async function proveFamily(f: Family, opts: { readonly timeoutMs: number }): Promise<FamilyResult> {
  const ms = members(f);
  const results: TheoremResult[] = [];
  for (const t of f.theorems) {
    // the simulator, member by member
    const wrong: { i: number; decided: Decided }[] = [];
    for (const [i, m] of ms.entries()) {
      const d = await answerQuery(m.net, t.query, { engine: "sim", timeoutMs: opts.timeoutMs, explain: false });
      if (d.answer.verdict === "unknown")
        throw new ProofDisagreement(`${f.file}: the simulator cannot decide ${t.text} for ${assignmentText(f, m.assignment)}`);
      if ((d.answer.verdict === "reachable") !== holds(f, t.reachable, m.assignment)) wrong.push({ i, decided: d });
    }
    const z = await proveWithZ3(f, ms, t, opts.timeoutMs);
    const base = { theorem: t, rounds: z.rounds, enumerated: ms.length };
    if (z.status === "unknown") {
      results.push({ ...base, status: "unknown", reason: z.reason ?? "unknown" });
      continue;
    }
    const enumStatus = wrong.length ? "refuted" : "proved";
    if (z.status !== enumStatus) {
      const which = wrong[0]
        ? ` (the simulator: ${assignmentText(f, ms[wrong[0].i]!.assignment)})`
        : z.member !== undefined
          ? ` (Z3: ${assignmentText(f, ms[z.member]!.assignment)})`
          : "";
      throw new ProofDisagreement(`${f.file}: ${t.text}: Z3 says ${z.status}, enumeration with the simulator says ${enumStatus}${which}`);
    }
    if (z.status === "proved") {
      results.push({ ...base, status: "proved" });
      continue;
    }
    if (!wrong.some((w) => w.i === z.member)) {
      throw new ProofDisagreement(
        `${f.file}: ${t.text}: Z3's counterexample ${assignmentText(f, ms[z.member!]!.assignment)} is not one by enumeration`,
      );
    }
    const member = ms[z.member!]!;
    results.push({ ...base, status: "refuted", counterexample: { member, claimed: holds(f, t.reachable, member.assignment) } });
  }
  return { family: f, members: ms.length, theorems: results };
}

/**
 * A counterexample's explanation, from the file it was written to (so that the
 * trace's file:line point into it): both engines, with the trace.
 */
export async function explainCounterexample(file: string, t: Theorem, timeoutMs: number): Promise<{ decided: Decided; net: Network }> {
  const net = lower(loadTopologyFile(file).topology);
  return { decided: await answerQuery(net, t.query, { engine: "both", timeoutMs }), net };
}

/** Did the family come out as its file records (holds: true = every theorem proved)? */
export function asRecorded(r: FamilyResult): boolean {
  const refuted = r.theorems.some((t) => t.status === "refuted");
  const unknown = r.theorems.some((t) => t.status === "unknown");
  return !unknown && refuted === !r.family.holds;
}
