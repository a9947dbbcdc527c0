/**
 * Root causes of an unreachable answer, as data (docs/causes.md).
 *
 * The simulator's closest attempt says where the most obvious dial died; that is a symptom, and
 * often of a dial nobody would make. A cause is found in three steps:
 *
 *  1. Structure first: when the target sits only on networks the client cannot be on (a VM's
 *     VirtualBox NAT network without a forward to the port, an internal network, a host-only
 *     address outside its network's subnet, another VM's private NAT network), that mode is the
 *     cause, at the adapter that declares it; no route can help.
 *  2. The dial a person would make (`intendedDials`): the target's own address on a network the
 *     client shares, each port forward or router forward leading to the port as seen from the
 *     client (a forward bound to 127.0.0.1 dialed at its host's address from another machine),
 *     then the target's other addresses.
 *  3. Every blocker on that dial, in path order: the failure is classified into a cause, then
 *     removed in a copy of the network (the firewall rule taken out, the bind widened, ip_forward
 *     switched on ...) and the dial simulated again, until it gets through or a blocker is met
 *     that no single setting removes.
 *
 * Each cause has a stable code, the machine and file:line:col that hold it, the symptom the
 * client sees, and one sentence to act on.
 */
import { formatSpan, type Span } from "../diagnostics/diagnostic.js";
import {
  contains,
  formatEndpoint,
  formatIP,
  formatPrefix,
  isAny,
  isLoopback,
  LOOPBACK4,
  prefixOf,
  sameIP,
  unmap,
  type IP,
} from "../net/addr.js";
import type { Chain, Machine, Network, Origin, Proto, Segment, Socket } from "../ir/types.js";
import { DEFAULT_SPORT, ECHO_ID, type Dial } from "../ir/dial.js";
import type { Query } from "../ir/query.js";
import { attempt, machineIndex, relayBefore } from "../sim/connect.js";
import { lookupRoute } from "../sim/elements.js";
import type { Attempt, Disposition } from "../sim/types.js";
import { dialedText } from "./explain.js";
import { rejectSymptom, type Symptom } from "./symptom.js";

/** The catalogue: code -> title. Codes are permanent; docs/causes.md documents each (a test keeps them equal). */
export const CAUSES = {
  NAT_NO_FORWARD: "the target is behind a VirtualBox NAT adapter and no port forward leads to the port",
  NAT_NO_INBOUND_ICMP: "VirtualBox NAT passes ICMP only outbound",
  INTERNAL_NO_HOST_SIDE: "the target is only on an internal network, which has no host side",
  SEPARATE_NAT_NETWORKS: "each NAT adapter is its own private network: the address is the client's own",
  HOSTONLY_SUBNET_MISMATCH: "a host-only adapter's address is outside its network's subnet",
  BIND_LOOPBACK: "the service listens on loopback only",
  BIND_WRONG_FAMILY: "the service listens on the other IP family",
  BIND_OTHER_ADDRESS: "the service listens on another address of its machine",
  BIND_DEVICE: "the service is bound to another interface",
  FORWARD_HOST_LOOPBACK: "the port forward listens on the host's loopback only",
  FORWARD_TO_NOTHING: "the port forward leads to a port where nothing listens",
  NOTHING_LISTENS: "nothing listens on the port",
  FIREWALL_DROP: "a firewall rule or policy drops the packets",
  FIREWALL_REJECT: "a firewall rule rejects the packets",
  NO_ROUTE: "a machine on the way has no route to the destination",
  NO_NEIGHBOUR: "nothing on the segment answers for the next hop",
  NEIGHBOUR_FILTERED: "a firewall drops IPv6 neighbour discovery (untracked ICMPv6) for the next hop",
  NOT_ATTACHED: "the interface is not attached to any network",
  IP_FORWARD_OFF: "a machine on the way does not forward packets (ip_forward=0)",
  RP_FILTER: "reverse-path filtering drops the packets",
  MARTIAN: "the kernel drops a packet with an impossible address",
  RETURN_PATH: "the request arrives but the reply does not come back",
  NO_HAIRPIN: "the router's forward applies only from outside (no hairpin NAT)",
  LOCALHOST_UNREACHABLE: "the NAT gateway maps to the host's loopback only with localhost-reachable on",
  ROUTING_LOOP: "the packets loop between routers",
  NO_SOURCE_ADDRESS: "the client has no address to send from",
  MASQUERADE_NO_ADDRESS: "a masquerade rule finds no IPv4 address to take, and the kernel drops the packet",
  ROUTER_NO_FORWARD: "the client is outside a home router that has no port forward to the service",
  BEHIND_ROUTER: "the address is private to a home router's LAN; the router's forward is the way in",
  NAT_PRIVATE_ADDRESS: "the address is private to a VirtualBox NAT engine; its port forward is the way in",
  INTERNAL_OTHER_HOST: "internal networks of the same name on two hosts are separate networks",
  HOSTONLY_ISOLATED: "a host-only network connects only the host and its VMs",
  NAT_IPV6_OFF: "the guest's QEMU user network has IPv6 off, and the host's service listens on ::1 only",
  REPLY_OTHER_INTERFACE: "the server's reply leaves by another interface than the request came in on, and a firewall there refuses it",
  RETURN_PATH_NAT:
    "the answer comes back through a machine that never saw the request, which takes it for a new connection and translates it (masquerade)",
  NAT_NO_ICMP6: "a NAT engine (libslirp) relays no ICMPv6 echo request to other hosts",
  EXPOSED_NOT_PUBLISHED: "the container exposes the port but does not publish it: only its own networks reach it",
} as const;

export type CauseCode = keyof typeof CAUSES;

export { SYMPTOM_TEXT, type Symptom } from "./symptom.js";

export interface Cause {
  readonly code: CauseCode;
  readonly machine: string;
  /** The declaration in the user's file that holds the cause. */
  readonly at: Span;
  readonly symptom: Symptom;
  /** One sentence a person acts on. */
  readonly text: string;
  /** The dial this blocker was met on, when it is one. */
  readonly dial?: string;
}

/** A modelling choice the answer rests on (as AWS's ASSUMPTION_* details). */
export interface Assumption {
  readonly code: "ASSUMPTION_NAT_GUEST_ADDRESS";
  readonly text: string;
  readonly at: Span;
}

export interface Diagnosis {
  readonly causes: readonly Cause[];
  /** The dial a person would make, and the attempt the blockers were found on. */
  readonly intended?: { readonly dial: Dial; readonly attempt: Attempt; readonly kind: WayKind };
  readonly assumptions: readonly Assumption[];
}

type WayKind = "own" | "forward" | "router-forward" | "address";

interface Way {
  readonly dial: Dial;
  readonly kind: WayKind;
}

const at = (o: Origin): Span => o.span;
const nonLo = (m: Machine) => m.interfaces.filter((i) => i.name !== "lo");
const addressesOf = (m: Machine): IP[] => nonLo(m).flatMap((i) => i.addrs.map((a) => a.ip));
const segmentsOf = (m: Machine): Set<string> => new Set(nonLo(m).flatMap((i) => (i.segment ? [i.segment] : [])));

/** What a segment is, in the user's terms: a VirtualBox NAT or NAT Network (private to its engine), internal, host-only, or declared. */
export function segmentKind(net: Network, seg: string): "nat" | "internal" | "hostonly" | "declared" {
  const s = net.segments.find((x) => x.name === seg);
  switch (s?.kind) {
    case "vbox-nat":
    case "vbox-natnetwork":
      return "nat";
    case "vbox-internal":
      return "internal";
    case "vbox-hostonly":
      return "hostonly";
    case "declared":
      return "declared";
    case undefined:
      return net.machines.some((m) => m.kind === "nat-engine" && segmentsOf(m).has(seg)) ? "nat" : "declared";
  }
}

/** The NAT engine serving a NAT segment. */
const engineOn = (net: Network, seg: string): Machine | undefined =>
  net.machines.find((m) => m.kind === "nat-engine" && segmentsOf(m).has(seg));

const segmentOf = (net: Network, name: string): Segment | undefined => net.segments.find((s) => s.name === name);

