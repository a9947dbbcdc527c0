/**
 * fast-check arbitraries for random VALID topology documents (the file format of
 * src/topology/schema.ts as plain objects, plus their YAML text) and for queries
 * over them.
 *
 * Generation is in two stages: small builders draw a "raw" description made of
 * choices (indices taken modulo whatever exists, booleans, small arrays), and
 * `buildTopology` turns it deterministically into a document that the checker
 * accepts: unique addresses per segment, forward host ports unique and never a
 * service port, no overlapping binds (RCH032), gateways on connected subnets
 * (RCH034), `in` only where the hook has an input interface and `out` only where
 * it has an output interface. Because every choice is an array element or an
 * index, shrinking drops machines, VMs, adapters, rules and services first and
 * then moves indices toward 0.
 */
import fc from "fast-check";
import YAML from "yaml";
import { contains, formatIP, formatPrefix, parseCidr, parseMatchPrefix, prefixOf, type Prefix } from "../../src/net/addr.js";
import { REJECT_WITH, routeMetric } from "../../src/ir/types.js";
import type {
  AdapterDoc,
  ChainDoc,
  ForwardDoc,
  MachineDoc,
  NatRuleDoc,
  RouteDoc,
  RelayDoc,
  RuleDoc,
  ServiceDoc,
  TopologyDoc,
} from "../../src/topology/schema.js";

// ---------------------------------------------------------------- pools

/** Ports services listen on (and forwards lead to). */
export const SERVICE_PORTS = [22, 80, 443, 8080, 5432, 53] as const;
/** Host ports of port forwards and DNAT entry ports: disjoint from SERVICE_PORTS, so a forward never clashes with a service. */
export const FORWARD_PORTS = [2222, 8022, 8443, 9000, 10080, 3389] as const;
const ALL_PORTS = [...SERVICE_PORTS, ...FORWARD_PORTS];

const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);

// ---------------------------------------------------------------- raw descriptions

type Proto = "tcp" | "udp";
const protoArb: fc.Arbitrary<Proto> = fc.constantFrom("tcp", "udp");
const small = fc.nat({ max: 31 });

export type BindKind = "any4" | "lo4" | "any6" | "lo6" | "own" | "own6" | "lo2" | "mapped" | "omit";
export interface RawService {
  proto: Proto;
  port: number;
  bind: BindKind;
  v6only: boolean;
  /** SO_BINDTODEVICE: an index into the machine's interfaces */
  device?: number;
}
export const rawServiceArb: fc.Arbitrary<RawService> = fc.record(
  {
    proto: protoArb,
    port: small,
    bind: fc.constantFrom<BindKind>("any4", "lo4", "any6", "lo6", "own", "own6", "lo2", "mapped", "omit"),
    v6only: fc.boolean(),
    device: fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary: small, weight: 1 }),
  },
  { requiredKeys: ["proto", "port", "bind", "v6only"] },
);

export interface RawRule {
  action: "accept" | "drop" | "reject";
  /** a reject's type, an index into REJECT_WITH (kept to the rules it fits) */
  with?: number;
  proto?: "tcp" | "udp" | "icmp";
  src?: number;
  dst?: number;
  dport?: { port: number; span: number };
  sport?: number;
  in?: number;
  out?: number;
  state?: ("new" | "established" | "related" | "invalid" | "untracked")[];
  /** the port the client dialed, before any DNAT (conntrack's original destination port) */
  origDport?: number;
  /** the conditions written negated (`{ not: ... }`) */
  not?: ("src" | "dst" | "dport" | "in" | "out" | "origDport")[];
}
/** Mostly absent: a rule with few conditions is the one that decides (and shows what a wrong match would change). */
const sometimes = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: a, weight: 1 });
export const rawRuleArb: fc.Arbitrary<RawRule> = fc
  .record({
    action: fc.constantFrom("accept", "drop", "reject"),
    with: sometimes(fc.nat({ max: REJECT_WITH.length - 1 })),
    proto: sometimes(fc.constantFrom("tcp", "udp", "icmp")),
    src: sometimes(small),
    dst: sometimes(small),
    dport: sometimes(fc.record({ port: small, span: fc.constantFrom(0, 0, 1, 10, 1000) })),
    sport: sometimes(fc.nat({ max: 3 })),
    in: sometimes(small),
    out: sometimes(small),
    state: sometimes(fc.subarray(["new", "established", "related", "invalid", "untracked"] as const, { minLength: 1 })),
    origDport: sometimes(small),
    not: sometimes(fc.subarray(["src", "dst", "dport", "in", "out", "origDport"] as const, { minLength: 1 })),
  })
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as RawRule);

export interface RawChain {
  policy?: "accept" | "drop";
  rules: RawRule[];
}
export const rawChainArb: fc.Arbitrary<RawChain> = fc.record(
  { policy: fc.constantFrom("accept", "drop"), rules: fc.array(rawRuleArb, { maxLength: 4 }) },
  { requiredKeys: ["rules"] },
);
export interface RawFirewall {
  input?: RawChain;
  output?: RawChain;
  forward?: RawChain;
}
export const rawFirewallArb: fc.Arbitrary<RawFirewall> = fc.record(
  { input: rawChainArb, output: rawChainArb, forward: rawChainArb },
  { requiredKeys: [] },
);

export type RawNat =
  | {
      action: "dnat";
      chain: "prerouting" | "output";
      proto: Proto;
      dport: number;
      in?: number;
      dstOwn: boolean;
      to: number;
      toPort?: number;
    }
  | { action: "masquerade"; out?: number; src?: number }
  | { action: "snat"; out?: number; src?: number; to: number };
export const rawNatArb: fc.Arbitrary<RawNat> = fc.oneof(
  fc.record(
    {
      action: fc.constant("dnat" as const),
      chain: fc.constantFrom("prerouting" as const, "output" as const),
      proto: protoArb,
      dport: small,
      in: small,
      dstOwn: fc.boolean(),
      to: small,
      toPort: small,
    },
    { requiredKeys: ["action", "chain", "proto", "dport", "dstOwn", "to"] },
  ),
  fc.record({ action: fc.constant("masquerade" as const), out: small, src: small }, { requiredKeys: ["action"] }),
  fc.record({ action: fc.constant("snat" as const), out: small, src: small, to: small }, { requiredKeys: ["action", "to"] }),
);

