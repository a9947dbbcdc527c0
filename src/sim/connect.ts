/**
 * A whole exchange: a process on one machine opens a connection (TCP), sends a
 * datagram (UDP) or pings (ICMP echo), and the answer must come back.
 *
 * The first packet walks the network; when it reaches a listening socket the
 * reply walks back against the conntrack state the first packet left. A relay
 * socket (VirtualBox NAT port forward) accepts the client's connection and opens
 * a second leg from its NAT engine to the guest, with source 10.0.x.2 when the
 * client came from loopback and the client's own address otherwise; a machine's
 * relay process (docker-proxy) opens it from the machine itself. A NAT engine
 * answers the guest itself and re-sends what it got as a new connection of the
 * host (semantics.md 5). The attempt succeeds when every leg's first packet and
 * reply made it (for TCP also the client's next packet, and the server's data where the reply
 * crossed a machine that never saw the request) and the last leg ended at a service (or, for
 * ICMP, a kernel).
 */
import { isAny, isLoopback, LOOPBACK4, LOOPBACK6, unmap, type IP } from "../net/addr.js";
import { machineIndex, type Machine, type Network, type Socket } from "../ir/types.js";
import { HOST_EPHEMERAL, MAX_LEGS, type Dial } from "../ir/dial.js";
import type { Query } from "../ir/query.js";
import { isLocal, lookupRoute, relaySource, selectSource } from "./elements.js";
import { shadowedUdpForward } from "../ir/slirp.js";
import type { Attempt, Direction, Disposition, Leg, Packet, Step, Trace } from "./types.js";
import { samePacket, swap, walk, type Conntrack, type WalkOptions } from "./walk.js";

/** The attempt does what the query asks: it ended at the queried machine, at a service on the queried port (or, for ping, anywhere the query names). */
export function meetsQuery(q: Query, a: Attempt): boolean {
  if (!a.ok || a.outcome.kind !== "ok") return false;
  const t = q.target;
  if (t.kind !== "machine") return true;
  return (
    a.outcome.machine === t.machine &&
    (q.proto === "icmp" || (a.outcome.socket?.role.kind === "service" && a.outcome.socket.port === q.port))
  );
}

/** Whether a TCP packet's end draws a reset: nothing listens, or a reject with tcp-reset. */
export const isReset = (d: Disposition): boolean => d.kind === "refused" || (d.kind === "rejected" && d.rule.with === "tcp-reset");

/**
 * The relay that accepted the client before leg `leg` failed: the leg before it, past NAT engines'
 * hand-offs (a relay whose own connection leaves through a NAT engine is answered by the engine,
 * which turns the host's refusal into a reset: seed 20261126, a VM's socat relay behind QEMU's
 * user network). Undefined when the leg before was not delivered to a relay socket.
 */
export function relayBefore(a: Attempt, leg: number): { readonly machine: string; readonly socket: Socket } | undefined {
  for (let k = leg - 1; k >= 0; k--) {
    const d = a.legs[k]!.forward.disposition;
    if (d.kind === "engine-relay") continue;
    return d.kind === "delivered" && d.socket?.role.kind === "relay" ? { machine: d.machine, socket: d.socket } : undefined;
  }
  return undefined;
}

/** The machines by name (ir/types.ts), for the simulator's callers. */
export { machineIndex };

/**
 * What a refused or rejected packet draws, walked back to the client (kernel-forced: where the way
 * back has no route or a filter drops it, the client times out instead of hearing the error):
 * - a TCP reset (nothing listens, or a reject with tcp-reset), the connection's reply, which
 *   conntrack counts as established;
 * - an ICMP error from the machine the packet was addressed to (a UDP port nobody listens on, or a
 *   reject of an ICMP type in its INPUT chain), which conntrack counts as related and filters see
 *   as ICMP.
 * - the net-unreachable a NAT engine with the host's loopback closed answers a TCP SYN to its
 *   gateway with (libslirp), from that address;
 * - an ICMP error a router sends about a packet its FORWARD chain rejects, it has no route for, or
 *   whose next hop never answers its neighbour lookup, from the router's own address (WalkOptions
 *   `errorFrom`), related where the connection has an entry.
 * Also when the client refused or rejected it itself: the answer crosses its OUTPUT and INPUT
 * chains on lo (test/regressions/kernel-loopback-reset.test.ts). Not walked: the error a client's
 * own failed neighbour lookup raises, which is taken as heard.
 */
