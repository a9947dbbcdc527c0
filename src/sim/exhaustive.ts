/**
 * An exact, simulator-side decision procedure for a query: every packet
 * equivalence class of the network is dialed once, so the verdict is the
 * simulator's own answer over the whole symbolic domain, not over a list of
 * likely candidates (as ask() does). It is the reference the Z3 encoder is
 * checked against (differential testing) and benchmarked with.
 *
 * The domain (what the Z3 side leaves free):
 *   - dial destination: any IPv4 address, or any IPv6 address other than `::`
 *     and `::ffff:0:0/96` (attempt() turns those into ::1 and an IPv4 dial);
 *   - destination port 1..65535 (tcp/udp), 0 (icmp);
 *   - source port 1024..65535 (tcp/udp: an unprivileged client may bind any),
 *     1 (icmp: the echo identifier).
 *
 * Equivalence classes. Every decision the simulator takes on a dial is a
 * function of (a) membership of an address in a prefix, (b) equality of an
 * address with a constant, (c) membership of a port in a range or equality with
 * a constant port. Each such test is written as cut points on a number line:
 * a prefix or range [lo, hi] gives lo and hi+1, a constant c gives c and c+1.
 * The atoms between consecutive cuts are the classes; each atom
 * [c_i, c_{i+1}) is represented by c_i, so the representatives of a domain are
 * its minimum plus every cut inside it.
 *
 * Address cuts (both families, collected from every machine):
 *   - interface addresses (incl. lo's 127.0.0.1/8 and ::1) and their subnets
 *     (isLocal, resolveNeighbour, selectSource's on-link test, bindAccepts'
 *     device lookup);
 *   - route destinations and gateways (lookupRoute: LPM; rp_filter's reverse
 *     lookup of a reply's source, which is the dialed address);
 *   - filter and NAT match src/dst prefixes, DNAT/SNAT targets (the ct-dnat
 *     test compares the translated destination with the original one);
 *   - socket binds (raw and unmapped), relay targets and gateways, NAT engine
 *     gateway and loopback address, segment subnets;
 *   - fixed ranges: 127.0.0.0/8, 127.0.0.1, 127.0.0.2, 0.0.0.0/8, 224.0.0.0/4,
 *     255.255.255.255, ::1, fe80::/10, ff00::/8, and 0.0.0.0 itself (ADDED:
 *     attempt() dials 127.0.0.1 for 0.0.0.0 but 0.0.0.1 is a martian, so the
 *     constant 0.0.0.0 is a cut of its own, not only the start of 0.0.0.0/8);
 *   - IPv6 source selection, RFC 6724 rule 8 (selectSource): for two addresses
 *     a, b of one machine with c = commonPrefix(a, b), which of the two scores
 *     more (the prefix shared with the destination, at most the address's own
 *     length) depends only on membership of the destination in a/(c+1),
 *     b/(c+1), a/c (outside it, the destination shares the same t < c with
 *     both) and a/(len(b)+1) (whether that t passes b's length); all are cuts
 *     (each ordered pair).
 * IPv6 representatives never fall in `::` or `::ffff:0:0/96`: the domain
 * starts at ::1 and a cut inside the mapped block moves to its end
 * (::1:0:0:0), which then represents the remainder of that atom past the block.
 *
 * Port cuts (one set, clipped to each domain): socket ports, relay toPorts,
 * DNAT toPorts, filter and NAT dport/sport ranges, 41000 (the NAT engine's
 * HOST_EPHEMERAL source port), 40000, 1, and 1024 (ADDED: it aligns the dport
 * atoms with the sport domain, see the next paragraph).
 *
 * Source port equal to destination port (ADDED). Fields are compared with each
 * other, not only with constants: conntrack looks packets up by the whole
 * 5-tuple, and a reply (swap of the packet) puts the dport where the sport
 * was, so whether sport == dport can matter (e.g. a looped-back packet with
 * src == dst and sport == dport is its own reply). With per-field
 * representatives only, a pair in one atom would always be tried equal (both
 * at c_i) and never unequal. So for each dport d tried, the sports tried are
 * the sport representatives plus d and d+1 (those that fall in 1024..65535):
 * the atom holding d is split into [c, d), {d} and [d+1, next), i.e. "sport
 * in the same class as dport" is tried both equal and unequal. With 1024 a
 * cut, every dport representative >= 1024 is itself a sport representative.
 * Every other field of every packet the simulator builds is a constant of the
 * network once the dial's classes are fixed (source addresses come from
 * selectSource, which for a local route returns the destination, but that is
 * a singleton atom: an interface address or 127.0.0.1 for all of 127/8; later
 * legs use relay targets, HOST_EPHEMERAL and the client's sport; NAT writes
 * constants), so address fields only ever compare the dialed address with
 * constants, and port fields compare dport, sport and constants: those are
 * the only relations, and all are captured.
 *
 * Limitations (stated, not hidden): the classes are exact for the simulator as
 * it is (src/sim/*.ts at the time of writing). A new decision in the simulator
 * on an address or port (a new special range, a comparison of a field with a
 * value derived from the dial other than equality) needs its cut here. The
 * `representative()` function maps any concrete dial to the one tried for its
 * class, so a property test (test/sim/exhaustive.test.ts) compares the two
 * attempts' decision traces on random dials to catch such drift.
 *
 * Iteration: destinations outer (IPv4, then IPv6), destination ports, source
 * ports inner; the first success is the witness. `tried` counts attempt()
 * calls; `classCount()` is the size of a full enumeration.
 */
