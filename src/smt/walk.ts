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
 */
import { LOOPBACK4, type IP } from "../net/addr.js";
import type { Machine, Network } from "../ir/types.js";
import {
  acceptsS,
  applyNatS,
  famOf,
  isLinkLocal6S,
  isLocalS,
  isLoopbackS,
  isMartianDestinationS,
  lookupRouteS,
  lookupSocketS,
  NeighbourIndex,
  type SPacket,
} from "./elements.js";
import { ac, and, eqAddr, eqPort, FALSE, inPrefix, not, or, TRUE, type AV, type Cases, type F, type PV } from "./term.js";
import { judge, refine, single, type Dom } from "./domain.js";
import type { Socket } from "../ir/types.js";
import { MAX_HOPS, NAT_REMAPPED_PORT } from "../ir/dial.js";

export interface SEntry {
  readonly orig: SPacket;
  readonly reply: SPacket;
  readonly replySeen: boolean;
}

/** One path's state: its condition, what it has fixed, and its conntrack tables. */
export interface St {
  readonly pc: readonly F[];
  /** for each condition, the element that imposed it (for explaining infeasible paths) */
  readonly why: readonly string[];
  /** what the conditions so far allow each variable (domain.ts) */
  readonly dom: Dom;
  readonly ct: ReadonlyMap<string, readonly SEntry[]>;
}

/** The exploration ran out of its path budget or time: the answer is unknown, never unreachable. */
export class BoundHit extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

export class Explorer {
  readonly neighbours: NeighbourIndex;
  readonly machines: ReadonlyMap<string, Machine>;
  forks = 0;
  constructor(
    readonly net: Network,
    readonly budget: number,
    readonly deadline: number,
  ) {
    this.neighbours = new NeighbourIndex(net);
    this.machines = new Map(net.machines.map((m) => [m.name, m]));
  }

  /** Follows each alternative whose condition is not already false on this path. */
  fork<T>(st: St, cases: Cases<T>, why: string, f: (st: St, v: T) => void): void {
    for (const [c, v] of cases) {
      if (c.t === "false") continue;
      const next = this.assume(st, c, why);
      if (next) f(next, v);
    }
  }

