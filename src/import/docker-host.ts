/**
 * Docker's host model: what Docker sets up on the host that runs it for bridge
 * networks, in the topology language (Docker docs "Docker with iptables" and "Port
 * publishing and mapping", Docker Engine 28; semantics.md sections 4 and 6):
 * - the host has an interface on the bridge with the network's gateway address
 *   (`docker0` for the default bridge) and forwards (`ip_forward`);
 * - each published port is a DNAT rule in nat PREROUTING followed by an accept in
 *   the filter FORWARD chain: published ports never cross INPUT, so a host firewall
 *   that filters INPUT only (ufw) does not protect them (moby/moby#22054);
 * - FORWARD's policy is drop (Docker sets it when it enables forwarding); replies
 *   to containers, the containers' own traffic and published ports are accepted,
 *   anything else towards a bridge is dropped (other networks, direct routing,
 *   DOCKER-ISOLATION between bridges);
 * - what a network sends out is masqueraded;
 * - docker-proxy (the userland proxy) listens on each published host port for the
 *   connections the DNAT does not catch.
 * `DockerHost` also hands out what Docker's IPAM would: default address pools,
 * container addresses, bridge and segment names.
 */
import { diagnostic } from "../diagnostics/diagnostic.js";
import { contains, formatEndpoint, formatIP, formatPrefix, isAny, isLoopback, type IP, type Prefix } from "../net/addr.js";
import {
  LOCAL_NONLOOPBACK,
  type MachineDoc,
  type NatRuleDoc,
  type RelayDoc,
  type RouteDoc,
  type RuleDoc,
  type ServiceDoc,
} from "../topology/schema.js";
import type { Attach, Container, Mapping, Net, Out, Proto } from "./docker-types.js";
import type { Fragment } from "./types.js";

/** Docker's bridge network defaults: docker0 172.17.0.0/16, gateway .1 (dockerd `--bip`). */
const DOCKER0_SUBNET: Prefix = { v: 4, n: 0xac110000n, len: 16 };

/**
 * Docker's default address pools (daemon `default-address-pools`): 172.17.0.0/16
 * (docker0), then 172.18.0.0/16 ... 172.31.0.0/16, then 192.168.0.0/16 in /20s.
 */
function* userPools(): Generator<Prefix> {
  for (let b = 18; b <= 31; b++) yield { v: 4, n: (172n << 24n) | (BigInt(b) << 16n), len: 16 };
  for (let c = 0; c < 256; c += 16) yield { v: 4, n: (192n << 24n) | (168n << 16n) | (BigInt(c) << 8n), len: 20 };
}

/** Two prefixes share addresses: the shorter one contains the other. */
const overlapping = (a: Prefix, b: Prefix) => a.v === b.v && contains(a.len <= b.len ? a : b, a.len <= b.len ? b : a);
/** The address `k` past a prefix's network address (1n: the gateway Docker picks). */
export const hostAddr = (p: Prefix, k: bigint): IP => ({ v: p.v, n: p.n + k });
const cidr = (ip: IP, p: Prefix) => `${formatIP(ip)}/${p.len}`;
/** A Linux interface name (bridge.name driver option, interface_name). */
export const IFNAME = /^[^\s/:]{1,15}$/;

/** The Docker host being built: networks, containers, host listeners, and the names and addresses handed out. */
export class DockerHost {
  readonly nets: Net[] = [];
  readonly containers: Container[] = [];
  readonly hostServices: ServiceDoc[] = [];
  readonly names = new Set<string>();
  /** "web 80/tcp": listeners assumed behind published or exposed ports, for one note. */
  readonly assumed: string[] = [];
  private readonly bridges = new Set<string>();
  private readonly segments = new Set<string>();
  private readonly pools: Prefix[] = [DOCKER0_SUBNET];
  private readonly assumedPools = new Set<Prefix>();
  private readonly taken = new Map<Net, Set<bigint>>();

  constructor(
    readonly host: string,
    readonly out: Out,
    /** Docker's `userland-proxy` (daemon.json; on by default): docker-proxy relays what the DNAT does not catch */
    readonly userlandProxy = true,
    /** the Docker Engine whose rules the host runs: 28 drops routing straight to containers (raw table), 27 does not */
    readonly version: 27 | 28 = 28,
  ) {
    this.names.add(host);
  }

  note(text: string): void {
    if (!this.out.notes.includes(text)) this.out.notes.push(text);
  }