function relays(net: Network, to: Machine, proto: Dial["proto"], port: number | undefined): { host: Machine; socket: Socket }[] {
  const own = addressesOf(to);
  const out: { host: Machine; socket: Socket }[] = [];
  if (proto === "icmp" || port === undefined) return out;
  for (const m of net.machines)
    for (const s of m.sockets)
      if (s.role.kind === "relay" && s.proto === proto && s.role.toPort === port && own.some((x) => sameIP(x, (s.role as { to: IP }).to)))
        out.push({ host: m, socket: s });
  return out;
}

/** The address of `m` a client on `client` would type: one on a segment they share, else any of the right family. */
function addressSeenFrom(m: Machine, client: Machine, v: 4 | 6): IP | undefined {
  const shared = segmentsOf(client);
  const onShared = nonLo(m).find((i) => i.segment && shared.has(i.segment) && i.addrs.some((a) => a.ip.v === v));
  const pick = onShared ?? nonLo(m).find((i) => i.addrs.some((a) => a.ip.v === v));
  return pick?.addrs.find((a) => a.ip.v === v)?.ip;
}

/**
 * The dials a person on `client` would make for `target`'s service, most likely first: the
 * target's own address on a network they share; each forward to the port, as seen from the
 * client; each router forward (DNAT) to it; the target's other addresses.
 */
export function intendedDials(net: Network, q: Query, client: Machine, target: Machine): Way[] {
  const sport = q.proto === "icmp" ? ECHO_ID : DEFAULT_SPORT;
  const port = q.proto === "icmp" ? 0 : q.port!;
  const dial = (dst: IP, dport: number): Dial => ({ from: client.name, proto: q.proto, dst, dport, sport });
  const shared = segmentsOf(client);
  const ways: Way[] = [];
  if (client === target) ways.push({ dial: dial(LOOPBACK4, port), kind: "own" });
  for (const i of nonLo(target))
    if (i.segment && shared.has(i.segment)) for (const a of i.addrs) ways.push({ dial: dial(a.ip, port), kind: "own" });
  for (const { host, socket } of relays(net, target, q.proto, q.port)) {
    if (host.kind === "nat-engine") continue;
    if (host === client) ways.push({ dial: dial(isAny(socket.bind) ? LOOPBACK4 : unmap(socket.bind), socket.port), kind: "forward" });
    else {
      // a forward bound to the host's loopback is still dialed at the host's address from elsewhere: that is what people do
      const bind = unmap(socket.bind);
      const dst = isAny(bind) || isLoopback(bind) ? addressSeenFrom(host, client, bind.v) : bind;
      if (dst) ways.push({ dial: dial(dst, socket.port), kind: "forward" });
    }
  }
  const own = addressesOf(target);
  // a router forward leads to the target's port, or to a port forward of a host that leads on to it
  const entries = [
    ...own.map((ip) => ({ ip, port: q.port })),
    ...relays(net, target, q.proto, q.port).flatMap(({ host, socket }) =>
      (isAny(socket.bind) ? addressesOf(host) : [unmap(socket.bind)]).map((ip) => ({ ip, port: socket.port as number | undefined })),
    ),
  ];
  for (const m of net.machines)
    for (const r of m.nat.prerouting) {
      const a = r.action;
      if (a.kind !== "dnat" || !entries.some((e) => sameIP(e.ip, a.to) && e.port === (a.toPort ?? r.match.dport?.lo))) continue;
      const d = r.match.dst;
      const dst =
        d && d.len === (d.v === 4 ? 32 : 128)
          ? ({ v: d.v, n: d.n } as IP)
          : ((r.match.in ? m.interfaces.find((i) => i.name === r.match.in)?.addrs[0]?.ip : undefined) ?? addressSeenFrom(m, client, 4));
      if (dst && r.match.dport) ways.push({ dial: dial(dst, r.match.dport.lo), kind: "router-forward" });
    }
  for (const ip of own) ways.push({ dial: dial(ip, port), kind: "address" });
  return ways.filter((w, i) => ways.findIndex((x) => sameIP(x.dial.dst, w.dial.dst) && x.dial.dport === w.dial.dport) === i);
}

const own = (m: Machine, v: 4 | 6): IP | undefined => addressesOf(m).find((x) => x.v === v);

/**
 * A home router between the client and the target: the client is on its WAN side (not on any of
 * its LAN segments) and the target, or a host forwarding to it, is on its LAN. The WAN interface
 * is the one the router masquerades out of.
 */
function routerBetween(
  net: Network,
  q: Query,
  client: Machine,
  target: Machine,
): { router: Machine; wan: Machine["interfaces"][number] } | undefined {
  for (const r of net.machines) {
    if (r.kind !== "router") continue;
    const masq = r.nat.postrouting.find((x) => x.action.kind === "masquerade" && x.match.out);
    const wan = masq ? r.interfaces.find((i) => i.name === masq.match.out) : undefined;
    if (!wan?.segment || !wan.addrs.length) continue;
    const lan = new Set(nonLo(r).flatMap((i) => (i !== wan && i.segment ? [i.segment] : [])));
    const onLan = (m: Machine) => [...segmentsOf(m)].some((x) => lan.has(x));
    if (onLan(client) || !segmentsOf(client).has(wan.segment)) continue;
    // a route of the client's own (not a default one) into the LAN through another gateway goes around the router
    const around = nonLo(target).some(
      (i) =>
        i.segment !== null &&
        lan.has(i.segment) &&
        i.addrs.some((a) => {
          const route = lookupRoute(client, a.ip);
          return (
            route?.type === "static" &&
            route.dst.len > 0 &&
            route.via !== undefined &&
            !nonLo(r).some((x) => x.addrs.some((y) => sameIP(y.ip, route.via!)))
          );
        }),
    );
    if (around) continue;
    const inside = [target, ...relays(net, target, q.proto, q.port).map((x) => x.host)];
    if (inside.some(onLan)) return { router: r, wan };
  }
  return undefined;
}

/**
 * "Exposed, not published" (compose `expose:`, Dockerfile EXPOSE without `ports:`): the target's
 * service on the port is marked `exposed`, the client shares none of the target's networks, and
 * no relay (docker-proxy) and no DNAT anywhere leads to it. EXPOSE is documentation to Docker: it
 * opens nothing on the host, so the client's dial of the host's port is refused.
 */
function exposedNotPublished(net: Network, q: Query, client: Machine, target: Machine): Cause | undefined {
  if (q.proto === "icmp" || q.port === undefined) return undefined;
  const s = target.sockets.find((x) => x.exposed && x.role.kind === "service" && x.proto === q.proto && x.port === q.port);
  if (!s) return undefined;
  const clientSegs = segmentsOf(client);
  if (nonLo(target).some((i) => i.segment !== null && clientSegs.has(i.segment))) return undefined;
  const own = addressesOf(target);
  const dnat = net.machines.some((m) =>
    [...m.nat.prerouting, ...m.nat.output].some(
      (r) =>
        r.action.kind === "dnat" &&
        own.some((x) => sameIP(x, (r.action as { to: IP }).to)) &&
        (r.action.toPort ?? r.match.dport?.lo) === q.port,
    ),
  );
  if (dnat || relays(net, target, q.proto, q.port).length) return undefined;
  return {
    code: "EXPOSED_NOT_PUBLISHED",
    machine: target.name,
    at: at(s.origin),
    symptom: "refused",
    text: `${target.name} exposes ${q.port}/${q.proto} (compose expose: or Dockerfile EXPOSE) but does not publish it: only containers on its own networks reach it, and nothing listens on the host's port; publish it (ports: ["${q.port}:${q.port}"], or "127.0.0.1:${q.port}:${q.port}" for this machine only)`,
  };
}

/** The host-only adapters of `m` whose address lies outside their network's subnet (seed 004). */
function hostonlyMismatches(net: Network, m: Machine): Cause[] {
  const out: Cause[] = [];
  for (const i of nonLo(m)) {
    if (!i.segment || segmentKind(net, i.segment) !== "hostonly") continue;
    const seg = segmentOf(net, i.segment);
    if (!seg || seg.subnets.length === 0) continue;
    const subnets = seg.subnets.map(formatPrefix).join(", ");
    for (const a of i.addrs) {
      if (seg.subnets.some((p) => contains(p, a.ip))) continue;
      out.push({
        code: "HOSTONLY_SUBNET_MISMATCH",
        machine: m.name,
        at: at(i.origin),
        symptom: "no-route",
        text: `${m.name}'s host-only adapter has ${formatIP(a.ip)}/${a.len}, outside ${seg.origin.what} (${subnets}): the host and ${m.name} cannot talk over it; give the adapter an address in ${subnets}`,
      });
    }
  }
  return out;
}

