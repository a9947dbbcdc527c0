/**
 * The topology file format (the user's language), as a zod schema.
 *
 * The schema checks shape only: addresses, prefixes and ports stay strings or
 * numbers here and are parsed by `check.ts`, which reports them with their own
 * stable diagnostic codes. The same schema is exported as JSON Schema for editors
 * (`reach schema`, models/topology.schema.json).
 */
import { z } from "zod";

/** A strict object whose unknown-key error lists the keys that are allowed. */
function strict<S extends z.core.$ZodLooseShape>(shape: S) {
  const allowed = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? `allowed keys: ${allowed}` : undefined),
  });
}

const name = z.string().min(1);
/** Port: a number, or a string we parse ourselves to give a precise diagnostic. */
const port = z.union([z.number(), z.string()]);
/** Port or range "1000-2000". */
const portRange = z.union([z.number(), z.string()]);
const proto = z.enum(["tcp", "udp"]);
const protoAny = z.enum(["tcp", "udp", "icmp"]);
const ctState = z.enum(["new", "established", "related", "invalid", "untracked"]);

/** A match value, or `{ not: value }` for its negation (iptables `! -i docker0`, nft `iifname != "docker0"`). */
const negatable = <T extends z.ZodType>(t: T) => z.union([t, strict({ not: t })]);
export type Negatable<T> = T | { not: T };

/**
 * `dst:` value for the machine's own addresses except loopback's (iptables `! -d 127.0.0.0/8 -m
 * addrtype --dst-type LOCAL`: Docker's nat OUTPUT jump, which leaves 127.0.0.1 to docker-proxy).
 */
export const LOCAL_NONLOOPBACK = "local-nonloopback";

/** Match keys shared by filter rules and NAT rules. */
const matchKeys = {
  proto: protoAny.optional(),
  src: negatable(z.string()).optional(),
  dst: negatable(z.string()).optional(),
  sport: negatable(portRange).optional(),
  dport: negatable(portRange).optional(),
  in: negatable(name).optional(),
  out: negatable(name).optional(),
  comment: z.string().optional(),
};

export const RuleSchema = strict({
  action: z.enum(["accept", "drop", "reject"]),
  /** reject only: what is sent back (iptables --reject-with, nft reject with); default port-unreachable */
  with: z
    .enum(["tcp-reset", "port-unreachable", "host-unreachable", "net-unreachable", "admin-prohibited", "host-prohibited", "net-prohibited"])
    .optional(),
  ...matchKeys,
  state: z.array(ctState).optional(),
  /** conntrack status DNAT: true = the connection was destination-translated on this machine (nft `ct status dnat`), false = it was not */
  dnat: z.boolean().optional(),
  /** conntrack's original destination port: the port the client dialed, before any DNAT (iptables `--ctorigdstport`, nft `ct original proto-dst`) */
  origDport: negatable(portRange).optional(),
  /** conntrack's original destination address, before any DNAT (iptables `--ctorigdst`, nft `ct original ip daddr`) */
  origDst: negatable(z.string()).optional(),
});

export const ChainSchema = strict({
  policy: z.enum(["accept", "drop"]).optional(),
  rules: z.array(RuleSchema).optional(),
});

export const FirewallSchema = strict({
  input: ChainSchema.optional(),
  output: ChainSchema.optional(),
  forward: ChainSchema.optional(),
});

export const NatRuleSchema = z.discriminatedUnion("action", [
  strict({ action: z.literal("dnat"), chain: z.enum(["prerouting", "output"]), to: z.string(), toPort: port.optional(), ...matchKeys }),
  strict({ action: z.literal("snat"), chain: z.literal("postrouting").optional(), to: z.string(), ...matchKeys }),
  strict({ action: z.literal("masquerade"), chain: z.literal("postrouting").optional(), ...matchKeys }),
]);

export const InterfaceSchema = strict({
  segment: name,
  addresses: z.array(z.string()).optional(),
});

export const RouteSchema = strict({
  to: z.string(),
  via: z.string().optional(),
  dev: name.optional(),
  /** The route's metric (`ip route add ... metric N`): after the longest prefix, the lowest wins. Default: the kernel's (IPv4 0, IPv6 1024). */
  metric: z.number().int().min(0).max(4294967295).optional(),
});