  /** The path with one more condition, or undefined when the condition contradicts the path. */
  assume(st: St, c: F, why: string): St | undefined {
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
    return { ...st, pc: [...st.pc, c], why: [...st.why, why], dom };
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

const swap = (p: SPacket): SPacket => ({ proto: p.proto, src: p.dst, dst: p.src, sport: p.dport, dport: p.sport });
export const swapS = swap;

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
  readonly direction?: "reply" | "original";
  /** Called when a forward walk delivers to a socket: false prunes paths that cannot meet the goal. */
  readonly wanted?: (machine: string, socket: Socket | undefined) => boolean;
}

type Track = { p: SPacket; idx?: number; state: "new" | "established" | "invalid"; isNew: boolean };

const tableOf = (st: St, m: Machine) => st.ct.get(m.name) ?? [];
function withEntry(st: St, m: Machine, idx: number | undefined, e: SEntry): { st: St; idx: number } {
  const t = [...tableOf(st, m)];
  const i = idx ?? t.length;
  t[i] = e;
  const ct = new Map(st.ct);
  ct.set(m.name, t);
  return { st: { ...st, ct }, idx: i };
}

/** Symbolic walk of one packet from a process on `start`; `k` gets every way it arrives. */
export function walkS(x: Explorer, spec: WalkSpec, st0: St, start: Machine, packet: SPacket, k: (st: St, d: SDisp) => void): void {
  const replying = spec.expect !== undefined;
  const acking = replying && spec.direction === "original";

  /** Conntrack: which entry (if any) the packet belongs to, as alternatives. */
  const track = (st: St, m: Machine, p: SPacket, then: (st: St, t: Track) => void): void => {
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
    x.fork(st, cases, `${m.name}: conntrack`, (st1, i) => {
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
      if (replying && p.proto !== "udp") return then(st1, { p, state: "invalid", isNew: false });
      const { st: st2, idx } = withEntry(st1, m, undefined, { orig: p, reply: swap(p), replySeen: false });
      then(st2, { p, idx, state: "new", isNew: true });
    });
  };

  /** After the machine's NAT: record the expected reply, or restore a reply's (or ack's) source; `k` gets each outcome. */
  const settle = (st: St, m: Machine, t: Track, p: SPacket, k: (st: St, p: SPacket) => void): void => {
    if (t.idx === undefined) return k(st, p);
    const e = tableOf(st, m)[t.idx]!;
    if (t.isNew) {
      const record = (st2: St, q: SPacket) => k(withEntry(st2, m, t.idx, { ...e, reply: swap(q) }).st, q);
      // nf_nat keeps tuples unique: a translated connection whose reply tuple another entry here
      // already has gets another source port (ir/dial.ts NAT_REMAPPED_PORT)
      let clash: F = FALSE;
      if (p.proto !== "icmp") {
        const back = swap(p);
        tableOf(st, m).forEach((o, i) => {
          if (i !== t.idx) clash = or(clash, samePacketS(x.pk(st, o.orig), back), samePacketS(x.pk(st, o.reply), back));
        });
        clash = and(not(samePacketS(x.pk(st, e.orig), p)), clash);
      }
      if (clash.t === "false") return record(st, p);
      const remapped: SPacket = { ...p, sport: { k: "c", n: NAT_REMAPPED_PORT } };
      x.fork(
        st,
        [
          [clash, remapped],
          [not(clash), p],
        ],
        `${m.name}: NAT keeps conntrack tuples unique`,
        (st2, q) => record(st2, x.pk(st2, q)),
      );
      return;
    }
    if (acking) return k(st, x.pk(st, { ...p, src: e.reply.dst, sport: e.reply.dport }));
    k(st, x.pk(st, { ...p, src: e.orig.dst, sport: e.orig.dport }));
  };

  /** ct status dnat: the connection's destination was translated here. */
  const dnatOf = (st: St, m: Machine, t: Track, p: SPacket): F => {
    if (t.isNew) return not(and(eqAddr(t.p.dst, p.dst), eqPort(t.p.dport, p.dport)));
    if (t.idx === undefined) return FALSE;
    const e = tableOf(st, m)[t.idx]!;
    return not(and(eqAddr(x.av(st, e.orig.dst), x.av(st, e.reply.src)), eqPort(x.pv(st, e.orig.dport), x.pv(st, e.reply.sport))));
  };

  const filter = (
    st: St,
    m: Machine,
    chain: "input" | "output" | "forward",
    p: SPacket,
    ctx: { in?: string; out?: string; state: "new" | "established" | "invalid"; dnat: F },
  ): St | undefined => (m.engine ? st : x.assume(st, acceptsS(m.filter[chain], p, ctx), `${m.name}: ${chain.toUpperCase()} chain`));

  const expected = (st: St, m: Machine, p: SPacket): F =>
    spec.expect && spec.expect.machine === m.name ? samePacketS(p, x.pk(st, spec.expect.packet)) : FALSE;

  const deliverLocal = (st: St, m: Machine, p: SPacket, inIf: string): void => {
    if (replying) {
      const s1 = x.assume(st, expected(st, m, p), `${m.name}: the answer must belong to the connection`);
      if (s1) k(s1, { kind: "delivered", machine: m.name, packet: x.pk(s1, p) });
      return;
    }
    if (p.proto === "icmp") {
      if (spec.wanted && !spec.wanted(m.name, undefined)) return;
      return k(st, { kind: "delivered", machine: m.name, packet: p });
    }
    const engine = m.engine;
    if (engine) {
      const lb = eqAddr(p.dst, ac(engine.loopbackAddress));
      if (engine.loopbackReachable) {
        const s1 = x.assume(st, lb, `${m.name}: the NAT engine's loopback address`);
        if (s1)
          k(s1, {
            kind: "engine-relay",
            machine: m.name,
            host: engine.host,
            dst: ac(LOOPBACK4),
            dport: x.pv(s1, p.dport),
            packet: x.pk(s1, p),
          });
      }
      const s2 = x.assume(st, not(lb), `${m.name}: the NAT engine's loopback address`);
      if (!s2) return;
      st = s2;
      p = x.pk(st, p);
    }
    // SO_BINDTODEVICE is matched against the device owning a local destination (lo for loopback ones)
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
    x.fork(st, owners, `${m.name}: the device of the local address`, (s1, sockIf) => {
      const q = x.pk(s1, p);
      x.fork(s1, lookupSocketS(m, q, sockIf), `${m.name}: listening sockets`, (s2, socket) => {
        if (!socket) return; // refused
        if (spec.wanted && !spec.wanted(m.name, socket)) return;
        k(s2, { kind: "delivered", machine: m.name, socket, packet: x.pk(s2, q) });
      });
    });
  };

  const transmit = (st: St, m: Machine, dev: string, via: IP | undefined, p: SPacket, hops: number): void => {
    const iface = m.interfaces.find((i) => i.name === dev);
    if (!iface?.segment) return;
    const nextHop = via ? ac(via) : p.dst;
    x.fork(st, x.neighbours.resolve(iface.segment, x.av(st, nextHop), m.name), `${m.name}: ARP/ND on ${iface.segment}`, (s1, nb) => {
      if (nb) arrive(s1, nb.machine, nb.iface.name, x.pk(s1, p), hops + 1);
    });
  };

  const arrive = (st: St, m: Machine, inIf: string, p0: SPacket, hops: number): void => {
    if (hops > MAX_HOPS) return;
    track(st, m, p0, (st1, t) => {
      const pre: Cases<SPacket> =
        t.isNew && inIf !== "lo"
          ? applyNatS(m.nat.prerouting, m, t.p, { in: inIf, state: "new", dnat: FALSE }).map(([c, n]) => [c, n ? n.packet : t.p] as const)
          : [[TRUE, t.p]];
      x.fork(st1, pre, `${m.name}: nat PREROUTING`, (st2, p1) => {
        const p = x.pk(st2, p1);
        // martians, judged after PREROUTING (a DNAT to 127/8 is one too)
        let ok: F = TRUE;
        if (inIf !== "lo") {
          const lbOk = (a: AV) => (m.routeLocalnet ? inPrefix(a, { v: 6, n: 1n, len: 128 }) : isLoopbackS(a));
          const ownSrc = famOf(p.src) === 4 && !m.engine ? and(not(lbOk(p.src)), isLocalS(m, p.src)) : FALSE;
          ok = and(not(lbOk(p.src)), not(ownSrc), not(lbOk(p.dst)), not(isMartianDestinationS(p.dst)));
        }
        const st3 = x.assume(st2, ok, `${m.name}: martian addresses`);
        if (!st3) return;
        const q = x.pk(st3, p);
        if (m.engine && replying) {
          // a NAT engine answers its own connections itself
          const exp = expected(st3, m, q);
          const s4 = x.assume(st3, exp, `${m.name}: the NAT engine's own connection`);
          if (s4) k(s4, { kind: "delivered", machine: m.name, packet: x.pk(s4, q) });
          const s5 = x.assume(st3, not(exp), `${m.name}: the NAT engine's own connection`);
          if (!s5 || t.idx === undefined) return;
          return afterEngine(s5, m, inIf, x.pk(s5, q), t, hops);
        }
        afterEngine(st3, m, inIf, q, t, hops);
      });
    });
  };

  const afterEngine = (st: St, m: Machine, inIf: string, p: SPacket, t: Track, hops: number): void => {
    const local = isLocalS(m, p.dst);
    if (m.engine && !replying) {
      const s1 = x.assume(st, not(local), `${m.name}: local or not`);
      if (s1)
        k(s1, {
          kind: "engine-relay",
          machine: m.name,
          host: m.engine.host,
          dst: x.av(s1, p.dst),
          dport: x.pv(s1, p.dport),
          packet: x.pk(s1, p),
        });
      const s2 = x.assume(st, local, `${m.name}: local or not`);
      if (!s2) return;
      return rpf(s2, m, inIf, x.pk(s2, p), t, hops, true);
    }
    x.fork(
      st,
      [
        [local, true],
        [not(local), false],
      ],
      `${m.name}: local or not`,
      (s1, isLocal) => rpf(s1, m, inIf, x.pk(s1, p), t, hops, isLocal),
    );
  };

  const rpf = (st: St, m: Machine, inIf: string, p: SPacket, t: Track, hops: number, local: boolean): void => {
    let ok: F = TRUE;
    if (inIf !== "lo" && m.rpFilter > 0 && famOf(p.src) === 4) {
      const back = lookupRouteS(m, p.src);
      ok = or(...back.filter(([, r]) => r !== undefined && (m.rpFilter === 2 || r.dev === inIf)).map(([c]) => c));
    }
    const s1 = x.assume(st, ok, `${m.name}: rp_filter`);
    if (!s1) return;
    p = x.pk(s1, p);
    if (local) {
      const s2 = filter(s1, m, "input", p, { in: inIf, state: t.state, dnat: dnatOf(s1, m, t, p) });
      if (!s2) return;
      return settle(s2, m, t, x.pk(s2, p), (st3, q) => deliverLocal(st3, m, q, inIf));
    }
    if (!m.ipForward) return;
    const ll = or(isLinkLocal6S(p.src), isLinkLocal6S(p.dst));
    const s2 = x.assume(s1, not(ll), `${m.name}: IPv6 link-local is not forwarded`);
    if (!s2) return;
    x.fork(s2, lookupRouteS(m, x.av(s2, p.dst)), `${m.name}: routes`, (s3, route) => {
      if (!route || route.type === "local") return;
      const q = x.pk(s3, p);
      const s4 = filter(s3, m, "forward", q, { in: inIf, out: route.dev, state: t.state, dnat: dnatOf(s3, m, t, q) });
      if (!s4) return;
      const post: Cases<SPacket> = t.isNew
        ? applyNatS(m.nat.postrouting, m, x.pk(s4, q), { in: inIf, out: route.dev, state: "new", dnat: FALSE }).map(
            ([c, n]) => [c, n ? n.packet : q] as const,
          )
        : [[TRUE, q]];
      x.fork(s4, post, `${m.name}: nat POSTROUTING`, (s5, p2) => {
        settle(s5, m, t, x.pk(s5, p2), (st6, q2) => transmit(st6, m, route.dev, route.via, q2, hops));
      });
    });
  };

  // A packet sent by a process on `start`.
  track(st0, start, x.pk(st0, packet), (st1, t) => {
    const out: Cases<SPacket> = t.isNew
      ? (() => {
          // routed before nat OUTPUT (so `out` matches there), rerouted after a DNAT
          const res: [F, SPacket][] = [];
          for (const [rc, first] of lookupRouteS(start, t.p.dst)) {
            for (const [nc, n] of applyNatS(start.nat.output, start, t.p, {
              state: "new",
              dnat: FALSE,
              ...(first ? { out: first.dev } : {}),
            })) {
              res.push([and(rc, nc), n ? n.packet : t.p]);
            }
          }
          return res;
        })()
      : [[TRUE, t.p]];
    x.fork(st1, out, `${start.name}: nat OUTPUT`, (st2, p1) => {
      const p = x.pk(st2, p1);
      x.fork(st2, lookupRouteS(start, p.dst), `${start.name}: routes`, (st3, route) => {
        if (!route) return;
        let q = x.pk(st3, p);
        let s: St | undefined = st3;
        if (route.type !== "local") {
          const lb = (a: AV) => (start.routeLocalnet ? inPrefix(a, { v: 6, n: 1n, len: 128 }) : isLoopbackS(a));
          s = x.assume(st3, and(not(lb(q.src)), not(lb(q.dst))), `${start.name}: loopback addresses stay local`);
          if (!s) return;
          q = x.pk(s, q);
        }
        s = filter(s, start, "output", q, { out: route.dev, state: t.state, dnat: FALSE });
        if (!s) return;
        const post: Cases<SPacket> = t.isNew
          ? applyNatS(start.nat.postrouting, start, x.pk(s, q), { out: route.dev, state: "new", dnat: FALSE }).map(
              ([c, n]) => [c, n ? n.packet : q] as const,
            )
          : [[TRUE, q]];
        x.fork(s, post, `${start.name}: nat POSTROUTING`, (s5, p2) => {
          settle(s5, start, t, x.pk(s5, p2), (st6, q2) => {
            if (route.type === "local") {
              const s6 = filter(st6, start, "input", q2, { in: "lo", state: t.state, dnat: FALSE });
              if (s6) deliverLocal(s6, start, x.pk(s6, q2), "lo");
              return;
            }
            transmit(st6, start, route.dev, route.via, q2, 0);
          });
        });
      });
    });
  });
}
