/**
 * `reach import libvirt FILE...`: libvirt's XML, as `virsh net-dumpxml NET` and
 * `virsh dumpxml DOMAIN` print it. All files of one import make one fragment:
 * domains find the networks they use among the other inputs.
 *
 * A libvirt virtual network is not a VirtualBox adapter mode; it is ordinary
 * Linux networking on the host, so it is written as such (libvirt
 * docs/formatnetwork.rst; the rules of src/network/network_nftables.c and
 * network_iptables.c, which add the same rules):
 * - the host gets the network's bridge (`<bridge name='virbr0'/>`) as an
 *   interface with the network's `<ip>` addresses, on segment `HOST/NAME`;
 * - forward mode nat (also a `<forward>` without mode): ip_forward, guests'
 *   outbound traffic accepted and masqueraded, inbound only established and
 *   related (IPv6 is routed, not NATed, unless `<nat ipv6='yes'/>`); route:
 *   accepted both ways, no NAT; open: ip_forward and no rules at all; no
 *   `<forward>` (isolated): forwarding to and from the bridge rejected;
 * - libvirt's dnsmasq answers DNS on the network's addresses (unless
 *   `<dns enable='no'/>`) and gives leases from `<dhcp><range>` or the
 *   `<host>` entry of a guest's MAC; with a forward mode it hands out the
 *   network's address as the default router, on an isolated network none
 *   (`dhcp-option=3`);
 * - forward mode bridge with `<bridge name='br0'/>`: the host's own bridge;
 *   guests sit on the LAN like a bridged VirtualBox adapter.
 *
 * A domain is a machine with one interface per `<interface>`: type network and
 * type bridge (a libvirt network's bridge, or the host's LAN bridge), and type
 * user (QEMU's user-mode NAT, libslirp: a NAT adapter on 10.0.2.0/24 whose
 * 10.0.2.2 reaches the host's loopback). macvtap (type direct) and the
 * hardware modes are RCH051. DOCTYPEs declaring entities are refused (RCH052).
 */