  /** A Linux interface name for a bridge: at most 15 characters, unique on the host. */
  bridgeName(wanted: string): string {
    const base = wanted.replace(/[\s/:]/g, "-").slice(0, 15);
    let name = base;
    for (let k = 2; this.bridges.has(name); k++) name = `${base.slice(0, 15 - String(k).length - 1)}-${k}`;
    this.bridges.add(name);
    return name;
  }

  segmentName(network: string): string {
    const base = `${this.host}/docker:${network}`;
    let name = base;
    for (let k = 2; this.segments.has(name); k++) name = `${base}-${k}`;
    this.segments.add(name);
    return name;
  }

  /** The next default pool that overlaps nothing taken (`avoid`: subnets the input sets itself). */
  nextPool(avoid: readonly Prefix[]): Prefix | undefined {
    for (const p of userPools()) {
      if (![...this.pools, ...avoid].some((q) => overlapping(p, q))) {
        this.pools.push(p);
        this.assumedPools.add(p);
        return p;
      }
    }
    return undefined;
  }

  takePool(p: Prefix): void {
    this.pools.push(p);
  }

  /** A network, with the addresses nobody may be given (its gateway, ipam aux_addresses). */
  addNet(net: Net, reserved: readonly IP[] = []): Net {
    this.nets.push(net);
    this.taken.set(net, new Set([...(net.gateway ? [net.gateway.n] : []), ...reserved.map((x) => x.n)]));
    return net;
  }

  /** The subnet was assumed from the default pools (the input does not set it). */
  poolAssumed(net: Net): boolean {
    return net.subnet !== undefined && this.assumedPools.has(net.subnet);
  }

  /** Claims an address of a network; false when it is taken. */
  reserve(net: Net, ip: IP): boolean {
    const taken = this.taken.get(net)!;
    if (taken.has(ip.n)) return false;
    taken.add(ip.n);
    return true;
  }

  /** The first free address of a network's IPv4 subnet (Docker's IPAM: first free bit). */
  allocate(net: Net): IP | undefined {
    const subnet = net.subnet;
    if (!subnet) return undefined;
    const size = 1n << BigInt(32 - subnet.len);
    for (let k = 1n; k < size - 1n; k++) {
      const ip = hostAddr(subnet, k);
      if (this.reserve(net, ip)) return ip;
    }
    return undefined;
  }

  /** The default bridge network `bridge`: docker0, 172.17.0.1/16 unless dockerd's --bip says otherwise. */
  defaultBridge(): Net {
    const found = this.nets.find((n) => n.name === "bridge");
    if (found) return found;
    this.note(
      `Network 'bridge' (network_mode: bridge) is Docker's default bridge docker0 with 172.17.0.0/16 (dockerd's default --bip); other containers on it would take addresses too.`,
    );
    return this.addNet({
      name: "bridge",
      segment: this.segmentName("bridge"),
      bridge: this.bridgeName("docker0"),
      subnet: DOCKER0_SUBNET,
      gateway: hostAddr(DOCKER0_SUBNET, 1n),
      internal: false,
      masquerade: true,
    });
  }

  /** Listeners on the container's own ports (`on`: the host, for network mode host). */
  listeners(owner: string, ports: readonly Mapping[], on?: string): ServiceDoc[] {
    const listen = listenPorts(ports);
    if (listen.length)
      this.assumed.push(
        `${owner} ${listen.map((p) => `${p.port}/${p.proto}`).join(", ")}${on ? ` (network mode host: on ${on} itself)` : ""}`,
      );
    const published = (p: { proto: Proto; port: number }) =>
      ports.some((m) => m.published && m.hostPort !== undefined && m.proto === p.proto && m.containerPort === p.port);
    return listen.map((p) => ({ ...assumedService(owner, p), ...(on === undefined && !published(p) ? { exposed: true } : {}) }));
  }

