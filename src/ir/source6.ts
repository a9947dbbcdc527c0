/**
 * How Linux picks an IPv6 source among several addresses (ipv6_dev_get_saddr), shared by both
 * engines (sim/elements.ts selectSource, smt/elements.ts selectSourceS). RFC 6724 rule 8 scores an
 * address by the prefix it shares with the destination, counted at most up to the address's own
 * prefix length, so two addresses of one /64 tie for any destination of that /64; the kernel keeps
 * an interface's IPv6 addresses newest first and the first best one wins, so a tie goes to the
 * address added last; a file lists an interface's addresses in the order they are added (the
 * emulator adds them so). Kernel-measured: docs/semantics.md 1.
 */
import { isLoopback, type IfAddr, type IP } from "../net/addr.js";
import type { Machine } from "./types.js";

/** The number of leading bits two addresses of one family share. */
export function commonPrefix(a: IP, b: IP): number {
  const x = a.n ^ b.n;
  const width = a.v === 4 ? 32 : 128;
  return x === 0n ? width : width - x.toString(2).length;
}

/** RFC 6724 rule 8 as Linux scores it: the prefix an address shares with the destination, at most the address's own prefix length. */
export const rule8 = (a: IfAddr, dst: IP): number => Math.min(commonPrefix(a.ip, dst), a.len);

/** An interface's addresses in the kernel's order: newest first. */
export const newestFirst = (addrs: readonly IfAddr[]): IfAddr[] => [...addrs].reverse();

/** Every interface's addresses that pass `ok` but loopback ones, in the order the kernel tries them (interfaces in order, each newest first). */
export const otherSources6 = (m: Machine, ok: (a: IfAddr) => boolean): IfAddr[] =>
  m.interfaces.flatMap((i) => newestFirst(i.addrs.filter((a) => ok(a) && !isLoopback(a.ip))));
