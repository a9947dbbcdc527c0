/**
 * One packet's trip through the network, in netfilter order (semantics.md 4):
 *
 *   local:     nat OUTPUT -> route -> filter OUTPUT -> nat POSTROUTING -> wire (or lo)
 *   arriving:  martian check -> conntrack -> nat PREROUTING -> rp_filter -> route
 *                 local:    filter INPUT -> socket lookup
 *                 forward:  ip_forward? -> filter FORWARD -> nat POSTROUTING -> wire
 *
 * NAT is decided on a connection's first packet and recorded per machine in the
 * conntrack table; the reply walk matches those entries and undoes the
 * translation (destination before routing, source after), with state
 * `established`. A machine without an entry sees a TCP or ICMP reply as
 * `invalid` and a UDP one as `new`.
 *
 * The walk is split into the same named stages as smt/walk.ts (there with an S
 * suffix; docs/engines.md): originate/output (a local packet), arrive,
 * prerouting, martian, localTable, rpFilter, then input/deliverLocal/socket
 * (local delivery) or forward/postrouting/transmit (forwarding).
 */
import { formatIP, isLinkLocal6, isLoopback, isMartianDestination, LOOPBACK_NET4, LOOPBACK6, sameIP } from "../net/addr.js";
import type { Machine, Network } from "../ir/types.js";
import type { Decision } from "../ir/decision.js";
import { MAX_HOPS, NAT_REMAPPED_PORT } from "../ir/dial.js";
import { applyNat, evalChain, ifaceOf, isLocal, lookupRoute, lookupSocket, matches, ndSource, resolveNeighbour } from "./elements.js";
import { solicitedNode } from "../ir/neighbour.js";
import type { Disposition, Packet, Step, Trace } from "./types.js";
import type { IP } from "../net/addr.js";

export interface CtEntry {
  /** The packet as this machine first saw it (before its NAT). */
  readonly orig: Packet;
  /** The reply this machine expects (swap of the packet after its NAT). */
  reply: Packet;
  /** A reply passed this machine: later original-direction packets are `established`. */
  replySeen?: boolean;
}
export type Conntrack = Map<string, CtEntry[]>;

export const swap = (p: Packet): Packet => ({ proto: p.proto, src: p.dst, dst: p.src, sport: p.dport, dport: p.sport });
export const samePacket = (a: Packet, b: Packet): boolean =>
  a.proto === b.proto && sameIP(a.src, b.src) && sameIP(a.dst, b.dst) && a.sport === b.sport && a.dport === b.dport;

export interface WalkOptions {
  readonly net: Network;
  readonly machines: ReadonlyMap<string, Machine>;
  readonly ct: Conntrack;
  /** The walk belongs to a connection already under way; it must arrive as `expect` at `expect.machine`. */
  readonly expect?: { readonly machine: string; readonly packet: Packet };
  /**
   * With `expect`: "reply" (default) walks the answer back to the client; "original" walks the
   * client's next packet (the handshake's ACK, then data) along the connection's entries; "data"
   * walks the server's data back like a reply, except that a machine holding no entry for it
   * picks a TCP packet up as a new connection (nf_conntrack_tcp_loose=1, the default), where a
   * reply would be `invalid`: state `new`, and its NAT applies (semantics.md 4).
   */
  readonly direction?: "reply" | "original" | "data";
  /**
   * With `expect` (direction "reply"): the packet is an ICMP error about the connection, sent by
   * the machine the packet was addressed to (its outer addresses are the reply's). conntrack
   * calls it `related` where the connection has an entry (and undoes the NAT as for a reply),
   * `invalid` elsewhere; filters see an ICMP packet.
   */
  readonly related?: boolean;
  /**
   * With `related`: the error was sent from this address, not from the one the packet was addressed
   * to: a router's about a packet it forwards (a FORWARD reject, no route), or the client's own
   * OUTPUT reject's about a packet to another machine (the source the route back gives). Filters, the
   * martian check and rp_filter see this outer source, conntrack and NAT the inner packet (the
   * walked one); a machine that undoes a DNAT rewrites the outer source to the dialed address
   * too (nf_nat_icmp_reply_translation), and from there the outer source is the walked one's.
   */
  readonly errorFrom?: IP;
  /**
   * IPv6 neighbour entries made so far in this exchange, "machine|iface|address" (the asker's
   * after an answered solicitation, the solicited machine's for the solicitation's source):
   * later packets to them need no discovery. Without it, each walk starts with none.
   */
  readonly neighbours?: Set<string>;
}

