/**
 * Semantic checks of a shape-valid topology: addresses, prefixes and ports parse;
 * every name refers to something that exists; no duplicates; addresses sit in
 * their segment's subnet; no two listeners claim one host address and port.
 * Every problem becomes a Diagnostic at the offending node; all are collected.
 */
import { diagnostic, type Code, type Diagnostic } from "../diagnostics/diagnostic.js";
import {
  contains,
  formatIP,
  isAny,
  isLinkLocal6,
  isLoopback,
  isMapped,
  isMulticast,
  parseCidr,
  parseIP,
  parseMatchPrefix,
  prefixOf,
  sameIP,
  unmap,
  type IP,
  type Prefix,
} from "../net/addr.js";
import { parseQuery } from "../ir/query.js";
import { routeMetric } from "../ir/types.js";
import { parsePort, parsePortRange, parseServicePort } from "../net/port.js";
import type { Locator, Path } from "./load.js";
import {
  LOCAL_NONLOOPBACK,
  type AdapterDoc,
  type ForwardDoc,
  type MachineDoc,
  type Negatable,
  type RuleDoc,
  type TopologyDoc,
} from "./schema.js";
import {
  adapterInterfaceName,
  DEFAULT_NATNETWORK,
  engineNames,
  FIRST_UNPRIVILEGED_PORT,
  hostInNet,
  hostOnlyDefault,
  NAT_GUEST,
  natAdapterNetwork,
  natGuest6,
  natIpv6Network,
  natIpv6On,
} from "./vbox.js";

/** A checked topology: the document, and where each of its nodes is. */
export interface Topology {
  readonly doc: TopologyDoc;
  readonly loc: Locator;
}

/**
 * A name looked up in a mapping of the file: only its own keys (a name like `__proto__` or
 * `constructor` must not find Object.prototype's members, which let a bridge to `__proto__` through).
 */
