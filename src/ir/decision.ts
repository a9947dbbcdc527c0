/**
 * The decision points of a packet's trip, one vocabulary for both engines.
 *
 * The simulator decides each point on one concrete packet and records a typed
 * step or disposition (sim/types.ts); the symbolic engine forks or assumes a
 * condition at the same point (smt/walk.ts `Explorer.fork`/`assume`) and labels
 * the condition with a Decision, so that an unsat core names the rule, route or
 * socket that rules a path out, with its file:line:col. Kinds are named after
 * the simulator's disposition kinds where one exists (`martian`, `rp-filter`,
 * `not-forwarding`, `no-route` as `route`, `no-neighbour` as `neighbour`, ...).
 */
import { formatSpan } from "../diagnostics/diagnostic.js";
import { formatIP, formatPrefix } from "../net/addr.js";
import type { Chain, Origin, Route, Socket } from "./types.js";

/** A rule of a chain or NAT table: its 1-based position and where it was written. */
export interface RuleRef {
  readonly index: number;
  readonly origin: Origin;
}

export type NatHook = "prerouting" | "output" | "postrouting";

export type Decision =
  /** the query's own domain: the ports and addresses a client may dial */
  | { readonly kind: "query" }
  /** which conntrack entry (if any) the packet belongs to */
  | { readonly kind: "conntrack"; readonly machine: string }
  /** which NAT rule (if any) translates a connection's first packet at this hook */
  | { readonly kind: "nat"; readonly machine: string; readonly hook: NatHook; readonly rule?: RuleRef }
  /** nf_nat keeps conntrack tuples unique: a clashing translation gets another source port */
  | { readonly kind: "nat-unique"; readonly machine: string }
  /**
   * Martian addresses: on arrival (loopback, own source, broadcast/multicast/0 destination),
   * on departure (a loopback address never leaves by a real interface), or IPv6 link-local
   * addresses that are not forwarded.
   */
  | { readonly kind: "martian"; readonly machine: string; readonly check: "arrival" | "departure" | "link-local" }
  /** a NAT engine answers its own connections; anything else it cannot place */
  | { readonly kind: "engine-no-connection"; readonly machine: string }
  /** a NAT engine's address that stands for its host's loopback */
  | { readonly kind: "engine-loopback"; readonly machine: string; readonly origin?: Origin }
  /** the local table: is the destination one of this machine's addresses? */
  | { readonly kind: "local"; readonly machine: string; readonly local?: boolean }
  | { readonly kind: "rp-filter"; readonly machine: string; readonly mode: 0 | 1 | 2 }
  /**
   * A filter chain: one rule that must not be the first match (drop/reject), the policy
   * (some accept rule must be the first match), or the whole chain at once.
   */
  | {
      readonly kind: "filter";
      readonly machine: string;
      readonly chain: Chain["name"];
      readonly rule?: RuleRef;
      readonly policy?: { readonly origin?: Origin };
    }
  /** the route lookup; `route` undefined: no route */
  | { readonly kind: "route"; readonly machine: string; readonly route?: Route }
  | { readonly kind: "not-forwarding"; readonly machine: string }
  /** ARP/ND on a segment; `owner` undefined: nobody answers */
  | { readonly kind: "neighbour"; readonly machine: string; readonly segment: string | null; readonly owner?: string }
  /** the device SO_BINDTODEVICE is matched against (the one owning a local destination) */
  | { readonly kind: "socket-device"; readonly machine: string }
  /** the listening socket that takes the packet; `socket` undefined: refused */
  | { readonly kind: "socket"; readonly machine: string; readonly socket?: Socket }
  /** an answer must arrive as the connection's expected packet */
  | { readonly kind: "reply-mismatch"; readonly machine: string }
  /** the source address the kernel picks: for the client's connection, a server's answer, a relay's new leg */
  | { readonly kind: "source-address"; readonly machine: string; readonly role: "client" | "answer" | "relay" }
  /** a bound on the exchange: hops of one walk, or legs of relays */
  | { readonly kind: "loop"; readonly machine: string; readonly bound: "hops" | "legs" }
  /** the path ends somewhere the query does not ask for */
  | { readonly kind: "goal"; readonly machine: string; readonly socket?: Socket };

export type DecisionKind = Decision["kind"];

const at = (o: Origin): string => formatSpan(o.span);

/** A decision in words, citing the element it came from with file:line:col. */
export function decisionText(d: Decision): string {
  switch (d.kind) {
    case "query":
      return "the query's ports and addresses";
    case "conntrack":
      return `${d.machine}'s conntrack table`;
    case "nat":
      return d.rule
        ? `${d.machine}'s nat ${d.hook.toUpperCase()} ${d.rule.origin.what} (${at(d.rule.origin)})`
        : `${d.machine}'s nat ${d.hook.toUpperCase()} (no rule translating)`;
    case "nat-unique":
      return `${d.machine}'s NAT keeping conntrack tuples unique`;
    case "martian":
      return d.check === "arrival"
        ? `${d.machine}'s martian address checks`
        : d.check === "departure"
          ? `${d.machine} keeping loopback addresses local`
          : `${d.machine} not forwarding IPv6 link-local addresses`;
    case "engine-no-connection":
      return `${d.machine} answering only its own connections`;
    case "engine-loopback":
      return `${d.machine}'s address for its host's loopback${d.origin ? ` (${at(d.origin)})` : ""}`;
    case "local":
      return `${d.machine}'s local table${d.local === undefined ? "" : d.local ? " (a local address)" : " (not a local address)"}`;
    case "rp-filter":
      return `${d.machine}'s rp_filter=${d.mode}`;
    case "filter": {
      const chain = d.chain.toUpperCase();
      if (d.rule) return `${d.machine}'s ${chain} ${d.rule.origin.what} (${at(d.rule.origin)})`;
      if (d.policy)
        return `${d.machine}'s ${chain} policy drop${d.policy.origin ? ` (${d.policy.origin.what}, ${at(d.policy.origin)})` : ""}`;
      return `${d.machine}'s ${chain} chain`;
    }
    case "route": {
      const r = d.route;
      if (!r) return `${d.machine}'s routes (no route)`;
      if (r.type === "local") return `${d.machine}'s local table`;
      const via = r.via ? ` via ${formatIP(r.via)}` : "";
      return `${d.machine}'s route ${formatPrefix(r.dst)}${via} dev ${r.dev} (${at(r.origin)})`;
    }
    case "not-forwarding":
      return `${d.machine} not forwarding (ip_forward off)`;
    case "neighbour":
      return `ARP/ND from ${d.machine} on ${d.segment ?? "no segment"}${d.owner ? ` (answered by ${d.owner})` : " (nobody answers)"}`;
    case "socket-device":
      return `the device of ${d.machine}'s local address`;
    case "socket":
      return d.socket
        ? `${d.socket.owner} on ${d.machine} (${d.socket.proto} port ${d.socket.port}, ${at(d.socket.origin)})`
        : `${d.machine}'s listening sockets (none takes it)`;
    case "reply-mismatch":
      return `the answer arriving at ${d.machine} as the connection's`;
    case "source-address":
      return d.role === "client"
        ? `${d.machine}'s source address selection`
        : d.role === "answer"
          ? `the source address of ${d.machine}'s answer`
          : `the source address of ${d.machine}'s relay`;
    case "loop":
      return d.bound === "hops" ? `the hop limit at ${d.machine}` : `the relay limit at ${d.machine}`;
    case "goal":
      return `the query's target (not ${d.socket ? `${d.socket.owner} on ` : ""}${d.machine})`;
  }
}
