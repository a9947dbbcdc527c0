/**
 * Answering a query with the simulator.
 *
 * "A -> B:PORT/PROTO" asks whether a process on A can reach B's service on PORT by
 * dialing anything A could dial. The candidates are every address in the network
 * (each interface address, NAT engine addresses, A's 127.0.0.1 and ::1) times every
 * port where a translation can start (PORT itself, each port-forward host port,
 * each DNAT rule's port bounds), times the source ports that rules distinguish.
 * Any candidate whose exchange ends at B's service on PORT makes it reachable;
 * the shortest such path is shown. Otherwise every candidate failed, and the ones
 * that came closest to B explain why.
 */
import { formatIP, isAny, isLoopback, LOOPBACK4, LOOPBACK6, sameIP, unmap, type IP } from "../net/addr.js";
import type { Machine, Network, Socket } from "../ir/types.js";
import { attempt, machineIndex, meetsQuery } from "../sim/connect.js";
import { DEFAULT_SPORT, ECHO_ID, type Dial } from "../ir/dial.js";
import type { Attempt } from "../sim/types.js";
import { failureReason } from "./explain.js";
import { diagnose, type Assumption, type Cause, type Diagnosis } from "./causes.js";
import type { Query } from "../ir/query.js";

export type VerdictKind = "reachable" | "unreachable" | "unknown";

export interface Answer {
  readonly query: Query;
  readonly verdict: VerdictKind;
  /** The dial that works (reachable), or undefined. */
  readonly dial?: Dial;
  readonly attempt?: Attempt;
  /** For unreachable: the closest attempts, each ending in its own reason. */
  readonly closest: readonly Attempt[];
  /** For localhost: one answer per address it resolves to. */
  readonly perAddress?: readonly Answer[];
  /** A one-line summary a person understands. */
  readonly reason: string;
  /** How many candidate exchanges were simulated. */
  readonly tried: number;
  /** Unreachable, decided by Z3: for its cheapest candidate paths, the elements whose conditions contradict each other. */
  readonly proof?: readonly string[];
  /** Unreachable: the root causes, most fundamental first, then every blocker of the intended dial in path order. */
  readonly causes?: readonly Cause[];
  /** The dial a person would make, on which the blockers were found. */
  readonly intended?: Diagnosis["intended"];
  /** Modelling choices the answer rests on. */
  readonly assumptions?: readonly Assumption[];
  /** The dials were cut short at the deadline (--timeout): how many of them were simulated, in words. */
  readonly cut?: string;
}

/** An unreachable answer with its root causes (the reason stays the closest attempt's: the symptom the causes explain). */
function withCauses(net: Network, a: Answer): Answer {
  const d = diagnose(net, a.query, a.closest);
  return { ...a, causes: d.causes, ...(d.intended ? { intended: d.intended } : {}), assumptions: d.assumptions };
}

/** Source ports an unprivileged client can use (it may bind any of them, e.g. `nc -p`). */
const UNPRIVILEGED = { lo: 1024, hi: 65535 };

/** Every filter and NAT rule of a machine (for the port boundaries they draw). */
export const rulesOf = (m: Machine) => [
  ...m.filter.input.rules,
  ...m.filter.output.rules,
  ...m.filter.forward.rules,
  ...m.nat.prerouting,
  ...m.nat.output,
  ...m.nat.postrouting,
];

/** Calls `f` on every filter and NAT rule of a machine (rulesOf without building the list). */
function eachRule(m: Machine, f: (r: ReturnType<typeof rulesOf>[number]) => void): void {
  for (const rs of [m.filter.input.rules, m.filter.output.rules, m.filter.forward.rules, m.nat.prerouting, m.nat.output, m.nat.postrouting])
    for (const r of rs) f(r);
}

/** What a network's dial targets are built from, computed once per network (a verify asks many queries of one). */
function perNetwork<T>(): (net: Network, make: () => T) => T {
  const cache = new WeakMap<Network, T>();
  return (net, make) => {
    let v = cache.get(net);
    if (v === undefined) cache.set(net, (v = make()));
    return v;
  };
}
const sportsOf = perNetwork<readonly number[]>();

