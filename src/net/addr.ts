/**
 * IPv4 and IPv6 addresses and prefixes as bigints.
 *
 * Parsing and formatting go through ipaddr.js; everything after parsing is plain
 * bigint arithmetic so that the simulator and (later) the Z3 encoder share one
 * representation: an address is its family plus its value as an unsigned integer
 * of 32 or 128 bits.
 */
import ipaddr from "ipaddr.js";

export type Family = 4 | 6;

/** An IP address: family and value (32-bit or 128-bit unsigned). */
export interface IP {
  readonly v: Family;
  readonly n: bigint;
}

/** A prefix: network address (host bits zero) and length. */
export interface Prefix {
  readonly v: Family;
  readonly n: bigint;
  readonly len: number;
}

/** An interface address: the address itself and the length of its connected prefix. */
export interface IfAddr {
  readonly ip: IP;
  readonly len: number;
}

export const bits = (v: Family): number => (v === 4 ? 32 : 128);

function bytesToBigint(bytes: readonly number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function bigintToBytes(n: bigint, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = count - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

const parsed = new Map<string, IP | undefined>();

/** Parses a bare address ("10.0.2.15", "::1"). Returns undefined when it is not one. */
export function parseIP(text: string): IP | undefined {
  // big files repeat the same addresses thousands of times (rule sources, gateways)
  if (parsed.has(text)) return parsed.get(text);
  const ip = parseUncached(text);
  if (parsed.size > 100_000) parsed.clear();
  parsed.set(text, ip);
  return ip;
}

/** A dotted quad without leading zeros ("10.0.2.15"), as ipaddr.js's isValidFourPartDecimal takes it, read without it; else undefined. */
function quad(t: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= t.length; i++) {
    const c = i < t.length ? t.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 255 || ++dots > 4) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return undefined; // a leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else return undefined;
  }
  return dots === 4 ? n : undefined;
}

function parseUncached(text: string): IP | undefined {
  const t = text.trim();
  const q = quad(t);
  if (q !== undefined) return { v: 4, n: BigInt(q) };
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) {
    return { v: 4, n: bytesToBigint(ipaddr.IPv4.parse(t).toByteArray()) };
  }
  if (ipaddr.IPv6.isValid(t) && !t.includes("%")) {
    return { v: 6, n: bytesToBigint(ipaddr.IPv6.parse(t).toByteArray()) };
  }
  return undefined;
}

/**
 * Parses "addr/len". With `strict`, host bits must be zero (a prefix);
 * without, the address is kept (an interface address).
 */
export function parseCidr(text: string): { ip: IP; len: number } | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > bits(ip.v)) return undefined;
  return { ip, len };
}

const MASKS: Record<Family, readonly bigint[]> = {
  4: Array.from({ length: 33 }, (_, len) => ((1n << BigInt(len)) - 1n) << BigInt(32 - len)),
  6: Array.from({ length: 129 }, (_, len) => ((1n << BigInt(len)) - 1n) << BigInt(128 - len)),
};

/** The netmask of a prefix length (precomputed: this is the simulator's hottest function). */
export function mask(v: Family, len: number): bigint {
  const m = MASKS[v][len];
  if (m === undefined) throw new Error(`internal: prefix length ${len} for IPv${v}`);
  return m;
}

export function prefixOf(ip: IP, len: number): Prefix {
  return { v: ip.v, n: ip.n & mask(ip.v, len), len };
}

export function contains(p: Prefix, ip: IP): boolean {
  return p.v === ip.v && (ip.n & mask(p.v, p.len)) === p.n;
}

export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  return outer.v === inner.v && outer.len <= inner.len && (inner.n & mask(outer.v, outer.len)) === outer.n;
}

export function sameIP(a: IP, b: IP): boolean {
  return a.v === b.v && a.n === b.n;
}