/** Where a machine can be reached from, by the kinds of its networks. */
function isolation(net: Network, m: Machine): { kind: "nat" | "internal" | "hostonly"; iface: Machine["interfaces"][number] }[] {
  return nonLo(m).flatMap((i) => {
    const k = i.segment ? segmentKind(net, i.segment) : "declared";
    return k === "declared" ? [] : [{ kind: k, iface: i }];
  });
}

/**
 * Structural causes: the networks of the client and of the target, before any dial. When every
 * network of the target is one the client cannot be on (a NAT adapter's private network without
 * a forward to the port, an internal network, a host-only network of another host), that mode is
 * the cause, at the adapter or network that declares it; likewise for a client that is only on
 * networks that lead nowhere (internal, host-only).
 */
function structuralCauses(net: Network, q: Query, client: Machine, target: Machine): Cause[] {
  if (client === target) return [];
  for (const m of [target, client])
    if (!nonLo(m).some((i) => i.segment !== null))
      return [
        {
          code: "NOT_ATTACHED",
          machine: m.name,
          at: at(m.origin),
          symptom: "no-route",
          text: `${m.name} has no network interface attached to anything (${m.kind === "vm" ? "its adapters are 'none' or absent" : "no interfaces"}): give ${m.name} an adapter or an interface on a segment`,
        },
      ];
  const exposed = exposedNotPublished(net, q, client, target);
  if (exposed) return [exposed];
  const causes: Cause[] = [...hostonlyMismatches(net, target), ...(client.kind === "vm" ? hostonlyMismatches(net, client) : [])];
  const clientSegs = segmentsOf(client);
  const shares = (i: { segment: string | null }) => i.segment !== null && clientSegs.has(i.segment);
  const targetIfs = nonLo(target);
  const targetIso = isolation(net, target);
  const forwarded = relays(net, target, q.proto, q.port).some((r) => r.host.kind !== "nat-engine");
  const openTo = targetIfs.some((i) => shares(i) || (i.segment !== null && segmentKind(net, i.segment) === "declared"));
  // the client's side: only networks that lead nowhere else
  const clientIso = isolation(net, client);
  const side = targetIfs.some(shares) ? undefined : clientSideCause(net, client, target, clientIso, targetIso);
  if (side) return [...causes, side];
  if (openTo) return causes;
  // a client in a NAT of its own looking for a guest of another NAT: same addresses, separate networks
  const clientNat = clientIso.find((x) => x.kind === "nat");
  const targetNat = targetIso.find((x) => x.kind === "nat");
  if (clientNat && targetNat && clientNat.iface.segment !== targetNat.iface.segment && !forwarded)
    causes.push({
      code: "SEPARATE_NAT_NETWORKS",
      machine: client.name,
      at: at(clientNat.iface.origin),
      symptom: "other-peer",
      text: `${client.name} and ${target.name} are on separate private NAT networks (${targetNat.iface.addrs.map((a) => formatIP(a.ip)).join(", ")} seen from ${client.name} is ${client.name}'s own NAT world); put both on one NAT Network, host-only or internal network, or dial a port forward of ${target.name} at its host's address`,
    });
  for (const { kind, iface } of targetIso) {
    const seg = segmentOf(net, iface.segment!);
    if (kind === "nat" && !forwarded) causes.push(natCause(net, q, target, iface, seg));
    else if (kind === "internal") {
      causes.push({
        code: "INTERNAL_NO_HOST_SIDE",
        machine: target.name,
        at: at(iface.origin),
        symptom: "no-route",
        text: `${target.name} is only on ${seg?.origin.what ?? "an internal network"}, which connects VMs of one host and has no host side: ${client.name} cannot reach it; add a host-only or bridged adapter to ${target.name}, or ask from a VM on that network`,
      });
    } else if (kind === "hostonly" && !forwarded)
      causes.push({
        code: "HOSTONLY_ISOLATED",
        machine: target.name,
        at: at(iface.origin),
        symptom: "no-route",
        text: `${target.name} is on host-only network ${seg?.name ?? ""}, which connects the host and its VMs, and ${client.name} is not on it: use a bridged adapter, or a NAT adapter with a port forward (routing into it takes ip_forward on the host and routes on both sides)`,
      });
  }
  return causes;
}

type Isolated = ReturnType<typeof isolation>;

/**
 * A client only on networks that lead nowhere else (internal, host-only), or on an internal
 * network of the same name as the target's but of another host.
 */
function clientSideCause(net: Network, client: Machine, target: Machine, clientIso: Isolated, targetIso: Isolated): Cause | undefined {
  const sameName = (a: Isolated[number], b: Isolated[number]) =>
    a.iface.segment !== b.iface.segment && segmentOf(net, a.iface.segment!)?.origin.what === segmentOf(net, b.iface.segment!)?.origin.what;
  const other = targetIso.find((t) => t.kind === "internal" && clientIso.some((c) => c.kind === "internal" && sameName(c, t)));
  if (other)
    return {
      code: "INTERNAL_OTHER_HOST",
      machine: target.name,
      at: at(other.iface.origin),
      symptom: "no-route",
      text: `${target.name}'s ${segmentOf(net, other.iface.segment!)?.origin.what ?? "internal network"} is on another host than ${client.name}'s network of the same name: internal networks never leave their host; connect the VMs through bridged adapters or put them on one host`,
    };
  if (!nonLo(client).length || clientIso.length !== nonLo(client).length || clientIso.some((x) => x.kind === "nat")) return undefined;
  const x = clientIso[0]!;
  const seg = segmentOf(net, x.iface.segment!);
  return {
    code: x.kind === "internal" ? "INTERNAL_NO_HOST_SIDE" : "HOSTONLY_ISOLATED",
    machine: client.name,
    at: at(x.iface.origin),
    symptom: "no-route",
    text:
      x.kind === "internal"
        ? `${client.name} is only on ${seg?.origin.what ?? "an internal network"}, which connects VMs of one host and leads nowhere else: ${target.name} is not on it; add a NAT (outbound) or bridged adapter to ${client.name}`
        : `${client.name} is only on host-only network ${seg?.name ?? ""}, which connects the host and its VMs and nothing beyond (the host does not route for it): add a NAT adapter (outbound) or a bridged one to ${client.name}`,
  };
}

/** The cause for a target behind a NAT adapter or NAT Network without a forward to the port. */
function natCause(net: Network, q: Query, target: Machine, iface: Machine["interfaces"][number], seg: Segment | undefined): Cause {
  const engine = engineOn(net, iface.segment!);
  const where = seg?.origin ?? iface.origin;
  const subnet = seg?.subnets.map(formatPrefix).join(", ") ?? "";
  const natNetwork = seg?.kind === "vbox-natnetwork";
  if (q.proto === "icmp")
    return {
      code: "NAT_NO_INBOUND_ICMP",
      machine: target.name,
      at: at(where),
      symptom: "no-route",
      text: `${target.name} is behind ${where.what}: its NAT passes ICMP only outbound, so nothing outside can ping it; ping it from inside, or use a bridged or host-only adapter`,
    };
  return {
    code: "NAT_NO_FORWARD",
    machine: target.name,
    at: at(where),
    symptom: "no-route",
    text: `${target.name} is behind ${where.what}: ${subnet} is private to that NAT engine${engine?.engine ? ` on ${engine.engine.host}` : ""} and no port forward leads to ${q.proto}/${q.port}; add a port forward (host port -> guest port ${q.port}) to ${natNetwork ? "the NAT Network" : "that adapter"}, or use a bridged or host-only adapter`,
  };
}

/**
 * An address query: the address's owner decides the structure. A VirtualBox NAT guest's address
 * is private to its NAT engine (its forwards are the way in), a LAN address behind a home router
 * is reached from the WAN only through the router's forwards.
 */