/** Source ports worth trying: the default plus every sport boundary a rule mentions (unprivileged ports). */
export function sourcePorts(net: Network): number[] {
  return [
    ...sportsOf(net, () => {
      const ports = new Set([DEFAULT_SPORT]);
      for (const m of net.machines)
        eachRule(m, (r) => {
          for (const s of [r.match.sport, r.match.not?.sport]) {
            if (!s) continue;
            for (const p of [s.lo - 1, s.lo, s.hi, s.hi + 1]) if (p >= UNPRIVILEGED.lo && p <= UNPRIVILEGED.hi) ports.add(p);
          }
        });
      return [...ports];
    }),
  ];
}

/**
 * Every address a dial can usefully target: each interface address, and each
 * fixed destination of a DNAT rule (a virtual IP that no interface holds).
 */
const addressesOfNet = perNetwork<readonly IP[]>();
function allAddresses(net: Network): readonly IP[] {
  return addressesOfNet(net, () => {
    const out: IP[] = [];
    const seen = new Set<string>();
    const add = (ip: IP) => {
      const k = ipKey(ip);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(ip);
      }
    };
    for (const m of net.machines) for (const i of m.interfaces) for (const a of i.addrs) if (i.name !== "lo") add(a.ip);
    for (const m of net.machines) {
      for (const r of [...m.nat.prerouting, ...m.nat.output]) {
        const d = r.match.dst;
        if (r.action.kind === "dnat" && d && d.len === (d.v === 4 ? 32 : 128)) add({ v: d.v, n: d.n });
      }
    }
    return out;
  });
}

const ipKey = (ip: IP) => `${ip.v}:${ip.n}`;

/** The addresses in first-seen order, each once (sameIP), in one pass. */
const uniqIPs = (xs: readonly IP[]): IP[] => {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const k = ipKey(x);
    return seen.has(k) ? false : (seen.add(k), true);
  });
};

/**
 * Dial targets that cannot lead anywhere but the machine that holds them (issue 19: a LAN of
 * 10,000 machines has 10,000 of them, and dialing each was most of a query's time): an address
 * that no DNAT rule of the network may rewrite (no rule with that destination or without one),
 * held only by machines that relay nothing (no port forward) and are no NAT engine, no loopback
 * address (each machine's own), and not one of the target's or a way into it. A packet to it is delivered to its holder or nowhere,
 * never to the target, so dialing it cannot answer the query nor come close to the target
 * (closeness 0): it is counted among the targets tried without being simulated.
 */
function inertAddresses(net: Network, keep: readonly IP[]): { readonly any: boolean; has(ip: IP): boolean } {
  const candidates = inertCandidates(net, () => {
    const dnatDsts: IP[] = [];
    let dnatAny = false;
    for (const m of net.machines)
      for (const r of [...m.nat.prerouting, ...m.nat.output]) {
        if (r.action.kind !== "dnat") continue;
        const d = r.match.dst;
        if (d && d.len === (d.v === 4 ? 32 : 128)) dnatDsts.push({ v: d.v, n: d.n });
        else dnatAny = true;
      }
    const out = new Set<string>();
    if (dnatAny) return out;
    const held = new Map<string, boolean>(); // address -> every holder relays nothing and is no engine
    for (const m of net.machines) {
      const quiet = m.engine === undefined && !m.sockets.some((s) => s.role.kind === "relay");
      for (const i of m.interfaces)
        for (const a of i.addrs) {
          const k = ipKey(a.ip);
          held.set(k, (held.get(k) ?? true) && quiet);
        }
    }
    const rewritten = new Set(dnatDsts.map(ipKey));
    for (const m of net.machines)
      for (const i of m.interfaces)
        for (const a of i.addrs) {
          const k = ipKey(a.ip);
          // loopback addresses are every machine's own: a dial to one ends at the dialer
          if (held.get(k) && !rewritten.has(k) && i.name !== "lo" && !isLoopback(unmap(a.ip))) out.add(k);
        }
    return out;
  });
  const lively = new Set(keep.map(ipKey));
  return { any: candidates.size > lively.size, has: (ip) => candidates.has(ipKey(ip)) && !lively.has(ipKey(ip)) };
}
const inertCandidates = perNetwork<ReadonlySet<string>>();

