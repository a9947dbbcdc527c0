/**
 * Symbolic execution of one packet's trip (the twin of sim/walk.ts): the same
 * netfilter order and conntrack rules, over packets whose fields may be the
 * query's variables. Every decision that depends on a variable forks the path;
 * each path carries the conjunction of its decisions (its path condition).
 *
 * Only ways forward are followed: a branch that drops, rejects or misroutes the
 * packet is simply not continued, so the paths that come out are exactly the
 * ways the exchange can succeed, and the query is the disjunction of their
 * conditions. A decision on constants folds as it is built (term.ts), and an
 * equality that fixes a variable pins it for the rest of the path, so most of a
 * topology is explored without any symbolic work.
 *
 * The walk is split into the same named stages as sim/walk.ts, each with an S
 * suffix (docs/engines.md): originateS/outputS (a local packet), arriveS,
 * preroutingS, martianS, localTableS, rpFilterS, then inputS/deliverLocalS/
 * socketS (local delivery) or forwardS/transmitS (forwarding). Every condition
 * is assumed under a Decision (ir/decision.ts), and so is every prune.
 */
import { LOOPBACK4, LOOPBACK6, type IP } from "../net/addr.js";
import { machineIndex, type Machine, type Network } from "../ir/types.js";
import {
  applyNatS,
  evalChainByRuleS,
  evalChainS,
  famOf,
  isLinkLocal6S,
  isLocalS,
  isLoopbackS,
  isMartianDestinationS,
  lookupRouteS,
  lookupSocketS,
  ndSourceS,
  NeighbourIndex,
  type NatOutcome,
  resolveNeighbourS,
  solicitedNodeS,
  type SPacket,
} from "./elements.js";
import { ac, and, eqAddr, eqPort, FALSE, inPrefix, not, or, TRUE, type AV, type Cases, type F, type PV } from "./term.js";
import { judge, refine, single, type Dom } from "./domain.js";
import type { NatRule, Route, Socket } from "../ir/types.js";
import type { Decision, NatHook } from "../ir/decision.js";
import { MAX_HOPS, NAT_REMAPPED_PORT } from "../ir/dial.js";

/** A conntrack entry (the twin of sim `CtEntry`). */
export interface CtEntryS {
  readonly orig: SPacket;
  readonly reply: SPacket;
  readonly replySeen: boolean;
}

/** One path's state: its condition, what it has fixed, and its conntrack tables. */
export interface St {
  readonly pc: readonly F[];
  /** for each condition, the decision point that imposed it (for explaining infeasible paths) */
  readonly why: readonly Decision[];
  /** what the conditions so far allow each variable (domain.ts) */
  readonly dom: Dom;
  readonly ct: ReadonlyMap<string, readonly CtEntryS[]>;
  /** IPv6 neighbour entries made so far in the exchange: `machine` knows `addr` on `iface` (the twin of sim `neighbours`) */
  readonly nd?: readonly { readonly machine: string; readonly iface: string; readonly addr: AV }[];
  /** A TCP reply of this leg crossed a machine holding no entry (`invalid` there): the server's data gets its own walk (connect.ts) */
  readonly noEntry?: boolean;
}

/** The exploration ran out of its path budget or time: the answer is unknown, never unreachable. */
export class BoundHit extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/** Built once per network (a lowered network is never changed): a query's walk starts without rebuilding them. */
const neighbourIndexes = new WeakMap<Network, NeighbourIndex>();

export class Explorer {
  readonly neighbours: NeighbourIndex;
  readonly machines: ReadonlyMap<string, Machine>;
  forks = 0;
  constructor(
    readonly net: Network,
    readonly budget: number,
    readonly deadline: number,
  ) {
    let nb = neighbourIndexes.get(net);
    if (!nb) neighbourIndexes.set(net, (nb = new NeighbourIndex(net)));
    this.neighbours = nb;
    this.machines = machineIndex(net);
  }

  /** Forks made below a scope's entry (see scoped), per scope key; forks outside every scope are the rest of `forks`. */
  readonly scopedForks = new Map<string, number>();
  private nested = 0;

  /**
   * Runs `f`, counting the forks it makes under `key` (the forks of a scope nested inside go to
   * that scope, not to this one); no key: `f` runs uncounted. An all-services exploration
   * (connect.ts Goal.services) scopes each service's delivery, so that a service's own
   * exploration is the forks outside every scope plus its own scope's.
   */
  scoped(key: string | undefined, f: () => void): void {
    if (key === undefined) return f();
    const before = this.forks;
    const outer = this.nested;
    this.nested = 0;
    try {
      f();
    } finally {
      const spent = this.forks - before;
      this.scopedForks.set(key, (this.scopedForks.get(key) ?? 0) + spent - this.nested);
      this.nested = outer + spent;
    }
  }

