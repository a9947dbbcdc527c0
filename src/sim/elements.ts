/**
 * The concrete semantics of each IR element, one function each: local-address
 * test, longest-prefix route lookup and source selection (semantics.md 3),
 * first-match filter chains (4), NAT rules (4), listening-socket lookup by bind
 * address (1), and neighbour resolution on a segment (3).
 */
import { contains, isLinkLocal6, isLoopback, isMapped, isAny, prefixOf, sameIP, unmap, type IfAddr, type IP } from "../net/addr.js";
import {
  routeMetric,
  type Chain,
  type CtState,
  type Iface,
  type Machine,
  type Match,
  type NatRule,
  type NegatableMatch,
  type Network,
  type Origin,
  type PortRange,
  type Route,
  type Rule,
  type Socket,
} from "../ir/types.js";
import type { Packet } from "./types.js";
import { ndFallbackSource, ndOwnSources } from "../ir/neighbour.js";
import { firstAddress4 } from "../ir/masquerade.js";
import { newestFirst, otherSources6, rule8 } from "../ir/source6.js";

/** Is `ip` an address of this machine (any interface: weak host model), incl. all of 127/8? */
export function isLocal(m: Machine, ip: IP): boolean {
  if (ip.v === 4 && isLoopback(ip)) return true;
  return m.interfaces.some((i) => i.addrs.some((a) => sameIP(a.ip, ip)));
}

export function ifaceOf(m: Machine, name: string): Iface | undefined {
  return m.interfaces.find((i) => i.name === name);
}

/** The local table first (any local address routes to lo), then longest prefix, then lowest metric, first listed on a tie. */
export function lookupRoute(m: Machine, dst: IP): Route | undefined {
  if (isLocal(m, dst)) {
    const owner = m.interfaces.find((i) => i.addrs.some((a) => sameIP(a.ip, dst))) ?? m.interfaces[0];
    return { dst: { v: dst.v, n: dst.n, len: dst.v === 4 ? 32 : 128 }, dev: "lo", type: "local", origin: owner!.origin };
  }
  let best: Route | undefined;
  for (const r of m.routes) {
    if (r.type === "local" || !r.dev || !contains(r.dst, dst)) continue;
    if (!best || r.dst.len > best.dst.len || (r.dst.len === best.dst.len && routeMetric(r) < routeMetric(best))) best = r;
  }
  return best;
}

/**
 * The source address the kernel picks for a new connection: the destination itself for a local
 * one (127.0.0.1 for 127/8). IPv4: an address of the outgoing interface on the next hop's subnet,
 * else its first, else any non-loopback IPv4 address of the machine. IPv6 (ipv6_dev_get_saddr):
 * among the outgoing interface's addresses of the destination's scope (RFC 6724 rules 2 and 5),
 * the one sharing the longest prefix with the destination counted up to its own prefix length
 * (rule 8, `rule8`), a tie to the address added last (the kernel keeps an interface's IPv6
 * addresses newest first and the first best wins; a file's list is the order they are added);
 * with none there, the best of the machine's other interfaces (a tie to the earlier interface);
 * else any address of the family on the outgoing interface.
 */
export function selectSource(m: Machine, route: Route, dst: IP): IP | undefined {
  if (route.type === "local") return dst.v === 4 && isLoopback(dst) ? { v: 4, n: 0x7f000001n } : dst;
  const iface = ifaceOf(m, route.dev);
  // RFC 6724 rule 2 (matching scope): a global destination gets a global source, even via a fe80:: gateway.
  const scopeOk = (a: IfAddr) => a.ip.v === dst.v && (dst.v === 4 || isLinkLocal6(a.ip) === isLinkLocal6(dst));
  const same = (iface?.addrs ?? []).filter(scopeOk);
  if (dst.v === 6) {
    const best = firstBest6(newestFirst(same), dst) ?? firstBest6(otherSources6(m, scopeOk), dst);
    if (best) return best.ip;
  } else {
    const hop = route.via ?? dst;
    const onLink = same.find((a) => contains(prefixOf(a.ip, a.len), hop));
    if (onLink) return onLink.ip;
    if (same[0]) return same[0].ip;
    for (const i of m.interfaces) for (const a of i.addrs) if (scopeOk(a) && !isLoopback(a.ip)) return a.ip;
  }
  return (iface?.addrs ?? []).find((a) => a.ip.v === dst.v)?.ip;
}

/** The first address with the highest rule-8 score, in the kernel's order (a later one must score more to win). */
const firstBest6 = (addrs: readonly IfAddr[], dst: IP): IfAddr | undefined =>
  addrs.reduce<IfAddr | undefined>((b, a) => (!b || rule8(a, dst) > rule8(b, dst) ? a : b), undefined);

export interface MatchContext {
  readonly in?: string;
  readonly out?: string;
  readonly state: CtState;
  /** the packet's connection was DNATed on this machine */
  readonly dnat?: boolean;
  /** The connection's original direction as conntrack recorded it (before any NAT here); none without an entry. */
  readonly orig?: Packet;
}