export function own<T>(rec: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return rec !== undefined && Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** A Linux interface name: 1 to 15 characters (IFNAMSIZ), no spaces, '/' or ':'. */
const IFNAME = /^[^\s/:]{1,15}$/;

export function parseSegmentSubnets(seg: string | { subnets: string[] }): string[] {
  return typeof seg === "string" ? [seg] : seg.subnets;
}

/** Something that holds a host's protocol, address and port: a service or a port forward. */
interface Listener {
  readonly proto: string;
  readonly ip: IP;
  readonly port: number;
  readonly v6only: boolean;
  readonly path: Path;
  readonly what: string;
}

/** Linux refuses overlapping binds on one port: same address, a wildcard of the family, or `::` dual-stack vs IPv4. */
// An IPv4-mapped bind (::ffff:a.b.c.d) clashes as IPv4 a.b.c.d does, so not with a v6only :: (ipv6_rcv_saddr_equal)
function asBound(x: { ip: IP; v6only: boolean }): { ip: IP; v6only: boolean } {
  return isMapped(x.ip) ? { ip: unmap(x.ip), v6only: false } : x;
}
function overlaps(a0: { ip: IP; v6only: boolean }, b0: { ip: IP; v6only: boolean }): boolean {
  const [a, b] = [asBound(a0), asBound(b0)];
  return a.ip.v === b.ip.v
    ? sameIP(a.ip, b.ip) || isAny(a.ip) || isAny(b.ip)
    : [a, b].some((x) => x.ip.v === 6 && isAny(x.ip) && !x.v6only);
}

/**
 * Where a diagnostic would point: a path, or a function that makes it. A large file's plainly
 * valid values report nothing, so their paths are made only for a diagnostic (a spread path is
 * about 240 bytes; 10,000 routes and services made about 30 MB of them).
 */
type At = Path | (() => Path);
const pathOf = (at: At): Path => (typeof at === "function" ? at() : at);

/** The diagnostics found so far, the value parsers that report, and what the stages share. */
class Checker {
  readonly diags: Diagnostic[] = [];
  /** Segment name -> its subnets that parse. */
  readonly segments = new Map<string, Prefix[]>();
  /** NAT network name -> its prefix, when it is a valid one. */
  readonly natnets = new Map<string, Prefix>();
  /** "segment address" -> first place it was seen, per segment (after VirtualBox defaults). */
  private readonly used = new Map<string, Path>();
  /** Host machine -> its listeners (services, forwards). */
  private readonly listeners = new Map<string, Listener[]>();
  /** The machines, name and value, in file order: walked by several stages (one Object.entries of 10,000 machines takes milliseconds). */
  readonly machines: readonly (readonly [string, MachineDoc])[];
  constructor(
    readonly doc: TopologyDoc,
    readonly loc: Locator,
  ) {
    this.machines = Object.entries(doc.machines);
  }

  /** An address on a segment, once per segment. */
  claim(segment: string, ip: IP, path: Path): void {
    const key = `${segment} ${formatIP(ip)}`;
    const first = this.used.get(key);
    if (first) {
      this.diags.push(
        diagnostic("RCH033", this.loc.at(path), `address ${formatIP(ip)} is already used on segment '${segment}'`, {
          expected: "each address once per segment",
          related: [{ message: "first used here", span: this.loc.at(first) }],
        }),
      );
    } else this.used.set(key, path);
  }

  /** A listener on `host`, unless one it overlaps holds the port already (the second bind fails). */
  listen(host: string, proto: string, ip: IP, port: number, path: Path, what: string, v6only = false): void {
    const list = this.listeners.get(host) ?? [];
    const clash = list.find((l) => l.proto === proto && l.port === port && overlaps(l, { ip, v6only }));
    if (clash) {
      this.diags.push(
        diagnostic(
          "RCH032",
          this.loc.at(path),
          `${what} listens on ${proto} ${formatIP(ip)}:${port} of '${host}', which ${clash.what} already holds`,
          {
            expected: "a different host port or host address (the second bind fails with EADDRINUSE)",
            related: [{ message: `${clash.what} is here`, span: this.loc.at(clash.path) }],
          },
        ),
      );
    } else list.push({ proto, ip, port, v6only, path, what });
    this.listeners.set(host, list);
  }

  err(code: Code, at: At, message: string, expected?: string, onKey = false): void {
    const path = pathOf(at);
    this.diags.push(diagnostic(code, onKey ? this.loc.key(path) : this.loc.at(path), message, { expected }));
  }
  warn(code: Code, at: At, message: string, expected?: string): void {
    this.diags.push(diagnostic(code, this.loc.at(pathOf(at)), message, { expected, severity: "warning" }));
  }

  /** VirtualBox --natpf / --port-forward-4 take IPv4 addresses only. */
  ip4(text: string, path: At, what: string): IP | undefined {
    const ip = this.ip(text, path, what);
    if (ip && ip.v !== 4) {
      this.err(
        "RCH010",
        path,
        `${what} '${text}' is IPv6, but VirtualBox NAT port forwards are IPv4 only (an IPv6 host IP does not give an IPv6 listener: hashicorp/vagrant#10782)`,
        "an IPv4 address, or empty for every host IPv4 address",
      );
      return undefined;
    }
    return ip;
  }
  ip(text: string, path: At, what: string): IP | undefined {
    const ip = parseIP(text);
    if (!ip) this.err("RCH010", path, `${what} '${text}' is not an IP address`, "an IPv4 or IPv6 address, e.g. 192.168.1.10 or fd00::1");
    return ip;
  }
  ifaddr(text: string, path: At): { ip: IP; len: number } | undefined {
    const c = parseCidr(text);
    if (!c) {
      this.err(
        "RCH011",
        path,
        `'${text}' is not an interface address with a prefix length`,
        "ADDRESS/LEN, e.g. 192.168.1.10/24 or fd00::10/64",
      );
      return undefined;
    }
    // what the kernel refuses on an interface (EADDRNOTAVAIL): unspecified, multicast, ::1 off lo
    const bad = isAny(c.ip)
      ? "the unspecified address"
      : isMulticast(c.ip)
        ? "a multicast address"
        : c.ip.v === 6 && isLoopback(c.ip)
          ? "::1, which belongs to lo"
          : undefined;
    if (bad) {
      this.err(
        "RCH010",
        path,
        `'${text}' is ${bad}; the kernel refuses it on an interface`,
        "a unicast address of the interface's network",
      );
      return undefined;
    }
    return c;
  }
  prefix(text: string, path: At, what: string): Prefix | undefined {
    const p = parseMatchPrefix(text);
    if (!p) {
      const c = parseCidr(text);
      const hostBits = c ? ` (host bits set: did you mean ${formatIP(prefixOf(c.ip, c.len))}/${c.len}?)` : "";
      this.err(
        "RCH011",
        path,
        `${what} '${text}' is not a CIDR prefix${hostBits}`,
        "an address or NETWORK/LEN with zero host bits, e.g. 10.0.0.0/8",
      );
    }
    return p;
  }
  port(v: number | string, path: At, what: string): number | undefined {
    const p = parsePort(v);
    if (p === undefined) this.err("RCH012", path, `${what} ${JSON.stringify(v)} is not a port`, "an integer from 1 to 65535");
    return p;
  }
  /** Port texts that parse (a large file repeats a few thousand times). */
  private readonly goodRanges = new Set<number | string>();
  /** Whether a port or port range parses (remembered). */
  goodRange(v: number | string): boolean {
    if (this.goodRanges.has(v)) return true;
    if (!parsePortRange(v)) return false;
    this.goodRanges.add(v);
    return true;
  }
  portRange(v: number | string, path: At, what: string): void {
    if (!this.goodRange(v))
      this.err(
        "RCH012",
        path,
        `${what} ${JSON.stringify(v)} is not a port or port range`,
        'a port 0-65535 or a range "LO-HI" with LO <= HI',
      );
  }
}

/** Interface names a machine will have after lowering (declared, VM adapters, host-only nets, lo). */
export function interfaceNames(doc: TopologyDoc, name: string): Set<string> {
  const m = own(doc.machines, name);
  const names = new Set<string>(["lo"]);
  if (!m) return names;
  for (const i of Object.keys(m.interfaces ?? {})) names.add(i);
  m.vm?.adapters.forEach((a, slot) => {
    if (a.mode !== "none") names.add(adapterInterfaceName(a, slot));
  });
  for (const h of Object.keys(m.hostonly ?? {})) names.add(h);
  for (const other of vmsOn(doc, name)) {
    for (const a of other.vm!.adapters) if (a.mode === "hostonly") names.add(a.network ?? "vboxnet0");
  }
  return names;
}

const vmIndex = new WeakMap<TopologyDoc, Map<string, MachineDoc[]>>();
/** The VMs placed on a host (indexed once per document: big files have thousands of machines). */
export function vmsOn(doc: TopologyDoc, host: string): readonly MachineDoc[] {
  let index = vmIndex.get(doc);
  if (!index) {
    index = new Map();
    for (const m of Object.values(doc.machines)) {
      if (!m.vm) continue;
      const list = index.get(m.vm.on) ?? [];
      list.push(m);
      index.set(m.vm.on, list);
    }
    vmIndex.set(doc, index);
  }
  return index.get(host) ?? [];
}

/**
 * The checks, in stages: segments, NAT networks, then each machine (interfaces, host-only
 * networks, VM placement and adapters, routes, services and binds, firewall and NAT, router),
 * then the names the lowering reserves, then the expectations. The order is the order of the
 * diagnostics before sorting (the loader sorts them stably by position and code).
 */
export function checkTopology(doc: TopologyDoc, loc: Locator): { topology?: Topology; diagnostics: Diagnostic[] } {
  const c = new Checker(doc, loc);
  checkSegments(c);
  checkNatNetworks(c);
  for (let i = 0; i < c.machines.length; i++) checkMachine(c, c.machines[i]![0], c.machines[i]![1]);
  checkReservedNames(c);
  checkExpectList(c, doc);
  return { topology: { doc, loc }, diagnostics: c.diags };
}

/**
 * How many of each element a topology may have (docs/topology.md "Limits"): the lowering and
 * the simulator walk every rule of a chain for every packet they try, so a chain of a million
 * rules (a few MB with aliases) costs minutes; every expectation is at least one question.
 */
export const SIZE_LIMITS = {
  machines: 50_000,
  /** rules of one firewall chain, NAT rules of one machine */
  rulesPerChain: 10_000,
  /** entries of any other list of a machine (interfaces, addresses, routes, services, adapters, forwards) */
  listEntries: 10_000,
  expectations: 10_000,
} as const;

/**
 * The element counts of a document before its shape is checked (it may be malformed: only lists
 * and mappings that are there are counted), as RCH006 at the list that is too long.
 */
export function sizeDiagnostics(raw: unknown, loc: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  const count = (v: unknown) => (Array.isArray(v) ? v.length : v !== null && typeof v === "object" ? Object.keys(v).length : 0);
  // each list is counted where it is read, and its path is made only for a diagnostic (a large file has about ten a machine)
  const report = (v: unknown, limit: number, path: Path, what: string) =>
    out.push(
      diagnostic("RCH006", loc.key(path), `${count(v)} ${what}, more than the ${limit} reach takes`, {
        expected: `at most ${limit} ${what}`,
      }),
    );
  const doc = asRecord(raw);
  if (tooMany(doc["machines"], SIZE_LIMITS.machines)) report(doc["machines"], SIZE_LIMITS.machines, ["machines"], "machines");
  if (tooMany(doc["expect"], SIZE_LIMITS.expectations)) report(doc["expect"], SIZE_LIMITS.expectations, ["expect"], "expectations");
  const machines = asRecord(doc["machines"]);
  const rules = SIZE_LIMITS.rulesPerChain;
  const entries = SIZE_LIMITS.listEntries;
  for (const name in machines) {
    if (!Object.hasOwn(machines, name)) continue;
    const m = asRecord(machines[name]);
    const fw = asRecord(m["firewall"]);
    for (let c = 0; c < CHAINS.length; c++) {
      const chain = CHAINS[c]!;
      const v = asRecord(fw[chain])["rules"];
      if (tooMany(v, rules)) report(v, rules, ["machines", name, "firewall", chain, "rules"], "rules in one chain");
    }
    if (tooMany(m["nat"], rules)) report(m["nat"], rules, ["machines", name, "nat"], "NAT rules");
    for (let k = 0; k < LISTS.length; k++) {
      const key = LISTS[k]!;
      if (tooMany(m[key], entries)) report(m[key], entries, ["machines", name, key], `${key} entries`);
    }
    const adapters = asRecord(m["vm"])["adapters"];
    if (tooMany(adapters, entries)) report(adapters, entries, ["machines", name, "vm", "adapters"], "adapters");
    if (Array.isArray(adapters))
      for (let i = 0; i < adapters.length; i++) {
        const v = asRecord(adapters[i])["forwards"];
        if (tooMany(v, entries)) report(v, entries, ["machines", name, "vm", "adapters", i, "forwards"], "forwards");
      }
    const ifs = asRecord(m["interfaces"]);
    for (const iname in ifs) {
      if (!Object.hasOwn(ifs, iname)) continue;
      const v = asRecord(ifs[iname])["addresses"];
      if (tooMany(v, entries)) report(v, entries, ["machines", name, "interfaces", iname, "addresses"], "addresses");
    }
  }
  return out;
}

const CHAINS = ["input", "output", "forward"] as const;
const NO_NETS: ReadonlySet<string> = new Set();
const NO_NAMES: readonly string[] = [];
const LISTS = ["interfaces", "routes", "services", "relays", "hostonly"] as const;
const NO_KEYS: Readonly<Record<string, unknown>> = Object.freeze({});
/** A mapping as a record; anything else as one without keys. */
const asRecord = (v: unknown): Readonly<Record<string, unknown>> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : NO_KEYS;

/** Whether a list or mapping holds more than `limit` entries (a mapping's keys counted only up to there). */
function tooMany(v: unknown, limit: number): boolean {
  if (Array.isArray(v)) return v.length > limit;
  if (v === null || typeof v !== "object") return false;
  let n = 0;
  for (const k in v) if (Object.hasOwn(v, k) && ++n > limit) return true;
  return false;
}

/** Segments: their subnets parse as prefixes. */
function checkSegments(c: Checker): void {
  for (const [name, seg] of Object.entries(c.doc.segments ?? {})) {
    const subnets: Prefix[] = [];
    const list = parseSegmentSubnets(seg);
    list.forEach((s, i) => {
      const p = c.prefix(s, typeof seg === "string" ? ["segments", name] : ["segments", name, "subnets", i], "subnet");
      if (p) subnets.push(p);
    });
    c.segments.set(name, subnets);
  }
}

/** NAT networks: the network prefix, and the forwards its engine listens for. */
function checkNatNetworks(c: Checker): void {
  const doc = c.doc;
  for (const [name, nn] of Object.entries(doc.natnetworks ?? {})) {
    const np: Path = ["natnetworks", name];
    const text = nn.network ?? DEFAULT_NATNETWORK;
    const cc = parseCidr(text);
    const p = cc && cc.ip.v === 4 && cc.len <= 29 && prefixOf(cc.ip, cc.len).n === cc.ip.n ? prefixOf(cc.ip, cc.len) : undefined;
    if (!p)
      c.err(
        "RCH011",
        [...np, "network"],
        `NAT network '${text}' is not an IPv4 network prefix of length 29 or less`,
        "NETWORK/LEN, e.g. 10.0.2.0/24 (VBoxManage natnetwork add --network)",
      );
    else c.natnets.set(name, p);
    // its engine listens for the forwards on every host whose VMs use it
    const hostsOf = new Set(
      Object.values(doc.machines)
        .filter((x) => x.vm?.adapters.some((y) => y.mode === "natnetwork" && y.network === name))
        .map((x) => x.vm!.on),
    );
    const names = new Set<string>();
    (nn.forwards ?? []).forEach((f, k) => checkNatNetworkForward(c, { name, p, hostsOf, names }, f, [...np, "forwards", k]));
  }
}

/** One forward of NAT network `net.name` (prefix `net.p` when it parsed), listened for on `net.hostsOf`. */
function checkNatNetworkForward(
  c: Checker,
  net: { name: string; p: Prefix | undefined; hostsOf: Set<string>; names: Set<string> },
  f: ForwardDoc,
  fp: Path,
): void {
  const { name, p, names } = net;
  if (f.name !== undefined) {
    if (names.has(f.name))
      c.err(
        "RCH030",
        [...fp, "name"],
        `forward name '${f.name}' is used twice on NAT network '${name}'`,
        "unique forward names per NAT network",
      );
    names.add(f.name);
  }
  const hp = c.port(f.hostPort, [...fp, "hostPort"], "hostPort");
  c.port(f.guestPort, [...fp, "guestPort"], "guestPort");

  const hip = f.hostIp ? c.ip4(f.hostIp, [...fp, "hostIp"], "hostIp") : { v: 4 as const, n: 0n };
  if (hip && hp !== undefined)
    for (const h of net.hostsOf)
      if (own(c.doc.machines, h))
        c.listen(h, f.proto ?? "tcp", hip, hp, fp, `port forward ${f.name ? `"${f.name}" ` : ""}of NAT network '${name}'`);
  if (!f.guestIp)
    c.err(
      "RCH005",
      fp,
      `a NAT Network forward needs guestIp (VirtualBox: --port-forward-4 "name:tcp:[]:1022:[10.0.2.5]:22")`,
      "guestIp: the guest's address on the NAT network",
    );
  else {
    const gip = c.ip4(f.guestIp, [...fp, "guestIp"], "guestIp");
    if (gip && p && !contains(p, gip))
      c.err(
        "RCH031",
        [...fp, "guestIp"],
        `guestIp ${f.guestIp} is outside NAT network '${name}' (${formatIP(p)}/${p.len})`,
        `an address inside ${formatIP(p)}/${p.len}`,
      );
  }
}

/** One machine while it is checked: what its later stages learn from the earlier ones. */
interface MachineCtx {
  readonly name: string;
  readonly m: MachineDoc;
  readonly mp: Path;
  /** Interface names it will have after lowering. */
  readonly ifnames: Set<string>;
  /** On-link prefixes and the interface they are on (a gateway must be on-link on the route's dev). */
  /** Connected subnets (an on-link route's is marked `route`: the kernel's own connected routes are the others). */
  readonly connected: { p: Prefix; dev: string; route?: true }[];
  /** This machine's own addresses, for bind(); unknown while a DHCP lease is not known here. */
  readonly own: IP[];
  ownUnknown: boolean;
}

function checkMachine(c: Checker, mname: string, m: MachineDoc): void {
  const mc: MachineCtx = {
    name: mname,
    m,
    mp: ["machines", mname],
    ifnames: interfaceNames(c.doc, mname),
    connected: [],
    own: [],
    ownUnknown: false,
  };
  checkInterfaces(c, mc);
  checkHostOnlyNets(c, mc);
  // VM adapters: NAT networks, bridges, host-only and internal nets
  if (m.vm) checkVm(c, mc);
  connectHostSide(c, mc);
  checkRoutes(c, mc);
  checkServices(c, mc);
  checkRelays(c, mc);
  (m.docker?.bridges ?? []).forEach((b, k) => knownIf(c, mc, b, [...mc.mp, "docker", "bridges", k]));
  checkFirewall(c, mc);
  if (m.router) checkRouter(c, mc);
}

/** `name` (when given) is an interface the machine will have. */
function knownIf(c: Checker, mc: MachineCtx, name: string | undefined, path: At): void {
  if (name !== undefined && !mc.ifnames.has(name)) {
    c.err("RCH022", path, `machine '${mc.name}' has no interface '${name}'`, `one of ${[...mc.ifnames].join(", ")}`);
  }
}

const inSubnets = (ip: IP, subnets: readonly Prefix[]) => subnets.some((s) => contains(s, ip));
const subnetList = (subnets: readonly Prefix[], sep: string) => subnets.map((s) => `${formatIP(s)}/${s.len}`).join(sep);

/** Declared interfaces: names, segments, addresses inside the segment's subnets and unique on it. */
function checkInterfaces(c: Checker, mc: MachineCtx): void {
  for (const [iname, iface] of Object.entries(mc.m.interfaces ?? {})) {
    const ip: Path = mc.mp.concat("interfaces", iname);
    if (!IFNAME.test(iname))
      c.err("RCH004", ip, `'${iname}' is not a Linux interface name`, "1 to 15 characters, no spaces, '/' or ':' (IFNAMSIZ)", true);
    if (iname === "lo")
      c.err("RCH030", ip, "interface 'lo' is implicit on every machine (127.0.0.1/8, ::1)", "another interface name", true);
    const subnets = c.segments.get(iface.segment);
    if (!subnets) {
      c.err(
        "RCH021",
        [...ip, "segment"],
        `segment '${iface.segment}' is not declared`,
        c.segments.size
          ? `one of ${[...c.segments.keys()].join(", ")} (or declare it under segments:)`
          : "a segment declared under segments:",
      );
    }
    (iface.addresses ?? []).forEach((a, k) => {
      // kept by claim() as where the address was first used: concat, exactly as long
      const ap: Path = ip.concat("addresses", k);
      const addr = c.ifaddr(a, ap);
      if (!addr) return;
      mc.connected.push({ p: prefixOf(addr.ip, addr.len), dev: iname });
      mc.own.push(addr.ip);
      if (
        subnets &&
        subnets.length &&
        !subnets.some((s) => s.v === addr.ip.v && contains(s, addr.ip)) &&
        subnets.some((s) => s.v === addr.ip.v)
      ) {
        c.err(
          "RCH031",
          ap,
          `${a} is outside segment '${iface.segment}' (${subnetList(subnets, ", ")})`,
          `an address inside ${subnetList(subnets, " or ")}`,
        );
      }
      if (subnets) c.claim(iface.segment, addr.ip, ap);
    });
  }
}

/** The host side of host-only networks declared under hostonly:. */
function checkHostOnlyNets(c: Checker, mc: MachineCtx): void {
  for (const [hname, h] of Object.entries(mc.m.hostonly ?? {})) {
    if (!hostOnlyDefault(hname))
      c.err("RCH035", [...mc.mp, "hostonly", hname], `host-only network '${hname}' is not named vboxnetN`, "vboxnet0, vboxnet1, ...", true);
    h.addresses.forEach((a, k) => {
      const addr = c.ifaddr(a, [...mc.mp, "hostonly", hname, "addresses", k]);
      if (addr) {
        mc.connected.push({ p: prefixOf(addr.ip, addr.len), dev: hname });
        mc.own.push(addr.ip);
      }
    });
  }
}

/** A VM (`mc.m.vm` is set): placed on a physical host of this file, and each of its adapters. */
function checkVm(c: Checker, mc: MachineCtx): void {
  const { name: mname, m } = mc;
  const vm = m.vm!;
  const vp: Path = [...mc.mp, "vm"];
  const host = own(c.doc.machines, vm.on);
  if (!host) {
    c.err(
      "RCH023",
      [...vp, "on"],
      `VM '${mname}' is placed on '${vm.on}', which is not a machine in this file`,
      `one of ${Object.keys(c.doc.machines)
        .filter((n) => n !== mname)
        .join(", ")}`,
    );
  } else if (vm.on === mname) {
    c.err("RCH023", [...vp, "on"], `VM '${mname}' is placed on itself`, "the name of the physical host");
  } else if (host.vm) {
    c.err(
      "RCH035",
      [...vp, "on"],
      `VM '${mname}' is placed on '${vm.on}', which is itself a VM (nested virtualisation is not modelled)`,
      "a physical host",
    );
  }
  const seenIf = new Set(Object.keys(m.interfaces ?? {}));
  vm.adapters.forEach((a, slot) => {
    const ad: AdapterCtx = { a, slot, ap: [...vp, "adapters", slot], host };
    checkAdapterName(c, mc, ad, seenIf);
    checkAdapterMode(c, mc, ad);
  });
}

/** One VM adapter: the adapter, its slot, where it is, and the VM's host (when it exists). */
interface AdapterCtx {
  readonly a: AdapterDoc;
  readonly slot: number;
  readonly ap: Path;
  readonly host: MachineDoc | undefined;
}

/** The adapter's interface name: valid, not lo, not taken (`seenIf`: the names so far). */
function checkAdapterName(c: Checker, mc: MachineCtx, { a, slot, ap }: AdapterCtx, seenIf: Set<string>): void {
  if (a.mode === "none") return;
  const ifn = adapterInterfaceName(a, slot);
  if (a.interface !== undefined && !IFNAME.test(a.interface))
    c.err(
      "RCH004",
      [...ap, "interface"],
      `'${a.interface}' is not a Linux interface name`,
      "1 to 15 characters, no spaces, '/' or ':' (IFNAMSIZ)",
    );
  if (a.interface === "lo") c.err("RCH030", [...ap, "interface"], "interface 'lo' is implicit on every machine", "another interface name");
  if (seenIf.has(ifn))
    c.err(
      "RCH030",
      a.interface ? [...ap, "interface"] : ap,
      `interface '${ifn}' of '${mc.name}' is defined twice`,
      "unique interface names per machine",
    );
  seenIf.add(ifn);
}

/** What each attachment mode needs: its network, its addresses, its forwards. */
function checkAdapterMode(c: Checker, mc: MachineCtx, ad: AdapterCtx): void {
  const { a, ap, host } = ad;
  const on = mc.m.vm!.on;
  switch (a.mode) {
    case "nat":
      checkNatAdapter(c, mc, ad, a);
      break;
    case "natnetwork": {
      const net = c.natnets.get(a.network);
      if (!own(c.doc.natnetworks, a.network)) {
        c.err("RCH021", [...ap, "network"], `NAT network '${a.network}' is not declared`, "a name declared under natnetworks:");
      }
      adapterAddrs(c, mc, ad, a.addresses, `NAT network '${a.network}'`, `${on}/natnetwork:${a.network}`, net ? [net] : undefined, "error");
      break;
    }
    case "bridged":
      if (host && !own(host.interfaces, a.bridge)) {
        c.err(
          "RCH022",
          [...ap, "bridge"],
          `host '${on}' has no interface '${a.bridge}' to bridge to`,
          `one of ${Object.keys(host.interfaces ?? {}).join(", ") || "(none declared)"}`,
        );
      }
      {
        const seg = own(host?.interfaces, a.bridge)?.segment;
        adapterAddrs(c, mc, ad, a.addresses, seg ? `segment '${seg}'` : undefined, seg, seg ? c.segments.get(seg) : undefined, "error");
      }
      if (a.gateway !== undefined) c.ip(a.gateway, [...ap, "gateway"], "gateway");
      break;
    case "hostonly":
      checkHostOnlyAdapter(c, mc, ad, a);
      break;
    case "internal":
      adapterAddrs(
        c,
        mc,
        ad,
        a.addresses,
        `internal network '${a.network ?? "intnet"}'`,
        `${on}/intnet:${a.network ?? "intnet"}`,
        undefined,
        "error",
      );
      break;
    case "none":
      break;
  }
}

/** Adapter addresses: parsed, inside the network's subnets, and unique on its segment (`key`, per host). */
function adapterAddrs(
  c: Checker,
  mc: MachineCtx,
  { a, slot, ap }: AdapterCtx,
  list: readonly string[] | undefined,
  seg: string | undefined,
  key: string | undefined,
  subnets: readonly Prefix[] | undefined,
  outside: "error" | "warning",
): void {
  (list ?? []).forEach((t, k) => {
    const p: Path = [...ap, "addresses", k];
    const addr = c.ifaddr(t, p);
    if (!addr) return;
    mc.connected.push({ p: prefixOf(addr.ip, addr.len), dev: adapterInterfaceName(a, slot) });
    mc.own.push(addr.ip);
    if (subnets && subnets.some((s) => s.v === addr.ip.v) && !inSubnets(addr.ip, subnets)) {
      const msg = `${t} is outside ${seg} (${subnetList(subnets, ", ")})`;
      if (outside === "error") c.err("RCH031", p, msg, `an address inside ${subnetList(subnets, " or ")}`);
      else
        c.warn("RCH031", p, `${msg}: the host and this VM cannot talk over it (seed 004)`, "an address in the host-only network's subnet");
    }
    if (key) c.claim(key, addr.ip, p);
  });
}

/** A NAT adapter: its network, and its port forwards (which the VM's host listens for). */
function checkNatAdapter(c: Checker, mc: MachineCtx, ad: AdapterCtx, a: Extract<AdapterDoc, { mode: "nat" }>): void {
  const { slot, ap } = ad;
  const net = natAdapterNetwork(a.network, slot, a.engine);
  checkNatIpv6(c, mc, ad, a);
  if (!net)
    c.err(
      "RCH011",
      [...ap, "network"],
      `NAT network '${a.network}' is not an IPv4 prefix of length 27 or less (the guest is .15)`,
      "e.g. 10.0.2.0/24",
    );
  else {
    mc.connected.push({ p: net, dev: adapterInterfaceName(a, slot) });
    mc.own.push(hostInNet(net, NAT_GUEST));
  }
  const names = new Map<string, number>();
  (a.forwards ?? []).forEach((f, k) => checkNatForward(c, mc, ad, net, names, f, k));
}

/** IPv6 of a NAT adapter: QEMU's user network only (VirtualBox's NAT mode has none), on a /64 (SLAAC). */
function checkNatIpv6(c: Checker, mc: MachineCtx, { slot, ap }: AdapterCtx, a: Extract<AdapterDoc, { mode: "nat" }>): void {
  if ((a.engine ?? "virtualbox") === "virtualbox") {
    for (const key of ["ipv6", "ipv6Network"] as const)
      if (a[key] !== undefined && (key !== "ipv6" || a.ipv6))
        c.err(
          "RCH035",
          [...ap, key],
          `VirtualBox's NAT mode gives the guest no IPv6 (only a NAT Network has an IPv6 switch, off by default)`,
          "engine: qemu for QEMU's user network, or no IPv6 on this adapter",
        );
    return;
  }
  if (!natIpv6On(a)) return;
  const net6 = natIpv6Network(a.ipv6Network);
  if (!net6) {
    c.err(
      "RCH011",
      [...ap, "ipv6Network"],
      `IPv6 network '${a.ipv6Network}' is not an IPv6 /64 prefix (the guest takes its address by SLAAC)`,
      "e.g. fec0::/64 (QEMU's default) or fd00::/64",
    );
    return;
  }
  mc.connected.push({ p: net6, dev: adapterInterfaceName(a, slot) });
  mc.own.push(natGuest6(net6, slot));
}

/** Forward `k` of a NAT adapter whose network is `net` (when it parsed); `names`: forward names so far. */
function checkNatForward(
  c: Checker,
  mc: MachineCtx,
  { ap, host }: AdapterCtx,
  net: Prefix | undefined,
  names: Map<string, number>,
  f: ForwardDoc,
  k: number,
): void {
  const fp: Path = [...ap, "forwards", k];
  if (f.name !== undefined) {
    if (names.has(f.name))
      c.err(
        "RCH030",
        [...fp, "name"],
        `forward name '${f.name}' is used twice on this adapter`,
        "unique forward names per adapter (VirtualBox refuses duplicates)",
      );
    names.set(f.name, k);
  }
  const hp = c.port(f.hostPort, [...fp, "hostPort"], "hostPort");
  c.port(f.guestPort, [...fp, "guestPort"], "guestPort");
  const hip = f.hostIp ? c.ip4(f.hostIp, [...fp, "hostIp"], "hostIp") : { v: 4 as const, n: 0n };
  if (f.guestIp) {
    const gip = c.ip4(f.guestIp, [...fp, "guestIp"], "guestIp");
    if (gip && net && !contains(net, gip))
      c.warn("RCH031", [...fp, "guestIp"], `guestIp ${f.guestIp} is outside the adapter's NAT network ${formatIP(net)}/${net.len}`);
  }
  if (hp !== undefined && hp < FIRST_UNPRIVILEGED_PORT && !mc.m.vm!.asRoot) {
    c.warn(
      "RCH035",
      [...fp, "hostPort"],
      `host port ${hp} is below 1024: VirtualBox running as a normal user cannot listen there, so this forward does not exist (set vm.asRoot: true if VirtualBox runs as root)`,
      "a host port of 1024 or above",
    );
  }
  if (hip && hp !== undefined && host)
    c.listen(mc.m.vm!.on, f.proto ?? "tcp", hip, hp, fp, `port forward ${f.name ? `"${f.name}" ` : ""}of '${mc.name}'`);
}

/** A host-only adapter: its network exists on the host, and the adapter gets an address on it. */
function checkHostOnlyAdapter(c: Checker, mc: MachineCtx, ad: AdapterCtx, a: Extract<AdapterDoc, { mode: "hostonly" }>): void {
  const { ap, host, slot } = ad;
  const on = mc.m.vm!.on;
  const net = a.network ?? "vboxnet0";
  const decl = own(host?.hostonly, net);
  const def = hostOnlyDefault(net);
  const n = /^vboxnet(\d+)$/.exec(net)?.[1];
  if (!decl && n !== undefined && Number(n) >= 8)
    c.warn(
      "RCH035",
      [...ap, "network"],
      `${net} defaults to ${formatIP(def!.ip)}/24, outside 192.168.56.0/21, which VirtualBox 6.1.28+ refuses unless /etc/vbox/networks.conf allows it`,
      "declare the network's addresses under the host's hostonly:",
    );
  if (!decl && !def)
    c.err(
      "RCH035",
      [...ap, "network"],
      `host-only network '${net}' is neither declared on '${on}' nor named vboxnetN`,
      "vboxnet0, vboxnet1, ... or a network declared under the host's hostonly:",
    );
  const hostAddrs = decl ? decl.addresses.map((t) => parseCidr(t)).filter((x) => x !== undefined) : def ? [def] : [];
  const subnets = hostAddrs.map((h) => prefixOf(h.ip, h.len));
  if (a.addresses) adapterAddrs(c, mc, ad, a.addresses, `host-only network '${net}'`, `${on}/${net}`, subnets, "warning");
  else if (!hostAddrs.some((h) => h.ip.v === 4))
    c.err(
      "RCH035",
      ap,
      `host-only network '${net}' has no IPv4 address on '${on}', so its DHCP server cannot give this adapter one`,
      "addresses: [...] on the adapter, or an IPv4 address for the network on the host",
    );
  else {
    mc.connected.push(...subnets.map((p) => ({ p, dev: adapterInterfaceName(a, slot) }))); // the DHCP lease is on the host-only subnet
    mc.ownUnknown = true;
  }
}

/** The host side of host-only networks its VMs use, and on-link routes (`dev` without `via`). */
function connectHostSide(c: Checker, mc: MachineCtx): void {
  for (const other of vmsOn(c.doc, mc.name)) {
    for (const a of other.vm!.adapters) {
      const net = a.mode === "hostonly" ? (a.network ?? "vboxnet0") : undefined;
      const def = net && !own(mc.m.hostonly, net) ? hostOnlyDefault(net) : undefined;
      if (net && def) {
        mc.connected.push({ p: prefixOf(def.ip, def.len), dev: net });
        mc.own.push(def.ip);
      }
    }
  }
  for (const r of mc.m.routes ?? []) {
    const p = r.via === undefined && r.dev !== undefined ? parseMatchPrefix(r.to) : undefined;
    if (p) mc.connected.push({ p, dev: r.dev!, route: true });
  }
}

/** Routes: one per destination, a known dev, a gateway on a connected subnet. */
function checkRoutes(c: Checker, mc: MachineCtx): void {
  const { name: mname, mp } = mc;
  // the kernel refuses a second route to one prefix with the same metric (dev and via do not matter),
  // also one clashing with a connected route (IPv4 metric 0, IPv6 256): measured, semantics.md 10
  const routeSeen = new Map<string, string>();
  for (const x of mc.connected)
    if (!x.route) routeSeen.set(`${x.p.v} ${x.p.n} ${x.p.len} ${x.p.v === 4 ? 0 : 256}`, `the connected route of ${x.dev}`);
  const routes = mc.m.routes ?? [];
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    const dst = parseMatchPrefix(r.to);
    if (dst) {
      const metric = routeMetric(r.metric !== undefined ? { dst, type: "static", metric: r.metric } : { dst, type: "static" });
      const key = `${dst.v} ${dst.n} ${dst.len} ${metric}`;
      const clash = routeSeen.get(key);
      if (clash !== undefined)
        c.err(
          "RCH030",
          [...mp, "routes", i, r.metric !== undefined ? "metric" : "to"],
          `a second route to ${r.to} with metric ${metric} on '${mname}', after ${clash} (the kernel refuses: "RTNETLINK answers: File exists")`,
          "another metric: after the longest prefix, the lowest metric wins",
        );
      else routeSeen.set(key, `route ${i + 1}`);
    }
    const rp = (key: string): Path => [...mp, "routes", i, key];
    c.prefix(r.to, () => rp("to"), "route destination");
    knownIf(c, mc, r.dev, () => rp("dev"));
    if (r.via !== undefined) {
      const gw = c.ip(r.via, () => rp("via"), "gateway");
      const onLink = (x: { dev: string }) => r.dev === undefined || x.dev === r.dev;
      // every IPv6 interface has fe80::/64: a link-local gateway is on-link on the route's dev
      const linkLocal = gw !== undefined && gw.v === 6 && isLinkLocal6(gw) && r.dev !== undefined;
      const own = gw !== undefined && mc.own.some((x) => sameIP(x, unmap(gw)));
      if (own)
        c.err(
          "RCH037",
          rp("via"),
          `gateway ${r.via} is an address of '${mname}' itself (the kernel refuses: "Nexthop has invalid gateway")`,
          "the address of a neighbour on a connected subnet (a router), or dev: IFNAME without via for an on-link route",
        );
      else if (gw && !linkLocal && !mc.connected.some((x) => onLink(x) && contains(x.p, gw))) {
        c.err(
          "RCH034",
          rp("via"),
          `gateway ${r.via} is not on a subnet connected to '${mname}'${r.dev ? ` through ${r.dev}` : ""} (the kernel refuses: "Nexthop has invalid gateway")`,
          `an address inside ${
            mc.connected
              .filter(onLink)
              .map((x) => `${formatIP(x.p)}/${x.p.len}`)
              .join(", ") || "a connected subnet (add an interface address first)"
          }`,
        );
      }
    }
  }
}