export interface RawRoute {
  to: "default" | "default6" | number;
  via: number;
  /** `metric:`; absent: the kernel's default (IPv4 0, IPv6 1024) */
  metric?: number;
}
export const rawRouteArb: fc.Arbitrary<RawRoute> = fc.record(
  {
    to: fc.oneof(fc.constantFrom<"default" | "default6">("default", "default6"), fc.nat({ max: 3 })),
    via: small,
    metric: fc.constantFrom(0, 10, 100, 256, 1024),
  },
  { requiredKeys: ["to", "via"] },
);

/** A relay process of the machine (`relays:`): where it listens, what it connects to, whether it binds its source. */
export interface RawRelay {
  proto: Proto;
  port: number;
  bind: "any4" | "any6" | "lo4" | "own";
  /** an index into every placed address (any machine's, the relay's own included) */
  to: number;
  toPort: number;
  from: boolean;
}
export const rawRelayArb: fc.Arbitrary<RawRelay> = fc.record({
  proto: protoArb,
  port: small,
  bind: fc.constantFrom<RawRelay["bind"]>("any4", "any6", "lo4", "own"),
  to: small,
  toPort: small,
  from: fc.boolean(),
});

/** What every machine (physical or VM) may carry besides its interfaces. */
export interface RawConfig {
  services: RawService[];
  relays?: readonly RawRelay[];
  firewall?: RawFirewall | undefined;
  nat: RawNat[];
  routes: RawRoute[];
  ipForward?: boolean;
  rpFilter?: 0 | 1 | 2;
  routeLocalnet?: boolean;
}
export const rawConfigArb: fc.Arbitrary<RawConfig> = fc.record(
  {
    services: fc.array(rawServiceArb, { maxLength: 3 }),
    // a firewall on one machine in three, so that some paths stay open
    firewall: fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: rawFirewallArb, weight: 1 }),
    nat: fc.array(rawNatArb, { maxLength: 2 }),
    routes: fc.array(rawRouteArb, { maxLength: 2 }),
    ipForward: fc.boolean(),
    rpFilter: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
    routeLocalnet: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
    // a relay process (docker-proxy's kind) on one machine in four
    relays: fc.oneof(
      { arbitrary: fc.constant([]), weight: 3 },
      { arbitrary: fc.array(rawRelayArb, { minLength: 1, maxLength: 2 }), weight: 1 },
    ),
  },
  { requiredKeys: ["services", "firewall", "nat", "routes"] },
);

export interface RawHost {
  segs: number[];
  hostonlyDecl?: { v6: boolean };
  config: RawConfig;
}
export const rawHostArb: fc.Arbitrary<RawHost> = fc.record(
  {
    segs: fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 2 }),
    hostonlyDecl: fc.record({ v6: fc.boolean() }),
    config: rawConfigArb,
  },
  { requiredKeys: ["segs", "config"] },
);

export interface RawForward {
  proto: Proto;
  hostPort: number;
  hostIp: "omit" | "" | "127.0.0.1" | "own";
  guestPort: number;
  guestIp: number;
}
export const rawForwardArb: fc.Arbitrary<RawForward> = fc.record({
  proto: protoArb,
  hostPort: small,
  hostIp: fc.constantFrom<RawForward["hostIp"]>("omit", "", "127.0.0.1", "own"),
  guestPort: small,
  guestIp: small,
});

export type RawAdapter =
  | { mode: "nat"; forwards: RawForward[]; localhostReachable?: boolean; customNet: boolean; qemu?: { ipv6: boolean } }
  | { mode: "natnetwork"; net: number }
  | { mode: "bridged"; iface: number; v6: boolean; gateway?: number }
  | { mode: "hostonly"; net: number; withAddr: boolean }
  | { mode: "internal"; net: number }
  | { mode: "none" };
export const rawAdapterArb: fc.Arbitrary<RawAdapter> = fc.oneof(
  fc.record(
    {
      mode: fc.constant("nat" as const),
      forwards: fc.array(rawForwardArb, { maxLength: 3 }),
      localhostReachable: fc.boolean(),
      customNet: fc.boolean(),
      qemu: fc.record({ ipv6: fc.boolean() }),
    },
    { requiredKeys: ["mode", "forwards", "customNet"] },
  ),
  fc.record({ mode: fc.constant("natnetwork" as const), net: fc.nat({ max: 1 }) }),
  fc.record(
    { mode: fc.constant("bridged" as const), iface: small, v6: fc.boolean(), gateway: small },
    { requiredKeys: ["mode", "iface", "v6"] },
  ),
  fc.record({ mode: fc.constant("hostonly" as const), net: fc.nat({ max: 1 }), withAddr: fc.boolean() }),
  fc.record({ mode: fc.constant("internal" as const), net: fc.nat({ max: 1 }) }),
  fc.record({ mode: fc.constant("none" as const) }),
);

export interface RawVm {
  on: number;
  adapters: RawAdapter[];
  config: RawConfig;
}
export const rawVmArb: fc.Arbitrary<RawVm> = fc.record({
  on: small,
  adapters: fc.array(rawAdapterArb, { minLength: 1, maxLength: 2 }),
  config: rawConfigArb,
});

export interface RawRouter {
  hairpin?: boolean;
  secondLan: boolean;
  forwards: { proto: Proto; port: number; to: number; toPort?: number }[];
  firewall?: RawFirewall;
}
export const rawRouterArb: fc.Arbitrary<RawRouter> = fc.record(
  {
    hairpin: fc.boolean(),
    secondLan: fc.boolean(),
    forwards: fc.array(fc.record({ proto: protoArb, port: small, to: small, toPort: small }, { requiredKeys: ["proto", "port", "to"] }), {
      maxLength: 3,
    }),
    firewall: rawFirewallArb,
  },
  { requiredKeys: ["secondLan", "forwards"] },
);

