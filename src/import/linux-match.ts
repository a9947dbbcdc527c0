/**
 * The match algebra of the netfilter flattening. The topology language's filter
 * and NAT rules match a conjunction of positive field constraints (src/ir/types.ts
 * `Match`); iptables and nftables rules also negate, jump and return. Every
 * condition is therefore brought to a union of such conjunctions (`Cond`), with
 * two operations:
 *
 * - intersection, field by field: a prefix with a prefix is the longer when one
 *   contains the other, else empty; port ranges overlap; protocols, families and
 *   interfaces must be equal; connection states intersect as sets;
 * - complement, as a union of positive matches: a prefix's complement is at most
 *   32 (IPv4) or 128 (IPv6) prefixes, a port range's at most two ranges, a
 *   protocol's the other protocols of the language (tcp, udp, icmp: packets of
 *   other protocols are not modelled), a state set's the other states, an
 *   interface's the machine's other interfaces (plus `lo`). The complement of a
 *   conjunction is expanded disjointly: ¬(a∧b) = ¬a ∨ (a∧¬b).
 *
 * A union of k matches with one action is k consecutive rules with that action:
 * exact, because a first-match chain's consecutive rules with one action act as
 * their union.
 */
import { bits, formatIP, mask, prefixContains, type Family, type Prefix } from "../net/addr.js";
import type { CtState, PortRange, Proto } from "../ir/types.js";

/** One conjunction of positive constraints; `family` is set whenever `src` or `dst` is. */
export interface FMatch {
  readonly family?: Family;
  readonly proto?: Proto;
  readonly src?: Prefix;
  readonly dst?: Prefix;
  /** only with proto tcp or udp */
  readonly sport?: PortRange;
  readonly dport?: PortRange;
  /** conntrack's original destination port (only with proto tcp or udp; implies a conntrack entry) */
  readonly origDport?: PortRange;
  readonly in?: string;
  readonly out?: string;
  /** a non-empty proper subset of STATES, in STATES order */
  readonly state?: readonly CtState[];
}

/** A union of conjunctions; [] matches nothing, [{}] everything. */
export type Cond = readonly FMatch[];

export const PROTOS: readonly Proto[] = ["tcp", "udp", "icmp"];
export const STATES: readonly CtState[] = ["new", "established", "related", "invalid"];
export const ALL: Cond = [{}];
export const NOTHING: Cond = [];

/** Thrown when a union grows past the cap; the caller reports the chain with RCH051. */
export class TooLarge extends Error {}

/** The machine as the flattening sees it. */
export interface Universe {
  /** Every interface name a packet can carry as `in`/`out`, incl. `lo`; undefined when unknown. */
  readonly ifaces?: readonly string[];
}

/** Interfaces a negated match needs to know; thrown by `complement` when the universe lacks them. */
export class NeedsInterfaces extends Error {}

function interPrefix(a: Prefix | undefined, b: Prefix | undefined): Prefix | undefined | null {
  if (!a) return b;
  if (!b) return a;
  if (prefixContains(a, b)) return b;
  if (prefixContains(b, a)) return a;
  return null;
}

function interRange(a: PortRange | undefined, b: PortRange | undefined): PortRange | undefined | null {
  if (!a) return b;
  if (!b) return a;
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo <= hi ? { lo, hi } : null;
}

function interEq<T>(a: T | undefined, b: T | undefined): T | undefined | null {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a === b ? a : null;
}

/** a ∩ b, or undefined when no packet matches both. */
export function intersect(a: FMatch, b: FMatch): FMatch | undefined {
  const family = interEq(a.family, b.family);
  const proto = interEq(a.proto, b.proto);
  const src = interPrefix(a.src, b.src);
  const dst = interPrefix(a.dst, b.dst);
  const sport = interRange(a.sport, b.sport);
  const dport = interRange(a.dport, b.dport);
  const origDport = interRange(a.origDport, b.origDport);
  const inn = interEq(a.in, b.in);
  const out = interEq(a.out, b.out);
  if (family === null || proto === null || src === null || dst === null || sport === null || dport === null || inn === null || out === null)
    return undefined;
  if (origDport === null) return undefined;
  if (
    (src && family !== undefined && src.v !== family) ||
    (dst && family !== undefined && dst.v !== family) ||
    (src && dst && src.v !== dst.v)
  )
    return undefined;
  if ((sport || dport || origDport) && proto === "icmp") return undefined;
  let state: readonly CtState[] | undefined = a.state ?? b.state;
  if (a.state && b.state) {
    state = a.state.filter((s) => b.state!.includes(s));
    if (!state.length) return undefined;
  }
  const fam = family ?? src?.v ?? dst?.v;
  return {
    ...(fam !== undefined ? { family: fam } : {}),
    ...(proto !== undefined ? { proto } : {}),
    ...(src ? { src } : {}),
    ...(dst ? { dst } : {}),
    ...(sport ? { sport } : {}),
    ...(dport ? { dport } : {}),
    ...(origDport ? { origDport } : {}),
    ...(inn !== undefined ? { in: inn } : {}),
    ...(out !== undefined ? { out } : {}),
    ...(state && state.length < STATES.length ? { state } : {}),
  };
}