/** One walk's fixed context (the twin of smt `WalkerS`): the options, the steps so far, the direction. */
interface Walker {
  readonly opts: WalkOptions;
  readonly neighbours: Set<string>;
  readonly steps: Step[];
  readonly replying: boolean;
  readonly acking: boolean;
  /** an ICMP error about the connection (WalkOptions `related`) */
  readonly related: boolean;
  /** TCP's loose pickup: the server's data where no entry exists (direction "data") */
  readonly loose: boolean;
  /** an ICMP error sent from another address: its outer source while it differs from the walked packet's (WalkOptions `errorFrom`) */
  readonly outer: { src?: IP };
}

/** The packet as filters, the martian check and rp_filter see it: an ICMP error by its outer source. */
const asSeen = (w: Walker, p: Packet): Packet => (w.outer.src ? { ...p, src: w.outer.src } : p);

type TrackState = "new" | "established" | "related" | "invalid";
type Track = { p: Packet; entry?: CtEntry; state: TrackState; isNew: boolean };
type FilterCtx = { in?: string; out?: string; state: TrackState; dnat?: boolean; orig?: Packet };

/** The connection's original direction as conntrack keeps it (the client's dialed address and port); none for an invalid packet. */
const origOf = (t: Track): { orig?: Packet } => (t.entry && t.state !== "invalid" ? { orig: t.entry.orig } : {});

const done = (w: Walker, disposition: Disposition): Trace => ({ steps: w.steps, disposition });

function tableOf(w: Walker, m: Machine): CtEntry[] {
  let t = w.opts.ct.get(m.name);
  if (!t) w.opts.ct.set(m.name, (t = []));
  return t;
}

export function walk(opts: WalkOptions, start: Machine, packet: Packet): Trace {
  const replying = opts.expect !== undefined;
  const neighbours = opts.neighbours ?? new Set<string>();
  const acking = replying && opts.direction === "original";
  const loose = replying && opts.direction === "data";
  const related = !acking && opts.related === true;
  const outer = related && opts.errorFrom ? { src: opts.errorFrom } : {};
  return originate({ opts, neighbours, steps: [], replying, acking, related, loose, outer }, start, packet);
}

/** A packet sent by a process on `start`: conntrack, then nat OUTPUT (routed first, so `out` matches there). */
function originate(w: Walker, start: Machine, packet: Packet): Trace {
  w.steps.push({ kind: "originate", machine: start.name, packet });
  const t = track(w, start, packet);
  let p = t.p;
  if (t.isNew) {
    // A local packet is routed before nat OUTPUT (so `out` matches there) and rerouted after a DNAT.
    const first = lookupRoute(start, p.dst);
    const n = applyNat(start.nat.output, start, p, { state: "new", ...(first ? { out: first.dev } : {}) });
    if (n) {
      w.steps.push({ kind: "nat", machine: start.name, hook: "output", rule: n.rule, before: p, after: n.packet });
      p = n.packet;
    }
  }
  return output(w, start, p, t);
}

/** A local packet after nat OUTPUT: route, loopback stays local, filter OUTPUT, nat POSTROUTING, then lo or the wire. */
function output(w: Walker, start: Machine, p: Packet, t: Track): Trace {
  const route = lookupRoute(start, p.dst);
  if (!route)
    return done(w, {
      kind: "no-route",
      machine: start.name,
      dst: p.dst,
      ...(t.isNew && !samePacket(t.p, p) ? { rerouted: true as const } : {}),
    });
  w.steps.push({ kind: "route", machine: start.name, route, ...(route.via ? { via: route.via } : {}), local: route.type === "local" });
  // A loopback address never leaves by a real interface, unless route_localnet (IPv4 only).
  if (route.type !== "local") {
    for (const [which, addr] of [
      ["source", p.src],
      ["destination", p.dst],
    ] as const) {
      if (isLoopback(addr) && !(addr.v === 4 && start.routeLocalnet))
        return done(w, { kind: "martian", machine: start.name, iface: route.dev, addr, which, leaving: true });
    }
  }
  // nat OUTPUT (priority -100) has run: a connection it translated has ct status dnat here
  const blocked = filter(w, start, "output", p, { out: route.dev, state: t.state, dnat: dnatOf(t, p), ...origOf(t) });
  if (blocked) return done(w, blocked);
  const post = postrouting(w, start, { out: route.dev }, p, t);
  if ("kind" in post) return done(w, post);
  p = settle(w, start, t, post);
  if (route.type === "local") return loopbackIn(w, start, p, t);
  return transmit(w, start, route.dev, route.via, p, 0);
}

