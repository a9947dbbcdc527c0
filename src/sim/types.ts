/**
 * Traces: what the simulator records. A trace is a list of typed steps and ends in
 * a disposition; each decision step carries the Origin (file:line) of the element
 * that made it. Text is produced by render.ts, not here.
 */
import type { IP } from "../net/addr.js";
import type { Chain, CtState, NatRule, Origin, Proto, Route, Rule, Socket } from "../ir/types.js";

export interface Packet {
  readonly proto: Proto;
  readonly src: IP;
  readonly dst: IP;
  /** tcp/udp source port; icmp: echo identifier */
  readonly sport: number;
  /** tcp/udp destination port; icmp: 0 */
  readonly dport: number;
}

export type Step =
  | { readonly kind: "originate"; readonly machine: string; readonly packet: Packet; readonly note?: string }
  | { readonly kind: "receive"; readonly machine: string; readonly iface: string; readonly packet: Packet }
  | { readonly kind: "route"; readonly machine: string; readonly route: Route; readonly via?: IP; readonly local: boolean }
  | {
      readonly kind: "filter";
      readonly machine: string;
      readonly chain: Chain["name"];
      readonly state: CtState;
      readonly action: "accept" | "drop" | "reject";
      readonly rule?: Rule;
      readonly policyOrigin?: Origin;
    }
  | {
      readonly kind: "nat";
      readonly machine: string;
      readonly hook: "prerouting" | "output" | "postrouting";
      readonly rule: NatRule;
      readonly before: Packet;
      readonly after: Packet;
    }
  | { readonly kind: "unnat"; readonly machine: string; readonly before: Packet; readonly after: Packet }
  | {
      readonly kind: "transmit";
      readonly machine: string;
      readonly iface: string;
      readonly segment: string;
      readonly to: string;
      readonly toIface: string;
      readonly nextHop: IP;
    }
  | { readonly kind: "deliver"; readonly machine: string; readonly socket?: Socket; readonly packet: Packet };

export type Disposition =
  | { readonly kind: "delivered"; readonly machine: string; readonly socket?: Socket; readonly packet: Packet }
  | {
      readonly kind: "refused";
      readonly machine: string;
      readonly packet: Packet;
      readonly near: readonly Socket[];
      /** A DNAT rule here that would have taken the packet had it arrived on another interface (no hairpin). */
      readonly dnatOnlyOn?: { readonly rule: NatRule; readonly iface: string };
    }
  | {
      readonly kind: "dropped";
      readonly machine: string;
      readonly chain: Chain["name"];
      readonly rule?: Rule;
      readonly policyOrigin?: Origin;
    }
  /** `packet`: the rejected packet, as the chain saw it */
  | { readonly kind: "rejected"; readonly machine: string; readonly chain: Chain["name"]; readonly rule: Rule; readonly packet: Packet }
  /** `rerouted`: the machine's own packet, routed again after a nat OUTPUT DNAT (connect() had a route; the packet is dropped) */
  | { readonly kind: "no-route"; readonly machine: string; readonly dst: IP; readonly rerouted?: true }
  | {
      readonly kind: "no-neighbour";
      readonly machine: string;
      readonly iface: string;
      readonly segment: string | null;
      readonly nextHop: IP;
      /** IPv6: the neighbour answers, but a filter chain drops the untracked neighbour discovery (semantics.md 3) */
      readonly filtered?: {
        readonly machine: string;
        readonly chain: "input" | "output";
        readonly what: "solicitation" | "advertisement";
        readonly rule?: Rule;
        readonly policyOrigin?: Origin;
      };
    }
  | { readonly kind: "not-forwarding"; readonly machine: string; readonly dst: IP }
  | { readonly kind: "rp-filter"; readonly machine: string; readonly iface: string; readonly src: IP; readonly mode: 1 | 2 }
  | {
      readonly kind: "martian";
      readonly machine: string;
      readonly iface: string;
      readonly addr: IP;
      readonly which: "source" | "destination";
      /** judged as the machine's own packet leaves (a nat OUTPUT DNAT rerouted it), not on arrival */
      readonly leaving?: true;
    }
  | { readonly kind: "loop"; readonly machine: string }
  | { readonly kind: "engine-loopback-off"; readonly machine: string; readonly origin: Origin }
  | { readonly kind: "engine-no-connection"; readonly machine: string }
  /** libslirp answers an ICMPv6 echo request for its own address only: one to another host goes nowhere */
  | { readonly kind: "engine-no-icmp6"; readonly machine: string; readonly origin: Origin }
  | { readonly kind: "no-source"; readonly machine: string; readonly iface: string }
  /** IPv4 masquerade with no address to take (the machine has no IPv4 address but loopback): the kernel drops the packet */
  | { readonly kind: "masquerade-no-address"; readonly machine: string; readonly iface: string; readonly rule: NatRule }
  | {
      readonly kind: "reply-mismatch";
      readonly machine: string;
      readonly expectedMachine: string;
      readonly expected: Packet;
      readonly got: Packet;
    }
  /** A NAT engine took the packet and will re-send it from its host as a new connection. */
  | {
      readonly kind: "engine-relay";
      readonly machine: string;
      readonly host: string;
      readonly dst: IP;
      readonly dport: number;
      readonly packet: Packet;
      readonly origin: Origin;
    };

