/**
 * Asking the kernel: a query becomes real connects from the source machine's
 * namespace, and each one is compared with the simulator on exactly that dial.
 *
 * Which dials. For "A -> B:P/proto": the witness Z3 found (when reachable), and
 * every address and entry port a person would dial (ask.ts dialTargets), each
 * from the source ports that rules single out (sourcePorts). For an address or
 * localhost query: that address from the same source ports. A destination that
 * no namespace of this run holds is never dialed (it is listed as skipped).
 *
 * Source ports. Two client sockets cannot bind the same port at once, so each
 * dial gets its own port from the same class as the one intended: the classes
 * are cut only where some rule's sport range starts or ends, so every port of a
 * class meets the same rules. The simulator is run on the dial as sent.
 *
 * Verdicts. A dial is answered only when the listener's banner comes back; the
 * banner names the machine and socket that answered. The kernel's verdict on the
 * query is reachable when some dial was answered by what the query asks for (B's
 * service on P; for ICMP an echo reply from an address of B, or through a
 * translation the simulator also ends at B). A dial the simulator says works but
 * the kernel did not answer in time is tried once more with a long timeout
 * before it counts: a slow machine must not look like a drop.
 *
 * Order. The simulator starts every dial on a fresh network; where the kernel or libslirp keeps
 * state one dial leaves for the next, the dials are sent so that none meets another's: UDP dials
 * from a host's loopback (or re-sent from it by a NAT engine) through a libslirp forward go first
 * (needsFreshSlirp), dials that loop through a NAT engine go last (loopsThroughEngine), and where
 * IPv6 neighbour discovery may be filtered, dials go in batches that lend each other no neighbour
 * entry.
 */
import { formatEndpoint, formatIP, isAny, isLoopback, LOOPBACK4, LOOPBACK6, prefixOf, sameIP, unmap, type IP } from "../net/addr.js";
import type { Machine, Network, Socket } from "../ir/types.js";
import { dialTargets, rulesOf, sourcePorts, socketLabel, type VerdictKind } from "../query/dials.js";
import { answerQuery, Disagreement, type Decided } from "../query/engine.js";
import type { Query } from "../ir/query.js";
import { attempt, machineIndex } from "../sim/connect.js";
import { ECHO_ID, type Dial } from "../ir/dial.js";
import type { Attempt } from "../sim/types.js";
import { dialSymptom } from "../query/causes.js";
import type { Symptom } from "../query/symptom.js";
import { resolveNeighbour } from "../sim/elements.js";
import { flushNeighbours6, probeFrom, type AgentProbe, type AgentResult, type Emulation, type KernelSymptom } from "./build.js";
import { assignedAddresses, neighbourDiscoveryFiltered, ttlSlot, vhostOf } from "./plan.js";

export const DEFAULT_PROBE_TIMEOUT_MS = 300;
const RETRY_TIMEOUT_MS = 3000;
/** The second look at a dial whose path fails at a neighbour lookup, which the kernel gives up after about 3 s. */
const NEIGHBOUR_TIMEOUT_MS = 6000;
/** Connections in flight at once per port forward (libslirp accepts them one per loop turn, from a backlog of 1). */
const RELAY_LANE = 2;

export interface DialProbe {
  /** the dial as sent (its source port is the one bound) */
  readonly dial: Dial;
  /** the simulator on exactly this dial */
  readonly sim: Attempt;
  readonly kernel: AgentResult;
  /** who answered, from the banner */
  readonly answeredBy?: { readonly machine: string; readonly socket: Socket };
  /** ICMP: the machine whose initial TTL the echo reply carried */
  readonly echoFrom?: string;
  /** the simulator and the kernel agree on this dial: both failed, or both reached the same socket */
  readonly agree: boolean;
  /** this dial is (the class of) Z3's witness */
  readonly witness: boolean;
  /** answered only when tried again with a long timeout */
  readonly retried: boolean;
  /** both failed: what reach says the client sees, what the kernel's client saw, and whether that is one class */
  readonly symptom?: { readonly reach: Symptom; readonly kernel: KernelSymptom; readonly agree: boolean };
}

/** Symptoms reach states that the client meets at once, without a timeout: a timed-out probe of one is tried again with a long bound. */
const PROMPT: ReadonlySet<Symptom> = new Set<Symptom>([
  "refused",
  "host-unreachable",
  "net-unreachable",
  "permission-denied",
  "icmp-error",
  "accepted-then-eof",
  "reset",
]);