/** Services: unique names, a port, a bind address the machine has, no clash with another listener. */
function checkServices(c: Checker, mc: MachineCtx): void {
  const { name: mname, mp } = mc;
  const svcNames = new Map<string, number>();
  (mc.m.services ?? []).forEach((s, k) => {
    // the listener keeps its path (concat: exactly as long); a field's path is made only for a diagnostic
    const sp: Path = mp.concat("services", k);
    const at = (key: string) => (): Path => [...sp, key];
    if (s.name !== undefined) {
      if (svcNames.has(s.name))
        c.err("RCH030", at("name"), `service name '${s.name}' is used twice on '${mname}'`, "unique service names per machine");
      svcNames.set(s.name, k);
    }
    const port = c.port(s.port, at("port"), "port");
    const bind = s.bind === undefined || s.bind === "*" ? { v: 4 as const, n: 0n } : c.ip(s.bind, at("bind"), "bind address");
    knownIf(c, mc, s.device, at("device"));
    const local = bind ? unmap(bind) : undefined;
    if (local && !isAny(local) && !isLoopback(local) && !mc.ownUnknown && !mc.own.some((x) => sameIP(x, local))) {
      c.err(
        "RCH036",
        at("bind"),
        `'${mname}' has no address ${s.bind}: bind() fails with EADDRNOTAVAIL`,
        `one of ${mc.own.map(formatIP).join(", ") || "its addresses"}, 0.0.0.0, ::, or a loopback address`,
      );
    }
    if (bind && port !== undefined)
      c.listen(mname, s.proto ?? "tcp", bind, port, sp, `service ${s.name ? `'${s.name}'` : `#${k + 1}`}`, s.v6only ?? false);
  });
}

/** An address bind() accepts on this machine: a wildcard, a loopback address or one of its own (else RCH036). */
function ownBind(c: Checker, mc: MachineCtx, ip: IP | undefined, text: string | undefined, path: Path): void {
  const local = ip ? unmap(ip) : undefined;
  if (local && !isAny(local) && !isLoopback(local) && !mc.ownUnknown && !mc.own.some((x) => sameIP(x, local)))
    c.err(
      "RCH036",
      path,
      `'${mc.name}' has no address ${text}: bind() fails with EADDRNOTAVAIL`,
      `one of ${mc.own.map(formatIP).join(", ") || "its addresses"}, 0.0.0.0, ::, or a loopback address`,
    );
}

/** Relays: unique names, a listener like a service's, a unicast target, a source address of the machine in the target's family. */
function checkRelays(c: Checker, mc: MachineCtx): void {
  const names = new Set<string>();
  (mc.m.relays ?? []).forEach((r, k) => {
    const rp: Path = [...mc.mp, "relays", k];
    if (r.name !== undefined) {
      if (names.has(r.name))
        c.err("RCH030", [...rp, "name"], `relay name '${r.name}' is used twice on '${mc.name}'`, "unique relay names per machine");
      names.add(r.name);
    }
    const port = c.port(r.port, [...rp, "port"], "port");
    c.port(r.toPort, [...rp, "toPort"], "toPort");
    const bind = r.bind === undefined || r.bind === "*" ? { v: 4 as const, n: 0n } : c.ip(r.bind, [...rp, "bind"], "bind address");
    ownBind(c, mc, bind, r.bind, [...rp, "bind"]);
    const to = c.ip(r.to, [...rp, "to"], "relay target");
    if (to && isAny(unmap(to)))
      c.err(
        "RCH004",
        [...rp, "to"],
        `a relay connects to one address, not to ${r.to}`,
        "the address the relay connects to, e.g. 172.17.0.2",
      );
    if (r.from !== undefined) {
      const from = c.ip(r.from, [...rp, "from"], "relay source address");
      if (from && isAny(unmap(from)))
        c.err(
          "RCH004",
          [...rp, "from"],
          `${r.from} is no source address; leave 'from' out for the kernel's choice`,
          "one address of the machine",
        );
      else ownBind(c, mc, from, r.from, [...rp, "from"]);
      if (from && to && unmap(from).v !== unmap(to).v)
        c.err(
          "RCH004",
          [...rp, "from"],
          `source ${r.from} and target ${r.to} are of different families: connect() fails`,
          `an IPv${unmap(to).v} address`,
        );
    }
    if (bind && port !== undefined)
      c.listen(mc.name, r.proto ?? "tcp", bind, port, rp, `relay ${r.name ? `'${r.name}'` : `#${k + 1}`}`, r.v6only ?? false);
  });
}

/** Hooks where packets have no input interface; hooks where the output one is not known yet. */
const noInput = (hook: string): boolean => hook === "output" || hook === "postrouting";
const noOutput = (hook: string): boolean => hook === "input" || hook === "prerouting";

/** Whether hookSees has nothing to say (the checker's fast path for a plainly valid rule). */
const hookAllows = (hook: string, r: { in?: unknown; out?: unknown }): boolean =>
  !(noInput(hook) && r.in !== undefined) && !(noOutput(hook) && r.out !== undefined);

/** Which interface matches a hook can see (iptables refuses -i in OUTPUT/POSTROUTING, -o in INPUT/PREROUTING). */
function hookSees(c: Checker, rp: Path, hook: string, r: { in?: unknown; out?: unknown }): void {
  const noIn = noInput(hook);
  const noOut = noOutput(hook);
  if (noIn && r.in !== undefined)
    c.err(
      "RCH004",
      [...rp, "in"],
      `'in' cannot match in the ${hook} chain: packets there have no input interface`,
      "out: IFACE, or move the rule to another chain",
    );
  if (noOut && r.out !== undefined)
    c.err(
      "RCH004",
      [...rp, "out"],
      `'out' cannot match in the ${hook} chain: the output interface is not known yet`,
      "in: IFACE, or move the rule to another chain",
    );
}

/** Firewall rules and NAT rules: their matches, the interfaces their hook can see, NAT targets. */
function checkFirewall(c: Checker, mc: MachineCtx): void {
  const { m, mp } = mc;
  for (const chain of ["input", "output", "forward"] as const) {
    (m.firewall?.[chain]?.rules ?? []).forEach((r, k) => {
      // a plainly valid rule (most of a large file's 100,000) makes no path: it would be garbage
      if (r.with === undefined && hookAllows(chain, r) && plainMatchPasses(c, r, mc)) return;
      const rp: Path = [...mp, "firewall", chain, "rules", k];
      checkMatch(c, r, rp, mc);
      hookSees(c, rp, chain, r);
      checkRejectWith(c, r, rp);
    });
  }
  (m.nat ?? []).forEach((r, k) => {
    const rp: Path = [...mp, "nat", k];
    checkMatch(c, r, rp, mc);
    hookSees(c, rp, r.action === "dnat" ? r.chain : "postrouting", r);
    if (r.action === "dnat" || r.action === "snat") c.ip(r.to, [...rp, "to"], `${r.action} target`);
    if (r.action === "dnat" && r.toPort !== undefined) {
      c.port(r.toPort, [...rp, "toPort"], "toPort");
      // iptables: "Need TCP, UDP, SCTP or DCCP with port specification"; nft: a port mapping only after a transport match
      if (r.proto !== "tcp" && r.proto !== "udp")
        c.err("RCH004", [...rp, "toPort"], "a DNAT to a port needs proto: tcp or proto: udp", "proto: tcp | udp, or no toPort");
    }
  });
}

/**
 * A reject rule's `with`: only on reject; a TCP reset only for TCP (iptables refuses
 * `--reject-with tcp-reset` without `-p tcp`, nft "cannot use tcp reset with this protocol");
 * host-prohibited and net-prohibited are ICMP (IPv4) codes with no ICMPv6 twin, so the rule must
 * match IPv4 only (nft's `reject with icmp type` in an inet table skips IPv6 packets).
 */
function checkRejectWith(c: Checker, r: RuleDoc, rp: Path): void {
  if (r.with === undefined) return;
  if (r.action !== "reject") {
    c.err(
      "RCH004",
      [...rp, "with"],
      `'with' says what a reject sends back; this rule's action is ${r.action}`,
      "action: reject, or no with",
    );
    return;
  }
  if (r.with === "tcp-reset" && r.proto !== "tcp")
    c.err("RCH004", [...rp, "with"], "a TCP reset answers TCP only: the rule needs proto: tcp", "proto: tcp, or another reject type");
  // a negated address still needs a packet of its family: { not: 10.0.0.0/8 } matches IPv4 only
  const v4 = [r.src, r.dst].some((x) => {
    const a = typeof x === "object" ? x.not : x;
    return a !== undefined && a !== "local" && parseMatchPrefix(a)?.v === 4;
  });
  if ((r.with === "host-prohibited" || r.with === "net-prohibited") && !v4)
    c.err(
      "RCH004",
      [...rp, "with"],
      `${r.with} is an ICMP (IPv4) code with no ICMPv6 twin: the rule must match IPv4 only`,
      "an IPv4 src or dst (0.0.0.0/0 for any), or admin-prohibited, which has both",
    );
}

/** Home router sugar (`mc.m.router` is set): the WAN interface, forwards unique per protocol and port. */
function checkRouter(c: Checker, mc: MachineCtx): void {
  const router = mc.m.router!;
  const rp: Path = [...mc.mp, "router"];
  knownIf(c, mc, router.wan, [...rp, "wan"]);
  const names = new Set<string>();
  const seen = new Map<string, number>();
  (router.forwards ?? []).forEach((f, k) => {
    const fp: Path = [...rp, "forwards", k];
    if (f.name !== undefined) {
      if (names.has(f.name)) c.err("RCH030", [...fp, "name"], `router forward name '${f.name}' is used twice`, "unique forward names");
      names.add(f.name);
    }
    const p = c.port(f.port, [...fp, "port"], "port");
    if (f.toPort !== undefined) c.port(f.toPort, [...fp, "toPort"], "toPort");
    c.ip(f.to, [...fp, "to"], "forward target");
    const key = `${f.proto ?? "tcp"}/${p}`;
    if (p !== undefined && seen.has(key))
      c.err("RCH032", fp, `two router forwards for ${key} on the WAN address`, "one forward per protocol and port");
    seen.set(key, k);
  });
}

/** Names the lowering creates must not be taken: NAT engine machines, host-only interfaces of hosts. */
function checkReservedNames(c: Checker): void {
  const doc = c.doc;
  for (let i = 0; i < c.machines.length; i++) {
    const mname = c.machines[i]![0];
    const m = c.machines[i]![1];
    // most machines of a large file are neither VMs nor hosts: nothing to make for them
    const engines = m.vm ? m.vm.adapters.flatMap((a, slot) => (a.mode === "nat" ? [engineNames.nat(mname, slot)] : [])) : NO_NAMES;
    for (const e of engines) {
      if (own(doc.machines, e))
        c.err(
          "RCH030",
          ["machines", e],
          `machine name '${e}' is the name of ${mname}'s VirtualBox NAT engine`,
          "another machine name",
          true,
        );
    }
    const guests = vmsOn(doc, mname);
    const hostOnlyNets = guests.length
      ? new Set(guests.flatMap((x) => x.vm!.adapters.flatMap((a) => (a.mode === "hostonly" ? [a.network ?? "vboxnet0"] : []))))
      : NO_NETS;
    if (hostOnlyNets.size)
      for (const net of hostOnlyNets) {
        if (own(m.interfaces, net))
          c.err(
            "RCH030",
            ["machines", mname, "interfaces", net],
            `interface '${net}' of '${mname}' is its host-only network (declare its addresses under hostonly:)`,
            `hostonly: { ${net}: { addresses: [...] } }`,
            true,
          );
      }
    for (const net of Object.keys(m.hostonly ?? {})) {
      if (own(m.interfaces, net))
        c.err(
          "RCH030",
          ["machines", mname, "interfaces", net],
          `interface '${net}' of '${mname}' is also declared under hostonly:`,
          "one declaration, under hostonly:",
          true,
        );
    }
  }
}

type MatchDocLike = {
  src?: Negatable<string>;
  dst?: Negatable<string>;
  sport?: Negatable<number | string>;
  dport?: Negatable<number | string>;
  in?: Negatable<string>;
  out?: Negatable<string>;
  origDst?: Negatable<string>;
  origDport?: Negatable<number | string>;
  proto?: string;
};

/** A match key's value and where it is, looking inside `{ not: ... }`; a `!`-prefixed string is refused with the form to write. */
function matchValue<T>(c: Checker, v: Negatable<T> | undefined, p: Path): { v: T; p: Path; not: boolean } | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "object" && v !== null && "not" in v) return { v: v.not, p: [...p, "not"], not: true };
  if (typeof v === "string" && v.startsWith("!")) {
    c.err("RCH004", p, `'${v}': a negation is written as an object`, `{ not: ${v.slice(1).trim() || "VALUE"} }`);
    return undefined;
  }
  return { v: v as T, p, not: false };
}