const addressesOf = (m: Machine): IP[] => m.interfaces.filter((i) => i.name !== "lo").flatMap((i) => i.addrs.map((a) => a.ip));

/**
 * Ports where a translation can start for `proto`: forward host ports, and for each
 * DNAT port range its bounds plus every boundary another rule draws inside it (so a
 * range whose ends are filtered but whose middle is open is still tried).
 */
function entryPorts(net: Network, proto: "tcp" | "udp"): number[] {
  const byProto = entryPortsOf(net, () => new Map());
  let ports = byProto.get(proto);
  if (!ports) byProto.set(proto, (ports = computeEntryPorts(net, proto)));
  return [...ports];
}
const entryPortsOf = perNetwork<Map<string, readonly number[]>>();

function computeEntryPorts(net: Network, proto: "tcp" | "udp"): number[] {
  const ports: number[] = [];
  let cutList: number[] | undefined;
  // every dport boundary of every rule: only a DNAT port range needs them, so only then are they collected
  const cuts = () => {
    if (cutList) return cutList;
    cutList = [];
    for (const m of net.machines)
      eachRule(m, (r) => {
        for (const d of [r.match.dport, r.match.origDport, r.match.not?.dport, r.match.not?.origDport])
          if (d) cutList!.push(d.lo - 1, d.lo, d.hi, d.hi + 1);
      });
    return cutList;
  };
  for (const m of net.machines) for (const s of m.sockets) if (s.role.kind === "relay" && s.proto === proto) ports.push(s.port);
  let portless = false;
  for (const m of net.machines) {
    for (const r of [...m.nat.prerouting, ...m.nat.output]) {
      const d = r.match.dport;
      if (r.action.kind !== "dnat" || (r.match.proto !== undefined && r.match.proto !== proto)) continue;
      if (!d) portless = true;
      else ports.push(d.lo, d.hi, ...(d.hi - d.lo > 1 ? cuts().filter((c) => c > d.lo && c < d.hi) : []));
    }
  }
  // A DNAT without a port match takes every port: add one that no rule or socket singles out.
  if (portless) {
    const used = (p: number) => cuts().includes(p) || ports.includes(p) || net.machines.some((m) => m.sockets.some((x) => x.port === p));
    let free = 20000;
    while (
      used(free) ||
      net.machines.some((m) => rulesOf(m).some((r) => r.match.dport && free >= r.match.dport.lo && free <= r.match.dport.hi))
    )
      free++;
    ports.push(free);
  }
  return ports;
}

const uniq = <T>(xs: readonly T[], eq: (a: T, b: T) => boolean): T[] => xs.filter((x, i) => xs.findIndex((y) => eq(x, y)) === i);

function cost(a: Attempt): number {
  return (
    a.legs.reduce((n, l) => n + l.forward.steps.filter((s) => s.kind === "transmit" || s.kind === "receive").length, 0) +
    a.legs.length * 100
  );
}

/** Tries `dials` (each with every source port) and returns the attempts; past `deadline` (Date.now() ms) it stops with `cut`. */
function run(
  net: Network,
  index: ReadonlyMap<string, Machine>,
  dials: readonly Omit<Dial, "sport">[],
  sports: readonly number[],
  good: (a: Attempt) => boolean,
  deadline?: number,
) {
  const tried: Attempt[] = [];
  const wins: { dial: Dial; attempt: Attempt }[] = [];
  let cut = false;
  for (const d of dials) {
    let first: Attempt | undefined;
    for (const sport of d.proto === "icmp" ? [ECHO_ID] : sports) {
      if (deadline !== undefined && Date.now() > deadline) {
        cut = true;
        break;
      }
      const dial = { ...d, sport };
      const a = attempt(net, index, dial);
      first ??= a;
      if (good(a)) {
        wins.push({ dial, attempt: a });
        break;
      }
    }
    if (first) tried.push(first);
    if (cut) break;
  }
  return { tried, wins, cut };
}

/** What an answer says when its dials were cut at the deadline. */
const cutText = (done: number, all: number): string => `explanation cut at --timeout (${done} of ${all} dials simulated)`;