/** Looped back: conntrack and NAT were done on the way out; INPUT sees the same state. */
function loopbackIn(w: Walker, m: Machine, p: Packet, t: Track): Trace {
  w.steps.push({ kind: "receive", machine: m.name, iface: "lo", packet: p });
  const blockedIn = filter(w, m, "input", p, { in: "lo", state: t.state, dnat: dnatOf(t, p), ...origOf(t) });
  if (blockedIn) return done(w, blockedIn);
  return deliverLocal(w, m, p, "lo");
}

/** Conntrack: a reply matching an entry is established and its destination restored now. */
function track(w: Walker, m: Machine, p: Packet): Track {
  if (w.acking) {
    // Original direction of a known connection: the recorded translation applies; TCP is
    // `established` only where the reply was seen (else conntrack calls the ACK invalid).
    const entry = tableOf(w, m).find((e) => samePacket(e.orig, p));
    if (entry) {
      const translated: Packet = { ...p, dst: entry.reply.src, dport: entry.reply.sport };
      return { p: translated, entry, state: entry.replySeen ? "established" : "invalid", isNew: false };
    }
    return { p, state: "new", isNew: false };
  }
  if (w.replying) {
    const entry = tableOf(w, m).find((e) => samePacket(e.reply, p));
    if (entry) {
      if (!w.related) entry.replySeen = true;
      const restored: Packet = { ...p, dst: entry.orig.src, dport: entry.orig.sport };
      if (!samePacket(restored, p)) w.steps.push({ kind: "unnat", machine: m.name, before: p, after: restored });
      return { p: restored, entry, state: w.related ? "related" : "established", isNew: false };
    }
    // An ICMP error about no connection it knows is invalid to conntrack. A UDP answer without an
    // entry is a new connection; so is TCP data (loose pickup), but a NAT engine is a user-space
    // stack with no conntrack: it drops what matches no connection.
    if (w.related || (p.proto !== "udp" && !(w.loose && p.proto === "tcp" && !m.engine))) return { p, state: "invalid", isNew: false };
  }
  const entry: CtEntry = { orig: p, reply: swap(p) };
  tableOf(w, m).push(entry);
  return { p, entry, state: "new", isNew: true };
}

/** After this machine's NAT: remember the expected reply, or restore a reply's source. */
function settle(w: Walker, m: Machine, t: Track, p: Packet): Packet {
  if (!t.entry) return p;
  if (t.isNew) {
    // nf_nat keeps tuples unique: a translated connection whose reply would be a tuple another
    // entry here already has gets another source port (kernel-tested by `reach emulate`)
    if (p.proto !== "icmp" && !samePacket(t.entry.orig, p)) {
      const back = swap(p);
      if (tableOf(w, m).some((e) => e !== t.entry && (samePacket(e.orig, back) || samePacket(e.reply, back))))
        p = { ...p, sport: NAT_REMAPPED_PORT };
    }
    t.entry.reply = swap(p);
    return p;
  }
  if (w.acking) return { ...p, src: t.entry.reply.dst, sport: t.entry.reply.dport };
  const restored: Packet = { ...p, src: t.entry.orig.dst, sport: t.entry.orig.dport };
  if (!samePacket(restored, p)) w.steps.push({ kind: "unnat", machine: m.name, before: p, after: restored });
  // undoing a DNAT rewrites an ICMP error's outer source to the dialed address too
  if (w.outer.src && !sameIP(restored.src, p.src)) w.outer.src = undefined;
  return restored;
}

/** ct status dnat: this machine translated the connection's destination (now, or on its first packet). */
function dnatOf(t: Track, p: Packet): boolean {
  return t.isNew
    ? !sameIP(t.p.dst, p.dst) || t.p.dport !== p.dport
    : t.entry !== undefined && (!sameIP(t.entry.orig.dst, t.entry.reply.src) || t.entry.orig.dport !== t.entry.reply.sport);
}