export const ServiceSchema = strict({
  name: name.optional(),
  proto: proto.optional(),
  port,
  bind: z.string().optional(),
  v6only: z.boolean().optional(),
  device: name.optional(),
  /** UDP on a wildcard bind: answers from the address it was asked on (IP_PKTINFO: bind, dnsmasq, unbound). */
  pktinfo: z.boolean().optional(),
  /** A container's port exposed (Dockerfile EXPOSE, compose `expose:`) and not published: answers name that as the cause. */
  exposed: z.boolean().optional(),
});

/**
 * A relay process of the machine (docker-proxy, socat, ssh -L): it listens like a service and,
 * for each connection (or UDP client), opens its own connection to `to`:`toPort`. Its listening
 * side crosses the machine's INPUT chain; its own connection leaves through OUTPUT and
 * POSTROUTING, from `from` when it binds one, else from the address the kernel picks, with an
 * ephemeral port. FORWARD sees neither side.
 */
export const RelaySchema = strict({
  name: name.optional(),
  proto: proto.optional(),
  bind: z.string().optional(),
  port,
  v6only: z.boolean().optional(),
  to: z.string(),
  toPort: port,
  from: z.string().optional(),
});

/** A VirtualBox NAT port forward (`--natpf<N> name,proto,hostip,hostport,guestip,guestport`). */
export const ForwardSchema = strict({
  name: name.optional(),
  proto: proto.optional(),
  hostIp: z.string().optional(),
  hostPort: port,
  guestIp: z.string().optional(),
  guestPort: port,
});

const adapterCommon = {
  interface: name.optional(),
};

export const AdapterSchema = z.discriminatedUnion("mode", [
  strict({
    mode: z.literal("nat"),
    ...adapterCommon,
    /** Who runs the NAT: VirtualBox's NAT engine (default) or QEMU's user network (libslirp, `-netdev user`). */
    engine: z.enum(["virtualbox", "qemu"]).optional(),
    network: z.string().optional(),
    localhostReachable: z.boolean().optional(),
    /** IPv6 on the NAT network (QEMU: on unless `ipv6=off`; VirtualBox's NAT mode has none). */
    ipv6: z.boolean().optional(),
    /** QEMU `ipv6-prefix=`/`ipv6-prefixlen=`: the guest's IPv6 network, fec0::/64 by default. */
    ipv6Network: z.string().optional(),
    forwards: z.array(ForwardSchema).optional(),
  }),
  strict({ mode: z.literal("natnetwork"), ...adapterCommon, network: name, addresses: z.array(z.string()) }),
  strict({ mode: z.literal("bridged"), ...adapterCommon, bridge: name, addresses: z.array(z.string()), gateway: z.string().optional() }),
  strict({ mode: z.literal("hostonly"), ...adapterCommon, network: name.optional(), addresses: z.array(z.string()).optional() }),
  strict({ mode: z.literal("internal"), ...adapterCommon, network: name.optional(), addresses: z.array(z.string()) }),
  strict({ mode: z.literal("none"), ...adapterCommon }),
]);

export const VmSchema = strict({
  on: name,
  adapters: z.array(AdapterSchema),
  /** VirtualBox runs as root on the host, so forwards may use host ports below 1024. */
  asRoot: z.boolean().optional(),
});

/** Home router sugar: masquerade out of `wan`, DNAT port forwards, optional hairpin. */
export const RouterSchema = strict({
  wan: name,
  hairpin: z.boolean().optional(),
  forwards: z
    .array(
      strict({
        name: name.optional(),
        proto: proto.optional(),
        port: port,
        to: z.string(),
        toPort: port.optional(),
      }),
    )
    .optional(),
});

export const HostOnlySchema = strict({
  addresses: z.array(z.string()),
});

/**
 * The Docker Engine whose rules the machine runs (written by reach import): 28 (the default) adds a
 * raw-table drop of packets routed straight to a container's address from outside its bridge;
 * 27 and older do not. `bridges` are the machine's Docker bridge interfaces.
 */
