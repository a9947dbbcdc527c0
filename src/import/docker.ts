/**
 * Docker importers: Compose files (`importCompose`) and `docker inspect` output
 * of containers (`importDocker`).
 *
 * Containers are ordinary machines on a Linux bridge of the host that runs Docker
 * (`options.host`). What Docker sets up on that host for a bridge network, in the
 * topology language (Docker docs "Docker with iptables" and "Port publishing and
 * mapping", Docker Engine 28; semantics.md sections 4 and 6):
 * - the host has an interface on the bridge with the network's gateway address
 *   (`docker0` for the default bridge) and forwards (`ip_forward`);
 * - each published port is a DNAT rule in nat PREROUTING followed by an accept in
 *   the filter FORWARD chain: published ports never cross INPUT, so a host firewall
 *   that filters INPUT only (ufw) does not protect them (moby/moby#22054);
 * - FORWARD's policy is drop (Docker sets it when it enables forwarding); replies
 *   to containers, the containers' own traffic and published ports are accepted,
 *   anything else towards a bridge is dropped (other networks, direct routing);
 * - what a network sends out is masqueraded;
 * - docker-proxy (the userland proxy) listens on each published host port for the
 *   connections the DNAT does not catch (from the host itself to 127.0.0.1, and
 *   IPv6 relayed to an IPv4-only container).
 *
 * Both readers parse with the `yaml` package (JSON is YAML 1.2), so every value
 * has its position for diagnostics.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
import { diagnostic, type Code, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import {
  contains,
  formatEndpoint,
  formatIP,
  formatPrefix,
  isAny,
  parseCidr,
  parseIP,
  prefixOf,
  type IP,
  type Prefix,
} from "../net/addr.js";
import type { MachineDoc, NatRuleDoc, RouteDoc, RuleDoc, ServiceDoc } from "../topology/schema.js";
import type { Fragment, ImportOptions, ImportResult, Importer, Source } from "./types.js";

type Proto = "tcp" | "udp";

// ---------------------------------------------------------------------------
// Reading YAML (and JSON) with positions

interface Out {
  readonly diags: Diagnostic[];
  readonly notes: string[];
}

interface Entry {
  readonly key: string;
  readonly keyNode: unknown;
  readonly value: unknown;
}

/** One parsed source: node access that follows aliases and `<<` merge keys, and positions. */
class Reader {
  private readonly lc = new LineCounter();
  private readonly text: string;
  readonly doc: Document.Parsed;

  constructor(
    readonly src: Source,
    readonly out: Out,
  ) {
    // a byte order mark is not part of the first line's columns
    this.text = src.text.startsWith("\uFEFF") ? src.text.slice(1) : src.text;
    this.doc = parseDocument(this.text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
  }

  spanOf(offset: number): Span {
    const p = this.lc.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { file: this.src.file, line: Math.max(1, p.line), col: Math.max(1, p.col) };
  }

  span(node: unknown): Span {
    const range = node !== null && typeof node === "object" ? (node as { range?: readonly number[] }).range : undefined;
    return this.spanOf(range?.[0] ?? 0);
  }

  /** Syntax errors of the document as RCH055 (at most five); true when there were any. */
  syntaxErrors(what: string): boolean {
    for (const e of this.doc.errors.slice(0, 5)) {
      this.out.diags.push(
        diagnostic("RCH055", this.spanOf(e.pos[0]), `malformed ${what}: ${e.message.split("\n")[0]}`, {
          expected: `a well-formed ${what}`,
        }),
      );
    }
    return this.doc.errors.length > 0;
  }

  warn(node: unknown, message: string, expected: string): void {
    this.out.diags.push(diagnostic("RCH051", this.span(node), message, { expected, severity: "warning" }));
  }

  error(code: Code, node: unknown, message: string, expected: string): void {
    this.out.diags.push(diagnostic(code, this.span(node), message, { expected }));
  }

  /** The node an alias stands for (aliases of aliases too); undefined when it names no anchor. */
  deref(node: unknown): unknown {
    let n = node;
    for (let i = 0; i < 16 && isAlias(n); i++) n = n.resolve(this.doc);
    return n;
  }

  /**
   * A mapping's entries in file order, or undefined when the node is not a mapping.
   * `<<: *anchor` (YAML merge keys, common in Compose files) adds the anchored
   * mapping's entries that the mapping does not set itself; each mapping is merged
   * once (`seen`), so nested merges cannot blow up.
   */
  entries(node: unknown, seen = new Set<unknown>()): Entry[] | undefined {
    const m = this.deref(node);
    if (!isMap(m)) return undefined;
    seen.add(m);
    const own: Entry[] = [];
    const merged: Entry[] = [];
    for (const pair of m.items) {
      const k = this.deref(pair.key);
      if (!isScalar(k) || (typeof k.value !== "string" && typeof k.value !== "number")) {
        this.warn(pair.key ?? m, "a mapping key that is not a plain value", "keys that are strings");
        continue;
      }
      const key = String(k.value);
      if (key === "<<") {
        const v = this.deref(pair.value);
        for (const item of isSeq(v) ? v.items : [v]) {
          const target = this.deref(item);
          if (!seen.has(target)) merged.push(...(this.entries(target, seen) ?? []));
        }
        continue;
      }
      own.push({ key, keyNode: pair.key, value: pair.value });
    }
    const keys = new Set(own.map((e) => e.key));
    for (const e of merged) {
      if (!keys.has(e.key)) {
        keys.add(e.key);
        own.push(e);
      }
    }
    return own;
  }

  get(node: unknown, key: string): unknown {
    return this.entries(node)?.find((e) => e.key === key)?.value;
  }

  items(node: unknown): unknown[] | undefined {
    const s = this.deref(node);
    return isSeq(s) ? s.items : undefined;
  }

  /** A scalar's value (null for an empty value), or undefined when the node is not a scalar. */
  scalar(node: unknown): string | number | boolean | null | undefined {
    const s = this.deref(node);
    if (!isScalar(s)) return undefined;
    const v = s.value;
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v === null ? v : undefined;
  }

  string(node: unknown): string | undefined {
    const v = this.scalar(node);
    return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
  }
}

/** Compose interpolates `$VAR` and `${VAR}` from the environment; `$$` is a literal `$` (compose-spec "Interpolation"). */
function interpolates(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "$") continue;
    if (text[i + 1] === "$") i++;
    else return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Port syntax

/** One published or exposed container port. `hostPort` undefined: Docker picks the host port when the container starts. */
interface Mapping {
  readonly proto: Proto;
  readonly containerPort: number;
  readonly published: boolean;
  readonly hostIp?: IP;
  readonly hostPort?: number;
  readonly span: Span;
}

export interface PortSpec {
  readonly proto: string;
  /** undefined: every host address (0.0.0.0 and ::, or the network's default binding) */
  readonly hostIp?: string;
  /** undefined: not published, or published on a port Docker picks */
  readonly host?: { readonly lo: number; readonly hi: number };
  readonly container: { readonly lo: number; readonly hi: number };
}

function portRange(text: string): { lo: number; hi: number } | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? { lo, hi } : undefined;
}

/**
 * Compose's short syntax `[[IP:](HOSTPORT|RANGE):](PORT|RANGE)[/PROTO]`, split the
 * way Docker's own parser does (go-connections `nat.ParsePortSpec`): the last
 * field is the container port, the one before it the host port, everything before
 * that the host IP, so "::1:6000:6000" and "[::1]:6000:6000" both bind ::1. An
 * empty host port ("127.0.0.1::80") and a host range for one container port
 * ("8000-9000:80") leave the choice of the host port to Docker.
 */