function addressCauses(net: Network, q: Query, client: Machine, dst: IP): { causes: Cause[]; instead?: Dial } {
  const owner = net.machines.find((m) => m.kind !== "nat-engine" && addressesOf(m).some((x) => sameIP(x, dst)));
  if (!owner || owner === client) return { causes: [] };
  const iface = nonLo(owner).find((i) => i.addrs.some((a) => sameIP(a.ip, dst)))!;
  const kind = iface.segment ? segmentKind(net, iface.segment) : "declared";
  const mismatch = hostonlyMismatches(net, owner).filter((c) => c.text.includes(`${formatIP(dst)}/`));
  if (mismatch.length) return { causes: mismatch };
  if (kind !== "declared" && iface.segment && !segmentsOf(client).has(iface.segment)) {
    const asMachine: Query = { ...q, target: { kind: "machine", machine: owner.name } };
    const ownNat = nonLo(client).find(
      (i) => i.segment && segmentKind(net, i.segment) === "nat" && i.addrs.some((a) => contains(prefixOf(a.ip, a.len), dst)),
    );
    if (kind === "nat" && ownNat)
      return {
        causes: [
          {
            code: "SEPARATE_NAT_NETWORKS",
            machine: client.name,
            at: at(ownNat.origin),
            symptom: "no-route",
            text: `${formatIP(dst)} is ${owner.name}'s address on another private NAT network than ${client.name}'s own (${ownNat.addrs.map((a) => `${formatIP(a.ip)}/${a.len}`).join(", ")}): from ${client.name}, that address means its own NAT world; put both on one NAT Network, host-only or internal network, or dial a port forward of ${owner.name} at its host's address`,
          },
        ],
      };
    if (kind === "nat" && q.proto !== "icmp") {
      const seg = segmentOf(net, iface.segment);
      const ways = intendedDials(net, asMachine, client, owner);
      const fwd = ways.find((w) => w.kind === "forward" || w.kind === "router-forward") ?? ways.find((w) => w.kind === "own");
      const instead = fwd
        ? `dial ${fwd.kind === "own" ? `its address on a network ${client.name} shares` : "its port forward"} instead, ${dialedText({ proto: q.proto, src: dst, dst: fwd.dial.dst, sport: 0, dport: fwd.dial.dport })}`
        : `add a port forward to ${q.proto}/${q.port} on that adapter and dial the host's port`;
      return {
        causes: [
          {
            code: "NAT_PRIVATE_ADDRESS",
            machine: owner.name,
            at: at(seg?.origin ?? iface.origin),
            symptom: "no-route",
            text: `${formatIP(dst)} is ${owner.name}'s address behind ${seg?.origin.what ?? "its NAT adapter"}, private to that NAT engine: nothing outside it can dial it; ${instead}`,
          },
        ],
        ...(fwd ? { instead: fwd.dial } : {}),
      };
    }
    return { causes: structuralCauses(net, asMachine, client, owner) };
  }
  const router = routerBetween(net, { ...q, target: { kind: "machine", machine: owner.name } }, client, owner);
  if (router && q.proto !== "icmp") {
    const wan = router.wan.addrs.find((x) => x.ip.v === dst.v)?.ip;
    const dnat = router.router.nat.prerouting.find(
      (r) => r.action.kind === "dnat" && sameIP(r.action.to, dst) && (r.action.toPort ?? r.match.dport?.lo) === q.port,
    );
    return {
      causes: [
        {
          code: dnat ? "BEHIND_ROUTER" : "ROUTER_NO_FORWARD",
          machine: router.router.name,
          at: at(dnat?.origin ?? router.router.origin),
          symptom: "no-route",
          text: dnat
            ? `${formatIP(dst)} is inside ${router.router.name}'s LAN, a private address ${client.name} on the WAN side cannot dial: dial ${router.router.name}'s public address ${wan ? formatEndpoint(wan, dnat.match.dport!.lo) : ""} (${dnat.origin.what})`
            : `${formatIP(dst)} is inside ${router.router.name}'s LAN and ${client.name} is on its WAN side: the router lets connections in only through its port forwards, and none leads to ${formatEndpoint(dst, q.port!)}; add one to ${router.router.name}'s router forwards`,
        },
      ],
    };
  }
  return { causes: [] };
}

/** An address query whose address is the client's own NAT world (two VMs, each in its own NAT, both 10.0.2.15). */
function separateNat(net: Network, q: Query, client: Machine, a: Attempt): Cause | undefined {
  if (q.target.kind !== "address" || a.outcome.kind !== "ok") return undefined;
  const dst = unmap(q.target.ip);
  const reached = a.outcome.machine;
  const others = net.machines.filter(
    (m) =>
      m.name !== reached &&
      m.kind !== "nat-engine" &&
      nonLo(m).some((i) => i.segment && segmentKind(net, i.segment) === "nat" && i.addrs.some((x) => sameIP(x.ip, dst))),
  );
  if (!others.length) return undefined;
  const own = nonLo(client).find((i) => i.addrs.some((x) => sameIP(x.ip, dst)));
  return {
    code: "SEPARATE_NAT_NETWORKS",
    machine: client.name,
    at: at(own?.origin ?? client.origin),
    symptom: "other-peer",
    text: `${formatIP(dst)} is ${reached === client.name ? `${client.name} itself` : reached} on ${client.name}'s own NAT network; ${others.map((m) => m.name).join(", ")} also has ${formatIP(dst)}, on a separate private network of its own NAT adapter: put both VMs on one NAT Network, host-only or internal network, or use a port forward of the other VM`,
  };
}

type Classified = { cause: Omit<Cause, "dial">; terminal: boolean };

/** What `classify` knows of a failure: where it happened, in which direction, after which relay. */
interface Failure {
  readonly net: Network;
  readonly d: Disposition;
  readonly m: Machine | undefined;
  readonly reply: boolean;
  readonly relayed: Socket | undefined;
  /** " (FORWARD accepted the client, then its own connection failed)" after a relay, else "" */
  readonly via: string;
  /** The packet of the failing leg. */
  readonly proto: string;
  readonly dport: number;
  readonly v: 4 | 6;
  /** the machine that dialed */
  readonly client: string;
  /** the client's next packet (the handshake's ACK, data) failed, after the handshake */
  readonly ack: boolean;
  /** the server's data failed after the handshake (it crossed a machine that never saw the request) */
  readonly data: boolean;
  /** the machines the failing leg's first packet crossed (an answer's machine outside them never saw the request) */
  readonly crossed: ReadonlySet<string>;
  /** the reset or ICMP error of a refusal never gets back (sim `errorBack`, `errorSwallowed`): the client only waits */
  readonly errorLost: boolean;
}

/**
 * What the client sees of a failure whose own symptom is `s` (`rst`: the failing packet was
 * answered by a TCP reset). After a relay the client was accepted: a reset makes the relay close
 * at once. A relay process (socat, docker-proxy: no `gateway`) also closes at once on any error its
 * own connect() hears (an ICMP error, no route of its own), while a libslirp port forward ignores
 * ICMP errors; silence leaves either hanging until its TCP gives up. A UDP client just waits.
 * After the handshake, a reset is a reset and anything else leaves the data unanswered. A failed
 * reply is silence.
 */
const seenAs = (f: Failure, s: Symptom, rst: boolean): Symptom => {
  if (f.errorLost) [s, rst] = ["timeout", false];
  if (f.relayed) {
    if (f.relayed.proto === "udp") return "timeout";
    const process = f.relayed.role.kind === "relay" && f.relayed.role.gateway === undefined;
    return rst || (process && s !== "timeout") ? "accepted-then-eof" : "accepted-then-hang";
  }
  if (f.ack) return rst ? "reset" : "connected-then-hang";
  // the server's data lost: whatever stops it, the client has connected and reads nothing
  if (f.data) return "connected-then-hang";
  return f.reply ? "timeout" : s;
};
const where = (f: Failure): Span => at(f.m?.origin ?? f.net.machines[0]!.origin);
const found = (f: Failure, code: CauseCode, place: Span, s: Symptom, text: string, terminal: boolean, rst = false): Classified => ({
  cause: { code, machine: (f.d as { machine: string }).machine, at: place, symptom: seenAs(f, s, rst), text },
  terminal,
});