  fragment(): Fragment {
    const machines: Record<string, MachineDoc> = {};
    const rules = new HostRules(this);
    for (const c of this.containers) {
      machines[c.name] = containerMachine(c, this.listeners(c.name, c.ports));
      rules.publish(c);
    }
    if (this.assumed.length)
      this.note(
        `Assumed listeners, bound to every address: ${this.assumed.join("; ")}. The input publishes or exposes these ports but does not say what listens on them.`,
      );
    const segments: Record<string, string | { subnets: string[] }> = {};
    const hostIfs: Record<string, { segment: string; addresses: string[] }> = {};
    for (const n of this.nets) {
      const subnets = [n.subnet, n.subnet6].flatMap((p) => (p ? [formatPrefix(p)] : []));
      segments[n.segment] = subnets.length === 1 ? subnets[0]! : { subnets };
      if (n.bridge) {
        const addresses = [
          ...(n.gateway && n.subnet ? [cidr(n.gateway, n.subnet)] : []),
          ...(n.gateway6 && n.subnet6 ? [cidr(n.gateway6, n.subnet6)] : []),
        ];
        hostIfs[n.bridge] = { segment: n.segment, addresses };
      }
    }
    const hostDoc = rules.hostMachine(hostIfs);
    if (hostDoc) machines[this.host] = hostDoc;
    return { segments, machines, notes: this.out.notes, rulesFirst: true };
  }
}

/** The attachment that gives a container its default route: not internal, highest gw_priority, then network name (libnetwork's endpoint order). */
export function gatewayAttach(c: Container): Attach | undefined {
  return [...c.attaches]
    .filter((a) => !a.net.internal && (a.net.gateway !== undefined || a.net.gateway6 !== undefined))
    .sort((a, b) => b.gwPriority - a.gwPriority || (a.net.name < b.net.name ? -1 : a.net.name > b.net.name ? 1 : 0))[0];
}