export function parseShortPort(text: string): PortSpec | { error: string } {
  const parts = text.split(":");
  const n = parts.length;
  const container = parts[n - 1]!;
  const hostPort = n >= 2 ? parts[n - 2]! : "";
  let ip = n >= 3 ? parts.slice(0, n - 2).join(":") : "";
  const slash = container.indexOf("/");
  const cport = slash < 0 ? container : container.slice(0, slash);
  const proto = slash < 0 ? "tcp" : container.slice(slash + 1).toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(proto)) return { error: `protocol '${proto}' is not tcp, udp or sctp` };
  if (ip.startsWith("[")) {
    if (!ip.endsWith("]")) return { error: `host IP '${ip}' has no closing bracket` };
    ip = ip.slice(1, -1);
  }
  if (ip !== "" && !parseIP(ip)) return { error: `host IP '${ip}' is not an IP address` };
  const c = portRange(cport);
  if (!c) return { error: `container port '${cport}' is not a port 1-65535 or a range LO-HI` };
  if (hostPort === "") return { proto, container: c, ...(ip !== "" ? { hostIp: ip } : {}) };
  const h = portRange(hostPort);
  if (!h) return { error: `host port '${hostPort}' is not a port 1-65535 or a range LO-HI` };
  if (h.hi - h.lo !== c.hi - c.lo && c.lo !== c.hi)
    return { error: `host range ${hostPort} and container range ${cport} differ in length` };
  return { proto, container: c, host: h, ...(ip !== "" ? { hostIp: ip } : {}) };
}

/** More ports than this in one range are not expanded (each becomes a listener and rules). */
const MAX_RANGE = 100;

/** Spec -> mappings (one per port of a range); problems become diagnostics at `node`. */
function specMappings(r: Reader, node: unknown, spec: PortSpec, published: boolean, what: string): Mapping[] {
  if (spec.proto === "sctp") {
    r.warn(node, `${what}: SCTP ports are not modelled`, "tcp or udp ports");
    return [];
  }
  const count = spec.container.hi - spec.container.lo + 1;
  if (count > MAX_RANGE) {
    r.warn(node, `${what}: a range of ${count} ports is not imported`, `ranges of at most ${MAX_RANGE} ports`);
    return [];
  }
  const proto = spec.proto as Proto;
  const hostIp = spec.hostIp !== undefined ? parseIP(spec.hostIp) : undefined;
  const fixedHost = spec.host !== undefined && spec.host.hi - spec.host.lo === spec.container.hi - spec.container.lo;
  if (published && !fixedHost) {
    const where = spec.host ? `a free port of ${spec.host.lo}-${spec.host.hi}` : "a free port";
    r.warn(
      node,
      `${what}: Docker publishes it on ${where} it picks when the container starts; that host port is not imported (the container port is)`,
      'a fixed host port, e.g. "8080:80"',
    );
  }
  const span = r.span(node);
  const out: Mapping[] = [];
  for (let i = 0; i < count; i++) {
    const containerPort = spec.container.lo + i;
    const hostPort = published && fixedHost ? spec.host!.lo + i : undefined;
    out.push({ proto, containerPort, published, span, ...(hostIp ? { hostIp } : {}), ...(hostPort !== undefined ? { hostPort } : {}) });
  }
  return out;
}

/** Compose `ports:` entries, short and long syntax (compose-spec "ports"). */
function readPorts(r: Reader, list: unknown, service: string): Mapping[] {
  const items = r.items(list);
  if (!items) {
    r.warn(
      list,
      `ports of service '${service}' is not a list`,
      'ports: a list of "HOST:CONTAINER" strings or { target, published } mappings',
    );
    return [];
  }
  return items.flatMap((item) => {
    const v = r.scalar(item);
    if (typeof v === "number" || typeof v === "string") return shortPort(r, item, String(v), true, `port "${v}" of service '${service}'`);
    const entries = r.entries(item);
    if (entries) return longPort(r, item, entries, service);
    r.warn(
      item,
      `a port entry of service '${service}' that is neither a string nor a mapping`,
      'a "HOST:CONTAINER" string or a { target, published } mapping',
    );
    return [];
  });
}

function shortPort(r: Reader, node: unknown, text: string, published: boolean, what: string): Mapping[] {
  if (interpolates(text)) {
    r.warn(
      node,
      `${what} uses a variable that Compose takes from the environment`,
      "literal ports (reach does not read the environment or .env)",
    );
    return [];
  }
  if (!published && text.includes(":")) {
    r.error(
      "RCH012",
      node,
      `${what} is not a port: expose takes container ports only`,
      'a port or range with an optional protocol, e.g. "3000" or "8000-8010/udp"',
    );
    return [];
  }
  const spec = parseShortPort(text.trim().replaceAll("$$", "$"));
  if ("error" in spec) {
    const code: Code = spec.error.startsWith("host IP") ? "RCH010" : "RCH012";
    r.error(code, node, `${what}: ${spec.error}`, '[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], e.g. "127.0.0.1:8080:80"');
    return [];
  }
  return specMappings(r, node, spec, published, what);
}

const LONG_PORT_KEYS = new Set(["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"]);

/**
 * Long syntax: `{ target, published, host_ip, protocol, mode, name, app_protocol }`.
 * `mode` (host or ingress) only matters in a Swarm; `name` and `app_protocol` are labels.
 */
function longPort(r: Reader, node: unknown, entries: Entry[], service: string): Mapping[] {
  const get = (k: string) => entries.find((e) => e.key === k)?.value;
  for (const e of entries) {
    if (!LONG_PORT_KEYS.has(e.key) && !e.key.startsWith("x-"))
      r.warn(e.keyNode, `port key '${e.key}' of service '${service}'`, `one of ${[...LONG_PORT_KEYS].join(", ")}`);
  }
  const what = `port of service '${service}'`;
  const literal = (k: string): string | undefined => {
    const n = get(k);
    if (n === undefined || r.scalar(n) === null) return undefined;
    const s = r.string(n);
    if (s === undefined) {
      r.error("RCH012", n, `${k} of a ${what} is not a value`, `${k}: a number or string`);
      return "\u0000";
    }
    if (interpolates(s)) {
      r.warn(
        n,
        `${k} of a ${what} uses a variable that Compose takes from the environment`,
        "literal values (reach does not read the environment or .env)",
      );
      return "\u0000";
    }
    return s.replaceAll("$$", "$");
  };
  const target = literal("target");
  const published = literal("published");
  const hostIp = literal("host_ip");
  const protocol = literal("protocol");
  if ([target, published, hostIp, protocol].includes("\u0000")) return [];
  if (target === undefined) {
    r.error("RCH012", node, `a ${what} has no target`, "target: the container port");
    return [];
  }
  const c = /^\d+$/.test(target) ? portRange(target) : undefined;
  if (!c) {
    r.error("RCH012", get("target"), `target '${target}' of a ${what} is not a port`, "target: a port 1-65535");
    return [];
  }
  const h = published === undefined || published === "" ? undefined : portRange(published);
  if (published !== undefined && published !== "" && !h) {
    r.error(
      "RCH012",
      get("published"),
      `published '${published}' of a ${what} is not a port or range`,
      'published: a port 1-65535, or a range "LO-HI" for Docker to pick from',
    );
    return [];
  }
  const ip =
    hostIp === undefined || hostIp === "" ? undefined : hostIp.startsWith("[") && hostIp.endsWith("]") ? hostIp.slice(1, -1) : hostIp;
  if (ip !== undefined && !parseIP(ip)) {
    r.error("RCH010", get("host_ip"), `host_ip '${hostIp}' of a ${what} is not an IP address`, "host_ip: an IPv4 or IPv6 address");
    return [];
  }
  const proto = (protocol ?? "tcp").toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(proto)) {
    r.error("RCH004", get("protocol"), `protocol '${protocol}' of a ${what}`, "protocol: tcp or udp");
    return [];
  }
  const spec: PortSpec = { proto, container: c, ...(h ? { host: h } : {}), ...(ip !== undefined ? { hostIp: ip } : {}) };
  return specMappings(r, node, spec, true, `${what} (target ${target})`);
}

