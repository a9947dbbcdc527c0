/**
 * What a path has established about each variable, as a set of intervals:
 * the dialed address (per family) and the two ports. Conditions that are
 * conjunctions of prefix and range atoms (and their negations) narrow it; a
 * branch whose condition leaves a variable no value is dropped at once, and a
 * variable left with one value is a constant for the rest of the path.
 *
 * This is only pruning: a condition the domain cannot judge is kept and
 * decided by Z3. It never makes a feasible path disappear: an interval set is
 * exactly the set of values the atoms allow.
 */
import type { F, PortVar } from "./term.js";

export type Interval = readonly [bigint, bigint];
export type Intervals = readonly Interval[];
export type VarKey = "dst4" | "dst6" | PortVar;

export type Dom = Readonly<Record<VarKey, Intervals>>;

const MAX = { dst4: (1n << 32n) - 1n, dst6: (1n << 128n) - 1n, dport: 65535n, sport: 65535n } as const;
export const FULL: Dom = { dst4: [[0n, MAX.dst4]], dst6: [[0n, MAX.dst6]], dport: [[0n, MAX.dport]], sport: [[0n, MAX.sport]] };

function intersect(a: Intervals, b: Intervals): Intervals {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = a[i]![0] > b[j]![0] ? a[i]![0] : b[j]![0];
    const hi = a[i]![1] < b[j]![1] ? a[i]![1] : b[j]![1];
    if (lo <= hi) out.push([lo, hi]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

function complement(a: Intervals, max: bigint): Intervals {
  const out: Interval[] = [];
  let next = 0n;
  for (const [lo, hi] of a) {
    if (lo > next) out.push([next, lo - 1n]);
    next = hi + 1n;
  }
  if (next <= max) out.push([next, max]);
  return out;
}

function union(a: Intervals, b: Intervals): Intervals {
  const all = [...a, ...b].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of all) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

/** The variable and value set of an atom, or undefined for anything else. */
function atom(f: F): { key: VarKey; set: Intervals } | undefined {
  if (f.t === "pfx") {
    const width = f.p.v === 4 ? 32 : 128;
    const size = 1n << BigInt(width - f.p.len);
    return { key: f.p.v === 4 ? "dst4" : "dst6", set: [[f.p.n, f.p.n + size - 1n]] };
  }
  if (f.t === "rng") return { key: f.name, set: [[BigInt(f.lo), BigInt(f.hi)]] };
  return undefined;
}

/** The value set a formula allows for one variable, when the formula constrains only that one; undefined otherwise. */
function setOf(f: F): { key: VarKey; set: Intervals } | undefined {
  const a = atom(f);
  if (a) return a;
  if (f.t === "not") {
    const x = setOf(f.x);
    return x && { key: x.key, set: complement(x.set, MAX[x.key]) };
  }
  if (f.t === "or" || f.t === "and") {
    let acc: { key: VarKey; set: Intervals } | undefined;
    for (const y of f.xs) {
      const s = setOf(y);
      if (!s || (acc && acc.key !== s.key)) return undefined;
      acc = acc ? { key: s.key, set: f.t === "or" ? union(acc.set, s.set) : intersect(acc.set, s.set) } : s;
    }
    return acc;
  }
  return undefined;
}

/** The domain narrowed by a condition, or undefined when the condition leaves some variable no value. */
export function refine(d: Dom, f: F): Dom | undefined {
  const parts = f.t === "and" ? f.xs : [f];
  let out: Record<VarKey, Intervals> | undefined;
  for (const x of parts) {
    const s = setOf(x);
    if (!s) continue;
    out ??= { ...d };
    out[s.key] = intersect(out[s.key], s.set);
    if (out[s.key].length === 0) return undefined;
  }
  return out ?? d;
}

/** The single value left for a variable, if one. */
export function single(d: Dom, key: VarKey): bigint | undefined {
  const s = d[key];
  return s.length === 1 && s[0]![0] === s[0]![1] ? s[0]![0] : undefined;
}

function within(set: Intervals, sub: Intervals): "all" | "none" | "some" {
  const both = intersect(set, sub);
  if (both.length === 0) return "none";
  const covered = both.reduce((n, [lo, hi]) => n + (hi - lo + 1n), 0n);
  const total = set.reduce((n, [lo, hi]) => n + (hi - lo + 1n), 0n);
  return covered === total ? "all" : "some";
}

/** Evaluates a formula as far as the domain decides it: true, false, or undefined (Z3 must decide). */
export function judge(f: F, d: Dom): boolean | undefined {
  switch (f.t) {
    case "true":
      return true;
    case "false":
      return false;
    case "and": {
      let open = false;
      for (const x of f.xs) {
        const r = judge(x, d);
        if (r === false) return false;
        if (r === undefined) open = true;
      }
      return open ? undefined : true;
    }
    case "or": {
      let open = false;
      for (const x of f.xs) {
        const r = judge(x, d);
        if (r === true) return true;
        if (r === undefined) open = true;
      }
      return open ? undefined : false;
    }
    case "not": {
      const r = judge(f.x, d);
      return r === undefined ? undefined : !r;
    }
    case "pfx":
    case "rng": {
      const a = atom(f)!;
      const w = within(d[a.key], a.set);
      return w === "all" ? true : w === "none" ? false : undefined;
    }
    case "peq": {
      const p = single(d, "dport");
      const s = single(d, "sport");
      if (p !== undefined && s !== undefined) return p === s;
      return intersect(d.dport, d.sport).length === 0 ? false : undefined;
    }
    case "chain": {
      for (const r of f.rules) {
        const m = judge(r.m, d);
        if (m === undefined) return undefined;
        if (m) return r.accept;
      }
      return f.policy;
    }
    case "cfg":
      return undefined; // the packet domain says nothing about configuration parameters
  }
}