/** A filter chain's verdict, recorded as a step; the disposition when it refuses. A NAT engine has no netfilter. */
function filter(w: Walker, m: Machine, chain: "input" | "output" | "forward", p: Packet, ctx: FilterCtx): Disposition | undefined {
  if (m.engine) return undefined;
  // an ICMP error is matched as ICMP (no ports), whatever the connection it is about
  const seen = asSeen(w, p);
  const r = evalChain(m.filter[chain], w.related ? { ...seen, proto: "icmp" } : seen, ctx);
  const cite = { ...(r.rule ? { rule: r.rule } : {}), ...(r.policyOrigin ? { policyOrigin: r.policyOrigin } : {}) };
  w.steps.push({ kind: "filter", machine: m.name, chain, state: ctx.state, action: r.action, ...cite });
  if (r.action === "accept") return undefined;
  if (r.action === "reject" && r.rule) return { kind: "rejected", machine: m.name, chain, rule: r.rule, packet: p };
  return { kind: "dropped", machine: m.name, chain, ...cite };
}

const expected = (w: Walker, m: Machine, p: Packet): boolean =>
  w.opts.expect !== undefined && w.opts.expect.machine === m.name && samePacket(p, w.opts.expect.packet);

/** Local delivery after INPUT accepted: the connection's reply, the kernel's echo reply, a NAT engine's loopback, or a socket. */
function deliverLocal(w: Walker, m: Machine, p: Packet, inIf: string): Trace {
  if (w.replying) {
    if (expected(w, m, p)) return done(w, { kind: "delivered", machine: m.name, packet: p });
    const expect = w.opts.expect!;
    return done(w, { kind: "reply-mismatch", machine: m.name, expectedMachine: expect.machine, expected: expect.packet, got: p });
  }
  if (p.proto === "icmp") {
    // The kernel (or the NAT engine, for its own addresses) answers an echo request itself.
    w.steps.push({ kind: "deliver", machine: m.name, packet: p });
    return done(w, { kind: "delivered", machine: m.name, packet: p });
  }
  const lb6 = m.engine?.loopbackAddress6;
  if (m.engine && (sameIP(p.dst, m.engine.loopbackAddress) || (lb6 && sameIP(p.dst, lb6)))) {
    if (!m.engine.loopbackReachable) return done(w, { kind: "engine-loopback-off", machine: m.name, origin: m.engine.origin });
    // the gateway stands for the host's loopback of its family: 127.0.0.1, or ::1 (libslirp)
    const dst: IP = p.dst.v === 4 ? { v: 4, n: LOOPBACK_NET4.n + 1n } : LOOPBACK6;
    return done(w, { kind: "engine-relay", machine: m.name, host: m.engine.host, dst, dport: p.dport, packet: p, origin: m.engine.origin });
  }
  return socket(w, m, p, inIf);
}

/** The listening socket: SO_BINDTODEVICE is matched against the device owning a local destination (lo for loopback ones). */
function socket(w: Walker, m: Machine, p: Packet, inIf: string): Trace {
  // Local traffic is matched against SO_BINDTODEVICE by the device that owns the destination
  // (lo only for 127/8 and ::1), not by lo (kernel 4.13+; kernel-tested in review).
  const sockIf =
    inIf === "lo" ? (isLoopback(p.dst) ? "lo" : (m.interfaces.find((i) => i.addrs.some((a) => sameIP(a.ip, p.dst)))?.name ?? "lo")) : inIf;
  const found = lookupSocket(m, p, sockIf);
  if (!found) {
    const near = m.sockets.filter((s) => s.proto === p.proto && s.port === p.dport);
    const other = m.nat.prerouting.find(
      (r) =>
        r.action.kind === "dnat" &&
        r.match.in !== undefined &&
        r.match.in !== inIf &&
        matches({ ...r.match, in: undefined }, p, { in: inIf, state: "new" }),
    );
    const dnatOnlyOn = other ? { dnatOnlyOn: { rule: other, iface: other.match.in! } } : {};
    return done(w, { kind: "refused", machine: m.name, packet: p, near, ...dnatOnlyOn });
  }
  w.steps.push({ kind: "deliver", machine: m.name, socket: found, packet: p });
  return done(w, { kind: "delivered", machine: m.name, socket: found, packet: p });
}