/** Compose `expose:` entries: container ports, not published. */
function readExpose(r: Reader, list: unknown, service: string): Mapping[] {
  const items = r.items(list);
  if (!items) {
    r.warn(list, `expose of service '${service}' is not a list`, 'expose: a list of ports, e.g. ["3000", "8000-8010/udp"]');
    return [];
  }
  return items.flatMap((item) => {
    const v = r.scalar(item);
    if (typeof v === "number" || typeof v === "string")
      return shortPort(r, item, String(v), false, `exposed port "${v}" of service '${service}'`);
    r.warn(item, `an expose entry of service '${service}' that is not a port`, 'a port or range, e.g. "3000"');
    return [];
  });
}

// ---------------------------------------------------------------------------
// The Docker host being built: networks, containers, host listeners

interface Net {
  /** The network's name as the input calls it (compose key, docker network name). */
  readonly name: string;
  readonly segment: string;
  /** The host's interface on the bridge; undefined when the host side is not known. */
  readonly bridge?: string;
  readonly subnet?: Prefix;
  readonly gateway?: IP;
  readonly subnet6?: Prefix;
  readonly gateway6?: IP;
  /** No forwarding in or out, no masquerade, no default route for its containers. */
  readonly internal: boolean;
  readonly masquerade: boolean;
  /** Default host address of published ports (driver option host_binding_ipv4). */
  readonly hostBinding?: IP;
}

interface Attach {
  readonly net: Net;
  readonly ifname: string;
  readonly addr?: IP;
  readonly addr6?: IP;
  readonly gwPriority: number;
}

interface Container {
  readonly name: string;
  readonly attaches: readonly Attach[];
  readonly ports: readonly Mapping[];
}

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
const hostAddr = (p: Prefix, k: bigint): IP => ({ v: p.v, n: p.n + k });
const cidr = (ip: IP, p: Prefix) => `${formatIP(ip)}/${p.len}`;
const IFNAME = /^[^\s/:]{1,15}$/;