/**
 * Whether the kernel's client saw what reach says. "no-route" stands for either unreachable errno,
 * a ping's ICMP error, or a timeout (ICMP may be filtered); a connection whose data gets no answer looks, to a client that
 * only reads, like a relay that hangs; "other-peer" is judged by the verdict, not here.
 */
export function sameSymptom(reach: Symptom, kernel: KernelSymptom): boolean {
  switch (reach) {
    case "no-route":
      return kernel === "host-unreachable" || kernel === "net-unreachable" || kernel === "timeout" || kernel === "icmp-error";
    case "connected-then-hang":
      return kernel === "accepted-then-hang";
    case "other-peer":
      return true;
    default:
      return reach === kernel;
  }
}

export interface QueryProbe {
  readonly query: Query;
  /** reach's verdict (Z3 and the exhaustive simulator, which must agree) */
  readonly reach: VerdictKind;
  readonly reachDial?: Dial;
  /** the engines disagreed with each other before the kernel was asked */
  readonly engineError?: string;
  readonly kernel: "reachable" | "unreachable" | "not emulated";
  /** the dial that made the kernel's verdict reachable */
  readonly kernelDial?: DialProbe;
  readonly dials: readonly DialProbe[];
  readonly skipped: readonly { readonly dial: Dial; readonly why: string }[];
  readonly notEmulated?: string;
  /** reach and the kernel agree on the verdict and on every dial */
  readonly agree: boolean;
  readonly ms: number;
}

/** Source ports already used, per emulation: no 4-tuple is ever repeated within one. */
const portsOf = new WeakMap<Emulation, Ports>();

export interface ProbeOptions {
  readonly timeoutMs?: number;
  /** Z3's time limit per query */
  readonly solverTimeoutMs?: number;
}

/** Source-port classes cut only at rule boundaries: every port of a class meets the same rules. */
function sportCuts(net: Network): number[] {
  const cuts = new Set([1024, 65536]);
  for (const m of net.machines) {
    for (const r of rulesOf(m)) {
      if (r.match.sport) cuts.add(r.match.sport.lo).add(r.match.sport.hi + 1);
    }
  }
  return [...cuts].filter((c) => c >= 1024 && c <= 65536).sort((a, b) => a - b);
}

/** Hands out source ports, one per (machine, protocol, port) at a time, within the class of the port asked for. */
class Ports {
  private readonly used = new Map<string, Set<number>>();
  private readonly cuts: number[];
  private readonly avoid: Set<number>;

  constructor(net: Network) {
    this.cuts = sportCuts(net);
    // a client port equal to a listening port would fail to bind, or be the listener's own
    this.avoid = new Set<number>();
    for (const m of net.machines) {
      for (const s of m.sockets) this.avoid.add(s.port);
      for (const r of [...m.nat.prerouting, ...m.nat.output])
        if (r.action.kind === "dnat" && r.action.toPort !== undefined) this.avoid.add(r.action.toPort);
    }
  }

  /**
   * A port of `want`'s class never used before on (machine, proto) in this emulation: `want` itself when
   * fresh, else the next fresh one from 20000 up. Never reusing a port keeps every connection's 4-tuple new:
   * a guest still holding TIME_WAIT for an earlier one would ignore libslirp's SYN (its ISN is not newer).
   * Only a class with no fresh port left reuses ports that are not in flight.
   */
  take(machine: string, proto: string, want: number): number | undefined {
    const key = `${machine}/${proto}`;
    let used = this.used.get(key);
    if (!used) this.used.set(key, (used = new Set()));
    const free = (p: number) => !used!.has(p) && !this.avoid.has(p);
    let lo = 1024;
    let hi = 65535;
    for (const c of this.cuts) {
      if (c <= want) lo = c;
      else {
        hi = c - 1;
        break;
      }
    }
    let pick: number | undefined = free(want) ? want : undefined;
    const start = Math.max(lo, Math.min(hi, 20000));
    for (let p = start; pick === undefined && p <= hi; p++) if (free(p)) pick = p;
    for (let p = start - 1; pick === undefined && p >= lo; p--) if (free(p)) pick = p;
    if (pick !== undefined) used.add(pick);
    return pick;
  }

  release(machine: string, proto: string, port: number): void {
    this.done.add(`${machine}/${proto}/${port}`);
  }

  /** Ports that are done may be reused once a class has no fresh port left. */
  private readonly done = new Set<string>();

  reuse(machine: string, proto: string, want: number): number | undefined {
    const used = this.used.get(`${machine}/${proto}`);
    for (const p of used ?? []) {
      if (this.done.has(`${machine}/${proto}/${p}`) && this.sameClass(p, want)) {
        this.done.delete(`${machine}/${proto}/${p}`);
        return p;
      }
    }
    return undefined;
  }

