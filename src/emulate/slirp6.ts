/**
 * IPv6 of the NAT engines as slirp4netns can build it. `slirp4netns --enable-ipv6` has its guests'
 * network fixed at fd00::/64 (itself fd00::2, DNS fd00::3); QEMU's user network defaults to
 * fec0::/64 and takes any /64. Both are plain unicast /64s to the model (neither engine gives
 * site-local addresses a scope of their own), so the emulator builds the engines' IPv6 network
 * as fd00::/64 by renaming it throughout the network, host parts kept: fec0::5054:ff:fe12:3456
 * is built as fd00::5054:ff:fe12:3456, and a query naming an address there is renamed alike.
 * Refused when that would change a decision: engines with different IPv6 networks, another use
 * of fd00::/64, or a shorter prefix (other than ::/0) that holds one of the two but not the other.
 */
import { contains, formatPrefix, type IP, type Prefix } from "../net/addr.js";
import type { Network } from "../ir/types.js";

export const SLIRP4NETNS_IPV6: Prefix = { v: 6, n: 0xfd00n << 112n, len: 64 };

const HOST_BITS = (1n << 64n) - 1n;

/** The IPv6 /64 of the network's NAT engines, when they have one. */
function engineNetworks(net: Network): Prefix[] {
  const out: Prefix[] = [];
  for (const m of net.machines) {
    if (m.kind !== "nat-engine") continue;
    for (const i of m.interfaces)
      for (const a of i.segment !== null ? i.addrs : [])
        if (a.ip.v === 6 && !out.some((p) => p.n === (a.ip.n & ~HOST_BITS))) out.push({ v: 6, n: a.ip.n & ~HOST_BITS, len: 64 });
  }
  return out;
}

/** Every IPv6 address and prefix the network mentions, outside the engines' own. */
function* v6Values(x: unknown): Generator<{ n: bigint; len: number }> {
  if (Array.isArray(x)) for (const y of x) yield* v6Values(y);
  else if (x !== null && typeof x === "object") {
    const o = x as { v?: unknown; n?: unknown; len?: unknown };
    if (o.v === 6 && typeof o.n === "bigint") yield { n: o.n, len: typeof o.len === "number" ? o.len : 128 };
    else for (const y of Object.values(x)) yield* v6Values(y);
  }
}

/** The IPv6 network to build as fd00::/64 (undefined: nothing to rename), or why it cannot be. */
export function slirp6Renaming(net: Network): { readonly from?: Prefix; readonly problem?: string } {
  const nets = engineNetworks(net);
  if (nets.length === 0) return {};
  if (nets.length > 1)
    return {
      problem: `NAT engines with different IPv6 networks (${nets.map(formatPrefix).join(", ")}): slirp4netns gives every one fd00::/64`,
    };
  const from = nets[0]!;
  if (from.n === SLIRP4NETNS_IPV6.n) return { from };
  const inside = (p: Prefix, v: { n: bigint; len: number }) => v.len >= 64 && contains(p, { v: 6, n: v.n });
  for (const v of v6Values(net)) {
    if (inside(SLIRP4NETNS_IPV6, v))
      return { problem: `the network uses fd00::/64, where slirp4netns puts the NAT engine's IPv6 network (${formatPrefix(from)})` };
    if (v.len > 0 && v.len < 64) {
      const shorter: Prefix = { v: 6, n: v.n, len: v.len };
      if (contains(shorter, { v: 6, n: from.n }) !== contains(shorter, { v: 6, n: SLIRP4NETNS_IPV6.n }))
        return {
          problem: `${formatPrefix(shorter)} holds one of ${formatPrefix(from)} and fd00::/64, slirp4netns's IPv6 network, and not the other`,
        };
    }
  }
  return { from };
}

/** `ip` with `from`'s /64 renamed to fd00::/64. */
export const renameSlirp6IP = (ip: IP, from: Prefix | undefined): IP =>
  from && ip.v === 6 && (ip.n & ~HOST_BITS) === from.n ? { v: 6, n: SLIRP4NETNS_IPV6.n | (ip.n & HOST_BITS) } : ip;

/** A copy of `x` with every IPv6 address and /64-or-longer prefix inside `from` renamed to fd00::/64. */
export function renameSlirp6<T>(x: T, from: Prefix): T {
  if (Array.isArray(x)) return x.map((y) => renameSlirp6(y, from)) as T;
  // an origin (src/lower/context.ts FileOrigin: its span is a getter that a copy would lose) holds no address
  if (x === null || typeof x !== "object" || typeof (x as { toJSON?: unknown }).toJSON === "function") return x;
  const o = x as { v?: unknown; n?: unknown; len?: unknown };
  if (o.v === 6 && typeof o.n === "bigint") {
    const long = typeof o.len !== "number" || o.len >= 64;
    return (long ? { ...o, n: renameSlirp6IP({ v: 6, n: o.n }, from).n } : o) as T;
  }
  return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, renameSlirp6(y, from)])) as T;
}