/** The symptom and one cause for a failed attempt's disposition. */
function classify(net: Network, a: Attempt): Classified | undefined {
  const o = a.outcome;
  if (o.kind === "ok" || o.disposition.kind === "delivered" || o.disposition.kind === "engine-relay") return undefined;
  const before = relayBefore(a, o.leg);
  const relayed = before?.socket;
  const d = o.disposition;
  const f: Failure = {
    net,
    d,
    m: "machine" in d ? machineIndex(net).get(d.machine) : undefined,
    reply: o.direction !== "forward",
    relayed,
    via: relayed && before ? ` (${relayed.owner} on ${before.machine} accepted the client, then its own connection failed)` : "",
    proto: a.legs[o.leg]?.packet.proto ?? "",
    dport: a.legs[o.leg]?.packet.dport ?? 0,
    v: a.legs[o.leg]?.packet.dst.v ?? 4,
    client: a.legs[0]?.from ?? "",
    ack: o.direction === "ack",
    data: o.direction === "data",
    crossed: new Set(a.legs[o.leg]?.forward.steps.map((s) => s.machine) ?? []),
    errorLost: (a.legs[o.leg]?.errorBack?.disposition.kind ?? "delivered") !== "delivered" || a.legs[o.leg]?.errorSwallowed !== undefined,
  };
  const nat = answerNatCause(f, a, o);
  if (nat) return nat;
  switch (d.kind) {
    case "dropped":
    case "rejected":
      return replyRouteCause(f, a, o) ?? firewallCause(f, d);
    case "refused":
      return refusedCause(f, d);
    case "no-route":
    case "no-neighbour":
      return pathCause(f, d);
    default:
      return kernelCause(f, d);
  }
}

/**
 * A reply a firewall refuses because the server sent it out of another interface than the
 * request came in on: the server's route back (typically its default route, pointing at a NAT
 * network while the connection came in on another NIC) is the root cause. libvirt's NAT rules,
 * for one, reject what leaves the NAT bridge with a source outside the NAT subnet.
 */
function replyRouteCause(f: Failure, a: Attempt, o: Attempt["outcome"] & { kind: "failed" }): Classified | undefined {
  const served = a.legs[o.leg]?.forward.disposition;
  if (o.direction !== "reply" || served?.kind !== "delivered" || (f.d.kind !== "dropped" && f.d.kind !== "rejected")) return undefined;
  const server = machineIndex(f.net).get(served.machine);
  const { src, dst } = served.packet;
  const inIf = server && nonLo(server).find((i) => i.addrs.some((x) => sameIP(x.ip, dst)));
  const back = server && lookupRoute(server, src);
  if (!server || !inIf || !back || back.dev === inIf.name || back.dev === "lo") return undefined;
  const rule = f.d.rule ? f.d.rule.origin.what : `${f.d.chain.toUpperCase()} policy (drop)`;
  return {
    cause: {
      code: "REPLY_OTHER_INTERFACE",
      machine: server.name,
      at: at(back.origin),
      symptom: seenAs(f, "timeout", false),
      text: `${server.name} sends its reply to ${formatIP(src)} out of ${back.dev} (${back.origin.what}), not out of ${inIf.name} where the connection came in, so it leaves with source ${formatIP(dst)} on the wrong network, and ${f.d.machine}'s ${rule} ${f.d.kind === "rejected" ? "rejects" : "drops"} it there: give ${server.name} a route to ${formatIP(src)} via ${inIf.name}'s network (or route by source address), or make that network its default route`,
    },
    terminal: false,
  };
}

/**
 * An answer (a UDP reply, or TCP's first data) translated by a machine the request never crossed:
 * with asymmetric routing, conntrack there holds no entry, takes the answer for a new connection
 * (TCP: the loose pickup, nf_conntrack_tcp_loose=1) and its NAT rewrites it, typically a home
 * router's masquerade out of its WAN; the client does not take the rewritten packet for the
 * answer (docs/semantics.md 4). Located at the NAT rule.
 */
function answerNatCause(f: Failure, a: Attempt, o: Attempt["outcome"] & { kind: "failed" }): Classified | undefined {
  const leg = a.legs[o.leg];
  const trace = o.direction === "data" ? leg?.data : o.direction === "reply" ? leg?.reply : undefined;
  const served = leg?.forward.disposition;
  if (!leg || !trace || served?.kind !== "delivered") return undefined;
  const nat = trace.steps.find((s) => s.kind === "nat" && !f.crossed.has(s.machine));
  if (nat?.kind !== "nat") return undefined;
  const server = served.machine;
  const client = served.packet.src;
  // the machine that handed the request to the server, and its address there: the way back to take
  const hop = [...leg.forward.steps].reverse().find((s) => s.kind === "transmit" && s.to === server);
  const prev = hop?.kind === "transmit" ? machineIndex(f.net).get(hop.machine) : undefined;
  const prevAddr =
    prev && hop?.kind === "transmit"
      ? prev.interfaces.find((i) => i.name === hop.iface)?.addrs.find((x) => x.ip.v === client.v)?.ip
      : undefined;
  const what = f.data ? "data" : "answer";
  const came = prev ? ` (it came through ${prev.name})` : "";
  const route =
    prev && prevAddr
      ? `give ${server} a route to ${formatIP(client)} via ${formatIP(prevAddr)} (${prev.name}, the way the request came), or `
      : "";
  return {
    cause: {
      code: "RETURN_PATH_NAT",
      machine: nat.machine,
      at: at(nat.rule.origin),
      symptom: seenAs(f, "timeout", false),
      text: `${server}'s ${what} to ${formatIP(client)} goes back through ${nat.machine}, which never saw the request${came}: conntrack there takes it for a new connection and ${nat.machine}'s ${nat.rule.origin.what} rewrites it to ${formatEndpoint(nat.after.src, nat.after.sport)} -> ${formatEndpoint(nat.after.dst, nat.after.dport)}, which ${leg.from} does not take for the ${what}: ${route}send ${leg.from}'s requests through ${nat.machine} too`,
    },
    terminal: true,
  };
}

function firewallCause(f: Failure, d: Disposition & { kind: "dropped" | "rejected" }): Classified {
  // the client's own OUTPUT chain refusing its UDP datagram: send() fails with EPERM (a TCP SYN is retried: a timeout)
  const own = !f.reply && !f.ack && !f.relayed && d.chain === "output" && d.machine === f.client && f.proto === "udp";
  if (own) return ownOutputCause(f, d);
  const what = d.rule ? d.rule.origin.what : `${d.chain.toUpperCase()} policy (drop)`;
  if (f.data || (f.reply && !f.crossed.has(d.machine))) return unseenDropCause(f, d, what);
  const them = f.reply ? "the reply" : "the packets";
  const place = at(d.rule?.origin ?? (d.kind === "dropped" ? d.policyOrigin : undefined) ?? f.m!.origin);
  if (d.kind === "rejected")
    return found(
      f,
      "FIREWALL_REJECT",
      place,
      rejectSymptom(d.rule.with, (f.proto || "tcp") as Proto, f.v),
      `${d.machine}'s ${what} rejects ${them}${f.via}: accept them before that rule, or remove it`,
      false,
      d.rule.with === "tcp-reset",
    );
  const advice = d.rule
    ? `accept ${f.proto}/${f.dport} before that rule, or remove it`
    : `add a rule accepting ${f.proto}/${f.dport} to ${d.chain}`;
  return found(
    f,
    f.reply ? "RETURN_PATH" : "FIREWALL_DROP",
    place,
    "timeout",
    `${d.machine}'s ${what} drops ${them}${f.via}: ${advice}`,
    false,
  );
}

/**
 * An answer refused on its way back by a machine the request never crossed (asymmetric routing):
 * conntrack has no entry there, so a TCP reply is `invalid`, a UDP answer or TCP's data `new`.
 */
function unseenDropCause(f: Failure, d: Disposition & { kind: "dropped" | "rejected" }, what: string): Classified {
  const place = at(d.rule?.origin ?? (d.kind === "dropped" ? d.policyOrigin : undefined) ?? f.m!.origin);
  const verb = d.kind === "rejected" ? "rejects" : "drops";
  const seen = f.data
    ? "conntrack takes the server's data for a new connection there (the SYN-ACK passed as invalid)"
    : f.proto === "udp"
      ? "conntrack takes the answer for a new connection there"
      : "conntrack calls the reply invalid there";
  return found(
    f,
    "RETURN_PATH",
    place,
    "timeout",
    `${d.machine}'s ${what} ${verb} the ${f.data ? "server's data" : "reply"}${f.via}: the answers come back through ${d.machine}, which never saw the request, so ${seen}: make the return path pass the machines the request crossed, or accept it there`,
    false,
  );
}