  private sameClass(a: number, b: number): boolean {
    return this.cuts.every((c) => a < c === b < c);
  }
}

/** Where a dial may go: an address some namespace of this run holds, the source's own loopback, or a NAT engine's own (slirp's) address. */
function insideEmulation(net: Network): (ip: IP) => string | undefined {
  const assigned = assignedAddresses(net);
  const engines = net.machines.filter((m) => m.kind === "nat-engine");
  return (ip0) => {
    const ip = unmap(ip0);
    if (isAny(ip) || (ip.v === 4 && isLoopback(ip)) || (ip.v === 6 && ip.n === 1n)) return undefined;
    for (const e of engines) {
      for (const i of e.interfaces) {
        for (const a of i.addrs) {
          if (!sameIP(a.ip, ip)) continue;
          const vhost = vhostOf(prefixOf(a.ip, a.len));
          return sameIP(vhost, ip)
            ? undefined
            : `${formatIP(ip)} is ${e.name}'s DNS or gateway address, which libslirp does not answer for`;
        }
      }
    }
    if (assigned.some((a) => sameIP(a, ip))) return undefined;
    return `${formatIP(ip)} is outside the emulated network: nothing is sent there`;
  };
}

/** The dials for a query: Z3's witness first, then the usual candidates. */
function candidateDials(net: Network, q: Query, witness: Dial | undefined): { dial: Dial; witness: boolean }[] {
  const out: { dial: Dial; witness: boolean }[] = [];
  const sports = q.proto === "icmp" ? [ECHO_ID] : sourcePorts(net);
  const add = (d: Dial, w = false) => {
    if (!out.some((x) => sameIP(x.dial.dst, d.dst) && x.dial.dport === d.dport && x.dial.sport === d.sport && x.dial.proto === d.proto))
      out.push({ dial: d, witness: w });
  };
  if (witness) add(witness, true);
  const t = q.target;
  const dsts: IP[] = t.kind === "localhost" ? [LOOPBACK4, LOOPBACK6] : t.kind === "address" ? [t.ip] : [];
  let ports: number[] = [q.port ?? 0];
  if (t.kind === "machine") {
    const d = dialTargets(net, q);
    dsts.push(...d.addrs);
    ports = d.ports;
  }
  for (const dst of dsts)
    for (const dport of ports)
      for (const sport of sports) add({ from: q.from, proto: q.proto, dst, dport: q.proto === "icmp" ? 0 : dport, sport });
  return out;
}

/** The probes of many queries at once (each query's dials concurrently, source ports never shared). */
export async function probeQueries(emu: Emulation, queries: readonly Query[], opts: ProbeOptions = {}): Promise<QueryProbe[]> {
  const net = emu.net;
  const index = machineIndex(net);
  const decided = await decideQueries(net, queries, opts.solverTimeoutMs ?? 30_000);
  let ports = portsOf.get(emu);
  if (!ports) portsOf.set(emu, (ports = new Ports(net)));
  const plan = planDials(net, index, decided, ports);
  const sending: Sending = {
    emu,
    ndIsolated: neighbourDiscoveryFiltered(net),
    index,
    timeoutMs: opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    results: new Map(),
    simOf: new Map(),
  };
  // each phase sent and retried before the next: a later phase cannot leave libslirp state an earlier one meets
  for (const phase of phases(net, index, plan)) {
    // the phase's keys before sending: sendRounds empties `waiting` as it sends them
    const keys = new Set([...phase.planned, ...phase.waiting].map((p) => p.key));
    await sendRounds(sending, phase, ports);
    await retryUnanswered(sending, ports, keys);
  }
  const emulatedIndex = new Map(emu.plan.machines.map((m) => [String(m.index), net.machines.find((x) => x.name === m.name)!] as const));
  return decided.map((dq, qi) => compareQuery(dq, qi, plan, sending, emulatedIndex));
}

/** Reach's verdict on one query (Z3 and the simulator), or the engines' disagreement. */
interface DecidedQuery {
  readonly q: Query;
  readonly started: number;
  readonly d?: Decided;
  readonly error?: string;
}

/** A dial planned for sending: `qi` is its query, `key` names it to the agent. */
interface Planned {
  readonly qi: number;
  readonly dial: Dial;
  readonly witness: boolean;
  readonly key: string;
}

