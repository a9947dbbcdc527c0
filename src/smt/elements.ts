/**
 * The symbolic twin of sim/elements.ts: each IR element's decision as a formula
 * (a yes/no decision) or as Cases (a choice among alternatives, each under its
 * condition), over packets whose fields may be the query's variables.
 * Written from semantics.md, not from the simulator's code: the two are checked
 * against each other on generated topologies (test/properties/differential).
 */
import { ndFallbackSource, ndOwnSources, solicitedNode } from "../ir/neighbour.js";
import { firstAddress4 } from "../ir/masquerade.js";
import { commonPrefix, newestFirst, otherSources6, rule8 } from "../ir/source6.js";
import {
  bits,
  isAny,
  isLinkLocal6,
  isLoopback,
  LINK_LOCAL6,
  isMapped,
  LOOPBACK4,
  LOOPBACK_NET4,
  LOOPBACK_NET6,
  prefixOf,
  sameIP,
  unmap,
  type Family,
  type IfAddr,
  type IP,
  type Prefix,
} from "../net/addr.js";
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
  type Socket,
} from "../ir/types.js";
import type { RuleRef } from "../ir/decision.js";
import { ac, and, bool, eqAddr, eqPort, FALSE, inPorts, inPrefix, not, or, TRUE, type AV, type Cases, type F, type PV } from "./term.js";

export interface SPacket {
  readonly proto: "tcp" | "udp" | "icmp";
  readonly src: AV;
  readonly dst: AV;
  readonly sport: PV;
  readonly dport: PV;
}

export const famOf = (a: AV): Family => (a.k === "c" ? a.ip.v : a.v);

const MULTICAST4: Prefix = { v: 4, n: 0xe0000000n, len: 4 };
const ZERO_NET4: Prefix = { v: 4, n: 0n, len: 8 };
const MULTICAST6: Prefix = { v: 6, n: 0xffn << 120n, len: 8 };
const full = (ip: IP): Prefix => ({ v: ip.v, n: ip.n, len: bits(ip.v) });

export const isLoopbackS = (a: AV): F => or(inPrefix(a, LOOPBACK_NET4), inPrefix(a, LOOPBACK_NET6));
export const isLinkLocal6S = (a: AV): F => inPrefix(a, LINK_LOCAL6);
/** Never a valid destination on the wire: broadcast, multicast, 0/8; ::, ff00::/8. */
export const isMartianDestinationS = (a: AV): F =>
  or(
    inPrefix(a, full({ v: 4, n: 0xffffffffn })),
    inPrefix(a, MULTICAST4),
    inPrefix(a, ZERO_NET4),
    inPrefix(a, full({ v: 6, n: 0n })),
    inPrefix(a, MULTICAST6),
  );

/** One of this machine's addresses (weak host model), or anywhere in 127/8. */
export function isLocalS(m: Machine, a: AV): F {
  const xs: F[] = [inPrefix(a, LOOPBACK_NET4)];
  for (const i of m.interfaces) for (const x of i.addrs) xs.push(eqAddr(a, ac(x.ip)));
  return or(...xs);
}

/** The route of the local table that a local destination takes. */
export function localRoute(m: Machine): Route {
  return { dst: { v: 4, n: 0n, len: 0 }, dev: "lo", type: "local", origin: m.origin };
}

/** Longest-prefix match after the local table; on equal lengths the lowest metric, then the route listed first. */
export function lookupRouteS(m: Machine, a: AV): Cases<Route | undefined> {
  const local = isLocalS(m, a);
  const out: [F, Route | undefined][] = [[local, localRoute(m)]];
  const fam = famOf(a);
  const cands = m.routes.filter((r) => r.type !== "local" && r.dev && r.dst.v === fam);
  const ordered = cands
    .map((r, i) => ({ r, i }))
    .sort((x, y) => y.r.dst.len - x.r.dst.len || routeMetric(x.r) - routeMetric(y.r) || x.i - y.i);
  let none = not(local);
  for (const { r } of ordered) {
    if (none.t === "false") break;
    const c = inPrefix(a, r.dst);
    out.push([and(none, c), r]);
    none = and(none, not(c));
  }
  out.push([none, undefined]);
  return out.filter(([c]) => c.t !== "false");
}