export const DockerSchema = strict({
  version: z.union([z.literal(27), z.literal(28)]).optional(),
  bridges: z.array(name),
});

export const MachineSchema = strict({
  description: z.string().optional(),
  interfaces: z.record(z.string(), InterfaceSchema).optional(),
  routes: z.array(RouteSchema).optional(),
  ip_forward: z.boolean().optional(),
  rp_filter: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  route_localnet: z.boolean().optional(),
  firewall: FirewallSchema.optional(),
  nat: z.array(NatRuleSchema).optional(),
  services: z.array(ServiceSchema).optional(),
  relays: z.array(RelaySchema).optional(),
  docker: DockerSchema.optional(),
  vm: VmSchema.optional(),
  router: RouterSchema.optional(),
  hostonly: z.record(z.string(), HostOnlySchema).optional(),
});

export const SegmentSchema = z.union([z.string(), strict({ subnets: z.array(z.string()) })]);

export const NatNetworkSchema = strict({
  network: z.string().optional(),
  forwards: z.array(ForwardSchema).optional(),
});

/**
 * One expectation, of one of three kinds (check.ts insists on exactly one):
 *   { query: "A -> B:22/tcp", verdict: reachable | unreachable }
 *   { isolated: { between: [A, ...], and: [B, ...] } }: no connection either way, any port or protocol
 *   { exposes: { machine: M, from: V, exactly: ["22/tcp", "53/udp"] } }: what V can connect to on M
 */
export const ExpectSchema = strict({
  query: z.string().optional(),
  verdict: z.enum(["reachable", "unreachable"]).optional(),
  isolated: strict({ between: z.array(name).min(1), and: z.array(name).min(1) }).optional(),
  exposes: strict({ machine: name, from: name, exactly: z.array(z.string()) }).optional(),
  because: z.string().optional(),
});

export const TopologySchema = strict({
  description: z.string().optional(),
  segments: z.record(z.string(), SegmentSchema).optional(),
  natnetworks: z.record(z.string(), NatNetworkSchema).optional(),
  machines: z.record(z.string(), MachineSchema),
  expect: z.array(ExpectSchema).optional(),
  /**
   * What the inputs held that is not in this file (written by reach import for each part it
   * could not read): answers that could depend on it say so, and an exposes or isolated
   * expectation that would hold is unknown instead.
   */
  incomplete: z.array(strict({ at: z.string().min(1), what: z.string().min(1) })).optional(),
  /**
   * What reach import assumed that the inputs do not say and that answers depend on (libvirt's
   * stock default network, a LAN widened to hold a static address): answers say it.
   */
  assumed: z.array(strict({ at: z.string().min(1), what: z.string().min(1) })).optional(),
});

export type TopologyDoc = z.infer<typeof TopologySchema>;

/** A spec file: expectations about a topology kept in another file (path relative to the spec). */
export const SpecSchema = strict({
  description: z.string().optional(),
  include: z.string().min(1),
  expect: z.array(ExpectSchema),
});
export type MachineDoc = z.infer<typeof MachineSchema>;
export type AdapterDoc = z.infer<typeof AdapterSchema>;
export type ForwardDoc = z.infer<typeof ForwardSchema>;
export type RuleDoc = z.infer<typeof RuleSchema>;
export type ChainDoc = z.infer<typeof ChainSchema>;
export type NatRuleDoc = z.infer<typeof NatRuleSchema>;
export type ServiceDoc = z.infer<typeof ServiceSchema>;
export type RelayDoc = z.infer<typeof RelaySchema>;
export type RouteDoc = z.infer<typeof RouteSchema>;
export type RouterDoc = z.infer<typeof RouterSchema>;
export type ExpectDoc = z.infer<typeof ExpectSchema>;

/** JSON Schema (draft 2020-12) of the topology format, for editors. */
export function topologyJsonSchema(): unknown {
  return {
    $id: "https://reach.invalid/topology.schema.json",
    title: "reach topology",
    ...z.toJSONSchema(TopologySchema, { io: "input" }),
  };
}
