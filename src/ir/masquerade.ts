/**
 * What IPv4 masquerade takes out of lo, shared by both engines (sim/elements.ts masqueradeSource,
 * smt/elements.ts applyNatS). The kernel (nf_nat_masquerade_ipv4) asks inet_select_addr for a
 * universe-scope address of the outgoing device; lo's 127/8 address is host scope, so it takes the
 * first universe-scope address of the first device that has one (lo comes first), whatever the
 * destination, and drops the packet when there is none (kernel-tested: docs/semantics.md 4).
 */
import { isLoopback, type IP } from "../net/addr.js";
import type { Machine } from "./types.js";

/** The machine's first IPv4 address that is not loopback, in device order (lo first, then the interfaces in order). */
export function firstAddress4(m: Machine): IP | undefined {
  for (const i of m.interfaces) for (const a of i.addrs) if (a.ip.v === 4 && !isLoopback(a.ip)) return a.ip;
  return undefined;
}