/**
 * RFC 6724 rule 8 as Linux scores it (sim `rule8`: the prefix shared with the destination, at most
 * the address's own length): does `a` score more than `b` for the destination? With c the prefix a
 * and b share, a destination that follows a past bit c shares exactly c with b, one that follows b
 * exactly c with a, and any other shares the same t < c with both.
 */
function scoresMore(a: IfAddr, b: IfAddr, dst: AV): F {
  if (dst.k === "c") return bool(rule8(a, dst.ip) > rule8(b, dst.ip));
  const [la, lb] = [a.len, b.len];
  // t > lb, with t the prefix the destination shares with both
  const pastB = lb < la ? inPrefix(dst, prefixOf(a.ip, lb + 1)) : FALSE;
  if (sameIP(a.ip, b.ip)) return pastB;
  const c = commonPrefix(a.ip, b.ip);
  return or(
    and(inPrefix(dst, prefixOf(a.ip, c + 1)), bool(la > Math.min(c, lb))),
    and(inPrefix(dst, prefixOf(b.ip, c + 1)), bool(lb < Math.min(c, la))),
    lb + 1 < c ? and(not(inPrefix(dst, prefixOf(a.ip, c))), pastB) : FALSE,
  );
}

/** The first address of `addrs` (in the kernel's order) with the highest rule-8 score, as cases (sim firstBest6). */
function firstBest6S(addrs: readonly IfAddr[], dst: AV, under: F): [F, AV][] {
  return addrs.map((a, i) => [
    and(under, ...addrs.map((b, j) => (j < i ? scoresMore(a, b, dst) : j > i ? not(scoresMore(b, a, dst)) : TRUE))),
    ac(a.ip),
  ]);
}

/**
 * Source address selection for a new connection (sim selectSource): a local destination is its
 * own source (127.0.0.1 for 127/8). IPv4: an address of the outgoing interface on the next hop's
 * subnet, else its first, else any other non-loopback one of the machine. IPv6: the outgoing
 * interface's address of the destination's scope that scores most by rule 8 (a tie to the newest),
 * else the best of the other interfaces, else any address of the family there.
 */
export function selectSourceS(m: Machine, route: Route, dst: AV): Cases<AV | undefined> {
  const fam = famOf(dst);
  if (route.type === "local") {
    if (fam === 6) return [[TRUE, dst]];
    const lb = inPrefix(dst, LOOPBACK_NET4);
    return [
      [lb, ac(LOOPBACK4)],
      [not(lb), dst],
    ];
  }
  const iface = m.interfaces.find((i) => i.name === route.dev);
  const anyOnIface = (iface?.addrs ?? []).find((a) => a.ip.v === fam)?.ip;
  const out: [F, AV | undefined][] = [];
  if (fam === 6) {
    for (const linkLocal of [true, false]) {
      const scope = linkLocal ? isLinkLocal6S(dst) : not(isLinkLocal6S(dst));
      if (scope.t === "false") continue;
      const scopeOk = (a: IfAddr) => a.ip.v === 6 && isLinkLocal6(a.ip) === linkLocal;
      const same = newestFirst((iface?.addrs ?? []).filter(scopeOk));
      const others = otherSources6(m, scopeOk);
      if (same.length) out.push(...firstBest6S(same, dst, scope));
      else if (others.length) out.push(...firstBest6S(others, dst, scope));
      else out.push([scope, anyOnIface ? ac(anyOnIface) : undefined]);
    }
    return out.filter(([c]) => c.t !== "false");
  }
  const hop = route.via ? ac(route.via) : dst;
  const same = (iface?.addrs ?? []).filter((a) => a.ip.v === 4);
  let none: F = TRUE;
  for (const a of same) {
    const c = inPrefix(hop, prefixOf(a.ip, a.len));
    out.push([and(none, c), ac(a.ip)]);
    none = and(none, not(c));
  }
  if (same[0]) out.push([none, ac(same[0].ip)]);
  else {
    let fallback: IP | undefined;
    for (const i of m.interfaces) for (const a of i.addrs) if (!fallback && a.ip.v === 4 && !isLoopback(a.ip)) fallback = a.ip;
    out.push([none, fallback ? ac(fallback) : anyOnIface ? ac(anyOnIface) : undefined]);
  }
  return out.filter(([c]) => c.t !== "false");
}

