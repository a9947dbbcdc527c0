/**
 * IPv6 neighbour discovery as both engines model it (semantics.md 3): a solicitation to the
 * target's solicited-node group ff02::1:ffXX:XXXX (its last 24 bits), an advertisement back to
 * the solicitation's source; both are ICMPv6 that conntrack leaves untracked, and the filter
 * INPUT and OUTPUT chains see them.
 */
import { isLinkLocal6, type IP } from "../net/addr.js";
import type { Machine } from "./types.js";

export function solicitedNode(target: IP): IP {
  return { v: 6, n: (0xff02n << 112n) | (1n << 32n) | (0xffn << 24n) | (target.n & 0xffffffn) };
}

/**
 * The kernel's link-local address of an interface that declares none: the emulator keeps the
 * one Linux derives from the (random) MAC, so the model takes one fe80::/64 address for it.
 */
export const KERNEL_LINK_LOCAL: IP = { v: 6, n: (0xfe80n << 112n) | 0x02ff_fe00_0001n };

/** `dev`'s IPv6 addresses: a solicitation for a packet from one of them comes from it (Linux ndisc_solicit). */
export const ndOwnSources = (m: Machine, dev: string): IP[] =>
  (m.interfaces.find((i) => i.name === dev)?.addrs ?? []).map((a) => a.ip).filter((a) => a.v === 6);

/**
 * A solicitation's source for a packet from any other address: the interface's link-local
 * address (declared, else the kernel's); a NAT engine (libslirp) solicits from its own address.
 */
export function ndFallbackSource(m: Machine, dev: string): IP {
  const own = ndOwnSources(m, dev);
  return (m.kind === "nat-engine" ? own.find((a) => !isLinkLocal6(a)) : own.find((a) => isLinkLocal6(a))) ?? KERNEL_LINK_LOCAL;
}
