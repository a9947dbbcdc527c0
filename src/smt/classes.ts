/**
 * All pairs by classes, the symbolic side: from one source machine, every service of every
 * machine in one exploration, then each service decided over the packet classes of its own
 * paths, with Z3 only where the classes are too many.
 *
 * One exploration. The per-flow decision of "A -> B:P/proto" (decide.ts) explores every way
 * the exchange can go from A with the dialed address, port and source port free, pruning a
 * delivery to any other service and not walking into hosts that could only end the packet
 * (connect.ts passesOn). Exploring once with the services of a set of machines wanted
 * (connect.ts Goal.services, B among them) prunes less: the paths that end at B's service on P
 * are exactly the per-flow exploration's paths, each with the same condition, and every fork
 * the per-flow exploration makes is made here too, outside the scopes of the other services
 * (the forks below each service's delivery are counted apart: walk.ts Explorer.scoped). So the
 * forks outside every scope plus B:P's own bound the per-flow exploration's size from above:
 * when that is within the per-flow budget, the per-flow exploration did not hit its bound;
 * otherwise (rare: the per-flow exploration is small) the service is left to its per-flow
 * decision, as is every service of an exploration that ran over its cap or out of time. So
 * "unknown (bound hit)" is exactly where the per-flow engine says it.
 *
 * Deciding a service. Its verdict is whether the disjunction of its paths' conditions (with
 * the query domain) is satisfiable, as Z3 would be asked per flow. A condition is built from
 * prefix atoms on the dialed address, range atoms on the two ports, the equality of the two
 * ports, first-match chains and Boolean connectives (term.ts); such a formula's truth is
 * constant on each class of the partition its atoms' bounds cut (the argument of
 * sim/exhaustive.ts, applied to one formula): the address classes start at each prefix's first
 * address and one past its last, the port classes at each range's low end and one past its high
 * end (one cut set for both ports, so a class of one is a class of the other), and `sport =
 * dport` is covered by also trying, for each destination port, itself and the next port as
 * source ports. The path's interval domain (domain.ts, exact for single-variable conjuncts)
 * restricts the representatives to where the path can hold at all. A representative that
 * satisfies the condition is a model (and the witness); none satisfying is unsat. Conditions
 * with more representatives than MAX_CLASSES go to Z3 together.
 */
import type { Network } from "../ir/types.js";
import type { Dial } from "../ir/dial.js";
import { DEFAULT_SPORT } from "../ir/dial.js";
import { attemptS, serviceKey, type Goal, type Path, type SDial } from "./connect.js";
import { dialsOf, DOMAIN, type Found } from "./decide.js";
import { FULL, refine, type Intervals } from "./domain.js";
import { solve } from "./solver.js";
import { and, evaluate, type F } from "./term.js";
import { BoundHit, Explorer, type St } from "./walk.js";

export { serviceKey };

/** Representatives tried per path before the path is left to Z3. */
export const MAX_CLASSES = 20_000;

/** The per-flow exploration's branch budget (decide.ts' default). */
export const FLOW_BUDGET = 200_000;

/** One source's exploration of every service, or the bound that stopped it. */
export interface ServicesExplored {
  /** the paths to each service, by serviceKey, cheapest first */
  readonly paths: ReadonlyMap<string, readonly Found[]>;
  /** forks outside every service's scope (every per-flow exploration makes them) */
  readonly common: number;
  /** forks below each service's delivery */
  readonly scoped: ReadonlyMap<string, number>;
  /** the exploration itself ran over its cap or out of time: nothing above is complete */
  readonly hit?: string;
}