/** A value written plainly: not `{ not: ... }`, not a `!`-prefixed string (both go through matchValue). */
const plainValue = (v: unknown): v is string | number => typeof v === "number" || (typeof v === "string" && !v.startsWith("!"));

/** 0: no address (absent, or dst: local); 4 or 6: a plain address that parses; -1: anything else. */
function plainFamily(v: Negatable<string> | undefined, local: boolean): number {
  if (v === undefined || (local && (v === "local" || v === LOCAL_NONLOOPBACK))) return 0;
  return plainValue(v) && typeof v === "string" ? (parseMatchPrefix(v)?.v ?? -1) : -1;
}

/**
 * Whether checkMatch is sure to find nothing in a rule's match, without building a path: every
 * value plain, addresses that parse with src and dst of one family, ports that parse under
 * proto tcp or udp, interfaces the machine has. That is the usual rule of a large file; any other
 * goes through checkMatch's stages, which say what is wrong.
 */
function plainMatchPasses(c: Checker, r: MatchDocLike, mc: MachineCtx): boolean {
  const src = plainFamily(r.src, false);
  const dst = plainFamily(r.dst, true);
  if (src < 0 || dst < 0 || plainFamily(r.origDst, false) < 0 || (src && dst && src !== dst)) return false;
  let ports = false;
  for (const v of [r.sport, r.dport, r.origDport]) {
    if (v === undefined) continue;
    if (!plainValue(v) || !c.goodRange(v)) return false;
    ports = true;
  }
  if (ports && r.proto !== "tcp" && r.proto !== "udp") return false;
  for (const v of [r.in, r.out]) if (v !== undefined && !(typeof v === "string" && plainValue(v) && mc.ifnames.has(v))) return false;
  return true;
}