  /** Follows each alternative whose condition is not already false on this path; `d` labels each alternative's condition. */
  fork<T>(st: St, cases: Cases<T>, d: Decision | ((v: T) => Decision), f: (st: St, v: T) => void): void {
    for (const [c, v] of cases) {
      if (c.t === "false") continue;
      const next = this.assume(st, c, typeof d === "function" ? d(v) : d);
      if (next) f(next, v);
    }
  }

  /** The path with one more condition, or undefined when the condition contradicts the path. */
  assume(st: St, c: F, d: Decision): St | undefined {
    return this.add(st, c, [[c, d]]);
  }

  /**
   * The path with a condition `whole` that is the conjunction of labelled `parts`: decided,
   * pruned and counted exactly as `assume(st, whole)` would, but the path keeps the parts,
   * so an unsat core names the part (a chain's rule) that rules it out.
   */
  assumeParts(st: St, whole: F, parts: readonly (readonly [F, Decision])[]): St | undefined {
    return this.add(st, whole, parts);
  }

  private add(st: St, c: F, parts: readonly (readonly [F, Decision])[]): St | undefined {
    if (c.t === "false") return undefined;
    if (c.t === "true") return st;
    const known = judge(c, st.dom);
    if (known !== undefined) return known ? st : undefined;
    if (++this.forks > this.budget) throw new BoundHit(`more than ${this.budget} symbolic branches`);
    if ((this.forks & 1023) === 0 && Date.now() > this.deadline) throw new BoundHit("timeout while exploring paths");
    const dom = refine(st.dom, c);
    if (!dom) return undefined;
    // a narrower domain may now contradict an earlier condition
    if (dom !== st.dom) for (const x of st.pc) if (judge(x, dom) === false) return undefined;
    const kept = parts.filter(([f]) => f.t !== "true");
    return { ...st, pc: [...st.pc, ...kept.map(([f]) => f)], why: [...st.why, ...kept.map(([, d]) => d)], dom };
  }

  /**
   * A path that ends here without a condition (no route, refused, hop limit, ...): it adds
   * nothing to what the solver is given. (The decision of each used to be counted in a map that
   * nothing read; mutation testing found it dead.)
   */
  prune(): undefined {
    return undefined;
  }

  /** A value with what the path has fixed substituted: a variable left with one value is that constant. */
  av(st: St, a: AV): AV {
    if (a.k === "c") return a;
    const n = single(st.dom, a.v === 4 ? "dst4" : "dst6");
    return n === undefined ? a : ac({ v: a.v, n });
  }
  pv(st: St, p: PV): PV {
    if (p.k === "c") return p;
    const n = single(st.dom, p.name);
    return n === undefined ? p : { k: "c", n: Number(n) };
  }
  pk(st: St, p: SPacket): SPacket {
    return { proto: p.proto, src: this.av(st, p.src), dst: this.av(st, p.dst), sport: this.pv(st, p.sport), dport: this.pv(st, p.dport) };
  }
}

export const swapS = (p: SPacket): SPacket => ({ proto: p.proto, src: p.dst, dst: p.src, sport: p.dport, dport: p.sport });

export const samePacketS = (a: SPacket, b: SPacket): F =>
  a.proto !== b.proto ? FALSE : and(eqAddr(a.src, b.src), eqAddr(a.dst, b.dst), eqPort(a.sport, b.sport), eqPort(a.dport, b.dport));

/** How a walk ended when it goes on: delivered to a socket or kernel, or taken by a NAT engine to relay. */
export type SDisp =
  | { readonly kind: "delivered"; readonly machine: string; readonly socket?: Socket; readonly packet: SPacket }
  | {
      readonly kind: "engine-relay";
      readonly machine: string;
      readonly host: string;
      readonly dst: AV;
      readonly dport: PV;
      readonly packet: SPacket;
    };