function errorBack(
  net: Network,
  machines: ReadonlyMap<string, Machine>,
  { ct, neighbours }: { ct: Conntrack; neighbours: Set<string> },
  from: Machine,
  packet: Packet,
  d: Disposition,
  steps: readonly Step[],
) {
  const at = machines.get(d.machine);
  if (!at) return {};
  const icmpOpts: WalkOptions = { net, machines, ct, neighbours, expect: { machine: from.name, packet: swap(packet) }, related: true };
  // an error about the packet as the machine on the way holds it
  const fromHeld = (walkFrom: (there: Held) => { errorBack: Trace }) => {
    const there = packetAt(steps, d.machine);
    return there ? walkFrom(there) : {};
  };
  // a router without a route answers with net-unreachable (ip_error), one whose next hop never
  // answers ARP or ND with host-unreachable (ipv4_link_failure, ICMPv6 address-unreachable), from its own address
  if (routerCannotSend(d, from)) return fromHeld((there) => routerError(icmpOpts, at, there));
  // libslirp answers the guest's SYN with net-unreachable from the address it dialed: the guest's own
  // chains see it as a related ICMP error (a guest whose INPUT accepts no `related` never hears it)
  if (d.kind === "engine-loopback-off" && packet.proto === "tcp")
    return fromHeld((there) => ({ errorBack: walk(icmpOpts, at, swap(there.now)) }));
  if (d.kind !== "refused" && d.kind !== "rejected") return {};
  const reset = packet.proto === "tcp" && isReset(d);
  if (!reset && d.kind === "rejected" && d.chain === "output" && packet.proto !== "udp" && d.machine === from.name)
    return ownError(icmpOpts, at, packet, d.packet);
  const router = d.kind === "rejected" && d.chain === "forward";
  const icmp = !reset && ((d.kind === "refused" && packet.proto === "udp") || (d.kind === "rejected" && d.chain === "input") || router);
  if (!reset && !icmp) return {};
  if (icmp && router) return fromHeld((there) => routerError(icmpOpts, at, there));
  return { errorBack: walk({ ...icmpOpts, related: icmp }, at, swap(d.packet)) };
}

/**
 * A machine on the way that cannot send the packet on (no route, or no neighbour answers its lookup),
 * which answers with an ICMP error of its own; the client's own failure raises none that is walked.
 */
const routerCannotSend = (d: Disposition, from: Machine): boolean =>
  (d.kind === "no-route" || d.kind === "no-neighbour") && d.machine !== from.name;

/** A packet a machine holds: as it was received there, and now, after its nat PREROUTING. */
type Held = { readonly received: Packet; readonly now: Packet };

/**
 * The machine's conntrack entry for `orig` takes the NAT `p` shows now, as the kernel's does when the
 * rule applies (the walk settles an entry only when its packet leaves the machine).
 */
function takeNat(ct: Conntrack, at: Machine, orig: Packet, p: Packet): void {
  const entry = ct.get(at.name)?.find((e) => samePacket(e.orig, orig));
  if (entry) entry.reply = swap(p);
}

/**
 * A router's ICMP error about the packet it holds: from its own address toward the packet's source
 * (icmp_send: the route back picks it), related to the router's entry, its DNAT taken.
 */
