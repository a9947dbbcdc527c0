/**
 * What both engines share besides the IR itself: the shape of a dial and the modelling
 * constants that must be the same in the simulator and in the symbolic engine. They live here,
 * in the leaf both import, so that neither engine imports the other (the differential test
 * compares two engines written independently; a constant one engine took from the other would
 * be wrong in both at once, invisibly).
 */
import type { IP } from "../net/addr.js";
import type { Proto } from "./types.js";

/** One connection attempt as a client makes it: from a machine, to an address and port. */
export interface Dial {
  readonly from: string;
  readonly proto: Proto;
  readonly dst: IP;
  /** 0 for icmp */
  readonly dport: number;
  /** source port, or the echo identifier for icmp */
  readonly sport: number;
}

/** Legs of one exchange at most (a NAT engine or a port forward's relay starts a new leg). */
export const MAX_LEGS = 8;
/** Hops before a packet is declared looping. */
export const MAX_HOPS = 64;
/** The source port the host's kernel gives a NAT engine's outbound socket (not the guest's choice). */
export const HOST_EPHEMERAL = 41000;
/** The source port a client dials from unless a rule makes another one matter. */
export const DEFAULT_SPORT = 40000;
/** The ICMP echo identifier of a ping (carried as its source port). */
export const ECHO_ID = 1;
/** The source port a clashing translation gets instead (the kernel picks another free one; any other port fails the same way). */
export const NAT_REMAPPED_PORT = 0;