export function matches(match: Match, p: Packet, ctx: MatchContext): boolean {
  if (match.proto !== undefined && match.proto !== p.proto) return false;
  if (!conditions(match, p, ctx, true)) return false;
  if (match.state && !match.state.includes(ctx.state)) return false;
  if (match.ctDnat !== undefined && match.ctDnat !== (ctx.dnat ?? false)) return false;
  if (match.not && !conditions(match.not, p, ctx, false)) return false;
  return true;
}

/**
 * Each condition present comes out as `want` (true: plain, false: negated). Either way a
 * condition needs its field: an address of the prefix's family, TCP or UDP ports, the input or
 * output interface, a conntrack entry; without it the rule does not match (nft: the expression
 * breaks; iptables: the protocol module or conntrack match fails first).
 */
function conditions(m: NegatableMatch, p: Packet, ctx: MatchContext, want: boolean): boolean {
  const o = ctx.orig;
  const inRange = (r: PortRange, n: number) => n >= r.lo && n <= r.hi;
  const checks: [boolean, boolean, () => boolean][] = [
    [m.src !== undefined, m.src?.v === p.src.v, () => contains(m.src!, p.src)],
    [m.dst !== undefined, m.dst?.v === p.dst.v, () => contains(m.dst!, p.dst)],
    [m.sport !== undefined, p.proto !== "icmp", () => inRange(m.sport!, p.sport)],
    [m.dport !== undefined, p.proto !== "icmp", () => inRange(m.dport!, p.dport)],
    [m.in !== undefined, ctx.in !== undefined, () => m.in === ctx.in],
    [m.out !== undefined, ctx.out !== undefined, () => m.out === ctx.out],
    [m.origDst !== undefined, o !== undefined && m.origDst?.v === o.dst.v, () => contains(m.origDst!, o!.dst)],
    [m.origDport !== undefined, o !== undefined && o.proto !== "icmp", () => inRange(m.origDport!, o!.dport)],
  ];
  return checks.every(([present, has, test]) => !present || (has && test() === want));
}

export interface ChainResult {
  readonly action: "accept" | "drop" | "reject";
  readonly rule?: Rule;
  readonly policyOrigin?: Origin;
}

/** First matching rule wins; otherwise the chain policy. */
export function evalChain(chain: Chain, p: Packet, ctx: MatchContext): ChainResult {
  for (const rule of chain.rules) {
    if (matches(rule.match, p, ctx)) return { action: rule.action, rule };
  }
  return { action: chain.policy, ...(chain.policyOrigin ? { policyOrigin: chain.policyOrigin } : {}) };
}

/**
 * First matching NAT rule of the packet's family; masquerade takes the outgoing interface's address
 * (masqueradeSource). `drop`: the rule matched but masquerade found no address (the kernel drops the packet).
 */
export function applyNat(
  rules: readonly NatRule[],
  m: Machine,
  p: Packet,
  ctx: MatchContext,
): { packet: Packet; rule: NatRule; drop?: true } | undefined {
  for (const rule of rules) {
    const a = rule.action;
    const family = a.kind === "masquerade" ? p.src.v : a.to.v;
    if (family !== p.src.v || !matches(rule.match, p, ctx)) continue;
    switch (a.kind) {
      case "dnat":
        return { rule, packet: { ...p, dst: a.to, dport: a.toPort !== undefined && p.proto !== "icmp" ? a.toPort : p.dport } };
      case "snat":
        return { rule, packet: { ...p, src: a.to } };
      case "masquerade": {
        const src = masqueradeSource(m, p, ctx.out);
        if (src === "drop") return { rule, packet: p, drop: true };
        if (!src) continue;
        return { rule, packet: { ...p, src } };
      }
    }
  }
  return undefined;
}

/**
 * The source masquerade takes (semantics.md 4). IPv4 (nf_nat_masquerade_ipv4: inet_select_addr with universe
 * scope): the outgoing interface's address as a new connection picks it; out of lo, whose 127/8 address is host
 * scope, the machine's first universe-scope address (firstAddress4), whatever the destination; with no IPv4
 * address but loopback the kernel drops the packet ("drop"). IPv6 (nf_nat_masquerade_ipv6: ipv6_dev_get_saddr):
 * the outgoing interface's address; out of lo, where the destination is one of the machine's own, that destination
 * (RFC 6724 rule 1, over every device), and a link-local destination finds none: dropped (kernel-measured).
 * Undefined: the rule does not apply.
 */
export function masqueradeSource(m: Machine, p: Packet, out: string | undefined): IP | "drop" | undefined {
  if (out === undefined) return undefined;
  if (out === "lo") return p.src.v === 4 ? (firstAddress4(m) ?? "drop") : isLinkLocal6(p.dst) ? "drop" : p.dst;
  const hop = lookupRoute(m, p.dst);
  if (!hop) return undefined;
  const src = selectSource(m, { ...hop, dev: out, type: hop.type === "local" ? "connected" : hop.type }, p.dst);
  if (!src) return p.src.v === 4 ? "drop" : undefined;
  return isLoopback(src) ? undefined : src;
}