/** (∪ a) ∩ (∪ b), dropping empty intersections; throws TooLarge past `cap`. */
export function and(a: Cond, b: Cond, cap: number): Cond {
  if (a.length === 1 && Object.keys(a[0]!).length === 0) return b;
  if (b.length === 1 && Object.keys(b[0]!).length === 0) return a;
  const out: FMatch[] = [];
  for (const x of a) {
    for (const y of b) {
      const m = intersect(x, y);
      if (m) {
        out.push(m);
        if (out.length > cap) throw new TooLarge();
      }
    }
  }
  return out;
}

/** The prefixes covering everything of p's family outside p (at most p.len of them). */
export function prefixComplement(p: Prefix): Prefix[] {
  const out: Prefix[] = [];
  const width = bits(p.v);
  for (let len = 1; len <= p.len; len++) {
    const flipped = (p.n ^ (1n << BigInt(width - len))) & mask(p.v, len);
    out.push({ v: p.v, n: flipped, len });
  }
  return out;
}

/** The prefixes of family `v` outside every prefix of `set` (the complement of a union). */
export function prefixSetComplement(v: Family, set: readonly Prefix[]): Prefix[] {
  let rest: Prefix[] = [{ v, n: 0n, len: 0 }];
  for (const p of set) {
    if (p.v !== v) continue;
    const next: Prefix[] = [];
    for (const q of rest) {
      if (prefixContains(p, q)) continue;
      if (prefixContains(q, p)) {
        // q minus p: the siblings of p's ancestors below q
        for (const c of prefixComplement(p)) if (c.len > q.len) next.push(c);
      } else next.push(q);
    }
    rest = next;
  }
  return rest;
}

export function rangeComplement(r: PortRange): PortRange[] {
  return [...(r.lo > 0 ? [{ lo: 0, hi: r.lo - 1 }] : []), ...(r.hi < 65535 ? [{ lo: r.hi + 1, hi: 65535 }] : [])];
}

/** The complement of one conjunction, as a union of disjoint positive conjunctions. */
export function complement(m: FMatch, u: Universe): FMatch[] {
  const out: FMatch[] = [];
  let acc: FMatch = {};
  const step = (negs: FMatch[], pos: FMatch) => {
    for (const n of negs) {
      const x = intersect(acc, n);
      if (x) out.push(x);
    }
    acc = intersect(acc, pos)!;
  };
  if (m.family !== undefined) step([{ family: m.family === 4 ? 6 : 4 }], { family: m.family });
  if (m.proto !== undefined)
    step(
      PROTOS.filter((p) => p !== m.proto).map((proto) => ({ proto })),
      { proto: m.proto },
    );
  if (m.src)
    step(
      prefixComplement(m.src).map((src) => ({ family: src.v, src })),
      { family: m.src.v, src: m.src },
    );
  if (m.dst)
    step(
      prefixComplement(m.dst).map((dst) => ({ family: dst.v, dst })),
      { family: m.dst.v, dst: m.dst },
    );
  if (m.sport)
    step(
      rangeComplement(m.sport).map((sport) => ({ sport })),
      { sport: m.sport },
    );
  if (m.dport)
    step(
      rangeComplement(m.dport).map((dport) => ({ dport })),
      { dport: m.dport },
    );
  // a packet without a conntrack entry (state invalid) matches no original port, so it is in the complement too
  if (m.origDport)
    step([...rangeComplement(m.origDport).map((origDport) => ({ origDport })), { state: ["invalid"] as const }], {
      origDport: m.origDport,
    });
  for (const key of ["in", "out"] as const) {
    const name = m[key];
    if (name === undefined) continue;
    if (!u.ifaces) throw new NeedsInterfaces();
    step(
      u.ifaces.filter((i) => i !== name).map((i) => ({ [key]: i })),
      { [key]: name },
    );
  }
  if (m.state) step([{ state: STATES.filter((s) => !m.state!.includes(s)) }], { state: m.state });
  return out;
}