import { commonPrefix } from "../ir/source6.js";
import { bits, isMapped, LOOPBACK4, LOOPBACK6, prefixOf, sameIP, unmap, type Family, type IP, type Prefix } from "../net/addr.js";
import type { Machine, Match, Network } from "../ir/types.js";
import type { Query } from "../ir/query.js";
import type { Attempt } from "./types.js";
import { attempt, machineIndex, meetsQuery } from "./connect.js";
import { ECHO_ID, DEFAULT_SPORT, HOST_EPHEMERAL, type Dial } from "../ir/dial.js";

export interface PacketClasses {
  /** One IPv4 destination per class, ascending. */
  readonly dst4: readonly IP[];
  /** One IPv6 destination per class, ascending; never `::` nor `::ffff:0:0/96`. */
  readonly dst6: readonly IP[];
  /** One destination port per class (1..65535), ascending. */
  readonly ports: readonly number[];
  /** One source port per class (1024..65535), ascending (extended per dport by sportsFor). */
  readonly sports: readonly number[];
}

export interface ExhaustiveResult {
  /** unknown: the deadline came before every class was dialed */
  readonly verdict: "reachable" | "unreachable" | "unknown";
  readonly dial?: Dial;
  readonly attempt?: Attempt;
  /** attempt() calls made */
  readonly tried: number;
  /** classes not dialed because an earlier dial showed their outcome cannot differ (independentOf) */
  readonly skipped: number;
}

const DPORT = { lo: 1, hi: 65535 };
const SPORT = { lo: 1024, hi: 65535 };

/** ::ffff:0:0/96, excluded from the IPv6 dial domain. */
const MAPPED_LO = 0xffffn << 32n;
const MAPPED_END = 0x10000n << 32n;

const v4 = (n: bigint): IP => ({ v: 4, n });
const v6 = (n: bigint): IP => ({ v: 6, n });

class Cuts {
  readonly addr: Record<Family, Set<bigint>> = { 4: new Set(), 6: new Set() };
  readonly port = new Set<number>();

  ip(ip: IP): void {
    this.addr[ip.v].add(ip.n).add(ip.n + 1n);
    if (isMapped(ip)) this.ip(unmap(ip));
  }
  prefix(p: Prefix): void {
    const size = 1n << BigInt(bits(p.v) - p.len);
    const lo = p.n & ~(size - 1n);
    this.addr[p.v].add(lo).add(lo + size);
  }
  range(lo: number, hi: number): void {
    this.port.add(lo).add(hi + 1);
  }
  match(m: Match): void {
    // negated conditions cut where the plain ones do; the original destination is the dialed one
    for (const x of [m, ...(m.not ? [m.not] : [])]) {
      for (const p of [x.src, x.dst, x.origDst]) if (p) this.prefix(p);
      for (const r of [x.sport, x.dport, x.origDport]) if (r) this.range(r.lo, r.hi);
    }
  }
}

const p4 = (n: bigint, len: number): Prefix => ({ v: 4, n, len });
const p6 = (n: bigint, len: number): Prefix => ({ v: 6, n, len });