function ownOutputCause(f: Failure, d: Disposition & { kind: "dropped" | "rejected" }): Classified {
  const what = d.rule ? d.rule.origin.what : "OUTPUT policy (drop)";
  const place = at(d.rule?.origin ?? (d.kind === "dropped" ? d.policyOrigin : undefined) ?? f.m!.origin);
  const advice = d.rule ? `accept udp/${f.dport} before that rule, or remove it` : `add a rule accepting udp/${f.dport} to output`;
  const verb = d.kind === "rejected" ? "rejects" : "drops";
  return found(
    f,
    d.kind === "rejected" ? "FIREWALL_REJECT" : "FIREWALL_DROP",
    place,
    "not-permitted",
    `${d.machine}'s ${what} ${verb} its own packets: ${advice}`,
    false,
  );
}

function refusedCause(f: Failure, d: Disposition & { kind: "refused" }): Classified {
  const s = d.near[0];
  const dst = unmap(d.packet.dst);
  if (d.dnatOnlyOn)
    return found(
      f,
      "NO_HAIRPIN",
      at(d.dnatOnlyOn.rule.origin),
      "refused",
      `${d.dnatOnlyOn.rule.origin.what} applies only to packets arriving on ${d.dnatOnlyOn.iface}: from inside, dial the server's own address, or turn on hairpin NAT`,
      true,
      f.proto === "tcp",
    );
  if (!s)
    return found(
      f,
      f.relayed ? "FORWARD_TO_NOTHING" : "NOTHING_LISTENS",
      f.relayed ? at(f.relayed.origin) : where(f),
      "refused",
      `nothing on ${d.machine} listens on ${d.packet.proto} ${formatEndpoint(dst, d.packet.dport)}${f.via}: start the service, or point the ${f.relayed ? "forward" : "dial"} at the port it listens on`,
      true,
      f.proto === "tcp",
    );
  const relay = s.role.kind === "relay";
  const bind = unmap(s.bind);
  const code: CauseCode = s.device
    ? "BIND_DEVICE"
    : isLoopback(bind) && !isLoopback(dst)
      ? relay
        ? "FORWARD_HOST_LOOPBACK"
        : "BIND_LOOPBACK"
      : bind.v !== dst.v || (s.v6only && dst.v === 4)
        ? "BIND_WRONG_FAMILY"
        : "BIND_OTHER_ADDRESS";
  const bound = s.device ? `device ${s.device}` : s.bind.v === 6 ? `[${formatIP(s.bind)}]${s.v6only ? " (v6only)" : ""}` : formatIP(s.bind);
  const advice =
    code === "BIND_WRONG_FAMILY"
      ? `listen on both families (e.g. [::] with v6only off), or dial its ${bind.v === 4 ? "IPv4" : "IPv6"} address`
      : relay
        ? `set the forward's host IP to ${formatIP(dst)} or leave it empty (every host address)`
        : `bind it to 0.0.0.0 (or ${formatIP(dst)})`;
  const text = `${s.owner} on ${d.machine} listens on ${bound}:${s.port}, but the connection arrives at ${formatIP(dst)}${f.via}: ${advice}`;
  return found(f, code, at(s.origin), "refused", text, false, f.proto === "tcp");
}

function pathCause(f: Failure, d: Disposition & { kind: "no-route" | "no-neighbour" }): Classified {
  if (d.kind === "no-neighbour") {
    const iface = f.m?.interfaces.find((i) => i.name === d.iface);
    const place = iface ? at(iface.origin) : where(f);
    if (d.segment === null)
      return found(
        f,
        "NOT_ATTACHED",
        place,
        "no-route",
        `${d.machine}'s interface ${d.iface} is not attached to any network: attach it to a segment`,
        true,
      );
    const nd = d.filtered;
    if (nd) {
      const rule = nd.rule?.origin ?? nd.policyOrigin;
      const text = `${nd.machine}'s ${nd.chain.toUpperCase()} drops the IPv6 neighbour ${nd.what} for ${formatIP(d.nextHop)} (untracked ICMPv6): accept \`state: [untracked]\` (or ICMPv6) before it`;
      return found(f, "NEIGHBOUR_FILTERED", rule ? at(rule) : place, "no-route", text, true);
    }
    const text = `nothing on ${d.segment} has ${formatIP(d.nextHop)} (${d.machine} sends out of ${d.iface}): fix the gateway or the address`;
    // a router's host-unreachable (IPv6: address-unreachable) is a soft error, which a UDP socket never reports
    const seen: Symptom = f.client !== d.machine && f.proto === "udp" ? "timeout" : "no-route";
    return found(f, f.reply ? "RETURN_PATH" : "NO_NEIGHBOUR", place, seen, text, true);
  }
  const gw = f.m ? gatewayTowards(f.net, f.m, d.dst) : undefined;
  // the client's own kernel has no route: connect() and send() fail with ENETUNREACH at once; after a
  // nat OUTPUT DNAT connect() had one, and the rerouted SYN is dropped and retried (a datagram's send() still fails)
  const own = f.client === d.machine && !f.reply && f.proto !== "icmp";
  // a router's net-unreachable is a soft error, which a UDP socket never reports (kernel-tested)
  const seen: Symptom = own
    ? d.kind === "no-route" && d.rerouted && f.proto === "tcp"
      ? "timeout"
      : "net-unreachable"
    : f.proto === "udp"
      ? "timeout"
      : "no-route";
  const head = `${d.machine} has no route to ${formatIP(d.dst)}${f.reply ? " for the reply" : ""}${f.via}`;
  const text = gw
    ? `${head}: add one on ${d.machine} via ${gw.machine.name} (${formatIP(gw.via)}), which is connected to it`
    : `${head}, and no machine on its networks is connected to ${formatIP(d.dst)}: that address cannot be reached from ${d.machine}'s side`;
  return found(f, f.reply ? "RETURN_PATH" : "NO_ROUTE", where(f), seen, text, gw === undefined);
}

/** A NAT engine's gateway with the host's loopback closed: libslirp (QEMU, slirp4netns) answers "network unreachable" at once; VirtualBox drops silently. */
function loopbackOffCause(f: Failure, d: Disposition & { kind: "engine-loopback-off" }): Classified {
  return f.m?.engine?.kind === "qemu"
    ? found(
        f,
        "LOCALHOST_UNREACHABLE",
        at(d.origin),
        f.proto === "tcp" ? "net-unreachable" : "timeout",
        `${d.machine} (libslirp) maps its gateway to the host's loopback only without disable_host_loopback (slirp4netns --disable-host-loopback): drop that option, or bind the host's service to an address the guest can route to`,
        false,
      )
    : found(
        f,
        "LOCALHOST_UNREACHABLE",
        at(d.origin),
        // measured through libslirp, which the emulator runs for VirtualBox NAT too: ENETUNREACH at once over TCP
        f.proto === "tcp" ? "net-unreachable" : "timeout",
        `${d.machine} maps its gateway to the host's loopback only with localhost-reachable on (off by default since VirtualBox 7): turn it on for that adapter, or bind the host's service to an address the guest can route to`,
        false,
      );
}

