/**
 * The network IR: pure, readonly data. VirtualBox modes, home routers and other
 * sugar of the topology language are gone by this point; what is left is what a
 * Linux-like stack and a user-space proxy consist of. The simulator (and next the
 * Z3 encoder) read only this.
 *
 * Every element carries its Origin: the file position and a short description of
 * the topology element it came from, so that each decision can cite its source.
 */
import type { Span } from "../diagnostics/diagnostic.js";
import type { IfAddr, IP, Prefix } from "../net/addr.js";

export type Proto = "tcp" | "udp" | "icmp";
export type CtState = "new" | "established" | "related" | "invalid" | "untracked";

export interface Origin {
  readonly span: Span;
  /** e.g. `input rule 2`, `port forward "ssh" of guest's NAT adapter 1` */
  readonly what: string;
}

export interface Network {
  readonly file: string;
  readonly machines: readonly Machine[];
  readonly segments: readonly Segment[];
  /** Parts of the inputs the file was imported without (`incomplete:`): answers say so. */
  readonly incomplete?: readonly { readonly at: string; readonly what: string }[];
  /** What the import assumed that the inputs do not say (`assumed:`): answers say so. */
  readonly assumed?: readonly { readonly at: string; readonly what: string }[];
}

export interface Segment {
  readonly name: string;
  readonly subnets: readonly Prefix[];
  readonly origin: Origin;
  /**
   * What the segment is in the user's terms (for explanations only; the engines ignore it):
   * declared in segments:, a VirtualBox NAT adapter's or NAT Network's private network, a
   * host-only network, or an internal network.
   */
  readonly kind?: "declared" | "vbox-nat" | "vbox-natnetwork" | "vbox-hostonly" | "vbox-internal";
}

export type MachineKind = "host" | "vm" | "router" | "nat-engine";

export interface Machine {
  readonly name: string;
  readonly kind: MachineKind;
  readonly origin: Origin;
  /** Includes `lo` (127.0.0.1/8, ::1/128). */
  readonly interfaces: readonly Iface[];
  /** Includes connected and local routes, in the order the kernel would consult after LPM. */
  readonly routes: readonly Route[];
  readonly ipForward: boolean;
  readonly rpFilter: 0 | 1 | 2;
  readonly routeLocalnet: boolean;
  readonly filter: { readonly input: Chain; readonly output: Chain; readonly forward: Chain };
  readonly nat: { readonly prerouting: readonly NatRule[]; readonly output: readonly NatRule[]; readonly postrouting: readonly NatRule[] };
  readonly sockets: readonly Socket[];
  /** A user-space NAT engine (VirtualBox NAT / NAT Network) that relays what it receives through a host. */
  readonly engine?: NatEngine;
  /** The Docker Engine whose rules this machine runs (`docker:`), for answers to say which they assume. */
  readonly docker?: { readonly version: 27 | 28; readonly origin: Origin };
}

export interface Iface {
  readonly name: string;
  /** null: loopback, or not attached to any segment */
  readonly segment: string | null;
  readonly addrs: readonly IfAddr[];
  readonly origin: Origin;
}

export interface Route {
  readonly dst: Prefix;
  readonly via?: IP;
  readonly dev: string;
  /** local: the destination is this machine (local table); connected: on-link */
  readonly type: "local" | "connected" | "static";
  /**
   * The route's metric when the file gave one; otherwise the kernel's default (`routeMetric`).
   * After the longest prefix, the lowest metric wins; equal metrics: the route listed first.
   */
  readonly metric?: number;
  readonly origin: Origin;
}

/**
 * The metric the kernel keeps for a route (measured with `ip route add` in a namespace,
 * semantics.md 10): the one given, except that IPv6 stores 0 as 1024; without one, IPv4 routes
 * 0 (connected ones too), IPv6 connected (prefix) routes 256, other IPv6 routes 1024.
 */
export function routeMetric(r: Pick<Route, "dst" | "type" | "metric">): number {
  if (r.dst.v === 6 && r.metric === 0) return 1024;
  if (r.metric !== undefined) return r.metric;
  if (r.dst.v === 4) return 0;
  return r.type === "static" ? 1024 : 256;
}

export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/** The conditions of a match that can be negated (iptables `!`, nft `!=`). */
export interface NegatableMatch {
  readonly src?: Prefix;
  readonly dst?: Prefix;
  readonly sport?: PortRange;
  readonly dport?: PortRange;
  readonly in?: string;
  readonly out?: string;
  /** conntrack's original destination (`--ctorigdst`, nft `ct original ip daddr`): the address the client dialed, before any DNAT */
  readonly origDst?: Prefix;
  /** conntrack's original destination port (`--ctorigdstport`, nft `ct original proto-dst`): the port the client dialed */
  readonly origDport?: PortRange;
}

/**
 * Every condition present must hold. `not`: each condition there must fail (iptables `!` on
 * one option); a negated port still needs a TCP or UDP packet and a negated original
 * destination still needs a conntrack entry, as in the kernel.
 */