export interface WalkSpec {
  readonly expect?: { readonly machine: string; readonly packet: SPacket };
  /** as sim `WalkOptions.direction`: "data" is the server's data, picked up as new (TCP loose) where no entry exists */
  readonly direction?: "reply" | "original" | "data";
  /** Called when a forward walk delivers to a socket: false prunes paths that cannot meet the goal. */
  readonly wanted?: (machine: string, socket: Socket | undefined) => boolean;
  /**
   * With `wanted`: can a packet that reaches this machine from a wire still meet the goal? False
   * prunes the hop before it is walked (a plain host that neither forwards, relays nor runs a NAT
   * engine ends every packet it receives), so a query's walk does not visit the whole LAN.
   */
  readonly passes?: (m: Machine) => boolean;
}

type Track = { p: SPacket; idx?: number; state: "new" | "established" | "invalid"; isNew: boolean };

const tableOf = (st: St, m: Machine) => st.ct.get(m.name) ?? [];
function withEntry(st: St, m: Machine, idx: number | undefined, e: CtEntryS): { st: St; idx: number } {
  const t = [...tableOf(st, m)];
  const i = idx ?? t.length;
  t[i] = e;
  const ct = new Map(st.ct);
  ct.set(m.name, t);
  return { st: { ...st, ct }, idx: i };
}

/** One walk's fixed context (the twin of sim `Walker`). */
interface WalkerS {
  readonly x: Explorer;
  readonly spec: WalkSpec;
  readonly replying: boolean;
  readonly acking: boolean;
  /** TCP's loose pickup: the server's data where no entry exists (direction "data") */
  readonly loose: boolean;
  readonly k: (st: St, d: SDisp) => void;
}

type FilterCtx = { in?: string; out?: string; state: "new" | "established" | "invalid" | "untracked"; dnat: F; orig?: SPacket };

/** The connection's original direction as conntrack keeps it (the client's dialed address and port); none for an invalid packet. */
function origOfS(w: WalkerS, st: St, m: Machine, t: Track): { orig?: SPacket } {
  if (t.idx === undefined || t.state === "invalid") return {};
  return { orig: w.x.pk(st, tableOf(st, m)[t.idx]!.orig) };
}

/** The decision of a NAT hook: the rule that translated (1-based in its table), or none. */
const natDecision = (m: Machine, rules: readonly NatRule[], hook: NatHook, n: NatOutcome | undefined): Decision => ({
  kind: "nat",
  machine: m.name,
  hook,
  ...(n ? { rule: { index: rules.indexOf(n.rule) + 1, origin: n.rule.origin } } : {}),
});

const routeDecision =
  (m: Machine) =>
  (route: Route | undefined): Decision => ({ kind: "route", machine: m.name, ...(route ? { route } : {}) });

/** Symbolic walk of one packet from a process on `start`; `k` gets every way it arrives. */
export function walkS(x: Explorer, spec: WalkSpec, st0: St, start: Machine, packet: SPacket, k: (st: St, d: SDisp) => void): void {
  const replying = spec.expect !== undefined;
  const acking = replying && spec.direction === "original";
  originateS({ x, spec, replying, acking, loose: replying && spec.direction === "data", k }, st0, start, packet);
}

/** A packet sent by a process on `start`: conntrack, then nat OUTPUT (routed first, so `out` matches there). */
function originateS(w: WalkerS, st0: St, start: Machine, packet: SPacket): void {
  const { x } = w;
  trackS(w, st0, start, x.pk(st0, packet), (st1, t) => {
    const out: [F, NatOutcome | undefined][] = [];
    if (t.isNew) {
      // routed before nat OUTPUT (so `out` matches there), rerouted after a DNAT
      for (const [rc, first] of lookupRouteS(start, t.p.dst)) {
        const ctx = { state: "new" as const, dnat: FALSE, ...(first ? { out: first.dev } : {}) };
        for (const [nc, n] of applyNatS(start.nat.output, start, t.p, ctx)) out.push([and(rc, nc), n]);
      }
    } else out.push([TRUE, undefined]);
    x.fork(
      st1,
      out,
      (n) => natDecision(start, start.nat.output, "output", n),
      (st2, n) => outputS(w, st2, start, x.pk(st2, n ? n.packet : t.p), t),
    );
  });
}