import { SaxesParser } from "saxes";
import { diagnostic, formatSpan, type Code, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import { contains, formatIP, parseCidr, parseIP, prefixOf, type IP } from "../net/addr.js";
import type { AdapterDoc, MachineDoc, NatRuleDoc, RouteDoc, RuleDoc, ServiceDoc, TopologyDoc } from "../topology/schema.js";
import { Findings, spanAt, type Importer, type ImportOptions, type ImportResult, type Source } from "./types.js";

const FORMATS = "libvirt network XML (virsh net-dumpxml NETWORK) or domain XML (virsh dumpxml DOMAIN)";

// ---------------------------------------------------------------------------
// XML, read with saxes into a small tree that keeps positions

interface Element {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: Element[];
  text: string;
  readonly span: Span;
}

const child = (e: Element, name: string): Element | undefined => e.children.find((c) => c.name === name);
const children = (e: Element, name: string): Element[] => e.children.filter((c) => c.name === name);

/** Thrown inside saxes handlers to stop at a refused DOCTYPE. */
class Refused extends Error {}

/** Parses XML; a DOCTYPE that declares entities (billion laughs, external entities) is refused. */
function parseXml(source: Source): { root?: Element; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const parser = new SaxesParser({ position: true });
  const stack: Element[] = [];
  let root: Element | undefined;
  let error: Diagnostic | undefined;
  const at = (line: number, col: number): Span => ({ file: source.file, line: Math.max(1, line), col: Math.max(1, col) });
  parser.on("doctype", (doctype) => {
    if (!doctype.includes("<!ENTITY")) return;
    // the event comes after the closing '>': back to "<!DOCTYPE", then to the first declaration
    const start = parser.position - doctype.length - "<!DOCTYPE".length - 1;
    diagnostics.push(
      diagnostic(
        "RCH052",
        spanAt(source, start + "<!DOCTYPE".length + doctype.indexOf("<!ENTITY")),
        "the DOCTYPE declares entities: refused (entity expansion can blow up or read local files)",
        {
          expected: "libvirt XML as virsh prints it, without a DOCTYPE",
        },
      ),
    );
    throw new Refused();
  });
  // where the tag being read starts: saxes reports opentagstart one character past the name
  let tagLine = 1;
  let tagCol = 1;
  parser.on("opentagstart", (tag) => {
    tagLine = parser.line;
    tagCol = parser.column - tag.name.length - 1;
  });
  parser.on("opentag", (tag) => {
    const e: Element = {
      name: tag.name,
      attrs: { ...(tag.attributes as Record<string, string>) },
      children: [],
      text: "",
      span: at(tagLine, tagCol),
    };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(e);
    else root ??= e;
    stack.push(e); // saxes sends closetag for self-closing tags too
  });
  parser.on("closetag", () => void stack.pop());
  parser.on("text", (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on("cdata", (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on("error", (e) => {
    error ??= diagnostic("RCH055", at(parser.line, parser.column), `malformed XML: ${e.message.replace(/^\d+:\d+: /, "")}`, {
      expected: FORMATS,
    });
  });
  try {
    parser.write(source.text).close();
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    return { diagnostics };
  }
  if (error) return { diagnostics: [error] };
  return { ...(root ? { root } : {}), diagnostics };
}

// ---------------------------------------------------------------------------
// Networks

type Mode = "nat" | "route" | "open" | "isolated" | "bridge";

interface Dhcp {
  readonly ranges: { readonly start: IP; readonly end: IP }[];
  readonly hosts: { readonly mac?: string; readonly name?: string; readonly ip: IP; readonly span: Span }[];
}

interface NetIp {
  readonly ip: IP;
  readonly len: number;
  readonly dhcp?: Dhcp;
  /** Host numbers already handed out (static hosts, earlier domains, the network's own address). */
  readonly leased: Set<bigint>;
}

interface Network {
  readonly name: string;
  readonly mode: Mode;
  /** The bridge device (virbrN, or the host's br0 in bridge mode). */
  readonly bridge?: string;
  /** `<forward dev='eth0'/>`: forwarding only through that host interface. */
  readonly dev?: string;
  readonly ips: NetIp[];
  readonly natIPv6: boolean;
  /** `<nat><address start=A end=A/>`: SNAT to A; null for a range (not modelled). */
  readonly snat?: string | null;
  readonly dns: boolean;
  readonly routes: RouteDoc[];
  /** Why domains cannot be placed on it (a macvtap or hardware mode), if so. */
  readonly unsupported?: string;
  readonly span: Span;
}

/** A Linux interface name (IFNAMSIZ, no spaces, '/' or ':'). */
const IFNAME = /^[^\s/:]{1,15}$/;

/** Elements of network XML that do not change what is reachable. */
const NETWORK_IGNORED = new Set([
  "uuid",
  "mac",
  "domain",
  "mtu",
  "portgroup",
  "bandwidth",
  "virtualport",
  "metadata",
  "title",
  "description",
]);

/** Prefix length of `<ip>`: prefix, netmask, or libvirt's default (classful for IPv4, 64 for IPv6). */
function ipPrefix(e: Element, ip: IP): number | undefined | "default" {
  const { prefix, netmask } = e.attrs;
  const max = ip.v === 4 ? 32 : 128;
  if (prefix !== undefined) return /^\d{1,3}$/.test(prefix) && Number(prefix) <= max ? Number(prefix) : undefined;
  if (netmask !== undefined) {
    const m = parseIP(netmask);
    if (!m || m.v !== 4 || ip.v !== 4) return undefined;
    const bits = m.n.toString(2).padStart(32, "0");
    return /^1*0*$/.test(bits) ? (bits.indexOf("0") === -1 ? 32 : bits.indexOf("0")) : undefined;
  }
  return "default";
}

/** virSocketAddrGetIPPrefix's default for an address without prefix: class A /8, B /16, C /24; IPv6 /64. */
function classfulPrefix(ip: IP): number {
  if (ip.v === 6) return 64;
  const first = Number(ip.n >> 24n);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

class Reader extends Findings {
  readonly networks = new Map<string, Network>();
  readonly domains: Element[] = [];

  constructor(readonly options: ImportOptions) {
    super();
  }

  read(source: Source): void {
    const { root, diagnostics } = parseXml(source);
    this.diagnostics.push(...diagnostics);
    if (!root) return;
    if (root.name === "network") this.network(root);
    else if (root.name === "domain") this.domains.push(root);
    else this.report("RCH050", root.span, `<${root.name}> is not libvirt network or domain XML`, FORMATS);
  }

  // --- network XML

  private network(e: Element): void {
    const name = child(e, "name")?.text.trim();
    if (!name) {
      this.report("RCH055", e.span, "<network> without <name>", "<name>NETWORK</name> as virsh net-dumpxml prints it");
      return;
    }
    if (this.networks.has(name)) {
      this.report("RCH053", e.span, `network '${name}' is given twice: the first is kept`, "each network's XML once", "warning");
      return;
    }
    for (const c of e.children) {
      if (!["name", "forward", "bridge", "ip", "dns", "route"].includes(c.name) && !NETWORK_IGNORED.has(c.name)) {
        this.warn(
          c.span,
          `<${c.name}> in network '${name}' is not understood: left out`,
          "name, forward, bridge, ip, dns, route (and uuid, mac, domain, mtu, ...)",
        );
      }
    }
    const forward = child(e, "forward");
    const bridge = child(e, "bridge")?.attrs["name"];
    const { mode, unsupported: why } = this.forwardMode(e, name, forward);
    let unsupported = why;
    const dev = mode !== "bridge" ? forward?.attrs["dev"] : undefined;
    if (dev !== undefined && !IFNAME.test(dev)) {
      this.warn(
        forward!.span,
        `forward dev '${dev}' is not an interface name: the network is not imported`,
        "<forward mode='nat' dev='eth0'/>",
      );
      unsupported ??= "a bad forward dev";
    }
    const nat = forward ? child(forward, "nat") : undefined;
    const snat = this.snat(name, nat);
    const ips = mode === "bridge" || unsupported ? [] : this.ips(e, name);
    const dnsEl = child(e, "dns");
    const routes = this.routes(e, name);
    this.networks.set(name, {
      name,
      mode,
      ...(bridge !== undefined ? { bridge } : {}),
      ...(dev !== undefined ? { dev } : {}),
      ips,
      natIPv6: nat?.attrs["ipv6"] === "yes",
      ...(snat !== undefined ? { snat } : {}),
      dns: dnsEl?.attrs["enable"] !== "no",
      routes: mode === "bridge" || unsupported ? [] : routes,
      ...(unsupported ? { unsupported } : {}),
      span: e.span,
    });
  }

  /**
   * A network's forward mode (formatnetwork.rst), and why the network is not imported when
   * it is not: a mode that attaches guests to host NICs, no usable bridge, a bridge that
   * another network of the inputs uses.
   */
  private forwardMode(e: Element, name: string, forward: Element | undefined): { mode: Mode; unsupported?: string } {
    // no <forward>: isolated; a <forward> without mode: nat (formatnetwork.rst)
    const modeText = forward ? (forward.attrs["mode"] ?? "nat") : undefined;
    const bridgeEl = child(e, "bridge");
    const bridge = bridgeEl?.attrs["name"];
    let unsupported: string | undefined;
    let mode: Mode = "isolated";
    if (modeText === undefined || modeText === "nat" || modeText === "route" || modeText === "open") mode = modeText ?? "isolated";
    else if (modeText === "bridge" && bridge !== undefined && !forward?.children.some((c) => c.name === "interface")) mode = "bridge";
    else {
      unsupported = modeText === "bridge" ? "a macvtap bridge (forward interfaces)" : `forward mode '${modeText}'`;
      this.warn(
        forward!.span,
        `network '${name}' uses ${unsupported}: guests are attached to host NICs directly, which is not modelled; its domains' interfaces are not imported`,
        "forward mode nat, route, open, bridge with <bridge name=...>, or no forward (isolated)",
      );
    }
    if (!unsupported && (bridge === undefined || !IFNAME.test(bridge))) {
      unsupported = "no usable bridge name";
      this.warn(
        bridgeEl?.span ?? e.span,
        `network '${name}' has ${bridge === undefined ? "no <bridge name=...>" : `bridge name '${bridge}', which is not an interface name`}: not imported`,
        "<bridge name='virbr0'/> as virsh net-dumpxml prints it",
      );
    }
    const sharing =
      mode !== "bridge" && !unsupported
        ? [...this.networks.values()].find((x) => x.bridge === bridge && x.mode !== "bridge" && !x.unsupported)
        : undefined;
    if (sharing) {
      unsupported = `bridge ${bridge}, which network '${sharing.name}' uses too`;
      this.report(
        "RCH053",
        bridgeEl!.span,
        `network '${name}' uses bridge ${bridge}, which network '${sharing.name}' of the inputs uses too: not imported`,
        "one bridge per libvirt network",
      );
    }
    return { mode, ...(unsupported ? { unsupported } : {}) };
  }

  /** `<nat><address start end/>`: SNAT to that one address instead of masquerading (null: a range, not modelled; undefined: masquerade). */
  private snat(name: string, nat: Element | undefined): string | null | undefined {
    const natAddress = nat ? child(nat, "address") : undefined;
    let snat: string | null | undefined;
    if (natAddress) {
      const start = parseIP(natAddress.attrs["start"] ?? "");
      const end = parseIP(natAddress.attrs["end"] ?? natAddress.attrs["start"] ?? "");
      if (start && end && start.v === 4 && end.v === 4 && start.n === end.n) snat = formatIP(start);
      else {
        snat = null;
        this.warn(
          natAddress.span,
          `network '${name}' NATs to the address range ${natAddress.attrs["start"] ?? "?"}-${natAddress.attrs["end"] ?? "?"}: not modelled, its guests' outbound traffic is left untranslated`,
          "<nat><address start='A' end='A'/></nat> (one address) or no <address> (masquerade)",
        );
      }
    }
    return snat;
  }

  /** A network's static `<route address prefix gateway/>`s. */
  private routes(e: Element, name: string): RouteDoc[] {
    const routes: RouteDoc[] = [];
    for (const r of children(e, "route")) {
      const to = parseIP(r.attrs["address"] ?? "");
      const gw = parseIP(r.attrs["gateway"] ?? "");
      const len = to ? ipPrefix(r, to) : undefined;
      if (!to || !gw || len === undefined) {
        this.report(
          "RCH010",
          r.span,
          `<route> of network '${name}' has no valid address, prefix and gateway`,
          "<route address='192.168.222.0' prefix='24' gateway='192.168.122.2'/>",
        );
        continue;
      }
      const l = len === "default" ? classfulPrefix(to) : len;
      routes.push({ to: `${formatIP(prefixOf(to, l))}/${l}`, via: formatIP(gw) });
    }
    return routes;
  }

  private ips(e: Element, name: string): NetIp[] {
    const out: NetIp[] = [];
    for (const ipEl of children(e, "ip")) {
      const family = ipEl.attrs["family"] ?? "ipv4";
      const ip = parseIP(ipEl.attrs["address"] ?? "");
      if (!ip || (family !== "ipv4" && family !== "ipv6") || ip.v !== (family === "ipv4" ? 4 : 6)) {
        this.report(
          "RCH010",
          ipEl.span,
          `<ip address='${ipEl.attrs["address"] ?? ""}'> of network '${name}' is not an ${family === "ipv6" ? "IPv6" : "IPv4"} address`,
          family === "ipv6"
            ? "<ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'/>"
            : "<ip address='192.168.122.1' netmask='255.255.255.0'/>",
        );
        continue;
      }
      const p = ipPrefix(ipEl, ip);
      if (p === undefined) {
        this.report(
          "RCH011",
          ipEl.span,
          `the netmask or prefix of ${formatIP(ip)} in network '${name}' is not valid`,
          ip.v === 4 ? "netmask='255.255.255.0' or prefix='24'" : "prefix='64'",
        );
        continue;
      }
      const len = p === "default" ? classfulPrefix(ip) : p;
      if (p === "default") this.note(`Network ${name}: ${formatIP(ip)} has no netmask or prefix: libvirt's default /${len} is used.`);
      const net = prefixOf(ip, len);
      const dhcpEl = child(ipEl, "dhcp");
      let dhcp: Dhcp | undefined;
      if (dhcpEl) {
        const ranges: Dhcp["ranges"] = [];
        const hosts: Dhcp["hosts"] = [];
        for (const r of children(dhcpEl, "range")) {
          const start = parseIP(r.attrs["start"] ?? "");
          const end = parseIP(r.attrs["end"] ?? "");
          if (!start || !end || !contains(net, start) || !contains(net, end) || start.n > end.n) {
            this.report(
              "RCH010",
              r.span,
              `DHCP range ${r.attrs["start"] ?? "?"}-${r.attrs["end"] ?? "?"} is not inside ${formatIP(net)}/${len}`,
              `<range start='...' end='...'/> inside ${formatIP(net)}/${len}`,
            );
            continue;
          }
          ranges.push({ start, end });
        }
        for (const h of children(dhcpEl, "host")) {
          const hip = parseIP(h.attrs["ip"] ?? "");
          if (!hip || !contains(net, hip)) {
            this.report(
              "RCH010",
              h.span,
              `DHCP host entry ip '${h.attrs["ip"] ?? ""}' is not inside ${formatIP(net)}/${len}`,
              `<host mac='52:54:00:..' ip='...'/> inside ${formatIP(net)}/${len}`,
            );
            continue;
          }
          const mac = h.attrs["mac"]?.toLowerCase();
          const hname = h.attrs["name"];
          hosts.push({ ip: hip, span: h.span, ...(mac !== undefined ? { mac } : {}), ...(hname !== undefined ? { name: hname } : {}) });
        }
        dhcp = { ranges, hosts };
      }
      const leased = new Set<bigint>([ip.n, ...(dhcp?.hosts ?? []).map((h) => h.ip.n)]);
      out.push({ ip, len, leased, ...(dhcp ? { dhcp } : {}) });
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// The host side of the networks

/** libvirt's forward-chain rules for one network, by the chain they go to (cross, guest input, guest output). */
function forwardRules(n: Network): { cross: RuleDoc[]; input: RuleDoc[]; output: RuleDoc[] } {
  const b = n.bridge!;
  const tag = `libvirt ${n.name}`;
  const cross: RuleDoc[] = [{ action: "accept", in: b, out: b, comment: `${tag}: guest to guest` }];
  const input: RuleDoc[] = [];
  const output: RuleDoc[] = [];
  for (const x of n.ips) {
    const subnet = `${formatIP(prefixOf(x.ip, x.len))}/${x.len}`;
    if (n.mode === "isolated") continue;
    // nat: IPv4 (and IPv6 with <nat ipv6='yes'/>) is masqueraded and only replies come in; IPv6 otherwise is routed
    const masq = n.mode === "nat" && (x.ip.v === 4 || n.natIPv6);
    output.push({ action: "accept", in: b, src: subnet, ...(n.dev ? { out: n.dev } : {}), comment: `${tag}: from the guests` });
    input.push({
      action: "accept",
      out: b,
      dst: subnet,
      ...(n.dev ? { in: n.dev } : {}),
      ...(masq ? { state: ["established", "related"] as RuleDoc["state"] } : {}),
      comment: masq ? `${tag}: replies to the guests` : `${tag}: to the guests (routed)`,
    });
  }
  // the catch-all rejects exist for IPv4 always, for IPv6 when the network has an IPv6 address
  const v6 = n.ips.some((x) => x.ip.v === 6);
  input.push({ action: "reject", out: b, ...(v6 ? {} : { dst: "0.0.0.0/0" }), comment: `${tag}: nothing else to the guests` });
  output.push({ action: "reject", in: b, ...(v6 ? {} : { src: "0.0.0.0/0" }), comment: `${tag}: nothing else from the guests` });
  return { cross, input, output };
}

/**
 * MASQUERADE (or SNAT to `<nat><address>`) of a nat network's guests. libvirt also exempts the
 * network itself as destination, which never needs saying here: guest to guest is bridged, not routed.
 */
function natRules(n: Network): NatRuleDoc[] {
  if (n.mode !== "nat" || n.snat === null) return [];
  return n.ips
    .filter((x) => x.ip.v === 4 || n.natIPv6)
    .map((x): NatRuleDoc => {
      const match = { src: `${formatIP(prefixOf(x.ip, x.len))}/${x.len}`, ...(n.dev ? { out: n.dev } : {}) };
      return n.snat && x.ip.v === 4
        ? { action: "snat", ...match, to: n.snat, comment: `libvirt ${n.name}: NAT to ${n.snat}` }
        : { action: "masquerade", ...match, comment: `libvirt ${n.name}: NAT to the host's address` };
    });
}

const MODE_NOTE: Record<Exclude<Mode, "bridge">, string> = {
  nat: "the host forwards and masquerades the guests' outbound traffic; from other networks only replies come in",
  route:
    "the host routes the guests' traffic both ways without NAT; other machines reach the guests only if their router has a route to the network via this host",
  open: "the host routes the guests' traffic and libvirt adds no firewall rules at all",
  isolated: "the guests reach the host and each other only; the host forwards nothing to or from them",
};

// ---------------------------------------------------------------------------
// Domains

interface Placed {
  readonly interfaces: Record<string, { segment: string; addresses: string[] }>;
  readonly adapters: AdapterDoc[];
  readonly routes: RouteDoc[];
}

class Builder {
  readonly machines: Record<string, MachineDoc> = {};
  readonly segments: NonNullable<TopologyDoc["segments"]> = {};
  readonly host: MachineDoc = {};

  constructor(
    readonly r: Reader,
    readonly options: ImportOptions,
  ) {}

  segment(n: Network): string {
    return `${this.options.host}/${n.name}`;
  }

  /** The host's side of every libvirt-managed network: bridge interface, forwarding, rules, dnsmasq, routes. */
  networks(): void {
    const r = this.r;
    const cross: RuleDoc[] = [];
    const input: RuleDoc[] = [];
    const output: RuleDoc[] = [];
    const nat: NatRuleDoc[] = [];
    const services: ServiceDoc[] = [];
    const routes: RouteDoc[] = [];
    const interfaces: NonNullable<MachineDoc["interfaces"]> = {};
    let forwarding = false;
    for (const n of r.networks.values()) {
      if (n.unsupported) continue;
      if (n.mode === "bridge") {
        r.note(
          `Network ${n.name} (forward mode bridge) is the host's own bridge ${n.bridge}: its guests sit on the host's LAN, and libvirt adds no addresses, DHCP or firewall rules.`,
        );
        continue;
      }
      const seg = this.segment(n);
      const subnets = n.ips.map((x) => `${formatIP(prefixOf(x.ip, x.len))}/${x.len}`);
      this.segments[seg] = subnets.length === 1 ? subnets[0]! : { subnets };
      interfaces[n.bridge!] = { segment: seg, addresses: n.ips.map((x) => `${formatIP(x.ip)}/${x.len}`) };
      if (n.mode !== "isolated") forwarding = true;
      if (n.mode !== "open") {
        const f = forwardRules(n);
        cross.push(...f.cross);
        input.push(...f.input);
        output.push(...f.output);
        nat.push(...natRules(n));
      }
      if (n.dns) {
        for (const x of n.ips) {
          for (const proto of ["udp", "tcp"] as const)
            services.push({ name: `dnsmasq ${proto} ${formatIP(x.ip)} (libvirt ${n.name})`, proto, port: 53, bind: formatIP(x.ip) });
        }
      }
      routes.push(...n.routes);
      r.note(
        `libvirt network ${n.name} (${n.mode === "isolated" ? "isolated: no <forward>" : `forward mode ${n.mode}`}) is ${n.bridge} on the host: ${MODE_NOTE[n.mode]}.${n.mode === "open" ? "" : ` The firewall rules libvirt adds for it are written under the host's forward chain${n.mode === "nat" ? " and nat" : ""}.`}`,
      );
      if (n.dev)
        r.note(
          `libvirt network ${n.name} forwards only through the host's ${n.dev} (forward dev): the host needs an interface of that name.`,
        );
    }
    if (!Object.keys(interfaces).length) return;
    this.host.interfaces = interfaces;
    if (forwarding) this.host.ip_forward = true;
    const rules = [...cross, ...input, ...output];
    if (rules.length) this.host.firewall = { forward: { rules } };
    if (nat.length) this.host.nat = nat;
    if (services.length) this.host.services = services;
    if (routes.length) this.host.routes = routes;
    r.note(
      "Only the firewall rules libvirt adds are in these files: the host's own firewall (a FORWARD policy of drop, ufw, firewalld zones) is not.",
    );
  }

  /** Every domain, in input order. */
  domains(): void {
    for (const root of this.r.domains) this.domain(root);
  }

  private domain(e: Element): void {
    const r = this.r;
    const name = child(e, "name")?.text.trim();
    if (!name) {
      r.report("RCH055", e.span, "<domain> without <name>", "<name>DOMAIN</name> as virsh dumpxml prints it");
      return;
    }
    if (name === this.options.host) {
      r.report(
        "RCH053",
        e.span,
        `domain '${name}' has the name of the host machine`,
        "another --host name for the machine that runs libvirt",
      );
      return;
    }
    if (this.machines[name]) {
      r.report("RCH053", e.span, `domain '${name}' is given twice: the first is kept`, "each domain's XML once", "warning");
      return;
    }
    const placed: Placed = { interfaces: {}, adapters: [], routes: [] };
    const devices = child(e, "devices");
    children(devices ?? e, "interface").forEach((i, k) => this.iface(name, i, `eth${k}`, placed));
    const services: ServiceDoc[] = [{ name: "sshd (assumed)", proto: "tcp", port: 22 }];
    r.note(
      "libvirt's XML says nothing about the services inside a guest: each domain is given an sshd on 22/tcp (assumed, as libvirt guests are usually reached by ssh) so that its reachability can be asked; add the real services.",
    );
    this.machines[name] = {
      description: "libvirt domain",
      ...(Object.keys(placed.interfaces).length ? { interfaces: placed.interfaces } : {}),
      ...(placed.routes.length ? { routes: placed.routes } : {}),
      services,
      ...(placed.adapters.length ? { vm: { on: this.options.host, adapters: placed.adapters } } : {}),
    };
  }

  /** One `<interface>` of a domain, as guest interface `ifname`. */
  private iface(domain: string, i: Element, ifname: string, out: Placed): void {
    const r = this.r;
    const type = i.attrs["type"];
    const where = `${domain}'s interface ${ifname}`;
    if (child(i, "link")?.attrs["state"] === "down") {
      r.warn(child(i, "link")!.span, `${where} has its link down: not imported`, "<link state='up'/> or no <link>");
      return;
    }
    for (const c of ["filterref", "vlan", "port"]) {
      const x = child(i, c);
      if (x)
        r.warn(
          x.span,
          `<${c}> of ${where} (${c === "filterref" ? "nwfilter rules" : c === "vlan" ? "a VLAN tag" : "port isolation"}) is not modelled: left out, the interface is imported without it`,
          "an interface without nwfilter, VLAN or port isolation",
        );
    }
    if (type === "network" || type === "bridge") return this.onSource(domain, i, ifname, type, out);
    if (type === "user") return this.userMode(domain, i, ifname, out);
    r.warn(
      i.span,
      `${where} is of type '${type ?? "(none)"}'${type === "direct" ? " (macvtap)" : ""}, which is not modelled: not imported`,
      "interface type network, bridge or user",
    );
  }

  /** An interface of type network or bridge: on a libvirt network of the inputs, or on a bridge of the host. */
  private onSource(domain: string, i: Element, ifname: string, type: "network" | "bridge", out: Placed): void {
    const r = this.r;
    const source = child(i, "source");
    const where = `${domain}'s interface ${ifname}`;
    const key = type === "network" ? source?.attrs["network"] : source?.attrs["bridge"];
    if (!key) {
      r.warn(source?.span ?? i.span, `${where} (type ${type}) has no <source ${type}=...>: not imported`, `<source ${type}='...'/>`);
      return;
    }
    const n = type === "network" ? r.networks.get(key) : [...r.networks.values()].find((x) => x.bridge === key && x.mode !== "bridge");
    if (!n && type === "network") {
      r.warn(
        source!.span,
        `${where} is on network '${key}', which is not among the inputs: not imported`,
        `the network's XML too (virsh net-dumpxml ${key})`,
      );
      return;
    }
    if (n?.unsupported) {
      r.warn(
        source!.span,
        `${where} is on network '${key}', which uses ${n.unsupported}: not imported`,
        "a network with forward mode nat, route, open, bridge or none",
      );
      return;
    }
    if (!n || n.mode === "bridge") {
      const bridge = n?.bridge ?? key;
      if (!IFNAME.test(bridge)) {
        r.warn(source!.span, `${where} is on bridge '${bridge}', which is not an interface name: not imported`, "<source bridge='br0'/>");
        return;
      }
      out.adapters.push({ mode: "bridged", interface: ifname, bridge, addresses: [] });
      r.note(
        `${where} is on the host's bridge ${bridge}: assumed ${bridge} is the host's LAN interface, and the guest's address comes from the LAN's DHCP server (not in libvirt's files).`,
      );
      return;
    }
    this.onNetwork(domain, i, ifname, n, out);
  }

  /** An interface of type user: QEMU's user-mode networking (libslirp) as a NAT adapter. */
  private userMode(domain: string, i: Element, ifname: string, out: Placed): void {
    const r = this.r;
    const where = `${domain}'s interface ${ifname}`;
    if (child(i, "backend")?.attrs["type"] === "passt" || child(i, "portForward")) {
      r.warn(
        (child(i, "backend") ?? child(i, "portForward"))!.span,
        `${where} uses the passt backend (port forwards, the host's addresses): not modelled, not imported`,
        "<interface type='user'> with QEMU's default user-mode (libslirp) backend",
      );
      return;
    }
    const ipEl = children(i, "ip").find((x) => (x.attrs["family"] ?? "ipv4") === "ipv4");
    let network = "10.0.2.0/24";
    if (ipEl) {
      const ip = parseIP(ipEl.attrs["address"] ?? "");
      const len = Number(ipEl.attrs["prefix"] ?? "24");
      if (!ip || ip.v !== 4 || !Number.isInteger(len) || len < 1 || len > 27) {
        r.report(
          "RCH010",
          ipEl.span,
          `<ip> of ${where} is not an IPv4 network for user-mode networking`,
          "<ip family='ipv4' address='172.17.2.0' prefix='24'/>",
        );
        return;
      }
      network = `${formatIP(prefixOf(ip, len))}/${len}`;
    }
    const ip6 = children(i, "ip").find((x) => x.attrs["family"] === "ipv6");
    const net6 = ip6 ? `${ip6.attrs["address"] ?? ""}/${ip6.attrs["prefix"] ?? "64"}` : undefined;
    const c6 = net6 !== undefined ? parseCidr(net6) : undefined;
    const v6ok = c6 !== undefined && c6.ip.v === 6 && c6.len === 64 && prefixOf(c6.ip, 64).n === c6.ip.n;
    if (ip6 && !v6ok)
      r.warn(
        ip6.span,
        `<ip family='ipv6'> of ${where} (${net6}) is not an IPv6 /64, which the guest's SLAAC needs: imported with IPv6 off`,
        "<ip family='ipv6' address='fd00::' prefix='64'/>",
      );
    out.adapters.push({
      mode: "nat",
      interface: ifname,
      engine: "qemu",
      network,
      ...(ip6 ? (v6ok ? { ipv6Network: `${formatIP(c6!.ip)}/64` } : { ipv6: false }) : {}),
    });
    r.note(
      `${where} is QEMU user-mode networking (libslirp): a private NAT on ${network}, the guest at .15, the host's loopback reachable as .2 (libslirp's default)${ip6 && !v6ok ? "" : `, and IPv6 on (QEMU's default) on ${v6ok ? formatIP(c6!.ip) : "fec0::"}/64 with ::2 standing for the host's ::1`}; nothing comes in, libvirt sets no port forwards for it.`,
    );
  }

  /** An interface on a libvirt-managed network: its segment, the DHCP address, the router dnsmasq announces. */
  private onNetwork(domain: string, i: Element, ifname: string, n: Network, out: Placed): void {
    const r = this.r;
    const mac = child(i, "mac")?.attrs["address"]?.toLowerCase();
    const addresses: string[] = [];
    for (const x of n.ips) {
      const hosts = x.dhcp?.hosts ?? [];
      const byMac = mac !== undefined ? hosts.find((h) => h.mac === mac) : undefined;
      const byName = byMac ? undefined : hosts.find((h) => h.name === domain && h.mac === undefined);
      let ip: IP | undefined = (byMac ?? byName)?.ip;
      if (byName)
        r.note(
          `${domain}: network ${n.name}'s DHCP host entry for name ${domain} is assumed to match the guest (dnsmasq matches the hostname the guest sends).`,
        );
      if (!ip) {
        for (const range of x.dhcp?.ranges ?? []) {
          for (let h = range.start.n; h <= range.end.n && !ip; h++) if (!x.leased.has(h)) ip = { v: x.ip.v, n: h };
          if (ip) break;
        }
        if (ip)
          r.note(
            `${domain}: assumed the DHCP lease ${formatIP(ip)} on network ${n.name}, the first free address of its range (the actual lease is in virsh net-dhcp-leases ${n.name}).`,
          );
      }
      if (!ip) continue;
      x.leased.add(ip.n);
      addresses.push(`${formatIP(ip)}/${x.len}`);
      // dnsmasq announces the network's address as the router, except on an isolated network (dhcp-option=3)
      const to = ip.v === 4 ? "default" : "default6";
      if (n.mode !== "isolated" && !out.routes.some((rt) => rt.to === to)) out.routes.push({ to, via: formatIP(x.ip) });
    }
    if (!addresses.length)
      r.note(
        `${domain}: network ${n.name} gives ${ifname} no address by DHCP (no host entry for it and no free address in a range): the guest configures it itself, so it is left without one.`,
      );
    out.interfaces[ifname] = { segment: this.segment(n), addresses };
  }
}

// ---------------------------------------------------------------------------
// The importer

/**
 * libvirt's stock `default` network, as the libvirt packages install it
 * (/usr/share/libvirt/networks/default.xml, formatnetwork.rst): NAT on bridge virbr0,
 * 192.168.122.1/24, DHCP from .2 to .254.
 */
const STOCK_DEFAULT = {
  file: "libvirt's stock default network (assumed)",
  text: `<network><name>default</name><forward mode='nat'/><bridge name='virbr0'/><ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>`,
};

/** The first `<source network='default'/>` of a domain's interfaces, when no input is the default network itself. */
function namesStockDefault(r: Reader): Span | undefined {
  if (r.networks.has("default") || [...r.networks.values()].some((n) => n.bridge === "virbr0")) return undefined;
  for (const d of r.domains) {
    for (const i of children(child(d, "devices") ?? d, "interface")) {
      const src = child(i, "source");
      if (i.attrs["type"] === "network" && src?.attrs["network"] === "default") return src.span;
    }
  }
  return undefined;
}

export const importLibvirt: Importer = (sources, options): ImportResult => {
  const r = new Reader(options);
  for (const s of sources) r.read(s);
  const stock = namesStockDefault(r);
  const assumed: { at: string; what: string }[] = [];
  if (stock) {
    r.read(STOCK_DEFAULT);
    const what =
      "network 'default' is not among the inputs: assumed libvirt's stock default network (NAT on virbr0, 192.168.122.1/24, DHCP 192.168.122.2-254, as the libvirt packages install it); import `virsh net-dumpxml default` with the domain to be exact";
    r.note(`${formatSpan(stock)}: ${what}.`);
    assumed.push({ at: formatSpan(stock), what });
  }
  const b = new Builder(r, options);
  b.networks();
  b.domains();
  const machines: Record<string, MachineDoc> = { ...b.machines };
  if (Object.keys(b.host).length) machines[options.host] = b.host;
  return {
    fragment: {
      ...(Object.keys(b.segments).length ? { segments: b.segments } : {}),
      machines,
      notes: r.notes,
      ...(assumed.length ? { assumed } : {}),
    },
    diagnostics: r.diagnostics,
  };
};