function checkMatch(c: Checker, r: MatchDocLike, rp: Path, mc: MachineCtx): void {
  if (plainMatchPasses(c, r, mc)) return;
  const at = <K extends keyof MatchDocLike>(k: K) =>
    r[k] === undefined ? undefined : matchValue(c, r[k] as Negatable<unknown> | undefined, [...rp, k]);
  const [src, dst] = (["src", "dst", "origDst"] as const).map((k) => {
    const x = at(k) as { v: string; p: Path; not: boolean } | undefined;
    if (!x) return undefined;
    // dst: local = any address of this machine (addrtype LOCAL)
    if (k === "dst" && (x.v === "local" || x.v === LOCAL_NONLOOPBACK)) {
      if (x.not) c.err("RCH004", x.p, `dst: { not: ${x.v} } cannot be written`, "the addresses to exclude as dst: { not: PREFIX } rules");
      return undefined;
    }
    return c.prefix(x.v, x.p, k);
  });
  if (src && dst && src.v !== dst.v)
    c.err("RCH004", [...rp, "dst"], "src and dst of one rule are of different IP families", "both IPv4 or both IPv6");
  const ports = (["sport", "dport", "origDport"] as const).filter((k) => {
    const x = at(k) as { v: number | string; p: Path } | undefined;
    if (x) c.portRange(x.v, x.p, k);
    return r[k] !== undefined;
  });
  if (ports.length && r.proto !== "tcp" && r.proto !== "udp")
    c.err("RCH004", [...rp, ports.at(-1)!], "a port match needs proto: tcp or proto: udp", "proto: tcp | udp");
  for (const k of ["in", "out"] as const) {
    const x = at(k) as { v: string; p: Path } | undefined;
    if (x) knownIf(c, mc, x.v, x.p);
  }
}