export interface Match extends NegatableMatch {
  readonly proto?: Proto;
  readonly state?: readonly CtState[];
  /** conntrack status dnat: the connection was destination-translated on this machine */
  readonly ctDnat?: boolean;
  readonly not?: NegatableMatch;
}

export type Verdict = "accept" | "drop" | "reject";

/**
 * What a reject rule sends back (iptables `--reject-with`, nft `reject with`): a TCP reset, or an
 * ICMP/ICMPv6 destination-unreachable error of one code. Absent means port-unreachable, the default
 * of iptables REJECT and nft `reject` (docs/semantics.md section 4). host-prohibited and
 * net-prohibited exist for IPv4 only; the checker keeps them on IPv4 rules.
 */
export type RejectWith =
  "tcp-reset" | "port-unreachable" | "host-unreachable" | "net-unreachable" | "admin-prohibited" | "host-prohibited" | "net-prohibited";

export const REJECT_WITH: readonly RejectWith[] = [
  "tcp-reset",
  "port-unreachable",
  "host-unreachable",
  "net-unreachable",
  "admin-prohibited",
  "host-prohibited",
  "net-prohibited",
];

export interface Rule {
  readonly match: Match;
  readonly action: Verdict;
  /** reject only: what is sent back; absent = port-unreachable */
  readonly with?: RejectWith;
  readonly origin: Origin;
}

export interface Chain {
  readonly name: "input" | "output" | "forward";
  readonly policy: "accept" | "drop";
  readonly policyOrigin?: Origin;
  readonly rules: readonly Rule[];
}

export type NatAction =
  | { readonly kind: "dnat"; readonly to: IP; readonly toPort?: number }
  | { readonly kind: "snat"; readonly to: IP }
  | { readonly kind: "masquerade" };

export interface NatRule {
  readonly match: Match;
  readonly action: NatAction;
  readonly origin: Origin;
}

/** What happens to a connection accepted by a listening socket. */
export type SocketRole =
  | { readonly kind: "service" }
  | {
      /**
       * A relay: the connection is accepted here and a new one is opened from `engine`
       * to `to:toPort`. Two kinds, by `gateway`:
       * - with `gateway` (libslirp: a VirtualBox or QEMU NAT port forward, `engine` the
       *   NAT engine machine): the new connection keeps the client's address and port,
       *   `gateway` standing in for a loopback client or one of the other family;
       * - without (a relay process of an ordinary machine: docker-proxy, socat; `engine`
       *   the machine itself): the new connection is the machine's own, leaving through
       *   its OUTPUT chain with the kernel's source address (or `from`, when the process
       *   binds one) and an ephemeral port. Its listening side crossed INPUT; FORWARD
       *   sees neither side.
       */
      readonly kind: "relay";
      readonly engine: string;
      readonly to: IP;
      readonly toPort: number;
      readonly gateway?: IP;
      /** Only without `gateway`: the source address the relay binds before it connects. */
      readonly from?: IP;
    };

export interface Socket {
  /** Service or forward name, e.g. `sshd`, `VirtualBox NAT forward "ssh"`. */
  readonly owner: string;
  readonly proto: "tcp" | "udp";
  readonly bind: IP;
  readonly port: number;
  readonly v6only: boolean;
  readonly device?: string;
  /** UDP on a wildcard bind answers from the dialed address (IP_PKTINFO); otherwise from the route's source. */
  readonly pktinfo?: boolean;
  /** A container's port that is exposed (EXPOSE, compose `expose:`) and not published: for explanations only. */
  readonly exposed?: boolean;
  readonly role: SocketRole;
  readonly origin: Origin;
}

/**
 * A user-space NAT engine. Whatever reaches it for an address that is not its own
 * is re-sent by the host process as a new connection from the host;
 * `loopbackAddress` maps to the host's 127.0.0.1 and `loopbackAddress6` to its ::1 when
 * `loopbackReachable`.
 */
export interface NatEngine {
  /** Who runs it: VirtualBox's NAT engine or QEMU's user network (libslirp); answers name it. */
  readonly kind: "virtualbox" | "qemu";
  readonly host: string;
  readonly gateway: IP;
  /** The address that stands for the host's 127.0.0.1 (NAT: the gateway .2; NAT Network: offset 2). */
  readonly loopbackAddress: IP;
  /** With IPv6 on (QEMU): the address that stands for the host's ::1 (the IPv6 network's ::2). */
  readonly loopbackAddress6?: IP;
  readonly loopbackReachable: boolean;
  readonly origin: Origin;
}

const byName = new WeakMap<Network, ReadonlyMap<string, Machine>>();
/** The machines by name, built once per network (a lowered network is never changed). */
export function machineIndex(net: Network): ReadonlyMap<string, Machine> {
  let ix = byName.get(net);
  if (!ix) byName.set(net, (ix = new Map(net.machines.map((m) => [m.name, m]))));
  return ix;
}