/** Out of `dev` to the next hop: whoever answers ARP/ND on the segment receives the packet. */
function transmit(w: Walker, m: Machine, dev: string, via: IP | undefined, p: Packet, hops: number): Trace {
  const iface = ifaceOf(m, dev);
  const nextHop = via ?? p.dst;
  if (!iface?.segment) return done(w, { kind: "no-neighbour", machine: m.name, iface: dev, segment: null, nextHop });
  const nb = resolveNeighbour(w.opts.net, iface.segment, nextHop, m.name);
  if (!nb) return done(w, { kind: "no-neighbour", machine: m.name, iface: dev, segment: iface.segment, nextHop });
  const filtered = nextHop.v === 6 ? discover(w, m, dev, nextHop, nb, p.src) : undefined;
  if (filtered) return done(w, { kind: "no-neighbour", machine: m.name, iface: dev, segment: iface.segment, nextHop, filtered });
  const to = { to: nb.machine.name, toIface: nb.iface.name };
  w.steps.push({ kind: "transmit", machine: m.name, iface: dev, segment: iface.segment, ...to, nextHop });
  return arrive(w, nb.machine, nb.iface.name, p, hops + 1);
}

/** A neighbour entry's key: `machine` knows `ip` on `iface`. */
export const neighbourKey = (machine: string, iface: string, ip: IP): string => `${machine}|${iface}|${formatIP(ip)}`;

/**
 * IPv6 neighbour discovery before `m` sends to `nextHop` out of `dev` (semantics.md 3): the
 * solicitation crosses m's OUTPUT and the neighbour's INPUT, the advertisement the neighbour's
 * OUTPUT and m's INPUT, all as untracked ICMPv6. An entry made earlier in the exchange needs
 * none; a solicitation that got in leaves the neighbour an entry for its source. Returns the
 * chain that drops it, if one does.
 */
function discover(w: Walker, m: Machine, dev: string, nextHop: IP, nb: { machine: Machine; iface: { name: string } }, src: IP) {
  if (w.neighbours.has(neighbourKey(m.name, dev, nextHop))) return undefined;
  const from = ndSource(m, dev, src);
  const ns: Packet = { proto: "icmp", src: from, dst: solicitedNode(nextHop), sport: 0, dport: 0 };
  const na: Packet = { proto: "icmp", src: nextHop, dst: from, sport: 0, dport: 0 };
  const legs = [
    [m, "output", ns, { out: dev }],
    [nb.machine, "input", ns, { in: nb.iface.name }],
    [nb.machine, "output", na, { out: nb.iface.name }],
    [m, "input", na, { in: dev }],
  ] as const;
  for (const [k, [at, chain, pkt, ifs]] of legs.entries()) {
    if (k === 2) w.neighbours.add(neighbourKey(nb.machine.name, nb.iface.name, from));
    if (at.engine) continue;
    const r = evalChain(at.filter[chain], pkt, { ...ifs, state: "untracked" });
    if (r.action === "accept") continue;
    const cite = { ...(r.rule ? { rule: r.rule } : {}), ...(r.policyOrigin ? { policyOrigin: r.policyOrigin } : {}) };
    return { machine: at.name, chain, what: k < 2 ? ("solicitation" as const) : ("advertisement" as const), ...cite };
  }
  w.neighbours.add(neighbourKey(m.name, dev, nextHop));
  return undefined;
}

/** A packet arriving on `inIf`: the hop limit, then conntrack. */
function arrive(w: Walker, m: Machine, inIf: string, p0: Packet, hops: number): Trace {
  if (hops > MAX_HOPS) return done(w, { kind: "loop", machine: m.name });
  w.steps.push({ kind: "receive", machine: m.name, iface: inIf, packet: p0 });
  return prerouting(w, m, inIf, track(w, m, p0), hops);
}

/** nat PREROUTING on a connection's first packet (not for looped-back packets). */
function prerouting(w: Walker, m: Machine, inIf: string, t: Track, hops: number): Trace {
  let p = t.p;
  if (t.isNew && inIf !== "lo") {
    const n = applyNat(m.nat.prerouting, m, p, { in: inIf, state: "new" });
    if (n) {
      w.steps.push({ kind: "nat", machine: m.name, hook: "prerouting", rule: n.rule, before: p, after: n.packet });
      p = n.packet;
    }
  }
  return martian(w, m, inIf, p, t, hops);
}

