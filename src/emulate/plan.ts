/**
 * IR -> a build plan for Linux network namespaces, pure data (no side effects):
 * what `emulate/build.ts` hands to `ip`, `sysctl`, `nft` and slirp4netns.
 *
 *   machine            one namespace (NAT engines excepted: slirp4netns is the engine)
 *   segment            one bridge in a shared "switch" namespace
 *   interface          a veth pair, machine end in the machine, switch end on the
 *                      segment's bridge; an interface on no segment is a dummy
 *   NAT engine         slirp4netns (libslirp) running in its host's namespace, its
 *                      tap on the segment's bridge; each relay socket of the host
 *                      (port forward) is an `add_hostfwd` on its API socket
 *   filter chains, NAT one nftables table `inet reach` per machine
 *   services           listeners of the machine's agent (emulate/agent.js)
 *   relays of a machine relay listeners of its agent: each client's connection (or
 *                      UDP client) gets the agent's own onward connection
 *
 * Names. Nothing from the topology file reaches a command line unchecked: every
 * interface name passes `kernelIfName`, which keeps a plain name (letters and
 * digits, at most 12) and replaces anything else by a generated `if_N`; the
 * result is then checked once more by `assertKernelName` at the point of use.
 * Namespaces, bridges and switch ports are named by index only.
 */
import { slirp6Renaming } from "./slirp6.js";
import { formatIP, formatPrefix, isAny, isLoopback, prefixOf, sameIP, unmap, type IP, type Prefix } from "../net/addr.js";
import {
  routeMetric,
  type Chain,
  type Machine,
  type Match,
  type NatRule,
  type NegatableMatch,
  type Network,
  type RejectWith,
} from "../ir/types.js";

/** What one emulation calls itself: `reach-<pid>-<n>`; namespaces add `-<k>` or `-sw`. */
export const RUN_PREFIX = "reach-";
export const RUN_NAME = /^reach-(\d+)-(\d+)-(sw|\d+)$/;

const SAFE_IF = /^[A-Za-z][A-Za-z0-9]{0,11}$/;
/** Plain names the kernel refuses or already uses in a new namespace (devconf `all`/`default`, tunnel fallback devices). */
const RESERVED_IF = new Set([
  "lo",
  "all",
  "default",
  "sit0",
  "tunl0",
  "gre0",
  "gretap0",
  "erspan0",
  "ip6tnl0",
  "ip6gre0",
  "ip6_vti0",
  "ip_vti0",
]);
const KERNEL_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The last check before a name is handed to `ip`/`nft`: throws on anything but a plain short name. */
export function assertKernelName(name: string): string {
  if (!KERNEL_NAME.test(name) || name === "." || name === "..") throw new Error(`internal: unsafe kernel name ${JSON.stringify(name)}`);
  return name;
}

export function assertNamespaceName(name: string): string {
  if (!RUN_NAME.test(name)) throw new Error(`internal: unsafe namespace name ${JSON.stringify(name)}`);
  return name;
}

/**
 * The one sanitiser of interface names: IR name -> kernel name, injective per
 * machine. Plain names (e.g. eth0, enp0s3, vboxnet0) are kept so that `--keep`
 * shows familiar names; anything else (spaces, quotes, slashes, unicode, too
 * long, a leading digit, `lo` lookalikes) becomes `if_<k>`, which no plain name
 * can equal (plain names have no underscore).
 */
export function kernelIfNames(m: Machine): Map<string, string> {
  const out = new Map<string, string>();
  m.interfaces.forEach((i, k) => {
    out.set(i.name, i.name === "lo" ? "lo" : SAFE_IF.test(i.name) && !RESERVED_IF.has(i.name.toLowerCase()) ? i.name : `if_${k}`);
  });
  return out;
}

export interface Listener {
  /** `<machine index>.<socket index>`: what the agent's banner names */
  readonly tag: string;
  readonly proto: "tcp" | "udp";
  readonly host: string;
  readonly port: number;
  readonly v6only: boolean;
  readonly reuse?: boolean;
  /** a relay process (docker-proxy): what it connects to for each client, and the source it binds */
  readonly relay?: { readonly host: string; readonly port: number; readonly from?: string };
  /** SO_BINDTODEVICE: the kernel name of the device (the agent serves it through python3, which can set the option) */
  readonly device?: string;
}