export interface RawTopology {
  segments: { v6: boolean }[];
  router?: RawRouter;
  hosts: RawHost[];
  vms: RawVm[];
  natnets: { defaultNet: boolean; forwards: RawForward[] }[];
}
export const rawTopologyArb: fc.Arbitrary<RawTopology> = fc.record(
  {
    segments: fc.array(fc.record({ v6: fc.boolean() }), { minLength: 1, maxLength: 3 }),
    router: rawRouterArb,
    hosts: fc.array(rawHostArb, { minLength: 2, maxLength: 6 }),
    vms: fc.array(rawVmArb, { maxLength: 3 }),
    natnets: fc.tuple(
      fc.record({ defaultNet: fc.boolean(), forwards: fc.array(rawForwardArb, { maxLength: 2 }) }),
      fc.record({ defaultNet: fc.constant(false), forwards: fc.array(rawForwardArb, { maxLength: 2 }) }),
    ),
  },
  { requiredKeys: ["segments", "hosts", "vms", "natnets"] },
);

// ---------------------------------------------------------------- building a valid document

/** One interface address of a machine as the generator placed it. */
interface Placed {
  readonly cidr: string;
  readonly ip: string;
  readonly v: 4 | 6;
  /** the L2 segment key (unique per broadcast domain) */
  readonly seg: string;
  /** a DHCP lease or an implicit host-only address: the checker does not count its subnet as connected (RCH034) */
  readonly dhcp?: boolean;
}

export interface GeneratedTopology {
  readonly doc: TopologyDoc;
  readonly yaml: string;
  /** every machine name of the document, physical hosts first */
  readonly machines: readonly string[];
  /** per machine, the ports its services listen on */
  readonly servicePorts: Readonly<Record<string, { tcp: number[]; udp: number[] }>>;
  /** ports where something may answer or a translation starts (services, forwards, DNATs, router forwards) */
  readonly ports: { tcp: number[]; udp: number[] };
  /** where a translation leads: each forward, router forward and DNAT as its target machine and port */
  readonly entries: readonly { readonly machine: string; readonly proto: Proto; readonly port: number; readonly host?: string }[];
}

const v4 = (third: number, host: number) => `192.168.${third}.${host}`;
const segName = (i: number) => `lan${i}`;

