/**
 * Deciding a query with Z3: explore every way the exchange can succeed
 * (connect.ts), hand the disjunction of their conditions to the solver, and
 * decode a model into the concrete dial a client would make.
 *
 *   A -> B:P     dst (either family), dport and sport free; success = B's service on P
 *   A -> ADDR:P  dst and dport fixed, sport free; success = whatever answers
 *   A -> localhost:P  both 127.0.0.1 and ::1
 *
 * The domain: dport 1-65535, sport 1024-65535 (an unprivileged client may bind
 * any), IPv6 destinations other than :: and ::ffff:0:0/96 (those behave as
 * ::1 and as the IPv4 dial). ICMP echo: identifier 1.
 */
import { LOOPBACK4, LOOPBACK6, type Family, type IP } from "../net/addr.js";
import type { Network } from "../ir/types.js";
import type { Query } from "../ir/query.js";
import { DEFAULT_SPORT, ECHO_ID, type Dial } from "../ir/dial.js";
import { attemptS, type Goal, type Path, type SDial } from "./connect.js";
import { decisionText, type Decision } from "../ir/decision.js";
import { coreOf, solve } from "./solver.js";
import { and, eqAddr, evaluate, inPorts, not, or, size, type AV, type F, type PV } from "./term.js";
import { BoundHit, Explorer, type St } from "./walk.js";
import { FULL, refine } from "./domain.js";

const SPORTS = { lo: 1024, hi: 65535 };

export interface DecideOptions {
  readonly timeoutMs?: number;
  /** Branches the exploration may take before answering unknown. */
  readonly budget?: number;
  readonly smt2?: boolean;
  /** Witness preferences: addresses and ports a person would dial first. */
  readonly nice?: { readonly addrs: readonly IP[]; readonly ports: readonly number[] };
  /** A dial known to work (the simulator's): when it satisfies one of the symbolic paths it is the witness, with no solver call. */
  readonly hint?: Dial;
  /** "any": take the first model (no extra checks for a familiar witness). */
  readonly witness?: "familiar" | "any";
}

export interface SmtStats {
  readonly paths: number;
  readonly forks: number;
  readonly nodes: number;
  readonly exploreMs: number;
  readonly solveMs: number;
  /** reachable: the hint satisfies a path (no solver call) */
  readonly certified?: boolean;
}

export interface SmtDecision {
  readonly verdict: "reachable" | "unreachable" | "unknown";
  readonly dial?: Dial;
  /** unknown: why */
  readonly reason?: string;
  readonly stats: SmtStats;
  readonly smt2?: string;
  /** unreachable with candidate paths: for the cheapest few, the decision points whose conditions contradict each other (unsat cores) */
  readonly cores?: readonly Core[];
}

/** An unsat core: the decisions (ir/decision.ts) that together rule out one candidate path; `query` stands for the query's domain. */
export interface Core {
  readonly machine: string;
  readonly socket?: string;
  readonly decisions: readonly Decision[];
}

export interface Found {
  readonly path: Path;
  readonly dial: SDial;
}

export function dialsOf(q: Query): SDial[] {
  const port: PV = q.proto === "icmp" ? { k: "c", n: 0 } : { k: "v", name: "dport" };
  const sport: PV = q.proto === "icmp" ? { k: "c", n: ECHO_ID } : { k: "v", name: "sport" };
  const t = q.target;
  const fixed = (ip: IP): SDial => ({ from: q.from, proto: q.proto, dst: { k: "c", ip }, dport: { k: "c", n: q.port ?? 0 }, sport });
  if (t.kind === "address") return [fixed(t.ip)];
  if (t.kind === "localhost") return [fixed(LOOPBACK4), fixed(LOOPBACK6)];
  return ([4, 6] as Family[]).map((v) => ({ from: q.from, proto: q.proto, dst: { k: "v", v } as AV, dport: port, sport }));
}

/** The packet variables' domain (asserted with every query). */
export const DOMAIN: F = and(
  inPorts({ k: "v", name: "dport" }, 1, 65535),
  inPorts({ k: "v", name: "sport" }, SPORTS.lo, SPORTS.hi),
  // the dialed-address variables only: a query may name 0.0.0.0, :: or an IPv4-mapped address
  // itself. Dialing 0.0.0.0 or :: is dialing the loopback address, which the domain holds: the
  // kernel connects the socket to it before any hook sees a packet (smt/connect.ts maps a named one)
  not(eqAddr({ k: "v", v: 4 }, { k: "c", ip: { v: 4, n: 0n } })),
  not(eqAddr({ k: "v", v: 6 }, { k: "c", ip: { v: 6, n: 0n } })),
  not({ t: "pfx", p: { v: 6, n: 0xffffn << 32n, len: 96 } }),
);