export function formatIP(ip: IP): string {
  if (ip.v === 4) {
    const n = Number(ip.n);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  // a large network prints the same few IPv6 addresses (::1 of every machine) thousands of times
  let t = v6Text.get(ip.n);
  if (t === undefined) {
    t =
      ip.n >> 32n === 0xffffn
        ? `::ffff:${bigintToBytes(ip.n & 0xffffffffn, 4).join(".")}`
        : ipaddr.fromByteArray(bigintToBytes(ip.n, 16)).toString();
    if (v6Text.size > 10_000) v6Text.clear();
    v6Text.set(ip.n, t);
  }
  return t;
}
const v6Text = new Map<bigint, string>();

export function formatPrefix(p: Prefix): string {
  return `${formatIP(p)}/${p.len}`;
}

/** "1.2.3.4:80" or "[::1]:80". */
export function formatEndpoint(ip: IP, port: number): string {
  return ip.v === 4 ? `${formatIP(ip)}:${port}` : `[${formatIP(ip)}]:${port}`;
}

export const ip4 = (text: string): IP => {
  const r = parseIP(text);
  if (!r || r.v !== 4) throw new Error(`internal: not an IPv4 literal: ${text}`);
  return r;
};
export const ip6 = (text: string): IP => {
  const r = parseIP(text);
  if (!r || r.v !== 6) throw new Error(`internal: not an IPv6 literal: ${text}`);
  return r;
};

export const ANY4: IP = { v: 4, n: 0n };
export const ANY6: IP = { v: 6, n: 0n };
export const LOOPBACK4: IP = ip4("127.0.0.1");
export const LOOPBACK6: IP = ip6("::1");
export const LOOPBACK_NET4: Prefix = { v: 4, n: 0x7f000000n, len: 8 };
export const LOOPBACK_NET6: Prefix = { v: 6, n: 1n, len: 128 };
const MAPPED_PREFIX: Prefix = { v: 6, n: 0xffffn << 32n, len: 96 };

export function isAny(ip: IP): boolean {
  return ip.n === 0n;
}

/** 127.0.0.0/8 or ::1. */
export function isLoopback(ip: IP): boolean {
  return ip.v === 4 ? contains(LOOPBACK_NET4, ip) : ip.n === 1n;
}

export const LINK_LOCAL6: Prefix = { v: 6, n: 0xfe80n << 112n, len: 10 };

/** fe80::/10: valid on one link only; never forwarded, never a source for a global destination. */
export function isLinkLocal6(ip: IP): boolean {
  return contains(LINK_LOCAL6, ip);
}

/** ::ffff:a.b.c.d -> a.b.c.d; other addresses unchanged. */
export function unmap(ip: IP): IP {
  if (ip.v === 6 && contains(MAPPED_PREFIX, ip)) return { v: 4, n: ip.n & 0xffffffffn };
  return ip;
}

export function isMapped(ip: IP): boolean {
  return ip.v === 6 && contains(MAPPED_PREFIX, ip);
}

/** 224.0.0.0/4 or ff00::/8. */
export function isMulticast(ip: IP): boolean {
  return ip.v === 4 ? ip.n >> 28n === 0xen : ip.n >> 120n === 0xffn;
}

/** Multicast, broadcast, unspecified, 0/8: never a valid unicast destination on the wire. */
export function isMartianDestination(ip: IP): boolean {
  if (ip.v === 4) {
    return ip.n === 0xffffffffn || ip.n >> 28n === 0xen || ip.n >> 24n === 0n;
  }
  return ip.n === 0n || ip.n >> 120n === 0xffn;
}

export function compareIP(a: IP, b: IP): number {
  if (a.v !== b.v) return a.v - b.v;
  return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

/** The first address of `p` from host number `first` up that is not in `used` (it is added there), as CIDR text. */
export function nextFree(p: Prefix, first: number, used: IP[]): string | undefined {
  const size = 1n << BigInt((p.v === 4 ? 32 : 128) - p.len);
  for (let h = BigInt(first); h < size - 1n; h++) {
    const ip: IP = { v: p.v, n: p.n + h };
    if (!used.some((u) => u.v === ip.v && u.n === ip.n)) {
      used.push(ip);
      return `${formatIP(ip)}/${p.len}`;
    }
  }
  return undefined;
}

/** "default", "default6", an address (as /32 or /128) or a CIDR prefix. Host bits must be zero. */
const matchPrefixes = new Map<string, Prefix | undefined>();

/**
 * The prefix of a rule's address match, one value per text (a large file repeats a few thousand,
 * and the checks and the lowering both read them; a Prefix is never changed).
 */
export function parseMatchPrefix(text: string): Prefix | undefined {
  if (matchPrefixes.has(text)) return matchPrefixes.get(text);
  const p = matchPrefixUncached(text);
  if (matchPrefixes.size > 100_000) matchPrefixes.clear();
  matchPrefixes.set(text, p);
  return p;
}

function matchPrefixUncached(text: string): Prefix | undefined {
  if (text === "default" || text === "any") return { v: 4, n: 0n, len: 0 };
  if (text === "default6" || text === "any6") return { v: 6, n: 0n, len: 0 };
  const ip = parseIP(text);
  if (ip) return { v: ip.v, n: ip.n, len: ip.v === 4 ? 32 : 128 };
  const c = parseCidr(text);
  if (!c) return undefined;
  const p = prefixOf(c.ip, c.len);
  return p.n === c.ip.n ? p : undefined;
}