class DockerHost {
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
    return listen.map((p) => assumedService(owner, p));
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
function gatewayAttach(c: Container): Attach | undefined {
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
  private readonly proxies: ServiceDoc[] = [];
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
        this.proxy(c.name, m, ip, explicit !== undefined);
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

  /** docker-proxy's listener on the host port. */
  private proxy(owner: string, m: Mapping, ip: IP, explicit: boolean): void {
    const where = explicit || ip.v === 6 ? formatEndpoint(ip, m.hostPort!) : String(m.hostPort);
    this.proxies.push({
      name: `docker-proxy ${where}/${m.proto} (relays to ${owner}:${m.containerPort})`,
      proto: m.proto,
      port: m.hostPort!,
      ...(explicit || ip.v === 6 ? { bind: formatIP(ip) } : {}),
      ...(ip.v === 6 && isAny(ip) ? { v6only: true } : {}),
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
        `docker-proxy on '${this.d.host}' listens on the published host ports (${this.proxied.join(", ")}) and relays what the DNAT does not translate (connections from '${this.d.host}' itself, e.g. to 127.0.0.1, and IPv6 to a container without IPv6) to the container; reach does not follow that relay.`,
      );
    }
    const services = [...this.d.hostServices, ...this.proxies];
    const doc: MachineDoc = {
      ...(Object.keys(interfaces).length ? { interfaces } : {}),
      ...(bridged.length ? { ip_forward: true, firewall: { forward: { policy: "drop", rules: forward } } } : {}),
      ...(nat.length ? { nat } : {}),
      ...(services.length ? { services } : {}),
    };
    return Object.keys(doc).length ? doc : undefined;
  }
}

// ---------------------------------------------------------------------------
// Compose

/** Top-level keys without network meaning here. */
const COMPOSE_IGNORED = new Set(["version", "name", "volumes", "configs", "secrets", "models"]);

interface NetDecl {
  readonly key: string;
  readonly node: unknown;
  /** Created by Compose as a bridge network reach can model. */
  readonly modelled: boolean;
  readonly internal: boolean;
  readonly subnet?: Prefix;
  readonly gateway?: IP;
  /** ipam ip_range: Docker allocates inside it; where exactly is not modelled. */
  readonly ipRange: boolean;
  readonly reserved: readonly IP[];
  readonly bridge?: string;
  readonly masquerade: boolean;
  readonly hostBinding?: IP;
}

interface SvcNet {
  readonly key: string;
  readonly node: unknown;
  readonly ipv4?: IP;
  /** Where ipv4_address is written. */
  readonly ipv4Node?: unknown;
  readonly gwPriority: number;
  readonly ifname?: string;
}

interface SvcDecl {
  /** The service's key under services: (depends_on names these). */
  readonly key: string;
  /** The machine name: container_name, or the key. */
  readonly name: string;
  readonly deps: readonly string[];
  readonly mode: "networks" | "bridge" | "host";
  readonly nets: readonly SvcNet[];
  readonly ports: readonly Mapping[];
}

/** Bridge driver options (Docker docs, bridge network driver "Options"). */
const BRIDGE_OPTS = {
  name: "com.docker.network.bridge.name",
  masquerade: "com.docker.network.bridge.enable_ip_masquerade",
  binding: "com.docker.network.bridge.host_binding_ipv4",
  mtu: "com.docker.network.driver.mtu",
  gatewayMode: "com.docker.network.bridge.gateway_mode_ipv4",
} as const;

function readNetworkDecl(r: Reader, key: string, node: unknown): NetDecl {
  const entries = r.scalar(node) === null ? [] : r.entries(node);
  const base = { key, node, ipRange: false, reserved: [] as IP[], masquerade: true, internal: false };
  if (!entries) {
    r.warn(node, `network '${key}' is not a mapping`, "a mapping of network options, or nothing");
    return { ...base, modelled: false };
  }
  let modelled = true;
  let internal = false;
  let subnet: Prefix | undefined;
  let gateway: IP | undefined;
  let ipRange = false;
  const reserved: IP[] = [];
  let bridge: string | undefined;
  let masquerade = true;
  let hostBinding: IP | undefined;
  for (const e of entries) {
    switch (e.key) {
      case "driver": {
        const d = r.string(e.value);
        if (d !== "bridge") {
          r.warn(e.value, `network '${key}' uses driver '${d ?? "?"}', which is not modelled`, "driver: bridge (the default)");
          modelled = false;
        }
        break;
      }
      case "external": {
        if (r.scalar(e.value) === false) break;
        r.warn(
          e.keyNode,
          `network '${key}' is external: Compose does not create it and its subnet is not in the Compose file; containers on it are imported without that network`,
          "networks the file creates (for the real addresses, import `docker inspect` of the containers with kind docker)",
        );
        modelled = false;
        break;
      }
      case "internal":
        internal = r.scalar(e.value) === true;
        break;
      case "enable_ipv6":
        if (r.scalar(e.value) === true)
          r.warn(
            e.value,
            `network '${key}' enables IPv6: IPv6 addresses and NAT of Compose networks are not imported (IPv4 is)`,
            "IPv4 networks (import `docker inspect` output for the addresses Docker assigned)",
          );
        break;
      case "driver_opts":
        for (const o of r.entries(e.value) ?? []) {
          const v = r.string(o.value);
          if (o.key === BRIDGE_OPTS.name && v !== undefined && IFNAME.test(v)) bridge = v;
          else if (o.key === BRIDGE_OPTS.masquerade && (v === "true" || v === "false")) masquerade = v === "true";
          // 0.0.0.0 as the default binding means every IPv4 and IPv6 address, as without the option
          else if (o.key === BRIDGE_OPTS.binding && v !== undefined && parseIP(v))
            hostBinding = isAny(parseIP(v)!) && parseIP(v)!.v === 4 ? undefined : parseIP(v);
          else if (o.key === BRIDGE_OPTS.mtu) continue;
          else if (o.key === BRIDGE_OPTS.gatewayMode && v === "nat") continue;
          else
            r.warn(
              o.keyNode,
              `driver option ${o.key}${v !== undefined ? `=${v}` : ""} of network '${key}'`,
              `${BRIDGE_OPTS.name}, ${BRIDGE_OPTS.masquerade}, ${BRIDGE_OPTS.binding} (an address), ${BRIDGE_OPTS.mtu}, ${BRIDGE_OPTS.gatewayMode}=nat`,
            );
        }
        break;
      case "ipam": {
        const ipam = readIpam(r, key, e.value);
        subnet = ipam.subnet;
        gateway = ipam.gateway;
        ipRange = ipam.ipRange;
        reserved.push(...ipam.reserved);
        break;
      }
      case "name":
      case "labels":
      case "attachable":
        break;
      default:
        if (!e.key.startsWith("x-"))
          r.warn(
            e.keyNode,
            `network key '${e.key}' of network '${key}'`,
            "driver, driver_opts, ipam, internal, external, enable_ipv6, name, labels, attachable",
          );
    }
  }
  return {
    ...base,
    modelled,
    internal,
    ipRange,
    reserved,
    masquerade,
    ...(subnet ? { subnet } : {}),
    ...(gateway ? { gateway } : {}),
    ...(bridge ? { bridge } : {}),
    ...(hostBinding ? { hostBinding } : {}),
  };
}

/** `ipam: { driver, config: [{ subnet, gateway, ip_range, aux_addresses }] }` (compose-spec "ipam"). */
function readIpam(r: Reader, key: string, node: unknown): { subnet?: Prefix; gateway?: IP; ipRange: boolean; reserved: IP[] } {
  let subnet: Prefix | undefined;
  let gateway: IP | undefined;
  let ipRange = false;
  const reserved: IP[] = [];
  for (const e of r.entries(node) ?? []) {
    if (e.key === "driver") {
      if (r.string(e.value) !== "default")
        r.warn(e.value, `IPAM driver '${r.string(e.value) ?? "?"}' of network '${key}' is not modelled`, "driver: default");
      continue;
    }
    if (e.key === "options") {
      r.warn(e.keyNode, `IPAM options of network '${key}'`, "ipam: { config: [{ subnet, gateway, aux_addresses }] }");
      continue;
    }
    if (e.key !== "config") continue;
    for (const c of r.items(e.value) ?? []) {
      const sText = r.string(r.get(c, "subnet"));
      const parsed = sText !== undefined ? parseCidr(sText) : undefined;
      const p = parsed ? prefixOf(parsed.ip, parsed.len) : undefined;
      if (sText === undefined || !parsed || !p || p.n !== parsed.ip.n) {
        r.error(
          "RCH011",
          r.get(c, "subnet") ?? c,
          `subnet '${sText ?? ""}' of network '${key}' is not a CIDR prefix`,
          "subnet: NETWORK/LEN with zero host bits, e.g. 172.28.0.0/16",
        );
        continue;
      }
      if (p.v === 6) {
        r.warn(r.get(c, "subnet"), `IPv6 subnet ${sText} of network '${key}' is not imported`, "IPv4 subnets");
        continue;
      }
      if (subnet) {
        r.warn(
          r.get(c, "subnet"),
          `a second IPv4 subnet ${sText} of network '${key}' is not imported`,
          "one IPv4 subnet per bridge network",
        );
        continue;
      }
      subnet = p;
      for (const x of r.entries(c) ?? []) {
        if (x.key === "gateway") {
          const g = parseIP(r.string(x.value) ?? "");
          if (!g || !contains(p, g))
            r.error(
              "RCH010",
              x.value,
              `gateway '${r.string(x.value) ?? ""}' of network '${key}' is not an address in ${sText}`,
              `an address inside ${sText}`,
            );
          else gateway = g;
        } else if (x.key === "ip_range") {
          r.warn(
            x.value,
            `ip_range of network '${key}': where Docker allocates inside it is not modelled; its containers without ipv4_address get no address here`,
            "ipv4_address on each service, or no ip_range",
          );
          ipRange = true;
        } else if (x.key === "aux_addresses") {
          for (const a of r.entries(x.value) ?? []) {
            const ip = parseIP(r.string(a.value) ?? "");
            if (ip) reserved.push(ip);
            else
              r.error(
                "RCH010",
                a.value,
                `aux address '${r.string(a.value) ?? ""}' of network '${key}' is not an IP address`,
                "an IPv4 address",
              );
          }
        } else if (x.key !== "subnet" && !x.key.startsWith("x-")) {
          r.warn(x.keyNode, `IPAM config key '${x.key}' of network '${key}'`, "subnet, gateway, ip_range, aux_addresses");
        }
      }
    }
  }
  return { ipRange, reserved, ...(subnet ? { subnet } : {}), ...(gateway ? { gateway } : {}) };
}

/** A service's `networks:` (a list of names, or a mapping of names to attachment options). */
function readServiceNetworks(r: Reader, service: string, node: unknown): SvcNet[] {
  const list = r.items(node);
  if (list) {
    return list.flatMap((item) => {
      const k = r.string(item);
      if (k === undefined) {
        r.warn(item, `a network of service '${service}' that is not a name`, "a network name");
        return [];
      }
      return [{ key: k, node: item, gwPriority: 0 }];
    });
  }
  const entries = r.entries(node);
  if (!entries) {
    r.warn(
      node,
      `networks of service '${service}' is neither a list nor a mapping`,
      "networks: [name, ...] or networks: { name: { ipv4_address } }",
    );
    return [];
  }
  return entries.map((e) => {
    let ipv4: IP | undefined;
    let ipv4Node: unknown;
    let gwPriority = 0;
    let ifname: string | undefined;
    for (const o of r.entries(e.value) ?? []) {
      const v = r.string(o.value);
      switch (o.key) {
        case "ipv4_address": {
          const ip = v !== undefined && !interpolates(v) ? parseIP(v) : undefined;
          if (!ip || ip.v !== 4)
            r.error(
              "RCH010",
              o.value,
              `ipv4_address '${v ?? ""}' of service '${service}' is not an IPv4 address`,
              "an IPv4 address inside the network's ipam subnet",
            );
          else {
            ipv4 = ip;
            ipv4Node = o.value;
          }
          break;
        }
        case "gw_priority": {
          const n = r.scalar(o.value);
          if (typeof n === "number" && Number.isInteger(n)) gwPriority = n;
          else r.warn(o.value, `gw_priority of service '${service}' is not an integer`, "gw_priority: an integer");
          break;
        }
        case "interface_name":
          if (v !== undefined && IFNAME.test(v) && v !== "lo") ifname = v;
          else
            r.warn(
              o.value,
              `interface_name '${v ?? ""}' of service '${service}' is not a Linux interface name`,
              "1 to 15 characters, no spaces, '/' or ':'",
            );
          break;
        case "aliases":
        case "priority":
        case "mac_address":
        case "driver_opts":
          // DNS names, interface order and link-layer details: no reachability meaning here
          break;
        case "ipv6_address":
        case "link_local_ips":
          r.warn(o.keyNode, `${o.key} of service '${service}' is not imported`, "ipv4_address");
          break;
        default:
          if (!o.key.startsWith("x-"))
            r.warn(
              o.keyNode,
              `network option '${o.key}' of service '${service}'`,
              "ipv4_address, gw_priority, interface_name, aliases, priority, mac_address",
            );
      }
    }
    if (e.value !== undefined && r.scalar(e.value) !== null && !r.entries(e.value))
      r.warn(
        e.value,
        `options of network '${e.key}' of service '${service}' are not a mapping`,
        "a mapping: { ipv4_address, gw_priority, interface_name }",
      );
    return { key: e.key, node: e.keyNode, gwPriority, ...(ipv4 ? { ipv4, ipv4Node } : {}), ...(ifname ? { ifname } : {}) };
  });
}

/** One service; undefined when it is left out (with a warning saying why). */
function readService(r: Reader, d: DockerHost, key: string, keyNode: unknown, node: unknown): SvcDecl | undefined {
  const entries = r.entries(node);
  if (!entries) {
    r.warn(keyNode, `service '${key}' is not a mapping`, "a mapping of service options");
    return undefined;
  }
  const get = (k: string) => entries.find((e) => e.key === k);
  const profiles = get("profiles");
  if (profiles && (r.items(profiles.value)?.length ?? 0) > 0) {
    r.warn(
      profiles.keyNode,
      `service '${key}' has profiles: Compose starts it only when one of them is enabled, so it is left out`,
      "services without profiles (or import the running containers with `docker inspect`)",
    );
    return undefined;
  }
  const cn = get("container_name");
  const named = cn ? r.string(cn.value) : undefined;
  if (cn && (named === undefined || interpolates(named)))
    r.warn(cn.value, `container_name of service '${key}' is not a literal name`, "a literal container name");
  const name = named !== undefined && !interpolates(named) ? named : key;
  if (d.names.has(name)) {
    r.warn(
      cn?.value ?? keyNode,
      `service '${key}' would be machine '${name}', a name already taken (Compose override files are not merged: import one file with everything)`,
      "unique service and container names across the imported files",
    );
    return undefined;
  }
  const ext = get("extends");
  if (ext)
    r.warn(
      ext.keyNode,
      `service '${key}' extends another service: the extended service's settings are not imported`,
      "services written out in full",
    );
  for (const count of [get("scale")?.value, r.get(get("deploy")?.value, "replicas")]) {
    const n = r.scalar(count);
    if (typeof n === "number" && n > 1)
      r.warn(count, `service '${key}' runs ${n} containers: one is imported`, "one container per service");
  }

  const ports = get("ports") ? readPorts(r, get("ports")!.value, key) : [];
  const exposed = get("expose") ? readExpose(r, get("expose")!.value, key) : [];
  const all = [...ports, ...exposed];
  const dependsOn = get("depends_on")?.value;
  const deps = (r.items(dependsOn) ?? []).flatMap((x) => r.string(x) ?? []).concat((r.entries(dependsOn) ?? []).map((e) => e.key));
  const base = { key, name, deps };
  const nm = get("network_mode");
  const networks = get("networks");
  if (nm) {
    const mode = r.string(nm.value);
    if (mode === "host") {
      if (ports.length)
        r.warn(
          get("ports")!.keyNode,
          `ports of service '${key}' are ignored by Docker with network_mode: host (the service listens on the host's own ports); imported as listeners on ${d.host}`,
          "expose, or no ports, with network_mode: host",
        );
      if (networks)
        r.warn(
          networks.keyNode,
          `networks of service '${key}' cannot be combined with network_mode: host`,
          "network_mode or networks, not both",
        );
      return { ...base, mode: "host", nets: [], ports: all };
    }
    if (mode === "bridge") {
      if (networks)
        r.warn(networks.keyNode, `networks of service '${key}' cannot be combined with network_mode`, "network_mode or networks, not both");
      return { ...base, mode: "bridge", nets: [], ports: all };
    }
    const why =
      mode === "none"
        ? "it has only a loopback interface"
        : mode?.startsWith("service:") || mode?.startsWith("container:")
          ? "it shares another container's network namespace"
          : "this mode is not modelled";
    r.warn(nm.value, `service '${key}' has network_mode: ${mode ?? "?"}: ${why}; left out`, "network_mode: host or bridge, or networks:");
    return undefined;
  }
  const nets = networks ? readServiceNetworks(r, key, networks.value) : [];
  return { ...base, mode: "networks", nets: nets.length ? nets : [{ key: "default", node: keyNode, gwPriority: 0 }], ports: all };
}

const DEFAULT_NET = "default";

function readCompose(r: Reader, d: DockerHost): void {
  if (r.syntaxErrors("YAML")) return;
  const top = r.entries(r.doc.contents);
  const looksLikeCompose = top?.some(
    (e) => e.key === "services" || e.key === "networks" || e.key.startsWith("x-") || COMPOSE_IGNORED.has(e.key),
  );
  if (!top || !looksLikeCompose) {
    const inspect = r.items(r.doc.contents) !== undefined;
    r.out.diags.push(
      diagnostic(
        "RCH050",
        r.span(r.doc.contents),
        inspect
          ? "this is a list, not a Compose file (docker inspect output is kind docker)"
          : "not a Compose file: no services: or networks: at the top level",
        {
          expected: "a Compose file (compose.yaml, docker-compose.yml) with services:",
        },
      ),
    );
    return;
  }
  for (const e of top) {
    if (e.key === "include")
      r.warn(
        e.keyNode,
        "include: the included Compose files are not imported",
        "one Compose file with everything (`docker compose config` prints it)",
      );
    else if (e.key !== "services" && e.key !== "networks" && !COMPOSE_IGNORED.has(e.key) && !e.key.startsWith("x-"))
      r.warn(e.keyNode, `top-level key '${e.key}'`, "services, networks, volumes, configs, secrets, name, version, x-*");
  }
  const decls = new Map<string, NetDecl>();
  const netsNode = top.find((e) => e.key === "networks")?.value;
  for (const e of r.entries(netsNode) ?? []) decls.set(e.key, readNetworkDecl(r, e.key, e.value));
  if (netsNode !== undefined && r.scalar(netsNode) !== null && !r.entries(netsNode))
    r.warn(netsNode, "networks is not a mapping", "networks: a mapping of network names to options");

  const svcs: SvcDecl[] = [];
  const svcNode = top.find((e) => e.key === "services")?.value;
  const svcEntries = r.entries(svcNode) ?? [];
  if (svcNode !== undefined && r.scalar(svcNode) !== null && !r.entries(svcNode))
    r.warn(svcNode, "services is not a mapping", "services: a mapping of service names to services");
  for (const e of svcEntries) {
    const s = readService(r, d, e.key, e.keyNode, e.value);
    if (!s) continue;
    d.names.add(s.name);
    svcs.push(s);
  }

  const nets = createNetworks(r, d, decls, svcs);
  placeContainers(r, d, svcs, nets);
}

/**
 * The networks Compose creates: the ones services use (`default` for a service
 * without networks:), the default network first, then the declared ones in file
 * order; each takes the next free default pool unless ipam sets its subnet.
 */
function createNetworks(r: Reader, d: DockerHost, decls: ReadonlyMap<string, NetDecl>, svcs: readonly SvcDecl[]): Map<string, Net> {
  const used = new Set<string>();
  for (const s of svcs) {
    for (const n of s.nets) {
      if (n.key !== DEFAULT_NET && !decls.has(n.key))
        r.warn(
          n.node,
          `service network '${n.key}' is not declared under networks:`,
          `one of ${[...decls.keys()].join(", ") || "the declared networks"}`,
        );
      else used.add(n.key);
    }
  }
  const order = [...(used.has(DEFAULT_NET) ? [DEFAULT_NET] : []), ...[...decls.keys()].filter((k) => k !== DEFAULT_NET && used.has(k))];
  const explicit = [...decls.values()].flatMap((x) => (x.subnet ? [x.subnet] : []));
  const nets = new Map<string, Net>();
  const assumed: string[] = [];
  let namedHere = false;
  for (const key of order) {
    const decl: NetDecl = decls.get(key) ?? {
      key,
      node: undefined,
      modelled: true,
      internal: false,
      ipRange: false,
      reserved: [],
      masquerade: true,
    };
    if (!decl.modelled) continue;
    const subnet = decl.subnet ?? d.nextPool(explicit);
    if (!subnet) {
      r.warn(decl.node, `network '${key}': Docker's default address pools are used up`, "ipam: { config: [{ subnet }] }");
      continue;
    }
    if (decl.subnet) d.takePool(subnet);
    else assumed.push(`'${key}' ${formatPrefix(subnet)}`);
    namedHere ||= decl.bridge === undefined;
    const net = d.addNet(
      {
        name: key,
        segment: d.segmentName(key),
        bridge: d.bridgeName(decl.bridge ?? `br-${key}`),
        subnet,
        gateway: decl.gateway ?? hostAddr(subnet, 1n),
        internal: decl.internal,
        masquerade: decl.masquerade,
        ...(decl.hostBinding ? { hostBinding: decl.hostBinding } : {}),
      },
      decl.reserved,
    );
    nets.set(key, net);
    if (decl.ipRange) ipRanged.add(net);
    if (decl.internal)
      d.note(
        `Network '${key}' is internal: its containers have no default route and nothing is forwarded in or out of it; the host keeps the gateway address on ${net.bridge} (Docker gives an internal bridge an address), and ports published only there have no effect.`,
      );
  }
  if (assumed.length) {
    d.note(
      `Subnets assumed from Docker's default address pools (the Compose file does not set them): ${assumed.join(", ")}. Docker hands out 172.18.0.0/16, 172.19.0.0/16, ... in the order networks are created; assumed: the default network first, then the declared networks in file order, and no other Docker network on the host. Check with \`docker network inspect\`.`,
    );
  }
  if (namedHere)
    d.note(
      `Bridge interfaces are named br-<network> here; Docker names them br-<first 12 hex digits of the network ID> unless driver option ${BRIDGE_OPTS.name} is set.`,
    );
  return nets;
}

/** Networks with an ipam ip_range: where Docker allocates inside it is not modelled. */
const ipRanged = new WeakSet<Net>();

/**
 * Containers and their addresses: every ipv4_address first (Docker needs an ipam
 * subnet for it), then the first free address for the others, in file order.
 * Services with network_mode: host become listeners of the host.
 */
function placeContainers(r: Reader, d: DockerHost, svcs: readonly SvcDecl[], nets: ReadonlyMap<string, Net>): void {
  const fixed = new Map<SvcNet, IP>();
  for (const s of svcs) {
    for (const sn of s.nets) {
      const n = nets.get(sn.key);
      if (!n || !sn.ipv4) continue;
      if (d.poolAssumed(n))
        r.warn(
          sn.ipv4Node,
          `ipv4_address of service '${s.name}' needs a subnet under ipam.config of network '${sn.key}' (Docker refuses it otherwise); the address is left out`,
          "ipam: { config: [{ subnet }] } on the network",
        );
      else if (!contains(n.subnet!, sn.ipv4))
        r.error(
          "RCH010",
          sn.ipv4Node,
          `ipv4_address ${formatIP(sn.ipv4)} of service '${s.name}' is outside network '${sn.key}' (${formatPrefix(n.subnet!)})`,
          `an address inside ${formatPrefix(n.subnet!)}`,
        );
      else if (!d.reserve(n, sn.ipv4))
        r.error(
          "RCH010",
          sn.ipv4Node,
          `ipv4_address ${formatIP(sn.ipv4)} of service '${s.name}' is already taken on network '${sn.key}'`,
          "a free address of the network",
        );
      else fixed.set(sn, sn.ipv4);
    }
  }
  // Addresses are handed out as containers start: dependencies first (depends_on), otherwise file order.
  const addrs = new Map<SvcDecl, Map<Net, IP | undefined>>();
  const assigned = new Map<Net, string[]>();
  for (const s of startOrder(svcs)) {
    const m = new Map<Net, IP | undefined>();
    addrs.set(s, m);
    const joined =
      s.mode === "bridge"
        ? [{ n: d.defaultBridge(), sn: undefined }]
        : s.nets.flatMap((sn) => (nets.get(sn.key) ? [{ n: nets.get(sn.key)!, sn }] : []));
    for (const { n, sn } of joined) {
      if (sn && fixed.has(sn)) {
        m.set(n, fixed.get(sn));
        continue;
      }
      const addr = sn?.ipv4 || ipRanged.has(n) ? undefined : d.allocate(n);
      m.set(n, addr);
      (assigned.get(n) ?? assigned.set(n, []).get(n)!).push(`${s.name} ${addr ? formatIP(addr) : "unknown"}`);
    }
  }
  for (const s of svcs) {
    if (s.mode === "host") {
      d.hostServices.push(...d.listeners(s.name, s.ports, d.host));
      continue;
    }
    const attaches: Attach[] = [];
    for (const [n, addr] of addrs.get(s)!) {
      const sn = s.nets.find((x) => nets.get(x.key) === n);
      const ifname = sn?.ifname ?? `eth${attaches.length}`;
      if (attaches.some((a) => a.ifname === ifname))
        r.warn(sn?.node, `interface ${ifname} of service '${s.name}' is used twice`, "unique interface_name per service");
      else attaches.push({ net: n, ifname, gwPriority: sn?.gwPriority ?? 0, ...(addr ? { addr } : {}) });
    }
    const c: Container = { name: s.name, attaches, ports: s.ports };
    d.containers.push(c);
    if (attaches.filter((a) => !a.net.internal).length > 1)
      d.note(
        `${s.name}'s default route is assumed to go through '${gatewayAttach(c)?.net.name ?? "?"}' (libnetwork: highest gw_priority, then network name); its published ports are translated to its address there.`,
      );
  }
  for (const [n, list] of assigned) {
    d.note(
      `Container addresses on '${n.name}' are assumed: Docker gives the first free address (.2, .3, ...) in the order containers start; assumed: dependencies (depends_on) first, otherwise file order (${list.join(", ")}).`,
    );
  }
  if (d.containers.some((c) => c.attaches.some((a) => a.addr === undefined)))
    d.note("Containers whose address is not known have `addresses: []` on that network.");
}

/** Services in the order Compose starts them: each after what it depends_on, otherwise in file order (a cycle keeps file order). */
function startOrder(svcs: readonly SvcDecl[]): SvcDecl[] {
  const keys = new Set(svcs.map((s) => s.key));
  const done = new Set<string>();
  const out: SvcDecl[] = [];
  while (out.length < svcs.length) {
    const next =
      svcs.find((s) => !done.has(s.key) && s.deps.every((x) => done.has(x) || !keys.has(x) || x === s.key)) ??
      svcs.find((s) => !done.has(s.key))!;
    done.add(next.key);
    out.push(next);
  }
  return out;
}

// ---------------------------------------------------------------------------
// docker inspect

/** `"80/tcp"` (a key of Config.ExposedPorts and NetworkSettings.Ports). */
function portKey(text: string): { port: number; proto: string } | undefined {
  const m = /^(\d{1,5})\/(tcp|udp|sctp)$/.exec(text);
  const port = m ? Number(m[1]) : 0;
  return m && port >= 1 && port <= 65535 ? { port, proto: m[2]! } : undefined;
}

/** What one container of `docker inspect` says about one network it is on. */
interface Endpoint {
  readonly name: string;
  readonly node: unknown;
  readonly subnet?: Prefix;
  readonly addr?: IP;
  readonly gateway?: IP;
  readonly subnet6?: Prefix;
  readonly addr6?: IP;
  readonly gateway6?: IP;
  readonly id?: string;
  readonly gwPriority: number;
}

function readEndpoint(r: Reader, container: string, name: string, node: unknown): Endpoint | undefined {
  const str = (k: string) => r.string(r.get(node, k)) ?? "";
  const num = (k: string) => {
    const v = r.scalar(r.get(node, k));
    return typeof v === "number" ? v : undefined;
  };
  const ip = (k: string, v: 4 | 6) => {
    const text = str(k);
    if (text === "") return undefined;
    const a = parseIP(text);
    if (!a || a.v !== v) {
      r.error(
        "RCH010",
        r.get(node, k),
        `${k} '${text}' of ${container} on network '${name}' is not an IPv${v} address`,
        `an IPv${v} address`,
      );
      return undefined;
    }
    return a;
  };
  const pfx = (a: IP | undefined, k: string) => {
    if (!a) return undefined;
    const len = num(k);
    if (len === undefined || !Number.isInteger(len) || len < 1 || len > (a.v === 4 ? 32 : 128)) {
      r.error(
        "RCH011",
        r.get(node, k) ?? node,
        `${k} of ${container} on network '${name}' is not a prefix length`,
        `a length 1-${a.v === 4 ? 32 : 128}`,
      );
      return undefined;
    }
    return prefixOf(a, len);
  };
  const addr = ip("IPAddress", 4);
  const addr6 = ip("GlobalIPv6Address", 6);
  const subnet = pfx(addr, "IPPrefixLen");
  const subnet6 = pfx(addr6, "GlobalIPv6PrefixLen");
  const gateway = ip("Gateway", 4);
  const gateway6 = ip("IPv6Gateway", 6);
  if (!subnet && !subnet6) {
    // a bad address or length is reported already
    if (str("IPAddress") === "" && str("GlobalIPv6Address") === "")
      r.warn(
        node,
        `${container} has no address on network '${name}'; that network is not imported for it`,
        "IPAddress and IPPrefixLen (a running container on a bridge network)",
      );
    return undefined;
  }
  const id = str("NetworkID");
  return {
    name,
    node,
    gwPriority: num("GwPriority") ?? 0,
    ...(subnet && addr ? { subnet, addr } : {}),
    ...(subnet6 && addr6 ? { subnet6, addr6 } : {}),
    ...(gateway && subnet && contains(subnet, gateway) ? { gateway } : {}),
    ...(gateway6 && subnet6 && contains(subnet6, gateway6) ? { gateway6 } : {}),
    ...(id ? { id } : {}),
  };
}

const samePrefix = (a?: Prefix, b?: Prefix) =>
  (a === undefined && b === undefined) || (a !== undefined && b !== undefined && a.v === b.v && a.n === b.n && a.len === b.len);
const sameAddr = (a?: IP, b?: IP) =>
  (a === undefined && b === undefined) || (a !== undefined && b !== undefined && a.v === b.v && a.n === b.n);

/** The network an endpoint is on: created at its first container, checked against it at the others. */
function inspectNet(r: Reader, d: DockerHost, container: string, ep: Endpoint): Net | undefined {
  const found = d.nets.find((n) => n.name === ep.name);
  if (found) {
    if (
      samePrefix(found.subnet, ep.subnet) &&
      sameAddr(found.gateway, ep.gateway) &&
      samePrefix(found.subnet6, ep.subnet6) &&
      sameAddr(found.gateway6, ep.gateway6)
    )
      return found;
    r.warn(
      ep.node,
      `${container} sees network '${ep.name}' with another subnet or gateway than an earlier container; this attachment is left out`,
      "one subnet and gateway per network (inspect all containers at the same time)",
    );
    return undefined;
  }
  const hostSide = ep.gateway !== undefined || ep.gateway6 !== undefined;
  if (!hostSide)
    d.note(
      `Network '${ep.name}' has no gateway in docker inspect (an internal network, or not a bridge): the host's side of it is not imported, and its containers only reach each other.`,
    );
  // Docker names a user network's bridge br-<first 12 hex digits of the network ID>
  const bridge = !hostSide
    ? undefined
    : ep.name === "bridge"
      ? "docker0"
      : ep.id && /^[0-9a-f]{12}/.test(ep.id)
        ? `br-${ep.id.slice(0, 12)}`
        : `br-${ep.name}`;
  return d.addNet({
    name: ep.name,
    segment: d.segmentName(ep.name),
    ...(bridge ? { bridge: d.bridgeName(bridge) } : {}),
    ...(ep.subnet ? { subnet: ep.subnet } : {}),
    ...(ep.gateway ? { gateway: ep.gateway } : {}),
    ...(ep.subnet6 ? { subnet6: ep.subnet6 } : {}),
    ...(ep.gateway6 ? { gateway6: ep.gateway6 } : {}),
    internal: !hostSide,
    masquerade: hostSide,
  });
}

/**
 * NetworkSettings.Ports: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}] | null}`
 * (null: exposed, not published); `requested`: HostConfig.PortBindings instead, the
 * same shape, where an empty HostPort asks Docker to pick one.
 */
function inspectPorts(r: Reader, container: string, node: unknown, exposed: unknown, requested: boolean): Mapping[] {
  const out: Mapping[] = [];
  const add = (m: Mapping) => out.push(m);
  const key = (e: Entry) => {
    const k = portKey(e.key);
    if (!k) r.warn(e.keyNode, `port '${e.key}' of ${container}`, 'PORT/PROTO, e.g. "80/tcp"');
    else if (k.proto === "sctp") r.warn(e.keyNode, `${container}: SCTP port ${e.key} is not modelled`, "tcp or udp ports");
    return k && k.proto !== "sctp" ? { port: k.port, proto: k.proto as Proto } : undefined;
  };
  for (const e of r.entries(exposed) ?? []) {
    const k = key(e);
    if (k) add({ proto: k.proto, containerPort: k.port, published: false, span: r.span(e.keyNode) });
  }
  for (const e of r.entries(node) ?? []) {
    const k = key(e);
    if (!k) continue;
    add({ proto: k.proto, containerPort: k.port, published: false, span: r.span(e.keyNode) });
    for (const b of r.items(e.value) ?? []) {
      const hostIpText = r.string(r.get(b, "HostIp")) ?? "";
      const hostPortText = r.string(r.get(b, "HostPort")) ?? "";
      const hostIp = hostIpText === "" ? undefined : parseIP(hostIpText);
      if (hostIpText !== "" && !hostIp) {
        r.error("RCH010", r.get(b, "HostIp"), `HostIp '${hostIpText}' of ${container} is not an IP address`, "an IPv4 or IPv6 address");
        continue;
      }
      if (hostPortText === "") {
        const why = requested ? "Docker picks the host port when the container starts" : "routed gateway mode: reachable by direct routing";
        r.warn(
          b,
          `${container}: port ${e.key} has no host port on ${hostIpText || "every address"} (${why}), which is not imported`,
          "a HostPort",
        );
        continue;
      }
      const hostPort = /^\d{1,5}$/.test(hostPortText) ? Number(hostPortText) : 0;
      if (hostPort < 1 || hostPort > 65535) {
        r.error("RCH012", r.get(b, "HostPort"), `HostPort '${hostPortText}' of ${container} is not a port`, "a port 1-65535");
        continue;
      }
      add({ proto: k.proto, containerPort: k.port, published: true, hostPort, span: r.span(b), ...(hostIp ? { hostIp } : {}) });
    }
  }
  return out;
}

function readInspectContainer(r: Reader, d: DockerHost, node: unknown): void {
  const rawName = r.string(r.get(node, "Name"));
  if (!rawName) {
    r.warn(node, "a container without a Name", 'Name: "/web"');
    return;
  }
  const name = rawName.replace(/^\//, "");
  if (d.names.has(name)) {
    r.warn(r.get(node, "Name"), `container name '${name}' is already taken`, "each container once, and not named like the host");
    return;
  }
  const state = r.get(node, "State");
  if (r.scalar(r.get(state, "Running")) === false) {
    r.warn(r.get(state, "Running"), `${name} is not running: it has no network, so it is left out`, "running containers");
    return;
  }
  const settings = r.get(node, "NetworkSettings");
  const hostConfig = r.get(node, "HostConfig");
  const portsNode = r.get(settings, "Ports");
  const runtimePorts = r.entries(portsNode)?.length ? portsNode : undefined;
  if (!runtimePorts && r.entries(r.get(hostConfig, "PortBindings"))?.length)
    d.note(`${name}: NetworkSettings.Ports is empty, so the requested HostConfig.PortBindings are used.`);
  const ports = inspectPorts(
    r,
    name,
    runtimePorts ?? r.get(hostConfig, "PortBindings"),
    r.get(r.get(node, "Config"), "ExposedPorts"),
    !runtimePorts,
  );
  d.names.add(name);
  const mode = r.string(r.get(hostConfig, "NetworkMode")) ?? "default";
  if (mode === "host") {
    d.hostServices.push(...d.listeners(name, ports, d.host));
    return;
  }
  if (mode === "none" || mode.startsWith("container:")) {
    r.warn(
      r.get(hostConfig, "NetworkMode"),
      `${name} has network mode ${mode}: ${mode === "none" ? "it has only a loopback interface" : "it shares another container's network namespace"}; left out`,
      "bridge networks or host",
    );
    return;
  }
  const attaches: Attach[] = [];
  for (const e of r.entries(r.get(settings, "Networks")) ?? []) {
    const ep = readEndpoint(r, name, e.key, e.value);
    const net = ep ? inspectNet(r, d, name, ep) : undefined;
    if (!ep || !net) continue;
    attaches.push({
      net,
      ifname: `eth${attaches.length}`,
      gwPriority: ep.gwPriority,
      ...(ep.addr ? { addr: ep.addr } : {}),
      ...(ep.addr6 ? { addr6: ep.addr6 } : {}),
    });
  }
  d.containers.push({ name, attaches, ports });
  if (attaches.length > 1)
    d.note(
      `${name}: interfaces eth0, eth1, ... follow the order docker inspect lists its networks; its default route is assumed to go through '${gatewayAttach({ name, attaches, ports: [] })?.net.name ?? "?"}' (libnetwork: highest GwPriority, then network name).`,
    );
}

function readInspect(r: Reader, d: DockerHost): void {
  if (r.syntaxErrors("JSON")) return;
  const root = r.deref(r.doc.contents);
  const looksLike = (n: unknown) => r.get(n, "NetworkSettings") !== undefined || r.get(n, "HostConfig") !== undefined;
  const list = isSeq(root) ? root.items : isMap(root) && looksLike(root) ? [root] : undefined;
  if (!list || (list.length > 0 && !list.some(looksLike))) {
    const network = list?.some((n) => r.get(n, "IPAM") !== undefined) ?? false;
    const compose = isMap(root) && r.get(root, "services") !== undefined;
    const why = network
      ? "this is `docker network inspect` output"
      : compose
        ? "this is a Compose file (kind compose)"
        : "not `docker inspect` output of containers";
    r.out.diags.push(
      diagnostic("RCH050", r.span(root), why, {
        expected: "the JSON array `docker inspect CONTAINER...` prints (objects with Name, Config, HostConfig, NetworkSettings)",
      }),
    );
    return;
  }
  for (const c of list) {
    if (!looksLike(c)) r.warn(c, "an entry without NetworkSettings or HostConfig", "container objects as docker inspect prints them");
    else readInspectContainer(r, d, c);
  }
}

// ---------------------------------------------------------------------------
// The importers

function run(sources: readonly Source[], options: ImportOptions, read: (r: Reader, d: DockerHost) => void, summary: string): ImportResult {
  const out: Out = { diags: [], notes: [] };
  const d = new DockerHost(options.host, out);
  for (const src of sources) read(new Reader(src, out), d);
  const published = d.containers.some((c) => c.ports.some((m) => m.published && m.hostPort !== undefined));
  const first = !published
    ? d.nets.length
      ? [summary]
      : []
    : [
        `${summary} Published ports are DNAT in nat PREROUTING on '${options.host}' and then cross the filter FORWARD chain, not INPUT: a host firewall that filters only INPUT (ufw's default) does not protect them.`,
        "Docker 28 also drops packets routed straight to a container's address from outside the host (raw table); that is not modelled, and matters only for machines with a route to the container subnets.",
      ];
  out.notes.unshift(...first);
  return { fragment: d.fragment(), diagnostics: out.diags };
}

/** `docker compose` files (compose-spec): services, networks, ports, expose, network_mode. */
export const importCompose: Importer = (sources, options) =>
  run(
    sources,
    options,
    readCompose,
    `Docker Compose: each container is a machine on a Linux bridge of '${options.host}', which forwards and masquerades for it (Docker Engine 28 behaviour).`,
  );

/** `docker inspect CONTAINER...` JSON: the addresses, networks and port bindings Docker really assigned. */
export const importDocker: Importer = (sources, options) =>
  run(
    sources,
    options,
    readInspect,
    `docker inspect: each container is a machine on a Linux bridge of '${options.host}', which forwards and masquerades for it (Docker Engine 28 behaviour).`,
  );