/** Every way the query can succeed, cheapest first, or the bound that stopped the exploration. */
export function explore(net: Network, q: Query, budget: number, deadline: number): { found: Found[]; forks: number; hit?: string } {
  const x = new Explorer(net, budget, deadline);
  const goal: Goal = q.target.kind === "machine" ? { machine: q.target.machine, ...(q.port !== undefined ? { port: q.port } : {}) } : {};
  const found: Found[] = [];
  // the domain itself narrows the exploration from the start (it is asserted to Z3 too)
  const st0: St = { pc: [], why: [], dom: refine(FULL, DOMAIN)!, ct: new Map() };
  try {
    for (const dial of dialsOf(q)) attemptS(x, st0, dial, goal, (path) => found.push({ path, dial }));
  } catch (e) {
    if (!(e instanceof BoundHit)) throw e;
    return { found, forks: x.forks, hit: e.why };
  }
  found.sort((a, b) => a.path.cost - b.path.cost);
  return { found, forks: x.forks };
}

/** A solver model's packet variables (both address families). */
export interface PacketModel {
  readonly dst4: IP;
  readonly dst6: IP;
  readonly dport: number;
  readonly sport: number;
}

/** Does this packet get through one of the found paths? */
export const carries = (found: readonly Found[], p: PacketModel): boolean => decodeDial(found, p) !== undefined;

/** The paths' disjunction: some path carries the packet. */
export const pathsFormula = (found: readonly Found[]): F => or(...found.map((f) => and(...f.path.pc)));

/** The ports' part of the domain: what a dial to a fixed address is checked against. */
const PORT_DOMAIN: F = and(inPorts({ k: "v", name: "dport" }, 1, 65535), inPorts({ k: "v", name: "sport" }, SPORTS.lo, SPORTS.hi));

/** The domain a path of this dial is evaluated under: the address constraints bind the address variable, not a fixed address. */
const domainOf = (dial: SDial): F => (dial.dst.k === "c" ? PORT_DOMAIN : DOMAIN);

/**
 * The hint itself when it satisfies one of the paths of its own dial (the same family, and the
 * same fixed address and ports): a model of the paths' disjunction, found without the solver.
 */
function certify(found: readonly Found[], hint: Dial): Dial | undefined {
  const fits = (p: PV, n: number) => p.k === "v" || p.n === n;
  for (const f of found) {
    const d = f.dial;
    if (d.from !== hint.from || d.proto !== hint.proto) continue;
    if (d.dst.k === "c" ? d.dst.ip.v !== hint.dst.v || d.dst.ip.n !== hint.dst.n : d.dst.v !== hint.dst.v) continue;
    if (!fits(d.dport, hint.dport) || !fits(d.sport, hint.sport)) continue;
    // a port the dial fixes (an ICMP echo has none) leaves its variable free: any value of the domain will do
    const a = { dst: hint.dst, dport: d.dport.k === "v" ? hint.dport : 1, sport: d.sport.k === "v" ? hint.sport : SPORTS.lo };
    if (evaluate(and(domainOf(d), ...f.path.pc), a)) return hint;
  }
  return undefined;
}

/** The concrete dial of a model: the path it satisfies (checked here, not taken on trust). */
function decodeDial(found: readonly Found[], model: PacketModel): Dial | undefined {
  for (const f of found) {
    const fam = f.dial.dst.k === "c" ? f.dial.dst.ip.v : f.dial.dst.v;
    const dst = f.dial.dst.k === "c" ? f.dial.dst.ip : fam === 4 ? model.dst4 : model.dst6;
    const a = { dst, dport: model.dport, sport: model.sport };
    if (!evaluate(and(domainOf(f.dial), ...f.path.pc), a)) continue;
    const val = (p: PV) => (p.k === "c" ? p.n : a[p.name]);
    return { from: f.dial.from, proto: f.dial.proto, dst, dport: val(f.dial.dport), sport: val(f.dial.sport) };
  }
  return undefined;
}

let lastTurn = performance.now();
/**
 * Lets the event loop turn now and then: a run of decisions that need no solver call would
 * otherwise only chain promises, and timers and I/O (the solver's own start, a watch, a
 * progress bar) would wait until the whole run is over.
 */
async function turn(): Promise<void> {
  if (performance.now() - lastTurn < 50) return;
  await new Promise((r) => setImmediate(r));
  lastTurn = performance.now();
}