/** Stage 2's output: dials ready to send, dials waiting for a source port, and what is not sent, per query. */
interface DialPlan {
  readonly planned: Planned[];
  readonly waiting: Planned[];
  readonly skipped: { dial: Dial; why: string }[][];
  readonly notEmulated: (string | undefined)[];
}

/** A dial's kernel result; `retried` when it is the long-timeout one. */
interface Sent {
  readonly p: Planned;
  readonly r: AgentResult;
  readonly retried: boolean;
}

/** Stages 3 and 4's state: every dial's kernel result and the simulator on the dial as sent, by key. */
interface Sending {
  readonly emu: Emulation;
  /** some chain may drop IPv6 neighbour discovery: dials are sent in batches that cannot lend each other neighbour entries */
  readonly ndIsolated: boolean;
  readonly index: ReadonlyMap<string, Machine>;
  readonly timeoutMs: number;
  readonly results: Map<string, Sent>;
  readonly simOf: Map<string, Attempt>;
}

/** 1. reach's verdicts, one query after another. */
async function decideQueries(net: Network, queries: readonly Query[], solverTimeoutMs: number): Promise<DecidedQuery[]> {
  const decided: DecidedQuery[] = [];
  for (const q of queries) {
    const started = performance.now();
    try {
      decided.push({ q, started, d: await answerQuery(net, q, { engine: "both", timeoutMs: solverTimeoutMs }) });
    } catch (e) {
      if (!(e instanceof Disagreement)) throw e;
      decided.push({ q, started, error: e.message });
    }
  }
  return decided;
}

/** 2. the dials of every query, with their source ports. */
function planDials(net: Network, index: ReadonlyMap<string, Machine>, decided: readonly DecidedQuery[], ports: Ports): DialPlan {
  const inside = insideEmulation(net);
  const plan: DialPlan = {
    planned: [],
    waiting: [],
    skipped: decided.map(() => []),
    notEmulated: decided.map(() => undefined),
  };
  decided.forEach(({ q, d }, qi) => {
    const from = index.get(q.from)!;
    if (from.kind === "nat-engine") {
      plan.notEmulated[qi] = `${q.from} is a NAT engine (libslirp inside its host), not a machine that dials`;
      return;
    }
    for (const { dial, witness } of candidateDials(net, q, d?.answer.verdict === "reachable" ? d.answer.dial : undefined)) {
      const why = inside(dial.dst);
      if (why) {
        plan.skipped[qi]!.push({ dial, why });
        continue;
      }
      const p: Planned = { qi, dial, witness, key: `${qi}:${plan.planned.length + plan.waiting.length}` };
      if (dial.proto === "icmp") plan.planned.push(p);
      else {
        const sport = ports.take(q.from, dial.proto, dial.sport);
        if (sport === undefined) plan.waiting.push(p);
        else plan.planned.push({ ...p, dial: { ...dial, sport } });
      }
    }
  });
  return plan;
}

/**
 * UDP dials from a host's loopback where that host has a libslirp UDP port forward. libslirp keeps
 * one piece of state per UDP forward socket: the destination of the guest's last datagram out of
 * it (src/udp.c, udp_input sets so_faddr from every one). A datagram reaching the forward from
 * 127.0.0.1 gets that address as its source only while it lies in the virtual network
 * (src/socket.c, sotranslate_in): a fresh forward holds 10.0.2.2, but once the guest has answered
 * a LAN client through it, a host-loopback client reaches the guest from 127.0.0.1, a martian the
 * guest drops (measured: test/regressions/kernel-slirp-udp-session.test.ts). The model decides
 * each dial on a fresh engine, and a loopback client's own exchange leaves the fresh state behind
 * (the guest answers 10.0.2.2), so these dials go first, before any other dial of the run.
 */
function needsFreshSlirp(net: Network): (d: Dial, sim: () => Attempt) => boolean {
  const hosts = new Set(
    net.machines
      .filter((m) => m.sockets.some((s) => s.proto === "udp" && s.role.kind === "relay" && s.role.gateway !== undefined))
      .map((m) => m.name),
  );
  // a guest dialing its engine's host alias (10.0.x.2) reaches a forward of the same host from loopback too:
  // the engine re-sends it from 127.0.0.1 (seed 32000060), which the simulator's legs show
  const viaLoopback = (sim: () => Attempt): boolean =>
    sim().legs.some((leg) => {
      const at = leg.forward.disposition;
      return (
        leg.packet.proto === "udp" &&
        leg.packet.src.v === 4 &&
        isLoopback(leg.packet.src) &&
        at.kind === "delivered" &&
        at.socket?.role.kind === "relay" &&
        at.socket.role.gateway !== undefined
      );
    });
  return (d, sim) =>
    d.proto === "udp" && d.dst.v === 4 && ((isLoopback(d.dst) && hosts.has(d.from)) || (hosts.size > 0 && viaLoopback(sim)));
}