export interface HostForward {
  readonly proto: "tcp" | "udp";
  readonly hostAddr: string;
  readonly hostPort: number;
  readonly guestAddr: string;
  readonly guestPort: number;
  /** the relay socket's index in its host's sockets */
  readonly socket: number;
}

export interface SlirpPlan {
  /** the NAT engine machine it stands for */
  readonly engine: string;
  /** namespace index of the host it runs in */
  readonly hostNs: number;
  /** tap name in the switch namespace, and the bridge it joins */
  readonly tap: string;
  readonly bridge: string;
  readonly cidr: string;
  /** slirp's own address (network + 2): the gateway and loopback mapping libslirp answers for */
  readonly vhost: IP;
  readonly hostLoopback: boolean;
  /** IPv6 on (`--enable-ipv6`): fd00::/64, slirp at fd00::2 standing for the host's ::1 */
  readonly ipv6: boolean;
  readonly forwards: readonly HostForward[];
}

export interface MachinePlan {
  readonly index: number;
  readonly name: string;
  /** commands for `ip -n NS -b -`, one per line, with the IR element each came from */
  readonly ipBatch: readonly { readonly line: string; readonly what: string }[];
  readonly sysctls: readonly string[];
  /** the nftables ruleset, or undefined when every chain accepts and there is no NAT */
  readonly nft?: string;
  readonly listeners: readonly Listener[];
  readonly ifNames: ReadonlyMap<string, string>;
}

export interface BuildPlan {
  readonly machines: readonly MachinePlan[];
  /** commands for the switch namespace (bridges and switch ends of veths) */
  readonly switchBatch: readonly { readonly line: string; readonly what: string }[];
  readonly bridges: number;
  readonly slirps: readonly SlirpPlan[];
}

/** Why a network (or part of it) cannot be built faithfully: the emulator refuses rather than guess. */
export interface Unsupported {
  readonly machine?: string;
  readonly what: string;
}

const SYSCTL_COMMON = [
  "net.ipv4.icmp_ratelimit=0",
  "net.ipv6.icmp.ratelimit=0",
  "net.ipv4.ping_group_range=0 2147483647",
  "net.ipv6.bindv6only=0",
  "net.ipv4.ip_nonlocal_bind=0",
  "net.ipv6.conf.default.accept_dad=0",
  "net.ipv6.conf.all.accept_dad=0",
  "net.ipv6.conf.default.accept_ra=0",
  "net.ipv6.conf.all.accept_ra=0",
  // no ICMP redirects (the model has none): a router sending a packet back out of the interface it
  // came in on would tell the sender a shorter way (ping counts that as an error, and the sender's
  // route cache keeps the new next hop for later dials); set before the interfaces exist, which
  // inherit `default` (seed 31000030 of the generated kernel test, docs/semantics.md 10)
  "net.ipv4.conf.all.send_redirects=0",
  "net.ipv4.conf.default.send_redirects=0",
  "net.ipv4.conf.all.accept_redirects=0",
  "net.ipv4.conf.default.accept_redirects=0",
  "net.ipv6.conf.all.accept_redirects=0",
  "net.ipv6.conf.default.accept_redirects=0",
];
/** A namespace that holds bridges: frames are switched, not filtered (kernel-oracle.md pitfall 5). */
export const SYSCTL_SWITCH = [
  ...SYSCTL_COMMON,
  "net.bridge.bridge-nf-call-iptables=0",
  "net.bridge.bridge-nf-call-ip6tables=0",
  "net.bridge.bridge-nf-call-arptables=0",
];

