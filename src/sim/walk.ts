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
 */
import { isLinkLocal6, isLoopback, isMartianDestination, LOOPBACK_NET4, sameIP } from "../net/addr.js";
import type { Machine, Network } from "../ir/types.js";
import { MAX_HOPS, NAT_REMAPPED_PORT } from "../ir/dial.js";
import { applyNat, evalChain, ifaceOf, isLocal, lookupRoute, lookupSocket, matches, resolveNeighbour } from "./elements.js";
import type { Disposition, Packet, Step, Trace } from "./types.js";

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
   * client's next packet (the handshake's ACK, then data) along the connection's entries.
   */
  readonly direction?: "reply" | "original";
}

export function walk(opts: WalkOptions, start: Machine, packet: Packet): Trace {
  const steps: Step[] = [];
  const replying = opts.expect !== undefined;
  const acking = replying && opts.direction === "original";
  const done = (disposition: Disposition): Trace => ({ steps, disposition });
  const tableOf = (m: Machine) => {
    let t = opts.ct.get(m.name);
    if (!t) opts.ct.set(m.name, (t = []));
    return t;
  };

  /** Conntrack: a reply matching an entry is established and its destination restored now. */
  const track = (m: Machine, p: Packet): { p: Packet; entry?: CtEntry; state: "new" | "established" | "invalid"; isNew: boolean } => {
    if (acking) {
      // Original direction of a known connection: the recorded translation applies; TCP is
      // `established` only where the reply was seen (else conntrack calls the ACK invalid).
      const entry = tableOf(m).find((e) => samePacket(e.orig, p));
      if (entry) {
        const translated: Packet = { ...p, dst: entry.reply.src, dport: entry.reply.sport };
        return { p: translated, entry, state: entry.replySeen ? "established" : "invalid", isNew: false };
      }
      return { p, state: "new", isNew: false };
    }
    if (replying) {
      const entry = tableOf(m).find((e) => samePacket(e.reply, p));
      if (entry) {
        entry.replySeen = true;
        const restored: Packet = { ...p, dst: entry.orig.src, dport: entry.orig.sport };
        if (!samePacket(restored, p)) steps.push({ kind: "unnat", machine: m.name, before: p, after: restored });
        return { p: restored, entry, state: "established", isNew: false };
      }
      if (p.proto !== "udp") return { p, state: "invalid", isNew: false };
    }
    const entry: CtEntry = { orig: p, reply: swap(p) };
    tableOf(m).push(entry);
    return { p, entry, state: "new", isNew: true };
  };
  /** After this machine's NAT: remember the expected reply, or restore a reply's source. */
  const settle = (m: Machine, t: { entry?: CtEntry; isNew: boolean }, p: Packet): Packet => {
    if (!t.entry) return p;
    if (t.isNew) {
      // nf_nat keeps tuples unique: a translated connection whose reply would be a tuple another
      // entry here already has gets another source port (kernel-tested by `reach emulate`)
      if (p.proto !== "icmp" && !samePacket(t.entry.orig, p)) {
        const back = swap(p);
        if (tableOf(m).some((e) => e !== t.entry && (samePacket(e.orig, back) || samePacket(e.reply, back))))
          p = { ...p, sport: NAT_REMAPPED_PORT };
      }
      t.entry.reply = swap(p);
      return p;
    }
    if (acking) return { ...p, src: t.entry.reply.dst, sport: t.entry.reply.dport };
    const restored: Packet = { ...p, src: t.entry.orig.dst, sport: t.entry.orig.dport };
    if (!samePacket(restored, p)) steps.push({ kind: "unnat", machine: m.name, before: p, after: restored });
    return restored;
  };

  const filter = (
    m: Machine,
    chain: "input" | "output" | "forward",
    p: Packet,
    ctx: { in?: string; out?: string; state: "new" | "established" | "invalid"; dnat?: boolean },
  ): Disposition | undefined => {
    if (m.engine) return undefined; // a user-space NAT engine has no netfilter
    const r = evalChain(m.filter[chain], p, ctx);
    steps.push({
      kind: "filter",
      machine: m.name,
      chain,
      state: ctx.state,
      action: r.action,
      ...(r.rule ? { rule: r.rule } : {}),
      ...(r.policyOrigin ? { policyOrigin: r.policyOrigin } : {}),
    });
    if (r.action === "accept") return undefined;
    if (r.action === "reject" && r.rule) return { kind: "rejected", machine: m.name, chain, rule: r.rule };
    return {
      kind: "dropped",
      machine: m.name,
      chain,
      ...(r.rule ? { rule: r.rule } : {}),
      ...(r.policyOrigin ? { policyOrigin: r.policyOrigin } : {}),
    };
  };

  const expected = (m: Machine, p: Packet) =>
    opts.expect !== undefined && opts.expect.machine === m.name && samePacket(p, opts.expect.packet);

  /** Local delivery after INPUT accepted: the connection's reply, the kernel's echo reply, or a socket. */
  const deliverLocal = (m: Machine, p: Packet, inIf: string): Trace => {
    if (replying) {
      if (expected(m, p)) return done({ kind: "delivered", machine: m.name, packet: p });
      return done({
        kind: "reply-mismatch",
        machine: m.name,
        expectedMachine: opts.expect!.machine,
        expected: opts.expect!.packet,
        got: p,
      });
    }
    if (p.proto === "icmp") {
      // The kernel (or the NAT engine, for its own addresses) answers an echo request itself.
      steps.push({ kind: "deliver", machine: m.name, packet: p });
      return done({ kind: "delivered", machine: m.name, packet: p });
    }
    if (m.engine && sameIP(p.dst, m.engine.loopbackAddress)) {
      if (!m.engine.loopbackReachable) return done({ kind: "engine-loopback-off", machine: m.name, origin: m.engine.origin });
      return done({
        kind: "engine-relay",
        machine: m.name,
        host: m.engine.host,
        dst: { v: 4, n: LOOPBACK_NET4.n + 1n },
        dport: p.dport,
        packet: p,
        origin: m.engine.origin,
      });
    }
    // Local traffic is matched against SO_BINDTODEVICE by the device that owns the destination
    // (lo only for 127/8 and ::1), not by lo (kernel 4.13+; kernel-tested in review).
    const sockIf =
      inIf === "lo"
        ? isLoopback(p.dst)
          ? "lo"
          : (m.interfaces.find((i) => i.addrs.some((a) => sameIP(a.ip, p.dst)))?.name ?? "lo")
        : inIf;
    const socket = lookupSocket(m, p, sockIf);
    if (!socket) {
      const near = m.sockets.filter((s) => s.proto === p.proto && s.port === p.dport);
      const other = m.nat.prerouting.find(
        (r) =>
          r.action.kind === "dnat" &&
          r.match.in !== undefined &&
          r.match.in !== inIf &&
          matches({ ...r.match, in: undefined }, p, { in: inIf, state: "new" }),
      );
      return done({
        kind: "refused",
        machine: m.name,
        packet: p,
        near,
        ...(other ? { dnatOnlyOn: { rule: other, iface: other.match.in! } } : {}),
      });
    }
    steps.push({ kind: "deliver", machine: m.name, socket, packet: p });
    return done({ kind: "delivered", machine: m.name, socket, packet: p });
  };

  const transmit = (m: Machine, dev: string, via: Packet["dst"] | undefined, p: Packet, hops: number): Trace => {
    const iface = ifaceOf(m, dev);
    const nextHop = via ?? p.dst;
    if (!iface?.segment) return done({ kind: "no-neighbour", machine: m.name, iface: dev, segment: null, nextHop });
    const nb = resolveNeighbour(opts.net, iface.segment, nextHop, m.name);
    if (!nb) return done({ kind: "no-neighbour", machine: m.name, iface: dev, segment: iface.segment, nextHop });
    steps.push({
      kind: "transmit",
      machine: m.name,
      iface: dev,
      segment: iface.segment,
      to: nb.machine.name,
      toIface: nb.iface.name,
      nextHop,
    });
    return arrive(nb.machine, nb.iface.name, p, hops + 1);
  };

  const arrive = (m: Machine, inIf: string, p0: Packet, hops: number): Trace => {
    if (hops > MAX_HOPS) return done({ kind: "loop", machine: m.name });
    steps.push({ kind: "receive", machine: m.name, iface: inIf, packet: p0 });
    const t = track(m, p0);
    let p = t.p;
    /** ct status dnat: this machine translated the connection's destination (now, or on its first packet). */
    const dnat = () =>
      t.isNew
        ? !sameIP(t.p.dst, p.dst) || t.p.dport !== p.dport
        : t.entry !== undefined && (!sameIP(t.entry.orig.dst, t.entry.reply.src) || t.entry.orig.dport !== t.entry.reply.sport);
    if (t.isNew && inIf !== "lo") {
      const n = applyNat(m.nat.prerouting, m, p, { in: inIf, state: "new" });
      if (n) {
        steps.push({ kind: "nat", machine: m.name, hook: "prerouting", rule: n.rule, before: p, after: n.packet });
        p = n.packet;
      }
    }
    // Martians are judged by the routing decision, after PREROUTING: DNAT to 127/8 is one too (semantics.md 2).
    // An IPv4 packet claiming to come from one of this machine's own addresses is dropped (accept_local=0).
    if (inIf !== "lo") {
      for (const [which, addr] of [
        ["source", p.src],
        ["destination", p.dst],
      ] as const) {
        const loop = isLoopback(addr) && !(addr.v === 4 && m.routeLocalnet);
        const own = which === "source" && addr.v === 4 && !m.engine && !loop && isLocal(m, addr);
        if (loop || own || (which === "destination" && isMartianDestination(addr)))
          return done({ kind: "martian", machine: m.name, iface: inIf, addr, which });
      }
    }
    if (m.engine && replying && expected(m, p)) return done({ kind: "delivered", machine: m.name, packet: p });
    if (m.engine && replying && !t.entry) return done({ kind: "engine-no-connection", machine: m.name });
    const local = isLocal(m, p.dst);
    if (m.engine && !local && !replying) {
      return done({
        kind: "engine-relay",
        machine: m.name,
        host: m.engine.host,
        dst: p.dst,
        dport: p.dport,
        packet: p,
        origin: m.engine.origin,
      });
    }
    if (inIf !== "lo" && m.rpFilter > 0 && p.src.v === 4) {
      const back = lookupRoute(m, p.src);
      const ok = m.rpFilter === 1 ? back !== undefined && back.dev === inIf : back !== undefined;
      if (!ok) return done({ kind: "rp-filter", machine: m.name, iface: inIf, src: p.src, mode: m.rpFilter === 1 ? 1 : 2 });
    }
    if (local) {
      const route = lookupRoute(m, p.dst)!;
      steps.push({ kind: "route", machine: m.name, route, local: true });
      const blocked = filter(m, "input", p, { in: inIf, state: t.state, dnat: dnat() });
      if (blocked) return done(blocked);
      return deliverLocal(m, settle(m, t, p), inIf);
    }
    if (!m.ipForward) return done({ kind: "not-forwarding", machine: m.name, dst: p.dst });
    // IPv6 link-local addresses are never forwarded beyond their link (ICMPv6 "beyond scope").
    for (const [which, addr] of [
      ["source", p.src],
      ["destination", p.dst],
    ] as const) {
      if (addr.v === 6 && isLinkLocal6(addr)) return done({ kind: "martian", machine: m.name, iface: inIf, addr, which });
    }
    const route = lookupRoute(m, p.dst);
    if (!route) return done({ kind: "no-route", machine: m.name, dst: p.dst });
    steps.push({ kind: "route", machine: m.name, route, ...(route.via ? { via: route.via } : {}), local: false });
    const blocked = filter(m, "forward", p, { in: inIf, out: route.dev, state: t.state, dnat: dnat() });
    if (blocked) return done(blocked);
    if (t.isNew) {
      const n = applyNat(m.nat.postrouting, m, p, { in: inIf, out: route.dev, state: "new" });
      if (n) {
        steps.push({ kind: "nat", machine: m.name, hook: "postrouting", rule: n.rule, before: p, after: n.packet });
        p = n.packet;
      }
    }
    p = settle(m, t, p);
    return transmit(m, route.dev, route.via, p, hops);
  };

  // A packet sent by a process on `start`.
  steps.push({ kind: "originate", machine: start.name, packet });
  const t = track(start, packet);
  let p = t.p;
  if (t.isNew) {
    // A local packet is routed before nat OUTPUT (so `out` matches there) and rerouted after a DNAT.
    const first = lookupRoute(start, p.dst);
    const n = applyNat(start.nat.output, start, p, { state: "new", ...(first ? { out: first.dev } : {}) });
    if (n) {
      steps.push({ kind: "nat", machine: start.name, hook: "output", rule: n.rule, before: p, after: n.packet });
      p = n.packet;
    }
  }
  const route = lookupRoute(start, p.dst);
  if (!route) return done({ kind: "no-route", machine: start.name, dst: p.dst });
  steps.push({ kind: "route", machine: start.name, route, ...(route.via ? { via: route.via } : {}), local: route.type === "local" });
  // A loopback address never leaves by a real interface, unless route_localnet (IPv4 only).
  if (route.type !== "local") {
    for (const [which, addr] of [
      ["source", p.src],
      ["destination", p.dst],
    ] as const) {
      if (isLoopback(addr) && !(addr.v === 4 && start.routeLocalnet))
        return done({ kind: "martian", machine: start.name, iface: route.dev, addr, which });
    }
  }
  const blocked = filter(start, "output", p, { out: route.dev, state: t.state });
  if (blocked) return done(blocked);
  if (t.isNew) {
    const n = applyNat(start.nat.postrouting, start, p, { out: route.dev, state: "new" });
    if (n) {
      steps.push({ kind: "nat", machine: start.name, hook: "postrouting", rule: n.rule, before: p, after: n.packet });
      p = n.packet;
    }
  }
  p = settle(start, t, p);
  if (route.type === "local") {
    // Looped back: conntrack and NAT were done on the way out; INPUT sees the same state.
    steps.push({ kind: "receive", machine: start.name, iface: "lo", packet: p });
    const blockedIn = filter(start, "input", p, { in: "lo", state: t.state });
    if (blockedIn) return done(blockedIn);
    return deliverLocal(start, p, "lo");
  }
  return transmit(start, route.dev, route.via, p, 0);
}