/**
 * A dial whose exchange comes back to a NAT engine it already went through (the engine's host
 * routes the re-sent connection back into the engine, through a guest that is the host's gateway):
 * the model stops where a reply cannot get back, but libslirp makes the host's connection before it
 * answers, so the kernel's engine goes round again and again, and is too busy to serve the dials sent
 * after it for a while (seed 32000074: every TCP dial of the guest to its host alias timed out).
 */
function loopsThroughEngine(net: Network): (sim: () => Attempt) => boolean {
  if (!net.machines.some((m) => m.engine)) return () => false;
  return (sim) => {
    const engines = sim()
      .legs.map((leg) => leg.forward.disposition)
      .flatMap((x) => (x.kind === "engine-relay" ? [x.machine] : []));
    return new Set(engines).size < engines.length;
  };
}

/**
 * The plan in phases sent one after the other: dials that need a fresh libslirp UDP forward
 * (needsFreshSlirp), then the rest, then those that loop through a NAT engine (loopsThroughEngine).
 */
function phases(net: Network, index: ReturnType<typeof machineIndex>, plan: DialPlan): DialPlan[] {
  const fresh = needsFreshSlirp(net);
  const loops = loopsThroughEngine(net);
  const phaseOf = new Map<string, number>();
  for (const p of [...plan.planned, ...plan.waiting]) {
    // the simulator's exchange, made at most once for both questions
    let a: Attempt | undefined;
    const sim = () => (a ??= attempt(net, index, p.dial));
    phaseOf.set(p.key, fresh(p.dial, sim) ? 0 : loops(sim) ? 2 : 1);
  }
  const part = (k: number): DialPlan => ({
    ...plan,
    planned: plan.planned.filter((p) => phaseOf.get(p.key) === k),
    waiting: plan.waiting.filter((p) => phaseOf.get(p.key) === k),
  });
  return [part(0), part(1), part(2)];
}

/** The port forward (relay socket) the simulator expects a dial to reach, as a lane name. */
function relayOf(a: Attempt): string | undefined {
  for (const leg of a.legs) {
    const d = leg.forward.disposition;
    if (d.kind === "delivered" && d.socket?.role.kind === "relay") return `${d.machine}/${d.socket.proto}/${d.socket.port}`;
  }
  return undefined;
}

/** Every machine's dials of `batch` at once, each machine's through its agent; results recorded by key. */
async function sendNow(s: Sending, batch: readonly Planned[], tmo: number): Promise<void> {
  const byFrom = new Map<string, Planned[]>();
  for (const p of batch) byFrom.set(p.dial.from, [...(byFrom.get(p.dial.from) ?? []), p]);
  await Promise.all(
    [...byFrom].map(async ([from, ps]) => {
      const probes: AgentProbe[] = ps.map((p) => ({
        key: p.key,
        proto: p.dial.proto,
        dst: formatIP(p.dial.dst),
        dport: p.dial.dport,
        sport: p.dial.sport,
        timeoutMs: tmo,
      }));
      const rs = await probeFrom(s.emu, from, probes);
      for (const r of rs) {
        const p = ps.find((x) => x.key === r.key)!;
        s.results.set(r.key, { p, r, retried: tmo !== s.timeoutMs });
      }
    }),
  );
}

/**
 * Sends `batch`. Where some chain may drop IPv6 neighbour discovery, the kernel's neighbour
 * entries outlive a dial while the simulator starts each exchange with none: one dial's answered
 * solicitation would let another through that the model (and a fresh kernel) stops. So the
 * dials whose exchange fails at a filtered discovery go first, in batches where none makes an
 * entry (machine and interface) another fails at, then all the rest; the IPv6 neighbour tables
 * are emptied before each batch.
 */
async function send(s: Sending, batch: readonly Planned[], tmo: number, lane = RELAY_LANE): Promise<void> {
  for (const p of batch) s.simOf.set(p.key, attempt(s.emu.net, s.index, p.dial));
  if (!s.ndIsolated) return sendLanes(s, batch, tmo, lane);
  for (const group of ndBatches(s, batch)) {
    if (!group.length) continue;
    await flushNeighbours6(s.emu);
    await sendLanes(s, group, tmo, lane);
  }
}