/** What the emulator cannot build as the model means it (each makes `planBuild` refuse). */
export function unsupported(net: Network): Unsupported[] {
  const out: Unsupported[] = [];
  for (const m of net.machines) {
    for (const s of m.sockets) {
      if (s.device !== undefined && s.role.kind === "relay")
        out.push({
          machine: m.name,
          what: `${s.owner} relays from a socket bound to device ${s.device}: the agent's relays are not device-bound`,
        });
      if (s.role.kind === "relay" && s.role.gateway !== undefined && s.bind.v !== 4)
        out.push({ machine: m.name, what: `${s.owner} listens on IPv6 ${formatIP(s.bind)}: slirp4netns forwards listen on IPv4 only` });
    }
    for (const r of m.routes) {
      if (r.type === "static" && r.via && m.interfaces.some((i) => i.addrs.some((a) => sameIP(a.ip, r.via!)))) {
        out.push({
          machine: m.name,
          what: `${r.origin.what} goes via its own address ${formatIP(r.via)}, a route Linux refuses ("Nexthop has invalid gateway") and the model keeps`,
        });
      }
    }
    if (m.kind === "nat-engine") out.push(...natEngineUnsupported(m));
  }
  const v6 = slirp6Renaming(net).problem;
  if (v6) out.push({ what: v6 });
  return out;
}

/** What slirp4netns cannot be for this NAT engine: an IPv4 network of /8../30 with the host's loopback at .2 (IPv6: slirp6.ts). */
function natEngineUnsupported(m: Machine): Unsupported[] {
  const seg = m.interfaces.find((i) => i.segment !== null);
  const v4 = seg?.addrs.find((a) => a.ip.v === 4);
  const v6 = seg?.addrs.find((a) => a.ip.v === 6);
  if (!m.engine || !seg || !v4) return [{ machine: m.name, what: "a NAT engine without an IPv4 network" }];
  if (v4.len > 30 || v4.len < 8) return [{ machine: m.name, what: `NAT network /${v4.len}: slirp4netns needs /8../30` }];
  if (!sameIP(m.engine.loopbackAddress, vhostOf(prefixOf(v4.ip, v4.len))))
    return [
      { machine: m.name, what: `host loopback mapped at ${formatIP(m.engine.loopbackAddress)}: libslirp maps it at the network's .2` },
    ];
  if (v6 && v6.len !== 64) return [{ machine: m.name, what: `IPv6 network /${v6.len}: slirp4netns --enable-ipv6 has a /64` }];
  return [];
}

/**
 * ICMP echo replies carry no banner: each namespace sends with its own initial
 * TTL (239, 223 ... down to 47), so the TTL a reply arrives with names the
 * machine that answered, as long as it crossed fewer than 16 routers. 240..255
 * is nobody's: libslirp answers the guest's pings it relays with TTL 255. Machines
 * past the 13th keep the kernel's 64 and are not identified this way.
 */
export const TTL_SLOTS = 13;
const TTL_TOP = 239;
export const initialTtl = (k: number): number | undefined => (k < TTL_SLOTS ? TTL_TOP - 16 * k : undefined);
/** The namespace index whose initial TTL a reply with `ttl` left from (undefined: not one of ours). */
export const ttlSlot = (ttl: number): number | undefined => {
  if (!(ttl >= 1 && ttl <= TTL_TOP)) return undefined;
  const k = Math.floor((TTL_TOP - ttl) / 16);
  return k < TTL_SLOTS ? k : undefined;
};

/**
 * Could this chain drop an IPv6 neighbour solicitation or advertisement? They cross INPUT and
 * OUTPUT as ICMPv6 with conntrack state "untracked" (measured: `ct state untracked`). Both
 * engines model it; the prober isolates such topologies' dials from each other's neighbour
 * entries (probe.ts). First match over the rules that may match such a packet: conservative (a
 * rule that matches only some of them counts as matching).
 */
export function mayDropNeighbourDiscovery(c: Chain): boolean {
  for (const r of c.rules) {
    const m = r.match;
    if (
      (m.state && !m.state.includes("untracked")) ||
      m.sport ||
      m.dport ||
      (m.proto !== undefined && m.proto !== "icmp") ||
      m.ctDnat === true
    )
      continue;
    // ports need TCP or UDP, conntrack's original tuple needs an entry (ND is untracked), negated or not
    if (m.origDst || m.origDport || m.not?.sport || m.not?.dport || m.not?.origDst || m.not?.origDport) continue;
    if ((m.src && m.src.v !== 6) || (m.dst && m.dst.v !== 6)) continue;
    const all =
      m.in === undefined &&
      m.out === undefined &&
      (!m.src || m.src.len === 0) &&
      (!m.dst || m.dst.len === 0) &&
      m.ctDnat === undefined &&
      m.not === undefined;
    if (r.action !== "accept") return true;
    if (all) return false;
  }
  return c.policy === "drop";
}