/** The kernel's own drops and the NAT engines' refusals. */
function kernelCause(f: Failure, d: Disposition): Classified | undefined {
  switch (d.kind) {
    case "not-forwarding":
      return found(
        f,
        "IP_FORWARD_OFF",
        where(f),
        "timeout",
        `${d.machine} does not forward packets (ip_forward is off) and drops the packet for ${formatIP(d.dst)}: set ip_forward: true on ${d.machine}`,
        false,
      );
    case "rp-filter":
      return found(
        f,
        "RP_FILTER",
        where(f),
        "timeout",
        `${d.machine} drops it by rp_filter=${d.mode}: its route back to ${formatIP(d.src)} leaves by another interface than ${d.iface}; make the routes symmetric or set rp_filter to 0 or 2`,
        false,
      );
    case "martian": {
      if (d.leaving) return leavingMartianCause(f, d);
      const advice = isLoopback(d.addr)
        ? "loopback addresses stay on their machine; dial an interface address"
        : "use an address the kernel accepts from a link";
      return found(
        f,
        "MARTIAN",
        where(f),
        "timeout",
        `${d.machine} drops a packet with ${d.which} ${formatIP(d.addr)} arriving on ${d.iface} (a martian): ${advice}`,
        true,
      );
    }
    case "loop":
      return found(
        f,
        "ROUTING_LOOP",
        where(f),
        "timeout",
        `the packet loops between routers at ${d.machine}: fix the routes so they lead towards the destination`,
        true,
      );
    case "engine-loopback-off":
      return loopbackOffCause(f, d);
    case "engine-no-connection":
    case "reply-mismatch":
      return found(
        f,
        "RETURN_PATH",
        where(f),
        "timeout",
        `the reply does not come back to the client as it left (asymmetric path or missing NAT at ${d.machine}): make the return path pass the same machines`,
        true,
      );
    case "engine-no-icmp6":
    case "masquerade-no-address":
      return droppedHereCause(f, d);
    case "no-source":
      return found(
        f,
        "NO_SOURCE_ADDRESS",
        where(f),
        "no-route",
        `${d.machine} has no address to send from on ${d.iface}: give the interface an address`,
        true,
      );
    default:
      return undefined;
  }
}

/** What a NAT engine or a masquerade drops by itself: an ICMPv6 echo libslirp does not relay, a masquerade with no address. */
/**
 * A machine's own packet with a loopback address, sent out of a real interface: the socket took
 * 127.0.0.1 (or ::1) for a local destination, and a nat OUTPUT DNAT then rerouted it. An IPv4
 * datagram fails at send() with EINVAL (the reroute is refused); a TCP SYN is retried until the
 * connect times out; an IPv6 packet leaves and its first receiver drops it (semantics.md 10).
 */
function leavingMartianCause(f: Failure, d: Disposition & { kind: "martian" }): Classified {
  const own = !f.reply && !f.ack && !f.relayed && d.machine === f.client && f.proto === "udp" && d.addr.v === 4;
  const local = d.addr.v === 4 ? "an interface address, or set route_localnet: true" : "an interface address";
  return found(
    f,
    "MARTIAN",
    where(f),
    own ? "invalid-argument" : "timeout",
    `${d.machine} sends its own packet out of ${d.iface} with ${d.which} ${formatIP(d.addr)}, which it took for a local destination before a nat OUTPUT rule sent it elsewhere (a loopback address never crosses a link): dial ${local}`,
    true,
  );
}

function droppedHereCause(f: Failure, d: Disposition & { kind: "engine-no-icmp6" | "masquerade-no-address" }): Classified {
  switch (d.kind) {
    case "engine-no-icmp6":
      return found(
        f,
        "NAT_NO_ICMP6",
        at(d.origin),
        "timeout",
        `${d.machine} (libslirp) answers ICMPv6 echo only for its own address and relays none to other hosts: ping the address over IPv4, or test the service itself (a TCP or UDP dial)`,
        true,
      );
    case "masquerade-no-address": {
      // a datagram the client's own kernel drops: send() fails with EPERM (a TCP SYN or a ping is retried: a timeout)
      const own = !f.reply && !f.ack && !f.relayed && d.machine === f.client && f.proto === "udp";
      return found(
        f,
        "MASQUERADE_NO_ADDRESS",
        at(d.rule.origin),
        own ? "not-permitted" : "timeout",
        `${d.machine}'s ${d.rule.origin.what} applies to packets leaving by ${d.iface}, and ${d.machine} has no IPv4 address but loopback to masquerade to: give it one, or limit the rule to the interface it is meant for (out: ...)`,
        false,
      );
    }
  }
}

/**
 * A machine next to `m` (on one of its segments) that is itself connected to `dst`: the gateway a
 * route on `m` would need. Undefined when there is none, so no route on `m` alone can help.
 */
function gatewayTowards(net: Network, m: Machine, dst: IP): { machine: Machine; via: IP; dev: string } | undefined {
  for (const i of nonLo(m)) {
    if (!i.segment) continue;
    for (const n of net.machines) {
      if (n === m) continue;
      const on = nonLo(n).find((j) => j.segment === i.segment && j.addrs.some((a) => a.ip.v === dst.v));
      const connected = nonLo(n).some((j) => j.addrs.some((a) => a.ip.v === dst.v && contains(prefixOf(a.ip, a.len), dst)));
      if (on && connected) return { machine: n, via: on.addrs.find((a) => a.ip.v === dst.v)!.ip, dev: i.name };
    }
  }
  return undefined;
}

/** A copy of `net` with machine `name` changed by `f`. */
function withMachine(net: Network, name: string, f: (m: Machine) => Machine): Network {
  return { ...net, machines: net.machines.map((m) => (m.name === name ? f(m) : m)) };
}

const chainWith = (m: Machine, chain: Chain["name"], f: (c: Chain) => Chain): Machine => ({
  ...m,
  filter: { ...m.filter, [chain]: f(m.filter[chain]) },
});

/** The network with the blocker of `a` removed, or undefined when no single setting removes it. */
function withoutBlocker(net: Network, a: Attempt): Network | undefined {
  const o = a.outcome;
  if (o.kind === "ok") return undefined;
  const d = o.disposition;
  switch (d.kind) {
    case "dropped":
      return withMachine(net, d.machine, (m) =>
        chainWith(m, d.chain, (c) => (d.rule ? { ...c, rules: c.rules.filter((r) => r !== d.rule) } : { ...c, policy: "accept" })),
      );
    case "rejected":
      return withMachine(net, d.machine, (m) => chainWith(m, d.chain, (c) => ({ ...c, rules: c.rules.filter((r) => r !== d.rule) })));
    case "refused": {
      const s = d.near[0];
      if (!s || d.dnatOnlyOn) return undefined;
      const dst = unmap(d.packet.dst);
      const widened: Socket = { ...s, bind: dst.v === 4 ? { v: 4, n: 0n } : { v: 6, n: 0n }, v6only: false };
      const { device: _device, ...rest } = widened;
      return withMachine(net, d.machine, (m) => ({ ...m, sockets: m.sockets.map((x) => (x === s ? rest : x)) }));
    }
    case "no-route": {
      const m = net.machines.find((x) => x.name === d.machine);
      const gw = m ? gatewayTowards(net, m, d.dst) : undefined;
      if (!m || !gw) return undefined;
      const route = {
        dst: { ...d.dst, len: d.dst.v === 4 ? 32 : 128 },
        via: gw.via,
        dev: gw.dev,
        type: "static" as const,
        origin: m.origin,
      };
      return withMachine(net, d.machine, (x) => ({ ...x, routes: [...x.routes, route] }));
    }
    case "not-forwarding":
      return withMachine(net, d.machine, (m) => ({ ...m, ipForward: true }));
    case "rp-filter":
      return withMachine(net, d.machine, (m) => ({ ...m, rpFilter: 0 }));
    case "engine-loopback-off":
      return withMachine(net, d.machine, (m) => (m.engine ? { ...m, engine: { ...m.engine, loopbackReachable: true } } : m));
    case "masquerade-no-address":
      return withMachine(net, d.machine, (m) => ({ ...m, nat: { ...m.nat, postrouting: m.nat.postrouting.filter((r) => r !== d.rule) } }));
    default:
      return undefined;
  }
}

/** Every blocker on `dial`, in path order (each found with the ones before it removed). */
export function blockersOn(net: Network, dial: Dial, limit = 6): { causes: Cause[]; first: Attempt } {
  const causes: Cause[] = [];
  let cur = net;
  const first = attempt(net, machineIndex(net), dial);
  let a = first;
  for (let i = 0; i < limit && !a.ok; i++) {
    const c = classify(cur, a);
    if (!c) break;
    causes.push({ ...c.cause, dial: dialedText(a.legs[0]!.packet) });
    if (c.terminal) break;
    const next = withoutBlocker(cur, a);
    if (!next) break;
    cur = next;
    a = attempt(cur, machineIndex(cur), dial);
  }
  return { causes, first };
}