/**
 * Does a socket bound to `s.bind` accept a connection to `dst` (semantics.md 1)?
 * 0.0.0.0: any local IPv4; a specific address: exactly it, on any interface;
 * `::` dual-stack: any local IPv6 and IPv4 (as mapped); `::` v6only: IPv6 only;
 * `::ffff:a.b.c.d`: IPv4 a.b.c.d unless v6only; `::1`: only ::1.
 */
export function bindAccepts(s: Socket, dst: IP, inIface: string): boolean {
  if (s.device !== undefined && s.device !== inIface) return false;
  if (s.bind.v === 4) return dst.v === 4 && (isAny(s.bind) || sameIP(s.bind, dst));
  if (isAny(s.bind)) return dst.v === 6 || !s.v6only;
  if (isMapped(s.bind)) return !s.v6only && dst.v === 4 && (isAny(unmap(s.bind)) || sameIP(unmap(s.bind), dst));
  return dst.v === 6 && sameIP(s.bind, dst);
}

/** Linux prefers an exact address over a wildcard, a bound device, then the packet's own family. */
export function lookupSocket(m: Machine, p: Packet, inIface: string): Socket | undefined {
  let best: Socket | undefined;
  let bestScore = -1;
  for (const s of m.sockets) {
    if (s.proto !== p.proto || s.port !== p.dport || !bindAccepts(s, p.dst, inIface)) continue;
    const score = (isAny(unmap(s.bind)) ? 0 : 4) + (s.device !== undefined ? 2 : 0) + (s.bind.v === p.dst.v ? 1 : 0);
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

/**
 * Who answers ARP/ND for `nextHop` on `segment`. IPv4: Linux answers ARP for any of
 * its non-loopback addresses on any interface (arp_ignore=0); IPv6: only for
 * addresses of the interface on that segment. The first machine (in file order)
 * that answers, other than the asker.
 */
export function resolveNeighbour(net: Network, segment: string, nextHop: IP, from: string): { machine: Machine; iface: Iface } | undefined {
  const answering = arpTable(net).get(segment)?.[nextHop.v].get(nextHop.n);
  return answering?.find((o) => o.machine.name !== from);
}

type Owners = { machine: Machine; iface: Iface }[];
/** segment -> family -> address -> the (machine, interface) pairs that answer for it */
type ArpTable = Map<string, Record<4 | 6, Map<bigint, Owners>>>;
const arpTables = new WeakMap<Network, ArpTable>();

/** Who answers for each address on each segment, in the order the machines are listed. */
function arpTable(net: Network): ArpTable {
  let table = arpTables.get(net);
  if (table) return table;
  table = new Map();
  for (const m of net.machines) {
    for (const i of m.interfaces) {
      if (i.segment === null) continue;
      const answersFor = (ip: IP) =>
        ip.v === 4 && m.kind !== "nat-engine"
          ? !isLoopback(ip) && m.interfaces.some((j) => j.addrs.some((a) => sameIP(a.ip, ip)))
          : i.addrs.some((a) => sameIP(a.ip, ip));
      const candidates = [
        ...i.addrs.map((a) => a.ip),
        ...(m.kind !== "nat-engine" ? m.interfaces.flatMap((j) => j.addrs.map((a) => a.ip)) : []),
      ];
      for (const ip of candidates) {
        if (!answersFor(ip)) continue;
        let seg = table.get(i.segment);
        if (!seg) table.set(i.segment, (seg = { 4: new Map(), 6: new Map() }));
        const list = seg[ip.v].get(ip.n) ?? [];
        if (!list.some((o) => o.machine === m)) list.push({ machine: m, iface: i });
        seg[ip.v].set(ip.n, list);
      }
    }
  }
  arpTables.set(net, table);
  return table;
}

/** A relay socket's role (a `relay` SocketRole). */
export type RelayRole = Extract<Socket["role"], { kind: "relay" }>;

/**
 * Where a relay's own connection starts (semantics.md 5 and 6): a libslirp forward
 * (with `gateway`) keeps the client's address and port, the gateway standing in for
 * a loopback client or one of the other family; a relay process of a machine opens
 * its own socket: the bound `from` or the kernel's choice (undefined), an ephemeral port.
 */
export function relaySource(role: RelayRole, client: IP, clientPort: number, ephemeral: number): { src: IP | undefined; sport: number } {
  if (role.gateway === undefined) return { src: role.from, sport: ephemeral };
  return { src: isLoopback(client) || client.v !== role.to.v ? role.gateway : client, sport: clientPort };
}

/** The source of a neighbour solicitation for a packet from `src` leaving by `dev` (ir/neighbour.ts). */
export function ndSource(m: Machine, dev: string, src: IP): IP {
  return ndOwnSources(m, dev).some((a) => sameIP(a, src)) ? src : ndFallbackSource(m, dev);
}