function machineCuts(c: Cuts, m: Machine): void {
  for (const i of m.interfaces) {
    for (const a of i.addrs) {
      c.ip(a.ip);
      c.prefix(prefixOf(a.ip, a.len));
    }
  }
  // RFC 6724 rule 8 in selectSource: which of a, b scores more for the destination (the prefix
  // shared with it, at most the address's length): membership in a/(c+1), b/(c+1), a/c and a/(len(b)+1)
  const six = m.interfaces.flatMap((i) => i.addrs).filter((a) => a.ip.v === 6);
  for (const a of six) {
    for (const b of six) {
      const cp = commonPrefix(a.ip, b.ip);
      if (cp < 128) c.prefix(prefixOf(a.ip, cp + 1));
      c.prefix(prefixOf(a.ip, cp));
      if (b.len < 128) c.prefix(prefixOf(a.ip, b.len + 1));
    }
  }
  for (const r of m.routes) {
    c.prefix(r.dst);
    if (r.via) c.ip(r.via);
  }
  for (const chain of [m.filter.input, m.filter.output, m.filter.forward]) for (const r of chain.rules) c.match(r.match);
  for (const r of [...m.nat.prerouting, ...m.nat.output, ...m.nat.postrouting]) {
    c.match(r.match);
    const a = r.action;
    if (a.kind === "dnat" || a.kind === "snat") c.ip(a.to);
    if (a.kind === "dnat" && a.toPort !== undefined) c.range(a.toPort, a.toPort);
  }
  for (const s of m.sockets) {
    c.ip(s.bind);
    c.range(s.port, s.port);
    if (s.role.kind === "relay") {
      c.ip(s.role.to);
      if (s.role.gateway) c.ip(s.role.gateway);
      if (s.role.from) c.ip(s.role.from);
      c.range(s.role.toPort, s.role.toPort);
    }
  }
  if (m.engine) {
    c.ip(m.engine.gateway);
    c.ip(m.engine.loopbackAddress);
    if (m.engine.loopbackAddress6) c.ip(m.engine.loopbackAddress6);
  }
}