export function buildTopology(raw: RawTopology): GeneratedTopology {
  const placed = new Map<string, Placed[]>();
  const place = (m: string, p: Placed) => placed.set(m, [...(placed.get(m) ?? []), p]);
  const ifnames = new Map<string, string[]>();
  const addIf = (m: string, n: string) => {
    const l = ifnames.get(m) ?? ["lo"];
    if (!l.includes(n)) l.push(n);
    ifnames.set(m, l);
  };

  const doc: {
    segments: Record<string, string | { subnets: string[] }>;
    natnetworks?: Record<string, { network?: string; forwards?: ForwardDoc[] }>;
    machines: Record<string, MachineDoc>;
  } = {
    segments: {},
    machines: {},
  };
  const segs = raw.segments.map((s, i) => ({
    name: segName(i),
    v4: `192.168.${10 + i}.0/24`,
    v6: s.v6 ? `fd0${i + 1}::/64` : undefined,
    i,
  }));
  for (const s of segs) doc.segments[s.name] = s.v6 ? { subnets: [s.v4, s.v6] } : s.v4;
  const withInternet = raw.router !== undefined;
  if (withInternet) doc.segments["internet"] = "203.0.113.0/24";
  /** segments a physical host may attach to */
  const attachable = [...segs.map((s) => s.name), ...(withInternet ? ["internet"] : [])];
  const segInfo = (name: string) => segs.find((s) => s.name === name);

  const hostNames = raw.hosts.map((_, i) => `h${i}`);
  const vmNames = raw.vms.map((_, i) => `v${i}`);
  const machines = [...hostNames, ...(raw.router ? ["gw"] : []), ...vmNames];

  // --- physical hosts and their interfaces
  raw.hosts.forEach((h, i) => {
    const name = hostNames[i]!;
    const md: MachineDoc = { interfaces: {} };
    const chosen = [...new Set(h.segs.map((s) => attachable[s % attachable.length]!))];
    chosen.forEach((seg, k) => {
      const ifn = `eth${k}`;
      const addrs: string[] = [];
      if (seg === "internet") {
        addrs.push(`203.0.113.${10 + i}/24`);
        place(name, { cidr: addrs[0]!, ip: `203.0.113.${10 + i}`, v: 4, seg });
      } else {
        const s = segInfo(seg)!;
        addrs.push(`${v4(10 + s.i, 10 + i)}/24`);
        place(name, { cidr: addrs[0]!, ip: v4(10 + s.i, 10 + i), v: 4, seg });
        if (s.v6) {
          addrs.push(`fd0${s.i + 1}::${10 + i}/64`);
          place(name, { cidr: addrs[1]!, ip: `fd0${s.i + 1}::${10 + i}`, v: 6, seg });
        }
      }
      md.interfaces![ifn] = { segment: seg, addresses: addrs };
      addIf(name, ifn);
    });
    if (h.hostonlyDecl) {
      const addresses = ["192.168.56.1/24", ...(h.hostonlyDecl.v6 ? ["fd56::1/64"] : [])];
      md.hostonly = { vboxnet0: { addresses } };
      addIf(name, "vboxnet0");
      place(name, { cidr: "192.168.56.1/24", ip: "192.168.56.1", v: 4, seg: `${name}/vboxnet0` });
      if (h.hostonlyDecl.v6) place(name, { cidr: "fd56::1/64", ip: "fd56::1", v: 6, seg: `${name}/vboxnet0` });
    }
    doc.machines[name] = md;
  });

  // --- home router between lan0 (and maybe lan1) and the internet
  if (raw.router) {
    const md: MachineDoc = { interfaces: {} };
    const lans = segs.slice(0, raw.router.secondLan ? 2 : 1);
    lans.forEach((s, k) => {
      const addrs = [`${v4(10 + s.i, 1)}/24`, ...(s.v6 ? [`fd0${s.i + 1}::1/64`] : [])];
      md.interfaces![`lan${k}`] = { segment: s.name, addresses: addrs };
      addIf("gw", `lan${k}`);
      place("gw", { cidr: addrs[0]!, ip: v4(10 + s.i, 1), v: 4, seg: s.name });
      if (s.v6) place("gw", { cidr: addrs[1]!, ip: `fd0${s.i + 1}::1`, v: 6, seg: s.name });
    });
    md.interfaces!["wan0"] = { segment: "internet", addresses: ["203.0.113.1/24"] };
    addIf("gw", "wan0");
    place("gw", { cidr: "203.0.113.1/24", ip: "203.0.113.1", v: 4, seg: "internet" });
    doc.machines["gw"] = md;
  }

  // --- VMs: adapters of every mode
  const natnetUsers = new Map<number, string[]>();
  const natDhcp = new Map<string, number>();
  raw.vms.forEach((vm, vi) => {
    const name = vmNames[vi]!;
    const host = hostNames[vm.on % hostNames.length]!;
    const hostDoc = doc.machines[host]!;
    const adapters: AdapterDoc[] = [];
    vm.adapters.forEach((a, slot) => {
      const ifn = `eth${slot}`;
      /** host part of this adapter's static address: unique per VM and slot */
      const hp = 100 + vi * 2 + slot;
      switch (a.mode) {
        case "nat": {
          // QEMU (libslirp): every adapter defaults to 10.0.2.0/24, so later slots name theirs; IPv6
          // (QEMU's default fec0::/64) on the first adapter only, one IPv6 network per guest
          const qemu = a.qemu;
          const net = a.customNet ? `10.0.${30 + slot}.0/24` : qemu && slot > 0 ? `10.0.${2 + slot}.0/24` : undefined;
          const third = a.customNet ? 30 + slot : 2 + slot;
          const v6 = qemu !== undefined && slot === 0 && qemu.ipv6;
          adapters.push({
            mode: "nat",
            ...(qemu ? { engine: "qemu" as const } : {}),
            ...(net ? { network: net } : {}),
            ...(a.localhostReachable !== undefined ? { localhostReachable: a.localhostReachable } : {}),
            ...(qemu && !v6 ? { ipv6: false } : {}),
            forwards: [],
          });
          place(name, { cidr: `10.0.${third}.15/24`, ip: `10.0.${third}.15`, v: 4, seg: `${name}/nat${slot + 1}` });
          if (v6) place(name, { cidr: "fec0::5054:ff:fe12:3456/64", ip: "fec0::5054:ff:fe12:3456", v: 6, seg: `${name}/nat${slot + 1}` });
          addIf(name, ifn);
          // forwards filled in below, once every host address is known
          (adapters[adapters.length - 1] as { raw?: RawForward[] }).raw = a.forwards;
          break;
        }
        case "natnetwork": {
          const users = natnetUsers.get(a.net) ?? [];
          users.push(name);
          natnetUsers.set(a.net, users);
          const base = raw.natnets[a.net]!.defaultNet ? "10.0.2" : `10.0.${50 + a.net}`;
          const ip = `${base}.${10 + vi * 2 + slot}`;
          adapters.push({ mode: "natnetwork", network: `nn${a.net}`, addresses: [`${ip}/24`] });
          place(name, { cidr: `${ip}/24`, ip, v: 4, seg: `natnetwork:nn${a.net}` });
          addIf(name, ifn);
          break;
        }
        case "bridged": {
          const hostIfs = Object.entries(hostDoc.interfaces ?? {});
          const [bridge, hif] = pick(hostIfs, a.iface)!;
          const addrs: string[] = [];
          if (hif.segment === "internet") {
            addrs.push(`203.0.113.${hp}/24`);
            place(name, { cidr: addrs[0]!, ip: `203.0.113.${hp}`, v: 4, seg: "internet" });
          } else {
            const s = segInfo(hif.segment)!;
            addrs.push(`${v4(10 + s.i, hp)}/24`);
            place(name, { cidr: addrs[0]!, ip: v4(10 + s.i, hp), v: 4, seg: s.name });
            if (s.v6 && a.v6) {
              addrs.push(`fd0${s.i + 1}::${hp}/64`);
              place(name, { cidr: addrs[1]!, ip: `fd0${s.i + 1}::${hp}`, v: 6, seg: s.name });
            }
          }
          const ad: AdapterDoc = { mode: "bridged", bridge, addresses: addrs };
          if (a.gateway !== undefined) (ad as { gatewayPick?: number }).gatewayPick = a.gateway;
          adapters.push(ad);
          addIf(name, ifn);
          break;
        }
        case "hostonly": {
          const net = `vboxnet${a.net}`;
          const declared = hostDoc.hostonly?.[net] !== undefined;
          const third = 56 + a.net;
          if (a.withAddr) {
            const ip = `192.168.${third}.${200 + vi * 2 + slot}`;
            adapters.push({ mode: "hostonly", network: net, addresses: [`${ip}/24`] });
            place(name, { cidr: `${ip}/24`, ip, v: 4, seg: `${host}/${net}`, dhcp: true });
          } else {
            const key = `${host}/${net}`;
            const k = natDhcp.get(key) ?? 0;
            natDhcp.set(key, k + 1);
            // vboxnet0 is the default network: sometimes left implicit
            adapters.push(a.net === 0 && !declared ? { mode: "hostonly" } : { mode: "hostonly", network: net });
            const ip = `192.168.${third}.${101 + k}`;
            place(name, { cidr: `${ip}/24`, ip, v: 4, seg: `${host}/${net}`, dhcp: true });
          }
          addIf(name, ifn);
          addIf(host, net);
          if (!placed.get(host)?.some((p) => p.seg === `${host}/${net}`))
            place(host, { cidr: `192.168.${third}.1/24`, ip: `192.168.${third}.1`, v: 4, seg: `${host}/${net}`, dhcp: true });
          break;
        }
        case "internal": {
          const net = ["intnet", "lab"][a.net]!;
          const ip = `172.16.${a.net}.${10 + vi * 2 + slot}`;
          adapters.push({ mode: "internal", ...(a.net ? { network: net } : {}), addresses: [`${ip}/24`] });
          place(name, { cidr: `${ip}/24`, ip, v: 4, seg: `${host}/intnet:${net}` });
          addIf(name, ifn);
          break;
        }
        case "none":
          adapters.push({ mode: "none" });
          break;
      }
    });
    doc.machines[name] = { vm: { on: host, adapters } };
  });
  // NAT networks: declared only when used; a NAT network on several hosts is one per host, each with the forwards
  if (natnetUsers.size) doc.natnetworks = {};
  for (const [k, users] of [...natnetUsers.entries()].sort((a, b) => a[0] - b[0])) {
    const nn = raw.natnets[k]!;
    doc.natnetworks![`nn${k}`] = { ...(nn.defaultNet ? {} : { network: `10.0.${50 + k}.0/24` }), forwards: [] };
    void users;
  }

  // --- listeners: services first, then forwards on free host ports
  const allAddrs = () => [...placed.values()].flat();
  const entries: { machine: string; proto: Proto; port: number; host?: string }[] = [];
  const entry = (e: { machine: string; proto: Proto; port: number; host?: string }) => {
    if (servicePorts[e.machine]?.[e.proto].includes(e.port)) entries.push(e);
  };
  const ownerOf = (ip: string) => [...placed.entries()].find(([, ps]) => ps.some((p) => p.ip === ip))?.[0];
  type Listener = { proto: string; ip: string; port: number; v6only: boolean };
  const listeners = new Map<string, Listener[]>();
  const isAnyText = (ip: string) => ip === "0.0.0.0" || ip === "::";
  const fam = (ip: string) => (ip.includes(":") ? 6 : 4);
  const overlaps = (a: Listener, b: Listener) =>
    fam(a.ip) === fam(b.ip) ? a.ip === b.ip || isAnyText(a.ip) || isAnyText(b.ip) : [a, b].some((x) => x.ip === "::" && !x.v6only);
  const tryListen = (host: string, l: Listener): boolean => {
    const list = listeners.get(host) ?? [];
    if (list.some((x) => x.proto === l.proto && x.port === l.port && overlaps(x, l))) return false;
    list.push(l);
    listeners.set(host, list);
    return true;
  };
  const usedForwardPorts = new Set<string>();
  const servicePorts: Record<string, { tcp: number[]; udp: number[] }> = {};
  const ports = { tcp: new Set<number>(), udp: new Set<number>() };

  const configs: [string, RawConfig][] = [
    ...raw.hosts.map((h, i) => [hostNames[i]!, h.config] as [string, RawConfig]),
    ...raw.vms.map((v, i) => [vmNames[i]!, v.config] as [string, RawConfig]),
  ];
  for (const [name, cfg] of configs) {
    const own4 = (placed.get(name) ?? []).filter((p) => p.v === 4);
    const own6 = (placed.get(name) ?? []).filter((p) => p.v === 6);
    const services: ServiceDoc[] = [];
    servicePorts[name] = { tcp: [], udp: [] };
    for (const s of cfg.services) {
      const port = pick(SERVICE_PORTS, s.port)!;
      const mapped = `::ffff:${pick(own4, s.port)?.ip ?? "127.0.0.1"}`;
      const bind =
        s.bind === "any4"
          ? "0.0.0.0"
          : s.bind === "lo4"
            ? "127.0.0.1"
            : s.bind === "any6"
              ? "::"
              : s.bind === "lo6"
                ? "::1"
                : s.bind === "lo2"
                  ? "127.0.0.2"
                  : s.bind === "own"
                    ? pick(own4, s.port)?.ip
                    : s.bind === "own6"
                      ? pick(own6, s.port)?.ip
                      : s.bind === "mapped"
                        ? mapped
                        : undefined;
      if ((s.bind === "own" || s.bind === "own6") && bind === undefined) continue;
      const v6only = s.v6only && bind === "::";
      // an IPv4-mapped bind listens on the IPv4 address: it clashes as that address does
      const listenAs = bind?.startsWith("::ffff:") ? bind.slice(7) : (bind ?? "0.0.0.0");
      if (!tryListen(name, { proto: s.proto, ip: listenAs, port, v6only })) continue;
      const device = s.device !== undefined ? pick(ifnames.get(name) ?? [], s.device) : undefined;
      services.push({
        name: `svc${services.length}`,
        proto: s.proto,
        port,
        ...(bind !== undefined ? { bind } : {}),
        ...(v6only ? { v6only } : {}),
        ...(device ? { device } : {}),
      });
      servicePorts[name]![s.proto].push(port);
      ports[s.proto].add(port);
    }
    if (services.length) doc.machines[name]!.services = services;
  }
  // --- relay processes, after every service has its port: each listens on a forward port and
  // connects to any placed address (often a service's), from its own address when it binds one
  for (const [name, cfg] of configs) {
    const relays: RelayDoc[] = [];
    const all = allAddrs();
    for (const r of cfg.relays ?? []) {
      const target = pick(all, r.to);
      if (!target) continue;
      const port = pick(FORWARD_PORTS, r.port)!;
      const own = (placed.get(name) ?? []).filter((p) => p.v === target.v);
      const bind = r.bind === "any4" ? "0.0.0.0" : r.bind === "any6" ? "::" : r.bind === "lo4" ? "127.0.0.1" : pick(own, r.port)?.ip;
      if (bind === undefined || !tryListen(name, { proto: r.proto, ip: bind, port, v6only: false })) continue;
      const owner = ownerOf(target.ip);
      const listening = owner ? (servicePorts[owner]?.[r.proto] ?? []) : [];
      const toPort = (r.toPort % 4 !== 3 ? pick(listening, r.toPort) : undefined) ?? pick(SERVICE_PORTS, r.toPort)!;
      const from = r.from ? pick(own, r.toPort)?.ip : undefined;
      relays.push({
        name: `relay${relays.length}`,
        proto: r.proto,
        ...(bind !== "0.0.0.0" ? { bind } : {}),
        port,
        to: target.ip,
        toPort,
        ...(from ? { from } : {}),
      });
      ports[r.proto].add(port);
      if (owner) entry({ machine: owner, proto: r.proto, port: toPort, host: name });
    }
    if (relays.length) doc.machines[name]!.relays = relays;
  }
  const forwardDoc = (
    host: string,
    f: RawForward,
    guestIp: string | undefined,
    k: number,
    natnet = false,
    guest?: string,
  ): ForwardDoc | undefined => {
    const hostPort = pick(FORWARD_PORTS, f.hostPort)!;
    // forward host ports are globally unique per protocol: a NAT Network's forwards may land on several hosts
    const key = `${f.proto}/${hostPort}`;
    if (usedForwardPorts.has(key)) return undefined;
    const ownIp = (placed.get(host) ?? []).find((p) => p.v === 4)?.ip;
    // a NAT Network's forward may be a socket of several hosts: no host-specific address there
    const hostIp = f.hostIp === "omit" || (natnet && f.hostIp === "own") ? undefined : f.hostIp === "own" ? ownIp : f.hostIp;
    if (!tryListen(host, { proto: f.proto, ip: hostIp ? hostIp : "0.0.0.0", port: hostPort, v6only: false })) return undefined;
    usedForwardPorts.add(key);
    ports[f.proto].add(hostPort);
    // mostly a port the guest listens on, so that the forward leads somewhere
    const listening = guest ? (servicePorts[guest]?.[f.proto] ?? []) : [];
    const guestPort = (f.guestPort % 4 !== 3 ? pick(listening, f.guestPort) : undefined) ?? pick(SERVICE_PORTS, f.guestPort)!;
    return {
      name: `fw${k}`,
      proto: f.proto,
      ...(hostIp !== undefined ? { hostIp } : {}),
      hostPort,
      ...(guestIp ? { guestIp } : {}),
      guestPort,
    };
  };
  raw.vms.forEach((vm, vi) => {
    const name = vmNames[vi]!;
    const host = doc.machines[name]!.vm!.on;
    for (const a of doc.machines[name]!.vm!.adapters) {
      const rawF = (a as { raw?: RawForward[] }).raw;
      if (a.mode !== "nat" || !rawF) continue;
      delete (a as { raw?: RawForward[] }).raw;
      // UDP forwards of an engine whose host loopback is off are kept: libslirp drops the guest's answer
      // to a host-loopback client, which both engines model (docs/semantics.md 5 and 10)
      const fwds = rawF.flatMap((f, k) => forwardDoc(host, f, undefined, k, false, name) ?? []);
      for (const f of fwds) entry({ machine: name, proto: f.proto as Proto, port: Number(f.guestPort), host });
      if (fwds.length) a.forwards = fwds;
      else delete a.forwards;
    }
  });
  for (const [k, users] of [...natnetUsers.entries()].sort((a, b) => a[0] - b[0])) {
    const nn = doc.natnetworks![`nn${k}`]!;
    const hosts = [...new Set(users.map((u) => doc.machines[u]!.vm!.on))];
    const guestIps = users.flatMap((u) => (placed.get(u) ?? []).filter((p) => p.seg === `natnetwork:nn${k}`).map((p) => p.ip));
    const fwds = raw.natnets[k]!.forwards.flatMap((f, j) => {
      // the forward is a socket on every host that runs this NAT network: claim the port on each
      const gip = pick(guestIps, f.guestIp);
      // (a host whose port is taken, e.g. by a relay process, drops the forward: RCH032 otherwise)
      const d = forwardDoc(hosts[0]!, f, gip, j, true, gip ? ownerOf(gip) : undefined);
      const free = (h: string) =>
        tryListen(h, { proto: f.proto, ip: d!.hostIp ? d!.hostIp : "0.0.0.0", port: d!.hostPort as number, v6only: false });
      return d && hosts.slice(1).every(free) ? d : [];
    });
    for (const f of fwds) {
      const m = f.guestIp ? ownerOf(f.guestIp) : undefined;
      if (m) entry({ machine: m, proto: f.proto as Proto, port: Number(f.guestPort) });
    }
    if (fwds.length) nn.forwards = fwds;
    else delete nn.forwards;
  }

  // --- routes, bridged gateways, firewalls, NAT rules (need every address)
  const everything = allAddrs();
  const connectedOf = (name: string): Prefix[] =>
    (placed.get(name) ?? []).flatMap((p) => {
      if (p.dhcp) return [];
      const c = parseCidr(p.cidr);
      return c ? [prefixOf(c.ip, c.len)] : [];
    });
  const gatewaysOf = (name: string, v: 4 | 6): string[] => {
    const conn = connectedOf(name).filter((p) => p.v === v);
    const own = new Set((placed.get(name) ?? []).map((p) => p.ip));
    const cands = [...conn.map((p) => formatIP({ v: p.v, n: p.n + 1n })), ...everything.filter((p) => p.v === v).map((p) => p.ip)];
    return [...new Set(cands)].filter((ip) => !own.has(ip) && conn.some((p) => contains(p, parseCidr(`${ip}/${v === 4 ? 32 : 128}`)!.ip)));
  };
  const prefixPool = [
    ...segs.flatMap((s) => [s.v4, ...(s.v6 ? [s.v6] : [])]),
    ...(withInternet ? ["203.0.113.0/24"] : []),
    "10.0.2.0/24",
    "192.168.56.0/24",
    ...everything.map((p) => p.ip),
    "default",
    "default6",
  ];
  const prefixFamily = (p: string) => (p === "default" ? 4 : p === "default6" ? 6 : p.includes(":") ? 6 : 4);

  const chainDoc = (name: string, chain: "input" | "output" | "forward", c: RawChain): ChainDoc => {
    const ifs = ifnames.get(name) ?? ["lo"];
    const rules: RuleDoc[] = c.rules.map((r) => {
      const rule: RuleDoc = { action: r.action };
      // a port match needs a protocol that has ports: drawn ports make the rule tcp unless it is udp
      const hasPorts = r.sport !== undefined || r.dport !== undefined || r.origDport !== undefined;
      const proto = hasPorts && r.proto !== "udp" ? "tcp" : r.proto;
      if (proto) rule.proto = proto;
      const neg = new Set(r.not ?? []);
      const put = <T>(k: NonNullable<RawRule["not"]>[number], v: T): T | { not: T } => (neg.has(k) ? { not: v } : v);
      const src = r.src !== undefined ? pick(prefixPool, r.src)! : undefined;
      if (src !== undefined) rule.src = put("src", src);
      if (r.dst !== undefined) {
        const d = pick(prefixPool, r.dst)!;
        if (src === undefined || prefixFamily(src) === prefixFamily(d)) rule.dst = put("dst", d);
      }
      if (proto === "tcp" || proto === "udp") {
        if (r.dport) {
          const lo = pick(ALL_PORTS, r.dport.port)!;
          rule.dport = put("dport", r.dport.span ? `${lo}-${Math.min(65535, lo + r.dport.span)}` : lo);
        }
        if (r.sport !== undefined) rule.sport = ["40000", "32768-40000", "40001-60999", "1-1023"][r.sport]!;
        if (r.origDport !== undefined) rule.origDport = put("origDport", pick(ALL_PORTS, r.origDport)!);
      }
      if (r.in !== undefined && chain !== "output") rule.in = put("in", pick(ifs, r.in)!);
      if (r.out !== undefined && chain !== "input") rule.out = put("out", pick(ifs, r.out)!);
      if (r.state) rule.state = r.state;
      if (r.action === "reject" && r.with !== undefined) {
        // tcp-reset only on a TCP rule, the IPv4-only codes only on an IPv4 rule (the checker's RCH004)
        const w = REJECT_WITH[r.with]!;
        const v4 = [rule.src, rule.dst].some((x) => x !== undefined && prefixFamily(typeof x === "object" ? x.not : x) === 4);
        if (w === "tcp-reset" ? proto === "tcp" : w === "host-prohibited" || w === "net-prohibited" ? v4 : true) rule.with = w;
      }
      return rule;
    });
    return { ...(c.policy ? { policy: c.policy } : {}), ...(rules.length ? { rules } : {}) };
  };
  const firewallDoc = (name: string, fw: RawFirewall) => {
    const out: NonNullable<MachineDoc["firewall"]> = {};
    for (const chain of ["input", "output", "forward"] as const) {
      const c = fw[chain];
      if (c) out[chain] = chainDoc(name, chain, c);
    }
    return out;
  };

  for (const [name, cfg] of configs) {
    const md = doc.machines[name]!;
    const routes: RouteDoc[] = [];
    // the kernel refuses a second route to one prefix with the same metric, a connected one's too (IPv4 0, IPv6 256)
    const taken = new Set(
      (placed.get(name) ?? []).flatMap((p) => {
        const c = parseCidr(p.cidr);
        return c ? [`${formatPrefix(prefixOf(c.ip, c.len))} ${c.ip.v === 4 ? 0 : 256}`] : [];
      }),
    );
    for (const r of cfg.routes) {
      const to =
        typeof r.to === "number"
          ? pick(prefixPool.slice(0, segs.length + segs.filter((s) => s.v6).length + (withInternet ? 1 : 0)), r.to)!
          : r.to;
      const dst = parseMatchPrefix(to);
      const key =
        dst && `${formatPrefix(dst)} ${routeMetric({ dst, type: "static", ...(r.metric !== undefined ? { metric: r.metric } : {}) })}`;
      if (!key || taken.has(key)) continue;
      // half of the routes go via a machine that forwards (the home router or a host with ip_forward), so
      // that routes matter; two such machines between the same networks make paths asymmetric
      const cands = gatewaysOf(name, prefixFamily(to));
      const forwarding = cands.filter((ip) => {
        const o = ownerOf(ip);
        return o === "gw" || (o !== undefined && configs.some(([n, c]) => n === o && c.ipForward === true));
      });
      const via = pick(r.via % 2 === 0 && forwarding.length ? forwarding : cands, r.via);
      if (via === undefined) continue;
      taken.add(key);
      routes.push({ to, via, ...(r.metric !== undefined ? { metric: r.metric } : {}) });
    }
    // behind a home router, a machine without a default route usually has one via the router (as DHCP gives it),
    // so that forwards from the internet and replies to it can work
    const gwOnLan = (placed.get("gw") ?? []).find(
      (g) => g.v === 4 && g.seg !== "internet" && (placed.get(name) ?? []).some((p) => p.v === 4 && p.seg === g.seg),
    );
    if (raw.router && gwOnLan && !taken.has("0.0.0.0/0 0") && cfg.routes.length % 3 !== 2) routes.push({ to: "default", via: gwOnLan.ip });
    if (routes.length) md.routes = routes;
    if (cfg.ipForward !== undefined) md.ip_forward = cfg.ipForward;
    if (cfg.rpFilter !== undefined) md.rp_filter = cfg.rpFilter;
    if (cfg.routeLocalnet) md.route_localnet = true;
    if (cfg.firewall) md.firewall = firewallDoc(name, cfg.firewall);
    const own4 = (placed.get(name) ?? []).filter((p) => p.v === 4);
    const ifs = ifnames.get(name) ?? ["lo"];
    const v4targets = everything.filter((p) => p.v === 4).map((p) => p.ip);
    const nat: NatRuleDoc[] = cfg.nat.flatMap((n): NatRuleDoc[] => {
      if (n.action === "masquerade" || n.action === "snat") {
        const src =
          n.src !== undefined
            ? pick(
                prefixPool.filter((p) => prefixFamily(p) === 4),
                n.src,
              )
            : undefined;
        const out = n.out !== undefined ? { out: pick(ifs, n.out)! } : {};
        if (n.action === "masquerade") return [{ action: "masquerade", ...(src ? { src } : {}), ...out }];
        const to = pick(own4, n.to)?.ip;
        return to === undefined ? [] : [{ action: "snat", to, ...(src ? { src } : {}), ...out }];
      }
      const dst = n.dstOwn ? pick(own4, n.dport)?.ip : undefined;
      const to = pick(v4targets, n.to);
      if (to === undefined) return [];
      return [
        {
          action: "dnat",
          chain: n.chain,
          proto: n.proto,
          dport: pick(FORWARD_PORTS, n.dport)!,
          ...(dst ? { dst } : {}),
          ...(n.in !== undefined && n.chain === "prerouting" ? { in: pick(ifs, n.in)! } : {}),
          to,
          ...(n.toPort !== undefined
            ? {
                toPort:
                  (n.toPort % 4 !== 3 ? pick(servicePorts[ownerOf(to) ?? ""]?.[n.proto] ?? [], n.toPort) : undefined) ??
                  pick(SERVICE_PORTS, n.toPort)!,
              }
            : {}),
        },
      ];
    });
    for (const n of nat) {
      if (n.action !== "dnat") continue;
      ports[n.proto as Proto].add(Number(n.dport));
      const m = ownerOf(n.to);
      if (m) entry({ machine: m, proto: n.proto as Proto, port: Number(n.toPort ?? n.dport) });
    }
    if (nat.length) md.nat = nat;
  }
  // bridged gateways
  for (const name of vmNames) {
    for (const a of doc.machines[name]!.vm!.adapters) {
      const g = (a as { gatewayPick?: number }).gatewayPick;
      if (a.mode !== "bridged" || g === undefined) continue;
      delete (a as { gatewayPick?: number }).gatewayPick;
      const seg = everything.find((p) => p.ip === a.addresses[0]!.split("/")[0])?.seg;
      const cands = everything
        .filter((p) => p.seg === seg && p.v === 4 && !a.addresses.some((x) => x.startsWith(`${p.ip}/`)))
        .map((p) => p.ip);
      const gw = pick(cands, g);
      if (gw) a.gateway = gw;
    }
  }
  // the router: forwards to LAN addresses, hairpin, optional firewall
  if (raw.router) {
    const md = doc.machines["gw"]!;
    const lanSegs = Object.values(md.interfaces!)
      .filter((i) => i.segment !== "internet")
      .map((i) => i.segment);
    const lanTargets = everything.filter((p) => p.v === 4 && lanSegs.includes(p.seg) && !p.ip.endsWith(".1")).map((p) => p.ip);
    const seen = new Set<string>();
    const forwards = raw.router.forwards.flatMap((f, k) => {
      const port = pick(ALL_PORTS, f.port)!;
      const to = pick(lanTargets, f.to);
      if (to === undefined || seen.has(`${f.proto}/${port}`)) return [];
      seen.add(`${f.proto}/${port}`);
      ports[f.proto].add(port);
      const m = ownerOf(to);
      const listening = m ? (servicePorts[m]?.[f.proto] ?? []) : [];
      // mostly onto a port the target listens on (a forward that matters: the internet reaches a LAN
      // service through it); without a toPort only when the public port is one it listens on, or 1 in 4
      const toPort =
        f.toPort !== undefined
          ? ((f.toPort % 4 !== 3 ? pick(listening, f.toPort) : undefined) ?? pick(SERVICE_PORTS, f.toPort)!)
          : listening.includes(port) || f.port % 4 === 3
            ? undefined
            : pick(listening, f.port);
      if (m) entry({ machine: m, proto: f.proto, port: toPort ?? port });
      return [{ name: `pf${k}`, proto: f.proto, port, to, ...(toPort !== undefined ? { toPort } : {}) }];
    });
    md.router = {
      wan: "wan0",
      ...(raw.router.hairpin !== undefined ? { hairpin: raw.router.hairpin } : {}),
      ...(forwards.length ? { forwards } : {}),
    };
    if (raw.router.firewall) md.firewall = firewallDoc("gw", raw.router.firewall);
    servicePorts["gw"] = { tcp: [], udp: [] };
  }

  const finalDoc = doc as TopologyDoc;
  return {
    doc: finalDoc,
    yaml: YAML.stringify(finalDoc),
    machines,
    servicePorts,
    ports: { tcp: [...ports.tcp].sort((a, b) => a - b), udp: [...ports.udp].sort((a, b) => a - b) },
    entries,
  };
}