export interface SMatchContext {
  readonly in?: string;
  readonly out?: string;
  readonly state: CtState;
  /** the connection was destination-translated on this machine */
  readonly dnat: F;
  /** the connection's original direction in conntrack (what the client dialed); none without an entry */
  readonly orig?: SPacket;
}

export function matchesS(match: Match, p: SPacket, ctx: SMatchContext): F {
  if (match.proto !== undefined && match.proto !== p.proto) return FALSE;
  if (match.state && !match.state.includes(ctx.state)) return FALSE;
  return and(
    conditionsS(match, p, ctx, true),
    match.ctDnat === undefined ? TRUE : match.ctDnat ? ctx.dnat : not(ctx.dnat),
    match.not ? conditionsS(match.not, p, ctx, false) : TRUE,
  );
}

/**
 * Each condition present holds (`want`) or fails (negated); either way it needs its field: an
 * address of the prefix's family, TCP or UDP ports, the interface, a conntrack entry.
 */
function conditionsS(m: NegatableMatch, p: SPacket, ctx: SMatchContext, want: boolean): F {
  const o = ctx.orig;
  const is = (f: F) => (want ? f : not(f));
  const addr = (pre: Prefix, a: AV): F => (pre.v === famOf(a) ? is(inPrefix(a, pre)) : FALSE);
  const ports = (r: PortRange, v: PV, proto: SPacket["proto"]): F => (proto === "icmp" ? FALSE : is(inPorts(v, r.lo, r.hi)));
  const iface = (name: string, have: string | undefined): F => (have === undefined ? FALSE : is(bool(name === have)));
  return and(
    m.src ? addr(m.src, p.src) : TRUE,
    m.dst ? addr(m.dst, p.dst) : TRUE,
    m.sport ? ports(m.sport, p.sport, p.proto) : TRUE,
    m.dport ? ports(m.dport, p.dport, p.proto) : TRUE,
    m.in !== undefined ? iface(m.in, ctx.in) : TRUE,
    m.out !== undefined ? iface(m.out, ctx.out) : TRUE,
    m.origDst ? (o ? addr(m.origDst, o.dst) : FALSE) : TRUE,
    m.origDport ? (o ? ports(m.origDport, o.dport, o.proto) : FALSE) : TRUE,
  );
}

/** The chain's symbolic rules after folding: rules that cannot match go, a rule that always matches ends the chain as its policy. */
interface FoldedChain {
  readonly rules: readonly { readonly m: F; readonly accept: boolean; readonly ref: RuleRef }[];
  readonly policy: boolean;
  /** the rule that always matches and so decides in place of the policy */
  readonly policyRule?: RuleRef;
}

function foldChain(chain: Chain, p: SPacket, ctx: SMatchContext): FoldedChain {
  const rules: { m: F; accept: boolean; ref: RuleRef }[] = [];
  for (const [i, r] of chain.rules.entries()) {
    const m = matchesS(r.match, p, ctx);
    if (m.t === "false") continue;
    const ref = { index: i + 1, origin: r.origin };
    if (m.t === "true") return { rules, policy: r.action === "accept", policyRule: ref };
    rules.push({ m, accept: r.action === "accept", ref });
  }
  return { rules, policy: chain.policy === "accept" };
}

/** Does the chain accept the packet (first matching rule, else the policy)? Reject and drop both refuse. The twin of sim `evalChain`. */
export function evalChainS(chain: Chain, p: SPacket, ctx: SMatchContext): F {
  const { rules: folded, policy } = foldChain(chain, p, ctx);
  const rules = folded.map(({ m, accept }) => ({ m, accept }));
  // rules that decide like the policy anyway can go from the end
  while (rules.length && rules[rules.length - 1]!.accept === policy) rules.pop();
  if (!rules.length) return bool(policy);
  return { t: "chain", rules, policy };
}