/** The domain's minimum plus every cut inside [lo, hi], ascending. */
function repsOf<T extends number | bigint>(cuts: Iterable<T>, lo: T, hi: T): T[] {
  const out = new Set<T>([lo]);
  for (const x of cuts) if (x > lo && x <= hi) out.add(x);
  return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** IPv6: [::1, max] without ::ffff:0:0/96; a cut inside the block moves to its end. */
function reps6(cuts: Iterable<bigint>): bigint[] {
  const moved: bigint[] = [];
  for (const x of cuts) moved.push(x >= MAPPED_LO && x < MAPPED_END ? MAPPED_END : x);
  return repsOf(moved, 1n, (1n << 128n) - 1n);
}

export function packetClasses(net: Network): PacketClasses {
  const c = new Cuts();
  for (const m of net.machines) machineCuts(c, m);
  for (const s of net.segments) for (const p of s.subnets) c.prefix(p);
  // fixed ranges the simulator tests (addr.ts: isLoopback, isMartianDestination, isLinkLocal6, isMulticast)
  c.prefix(p4(0x7f000000n, 8));
  c.ip(LOOPBACK4);
  c.ip(v4(0x7f000002n));
  c.prefix(p4(0n, 8));
  c.ip(v4(0n));
  c.prefix(p4(0xe0000000n, 4));
  c.ip(v4(0xffffffffn));
  c.ip(LOOPBACK6);
  c.prefix(p6(0xfe80n << 112n, 10));
  c.prefix(p6(0xffn << 120n, 8));
  for (const p of [HOST_EPHEMERAL, DEFAULT_SPORT, 1, SPORT.lo]) c.range(p, p);
  return {
    dst4: repsOf(c.addr[4], 0n, 0xffffffffn).map(v4),
    dst6: reps6(c.addr[6]).map(v6),
    ports: repsOf(c.port, DPORT.lo, DPORT.hi),
    sports: repsOf(c.port, SPORT.lo, SPORT.hi),
  };
}

/**
 * The source ports tried with destination port `dport`: the classes' sports
 * plus dport and dport+1 where they are unprivileged, so that a sport in
 * dport's own class is tried both equal to it and not.
 */
export function sportsFor(classes: PacketClasses, dport: number, has = (p: number) => classes.sports.includes(p)): number[] {
  const extra = extraSports(dport, has);
  if (!extra.length) return [...classes.sports];
  return [...classes.sports, ...extra].sort((a, b) => a - b);
}

/** dport and dport+1 where they are unprivileged source ports not among the classes' own (`has`). */
const extraSports = (dport: number, has: (p: number) => boolean): number[] =>
  [dport, dport + 1].filter((p) => p >= SPORT.lo && p <= SPORT.hi && !has(p));

/** The largest element of ascending `xs` that is <= x (xs[0] when none is). */
function floorOf<T extends number | bigint>(xs: readonly T[], x: T): T {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (xs[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return xs[lo]!;
}

/**
 * The dial that the enumeration tries for the class of `dial` (which must lie in
 * the domain: see the file comment). For differential tests: a concrete dial
 * and its representative must take the same decisions.
 */
export function representative(classes: PacketClasses, dial: Dial): Dial {
  const dsts = dial.dst.v === 4 ? classes.dst4 : classes.dst6;
  const dstN = floorOf(
    dsts.map((x) => x.n),
    dial.dst.n,
  );
  const dst: IP = { v: dial.dst.v, n: dstN };
  if (dial.proto === "icmp") return { ...dial, dst, dport: 0, sport: ECHO_ID };
  const dport = floorOf(classes.ports, dial.dport);
  const sportClass = (p: number) => floorOf(classes.sports, p);
  let sport: number;
  if (dial.sport === dial.dport) sport = dport;
  else if (dial.dport >= SPORT.lo && sportClass(dial.sport) === sportClass(dial.dport)) sport = dport + 1;
  else sport = sportClass(dial.sport);
  return { ...dial, dst, dport, sport };
}

export function representativeForAddress(classes: PacketClasses, dial: Dial): Dial {
  if (dial.proto === "icmp") return { ...dial, sport: ECHO_ID };
  return { ...dial, sport: floorOf(sportsFor(classes, dial.dport), dial.sport) };
}

interface Plan {
  readonly dials: () => Iterable<Dial>;
  readonly count: number;
  readonly good: (a: Attempt) => boolean;
}

function plans(net: Network, q: Query, classes: PacketClasses): Plan[] {
  const t = q.target;
  const icmp = q.proto === "icmp";
  const address = (ip: IP): Plan => {
    const dport = icmp ? 0 : q.port!;
    const sports = icmp ? [ECHO_ID] : sportsFor(classes, dport);
    return {
      count: sports.length,
      good: (a) => meetsQuery(q, a),
      *dials() {
        for (const sport of sports) yield { from: q.from, proto: q.proto, dst: ip, dport, sport };
      },
    };
  };
  if (t.kind === "localhost") return [address(LOOPBACK4), address(LOOPBACK6)];
  if (t.kind === "address") return [address(t.ip)];
  if (!net.machines.some((m) => m.name === t.machine)) throw new Error(`internal: unknown machine ${t.machine}`);
  const dsts = [...classes.dst4, ...classes.dst6];
  const ports = icmp ? [0] : classes.ports;
  // each port's source ports are made when they are dialed (thousands of ports by thousands of sports do not fit at once)
  const own = new Set(classes.sports);
  const has = (p: number) => own.has(p);
  const sportsOf = (d: number) => (icmp ? [ECHO_ID] : sportsFor(classes, d, has));
  const perDst = ports.reduce((n, d) => n + (icmp ? 1 : classes.sports.length + extraSports(d, has).length), 0);
  return [
    {
      count: dsts.length * perDst,
      good: (a) => meetsQuery(q, a),
      *dials() {
        for (const dst of dsts) {
          for (const dport of ports) {
            for (const sport of sportsOf(dport)) yield { from: q.from, proto: q.proto, dst, dport, sport };
          }
        }
      },
    },
  ];
}

/** How many dials a full enumeration of `q` makes (every class, no early stop). */
export function classCount(net: Network, q: Query, classes: PacketClasses = packetClasses(net)): number {
  return plans(net, q, classes).reduce((n, p) => n + p.count, 0);
}

/**
 * Which fields cannot turn a failed attempt into a working one, so that the
 * other classes of those fields need no dial of their own. Only failures of
 * the first packet qualify: it is always a new connection (no conntrack lookup
 * compares it with anything), and its path does not depend on ports unless a
 * NAT rule on the way matches them (routing never looks at ports). Filter rules
 * only cut a path short: another port can only fail earlier, unless the machine
 * where it failed dropped it by a rule that matches that port. The socket
 * lookup of a refusal depends on the destination port.
 *   "ports": no other destination or source port can succeed;
 *   "sport": no other source port can succeed.
 */
export function independentOf(a: Attempt, use: ReadonlyMap<string, PortUse>): "ports" | "sport" | undefined {
  const o = a.outcome;
  if (o.kind !== "failed" || o.leg !== 0 || o.direction !== "forward") return undefined;
  const leg = a.legs[0]!;
  // connect() failed before any packet (no route, no source address): only the destination decided
  if (leg.forward.steps.length === 0) return "ports";
  let natSport = use.get(leg.from)!.natSport;
  let natDport = use.get(leg.from)!.natDport;
  for (const s of leg.forward.steps) {
    const u = use.get(s.machine)!;
    natSport ||= u.natSport;
    natDport ||= u.natDport;
  }
  const d = o.disposition;
  const cut = d.kind === "dropped" || d.kind === "rejected";
  const at = use.get(d.machine);
  const sportFree = !natSport && !(cut && at?.filterSport);
  const dportFree = !natDport && d.kind !== "refused" && !(cut && at?.filterDport);
  return sportFree && dportFree ? "ports" : sportFree ? "sport" : undefined;
}

/** Does the match test this field, plainly or negated? */
const looksAt = (m: Match, k: "sport" | "dport" | "origDport"): boolean => m[k] !== undefined || m.not?.[k] !== undefined;

/** Which kinds of rule of a machine look at ports. */
export interface PortUse {
  readonly filterSport: boolean;
  readonly filterDport: boolean;
  readonly natSport: boolean;
  readonly natDport: boolean;
}
export function portUseOf(net: Network): ReadonlyMap<string, PortUse> {
  const out = new Map<string, PortUse>();
  for (const m of net.machines) {
    const filter = [...m.filter.input.rules, ...m.filter.output.rules, ...m.filter.forward.rules];
    const nat = [...m.nat.prerouting, ...m.nat.output, ...m.nat.postrouting];
    out.set(m.name, {
      filterSport: filter.some((r) => looksAt(r.match, "sport")),
      filterDport: filter.some((r) => looksAt(r.match, "dport") || looksAt(r.match, "origDport")),
      natSport: nat.some((r) => looksAt(r.match, "sport")),
      natDport: nat.some((r) => looksAt(r.match, "dport") || looksAt(r.match, "origDport")),
    });
  }
  return out;
}

/**
 * The simulator's verdict on `q` over every packet class; the first dial that works is the witness.
 * Past `deadline` (Date.now() ms) the verdict is unknown, with the count of classes dialed so far.
 */
export function exhaustive(
  net: Network,
  q: Query,
  classes: PacketClasses = packetClasses(net),
  skip = true,
  deadline?: number,
): ExhaustiveResult {
  if (!net.machines.some((m) => m.name === q.from)) throw new Error(`internal: unknown machine ${q.from}`);
  const index = machineIndex(net);
  const portUse = portUseOf(net);
  let tried = 0;
  let skipped = 0;
  for (const plan of plans(net, q, classes)) {
    // dials come grouped by destination, then dport (sport innermost): skip what cannot differ
    let skipDst: IP | undefined;
    let skipPort: { dst: IP; dport: number } | undefined;
    for (const dial of plan.dials()) {
      if ((skipDst && sameIP(skipDst, dial.dst)) || (skipPort && sameIP(skipPort.dst, dial.dst) && skipPort.dport === dial.dport)) {
        skipped++;
        continue;
      }
      if (deadline !== undefined && Date.now() > deadline) return { verdict: "unknown", tried, skipped };
      const a = attempt(net, index, dial);
      tried++;
      if (plan.good(a)) return { verdict: "reachable", dial, attempt: a, tried, skipped };
      const free = skip ? independentOf(a, portUse) : undefined;
      if (free === "ports") skipDst = dial.dst;
      else if (free === "sport") skipPort = { dst: dial.dst, dport: dial.dport };
    }
  }
  return { verdict: "unreachable", tried, skipped };
}

/** For tests: is `ip` in the dial domain (not `::`, not IPv4-mapped)? */
export function inDialDomain(ip: IP): boolean {
  return ip.v === 4 || (ip.n !== 0n && !isMapped(ip));
}