/** A dial's neighbour footprint: the entries ("machine|iface") its exchange makes, and the one whose discovery it fails at. */
function ndFootprint(net: Network, a: Attempt): { makes: Set<string>; fails?: string } {
  const makes = new Set<string>();
  let fails: string | undefined;
  for (const leg of a.legs) {
    for (const t of [leg.forward, leg.reply, leg.ack, leg.data, leg.errorBack]) {
      if (!t) continue;
      for (const st of t.steps)
        if (st.kind === "transmit" && st.nextHop.v === 6) makes.add(`${st.machine}|${st.iface}`).add(`${st.to}|${st.toIface}`);
      const d = t.disposition;
      if (d.kind !== "no-neighbour" || !d.filtered || d.segment === null) continue;
      fails = `${d.machine}|${d.iface}`;
      // the solicitation got in: the neighbour made an entry for its source
      const nb = d.filtered.what === "advertisement" ? resolveNeighbour(net, d.segment, d.nextHop, d.machine) : undefined;
      if (nb) makes.add(`${nb.machine.name}|${nb.iface.name}`);
    }
  }
  return { makes, ...(fails ? { fails } : {}) };
}

/** The batches `send` sends one after another: the failing dials packed greedily, then the rest. */
function ndBatches(s: Sending, batch: readonly Planned[]): Planned[][] {
  const groups: { dials: Planned[]; makes: Set<string>; fails: Set<string> }[] = [];
  const rest: Planned[] = [];
  for (const p of batch) {
    const f = ndFootprint(s.emu.net, s.simOf.get(p.key)!);
    if (!f.fails) {
      rest.push(p);
      continue;
    }
    const fails = f.fails;
    const fits = (g: (typeof groups)[number]) => !g.makes.has(fails) && ![...f.makes].some((k) => g.fails.has(k));
    let g = groups.find(fits);
    if (!g) groups.push((g = { dials: [], makes: new Set(), fails: new Set() }));
    g.dials.push(p);
    g.fails.add(fails);
    for (const k of f.makes) g.makes.add(k);
  }
  return [...groups.map((g) => g.dials), rest];
}

/**
 * Sends `batch`: connections the simulator expects at a port forward (a relay socket: libslirp's
 * hostfwd, which listens with a backlog of 1) go `lane` at a time per forward, the rest all at once.
 */
async function sendLanes(s: Sending, batch: readonly Planned[], tmo: number, lane: number): Promise<void> {
  const lanes = new Map<string, Planned[]>();
  const free: Planned[] = [];
  for (const p of batch) {
    const a = s.simOf.get(p.key)!;
    const relay = relayOf(a);
    if (relay) lanes.set(relay, [...(lanes.get(relay) ?? []), p]);
    else free.push(p);
  }
  await Promise.all([
    sendNow(s, free, tmo),
    ...[...lanes.values()].map(async (ps) => {
      for (let i = 0; i < ps.length; i += lane) await sendNow(s, ps.slice(i, i + lane), tmo);
    }),
  ]);
}

/** 3. send in rounds: dials that found no free port wait for ports the previous round released. */
async function sendRounds(
  s: Sending,
  plan: Pick<DialPlan, "planned" | "waiting" | "skipped">,
  ports: Ports,
  tmo = s.timeoutMs,
  lane = RELAY_LANE,
): Promise<void> {
  const waiting = plan.waiting;
  let round = plan.planned;
  while (round.length) {
    await send(s, round, tmo, lane);
    for (const p of round) if (p.dial.proto !== "icmp") ports.release(p.dial.from, p.dial.proto, p.dial.sport);
    const next: Planned[] = [];
    for (const p of waiting.splice(0)) {
      const sport = ports.reuse(p.dial.from, p.dial.proto, p.dial.sport);
      if (sport === undefined) waiting.push(p);
      else next.push({ ...p, dial: { ...p.dial, sport } });
    }
    round = next;
  }
  for (const p of waiting) plan.skipped[p.qi]!.push({ dial: p.dial, why: "no unused source port is left in its class" });
}

/** Symptoms of a connection that opens at once (the handshake completes, then nothing): a connect that timed out is tried again. */
const OPENS: ReadonlySet<Symptom> = new Set<Symptom>(["connected-then-hang", "accepted-then-hang"]);

/**
 * 4. retry, with a long timeout, what the simulator says works and the kernel did not answer (of the dials named by `keys`),
 * what reach says fails at once and timed out, and what reach says connects and did not connect in time (a loaded machine).
 */