/** A local packet after nat OUTPUT: route, loopback stays local, filter OUTPUT, nat POSTROUTING, then lo or the wire. */
function outputS(w: WalkerS, st: St, start: Machine, p: SPacket, t: Track): void {
  const { x } = w;
  x.fork(st, lookupRouteS(start, p.dst), routeDecision(start), (st3, route) => {
    if (!route) return x.prune();
    let q = x.pk(st3, p);
    let s: St | undefined = st3;
    if (route.type !== "local") {
      const lb = (a: AV) => (start.routeLocalnet ? inPrefix(a, { v: 6, n: 1n, len: 128 }) : isLoopbackS(a));
      s = x.assume(st3, and(not(lb(q.src)), not(lb(q.dst))), { kind: "martian", machine: start.name, check: "departure" });
      if (!s) return;
      q = x.pk(s, q);
    }
    // nat OUTPUT (priority -100) has run: a connection it translated has ct status dnat here
    s = filterS(w, s, start, "output", q, { out: route.dev, state: t.state, dnat: dnatOfS(w, s, start, t, q), ...origOfS(w, s, start, t) });
    if (!s) return;
    postroutingS(w, s, start, { out: route.dev }, x.pk(s, q), t, (s5, p2) =>
      settleS(w, s5, start, t, x.pk(s5, p2), (st6, q2) => {
        if (route.type === "local") return loopbackInS(w, st6, start, q2, t);
        transmitS(w, st6, start, route.dev, route.via, q2, 0);
      }),
    );
  });
}

/** Looped back: conntrack and NAT were done on the way out; INPUT sees the same state. */
function loopbackInS(w: WalkerS, st: St, m: Machine, p: SPacket, t: Track): void {
  const s = filterS(w, st, m, "input", p, { in: "lo", state: t.state, dnat: dnatOfS(w, st, m, t, p), ...origOfS(w, st, m, t) });
  if (s) deliverLocalS(w, s, m, w.x.pk(s, p), "lo");
}

/** Conntrack: which entry (if any) the packet belongs to, as alternatives. */
function trackS(w: WalkerS, st: St, m: Machine, p: SPacket, then: (st: St, t: Track) => void): void {
  const { x, replying, acking } = w;
  // a connection's first packet always starts a new entry; replies and acks look theirs up
  const table = replying ? tableOf(st, m) : [];
  let none: F = TRUE;
  const cases: [F, number | undefined][] = [];
  table.forEach((e, i) => {
    const c = samePacketS(x.pk(st, acking ? e.orig : e.reply), p);
    cases.push([and(none, c), i]);
    none = and(none, not(c));
  });
  cases.push([none, undefined]);
  x.fork(st, cases, { kind: "conntrack", machine: m.name }, (st1, i) => {
    if (i !== undefined) {
      const e = tableOf(st1, m)[i]!;
      if (acking) {
        const tp: SPacket = { ...p, dst: e.reply.src, dport: e.reply.sport };
        then(st1, { p: x.pk(st1, tp), idx: i, state: e.replySeen ? "established" : "invalid", isNew: false });
        return;
      }
      const { st: st2 } = withEntry(st1, m, i, { ...e, replySeen: true });
      then(st2, { p: x.pk(st2, { ...p, dst: e.orig.src, dport: e.orig.sport }), idx: i, state: "established", isNew: false });
      return;
    }
    if (acking) return then(st1, { p, state: "new", isNew: false });
    // the twin of sim `track`: TCP data is picked up as new (loose) except by a NAT engine, which has no conntrack
    const tcp = p.proto === "tcp";
    if (replying && p.proto !== "udp" && !(w.loose && tcp && !m.engine)) {
      // a TCP reply crossing a machine that holds no entry: the sim sees its filter step in state invalid
      const mark = tcp && !w.loose && !m.engine;
      return then(mark ? { ...st1, noEntry: true } : st1, { p, state: "invalid", isNew: false });
    }
    const { st: st2, idx } = withEntry(st1, m, undefined, { orig: p, reply: swapS(p), replySeen: false });
    then(st2, { p, idx, state: "new", isNew: true });
  });
}