function routerError(opts: WalkOptions, at: Machine, there: Held): { errorBack: Trace } {
  const p = there.now;
  takeNat(opts.ct, at, there.received, p);
  const back = lookupRoute(at, p.src);
  const errorFrom = back ? selectSource(at, back, p.src) : undefined;
  if (!errorFrom) return { errorBack: { steps: [], disposition: { kind: "no-route", machine: at.name, dst: p.src } } };
  return { errorBack: walk({ ...opts, errorFrom }, at, swap(p)) };
}

/**
 * The ICMP error a machine's own OUTPUT chain answers its own TCP SYN or ping with (`sent` as it left the
 * process, `p` as the chain saw it, after nat OUTPUT): a local packet to the client's own address,
 * which crosses that OUTPUT chain itself and INPUT on lo (a chain that rejects everything drops it:
 * seed 32000073). Its source is the dialed address where that is the machine's own, else the
 * client's address (icmp_send: the local route back picks it). A UDP client's send() has already
 * failed (EPERM), so only TCP and ping are walked (ping shows the error if it gets back: kernel-tested).
 */
function ownError(opts: WalkOptions, at: Machine, sent: Packet, p: Packet): { errorBack: Trace } {
  takeNat(opts.ct, at, sent, p);
  return { errorBack: walk(isLocal(at, p.dst) ? opts : { ...opts, errorFrom: p.src }, at, swap(p)) };
}

/** The packet on `machine`, the last machine of a trace (Held). */
function packetAt(steps: readonly Step[], machine: string): Held | undefined {
  let now: Packet | undefined;
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    if (s.machine !== machine) return undefined;
    if (s.kind === "nat") now ??= s.after;
    if (s.kind === "receive") return { received: s.packet, now: now ?? s.packet };
  }
  return undefined;
}