/** One direction of one connection leg. */
export interface Trace {
  readonly steps: readonly Step[];
  readonly disposition: Disposition;
}

/**
 * One leg of a connection: the first packet's trip and, when it was delivered,
 * the reply's trip back. A relay (port forward) or a NAT engine starts a new leg.
 */
export interface Leg {
  readonly forward: Trace;
  readonly reply?: Trace;
  /** TCP: the client's next packet (handshake ACK, data) along the connection. */
  readonly ack?: Trace;
  /**
   * TCP: the server's first data packet, walked only when the reply crossed a machine that holds
   * no entry for the connection (asymmetric routing): the SYN-ACK is `invalid` there, the data
   * `new` (conntrack's loose pickup) and NAT applies to it (docs/semantics.md 4). Elsewhere the
   * data takes the reply's path in the reply's state.
   */
  readonly data?: Trace;
  /**
   * A refused or rejected first packet: the answer's trip back (the TCP reset or the ICMP error,
   * walked as the connection's reply). Not delivered: the client never hears it and times out.
   */
  readonly errorBack?: Trace;
  /**
   * The NAT engine whose guest this leg's host re-sent the packet for, when the engine does not pass
   * the ICMP error the packet drew on to its guest (measured with slirp4netns): its UDP to the
   * host's loopback (127.0.0.1 or ::1) (no error of any type reaches the guest, where the same error from the
   * host's own address or another machine does), and its TCP connections that an ICMP error ends
   * (a reject of an ICMP type, a router without a route: only a reset is passed on, as a reset; the
   * host's own missing route fails at once and is). The client waits, then times out.
   */
  readonly errorSwallowed?: string;
  /** The packet as it left the originating machine (before any NAT). */
  readonly packet: Packet;
  readonly from: string;
}

/** A whole attempt: legs in order; `ok` when the final service answered and every reply came back. */
export interface Attempt {
  readonly legs: readonly Leg[];
  readonly ok: boolean;
  /** The final disposition that decides the attempt. */
  readonly outcome: Outcome;
}

/** Which packet of a leg failed: the client's first, the server's answer, the client's next (TCP), the server's data (TCP). */
export type Direction = "forward" | "reply" | "ack" | "data";

export type Outcome =
  | { readonly kind: "ok"; readonly machine: string; readonly socket?: Socket }
  | { readonly kind: "failed"; readonly leg: number; readonly direction: Direction; readonly disposition: Disposition };