/** After the machine's NAT: record the expected reply, or restore a reply's (or ack's) source; `k` gets each outcome. */
function settleS(w: WalkerS, st: St, m: Machine, t: Track, p: SPacket, k: (st: St, p: SPacket) => void): void {
  const { x, acking } = w;
  if (t.idx === undefined) return k(st, p);
  const e = tableOf(st, m)[t.idx]!;
  if (!t.isNew) {
    if (acking) return k(st, x.pk(st, { ...p, src: e.reply.dst, sport: e.reply.dport }));
    return k(st, x.pk(st, { ...p, src: e.orig.dst, sport: e.orig.dport }));
  }
  const record = (st2: St, q: SPacket) => k(withEntry(st2, m, t.idx, { ...e, reply: swapS(q) }).st, q);
  // nf_nat keeps tuples unique: a translated connection whose reply tuple another entry here
  // already has gets another source port (ir/dial.ts NAT_REMAPPED_PORT)
  let clash: F = FALSE;
  if (p.proto !== "icmp") {
    const back = swapS(p);
    tableOf(st, m).forEach((o, i) => {
      if (i !== t.idx) clash = or(clash, samePacketS(x.pk(st, o.orig), back), samePacketS(x.pk(st, o.reply), back));
    });
    clash = and(not(samePacketS(x.pk(st, e.orig), p)), clash);
  }
  if (clash.t === "false") return record(st, p);
  const remapped: SPacket = { ...p, sport: { k: "c", n: NAT_REMAPPED_PORT } };
  const cases: Cases<SPacket> = [
    [clash, remapped],
    [not(clash), p],
  ];
  x.fork(st, cases, { kind: "nat-unique", machine: m.name }, (st2, q) => record(st2, x.pk(st2, q)));
}

/** ct status dnat: the connection's destination was translated here. */
function dnatOfS(w: WalkerS, st: St, m: Machine, t: Track, p: SPacket): F {
  const { x } = w;
  if (t.isNew) return not(and(eqAddr(t.p.dst, p.dst), eqPort(t.p.dport, p.dport)));
  if (t.idx === undefined) return FALSE;
  const e = tableOf(st, m)[t.idx]!;
  return not(and(eqAddr(x.av(st, e.orig.dst), x.av(st, e.reply.src)), eqPort(x.pv(st, e.orig.dport), x.pv(st, e.reply.sport))));
}

/** A filter chain accepts the packet: assumed rule by rule (evalChainByRuleS), so a core names the rule. A NAT engine has none. */
function filterS(w: WalkerS, st: St, m: Machine, chain: "input" | "output" | "forward", p: SPacket, ctx: FilterCtx): St | undefined {
  if (m.engine) return st;
  const parts = evalChainByRuleS(m.filter[chain], p, ctx).map(
    (c) =>
      [
        c.f,
        { kind: "filter", machine: m.name, chain, ...(c.rule ? { rule: c.rule } : {}), ...(c.policy ? { policy: c.policy } : {}) },
      ] as const,
  );
  return w.x.assumeParts(st, evalChainS(m.filter[chain], p, ctx), parts);
}

const expectedS = (w: WalkerS, st: St, m: Machine, p: SPacket): F =>
  w.spec.expect && w.spec.expect.machine === m.name ? samePacketS(p, w.x.pk(st, w.spec.expect.packet)) : FALSE;

/** Local delivery after INPUT accepted: the connection's reply, the kernel's echo reply, a NAT engine's loopback, or a socket. */
function deliverLocalS(w: WalkerS, st: St, m: Machine, p: SPacket, inIf: string): void {
  const { x, spec, k } = w;
  if (w.replying) {
    const s1 = x.assume(st, expectedS(w, st, m, p), { kind: "reply-mismatch", machine: m.name });
    if (s1) k(s1, { kind: "delivered", machine: m.name, packet: x.pk(s1, p) });
    return;
  }
  if (p.proto === "icmp") {
    if (spec.wanted && !spec.wanted(m.name, undefined)) return x.prune();
    return k(st, { kind: "delivered", machine: m.name, packet: p });
  }
  const engine = m.engine;
  if (engine) {
    // the gateway stands for the host's loopback of its family: 127.0.0.1, or ::1 (libslirp)
    const maps = [
      { at: engine.loopbackAddress, to: LOOPBACK4 },
      ...(engine.loopbackAddress6 ? [{ at: engine.loopbackAddress6, to: LOOPBACK6 }] : []),
    ].map((l) => ({ lb: eqAddr(p.dst, ac(l.at)), to: l.to }));
    const d: Decision = { kind: "engine-loopback", machine: m.name, origin: engine.origin };
    for (const { lb, to } of engine.loopbackReachable ? maps : []) {
      const s1 = x.assume(st, lb, d);
      if (!s1) continue;
      const relay: SDisp = {
        kind: "engine-relay",
        machine: m.name,
        host: engine.host,
        dst: ac(to),
        dport: x.pv(s1, p.dport),
        packet: x.pk(s1, p),
      };
      k(s1, relay);
    }
    const s2 = x.assume(st, not(or(...maps.map((l) => l.lb))), d);
    if (!s2) return;
    st = s2;
    p = x.pk(st, p);
  }
  socketS(w, st, m, p, inIf);
}