// Long: one connection leg by leg (route, walk, reply, ACK, relay), each step a call; the smt twin is walkS
export function attempt(net: Network, machines: ReadonlyMap<string, Machine>, dial: Dial): Attempt {
  const ct: Conntrack = new Map();
  // IPv6 neighbour entries made during this exchange (walk.ts `discover`)
  const neighbours = new Set<string>();
  const legs: Leg[] = [];
  const fail = (leg: number, direction: Direction, disposition: Disposition): Attempt => ({
    legs,
    ok: false,
    outcome: { kind: "failed", leg, direction, disposition },
  });
  let from = machines.get(dial.from);
  if (!from) throw new Error(`internal: unknown machine ${dial.from}`);
  // connect() to 0.0.0.0 / :: means this host's loopback; to ::ffff:a.b.c.d (dual-stack socket) it sends IPv4 (ipv6(7)).
  let dst = isAny(dial.dst) ? (dial.dst.v === 4 ? LOOPBACK4 : LOOPBACK6) : unmap(dial.dst);
  let dport = dial.dport;
  let src: IP | undefined;
  let sport = dial.sport;
  for (let i = 0; i < MAX_LEGS; i++) {
    const route = lookupRoute(from, dst);
    src ??= route ? selectSource(from, route, dst) : undefined;
    if (!route || !src) {
      // connect() fails at once (ENETUNREACH): no packet is sent
      const packet: Packet = { proto: dial.proto, src: src ?? { v: dst.v, n: 0n }, dst, sport, dport };
      const disposition = !route
        ? ({ kind: "no-route", machine: from.name, dst } as const)
        : ({ kind: "no-source", machine: from.name, iface: route.dev } as const);
      legs.push({ forward: { steps: [], disposition }, packet, from: from.name });
      return fail(i, "forward", disposition);
    }
    const packet: Packet = { proto: dial.proto, src, dst, sport, dport };
    const forward = walk({ net, machines, ct, neighbours }, from, packet);
    const d = forward.disposition;
    if (d.kind !== "delivered" && d.kind !== "engine-relay") {
      const back = errorBack(net, machines, { ct, neighbours }, from, packet, d, forward.steps);
      const engine = legs[i - 1]?.forward.disposition;
      // what libslirp passes no ICMP error of on to its guest (types.ts Leg.errorSwallowed): UDP re-sent to the
      // host's loopback; TCP whose connection an ICMP error ends (a reject, a router without a route)
      const udpLoop = back.errorBack && packet.proto === "udp" && isLoopback(packet.dst);
      const tcpIcmp = packet.proto === "tcp" && ((d.kind === "rejected" && !isReset(d)) || routerCannotSend(d, from));
      const swallowed = engine?.kind === "engine-relay" && (udpLoop || tcpIcmp) ? { errorSwallowed: engine.machine } : {};
      legs.push({ forward, packet, from: from.name, ...back, ...swallowed });
      return fail(i, "forward", d);
    }
    const server = machines.get(d.machine)!;
    // A UDP server on a wildcard bind without IP_PKTINFO answers from the route's source address
    // (kernel-tested), which a connected client does not accept when it dialed another address.
    // That holds for a local client too: dialing 127.0.0.2 from 127.0.0.1, the answer comes from
    // 127.0.0.1, the local route's source (found by `reach emulate`, 2026-11-23).
    let answer = swap(d.packet);
    const sock = d.kind === "delivered" ? d.socket : undefined;
    if (dial.proto === "udp" && sock && isAny(unmap(sock.bind)) && !sock.pktinfo) {
      const back = lookupRoute(server, answer.dst);
      const from2 = back ? selectSource(server, back, answer.dst) : undefined;
      if (from2) answer = { ...answer, src: from2 };
    }
    const reply = walk({ net, machines, ct, neighbours, expect: { machine: from.name, packet: swap(packet) } }, server, answer);
    if (reply.disposition.kind !== "delivered") {
      legs.push({ forward, reply, packet, from: from.name });
      return fail(i, "reply", reply.disposition);
    }
    // TCP: the handshake's last ACK and all data travel the original direction as `established`.
    const ack =
      dial.proto === "tcp"
        ? walk({ net, machines, ct, neighbours, expect: { machine: d.machine, packet: d.packet }, direction: "original" }, from, packet)
        : undefined;
    // TCP: the server's data, where the reply crossed a machine holding no entry (types.ts Leg.data)
    const data =
      ack?.disposition.kind === "delivered" && reply.steps.some((s) => s.kind === "filter" && s.state === "invalid")
        ? walk({ net, machines, ct, neighbours, expect: { machine: from.name, packet: swap(packet) }, direction: "data" }, server, answer)
        : undefined;
    legs.push({ forward, reply, ...(ack ? { ack } : {}), ...(data ? { data } : {}), packet, from: from.name });
    if (ack && ack.disposition.kind !== "delivered") return fail(i, "ack", ack.disposition);
    if (data && data.disposition.kind !== "delivered") return fail(i, "data", data.disposition);
    if (d.kind === "engine-relay") {
      // The host process opens its own socket: the host's kernel picks the source address and port.
      from = machines.get(d.host)!;
      dst = d.dst;
      dport = d.dport;
      src = undefined;
      sport = HOST_EPHEMERAL;
      continue;
    }
    const role = d.socket?.role;
    if (role?.kind === "relay") {
      // of several UDP forwards of one engine to one guest port only the last answers (ir/slirp.ts)
      if (dial.proto === "udp" && shadowedUdpForward(server, d.socket!))
        return fail(i, "reply", { kind: "engine-no-connection", machine: role.engine });
      from = machines.get(role.engine)!;
      // A libslirp forward keeps the client's address (an IPv6 client of an IPv4 guest cannot: the
      // gateway's then); a machine's relay process (docker-proxy) connects with its own socket.
      ({ src, sport } = relaySource(role, d.packet.src, sport, HOST_EPHEMERAL));
      dst = role.to;
      dport = role.toPort;
      continue;
    }
    return { legs, ok: true, outcome: { kind: "ok", machine: d.machine, ...(d.socket ? { socket: d.socket } : {}) } };
  }
  const last = legs[legs.length - 1]!;
  return fail(legs.length - 1, "forward", { kind: "loop", machine: last.from });
}