/**
 * The ways into `target` for proto/port: its own addresses on that port, every
 * relay (port forward) to it on the addresses the relay listens on, and every DNAT
 * rule with a fixed destination that leads to it.
 */
function waysIn(net: Network, from: Machine, target: Machine, proto: Dial["proto"], port: number | undefined): Way[] {
  const own = addressesOf(target);
  const ways: Way[] = own.map((dst) => ({ dst, dport: port ?? 0, kind: "own" }));
  if (proto === "icmp" || port === undefined) return ways;
  for (const m of net.machines) {
    // a NAT engine's loopback address (10.0.x.2) stands for its host's 127.0.0.1, its IPv6 one (fec0::2) for ::1
    const onEngine = m.interfaces.some((i) => i.segment !== null && from.interfaces.some((j) => j.segment === i.segment));
    if (m.engine?.host === target.name && onEngine)
      for (const dst of [m.engine.loopbackAddress, ...(m.engine.loopbackAddress6 ? [m.engine.loopbackAddress6] : [])])
        ways.push({ dst, dport: port, kind: "gateway" });
    for (const s of m.sockets) {
      if (s.role.kind !== "relay" || s.proto !== proto || s.role.toPort !== port || !own.some((x) => sameIP(x, (s.role as { to: IP }).to)))
        continue;
      const listen = isAny(s.bind) ? [...(m === from ? [LOOPBACK4] : []), ...addressesOf(m).filter((x) => x.v === s.bind.v)] : [s.bind];
      for (const dst of listen) ways.push({ dst, dport: s.port, kind: "forward" });
    }
    for (const r of [...m.nat.prerouting, ...m.nat.output]) {
      const a = r.action;
      if (a.kind !== "dnat" || !own.some((x) => sameIP(x, a.to)) || (a.toPort ?? r.match.dport?.lo) !== port) continue;
      const d = r.match.dst;
      if (d && d.len === (d.v === 4 ? 32 : 128) && r.match.dport)
        ways.push({ dst: { v: d.v, n: d.n }, dport: r.match.dport.lo, kind: "dnat" });
    }
  }
  return ways;
}

interface Way {
  readonly dst: IP;
  readonly dport: number;
  readonly kind: "own" | "forward" | "dnat" | "gateway";
}

/** How close a failed attempt came to machine `target` (higher is closer). */
function closeness(a: Attempt, target: Machine, port: number | undefined): number {
  const targetAddrs = addressesOf(target);
  let score = 0;
  a.legs.forEach((leg, i) => {
    const d = leg.forward.disposition;
    if ("machine" in d && d.machine === target.name) score = Math.max(score, 3);
    if (leg.reply && "machine" in leg.forward.disposition && leg.forward.disposition.machine === target.name) score = Math.max(score, 4);
    if (i > 0 && targetAddrs.some((x) => sameIP(x, leg.packet.dst))) score = Math.max(score, 2);
    if (leg.forward.steps.some((s) => s.kind === "nat" && targetAddrs.some((x) => sameIP(x, s.after.dst)))) score = Math.max(score, 2);
    if (i === 0 && targetAddrs.some((x) => sameIP(x, leg.packet.dst)) && (port === undefined || leg.packet.dport === port))
      score = Math.max(score, 1);
  });
  return score;
}

/**
 * The addresses and ports a person would dial for a machine query, most familiar
 * first: loopback, the target's own addresses, every other address and DNAT
 * virtual IP; the asked port, then every port where a translation can start.
 */
export function dialTargets(net: Network, q: Query): { addrs: IP[]; ports: number[] } {
  const index = machineIndex(net);
  const from = index.get(q.from);
  const target = q.target.kind === "machine" ? index.get(q.target.machine) : undefined;
  if (!from || !target) throw new Error(`internal: dialTargets needs a machine query`);
  // A machine can dial the rest of 127/8 its own sockets are bound to: 127.0.0.53, a forward on 127.0.0.2 ...
  const loopBinds = (m: Machine) => m.sockets.filter((s) => !isAny(s.bind) && isLoopback(unmap(s.bind))).map((s) => unmap(s.bind));
  const own = target === from ? [LOOPBACK4, LOOPBACK6, ...loopBinds(target)] : [];
  const targetAddrs = [...own, ...addressesOf(target)];
  if (q.proto === "icmp") return { addrs: uniqIPs([...targetAddrs, ...allAddresses(net)]), ports: [0] };
  // 127.0.0.2 stands for the rest of 127/8 (a rule may single out 127.0.0.1)
  const addrs = uniqIPs([
    LOOPBACK4,
    LOOPBACK6,
    { v: 4, n: LOOPBACK4.n + 1n } as IP,
    ...loopBinds(from),
    ...targetAddrs,
    ...addressesOf(from),
    ...allAddresses(net),
  ]);
  return { addrs, ports: [...new Set([q.port!, ...entryPorts(net, q.proto)])] };
}