/** Martians, judged after PREROUTING (a DNAT to 127/8 is one too); then a NAT engine's own connections. */
function martian(w: Walker, m: Machine, inIf: string, p: Packet, t: Track, hops: number): Trace {
  // Martians are judged by the routing decision, after PREROUTING: DNAT to 127/8 is one too (semantics.md 2).
  // An IPv4 packet claiming to come from one of this machine's own addresses is dropped (accept_local=0).
  if (inIf !== "lo") {
    for (const [which, addr] of [
      ["source", asSeen(w, p).src],
      ["destination", p.dst],
    ] as const) {
      const loop = isLoopback(addr) && !(addr.v === 4 && m.routeLocalnet);
      const own = which === "source" && addr.v === 4 && !m.engine && !loop && isLocal(m, addr);
      if (loop || own || (which === "destination" && isMartianDestination(addr)))
        return done(w, { kind: "martian", machine: m.name, iface: inIf, addr, which });
    }
  }
  // libslirp with the host's loopback unreachable drops a guest's UDP answer to the address that
  // stands for it, also a port forward's answer to a client on the host's loopback (kernel-tested)
  if (m.engine && w.replying && p.proto === "udp" && !m.engine.loopbackReachable && sameIP(p.dst, m.engine.loopbackAddress))
    return done(w, { kind: "engine-loopback-off", machine: m.name, origin: m.engine.origin });
  if (m.engine && w.replying && expected(w, m, p)) return done(w, { kind: "delivered", machine: m.name, packet: p });
  if (m.engine && w.replying && !t.entry) return done(w, { kind: "engine-no-connection", machine: m.name });
  return localTable(w, m, inIf, p, t, hops);
}

/** The local table: is the destination this machine's? A NAT engine relays what is not. */
function localTable(w: Walker, m: Machine, inIf: string, p: Packet, t: Track, hops: number): Trace {
  const local = isLocal(m, p.dst);
  if (m.engine && !local && !w.replying) {
    // libslirp relays no ICMPv6 echo to other hosts (ip6_icmp.c: "external icmpv6 not supported yet"; kernel-tested)
    if (p.proto === "icmp" && p.dst.v === 6) return done(w, { kind: "engine-no-icmp6", machine: m.name, origin: m.engine.origin });
    const relay = { host: m.engine.host, dst: p.dst, dport: p.dport, packet: p, origin: m.engine.origin };
    return done(w, { kind: "engine-relay", machine: m.name, ...relay });
  }
  return rpFilter(w, m, inIf, p, t, hops, local);
}

/** Reverse-path filtering (IPv4): strict wants the route back out of `inIf`, loose any route back. */
function rpFilter(w: Walker, m: Machine, inIf: string, p: Packet, t: Track, hops: number, local: boolean): Trace {
  const src = asSeen(w, p).src;
  if (inIf !== "lo" && m.rpFilter > 0 && src.v === 4) {
    const back = lookupRoute(m, src);
    const ok = m.rpFilter === 1 ? back !== undefined && back.dev === inIf : back !== undefined;
    if (!ok) return done(w, { kind: "rp-filter", machine: m.name, iface: inIf, src, mode: m.rpFilter === 1 ? 1 : 2 });
  }
  if (local) return input(w, m, inIf, p, t);
  return forward(w, m, inIf, p, t, hops);
}

/** For this machine: filter INPUT, restore a reply's source, deliver. */
function input(w: Walker, m: Machine, inIf: string, p: Packet, t: Track): Trace {
  const route = lookupRoute(m, p.dst)!;
  w.steps.push({ kind: "route", machine: m.name, route, local: true });
  const blocked = filter(w, m, "input", p, { in: inIf, state: t.state, dnat: dnatOf(t, p), ...origOf(t) });
  if (blocked) return done(w, blocked);
  return deliverLocal(w, m, settle(w, m, t, p), inIf);
}