/** Every container port something is assumed to listen on, once per protocol and port. */
function listenPorts(ports: readonly Mapping[]): { proto: Proto; port: number }[] {
  const seen = new Set<string>();
  return ports.flatMap((m) => {
    const key = `${m.containerPort}/${m.proto}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ proto: m.proto, port: m.containerPort }];
  });
}

const assumedService = (owner: string, p: { proto: Proto; port: number }): ServiceDoc => ({
  name: `${owner} ${p.port}/${p.proto} (assumed)`,
  proto: p.proto,
  port: p.port,
});

function containerMachine(c: Container, services: readonly ServiceDoc[]): MachineDoc {
  const interfaces: Record<string, { segment: string; addresses: string[] }> = {};
  for (const a of c.attaches) {
    interfaces[a.ifname] = {
      segment: a.net.segment,
      addresses: [
        ...(a.addr && a.net.subnet ? [cidr(a.addr, a.net.subnet)] : []),
        ...(a.addr6 && a.net.subnet6 ? [cidr(a.addr6, a.net.subnet6)] : []),
      ],
    };
  }
  const gw = gatewayAttach(c);
  const routes: RouteDoc[] = [
    ...(gw?.net.gateway ? [{ to: "default", via: formatIP(gw.net.gateway) }] : []),
    ...(gw?.net.gateway6 && gw.addr6 ? [{ to: "default6", via: formatIP(gw.net.gateway6) }] : []),
  ];
  return {
    ...(Object.keys(interfaces).length ? { interfaces } : {}),
    ...(routes.length ? { routes } : {}),
    ...(services.length ? { services: [...services] } : {}),
  };
}

/** One host address and port a published port binds (for clashes between publications). */
interface Binding {
  readonly proto: Proto;
  readonly ip: IP;
  readonly port: number;
  readonly owner: string;
}

/** The host's side of Docker: DNAT rules, FORWARD rules, masquerade, docker-proxy listeners. */
class HostRules {
  private readonly nat: NatRuleDoc[] = [];
  private readonly accepts: RuleDoc[] = [];
  private readonly proxies: RelayDoc[] = [];
  private readonly bindings: Binding[] = [];
  private readonly acceptKeys = new Set<string>();
  private readonly proxied: string[] = [];

  constructor(private readonly d: DockerHost) {}

  /** Docker publishes a container's ports through the network that gives it its default route (libnetwork's gateway endpoint). */
  publish(c: Container): void {
    const published = c.ports.filter((m) => m.published && m.hostPort !== undefined);
    if (!published.length) return;
    const gw = gatewayAttach(c);
    if (!gw?.net.bridge) {
      this.d.note(
        `${c.name}: its published ports have no effect: it is only on internal networks (or networks whose host side is unknown), which Docker does not publish from.`,
      );
      return;
    }
    for (const m of published) {
      const families = m.hostIp ? [m.hostIp.v] : gw.net.hostBinding ? [gw.net.hostBinding.v] : [4, 6];
      const explicit = m.hostIp ?? gw.net.hostBinding;
      for (const v of families as (4 | 6)[]) {
        const ip = explicit ?? { v, n: 0n };
        if (!this.bind(c.name, m, ip)) continue;
        const target = v === 4 ? gw.addr : gw.addr6;
        const label = `${c.name} ${explicit ? formatEndpoint(ip, m.hostPort!) : m.hostPort}->${m.containerPort}/${m.proto}`;
        // docker-proxy connects to the container's address of the family, else (IPv6 to a container without IPv6) its IPv4 one
        const proxyTo = target ?? gw.addr;
        if (this.d.userlandProxy && proxyTo) this.proxy(c.name, m, ip, explicit !== undefined, proxyTo);
        if (!target) {
          if (v === 4 || gw.addr === undefined)
            this.d.note(`${c.name}: port ${label} is not translated: the container's IPv${v} address on '${gw.net.name}' is not known.`);
          continue;
        }
        this.nat.push({
          action: "dnat",
          chain: "prerouting",
          proto: m.proto,
          // Docker DNATs only what is addressed to the host itself (-m addrtype --dst-type LOCAL), of this family
          ...(isAny(ip) ? { src: v === 4 ? "0.0.0.0/0" : "::/0", dst: "local" } : { dst: `${formatIP(ip)}/${ip.v === 4 ? 32 : 128}` }),
          dport: m.hostPort!,
          to: formatIP(target),
          toPort: m.containerPort,
          comment: `docker: ${label}`,
        });
        this.outputDnat(m, ip, v, target, label);
        const key = `${formatIP(target)} ${m.proto} ${m.containerPort}`;
        if (!this.acceptKeys.has(key)) {
          this.acceptKeys.add(key);
          this.accepts.push({
            action: "accept",
            proto: m.proto,
            dst: `${formatIP(target)}/${v === 4 ? 32 : 128}`,
            dport: m.containerPort,
            out: gw.net.bridge,
            comment: `docker: published ${c.name} ${m.containerPort}/${m.proto}`,
          });
        }
      }
    }
  }

  /** Docker refuses a second publication on a host port that one already holds ("port is already allocated"). */
  private bind(owner: string, m: Mapping, ip: IP): boolean {
    const clash = this.bindings.find(
      (b) => b.proto === m.proto && b.port === m.hostPort && b.ip.v === ip.v && (isAny(b.ip) || isAny(ip) || b.ip.n === ip.n),
    );
    if (clash) {
      this.d.out.diags.push(
        diagnostic(
          "RCH051",
          m.span,
          `${owner} publishes ${m.proto} port ${m.hostPort} on ${formatIP(ip)}, which ${clash.owner} already holds: Docker refuses to start the second ("port is already allocated")`,
          {
            expected: "one publication per host address, protocol and port",
            severity: "warning",
          },
        ),
      );
      return false;
    }
    this.bindings.push({ proto: m.proto, ip, port: m.hostPort!, owner });
    return true;
  }

  /**
   * The host's own connections to a published port: Docker's nat OUTPUT jump DNATs those to the
   * host's addresses, but not to 127.0.0.0/8 or ::1 while docker-proxy runs (those reach the
   * proxy); with the proxy off it DNATs loopback too (and Docker sets route_localnet).
   */
  private outputDnat(m: Mapping, ip: IP, v: 4 | 6, target: IP, label: string): void {
    const proxy = this.d.userlandProxy;
    if (!isAny(ip) && proxy && (isLoopback(ip) || (ip.v === 6 && ip.n === 1n))) return;
    const dst = isAny(ip)
      ? { src: v === 4 ? "0.0.0.0/0" : "::/0", dst: proxy ? LOCAL_NONLOOPBACK : "local" }
      : { dst: `${formatIP(ip)}/${v === 4 ? 32 : 128}` };
    this.nat.push({
      action: "dnat",
      chain: "output",
      proto: m.proto,
      ...dst,
      dport: m.hostPort!,
      to: formatIP(target),
      toPort: m.containerPort,
      comment: `docker: ${label} (the host's own connections)`,
    });
  }

  /** docker-proxy's relay on the host port, to the container's address `to`. */
  private proxy(owner: string, m: Mapping, ip: IP, explicit: boolean, to: IP): void {
    const where = explicit || ip.v === 6 ? formatEndpoint(ip, m.hostPort!) : String(m.hostPort);
    this.proxies.push({
      name: `docker-proxy ${where}/${m.proto} (relays to ${owner}:${m.containerPort})`,
      proto: m.proto,
      ...(explicit || ip.v === 6 ? { bind: formatIP(ip) } : {}),
      port: m.hostPort!,
      ...(ip.v === 6 && isAny(ip) ? { v6only: true } : {}),
      to: formatIP(to),
      toPort: m.containerPort,
    });
    this.proxied.push(`${where}/${m.proto}`);
  }

  /**
   * The host machine: bridges, forwarding, NAT, FORWARD chain, listeners.
   *
   * Docker's masquerade is `-s SUBNET ! -o BRIDGE -j MASQUERADE`; the topology
   * language cannot say "not out this interface", and need not: traffic between
   * containers of one bridge is switched on the segment and never routed through
   * the host, so it never meets POSTROUTING here. What the host does route back
   * out of the same bridge is the hairpin (a container dialing a published port
   * on a host address); the model DNATs it (Docker's DNAT has `! -i BRIDGE` and
   * leaves it to docker-proxy) and masquerades it to the bridge's address, which
   * is what docker-proxy's relay looks like to the container too.
   */
  hostMachine(interfaces: Record<string, { segment: string; addresses: string[] }>): MachineDoc | undefined {
    const bridged = this.d.nets.filter((n): n is Net & { bridge: string } => n.bridge !== undefined);
    const forward: RuleDoc[] = [];
    for (const n of bridged.filter((x) => x.internal)) {
      forward.push(
        { action: "drop", in: n.bridge, comment: `docker: internal network ${n.name}` },
        { action: "drop", out: n.bridge, comment: `docker: internal network ${n.name}` },
      );
    }
    const open = bridged.filter((x) => !x.internal);
    for (const n of open)
      forward.push({ action: "accept", out: n.bridge, state: ["established", "related"], comment: `docker: replies to network ${n.name}` });
    // DOCKER-ISOLATION: containers of different bridge networks reach each other only through
    // published ports ("bridge network driver" docs), i.e. connections DNATed by the host
    for (const a of open)
      for (const b of open)
        if (a !== b)
          forward.push({
            action: "drop",
            in: a.bridge,
            out: b.bridge,
            dnat: false,
            comment: `docker: isolation of ${a.name} from ${b.name}`,
          });
    forward.push(...this.accepts);
    for (const n of open) forward.push({ action: "drop", out: n.bridge, comment: `docker: nothing else into network ${n.name}` });
    for (const n of open) forward.push({ action: "accept", in: n.bridge, comment: `docker: network ${n.name} goes out` });
    const masq: NatRuleDoc[] = open
      .filter((n) => n.masquerade)
      .flatMap((n) =>
        [n.subnet, n.subnet6].flatMap((p) =>
          p ? [{ action: "masquerade" as const, src: formatPrefix(p), comment: `docker: network ${n.name} goes out` }] : [],
        ),
      );
    const nat = [...this.nat, ...masq];
    if (this.proxied.length) {
      this.d.note(
        `docker-proxy on '${this.d.host}' (userland-proxy, on by default; --no-userland-proxy if daemon.json says "userland-proxy": false) listens on the published host ports (${this.proxied.join(", ")}) and relays what the DNAT does not translate (connections from '${this.d.host}' itself to 127.0.0.1 or ::1, and IPv6 to a container without IPv6) to the container: those cross the INPUT chain of '${this.d.host}', not FORWARD (DOCKER-USER), and the container sees them from the bridge's address.`,
      );
    }
    const loopbackNat = !this.d.userlandProxy && this.nat.some((r) => r.action === "dnat" && r.chain === "output");
    if (loopbackNat) {
      this.d.note(
        `userland-proxy is off: the own connections of '${this.d.host}' to 127.0.0.1 are DNATed too; Docker sets route_localnet on the bridges (here the whole host) and masquerades 127.0.0.0/8 out of them.`,
      );
      for (const n of open)
        nat.push({ action: "masquerade", src: "127.0.0.0/8", out: n.bridge, comment: `docker: loopback to network ${n.name}` });
    }
    const services = this.d.hostServices;
    const doc: MachineDoc = {
      ...(Object.keys(interfaces).length ? { interfaces } : {}),
      ...(bridged.length ? { ip_forward: true } : {}),
      ...(loopbackNat ? { route_localnet: true } : {}),
      ...(bridged.length ? { firewall: { forward: { policy: "drop", rules: forward } } } : {}),
      ...(nat.length ? { nat } : {}),
      ...(services.length ? { services } : {}),
      ...(this.proxies.length ? { relays: this.proxies } : {}),
      ...(bridged.length ? { docker: { version: this.d.version, bridges: bridged.map((n) => n.bridge) } } : {}),
    };
    return Object.keys(doc).length ? doc : undefined;
  }
}