/** The root causes of an unreachable answer to `q` (none for a reachable one). */
export function diagnose(net: Network, q: Query, closest: readonly Attempt[]): Diagnosis {
  const index = machineIndex(net);
  const client = index.get(q.from);
  if (!client) return { causes: [], assumptions: [] };
  const assumptions = assumptionsFor(net, q);
  if (q.target.kind === "address") return { ...diagnoseAddress(net, q, client, q.target.ip), assumptions };
  const target = q.target.kind === "machine" ? index.get(q.target.machine) : undefined;
  if (!target) {
    const first = closest.map((a) => classify(net, a)).find((c) => c !== undefined);
    return { causes: first ? [first.cause] : [], assumptions };
  }
  const structural = structuralCauses(net, q, client, target);
  if (q.proto !== "icmp" && !target.sockets.some((s) => s.role.kind === "service" && s.proto === q.proto && s.port === q.port))
    structural.push({
      code: "NOTHING_LISTENS",
      machine: target.name,
      at: at(target.origin),
      symptom: "refused",
      text: `nothing on ${target.name} listens on ${q.proto}/${q.port}: start the service or ask for the port it listens on`,
    });
  structural.push(...ipv6OffCauses(net, q, client, target));
  // the dial a person would make: the first of the intended ways (through a home router's WAN side when there is one)
  const router = routerCause(net, q, client, target, intendedDials(net, q, client, target));
  if (router.cause) structural.push(router.cause);
  const way = router.ways[0];
  const best = way ? { way, ...blockersOn(net, way.dial) } : undefined;
  // A host-only network is isolated only as far as routing goes: when the dial dies for want of a
  // route or a neighbour, that is the cause; when it gets further (a route into it through the
  // host), the blockers on the way (ip_forward, the return path) are the causes instead.
  const firstBlock = best?.causes[0]?.code;
  const routeless =
    firstBlock === undefined || firstBlock === "NO_ROUTE" || firstBlock === "NO_NEIGHBOUR" || firstBlock === "NEIGHBOUR_FILTERED";
  const kept = structural.filter((c) => c.code !== "HOSTONLY_ISOLATED" || routeless);
  // a structural cause explains the dial's failure itself: its blockers would only send the user after routes
  const blocking = kept.some((c) => c.code !== "NOTHING_LISTENS") ? [] : (best?.causes ?? []);
  const seen = best ? seenOn(net, best.first) : undefined;
  return {
    causes: dedupe([...kept.map((c) => (seen ? { ...c, symptom: seen } : c)), ...blocking]),
    ...(best ? { intended: { dial: best.way.dial, attempt: best.first, kind: best.way.kind } } : {}),
    assumptions,
  };
}

/** What the client sees of one dial's attempt (its first blocker's symptom); undefined when it gets through or has no cause. */
export const dialSymptom = (net: Network, a: Attempt): Symptom | undefined => (a.ok ? undefined : classify(net, a)?.cause.symptom);

/**
 * A guest behind QEMU's user network with IPv6 off asking for a service of the engine's host that
 * listens on ::1 only: with IPv6 on, the gateway ::2 would lead there (semantics.md 6).
 */
function ipv6OffCauses(net: Network, q: Query, client: Machine, target: Machine): Cause[] {
  const sock = target.sockets.find((s) => s.role.kind === "service" && s.proto === q.proto && s.port === q.port);
  if (!sock || sock.bind.v !== 6 || !isLoopback(sock.bind)) return [];
  const segs = segmentsOf(client);
  const engine = net.machines.find(
    (m) =>
      m.engine?.kind === "qemu" &&
      m.engine.host === target.name &&
      !m.engine.loopbackAddress6 &&
      [...segmentsOf(m)].some((x) => segs.has(x)),
  );
  if (!engine) return [];
  return [
    {
      code: "NAT_IPV6_OFF",
      machine: client.name,
      at: at(engine.origin),
      symptom: "refused",
      text: `the ${engine.origin.what} has IPv6 off (ipv6=off), and ${sock.owner} on ${target.name} listens on [::1]:${sock.port} only: with IPv6 on, the gateway ::2 leads to the host's ::1 (10.0.2.2 leads to 127.0.0.1); drop ipv6=off, or have ${sock.owner} listen on 127.0.0.1 too`,
    },
  ];
}

/** What the client sees of the dial it would make: a structural cause takes this symptom. */
const seenOn = (net: Network, a: Attempt): Symptom | undefined => (a.ok ? "other-peer" : classify(net, a)?.cause.symptom);

/** An address query: the address's network first, else every blocker of the dial itself. */
function diagnoseAddress(net: Network, q: Query, client: Machine, dst: IP): Omit<Diagnosis, "assumptions"> {
  const dial: Dial = { from: q.from, proto: q.proto, dst, dport: q.port ?? 0, sport: q.proto === "icmp" ? ECHO_ID : DEFAULT_SPORT };
  const { causes, first } = blockersOn(net, dial);
  const other = separateNat(net, q, client, first);
  const structure = addressCauses(net, q, client, unmap(dst));
  const seen = seenOn(net, first);
  const found = other ? [other] : structure.causes.length ? structure.causes.map((c) => (seen ? { ...c, symptom: seen } : c)) : causes;
  return { causes: dedupe(found), intended: { dial, attempt: first, kind: "address" } };
}

/**
 * A client on a home router's WAN side, the target inside its LAN, and no router forward among
 * the ways in: ROUTER_NO_FORWARD, and the dial a person would make is the router's WAN address.
 */
function routerCause(net: Network, q: Query, client: Machine, target: Machine, ways: Way[]): { cause?: Cause; ways: Way[] } {
  const router = routerBetween(net, q, client, target);
  if (!router || ways.some((w) => w.kind === "router-forward")) return { ways };
  const forward = ways.find((w) => w.kind === "forward");
  const port = forward?.dial.dport ?? (q.proto === "icmp" ? 0 : q.port!);
  const wanAddr = router.wan.addrs.find((x) => x.ip.v === 4)?.ip ?? router.wan.addrs[0]!.ip;
  const to = forward?.dial.dst ?? own(target, 4) ?? wanAddr;
  const leadsTo = forward ? `${port}/${q.proto} (the port forward to ${target.name}:${q.port})` : `${target.name}:${q.port}/${q.proto}`;
  const entry = `{ proto: ${q.proto}, port: ${port}, to: ${formatIP(to)} }`;
  const name = router.router.name;
  return {
    cause: {
      code: "ROUTER_NO_FORWARD",
      machine: name,
      at: at(router.router.origin),
      symptom: "timeout",
      text: `${target.name} is inside ${name}'s LAN and ${client.name} is on its WAN side: ${name} lets connections in only through its port forwards, and none leads to ${leadsTo}; add ${entry} to ${name}'s router forwards`,
    },
    ways: [
      {
        dial: { from: client.name, proto: q.proto, dst: wanAddr, dport: port, sport: q.proto === "icmp" ? ECHO_ID : DEFAULT_SPORT },
        kind: "router-forward",
      },
    ],
  };
}

const dedupe = (cs: readonly Cause[]): Cause[] =>
  cs.filter((c, i) => cs.findIndex((x) => x.code === c.code && x.machine === c.machine && formatSpan(x.at) === formatSpan(c.at)) === i);

/** The modelling choices an answer about `q` rests on. */
function assumptionsFor(net: Network, q: Query): Assumption[] {
  const out: Assumption[] = [];
  const names = new Set([q.from, ...(q.target.kind === "machine" ? [q.target.machine] : [])]);
  for (const m of net.machines) {
    if (m.kind !== "nat-engine" || !m.engine) continue;
    const segs = segmentsOf(m);
    const guestIfs = net.machines
      .filter((g) => g.kind === "vm" && names.has(g.name))
      .flatMap((g) => nonLo(g).filter((i) => i.segment && segs.has(i.segment)));
    if (!guestIfs.length) continue;
    const seg = net.segments.find((x) => segs.has(x.name));
    out.push({
      code: "ASSUMPTION_NAT_GUEST_ADDRESS",
      at: m.engine.origin.span,
      text: `behind ${seg?.origin.what ?? m.name}, the guest has the address ${m.engine.kind === "qemu" ? "QEMU's DHCP and router advertisement give" : "VirtualBox's DHCP gives"} (${guestIfs
        .flatMap((i) => i.addrs.map((a) => formatIP(a.ip)))
        .join(", ")}), with the gateway ${formatIP(m.engine.gateway)}`,
    });
  }
  return out;
}