/** Chains with more symbolic rules than this are assumed whole (one condition), not rule by rule. */
export const RULE_LEVEL_MAX = 64;

/** One condition of a chain's acceptance and the rule (or policy) it stands for. */
export interface ChainCondition {
  readonly f: F;
  readonly rule?: RuleRef;
  /** the policy's condition: some accept rule is the first match */
  readonly policy?: { readonly origin?: Origin };
}

/**
 * The chain's acceptance as a conjunction of per-rule conditions, logically the same as
 * `evalChainS`: for each drop/reject rule i, not (rule i matches and no earlier rule does);
 * for a drop policy, one condition that some accept rule is the first match. Labelled
 * this way an unsat core names the rule that rules a path out. A chain of more than
 * RULE_LEVEL_MAX symbolic rules comes back as one unlabelled condition (`evalChainS`).
 */
export function evalChainByRuleS(chain: Chain, p: SPacket, ctx: SMatchContext): ChainCondition[] {
  const { rules, policy, policyRule } = foldChain(chain, p, ctx);
  if (rules.length > RULE_LEVEL_MAX) return [{ f: evalChainS(chain, p, ctx) }];
  const out: ChainCondition[] = [];
  rules.forEach((r, i) => {
    if (r.accept) return;
    // earlier rules as accepting and this one as refusing: false exactly when this rule is the first match
    const f: F =
      i === 0
        ? not(r.m)
        : { t: "chain", rules: [...rules.slice(0, i).map(({ m }) => ({ m, accept: true })), { m: r.m, accept: false }], policy: true };
    out.push({ f, rule: r.ref });
  });
  if (!policy) {
    const accepting = rules.some((r) => r.accept);
    const f: F = accepting ? { t: "chain", rules: rules.map(({ m, accept }) => ({ m, accept })), policy: false } : FALSE;
    out.push(policyRule ? { f, rule: policyRule } : { f, policy: chain.policyOrigin ? { origin: chain.policyOrigin } : {} });
  }
  return out;
}

export interface NatOutcome {
  readonly rule: NatRule;
  readonly packet: SPacket;
  /** the rule matched but masquerade found no address: the kernel drops the packet (sim masqueradeSource) */
  readonly drop?: true;
}

/** The first NAT rule of the packet's family that matches and can translate it; undefined: none. */
export function applyNatS(rules: readonly NatRule[], m: Machine, p: SPacket, ctx: SMatchContext): Cases<NatOutcome | undefined> {
  const out: [F, NatOutcome | undefined][] = [];
  let none: F = TRUE;
  const fam = famOf(p.src);
  for (const rule of rules) {
    if (none.t === "false") break;
    const a = rule.action;
    if ((a.kind === "masquerade" ? fam : a.to.v) !== fam) continue;
    const mt = matchesS(rule.match, p, ctx);
    if (mt.t === "false") continue;
    if (a.kind === "dnat") {
      out.push([
        and(none, mt),
        { rule, packet: { ...p, dst: ac(a.to), dport: a.toPort !== undefined && p.proto !== "icmp" ? { k: "c", n: a.toPort } : p.dport } },
      ]);
      none = and(none, not(mt));
    } else if (a.kind === "snat") {
      out.push([and(none, mt), { rule, packet: { ...p, src: ac(a.to) } }]);
      none = and(none, not(mt));
    } else {
      // masquerade (sim masqueradeSource): the outgoing interface's address, as a new connection would pick it;
      // IPv4 out of lo: the machine's first IPv4 address whatever the destination, none: dropped;
      // IPv6 out of lo: the destination (one of the machine's own), a link-local one dropped
      if (ctx.out === undefined) continue;
      if (fam === 4 && ctx.out === "lo") {
        const first = firstAddress4(m);
        out.push([and(none, mt), first ? { rule, packet: { ...p, src: ac(first) } } : { rule, packet: p, drop: true }]);
        none = and(none, not(mt));
        continue;
      }
      if (ctx.out === "lo") {
        const ll = isLinkLocal6S(p.dst);
        out.push([and(none, mt, ll), { rule, packet: p, drop: true }]);
        out.push([and(none, mt, not(ll)), { rule, packet: { ...p, src: p.dst } }]);
        none = and(none, not(mt));
        continue;
      }
      let skip: F = FALSE;
      for (const [hc, hop] of lookupRouteS(m, p.dst)) {
        if (!hop) {
          skip = or(skip, hc);
          continue;
        }
        const viaOut: Route = { ...hop, dev: ctx.out, type: hop.type === "local" ? "connected" : hop.type };
        for (const [sc, src] of selectSourceS(m, viaOut, p.dst)) {
          const c = and(hc, sc);
          if (!src) {
            // IPv4 with no address of the family anywhere: dropped (IPv6: the rule does not apply)
            if (fam === 4) out.push([and(none, mt, c), { rule, packet: p, drop: true }]);
            else skip = or(skip, c);
            continue;
          }
          const lb = isLoopbackS(src);
          skip = or(skip, and(c, lb));
          out.push([and(none, mt, c, not(lb)), { rule, packet: { ...p, src } }]);
        }
      }
      none = and(none, or(not(mt), skip));
    }
  }
  out.push([none, undefined]);
  return out.filter(([c]) => c.t !== "false");
}