async function retryUnanswered(s: Sending, ports: Ports, keys: ReadonlySet<string>): Promise<void> {
  const prompt = (p: Planned, r: AgentResult) => {
    const reach = dialSymptom(s.emu.net, s.simOf.get(p.key)!) ?? "timeout";
    return (
      ((r.symptom === "timeout" || r.symptom === "accepted-then-hang") && PROMPT.has(reach)) ||
      (r.symptom === "timeout" && !r.connected && OPENS.has(reach))
    );
  };
  const retry = [...s.results.values()]
    .filter(({ p }) => keys.has(p.key))
    .filter(({ p, r }) => (s.simOf.get(p.key)!.ok && r.outcome !== "answered") || r.outcome === "error" || prompt(p, r))
    .map(({ p }) => p);
  if (!retry.length) return;
  const again: Planned[] = [];
  // a dial whose source port class has no port free now (a class of one port: a rule on `sport: 40000`)
  // waits for the round before it to release one, as in sendRounds
  const waiting: Planned[] = [];
  for (const p of retry) {
    if (p.dial.proto === "icmp") {
      again.push(p);
      continue;
    }
    const sport = ports.take(p.dial.from, p.dial.proto, p.dial.sport) ?? ports.reuse(p.dial.from, p.dial.proto, p.dial.sport);
    if (sport !== undefined) again.push({ ...p, dial: { ...p.dial, sport } });
    else waiting.push(p);
  }
  // (what is still left then keeps its first result)
  const skipped = Array.from({ length: Math.max(0, ...retry.map((p) => p.qi + 1)) }, () => [] as { dial: Dial; why: string }[]);
  // a failed neighbour lookup is heard only when the kernel gives it up (3 solicitations a second apart):
  // a relay that closes on it closes after that (seed 20261125, an IPv6 solicitation a router drops)
  const slow = (p: Planned) => {
    const o = s.simOf.get(p.key)!.outcome;
    return o.kind === "failed" && o.disposition.kind === "no-neighbour";
  };
  for (const late of [false, true])
    await sendRounds(
      s,
      { planned: again.filter((p) => slow(p) === late), waiting: waiting.filter((p) => slow(p) === late), skipped },
      ports,
      late ? NEIGHBOUR_TIMEOUT_MS : RETRY_TIMEOUT_MS,
      1,
    );
}

/**
 * 5a. one dial, the simulator against the kernel: a DialProbe, or why the dial does not count
 * (the simulator ends at a NAT engine's own service, or the probe itself failed).
 */
function compareDial(
  { p, r, retried }: Sent,
  sim: Attempt,
  net: Network,
  index: ReadonlyMap<string, Machine>,
  emulatedIndex: ReadonlyMap<string, Machine>,
): DialProbe | { readonly skip: string } {
  const answeredBy = r.outcome === "answered" && p.dial.proto !== "icmp" ? bannerOwner(r.banner ?? "", emulatedIndex) : undefined;
  const echoFrom = r.outcome === "answered" && p.dial.proto === "icmp" ? echoResponder(r.banner ?? "", emulatedIndex) : undefined;
  if (sim.ok && sim.outcome.kind === "ok" && index.get(sim.outcome.machine)?.kind === "nat-engine")
    return { skip: `the simulator ends at ${sim.outcome.machine}'s own service (the NAT engine's DNS proxy is not emulated)` };
  if (r.outcome === "error") return { skip: `the probe itself failed (${r.code ?? "?"}), not the network` };
  const simOk = sim.ok && sim.outcome.kind === "ok";
  const kernelOk = r.outcome === "answered";
  const seen = !simOk && !kernelOk ? dialSymptom(net, sim) : undefined;
  const sameEnd =
    !simOk ||
    !kernelOk ||
    (sim.outcome.kind === "ok" &&
      (p.dial.proto === "icmp"
        ? echoFrom === undefined || echoFrom === sim.outcome.machine
        : answeredBy !== undefined && answeredBy.machine === sim.outcome.machine && answeredBy.socket === sim.outcome.socket));
  return {
    dial: p.dial,
    sim,
    kernel: r,
    ...(answeredBy ? { answeredBy } : {}),
    ...(echoFrom ? { echoFrom } : {}),
    agree: simOk === kernelOk && sameEnd,
    witness: p.witness,
    retried,
    ...(seen ? { symptom: { reach: seen, kernel: r.symptom, agree: sameSymptom(seen, r.symptom) } } : {}),
  };
}