/** Explores every way `from` reaches any service of `machines` over `proto`; `cap` bounds the whole exploration. */
export function exploreServices(
  net: Network,
  from: string,
  proto: "tcp" | "udp",
  machines: ReadonlySet<string>,
  cap: number,
  deadline: number,
): ServicesExplored {
  const x = new Explorer(net, cap, deadline);
  const goal: Goal = { services: machines };
  const paths = new Map<string, Found[]>();
  const st0: St = { pc: [], why: [], dom: refine(FULL, DOMAIN)!, ct: new Map() };
  const query = { text: "", from, target: { kind: "machine" as const, machine: from }, proto };
  try {
    for (const dial of dialsOf(query)) {
      attemptS(x, st0, dial, goal, (path) => {
        const key = serviceKey(path.machine, path.socket!.port);
        let list = paths.get(key);
        if (!list) paths.set(key, (list = []));
        list.push({ path, dial });
      });
    }
  } catch (e) {
    if (!(e instanceof BoundHit)) throw e;
    return { paths, common: 0, scoped: x.scopedForks, hit: e.why };
  }
  for (const list of paths.values()) list.sort((a, b) => a.path.cost - b.path.cost);
  let scopedTotal = 0;
  for (const n of x.scopedForks.values()) scopedTotal += n;
  return { paths, common: x.forks - scopedTotal, scoped: x.scopedForks };
}

/** A service's verdict from the source, as the per-flow decision would give it. */
export interface ServiceDecision {
  readonly verdict: "reachable" | "unreachable" | "unknown";
  /** reachable: a dial of some path's class (not yet replayed) */
  readonly dial?: Dial;
  readonly reason?: string;
  /** candidate paths (the per-flow decision's `paths`) */
  readonly paths: number;
  /** how it was decided: by the classes of the paths' conditions, or by Z3 */
  readonly by: "classes" | "z3";
}

/** The sorted cut points of one path's atoms. */
interface Cuts {
  readonly dst: bigint[];
  readonly ports: bigint[];
  readonly peq: boolean;
}

/** Collects the bounds of every atom of `f`; false when it holds an atom the classes do not cover (a configuration parameter). */
function collect(f: F, v: 4 | 6, c: { dst: Set<bigint>; ports: Set<bigint>; peq: boolean }, seen: Set<F>): boolean {
  if (seen.has(f)) return true;
  seen.add(f);
  switch (f.t) {
    case "true":
    case "false":
      return true;
    case "and":
    case "or":
      return f.xs.every((y) => collect(y, v, c, seen));
    case "not":
      return collect(f.x, v, c, seen);
    case "chain":
      return f.rules.every((r) => collect(r.m, v, c, seen));
    case "pfx": {
      if (f.p.v !== v) return true;
      const size = 1n << BigInt((v === 4 ? 32 : 128) - f.p.len);
      const lo = f.p.n & ~(size - 1n);
      c.dst.add(lo).add(lo + size);
      return true;
    }
    case "rng":
      c.ports.add(BigInt(f.lo)).add(BigInt(f.hi) + 1n);
      return true;
    case "peq":
      c.peq = true;
      return true;
    case "cfg":
      return false;
  }
}

/** The representatives of a variable: each interval's low end and every cut inside it, `first` (when allowed) leading. */
function reps(set: Intervals, cuts: readonly bigint[], limit: number, first?: bigint): bigint[] | undefined {
  const out: bigint[] = [];
  if (first !== undefined && set.some(([lo, hi]) => first >= lo && first <= hi)) out.push(first);
  for (const [lo, hi] of set) {
    if (lo !== first) out.push(lo);
    // cuts are sorted: from the first one above lo
    let i = lowerBound(cuts, lo + 1n);
    for (; i < cuts.length && cuts[i]! <= hi; i++) if (cuts[i] !== first) out.push(cuts[i]!);
    if (out.length > limit) return undefined;
  }
  return out;
}