/** Does some machine's INPUT or OUTPUT chain possibly drop IPv6 neighbour discovery on a segment? */
export function neighbourDiscoveryFiltered(net: Network): boolean {
  return net.machines.some(
    (m) =>
      m.interfaces.some((i) => i.segment !== null && i.addrs.some((a) => a.ip.v === 6)) &&
      (mayDropNeighbourDiscovery(m.filter.input) || mayDropNeighbourDiscovery(m.filter.output)),
  );
}

/** slirp's own address on a network of either family: its .2 (::2) */
export const vhostOf = (p: Prefix): IP => ({ v: p.v, n: p.n + 2n });

/** slirp's MAC for one of its addresses: 52:55 then the IPv4 address (libslirp's special_ethaddr). */
export function slirpMac(ip: IP): string {
  const b = [Number((ip.n >> 24n) & 255n), Number((ip.n >> 16n) & 255n), Number((ip.n >> 8n) & 255n), Number(ip.n & 255n)];
  return ["52", "55", ...b.map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** One line of an `ip -batch` file and what it is for (shown when it fails). */
interface BatchLine {
  line: string;
  what: string;
}

/** What every machine's plan shares: the switch namespace's batch and its next veth port. */
interface SwitchState {
  readonly switchBatch: BatchLine[];
  readonly bridge: (seg: string) => string;
  port: number;
}

export function planBuild(net: Network, nsName: (k: number | "sw") => string): BuildPlan {
  const segIndex = new Map(net.segments.map((s, j) => [s.name, j] as const));
  const sw: SwitchState = { switchBatch: switchBridges(net), bridge: (seg) => assertKernelName(`br${segIndex.get(seg) ?? 0}`), port: 0 };
  const emulated = net.machines.filter((m) => m.kind !== "nat-engine");
  const nsOf = new Map(emulated.map((m, k) => [m.name, k] as const));
  const gatewayNeigh = gatewayNeighbours(net);
  const machines = emulated.map((m, k) => machinePlan(m, k, nsName(k), sw, gatewayNeigh));
  return { machines, switchBatch: sw.switchBatch, bridges: net.segments.length, slirps: slirpPlans(net, nsOf, sw.bridge) };
}

/** The switch namespace's bridges, one per segment. */
function switchBridges(net: Network): BatchLine[] {
  const switchBatch: BatchLine[] = [];
  for (const [j, s] of net.segments.entries()) {
    switchBatch.push({ line: `link add br${j} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`, what: `segment ${s.name}` });
    switchBatch.push({ line: `link set dev br${j} addrgenmode none up`, what: `segment ${s.name}` });
  }
  return switchBatch;
}

/** Per segment: the fixed neighbour slirp engines give their guests for a gateway that is not slirp's own address. */
function gatewayNeighbours(net: Network): Map<string, { ip: IP; mac: string }> {
  const gatewayNeigh = new Map<string, { ip: IP; mac: string }>();
  for (const e of net.machines) {
    if (e.kind !== "nat-engine" || !e.engine) continue;
    const seg = e.interfaces.find((i) => i.segment !== null)!;
    const v4 = seg.addrs.find((a) => a.ip.v === 4)!;
    const vhost = vhostOf(prefixOf(v4.ip, v4.len));
    if (!sameIP(e.engine.gateway, vhost)) gatewayNeigh.set(seg.segment!, { ip: e.engine.gateway, mac: slirpMac(vhost) });
  }
  return gatewayNeigh;
}

/** Machine `m` as namespace `k` (named `ns`): its links, addresses, routes, sysctls, ruleset and listeners. */
function machinePlan(
  m: Machine,
  k: number,
  ns: string,
  sw: SwitchState,
  gatewayNeigh: ReadonlyMap<string, { ip: IP; mac: string }>,
): MachinePlan {
  const ifNames = kernelIfNames(m);
  const kn = (name: string) => assertKernelName(ifNames.get(name) ?? name);
  const batch: BatchLine[] = [
    { line: "link set dev lo up", what: "loopback" },
    ...interfaceLines(m, ns, kn, sw, gatewayNeigh),
    ...routeLines(m, kn),
  ];
  const sysctls = machineSysctls(m, k);
  const listeners = listenersOf(m, k, kn);
  const nft = nftRuleset(m, kn);
  return { index: k, name: m.name, ipBatch: batch, sysctls, ...(nft ? { nft } : {}), listeners, ifNames };
}

/** Each interface of `m`: a veth pair onto its segment's bridge (the switch end into `sw`) or a dummy, then its addresses. */
function interfaceLines(
  m: Machine,
  ns: string,
  kn: (name: string) => string,
  sw: SwitchState,
  gatewayNeigh: ReadonlyMap<string, { ip: IP; mac: string }>,
): BatchLine[] {
  const batch: BatchLine[] = [];
  for (const i of m.interfaces) {
    if (i.name === "lo") continue;
    const name = kn(i.name);
    const what = `interface ${i.name} of ${m.name}`;
    if (i.segment !== null) {
      const p = `p${sw.port++}`;
      sw.switchBatch.push({ line: `link add ${p} type veth peer name ${name} netns ${ns}`, what });
      sw.switchBatch.push({ line: `link set dev ${p} addrgenmode none`, what });
      sw.switchBatch.push({ line: `link set dev ${p} master ${sw.bridge(i.segment)} up`, what });
    } else {
      batch.push({ line: `link add ${name} type dummy`, what });
    }
    // keep the kernel's link-local address (as on any real machine): neighbour discovery for a
    // forwarded packet is sent from it (without one, Linux sends no solicitation at all)
    batch.push({ line: `link set dev ${name} up`, what });
    for (const a of i.addrs) batch.push({ line: `addr add ${formatIP(a.ip)}/${a.len} dev ${name}${a.ip.v === 6 ? " nodad" : ""}`, what });
    const neigh = i.segment !== null ? gatewayNeigh.get(i.segment) : undefined;
    if (neigh && i.addrs.some((a) => a.ip.v === 4))
      batch.push({
        line: `neigh replace ${formatIP(neigh.ip)} lladdr ${neigh.mac} dev ${name} nud permanent`,
        what: `${what}: the NAT engine's gateway`,
      });
  }
  return batch;
}

/**
 * Static routes after the connected ones the kernel made, each with its metric (the file's, else
 * the kernel's default: routeMetric). A route the kernel would refuse as a duplicate (same prefix
 * and metric: the checker reports it, lowering's own routes may still meet one) gets the next free
 * metric, so that the IR's order decides as the simulator's tie-break does.
 */
function routeLines(m: Machine, kn: (name: string) => string): BatchLine[] {
  const batch: BatchLine[] = [];
  const used = new Map<string, Set<number>>();
  const taken = (key: string) => used.get(key) ?? used.set(key, new Set()).get(key)!;
  for (const r of m.routes) if (r.type === "connected") taken(formatPrefix(r.dst)).add(routeMetric(r));
  for (const r of m.routes) {
    if (r.type !== "static" || !r.dev) continue;
    const metrics = taken(formatPrefix(r.dst));
    let metric = routeMetric(r);
    while (metrics.has(metric)) metric++;
    metrics.add(metric);
    const via = r.via ? ` via ${formatIP(r.via)}` : "";
    batch.push({
      line: `route add ${formatPrefix(prefixOf(r.dst, r.dst.len))}${via} dev ${kn(r.dev)}${r.via ? " onlink" : ""} metric ${metric}`,
      what: r.origin.what,
    });
  }
  return batch;
}

/** Namespace `k`'s sysctls: the common ones, its initial TTL slot, forwarding, rp_filter and route_localnet. */
function machineSysctls(m: Machine, k: number): string[] {
  const ttl = initialTtl(k);
  return [
    ...SYSCTL_COMMON,
    ...(ttl !== undefined
      ? [`net.ipv4.ip_default_ttl=${ttl}`, ...["all", "default", "lo"].map((i) => `net.ipv6.conf.${i}.hop_limit=${ttl}`)]
      : []),
    `net.ipv4.ip_forward=${m.ipForward ? 1 : 0}`,
    `net.ipv6.conf.all.forwarding=${m.ipForward ? 1 : 0}`,
    `net.ipv4.conf.all.rp_filter=${m.rpFilter}`,
    `net.ipv4.conf.default.rp_filter=${m.rpFilter}`,
    `net.ipv4.conf.all.route_localnet=${m.routeLocalnet ? 1 : 0}`,
    `net.ipv4.conf.default.route_localnet=${m.routeLocalnet ? 1 : 0}`,
  ];
}

/** One slirp4netns per NAT engine, in its host's namespace, with the host's relay sockets as its port forwards. */
function slirpPlans(net: Network, nsOf: ReadonlyMap<string, number>, bridge: (seg: string) => string): SlirpPlan[] {
  const slirps: SlirpPlan[] = [];
  let tap = 0;
  for (const e of net.machines) {
    if (e.kind !== "nat-engine" || !e.engine) continue;
    const seg = e.interfaces.find((i) => i.segment !== null)!;
    const v4 = seg.addrs.find((a) => a.ip.v === 4)!;
    const p = prefixOf(v4.ip, v4.len);
    const host = net.machines.find((m) => m.name === e.engine!.host)!;
    const forwards: HostForward[] = [];
    host.sockets.forEach((s, si) => {
      if (s.role.kind !== "relay" || s.role.engine !== e.name) return;
      forwards.push({
        proto: s.proto,
        hostAddr: formatIP(unmap(s.bind)),
        hostPort: s.port,
        guestAddr: formatIP(s.role.to),
        guestPort: s.role.toPort,
        socket: si,
      });
    });
    slirps.push({
      engine: e.name,
      hostNs: nsOf.get(host.name)!,
      tap: assertKernelName(`t${tap++}`),
      bridge: bridge(seg.segment!),
      cidr: formatPrefix(p),
      vhost: vhostOf(p),
      hostLoopback: e.engine.loopbackReachable,
      ipv6: seg.addrs.some((a) => a.ip.v === 6),
      forwards,
    });
  }
  return slirps;
}

/**
 * The agent's listeners: each service socket as bound. A UDP socket on a
 * wildcard that answers from the dialed address (IP_PKTINFO, `pktinfo`) is
 * emulated by one socket per local address of its family beside the wildcard:
 * Linux prefers the exact bind, which answers from that address.
 */
function listenersOf(m: Machine, k: number, kn: (name: string) => string): Listener[] {
  const out: Listener[] = [];
  m.sockets.forEach((s, si) => {
    const tag = `${k}.${si}`;
    const dev = s.device !== undefined ? { device: kn(s.device) } : {};
    if (s.role.kind === "relay" && s.role.gateway === undefined) {
      const relay = { host: formatIP(s.role.to), port: s.role.toPort, ...(s.role.from ? { from: formatIP(s.role.from) } : {}) };
      out.push({ tag, proto: s.proto, host: formatIP(s.bind), port: s.port, v6only: s.v6only, relay });
      return;
    }
    if (s.role.kind !== "service") return;
    const host = formatIP(s.bind);
    if (s.proto === "udp" && s.pktinfo && isAny(unmap(s.bind))) {
      out.push({ tag, proto: s.proto, host, port: s.port, v6only: s.v6only, reuse: true, ...dev });
      const fam = s.bind.v === 6 && !s.v6only ? [4, 6] : [s.bind.v];
      for (const i of m.interfaces) {
        for (const a of i.addrs) {
          if (!fam.includes(a.ip.v)) continue;
          const addr = a.ip.v === 4 && s.bind.v === 6 ? `::ffff:${formatIP(a.ip)}` : formatIP(a.ip);
          out.push({ tag, proto: "udp", host: addr, port: s.port, v6only: false, reuse: true, ...dev });
        }
      }
      return;
    }
    out.push({ tag, proto: s.proto, host, port: s.port, v6only: s.v6only, ...dev });
  });
  return out;
}

// ------------------------------------------------------------------ nftables

const range = (r: { lo: number; hi: number }) => (r.lo === r.hi ? `${r.lo}` : `${r.lo}-${r.hi}`);
const family = (p: Prefix) => (p.v === 4 ? "ip" : "ip6");

/** Interfaces and addresses as nftables expressions (`!=` when negated). */
function headExprs(m: NegatableMatch, kn: (n: string) => string, op: string): string[] {
  const parts: string[] = [];
  if (m.in !== undefined) parts.push(`iifname ${op}"${kn(m.in)}"`);
  if (m.out !== undefined) parts.push(`oifname ${op}"${kn(m.out)}"`);
  if (m.src) parts.push(`${family(m.src)} saddr ${op}${formatPrefix(prefixOf(m.src, m.src.len))}`);
  if (m.dst) parts.push(`${family(m.dst)} daddr ${op}${formatPrefix(prefixOf(m.dst, m.dst.len))}`);
  return parts;
}

/** Ports and conntrack's original tuple (what the client dialed; no entry: no match, as in the IR), after the protocol. */
function tailExprs(m: NegatableMatch, op: string): string[] {
  const parts: string[] = [];
  if (m.sport) parts.push(`th sport ${op}${range(m.sport)}`);
  if (m.dport) parts.push(`th dport ${op}${range(m.dport)}`);
  if (m.origDst) parts.push(`ct original ${family(m.origDst)} daddr ${op}${formatPrefix(prefixOf(m.origDst, m.origDst.len))}`);
  if (m.origDport) parts.push(`ct original proto-dst ${op}${range(m.origDport)}`);
  return parts;
}

/** One IR match as nftables expressions; undefined when it can never match (a v4 source with a v6 destination). */
function matchExpr(m: Match, kn: (n: string) => string): string | undefined {
  if (m.src && m.dst && m.src.v !== m.dst.v) return undefined;
  const ports = [m.sport, m.dport, m.not?.sport, m.not?.dport].some((r) => r !== undefined);
  if (ports && m.proto === "icmp") return undefined;
  // nft types `ct original proto-dst` by the protocol matched before it (the checker insists on one)
  if ((m.origDport || m.not?.origDport) && m.proto !== "tcp" && m.proto !== "udp")
    throw new Error("internal: an original destination port match without proto tcp or udp");
  const parts = [...headExprs(m, kn, ""), ...(m.not ? headExprs(m.not, kn, "!= ") : [])];
  // Ports match TCP and UDP alike (the IR: any protocol but ICMP).
  if (m.proto === "icmp") parts.push("meta l4proto { icmp, ipv6-icmp }");
  else if (m.proto) parts.push(`meta l4proto ${m.proto}`);
  else if (ports) parts.push("meta l4proto { tcp, udp }");
  parts.push(...tailExprs(m, ""), ...(m.not ? tailExprs(m.not, "!= ") : []));
  if (m.state) parts.push(`ct state { ${m.state.join(", ")} }`);
  if (m.ctDnat === true) parts.push("ct status dnat");
  // not `ct status != dnat`: nft compiles that to an exact comparison of the whole status word
  // (measured with --debug=netlink), which every DNATed connection with another bit set passes
  if (m.ctDnat === false) parts.push("ct status & dnat == 0");
  return parts.join(" ");
}

/**
 * nft's reject statement for each reject type, in an inet table: icmpx types send ICMP to IPv4 and
 * ICMPv6 to IPv6 (host-unreachable is ICMPv6 address-unreachable, net-unreachable no-route); the two
 * IPv4-only codes are `icmp type`, on rules the checker keeps IPv4-only.
 */
function rejectText(w: RejectWith | undefined): string {
  switch (w) {
    case undefined:
    case "port-unreachable":
      return "reject with icmpx type port-unreachable";
    case "tcp-reset":
      return "reject with tcp reset";
    case "host-unreachable":
      return "reject with icmpx type host-unreachable";
    case "net-unreachable":
      return "reject with icmpx type no-route";
    case "admin-prohibited":
      return "reject with icmpx type admin-prohibited";
    case "host-prohibited":
    case "net-prohibited":
      return `reject with icmp type ${w}`;
  }
}

function chainText(c: Chain, kn: (n: string) => string): string[] {
  const out = [`  chain ${c.name}_f {`, `    type filter hook ${c.name} priority 0; policy ${c.policy};`];
  for (const r of c.rules) {
    const e = matchExpr(r.match, kn);
    if (e === undefined) continue;
    out.push(`    ${e} ${r.action === "reject" ? rejectText(r.with) : r.action}`);
  }
  out.push("  }");
  return out;
}

function natText(rules: readonly NatRule[], kn: (n: string) => string): string[] {
  const out: string[] = [];
  for (const r of rules) {
    const e = matchExpr(r.match, kn);
    if (e === undefined) continue;
    const a = r.action;
    // a translation to the other family never applies (the IR's applyNat; e.g. `dst: local`'s ::1 copy of an IPv4 DNAT)
    if (a.kind !== "masquerade" && [r.match.src, r.match.dst].some((p) => p !== undefined && p.v !== a.to.v)) continue;
    switch (a.kind) {
      case "dnat": {
        const fam = a.to.v === 4 ? "ip" : "ip6";
        const l4 = a.toPort !== undefined && !r.match.proto ? "meta l4proto { tcp, udp } " : "";
        const to =
          a.toPort !== undefined ? (a.to.v === 4 ? `${formatIP(a.to)}:${a.toPort}` : `[${formatIP(a.to)}]:${a.toPort}`) : formatIP(a.to);
        if (a.toPort !== undefined && r.match.proto === "icmp") {
          out.push(`    ${e} dnat ${fam} to ${formatIP(a.to)}`);
        } else {
          out.push(`    ${e} ${l4}dnat ${fam} to ${to}`);
        }
        break;
      }
      case "snat":
        out.push(`    ${e} snat ${a.to.v === 4 ? "ip" : "ip6"} to ${formatIP(a.to)}`);
        break;
      case "masquerade":
        out.push(`    ${e} masquerade`);
        break;
    }
  }
  return out;
}

/**
 * The machine's firewall and NAT as one nftables table. Rules keep the IR's order
 * (first match wins in both); NAT chains see only a connection's first packet.
 * Returns undefined when there is nothing to load.
 */
export function nftRuleset(m: Machine, kn: (n: string) => string): string | undefined {
  const f = m.filter;
  const trivial = (c: Chain) => c.policy === "accept" && c.rules.length === 0;
  const anyNat = m.nat.prerouting.length + m.nat.output.length + m.nat.postrouting.length > 0;
  if (trivial(f.input) && trivial(f.output) && trivial(f.forward) && !anyNat) return undefined;
  const lines = ["table inet reach {"];
  for (const c of [f.input, f.output, f.forward]) if (!trivial(c)) lines.push(...chainText(c, kn));
  const natChain = (name: string, hook: string, prio: string, rules: readonly NatRule[]) => {
    if (!rules.length) return;
    lines.push(`  chain ${name} {`, `    type nat hook ${hook} priority ${prio}; policy accept;`, ...natText(rules, kn), "  }");
  };
  natChain("pre_n", "prerouting", "-100", m.nat.prerouting);
  natChain("out_n", "output", "-100", m.nat.output);
  natChain("post_n", "postrouting", "100", m.nat.postrouting);
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Addresses a probe may target: every address this emulation assigned, and each machine's own loopback. */
export function assignedAddresses(net: Network): IP[] {
  const out: IP[] = [];
  for (const m of net.machines)
    for (const i of m.interfaces) for (const a of i.addrs) if (!(i.name === "lo") && !out.some((x) => sameIP(x, a.ip))) out.push(a.ip);
  return out;
}

export const isOwnLoopback = (ip: IP): boolean => (ip.v === 4 && isLoopback(ip)) || (ip.v === 6 && ip.n === 1n);