/** ¬(∪ c): the intersection of the complements. */
export function not(c: Cond, u: Universe, cap: number): Cond {
  let out: Cond = ALL;
  for (const m of c) {
    out = and(out, complement(m, u), cap);
    if (!out.length) break;
  }
  return out;
}

/** a ∩ ¬b, one conjunction of b at a time; disjuncts of a that do not overlap it are kept whole. */
export function minus(a: Cond, b: Cond, u: Universe, cap: number): Cond {
  let cur = a;
  for (const s of b) {
    const next: FMatch[] = [];
    let comp: FMatch[] | undefined;
    for (const g of cur) {
      if (!intersect(g, s)) {
        next.push(g);
        continue;
      }
      comp ??= complement(s, u);
      for (const c of comp) {
        const x = intersect(g, c);
        if (x) next.push(x);
      }
      if (next.length > cap) throw new TooLarge();
    }
    cur = next;
    if (!cur.length) break;
  }
  return cur;
}

/** Does `outer` match every packet `inner` matches? */
export function subsumes(outer: FMatch, inner: FMatch): boolean {
  const range = (o: PortRange | undefined, i: PortRange | undefined) => !o || (i !== undefined && o.lo <= i.lo && i.hi <= o.hi);
  return (
    (outer.family === undefined || outer.family === inner.family) &&
    (outer.proto === undefined || outer.proto === inner.proto) &&
    (!outer.src || (inner.src !== undefined && prefixContains(outer.src, inner.src))) &&
    (!outer.dst || (inner.dst !== undefined && prefixContains(outer.dst, inner.dst))) &&
    range(outer.sport, inner.sport) &&
    range(outer.dport, inner.dport) &&
    range(outer.origDport, inner.origDport) &&
    (outer.in === undefined || outer.in === inner.in) &&
    (outer.out === undefined || outer.out === inner.out) &&
    (!outer.state || (inner.state !== undefined && inner.state.every((s) => outer.state!.includes(s))))
  );
}

/** Unions this large are left as they are by `absorb` (quadratic). */
const ABSORB_LIMIT = 1500;

/** The union without disjuncts another one contains (and without duplicates). */
export function absorb(c: Cond): Cond {
  const list = dedupe(c);
  if (list.length > ABSORB_LIMIT) return list;
  return list.filter((x, i) => !list.some((y, j) => j !== i && subsumes(y, x) && (!subsumes(x, y) || j < i)));
}

/** A key equal for equal matches, to drop duplicates from a union. */
export function keyOf(m: FMatch): string {
  const p = (x: { v: number; n: bigint; len: number } | undefined) => (x ? `${x.v}:${x.n}/${x.len}` : "");
  const r = (x: { lo: number; hi: number } | undefined) => (x ? `${x.lo}-${x.hi}` : "");
  return [
    m.family ?? "",
    m.proto ?? "",
    p(m.src),
    p(m.dst),
    r(m.sport),
    r(m.dport),
    r(m.origDport),
    m.in ?? "",
    m.out ?? "",
    m.state?.join(",") ?? "",
  ].join("|");
}

export function dedupe(c: Cond): Cond {
  const seen = new Set<string>();
  return c.filter((m) => {
    const k = keyOf(m);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const STATE_ORDER = new Map(STATES.map((s, i) => [s, i]));
/** A state set in canonical order, or undefined when it is every state. */
export function stateSet(states: Iterable<CtState>): readonly CtState[] | undefined {
  const list = [...new Set(states)].sort((a, b) => STATE_ORDER.get(a)! - STATE_ORDER.get(b)!);
  return list.length === STATES.length ? undefined : list;
}

/** "10.0.0.1" for a host prefix, else "10.0.0.0/8". */
export function prefixText(p: Prefix): string {
  return p.len === bits(p.v) ? formatIP(p) : `${formatIP(p)}/${p.len}`;
}

export function rangeText(r: PortRange): number | string {
  return r.lo === r.hi ? r.lo : `${r.lo}-${r.hi}`;
}