/** 5b. whether a dial's answer is what the query asks for: B's service on P, or for ICMP an echo reply from B. */
function meetsTarget(q: Query, target: Machine | undefined, dp: DialProbe): boolean {
  if (dp.kernel.outcome !== "answered") return false;
  if (!target) return true;
  // an echo reply is credited by its TTL; past the TTL slots, by the simulator's path
  if (q.proto === "icmp") return (dp.echoFrom ?? (dp.sim.outcome.kind === "ok" ? dp.sim.outcome.machine : undefined)) === target.name;
  return (
    dp.answeredBy?.machine === target.name &&
    dp.answeredBy.socket.role.kind === "service" &&
    dp.answeredBy.socket.port === q.port &&
    dp.answeredBy.socket.proto === q.proto
  );
}

/** 5. compare: query `qi`'s dials, its kernel verdict, and whether reach and the kernel agree. */
function compareQuery(
  { q, d, error, started }: DecidedQuery,
  qi: number,
  plan: DialPlan,
  s: Sending,
  emulatedIndex: ReadonlyMap<string, Machine>,
): QueryProbe {
  const skipped = plan.skipped[qi]!;
  const dials: DialProbe[] = [];
  for (const sent of s.results.values()) {
    if (sent.p.qi !== qi) continue;
    const dp = compareDial(sent, s.simOf.get(sent.p.key)!, s.emu.net, s.index, emulatedIndex);
    if ("skip" in dp) skipped.push({ dial: sent.p.dial, why: dp.skip });
    else dials.push(dp);
  }
  const target = q.target.kind === "machine" ? s.index.get(q.target.machine) : undefined;
  const kernelDial = dials.find((dp) => meetsTarget(q, target, dp));
  const reach: VerdictKind = d ? d.answer.verdict : "unknown";
  const notEmulated = plan.notEmulated[qi];
  const kernel = notEmulated ? "not emulated" : kernelDial ? "reachable" : dials.length ? "unreachable" : "not emulated";
  const agree = !error && kernel !== "not emulated" && reach === kernel && dials.every((x) => x.agree);
  return {
    query: q,
    reach,
    ...(d?.answer.dial ? { reachDial: d.answer.dial } : {}),
    ...(error ? { engineError: error } : {}),
    kernel,
    ...(kernelDial ? { kernelDial } : {}),
    dials,
    skipped,
    ...(notEmulated ? { notEmulated } : !dials.length ? { notEmulated: "every dial of this query leaves the emulated network" } : {}),
    agree,
    ms: performance.now() - started,
  };
}

/** "REACH <token> <machine>.<socket> <peer> <port>" -> the IR socket that answered. */
function bannerOwner(banner: string, machines: ReadonlyMap<string, Machine>): { machine: string; socket: Socket } | undefined {
  const tag = banner.split(" ")[2] ?? "";
  const [mi, si] = tag.split(".");
  const m = machines.get(mi ?? "");
  const s = m?.sockets[Number(si)];
  return m && s ? { machine: m.name, socket: s } : undefined;
}

/** "echo reply <ttl>" -> the machine whose namespace starts from that TTL. */
function echoResponder(banner: string, machines: ReadonlyMap<string, Machine>): string | undefined {
  const k = ttlSlot(Number(banner.split(" ")[2]));
  return k === undefined ? undefined : machines.get(String(k))?.name;
}

/** The peer address the listener saw (banner field 4), e.g. 10.0.2.2 for a forward dialed from the host's loopback. */
export const bannerPeer = (banner: string): string | undefined => banner.split(" ")[3];

/** One dial, in words: "192.168.1.10:2222 from port 20000 -> answered by sshd on guest (peer 10.0.2.2)". */
export function dialProbeText(dp: DialProbe): string {
  const k = dp.kernel;
  const what =
    k.outcome === "answered"
      ? dp.answeredBy
        ? `answered by ${socketLabel(dp.answeredBy.socket)} on ${dp.answeredBy.machine} (it saw ${bannerPeer(k.banner ?? "")})`
        : `echo reply${dp.echoFrom ? ` from ${dp.echoFrom}` : ""} (ttl ${k.banner?.split(" ")[2] ?? "?"})`
      : `${k.symptom}${k.code ? ` (${k.code})` : ""}${dp.symptom && !dp.symptom.agree ? ` where reach says ${dp.symptom.reach}` : ""}`;
  const dst = dp.dial.proto === "icmp" ? formatIP(dp.dial.dst) : formatEndpoint(dp.dial.dst, dp.dial.dport);
  return `${dp.dial.proto} ${dst}${dp.dial.proto === "icmp" ? "" : ` from port ${dp.dial.sport}`}: ${what} in ${k.ms.toFixed(1)} ms${dp.retried ? " (on retry)" : ""}`;
}