/** The listening socket: SO_BINDTODEVICE is matched against the device owning a local destination (lo for loopback ones). */
function socketS(w: WalkerS, st: St, m: Machine, p: SPacket, inIf: string): void {
  const { x, spec, k } = w;
  const owners: [F, string][] = [];
  if (inIf === "lo") {
    let none: F = TRUE;
    const lb = isLoopbackS(p.dst);
    owners.push([lb, "lo"]);
    none = not(lb);
    for (const i of m.interfaces) {
      for (const a of i.addrs) {
        const c = eqAddr(p.dst, ac(a.ip));
        owners.push([and(none, c), i.name]);
        none = and(none, not(c));
      }
    }
    owners.push([none, "lo"]);
  } else owners.push([TRUE, inIf]);
  const socketDecision = (socket: Socket | undefined): Decision => ({ kind: "socket", machine: m.name, ...(socket ? { socket } : {}) });
  x.fork(st, owners, { kind: "socket-device", machine: m.name }, (s1, sockIf) => {
    const q = x.pk(s1, p);
    x.fork(s1, lookupSocketS(m, q, sockIf), socketDecision, (s2, socket) => {
      if (!socket) return x.prune(); // refused
      if (spec.wanted && !spec.wanted(m.name, socket)) return x.prune();
      k(s2, { kind: "delivered", machine: m.name, socket, packet: x.pk(s2, q) });
    });
  });
}

/** Out of `dev` to the next hop: whoever answers ARP/ND on the segment receives the packet. */
function transmitS(w: WalkerS, st: St, m: Machine, dev: string, via: IP | undefined, p: SPacket, hops: number): void {
  const { x } = w;
  const iface = m.interfaces.find((i) => i.name === dev);
  const segment = iface?.segment;
  if (!segment) return x.prune();
  const nextHop = via ? ac(via) : p.dst;
  const d = (nb: { machine: Machine } | undefined): Decision => ({
    kind: "neighbour",
    machine: m.name,
    segment,
    ...(nb ? { owner: nb.machine.name } : {}),
  });
  x.fork(st, resolveNeighbourS(x.neighbours, segment, x.av(st, nextHop), m.name, w.spec.passes), d, (s1, nb) => {
    if (!nb) return x.prune();
    const go = (s2: St) => arriveS(w, s2, nb.machine, nb.iface.name, x.pk(s2, p), hops + 1);
    if (famOf(nextHop) !== 6) return go(s1);
    discoverS(w, s1, { m, dev, nb, decision: d(nb) }, x.av(s1, nextHop), x.pk(s1, p).src, go);
  });
}

/**
 * The twin of sim `discover`: IPv6 neighbour discovery before `m` sends to `nextHop` out of
 * `dev`, unless the exchange already made that entry. The solicitation crosses m's OUTPUT and
 * the neighbour's INPUT, the advertisement the neighbour's OUTPUT and m's INPUT, as untracked
 * ICMPv6; a solicitation that got in leaves the neighbour an entry for its source.
 */
function discoverS(
  w: WalkerS,
  st: St,
  hop: { m: Machine; dev: string; nb: { machine: Machine; iface: { name: string } }; decision: Decision },
  nextHop: AV,
  src: AV,
  k: (st: St) => void,
): void {
  const { x } = w;
  const { m, dev, nb } = hop;
  const nd = st.nd ?? [];
  const known = or(...nd.filter((e) => e.machine === m.name && e.iface === dev).map((e) => eqAddr(e.addr, nextHop)));
  const s0 = x.assume(st, known, hop.decision);
  if (s0) k(s0);
  const s1 = x.assume(st, not(known), hop.decision);
  if (!s1) return;
  x.fork(s1, ndSourceS(m, dev, src), hop.decision, (s2, from) => {
    const icmp = (a: AV, b: AV): SPacket => ({ proto: "icmp", src: a, dst: b, sport: { k: "c", n: 0 }, dport: { k: "c", n: 0 } });
    const ns = icmp(from, solicitedNodeS(nextHop));
    const na = icmp(nextHop, from);
    const ctx = { state: "untracked" as const, dnat: FALSE };
    const s3 = filterS(w, s2, m, "output", ns, { ...ctx, out: dev });
    const s4 = s3 && filterS(w, s3, nb.machine, "input", ns, { ...ctx, in: nb.iface.name });
    if (!s4) return;
    const s5 = filterS(
      w,
      { ...s4, nd: [...nd, { machine: nb.machine.name, iface: nb.iface.name, addr: from }] },
      nb.machine,
      "output",
      na,
      {
        ...ctx,
        out: nb.iface.name,
      },
    );
    const s6 = s5 && filterS(w, s5, m, "input", na, { ...ctx, in: dev });
    if (s6) k({ ...s6, nd: [...(s6.nd ?? []), { machine: m.name, iface: dev, addr: nextHop }] });
  });
}