/** "A -> ADDR:P": the one dial, with every source port. */
function askAddress(net: Network, q: Query, ip: IP, deadline: number | undefined): Answer {
  const index = machineIndex(net);
  const dials = [{ from: q.from, proto: q.proto, dst: ip, dport: q.port ?? 0 }];
  const { tried, wins, cut } = run(net, index, dials, sourcePorts(net), (a) => meetsQuery(q, a), deadline);
  const win = wins[0];
  if (win)
    return {
      query: q,
      verdict: "reachable",
      dial: win.dial,
      attempt: win.attempt,
      closest: [],
      reason: reachedReason(win.attempt, index),
      tried: tried.length,
    };
  const reason = tried[0] ? failureReason(tried[0]) : "no dial was simulated before --timeout";
  const cutShort = cut ? { cut: cutText(tried.length, dials.length) } : {};
  return withCauses(net, { query: q, verdict: "unreachable", closest: tried, reason, tried: tried.length, ...cutShort });
}

/** Does an exchange answer the query: B's service on the port (ping: B's kernel), or for an address, anything that answers? */
export function ask(net: Network, q: Query, opts: { readonly skipInert?: boolean; readonly deadline?: number } = {}): Answer {
  const index = machineIndex(net);
  const from = index.get(q.from);
  if (!from) throw new Error(`internal: unchecked query machine ${q.from}`);
  const sports = sourcePorts(net);
  const t = q.target;
  if (t.kind === "localhost") {
    return localhostAnswer(
      q,
      [LOOPBACK4, LOOPBACK6].map((ip) => ask(net, { ...q, target: { kind: "address", ip } }, opts)),
    );
  }
  if (t.kind === "address") return askAddress(net, q, t.ip, opts.deadline);
  const target = index.get(t.machine);
  if (!target) throw new Error(`internal: unchecked query machine ${t.machine}`);
  const { addrs, ports } = dialTargets(net, q);
  // Explain by the ways into the target: its own addresses, forwards and DNATs leading to it.
  const ways = waysIn(net, from, target, q.proto, q.port);
  const inert = opts.skipInert === false ? undefined : inertAddresses(net, [...addressesOf(target), ...ways.map((w) => w.dst)]);
  const dialsTo = (as: readonly IP[]): Omit<Dial, "sport">[] =>
    ports.flatMap((dport) => as.map((dst) => ({ from: q.from, proto: q.proto, dst, dport })));
  const dials = dialsTo(inert?.any ? addrs.filter((a) => !inert.has(a)) : addrs);
  const { tried: live, wins, cut } = run(net, index, dials, sports, (a) => meetsQuery(q, a), opts.deadline);
  const triedCount = addrs.length * ports.length;
  if (wins.length) {
    const best = wins.reduce((b, w) => (cost(w.attempt) < cost(b.attempt) ? w : b));
    return {
      query: q,
      verdict: "reachable",
      dial: best.dial,
      attempt: best.attempt,
      closest: [],
      reason: reachedReason(best.attempt, index),
      tried: triedCount,
      ...(cut ? { cut: cutText(live.length, dials.length) } : {}),
    };
  }
  const wayOf = (a: Attempt) => ways.find((w) => sameIP(w.dst, a.legs[0]!.packet.dst) && w.dport === a.legs[0]!.packet.dport);
  let viaWays = live.filter((a) => wayOf(a) !== undefined);
  let simulated = live;
  let cutShort = cut ? { cut: cutText(live.length, dials.length) } : {};
  if (!viaWays.length && inert?.any && !cut) {
    // no way into the target was dialed (it has no address of its own): the closest attempts come
    // from every dial, and one to an inert address may still fail on the target (a router on its path)
    const all = run(net, index, dialsTo(addrs), sports, (a) => meetsQuery(q, a), opts.deadline);
    simulated = all.tried;
    if (all.cut) cutShort = { cut: cutText(all.tried.length, triedCount) };
    viaWays = simulated.filter((a) => wayOf(a) !== undefined);
  }
  const pool = viaWays.length ? viaWays : simulated.filter((a) => closeness(a, target, q.port) > 0);
  // Rank: reached the target > went through a configured way in (forward, DNAT, NAT gateway) > its own address;
  // an exchange that worked but ended elsewhere explains least.
  const rank = (a: Attempt) => (a.ok ? -1 : Math.max(closeness(a, target, q.port), (wayOf(a)?.kind ?? "own") !== "own" ? 2 : 0));
  const ranked = [...pool].sort((x, y) => rank(y) - rank(x));
  // one attempt per distinct way of failing
  const closest = uniq(ranked, (x, y) => failureReason(x, false) === failureReason(y, false)).slice(0, 5);
  const services = target.sockets.filter((s) => s.role.kind === "service" && s.proto === q.proto && s.port === q.port);
  const relayHere = target.sockets.find((s) => s.role.kind === "relay" && s.proto === q.proto && s.port === q.port);
  const noService =
    q.proto === "icmp" || services.length > 0
      ? undefined
      : relayHere && relayHere.role.kind === "relay"
        ? `${q.proto}/${q.port} on ${target.name} is ${relayHere.owner}, which relays to ${formatIP(relayHere.role.to)}:${relayHere.role.toPort}, not a service of ${target.name}: ask for the guest's service`
        : `nothing on ${target.name} listens on ${q.proto}/${q.port}`;
  const reason =
    noService ?? (closest[0] ? failureReason(closest[0]) : `no address or forward that ${q.from} can dial leads to ${target.name}`);
  return withCauses(net, { query: q, verdict: "unreachable", closest, reason, tried: triedCount, ...cutShort });
}