function lowerBound(xs: readonly bigint[], x: bigint): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const sorted = (s: Set<bigint>): bigint[] => [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * A model of one path's condition found among its classes' representatives, "unsat" when none
 * satisfies it, or undefined when the classes are too many (or not covered): Z3 decides.
 */
export function classModel(found: Found, preferPort?: number, maxClasses = MAX_CLASSES): Dial | "unsat" | undefined {
  const { dial, path } = found;
  if (dial.dst.k !== "v" || dial.dport.k !== "v" || dial.sport.k !== "v") return undefined;
  const v = dial.dst.v;
  const f = and(DOMAIN, ...path.pc);
  const dom = refine(FULL, f);
  if (!dom) return "unsat";
  const acc = { dst: new Set<bigint>(), ports: new Set<bigint>(), peq: false };
  if (!collect(f, v, acc, new Set())) return undefined;
  const cuts: Cuts = { dst: sorted(acc.dst), ports: sorted(acc.ports), peq: acc.peq };
  const dsts = reps(v === 4 ? dom.dst4 : dom.dst6, cuts.dst, maxClasses);
  const dports = reps(dom.dport, cuts.ports, maxClasses, preferPort !== undefined ? BigInt(preferPort) : undefined);
  const sports = reps(dom.sport, cuts.ports, maxClasses, BigInt(DEFAULT_SPORT));
  if (!dsts || !dports || !sports) return undefined;
  const perPort = sports.length + (cuts.peq ? 2 : 0);
  if (dsts.length * dports.length * perPort > maxClasses) return undefined;
  const inSport = (p: bigint) => dom.sport.some(([lo, hi]) => p >= lo && p <= hi);
  for (const dst of dsts) {
    for (const dport of dports) {
      // sport = dport and sport one past it: the two cases of a shared class (see the file comment)
      const extra = cuts.peq ? [dport, dport + 1n].filter((p) => inSport(p) && !sports.includes(p)) : [];
      for (const sport of [...sports, ...extra]) {
        const a = { dst: { v, n: dst }, dport: Number(dport), sport: Number(sport) };
        if (evaluate(f, a)) return { from: dial.from, proto: dial.proto, ...a };
      }
    }
  }
  return "unsat";
}

/** The paths' disjunction decided by Z3 (the classes were too many): its model decoded on the path it satisfies. */
async function z3Decision(open: readonly Found[], timeoutMs: number): Promise<Pick<ServiceDecision, "verdict" | "dial" | "reason">> {
  const r = await solve(
    DOMAIN,
    open.map((f) => and(...f.path.pc)),
    { timeoutMs },
  );
  if (r.status === "unknown") return { verdict: "unknown", reason: `solver: ${r.reason}` };
  if (r.status === "unsat") return { verdict: "unreachable" };
  for (const { dial, path } of open) {
    if (dial.dst.k !== "v") continue;
    const a = { dst: dial.dst.v === 4 ? r.model.dst4 : r.model.dst6, dport: r.model.dport, sport: r.model.sport };
    if (evaluate(and(DOMAIN, ...path.pc), a)) return { verdict: "reachable", dial: { from: dial.from, proto: dial.proto, ...a } };
  }
  throw new Error("internal: the solver's model satisfies none of the paths it was given");
}

/**
 * One service's verdict from an exploration: its paths' classes, then Z3 for what is left;
 * undefined when the per-flow exploration might have hit its bound (decide it per flow).
 */
export async function decideService(
  explored: ServicesExplored,
  key: string,
  port: number,
  opts: { readonly budget?: number; readonly timeoutMs: number; readonly maxClasses?: number },
): Promise<ServiceDecision | undefined> {
  if (explored.hit !== undefined || flowForksAtMost(explored, key) > (opts.budget ?? FLOW_BUDGET)) return undefined;
  const found = explored.paths.get(key) ?? [];
  const open: Found[] = [];
  for (const f of found) {
    const m = classModel(f, port, opts.maxClasses);
    if (m === undefined) open.push(f);
    else if (m !== "unsat") return { verdict: "reachable", dial: m, paths: found.length, by: "classes" };
  }
  if (!open.length) return { verdict: "unreachable", paths: found.length, by: "classes" };
  return { ...(await z3Decision(open, opts.timeoutMs)), paths: found.length, by: "z3" };
}

/** Does a concrete dial satisfy one of the paths (of its own family)? As decide.ts certifies the simulator's dial. */
export function satisfiedBy(found: readonly Found[], dial: Dial): boolean {
  const a = { dst: dial.dst, dport: dial.dport, sport: dial.sport };
  return found.some(
    (f) =>
      f.dial.from === dial.from &&
      f.dial.proto === dial.proto &&
      f.dial.dst.k === "v" &&
      f.dial.dst.v === dial.dst.v &&
      evaluate(and(DOMAIN, ...f.path.pc), a),
  );
}

/** An upper bound of the per-flow exploration's forks for a service (see the file comment). */
export const flowForksAtMost = (explored: ServicesExplored, key: string): number => explored.common + (explored.scoped.get(key) ?? 0);

export type { Path, SDial };
