/**
 * Symbolic values and formulas over one exchange's free variables.
 *
 * A query leaves three things open: the address the client dials (`dst`, one
 * family per run), the port it dials (`dport`) and the source port it binds
 * (`sport`). Every header field anywhere along an exchange is either a constant
 * or one of these variables: NAT writes constants, swaps and relays move fields,
 * nothing computes on them. So a value is `const | var`, and every decision of
 * the network is a formula over membership of the variables in prefixes and port
 * ranges and their (in)equalities.
 *
 * Formulas are our own small AST, folded as they are built (a decision on
 * constants is decided here, not by Z3), so exploring a topology costs no solver
 * calls; solver.ts turns the formulas of the candidate paths into Z3 terms once.
 */
import { bits, contains, sameIP, type Family, type IP, type Prefix } from "../net/addr.js";

export type PortVar = "dport" | "sport";

/** An address field: a constant, or the dialed address variable. */
export type AV = { readonly k: "c"; readonly ip: IP } | { readonly k: "v"; readonly v: Family };
/** A port field: a constant, or one of the port variables. */
export type PV = { readonly k: "c"; readonly n: number } | { readonly k: "v"; readonly name: PortVar };

export const ac = (ip: IP): AV => ({ k: "c", ip });

export type F =
  | { readonly t: "true" }
  | { readonly t: "false" }
  | { readonly t: "and"; readonly xs: readonly F[] }
  | { readonly t: "or"; readonly xs: readonly F[] }
  | { readonly t: "not"; readonly x: F }
  /** dst lies in the prefix (len = full width: equality) */
  | { readonly t: "pfx"; readonly p: Prefix }
  /** a port variable lies in [lo, hi] */
  | { readonly t: "rng"; readonly name: PortVar; readonly lo: number; readonly hi: number }
  /** the two port variables are equal */
  | { readonly t: "peq" }
  /**
   * A first-match filter chain: accepted when the first rule whose match holds
   * accepts, or no rule matches and the policy accepts. Kept as one node so a
   * chain of thousands of rules neither nests nor grows quadratically.
   */
  | { readonly t: "chain"; readonly rules: readonly { readonly m: F; readonly accept: boolean }[]; readonly policy: boolean }
  /**
   * A configuration parameter has this value (symbolic configuration: `reach
   * prove` quantifies over a family of topologies; index into its domain).
   */
  | { readonly t: "cfg"; readonly param: string; readonly value: number };

export const TRUE: F = { t: "true" };
export const FALSE: F = { t: "false" };

export function and(...xs: F[]): F {
  const out: F[] = [];
  for (const x of xs) {
    if (x.t === "false") return FALSE;
    if (x.t === "true") continue;
    if (x.t === "and") out.push(...x.xs);
    else out.push(x);
  }
  return out.length === 0 ? TRUE : out.length === 1 ? out[0]! : { t: "and", xs: out };
}

export function or(...xs: F[]): F {
  const out: F[] = [];
  for (const x of xs) {
    if (x.t === "true") return TRUE;
    if (x.t === "false") continue;
    if (x.t === "or") out.push(...x.xs);
    else out.push(x);
  }
  return out.length === 0 ? FALSE : out.length === 1 ? out[0]! : { t: "or", xs: out };
}

export function not(x: F): F {
  if (x.t === "true") return FALSE;
  if (x.t === "false") return TRUE;
  if (x.t === "not") return x.x;
  return { t: "not", x };
}

export const bool = (b: boolean): F => (b ? TRUE : FALSE);

/** Is the address value in the prefix? */
export function inPrefix(a: AV, p: Prefix): F {
  if (a.k === "c") return bool(contains(p, a.ip));
  if (a.v !== p.v) return FALSE;
  if (p.len === 0) return TRUE;
  return { t: "pfx", p };
}

export function eqAddr(a: AV, b: AV): F {
  if (a.k === "c" && b.k === "c") return bool(sameIP(a.ip, b.ip));
  if (a.k === "v" && b.k === "v") return bool(a.v === b.v);
  const c = (a.k === "c" ? a.ip : (b as { ip: IP }).ip) as IP;
  const v = (a.k === "v" ? a : b) as { v: Family };
  return v.v === c.v ? { t: "pfx", p: { v: c.v, n: c.n, len: bits(c.v) } } : FALSE;
}

export function inPorts(a: PV, lo: number, hi: number): F {
  if (a.k === "c") return bool(a.n >= lo && a.n <= hi);
  if (lo > hi) return FALSE;
  return { t: "rng", name: a.name, lo, hi };
}

export function eqPort(a: PV, b: PV): F {
  if (a.k === "c" && b.k === "c") return bool(a.n === b.n);
  if (a.k === "v" && b.k === "v") return a.name === b.name ? TRUE : { t: "peq" };
  const c = a.k === "c" ? a.n : (b as { n: number }).n;
  return inPorts(a.k === "v" ? a : b, c, c);
}

/** A concrete assignment of the variables (a witness). */
export interface Assignment {
  readonly dst: IP;
  readonly dport: number;
  readonly sport: number;
  /** Configuration parameters' values (index into each domain), for formulas over a family. */
  readonly cfg?: Readonly<Record<string, number>>;
}

export const cfgIs = (param: string, value: number): F => ({ t: "cfg", param, value });

/** Every named parameter has its value: one member of a family of configurations. */
export const cfgAll = (values: readonly (readonly [string, number])[]): F => and(...values.map(([p, v]) => cfgIs(p, v)));

/** Evaluates a formula under an assignment: used to check that a decoded model satisfies what it claims. */
export function evaluate(f: F, x: Assignment): boolean {
  switch (f.t) {
    case "true":
      return true;
    case "false":
      return false;
    case "and":
      return f.xs.every((y) => evaluate(y, x));
    case "or":
      return f.xs.some((y) => evaluate(y, x));
    case "not":
      return !evaluate(f.x, x);
    case "pfx":
      return contains(f.p, x.dst);
    case "rng": {
      const n = x[f.name];
      return n >= f.lo && n <= f.hi;
    }
    case "peq":
      return x.dport === x.sport;
    case "chain": {
      for (const r of f.rules) if (evaluate(r.m, x)) return r.accept;
      return f.policy;
    }
    case "cfg": {
      const v = x.cfg?.[f.param];
      if (v === undefined) throw new Error(`internal: no value for configuration parameter ${f.param}`);
      return v === f.value;
    }
  }
}

/** Mutually exclusive alternatives, each under its condition: the symbolic form of a decision. */
export type Cases<T> = readonly (readonly [F, T])[];

/** Counts the nodes of a formula (shared subterms counted once), for statistics. */
export function size(f: F, seen = new Set<F>()): number {
  if (seen.has(f)) return 0;
  seen.add(f);
  switch (f.t) {
    case "and":
    case "or":
      return 1 + f.xs.reduce((n, y) => n + size(y, seen), 0);
    case "not":
      return 1 + size(f.x, seen);
    case "chain":
      return 1 + f.rules.reduce((n, r) => n + size(r.m, seen), 0);
    default:
      return 1;
  }
}