/** Random valid topology documents with their YAML text. */
export const topologyArb: fc.Arbitrary<GeneratedTopology> = rawTopologyArb.map(buildTopology);

// ---------------------------------------------------------------- queries

export type QueryKind = "machine" | "icmp" | "localhost" | "entry" | "up";
export interface QuerySeed {
  kind: QueryKind;
  from: number;
  to: number;
  proto: Proto;
  port: number;
}
export const querySeedArb = (kinds: readonly QueryKind[] = ["machine", "icmp", "localhost"]): fc.Arbitrary<QuerySeed> =>
  fc.record({ kind: fc.constantFrom(...kinds), from: small, to: small, proto: protoArb, port: small });

/**
 * A query text over the topology's machine names. Ports come from what is present:
 * the target's own service ports first (index 0 shrinks there), then every service,
 * forward and DNAT port of that protocol. localhost queries are tcp.
 */
export function resolveQuery(t: GeneratedTopology, s: QuerySeed): string {
  const from = pick(t.machines, s.from)!;
  // through a translation: the target and port a forward, router forward or DNAT leads to
  const entry = s.kind === "entry" ? pick(t.entries, s.to) : undefined;
  // often from the forward's own host (its loopback is a way in of its own)
  if (entry) return `${s.port % 3 === 0 && entry.host ? entry.host : from} -> ${entry.machine}:${entry.port}/${entry.proto}`;
  // from a VM to its host: 10.0.2.2, the host's loopback through the NAT engine, its LAN address
  const vms = t.machines.filter((m) => t.doc.machines[m]?.vm);
  const vm = s.kind === "up" ? pick(vms, s.from) : undefined;
  if (vm) {
    const up = t.doc.machines[vm]!.vm!.on;
    const port = pick([...(t.servicePorts[up]?.[s.proto] ?? []), ...t.ports[s.proto]], s.port) ?? 80;
    return `${vm} -> ${up}:${port}/${s.proto}`;
  }
  // targets that listen on something of the protocol first: index 0 shrinks to one of them
  const listening = t.machines.filter((m) => (t.servicePorts[m]?.[s.proto].length ?? 0) > 0);
  const to = pick(s.kind === "machine" ? [...listening, ...t.machines] : t.machines, s.to)!;
  if (s.kind === "icmp") return `${from} -> ${to}/icmp`;
  // the protocol the target listens on, when it listens on only one
  const other: Proto = s.proto === "tcp" ? "udp" : "tcp";
  const proto: Proto =
    s.kind === "localhost" ? "tcp" : !t.servicePorts[to]?.[s.proto].length && t.servicePorts[to]?.[other].length ? other : s.proto;
  const own = s.kind === "localhost" ? (t.servicePorts[from]?.tcp ?? []) : (t.servicePorts[to]?.[proto] ?? []);
  // mostly a port the target (or, for localhost, the source) listens on; sometimes any port in play
  const port = (s.port % 4 !== 3 ? pick(own, s.port) : undefined) ?? pick([...own, ...t.ports[proto]], s.port) ?? 80;
  return s.kind === "localhost" ? `${from} -> localhost:${port}/tcp` : `${from} -> ${to}:${port}/${proto}`;
}

/** Queries over one given topology. */
export const queryArb = (t: GeneratedTopology, kinds?: readonly QueryKind[]): fc.Arbitrary<string> =>
  querySeedArb(kinds).map((s) => resolveQuery(t, s));

export interface Scenario {
  readonly topology: GeneratedTopology;
  readonly queries: readonly string[];
}
/** A topology and 1..maxQueries queries over it (shrinks toward fewer machines, rules and queries). */
export const scenarioArb = (kinds?: readonly QueryKind[], maxQueries = 3): fc.Arbitrary<Scenario> =>
  fc
    .tuple(topologyArb, fc.array(querySeedArb(kinds), { minLength: 1, maxLength: maxQueries }))
    .map(([topology, seeds]) => ({ topology, queries: seeds.map((s) => resolveQuery(topology, s)) }));