export async function decide(net: Network, q: Query, opts: DecideOptions = {}): Promise<SmtDecision> {
  await turn();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const t0 = performance.now();
  const explored = explore(net, q, opts.budget ?? 200_000, Date.now() + timeoutMs);
  const { found, forks } = explored;
  if (explored.hit !== undefined) {
    return {
      verdict: "unknown",
      reason: `bound hit: ${explored.hit}`,
      stats: { paths: found.length, forks, nodes: 0, exploreMs: performance.now() - t0, solveMs: 0 },
    };
  }
  const exploreMs = performance.now() - t0;
  const alternatives = found.map((f) => and(...f.path.pc));
  const seen = new Set<F>();
  const nodes = alternatives.reduce((n, a) => n + size(a, seen), 0);
  // preferences for the witness only: the cheapest paths first, with the default source port and familiar addresses and ports
  const nice: F[] = [];
  if (q.proto !== "icmp") nice.push(inPorts({ k: "v", name: "sport" }, DEFAULT_SPORT, DEFAULT_SPORT));
  if (opts.nice) {
    nice.push(or(...opts.nice.addrs.map((ip) => eqAddr({ k: "v", v: ip.v }, { k: "c", ip }))));
    if (q.proto !== "icmp") nice.push(or(...opts.nice.ports.map((p) => inPorts({ k: "v", name: "dport" }, p, p))));
  }
  // the dial the simulator's usual candidates found, if any, then the cheapest path with familiar values
  const prefer: F[][] = [];
  if (opts.hint) {
    const h = opts.hint;
    const at = eqAddr({ k: "v", v: h.dst.v }, { k: "c", ip: h.dst });
    // a ping's ports are constants of its dial (no port, the echo identifier): its port variables
    // are free, and the domain keeps them away from the hint's 0 and 1, so only the address is asked
    prefer.push([
      q.proto === "icmp"
        ? at
        : and(at, inPorts({ k: "v", name: "dport" }, h.dport, h.dport), inPorts({ k: "v", name: "sport" }, h.sport, h.sport)),
    ]);
  }
  if (alternatives[0]) prefer.push([alternatives[0], ...nice]);
  if (nice.length) prefer.push(nice);
  // a known dial that satisfies a path is a model already: the verdict needs no search
  const certified = opts.hint && !opts.smt2 ? certify(found, opts.hint) : undefined;
  if (certified)
    return { verdict: "reachable", dial: certified, stats: { paths: found.length, forks, nodes, exploreMs, solveMs: 0, certified: true } };
  // no path at all: the disjunction is empty (false); nothing for the solver to do unless the query is to be exported
  if (!found.length && !opts.smt2) return { verdict: "unreachable", stats: { paths: 0, forks, nodes: 0, exploreMs, solveMs: 0 } };
  const remaining = Math.max(1, timeoutMs - exploreMs);
  const r = await solve(DOMAIN, alternatives, {
    timeoutMs: remaining,
    ...(opts.smt2 ? { smt2: true } : {}),
    prefer: opts.witness === "any" ? [] : prefer,
  });
  const stats: SmtStats = { paths: found.length, forks, nodes, exploreMs, solveMs: r.ms };
  const text = r.smt2 !== undefined ? { smt2: r.smt2 } : {};
  if (r.status === "unknown") return { verdict: "unknown", reason: `solver: ${r.reason}`, stats, ...text };
  if (r.status === "unsat") {
    const cores: Core[] = [];
    for (const f of found.slice(0, 3)) {
      const decisions = await coreDecisions(f.path, Math.max(1, timeoutMs - (performance.now() - t0)));
      if (decisions) cores.push({ machine: f.path.machine, ...(f.path.socket ? { socket: f.path.socket.owner } : {}), decisions });
    }
    return { verdict: "unreachable", stats, ...text, ...(cores.length ? { cores } : {}) };
  }
  // which alternative does the model satisfy? (also a check that the model means what we think)
  const dial = decodeDial(found, r.model);
  if (!dial) throw new Error("internal: the solver's model satisfies none of the paths it was given");
  return { verdict: "reachable", dial, stats, ...text };
}

/** The decisions of a path's unsat core, in path order, each once (the solver's labels are the conditions' indices). */
async function coreDecisions(path: Path, timeoutMs: number): Promise<Decision[] | undefined> {
  const labels = await coreOf(
    DOMAIN,
    path.pc,
    path.pc.map((_, i) => String(i)),
    timeoutMs,
  );
  if (!labels) return undefined;
  const picked = labels.map((l) =>
    /^\d+$/.test(l) ? { i: Number(l), d: path.why[Number(l)]! } : { i: -1, d: { kind: "query" } as const },
  );
  picked.sort((a, b) => a.i - b.i);
  const seen = new Set<string>();
  return picked.map((p) => p.d).filter((d) => !seen.has(decisionText(d)) && !!seen.add(decisionText(d)));
}

/**
 * A packet of `q` that `a` delivers and `b` does not, decided symbolically: the
 * paths of both versions are conditions over the same variables, so Z3 solves
 * (some path of a) and not (any path of b). `none`: every packet that works in
 * `a` works in `b` too.
 */
export async function decideDifference(
  a: Network,
  b: Network,
  q: Query,
  opts: { timeoutMs?: number } = {},
): Promise<{ verdict: "differs" | "none" | "unknown"; dial?: Dial; reason?: string }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const ea = explore(a, q, 200_000, deadline);
  const eb = explore(b, q, 200_000, deadline);
  const hit = ea.hit ?? eb.hit;
  if (hit !== undefined) return { verdict: "unknown", reason: `bound hit: ${hit}` };
  if (!ea.found.length) return { verdict: "none" };
  const inA = pathsFormula(ea.found);
  const inB = pathsFormula(eb.found);
  const r = await solve(DOMAIN, [and(inA, not(inB))], { timeoutMs: Math.max(1, deadline - Date.now()) });
  if (r.status === "unknown") return { verdict: "unknown", reason: `solver: ${r.reason}` };
  if (r.status === "unsat") return { verdict: "none" };
  const dial = decodeDial(ea.found, r.model);
  if (!dial) throw new Error("internal: the solver's model satisfies none of the paths it was given");
  return { verdict: "differs", dial };
}
