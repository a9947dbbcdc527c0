/**
 * Lowering: Topology (the user's language) -> Network IR (plain elements).
 *
 * - A VirtualBox NAT adapter becomes a private segment `VM/natN` with a NAT engine
 *   machine (`VM-nat`, 10.0.x.2 and DNS .3) and the guest at .15 with a default
 *   route via .2. The engine is a user-space process of the host: what the guest
 *   sends through it leaves as a new connection of the host, and each port forward
 *   is a listening socket of the host that relays to the guest from the engine
 *   (semantics.md section 5). A NAT Network is the same, shared, gateway .1.
 * - Host-only: the host gets `vboxnetN` (192.168.(56+N).1/24) on segment `HOST/vboxnetN`.
 * - Bridged: the VM joins the segment of the host interface it bridges to.
 * - Internal: segment `HOST/intnet:NAME`, VMs only.
 * - Home router: ip_forward, masquerade out of the WAN, DNAT per forward, hairpin
 *   SNAT, and a default stateful firewall unless the file gives one.
 * The checker has run: parsing here cannot fail.
 */
import { contains, LOOPBACK_NET4, parseCidr, parseIP, parseMatchPrefix, prefixOf, type IfAddr, type IP, type Prefix } from "../net/addr.js";
import type { Chain, Iface, Machine, Match, NatRule, Network, Origin, Route, Rule, Segment, Socket } from "../ir/types.js";
import { parseSegmentSubnets, type Topology } from "../topology/check.js";
import { parsePort, parsePortRange } from "../net/port.js";
import type { Path } from "../topology/load.js";
import type { ChainDoc, ForwardDoc, MachineDoc, NatRuleDoc, RuleDoc } from "../topology/schema.js";
import {
  adapterInterfaceName,
  DEFAULT_NATNETWORK,
  engineNames,
  hostInNet,
  HOSTONLY_DHCP_FIRST,
  hostOnlyDefault,
  NAT_GATEWAY,
  NAT_GUEST,
  NATNET_GATEWAY,
  NATNET_LOOPBACK_OFFSET,
  natAdapterNetwork,
  segmentNames,
  FIRST_UNPRIVILEGED_PORT,
} from "../topology/vbox.js";

const must = <T>(v: T | undefined, what: string): T => {
  if (v === undefined) throw new Error(`internal: unchecked ${what}`);
  return v;
};
const ipOf = (t: string) => must(parseIP(t), `address ${t}`);
const cidrOf = (t: string): IfAddr => must(parseCidr(t), `cidr ${t}`);
const portOf = (v: number | string) => must(parsePort(v), `port ${v}`);

interface MutableMachine {
  name: string;
  kind: Machine["kind"];
  origin: Origin;
  interfaces: Iface[];
  staticRoutes: Route[];
  implicitDefaults: Route[];
  ipForward: boolean;
  rpFilter: 0 | 1 | 2;
  routeLocalnet: boolean;
  filter: Machine["filter"];
  nat: { prerouting: NatRule[]; output: NatRule[]; postrouting: NatRule[] };
  sockets: Socket[];
  engine?: Machine["engine"];
}

const LO: (origin: Origin) => Iface = (origin) => ({
  name: "lo",
  segment: null,
  addrs: [
    { ip: { v: 4, n: LOOPBACK_NET4.n + 1n }, len: 8 },
    { ip: { v: 6, n: 1n }, len: 128 },
  ],
  origin,
});

const acceptAll = (name: Chain["name"]): Chain => ({ name, policy: "accept", rules: [] });