/** "A -> localhost:P": one answer per address localhost resolves to, reachable when either is. */
export function localhostAnswer(q: Query, perAddress: readonly Answer[]): Answer {
  const ok = perAddress.filter((a) => a.verdict === "reachable");
  const reason =
    perAddress.map((a) => `${a.query.target.kind === "address" ? formatIP(a.query.target.ip) : ""}: ${a.verdict}`).join(", ") +
    (ok.length === 1 ? " (a client that tries the other address first falls back, or fails if it does not)" : "");
  const best = ok[0];
  return {
    query: q,
    verdict: ok.length ? "reachable" : perAddress.some((a) => a.verdict === "unknown") ? "unknown" : "unreachable",
    ...(best?.dial ? { dial: best.dial } : {}),
    ...(best?.attempt ? { attempt: best.attempt } : {}),
    closest: ok.length ? [] : perAddress.flatMap((a) => a.closest),
    ...(ok.length
      ? {}
      : { causes: perAddress.flatMap((a) => a.causes ?? []), assumptions: perAddress.flatMap((a) => a.assumptions ?? []) }),
    perAddress,
    reason,
    tried: perAddress.reduce((n, a) => n + a.tried, 0),
    ...(perAddress.some((a) => a.cut) ? { cut: perAddress.find((a) => a.cut)!.cut! } : {}),
  };
}

export function socketLabel(s: Socket): string {
  const bind = s.bind.v === 6 ? `[${formatIP(s.bind)}]` : formatIP(s.bind);
  return `${s.owner} (${bind}:${s.port}${s.v6only ? " v6only" : ""}${s.device ? ` on ${s.device}` : ""})`;
}

export function reachedReason(a: Attempt, index: ReadonlyMap<string, Machine>): string {
  if (a.outcome.kind !== "ok") return "";
  const m = index.get(a.outcome.machine);
  const s = a.outcome.socket;
  return s ? `delivered to ${socketLabel(s)} on ${m?.name} and the reply came back` : `${m?.name} answered and the reply came back`;
}