/** A packet arriving on `inIf`: the hop limit, then conntrack. */
function arriveS(w: WalkerS, st: St, m: Machine, inIf: string, p0: SPacket, hops: number): void {
  if (hops > MAX_HOPS) return w.x.prune();
  trackS(w, st, m, p0, (st1, t) => preroutingS(w, st1, m, inIf, t, hops));
}

/** nat PREROUTING on a connection's first packet (not for looped-back packets). */
function preroutingS(w: WalkerS, st: St, m: Machine, inIf: string, t: Track, hops: number): void {
  const { x } = w;
  const pre: Cases<NatOutcome | undefined> =
    t.isNew && inIf !== "lo" ? applyNatS(m.nat.prerouting, m, t.p, { in: inIf, state: "new", dnat: FALSE }) : [[TRUE, undefined]];
  x.fork(
    st,
    pre,
    (n) => natDecision(m, m.nat.prerouting, "prerouting", n),
    (st2, n) => martianS(w, st2, m, inIf, x.pk(st2, n ? n.packet : t.p), t, hops),
  );
}

/** Martians, judged after PREROUTING (a DNAT to 127/8 is one too); then a NAT engine's own connections. */
function martianS(w: WalkerS, st: St, m: Machine, inIf: string, p: SPacket, t: Track, hops: number): void {
  const { x } = w;
  let ok: F = TRUE;
  if (inIf !== "lo") {
    const lbOk = (a: AV) => (m.routeLocalnet ? inPrefix(a, { v: 6, n: 1n, len: 128 }) : isLoopbackS(a));
    const ownSrc = famOf(p.src) === 4 && !m.engine ? and(not(lbOk(p.src)), isLocalS(m, p.src)) : FALSE;
    ok = and(not(lbOk(p.src)), not(ownSrc), not(lbOk(p.dst)), not(isMartianDestinationS(p.dst)));
  }
  const st3 = x.assume(st, ok, { kind: "martian", machine: m.name, check: "arrival" });
  if (!st3) return;
  const q = x.pk(st3, p);
  if (m.engine && w.replying) {
    // the twin of sim `martian`: libslirp with the host's loopback unreachable drops a UDP answer to the address standing for it
    if (q.proto === "udp" && !m.engine.loopbackReachable) {
      const lb = eqAddr(q.dst, ac(m.engine.loopbackAddress));
      const s4 = x.assume(st3, not(lb), { kind: "engine-loopback", machine: m.name, origin: m.engine.origin });
      if (!s4) return;
      return engineReplyS(w, s4, m, inIf, x.pk(s4, q), t, hops);
    }
    return engineReplyS(w, st3, m, inIf, q, t, hops);
  }
  localTableS(w, st3, m, inIf, q, t, hops);
}

/** A reply at a NAT engine: it answers its own connections itself; anything else goes on only with a conntrack entry. */
function engineReplyS(w: WalkerS, st3: St, m: Machine, inIf: string, q: SPacket, t: Track, hops: number): void {
  const { x, k } = w;
  const exp = expectedS(w, st3, m, q);
  const d: Decision = { kind: "engine-no-connection", machine: m.name };
  const s4 = x.assume(st3, exp, d);
  if (s4) k(s4, { kind: "delivered", machine: m.name, packet: x.pk(s4, q) });
  const s5 = x.assume(st3, not(exp), d);
  if (!s5) return;
  if (t.idx === undefined) return x.prune();
  localTableS(w, s5, m, inIf, x.pk(s5, q), t, hops);
}