export function lower(topo: Topology): Network {
  const { doc, loc } = topo;
  const file = loc.file;
  const o = (path: Path, what: string): Origin => ({ span: loc.at(path), what });
  const machines = new Map<string, MutableMachine>();
  const segments = new Map<string, Segment>();
  const addSegment = (name: string, subnets: Prefix[], origin: Origin) => {
    if (!segments.has(name)) segments.set(name, { name, subnets, origin });
  };
  for (const [name, seg] of Object.entries(doc.segments ?? {})) {
    addSegment(
      name,
      parseSegmentSubnets(seg).map((s) => must(parseMatchPrefix(s), s)),
      o(["segments", name], `segment '${name}'`),
    );
  }

  const newMachine = (name: string, kind: Machine["kind"], origin: Origin): MutableMachine => {
    const m: MutableMachine = {
      name,
      kind,
      origin,
      interfaces: [LO(origin)],
      staticRoutes: [],
      implicitDefaults: [],
      ipForward: false,
      rpFilter: 0,
      routeLocalnet: false,
      filter: { input: acceptAll("input"), output: acceptAll("output"), forward: acceptAll("forward") },
      nat: { prerouting: [], output: [], postrouting: [] },
      sockets: [],
    };
    machines.set(name, m);
    return m;
  };

  // 1. declared machines, their own interfaces, services, firewall, NAT, routes
  for (const [name, md] of Object.entries(doc.machines)) {
    const mp: Path = ["machines", name];
    const m = newMachine(name, md.vm ? "vm" : md.router ? "router" : "host", o(mp, `machine '${name}'`));
    for (const [iname, iface] of Object.entries(md.interfaces ?? {})) {
      m.interfaces.push({
        name: iname,
        segment: iface.segment,
        addrs: (iface.addresses ?? []).map(cidrOf),
        origin: o([...mp, "interfaces", iname], `interface ${iname}`),
      });
    }
    m.ipForward = md.ip_forward ?? md.router !== undefined;
    m.rpFilter = md.rp_filter ?? 0;
    m.routeLocalnet = md.route_localnet ?? false;
    (md.services ?? []).forEach((s, k) => {
      const bind = s.bind === undefined || s.bind === "*" ? ipOf("0.0.0.0") : ipOf(s.bind);
      m.sockets.push({
        owner: s.name ?? `${s.proto ?? "tcp"}/${portOf(s.port)} listener`,
        proto: s.proto ?? "tcp",
        bind,
        port: portOf(s.port),
        v6only: s.v6only ?? false,
        ...(s.device !== undefined ? { device: s.device } : {}),
        ...(s.pktinfo !== undefined ? { pktinfo: s.pktinfo } : {}),
        role: { kind: "service" },
        origin: o([...mp, "services", k], `service ${s.name ?? `#${k + 1}`}`),
      });
    });
    if (md.firewall) {
      m.filter = {
        input: lowerChain("input", md.firewall.input, [...mp, "firewall", "input"], o),
        output: lowerChain("output", md.firewall.output, [...mp, "firewall", "output"], o),
        forward: lowerChain("forward", md.firewall.forward, [...mp, "firewall", "forward"], o),
      };
    }
    (md.nat ?? []).forEach((r, k) => {
      const rule = lowerNatRule(r, o([...mp, "nat", k], natWhat(r, k)));
      if (r.action === "dnat") (r.chain === "output" ? m.nat.output : m.nat.prerouting).push(rule);
      else m.nat.postrouting.push(rule);
    });
    (md.routes ?? []).forEach((r, k) => {
      const dst = must(parseMatchPrefix(r.to), r.to);
      m.staticRoutes.push({
        dst,
        ...(r.via !== undefined ? { via: ipOf(r.via) } : {}),
        dev: r.dev ?? "",
        type: "static",
        origin: o([...mp, "routes", k], `route ${r.to}${r.via ? ` via ${r.via}` : ""}`),
      });
    });
  }

  // 2. host-only interfaces on hosts (declared, or implied by a VM's adapter)
  const hostOnly = (host: string, net: string): MutableMachine => {
    const h = must(machines.get(host), host);
    if (!h.interfaces.some((i) => i.name === net)) {
      const decl = doc.machines[host]?.hostonly?.[net];
      const addrs = decl ? decl.addresses.map(cidrOf) : [must(hostOnlyDefault(net), net)];
      const origin = decl ? o(["machines", host, "hostonly", net], `host-only network ${net}`) : h.origin;
      h.interfaces.push({ name: net, segment: segmentNames.hostonly(host, net), addrs, origin });
      addSegment(
        segmentNames.hostonly(host, net),
        addrs.map((a) => prefixOf(a.ip, a.len)),
        origin,
      );
    }
    return h;
  };
  for (const [name, md] of Object.entries(doc.machines)) for (const net of Object.keys(md.hostonly ?? {})) hostOnly(name, net);

  // 3. VM adapters
  const dhcpNext = new Map<string, number>();
  const natNetEngines = new Map<string, MutableMachine>();
  for (const [name, md] of Object.entries(doc.machines)) {
    if (!md.vm) continue;
    const vm = must(machines.get(name), name);
    const hostName = md.vm.on;
    const host = must(machines.get(hostName), hostName);
    md.vm.adapters.forEach((a, slot) => {
      const ap: Path = ["machines", name, "vm", "adapters", slot];
      const ifname = adapterInterfaceName(a, slot);
      const adapterWhat = `${name}'s ${a.mode} adapter ${slot + 1}`;
      const iface = (segment: string, addrs: IfAddr[]) => vm.interfaces.push({ name: ifname, segment, addrs, origin: o(ap, adapterWhat) });
      const defaultVia = (gw: IP, origin: Origin) =>
        vm.implicitDefaults.push({ dst: { v: gw.v, n: 0n, len: 0 }, via: gw, dev: ifname, type: "static", origin });
      switch (a.mode) {
        case "nat": {
          const net = must(natAdapterNetwork(a.network, slot), "nat network");
          const seg = segmentNames.nat(name, slot);
          const gw = hostInNet(net, NAT_GATEWAY);
          const engineName = engineNames.nat(name, slot);
          const engine = newMachine(engineName, "nat-engine", o(ap, `VirtualBox NAT engine of ${adapterWhat}`));
          engine.interfaces.push({
            name: "nat",
            segment: seg,
            addrs: [
              { ip: gw, len: net.len },
              { ip: hostInNet(net, 3), len: net.len },
            ],
            origin: engine.origin,
          });
          engine.staticRoutes.push(engineOnLink(engine.origin));
          // The NAT engine's DNS proxy on .3 relays queries to the host's resolvers (assumed to answer).
          for (const proto of ["udp", "tcp"] as const) {
            engine.sockets.push({
              owner: "VirtualBox NAT DNS proxy",
              proto,
              bind: hostInNet(net, 3),
              port: 53,
              v6only: false,
              pktinfo: true,
              role: { kind: "service" },
              origin: engine.origin,
            });
          }
          engine.engine = {
            host: hostName,
            gateway: gw,
            loopbackAddress: gw,
            loopbackReachable: a.localhostReachable ?? false,
            origin: o(a.localhostReachable !== undefined ? [...ap, "localhostReachable"] : ap, `localhost-reachable of ${adapterWhat}`),
          };
          addSegment(seg, [net], engine.origin);
          const guest = hostInNet(net, NAT_GUEST);
          iface(seg, [{ ip: guest, len: net.len }]);
          defaultVia(gw, o(ap, `default route of ${adapterWhat} (DHCP from the NAT engine)`));
          // A forward below port 1024 never listens unless VirtualBox runs as root (the checker warns).
          (a.forwards ?? []).forEach(
            (f, k) =>
              (md.vm!.asRoot || portOf(f.hostPort) >= FIRST_UNPRIVILEGED_PORT) &&
              host.sockets.push(
                relaySocket(
                  f,
                  engineName,
                  guest,
                  gw,
                  o([...ap, "forwards", k], `port forward ${f.name ? `"${f.name}" ` : ""}of ${name}'s NAT adapter ${slot + 1}`),
                ),
              ),
          );
          break;
        }
        case "natnetwork": {
          const nn = must(doc.natnetworks?.[a.network], a.network);
          const net = prefixOf(cidrOf(nn.network ?? DEFAULT_NATNETWORK).ip, cidrOf(nn.network ?? DEFAULT_NATNETWORK).len);
          const hosts = new Set(
            Object.values(doc.machines)
              .filter((x) => x.vm?.adapters.some((y) => y.mode === "natnetwork" && y.network === a.network))
              .map((x) => x.vm!.on),
          );
          const perHost = hosts.size > 1 ? hostName : undefined;
          const seg = segmentNames.natnetwork(a.network, perHost);
          const gw = hostInNet(net, NATNET_GATEWAY);
          const engineName = engineNames.natnetwork(a.network, perHost);
          if (!natNetEngines.has(engineName)) {
            const np: Path = ["natnetworks", a.network];
            const engine = newMachine(engineName, "nat-engine", o(np, `VirtualBox NAT Network '${a.network}'`));
            // `VBoxManage natnetwork list` shows the default "loopback mappings (ipv4) 127.0.0.1=2":
            // offset 2 of the network stands for the host's loopback.
            const loop = hostInNet(net, NATNET_LOOPBACK_OFFSET);
            engine.interfaces.push({
              name: "nat",
              segment: seg,
              addrs: [
                { ip: gw, len: net.len },
                { ip: loop, len: net.len },
              ],
              origin: engine.origin,
            });
            engine.staticRoutes.push(engineOnLink(engine.origin));
            engine.engine = { host: hostName, gateway: gw, loopbackAddress: loop, loopbackReachable: true, origin: engine.origin };
            addSegment(seg, [net], engine.origin);
            (nn.forwards ?? []).forEach((f, k) =>
              host.sockets.push(
                relaySocket(
                  f,
                  engineName,
                  undefined,
                  gw,
                  o([...np, "forwards", k], `port forward ${f.name ? `"${f.name}" ` : ""}of NAT Network '${a.network}'`),
                ),
              ),
            );
            natNetEngines.set(engineName, engine);
          }
          iface(seg, a.addresses.map(cidrOf));
          defaultVia(gw, o(ap, `default route of ${adapterWhat} (DHCP from the NAT Network)`));
          break;
        }
        case "bridged": {
          const hostIf = must(
            host.interfaces.find((i) => i.name === a.bridge),
            a.bridge,
          );
          iface(must(hostIf.segment ?? undefined, "bridge segment"), a.addresses.map(cidrOf));
          if (a.gateway !== undefined) defaultVia(ipOf(a.gateway), o([...ap, "gateway"], `gateway of ${adapterWhat}`));
          break;
        }
        case "hostonly": {
          const net = a.network ?? "vboxnet0";
          const h = hostOnly(hostName, net);
          const hostIf = must(
            h.interfaces.find((i) => i.name === net),
            net,
          );
          let addrs: IfAddr[];
          if (a.addresses) addrs = a.addresses.map(cidrOf);
          else {
            const first = must(
              hostIf.addrs.find((x) => x.ip.v === 4),
              "host-only IPv4",
            );
            // The DHCP server hands out the next pool address that no VM on this network has set statically.
            const key = `${hostName}/${net}`;
            const p = prefixOf(first.ip, first.len);
            const taken = Object.values(doc.machines)
              .filter((x) => x.vm?.on === hostName)
              .flatMap((x) =>
                x.vm!.adapters.flatMap((y) => (y.mode === "hostonly" && (y.network ?? "vboxnet0") === net ? (y.addresses ?? []) : [])),
              )
              .map((t) => cidrOf(t).ip);
            let k = dhcpNext.get(key) ?? 0;
            while (taken.some((t) => t.n === hostInNet(p, HOSTONLY_DHCP_FIRST + k).n)) k++;
            dhcpNext.set(key, k + 1);
            addrs = [{ ip: hostInNet(p, HOSTONLY_DHCP_FIRST + k), len: first.len }];
          }
          iface(must(hostIf.segment ?? undefined, "host-only segment"), addrs);
          break;
        }
        case "internal": {
          const seg = segmentNames.internal(hostName, a.network ?? "intnet");
          addSegment(seg, [], o(ap, `internal network '${a.network ?? "intnet"}'`));
          iface(seg, a.addresses.map(cidrOf));
          break;
        }
        case "none":
          break;
      }
    });
  }

  // 4. home routers
  for (const [name, md] of Object.entries(doc.machines)) {
    if (md.router) lowerRouter(must(machines.get(name), name), md, ["machines", name, "router"], o);
  }

  const out: Machine[] = [...machines.values()].map(finish);
  return { file, machines: out, segments: [...segments.values()] };
}

/**
 * A NAT engine answers a guest on its link whatever the guest's source address (libslirp
 * resolves any address by ARP on its network; measured with slirp4netns: a guest that SNATs
 * its connection to another of its addresses still gets the answer). Kernel-tested by
 * `reach emulate`, 2026-11-23.
 */
const engineOnLink = (origin: Origin): Route => ({
  dst: { v: 4, n: 0n, len: 0 },
  dev: "nat",
  type: "static",
  origin: { ...origin, what: `${origin.what}: answers its guests on the link` },
});

function relaySocket(f: ForwardDoc, engine: string, defaultGuest: IP | undefined, gateway: IP, origin: Origin): Socket {
  return {
    owner: `VirtualBox NAT forward${f.name ? ` "${f.name}"` : ""}`,
    proto: f.proto ?? "tcp",
    bind: f.hostIp ? ipOf(f.hostIp) : ipOf("0.0.0.0"),
    port: portOf(f.hostPort),
    v6only: false,
    role: {
      kind: "relay",
      engine,
      to: f.guestIp ? ipOf(f.guestIp) : must(defaultGuest, "guest ip of a NAT Network forward"),
      toPort: portOf(f.guestPort),
      gateway,
    },
    origin,
  };
}

/**
 * Rules written with `dst: local` (any address of this machine: iptables `-m addrtype
 * --dst-type LOCAL`, nft `fib daddr type local`): lowered without dst here, and expanded by
 * finish() into one rule per local prefix once every interface of the machine is known. The
 * copies are consecutive and share the action, so together they match exactly the union.
 */
const DST_LOCAL = new WeakSet<object>();

/** This machine's local destinations: its addresses, 127.0.0.0/8 and ::1. */
function localPrefixes(m: MutableMachine): Prefix[] {
  const out: Prefix[] = [];
  for (const i of m.interfaces)
    for (const a of i.addrs) {
      const p = i.name === "lo" ? prefixOf(a.ip, a.len) : prefixOf(a.ip, a.ip.v === 4 ? 32 : 128);
      if (!out.some((x) => x.v === p.v && x.n === p.n && x.len === p.len)) out.push(p);
    }
  return out;
}

function expandLocal<R extends { readonly match: Match }>(rules: readonly R[], locals: readonly Prefix[]): R[] {
  return rules.flatMap((r) =>
    DST_LOCAL.has(r)
      ? locals.filter((p) => !r.match.src || r.match.src.v === p.v).map((dst) => ({ ...r, match: { ...r.match, dst } }))
      : [r],
  );
}

function lowerMatch(r: Omit<RuleDoc, "action">): Match {
  return {
    ...(r.proto !== undefined ? { proto: r.proto } : {}),
    ...(r.src !== undefined ? { src: must(parseMatchPrefix(r.src), r.src) } : {}),
    ...(r.dst !== undefined && r.dst !== "local" ? { dst: must(parseMatchPrefix(r.dst), r.dst) } : {}),
    ...(r.sport !== undefined ? { sport: must(parsePortRange(r.sport), "sport") } : {}),
    ...(r.dport !== undefined ? { dport: must(parsePortRange(r.dport), "dport") } : {}),
    ...(r.in !== undefined ? { in: r.in } : {}),
    ...(r.out !== undefined ? { out: r.out } : {}),
    ...(r.state !== undefined ? { state: r.state } : {}),
    ...(r.dnat !== undefined ? { ctDnat: r.dnat } : {}),
  };
}

function lowerChain(name: Chain["name"], c: ChainDoc | undefined, path: Path, o: (p: Path, what: string) => Origin): Chain {
  if (!c) return acceptAll(name);
  const rules: Rule[] = (c.rules ?? []).map((r, k) => {
    const rule: Rule = {
      match: lowerMatch(r),
      action: r.action,
      origin: o([...path, "rules", k], `${name} rule ${k + 1}${r.comment ? ` "${r.comment}"` : ""}`),
    };
    if (r.dst === "local") DST_LOCAL.add(rule);
    return rule;
  });
  return {
    name,
    policy: c.policy ?? "accept",
    ...(c.policy !== undefined ? { policyOrigin: o([...path, "policy"], `${name} policy`) } : {}),
    rules,
  };
}

function natWhat(r: NatRuleDoc, k: number): string {
  return `nat rule ${k + 1} (${r.action}${r.comment ? ` "${r.comment}"` : ""})`;
}

function lowerNatRule(r: NatRuleDoc, origin: Origin): NatRule {
  const match = lowerMatch(r);
  const rule: NatRule = ((): NatRule => {
    switch (r.action) {
      case "dnat":
        return { match, action: { kind: "dnat", to: ipOf(r.to), ...(r.toPort !== undefined ? { toPort: portOf(r.toPort) } : {}) }, origin };
      case "snat":
        return { match, action: { kind: "snat", to: ipOf(r.to) }, origin };
      case "masquerade":
        return { match, action: { kind: "masquerade" }, origin };
    }
  })();
  if (r.dst === "local") DST_LOCAL.add(rule);
  return rule;
}

/**
 * Home router: forwards packets (ip_forward=1), masquerades what leaves by the WAN,
 * DNATs each port forward arriving on the WAN address, and with `hairpin` also for
 * LAN clients dialing the WAN address (then SNAT to the router so the reply comes
 * back through it, as RFC 5382 REQ-8 routers do). Without a firewall in the file it
 * gets the usual consumer default: stateful, LAN -> anywhere, WAN -> forwards only.
 */
function lowerRouter(m: MutableMachine, md: MachineDoc, rp: Path, o: (p: Path, what: string) => Origin): void {
  const r = must(md.router, "router");
  const wan = r.wan;
  const wanIf = must(
    m.interfaces.find((i) => i.name === wan),
    wan,
  );
  const lanIfs = m.interfaces.filter((i) => i.name !== wan && i.name !== "lo");
  const routerOrigin = o(rp, `home router '${m.name}'`);
  m.nat.postrouting.push({
    match: { out: wan, src: { v: 4, n: 0n, len: 0 } },
    action: { kind: "masquerade" },
    origin: o([...rp, "wan"], `masquerade IPv4 out of ${wan} (home router)`),
  });
  const fwdAccepts: Rule[] = [];
  (r.forwards ?? []).forEach((f, k) => {
    const fp: Path = [...rp, "forwards", k];
    const to = ipOf(f.to);
    const proto = f.proto ?? "tcp";
    const port = portOf(f.port);
    const toPort = f.toPort !== undefined ? portOf(f.toPort) : port;
    const what = `router forward ${f.name ? `"${f.name}" ` : ""}${proto}/${port} -> ${f.to}:${toPort}`;
    const origin = o(fp, what);
    for (const a of wanIf.addrs.filter((x) => x.ip.v === 4)) {
      const dst: Prefix = { v: 4, n: a.ip.n, len: 32 };
      m.nat.prerouting.push({
        match: { in: wan, proto, dst, dport: { lo: port, hi: port } },
        action: { kind: "dnat", to, toPort },
        origin,
      });
      if (r.hairpin) {
        for (const lan of lanIfs) {
          m.nat.prerouting.push({
            match: { in: lan.name, proto, dst, dport: { lo: port, hi: port } },
            action: { kind: "dnat", to, toPort },
            origin: { ...origin, what: `${what} (hairpin)` },
          });
          for (const la of lan.addrs.filter((x) => x.ip.v === 4)) {
            m.nat.postrouting.unshift({
              match: {
                out: lan.name,
                proto,
                src: prefixOf(la.ip, la.len),
                dst: { v: 4, n: to.n, len: 32 },
                dport: { lo: toPort, hi: toPort },
              },
              action: { kind: "masquerade" },
              origin: { ...origin, what: `${what} (hairpin SNAT)` },
            });
          }
        }
      }
    }
  });
  // Only connections the forwards translated get in from the WAN (ct status dnat), to LAN machines or to the router itself.
  if (r.forwards?.length)
    fwdAccepts.push({
      match: { in: wan, ctDnat: true },
      action: "accept",
      origin: { ...routerOrigin, what: `router default: accept port-forwarded (DNAT) from ${wan}` },
    });
  if (!md.firewall) {
    const established: Rule = {
      match: { state: ["established", "related"] },
      action: "accept",
      origin: { ...routerOrigin, what: "router default: accept established,related" },
    };
    const fromLan = (chain: string): Rule[] =>
      [...lanIfs.map((i) => i.name), ...(chain === "input" ? ["lo"] : [])].map((name) => ({
        match: { in: name },
        action: "accept" as const,
        origin: { ...routerOrigin, what: `router default: accept ${chain} from ${name}` },
      }));
    m.filter = {
      input: {
        name: "input",
        policy: "drop",
        policyOrigin: { ...routerOrigin, what: "router default input policy" },
        rules: [established, ...fromLan("input"), ...fwdAccepts],
      },
      output: acceptAll("output"),
      forward: {
        name: "forward",
        policy: "drop",
        policyOrigin: { ...routerOrigin, what: "router default forward policy" },
        rules: [established, ...fromLan("forward"), ...fwdAccepts],
      },
    };
  }
}

/** Connected routes first (most specific wins anyway), then static, then implicit DHCP defaults. */
function finish(m: MutableMachine): Machine {
  const connected: Route[] = [];
  for (const i of m.interfaces) {
    for (const a of i.addrs) {
      const dst = prefixOf(a.ip, a.len);
      if (!connected.some((r) => r.dev === i.name && r.dst.v === dst.v && r.dst.n === dst.n && r.dst.len === dst.len)) {
        connected.push({ dst, dev: i.name, type: i.name === "lo" ? "local" : "connected", origin: i.origin });
      }
    }
  }
  const resolveDev = (r: Route): Route => {
    if (r.dev) return r;
    const via = r.via;
    const onLinkStatic = m.staticRoutes.filter((x) => x.via === undefined && x.dev);
    const dev = via
      ? (connected.find((c) => c.type === "connected" && contains(c.dst, via)) ?? onLinkStatic.find((c) => contains(c.dst, via)))?.dev
      : undefined;
    return { ...r, dev: dev ?? "" };
  };
  const statics = m.staticRoutes.map(resolveDev);
  // DHCP leases give one default route per family: the first adapter's, unless the file has its own.
  const families = new Set<number>();
  const defaults = m.implicitDefaults.filter((d) => {
    if (families.has(d.dst.v) || statics.some((s) => s.dst.len === 0 && s.dst.v === d.dst.v)) return false;
    families.add(d.dst.v);
    return true;
  });
  const routes = [...connected, ...statics, ...defaults];
  const locals = localPrefixes(m);
  return {
    name: m.name,
    kind: m.kind,
    origin: m.origin,
    interfaces: m.interfaces,
    routes,
    ipForward: m.ipForward,
    rpFilter: m.rpFilter,
    routeLocalnet: m.routeLocalnet,
    filter: {
      input: { ...m.filter.input, rules: expandLocal(m.filter.input.rules, locals) },
      output: { ...m.filter.output, rules: expandLocal(m.filter.output.rules, locals) },
      forward: { ...m.filter.forward, rules: expandLocal(m.filter.forward.rules, locals) },
    },
    nat: {
      prerouting: expandLocal(m.nat.prerouting, locals),
      output: expandLocal(m.nat.output, locals),
      postrouting: expandLocal(m.nat.postrouting, locals),
    },
    sockets: m.sockets,
    ...(m.engine ? { engine: m.engine } : {}),
  };
}