/** The expect: list against the machines of `doc` (also for a spec file that includes a topology). */
function checkExpectList(c: Checker, doc: TopologyDoc): void {
  const machineNames = `one of ${Object.keys(doc.machines).join(", ")}`;
  (doc.expect ?? []).forEach((e, k) => {
    const kinds = (["query", "isolated", "exposes"] as const).filter((x) => e[x] !== undefined);
    if (kinds.length !== 1) {
      c.err(
        kinds.length ? "RCH004" : "RCH005",
        ["expect", k],
        kinds.length
          ? `an expectation has ${kinds.join(" and ")}; it can be only one of them`
          : "an expectation needs query (with verdict), isolated or exposes",
        'query: "A -> B:22/tcp" with verdict, isolated: { between, and }, or exposes: { machine, from, exactly }',
      );
      return;
    }
    const known = (n: string, path: Path) => {
      if (!own(doc.machines, n)) c.err("RCH041", path, `expectation names machine '${n}', which is not in this file`, machineNames);
    };
    if (e.query !== undefined) {
      const ep: Path = ["expect", k, "query"];
      if (e.verdict === undefined)
        c.err("RCH005", ["expect", k], "missing required key 'verdict' next to query", "verdict: reachable | unreachable");
      const q = parseQuery(e.query);
      if (!q.ok) {
        c.err("RCH040", ep, q.message, q.expected);
        return;
      }
      for (const name of [q.query.from, q.query.target.kind === "machine" ? q.query.target.machine : undefined]) {
        if (name !== undefined && !own(doc.machines, name))
          c.err("RCH041", ep, `query names machine '${name}', which is not in this file`, machineNames);
      }
      return;
    }
    if (e.verdict !== undefined)
      c.err("RCH003", ["expect", k, "verdict"], "verdict belongs to a query expectation", "isolated and exposes state their own outcome");
    if (e.isolated) {
      for (const side of ["between", "and"] as const) e.isolated[side].forEach((n, i) => known(n, ["expect", k, "isolated", side, i]));
    }
    if (e.exposes) {
      known(e.exposes.machine, ["expect", k, "exposes", "machine"]);
      known(e.exposes.from, ["expect", k, "exposes", "from"]);
      e.exposes.exactly.forEach((x, i) => {
        if (!parseServicePort(x))
          c.err("RCH012", ["expect", k, "exposes", "exactly", i], `'${x}' is not a port and protocol`, "PORT/PROTO, e.g. 22/tcp or 53/udp");
      });
    }
  });
}

/** Diagnostics of an expect: list alone, located with `loc` (a spec file's). */
export function expectDiagnostics(doc: TopologyDoc, loc: Locator): Diagnostic[] {
  const c = new Checker(doc, loc);
  checkExpectList(c, doc);
  return c.diags;
}