/** Does a socket bound to s.bind take a connection for `dst` arriving on `inIface`? (semantics.md 1) */
export function bindAcceptsS(s: Socket, dst: AV, inIface: string): F {
  if (s.device !== undefined && s.device !== inIface) return FALSE;
  const fam = famOf(dst);
  if (s.bind.v === 4) return isAny(s.bind) ? bool(fam === 4) : eqAddr(dst, ac(s.bind));
  if (isAny(s.bind)) return bool(fam === 6 || !s.v6only);
  if (isMapped(s.bind)) {
    if (s.v6only || fam !== 4) return FALSE;
    const u = unmap(s.bind);
    return isAny(u) ? TRUE : eqAddr(dst, ac(u));
  }
  return fam === 6 ? eqAddr(dst, ac(s.bind)) : FALSE;
}

/** The listening socket that takes the packet: a specific address beats a wildcard, a bound device beats none, then the packet's own family. */
export function lookupSocketS(m: Machine, p: SPacket, inIface: string): Cases<Socket | undefined> {
  const fam = famOf(p.dst);
  const ranked = m.sockets
    .filter((s) => s.proto === p.proto)
    .map((s, i) => ({ s, i, score: (isAny(unmap(s.bind)) ? 0 : 4) + (s.device !== undefined ? 2 : 0) + (s.bind.v === fam ? 1 : 0) }))
    .sort((x, y) => y.score - x.score || x.i - y.i);
  const out: [F, Socket | undefined][] = [];
  let none: F = TRUE;
  for (const { s } of ranked) {
    if (none.t === "false") break;
    const c = and(eqPort(p.dport, { k: "c", n: s.port }), bindAcceptsS(s, p.dst, inIface));
    if (c.t === "false") continue;
    out.push([and(none, c), s]);
    none = and(none, not(c));
  }
  out.push([none, undefined]);
  return out.filter(([c]) => c.t !== "false");
}

interface Owner {
  readonly machine: Machine;
  readonly iface: Iface;
}

/**
 * Who answers ARP/ND on a segment, per address: IPv4 any non-loopback address of
 * a Linux machine (arp_ignore=0) on any of its interfaces, answered on its
 * interface on that segment; IPv6 and a NAT engine only the interface's own.
 * Owners are listed in machine order; a machine never resolves itself.
 */