/** The local table: is the destination this machine's? A NAT engine relays what is not. */
function localTableS(w: WalkerS, st: St, m: Machine, inIf: string, p: SPacket, t: Track, hops: number): void {
  const { x, k } = w;
  const local = isLocalS(m, p.dst);
  const d = (isLocal: boolean): Decision => ({ kind: "local", machine: m.name, local: isLocal });
  if (m.engine && !w.replying) {
    const s1 = x.assume(st, not(local), d(false));
    // libslirp relays no ICMPv6 echo to other hosts (sim: engine-no-icmp6)
    if (s1 && p.proto === "icmp" && famOf(p.dst) === 6) {
      // the path ends here
    } else if (s1) {
      const relay: SDisp = {
        kind: "engine-relay",
        machine: m.name,
        host: m.engine.host,
        dst: x.av(s1, p.dst),
        dport: x.pv(s1, p.dport),
        packet: x.pk(s1, p),
      };
      k(s1, relay);
    }
    const s2 = x.assume(st, local, d(true));
    if (!s2) return;
    return rpFilterS(w, s2, m, inIf, x.pk(s2, p), t, hops, true);
  }
  const cases: Cases<boolean> = [
    [local, true],
    [not(local), false],
  ];
  x.fork(st, cases, d, (s1, isLocal) => rpFilterS(w, s1, m, inIf, x.pk(s1, p), t, hops, isLocal));
}

/** Reverse-path filtering (IPv4): strict wants the route back out of `inIf`, loose any route back. */
function rpFilterS(w: WalkerS, st: St, m: Machine, inIf: string, p: SPacket, t: Track, hops: number, local: boolean): void {
  const { x } = w;
  let ok: F = TRUE;
  if (inIf !== "lo" && m.rpFilter > 0 && famOf(p.src) === 4) {
    const back = lookupRouteS(m, p.src);
    ok = or(...back.filter(([, r]) => r !== undefined && (m.rpFilter === 2 || r.dev === inIf)).map(([c]) => c));
  }
  const s1 = x.assume(st, ok, { kind: "rp-filter", machine: m.name, mode: m.rpFilter });
  if (!s1) return;
  if (local) return inputS(w, s1, m, inIf, x.pk(s1, p), t);
  forwardS(w, s1, m, inIf, x.pk(s1, p), t, hops);
}

/** For this machine: filter INPUT, restore a reply's source, deliver. */
function inputS(w: WalkerS, st: St, m: Machine, inIf: string, p: SPacket, t: Track): void {
  const s2 = filterS(w, st, m, "input", p, { in: inIf, state: t.state, dnat: dnatOfS(w, st, m, t, p), ...origOfS(w, st, m, t) });
  if (!s2) return;
  settleS(w, s2, m, t, w.x.pk(s2, p), (st3, q) => deliverLocalS(w, st3, m, q, inIf));
}

/** For another machine: ip_forward, IPv6 link-local stays, route, filter FORWARD, nat POSTROUTING, the wire. */
function forwardS(w: WalkerS, st: St, m: Machine, inIf: string, p: SPacket, t: Track, hops: number): void {
  const { x } = w;
  if (!m.ipForward) return x.prune();
  const ll = or(isLinkLocal6S(p.src), isLinkLocal6S(p.dst));
  const s2 = x.assume(st, not(ll), { kind: "martian", machine: m.name, check: "link-local" });
  if (!s2) return;
  x.fork(s2, lookupRouteS(m, x.av(s2, p.dst)), routeDecision(m), (s3, route) => {
    if (!route || route.type === "local") return x.prune();
    const q = x.pk(s3, p);
    const ctx = { in: inIf, out: route.dev, state: t.state, dnat: dnatOfS(w, s3, m, t, q), ...origOfS(w, s3, m, t) };
    const s4 = filterS(w, s3, m, "forward", q, ctx);
    if (!s4) return;
    postroutingS(w, s4, m, { in: inIf, out: route.dev }, x.pk(s4, q), t, (s5, p2) =>
      settleS(w, s5, m, t, x.pk(s5, p2), (st6, q2) => transmitS(w, st6, m, route.dev, route.via, q2, hops)),
    );
  });
}

/** nat POSTROUTING on a connection's first packet; `then` gets each outcome that is not a drop. */
function postroutingS(
  w: WalkerS,
  st: St,
  m: Machine,
  ifs: { in?: string; out: string },
  q: SPacket,
  t: Track,
  then: (st: St, p: SPacket) => void,
): void {
  const post: Cases<NatOutcome | undefined> = t.isNew
    ? applyNatS(m.nat.postrouting, m, q, { ...ifs, state: "new", dnat: FALSE })
    : [[TRUE, undefined]];
  w.x.fork(
    st,
    post,
    (n) => natDecision(m, m.nat.postrouting, "postrouting", n),
    // a masquerade with no address to take: the kernel drops the packet (sim: masquerade-no-address)
    (s5, n) => (n?.drop ? w.x.prune() : then(s5, n ? n.packet : q)),
  );
}