/** For another machine: ip_forward, IPv6 link-local stays, route, filter FORWARD, nat POSTROUTING, the wire. */
function forward(w: Walker, m: Machine, inIf: string, p: Packet, t: Track, hops: number): Trace {
  if (!m.ipForward) return done(w, { kind: "not-forwarding", machine: m.name, dst: p.dst });
  // IPv6 link-local addresses are never forwarded beyond their link (ICMPv6 "beyond scope").
  for (const [which, addr] of [
    ["source", p.src],
    ["destination", p.dst],
  ] as const) {
    if (addr.v === 6 && isLinkLocal6(addr)) return done(w, { kind: "martian", machine: m.name, iface: inIf, addr, which });
  }
  const route = lookupRoute(m, p.dst);
  if (!route) return done(w, { kind: "no-route", machine: m.name, dst: p.dst });
  w.steps.push({ kind: "route", machine: m.name, route, ...(route.via ? { via: route.via } : {}), local: false });
  const blocked = filter(w, m, "forward", p, { in: inIf, out: route.dev, state: t.state, dnat: dnatOf(t, p), ...origOf(t) });
  if (blocked) return done(w, blocked);
  const post = postrouting(w, m, { in: inIf, out: route.dev }, p, t);
  if ("kind" in post) return done(w, post);
  p = settle(w, m, t, post);
  return transmit(w, m, route.dev, route.via, p, hops);
}

/** nat POSTROUTING on a connection's first packet: the packet as it leaves, or the drop of a masquerade with no address. */
function postrouting(w: Walker, m: Machine, ifs: { in?: string; out: string }, p: Packet, t: Track): Packet | Disposition {
  if (!t.isNew) return p;
  const n = applyNat(m.nat.postrouting, m, p, { ...ifs, state: "new" });
  if (!n) return p;
  if (n.drop) return { kind: "masquerade-no-address", machine: m.name, iface: ifs.out, rule: n.rule };
  w.steps.push({ kind: "nat", machine: m.name, hook: "postrouting", rule: n.rule, before: p, after: n.packet });
  return n.packet;
}

/**
 * The decision point (ir/decision.ts) that ended a walk, for a disposition that is a
 * failure: the same vocabulary the symbolic engine labels its conditions with.
 * (A martian disposition says whether it was judged as the packet left; link-local ones are
 * told by their address.)
 */
export function decisionOf(d: Disposition, machines: ReadonlyMap<string, Machine>): Decision | undefined {
  switch (d.kind) {
    case "delivered":
    case "engine-relay":
      return undefined;
    case "refused":
      return { kind: "socket", machine: d.machine };
    case "dropped":
    case "rejected": {
      const rule = d.rule;
      if (!rule)
        return {
          kind: "filter",
          machine: d.machine,
          chain: d.chain,
          policy: d.kind === "dropped" && d.policyOrigin ? { origin: d.policyOrigin } : {},
        };
      const index = (machines.get(d.machine)?.filter[d.chain].rules.indexOf(rule) ?? -1) + 1;
      return { kind: "filter", machine: d.machine, chain: d.chain, rule: { index, origin: rule.origin } };
    }
    case "no-route":
      return { kind: "route", machine: d.machine };
    case "no-neighbour":
      return { kind: "neighbour", machine: d.machine, segment: d.segment };
    case "not-forwarding":
      return { kind: "not-forwarding", machine: d.machine };
    case "rp-filter":
      return { kind: "rp-filter", machine: d.machine, mode: d.mode };
    case "martian":
      return {
        kind: "martian",
        machine: d.machine,
        check: d.leaving ? "departure" : d.addr.v === 6 && isLinkLocal6(d.addr) ? "link-local" : "arrival",
      };
    case "loop":
      return { kind: "loop", machine: d.machine, bound: "hops" };
    case "engine-loopback-off":
      return { kind: "engine-loopback", machine: d.machine, origin: d.origin };
    case "engine-no-connection":
    case "engine-no-icmp6":
      return { kind: "engine-no-connection", machine: d.machine };
    case "no-source":
      return { kind: "source-address", machine: d.machine, role: "client" };
    case "reply-mismatch":
      return { kind: "reply-mismatch", machine: d.machine };
    case "masquerade-no-address": {
      const index = (machines.get(d.machine)?.nat.postrouting.indexOf(d.rule) ?? -1) + 1;
      return { kind: "nat", machine: d.machine, hook: "postrouting", rule: { index, origin: d.rule.origin } };
    }
  }
}