export class NeighbourIndex {
  private readonly bySegment = new Map<string, Map<string, { ip: IP; owners: Owner[] }>>();
  constructor(net: Network) {
    for (const m of net.machines) {
      for (const i of m.interfaces) {
        if (i.segment === null) continue;
        let seg = this.bySegment.get(i.segment);
        if (!seg) this.bySegment.set(i.segment, (seg = new Map()));
        const own: IP[] = [];
        for (const a of i.addrs) if (a.ip.v === 6 || m.kind === "nat-engine") own.push(a.ip);
        if (m.kind !== "nat-engine")
          for (const j of m.interfaces) for (const a of j.addrs) if (a.ip.v === 4 && !isLoopback(a.ip)) own.push(a.ip);
        for (const ip of own) {
          const key = `${ip.v}:${ip.n}`;
          let e = seg.get(key);
          if (!e) seg.set(key, (e = { ip, owners: [] }));
          if (!e.owners.some((o) => o.machine === m)) e.owners.push({ machine: m, iface: i });
        }
      }
    }
  }

  /**
   * Who answers for `nextHop` on `segment`, as alternatives (see resolveNeighbourS). With `keep`,
   * only the owners it keeps: the other alternatives (and nobody answering) are left out, for a
   * walk that would end there anyway.
   */
  resolve(segment: string, nextHop: AV, from: string, keep?: (m: Machine) => boolean): Cases<Owner | undefined> {
    const seg = this.bySegment.get(segment);
    if (!seg) return [[TRUE, undefined]];
    const first = (e: { owners: Owner[] }) => e.owners.find((o) => o.machine.name !== from);
    if (nextHop.k === "c") {
      const e = seg.get(`${nextHop.ip.v}:${nextHop.ip.n}`);
      const o = e ? first(e) : undefined;
      return keep && !(o && keep(o.machine)) ? [] : [[TRUE, o]];
    }
    const out: [F, Owner | undefined][] = [];
    const known: F[] = [];
    for (const e of seg.values()) {
      if (e.ip.v !== nextHop.v) continue;
      const owner = first(e);
      if (!owner || (keep && !keep(owner.machine))) continue;
      const c = eqAddr(nextHop, ac(e.ip));
      out.push([c, owner]);
      known.push(c);
    }
    if (!keep) out.push([not(or(...known)), undefined]);
    return out;
  }
}

/** The twin of sim `resolveNeighbour`: who answers ARP/ND for `nextHop` on `segment`, other than `from`. */
export const resolveNeighbourS = (
  index: NeighbourIndex,
  segment: string,
  nextHop: AV,
  from: string,
  keep?: (m: Machine) => boolean,
): Cases<Owner | undefined> => index.resolve(segment, nextHop, from, keep);

/** A relay socket's role (a `relay` SocketRole). */
export type RelayRoleS = Extract<Socket["role"], { kind: "relay" }>;

/**
 * The source of a relay's own connection, by its kind (semantics.md 5 and 6): a
 * libslirp forward keeps the client (its gateway for a loopback client or one of
 * the other family, with the client's port); a machine's relay process connects
 * from its bound `from` or the kernel's choice (undefined) and an ephemeral port.
 */
export function relaySourceS(role: RelayRoleS, client: AV, clientPort: PV, ephemeral: number): Cases<{ src: AV | undefined; sport: PV }> {
  if (role.gateway === undefined) return [[TRUE, { src: role.from ? ac(role.from) : undefined, sport: { k: "c", n: ephemeral } }]];
  const gw: F = famOf(client) !== role.to.v ? TRUE : isLoopbackS(client);
  return [
    [gw, { src: ac(role.gateway), sport: clientPort }],
    [not(gw), { src: client, sport: clientPort }],
  ];
}

/** The twin of sim `ndSource`: a solicitation's source, the packet's own when it is an address of `dev` (ir/neighbour.ts). */
export function ndSourceS(m: Machine, dev: string, src: AV): Cases<AV> {
  const own = or(...ndOwnSources(m, dev).map((a) => eqAddr(src, ac(a))));
  return [
    [own, src],
    [not(own), ac(ndFallbackSource(m, dev))],
  ];
}

/**
 * The solicited-node group of a target (sim uses `solicitedNode` directly). A target the path has
 * not fixed stands for the group's /104 (ff02::1:ff00:0): no prefix of /104 or shorter tells its
 * members apart.
 */
export const solicitedNodeS = (target: AV): AV => ac(solicitedNode(target.k === "c" ? target.ip : { v: 6, n: 0n }));
