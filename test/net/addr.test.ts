/**
 * src/net/addr.ts: addresses and prefixes as (family, bigint). Parsing and formatting round
 * trips, prefixes and containment, the special addresses, and the match-prefix syntax of rules
 * and routes (host bits refused). Properties run with fast-check, which prints the seed and the
 * shrunk counterexample when one fails.
 */
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import {
  contains,
  formatIP,
  formatPrefix,
  isAny,
  isLoopback,
  isMapped,
  parseCidr,
  parseIP,
  parseMatchPrefix,
  prefixOf,
  unmap,
  type IP,
} from "../../src/net/addr.js";

const v4 = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((n): IP => ({ v: 4, n }));
const v6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map((n): IP => ({ v: 6, n }));
/** IPv4-mapped IPv6 addresses (::ffff:a.b.c.d). */
const mapped = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map((n): IP => ({ v: 6, n: (0xffffn << 32n) | n }));
const anyIP = fc.oneof(v4, v6, mapped);
const withLen = anyIP.chain((ip) => fc.record({ ip: fc.constant(ip), len: fc.integer({ min: 0, max: ip.v === 4 ? 32 : 128 }) }));

describe("parseIP and formatIP", () => {
  it("parse IPv4, IPv6 and IPv4-mapped text to (family, value)", () => {
    expect(parseIP("10.0.2.15")).toEqual({ v: 4, n: 0x0a00020fn });
    expect(parseIP("0.0.0.0")).toEqual({ v: 4, n: 0n });
    expect(parseIP("255.255.255.255")).toEqual({ v: 4, n: 0xffffffffn });
    expect(parseIP("::1")).toEqual({ v: 6, n: 1n });
    expect(parseIP("::")).toEqual({ v: 6, n: 0n });
    expect(parseIP("fd00::10")).toEqual({ v: 6, n: (0xfd00n << 112n) | 0x10n });
    expect(parseIP("::ffff:10.0.2.15")).toEqual({ v: 6, n: (0xffffn << 32n) | 0x0a00020fn });
    expect(parseIP(" 10.0.0.1 ")).toEqual({ v: 4, n: 0x0a000001n });
  });

  it("refuse what is not one address", () => {
    for (const t of ["", "10.0.0", "10.0.0.256", "10.0.0.1/24", "1.2.3.4.5", "fe80::1%eth0", ":::", "g::1", "localhost", "0x0a.0.0.1"])
      expect(parseIP(t), t).toBeUndefined();
  });

  it("format IPv6 compressed (RFC 5952) and IPv4-mapped with a dotted tail", () => {
    expect(formatIP({ v: 4, n: 0xc0a80101n })).toBe("192.168.1.1");
    expect(formatIP({ v: 6, n: 1n })).toBe("::1");
    expect(formatIP({ v: 6, n: 0n })).toBe("::");
    expect(formatIP(parseIP("FD00:0:0:0:0:0:0:10")!)).toBe("fd00::10");
    expect(formatIP(parseIP("::ffff:0a00:020f")!)).toBe("::ffff:10.0.2.15");
  });

  it("round trip: parseIP(formatIP(ip)) is ip, for IPv4, IPv6 and IPv4-mapped", () => {
    fc.assert(
      fc.property(anyIP, (ip) => {
        expect(parseIP(formatIP(ip))).toEqual(ip);
      }),
    );
  });

  it("round trip: formatIP(parseIP(text)) is text for dotted-quad IPv4", () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        expect(formatIP(parseIP(text)!)).toBe(text);
      }),
    );
  });

  it("round trip: every IPv6 text fast-check writes parses, and its canonical form parses to the same value", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const ip = parseIP(text);
        expect(ip?.v).toBe(6);
        expect(parseIP(formatIP(ip!))).toEqual(ip);
      }),
    );
  });
});

describe("parseCidr, prefixOf and contains", () => {
  it("parseCidr keeps the address and the length (an interface address)", () => {
    expect(parseCidr("192.168.1.10/24")).toEqual({ ip: { v: 4, n: 0xc0a8010an }, len: 24 });
    expect(parseCidr("fd00::10/64")).toEqual({ ip: { v: 6, n: (0xfd00n << 112n) | 0x10n }, len: 64 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ ip: { v: 4, n: 0n }, len: 0 });
  });

  it("parseCidr refuses a missing or too long length and bad addresses", () => {
    for (const t of ["10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "::1/129", "10.0.0.1/-1", "10.0.0.1/2x", "10.0.0.1/1000", "nope/8"])
      expect(parseCidr(t), t).toBeUndefined();
  });

  it("prefixOf clears the host bits", () => {
    expect(prefixOf(parseIP("192.168.1.10")!, 24)).toEqual({ v: 4, n: 0xc0a80100n, len: 24 });
    expect(prefixOf(parseIP("fd00::10")!, 8)).toEqual({ v: 6, n: 0xfdn << 120n, len: 8 });
    expect(prefixOf(parseIP("10.1.2.3")!, 0)).toEqual({ v: 4, n: 0n, len: 0 });
  });

  it("contains: inside the prefix and the same family only", () => {
    const lan = parseMatchPrefix("192.168.1.0/24")!;
    expect(contains(lan, parseIP("192.168.1.255")!)).toBe(true);
    expect(contains(lan, parseIP("192.168.2.1")!)).toBe(false);
    expect(contains(parseMatchPrefix("default")!, parseIP("8.8.8.8")!)).toBe(true);
    expect(contains(parseMatchPrefix("default")!, parseIP("::1")!)).toBe(false);
    // an IPv4-mapped address is IPv6: not inside an IPv4 prefix until unmapped
    expect(contains(lan, parseIP("::ffff:192.168.1.1")!)).toBe(false);
    expect(contains(lan, unmap(parseIP("::ffff:192.168.1.1")!))).toBe(true);
  });

  it("property: a prefix contains the address it was made from, and parses back from its text", () => {
    fc.assert(
      fc.property(withLen, ({ ip, len }) => {
        const p = prefixOf(ip, len);
        expect(contains(p, ip)).toBe(true);
        expect(parseMatchPrefix(formatPrefix(p))).toEqual(p);
        expect(parseCidr(`${formatIP(ip)}/${len}`)).toEqual({ ip, len });
      }),
    );
  });
});

describe("special addresses", () => {
  it("isLoopback: 127.0.0.0/8 and ::1 only (a mapped 127.x is not, until unmapped)", () => {
    for (const t of ["127.0.0.1", "127.255.255.254", "::1"]) expect(isLoopback(parseIP(t)!), t).toBe(true);
    for (const t of ["128.0.0.1", "126.255.255.255", "::2", "::", "::ffff:127.0.0.1"]) expect(isLoopback(parseIP(t)!), t).toBe(false);
    expect(isLoopback(unmap(parseIP("::ffff:127.0.0.1")!))).toBe(true);
  });

  it("isAny: 0.0.0.0 and :: only", () => {
    expect(isAny(parseIP("0.0.0.0")!)).toBe(true);
    expect(isAny(parseIP("::")!)).toBe(true);
    for (const t of ["0.0.0.1", "::1", "::ffff:0.0.0.0"]) expect(isAny(parseIP(t)!), t).toBe(false);
  });

  it("isMapped and unmap: ::ffff:a.b.c.d <-> a.b.c.d; IPv4 and other IPv6 unchanged", () => {
    const m = parseIP("::ffff:10.0.2.15")!;
    expect(isMapped(m)).toBe(true);
    expect(unmap(m)).toEqual(parseIP("10.0.2.15"));
    for (const t of ["10.0.2.15", "::1", "::a00:20f", "fd00::ffff:a00:20f", "64:ff9b::10.0.2.15"]) {
      expect(isMapped(parseIP(t)!), t).toBe(false);
      expect(unmap(parseIP(t)!), t).toEqual(parseIP(t));
    }
  });

  it("property: unmap of a mapped address is IPv4 with the low 32 bits, and formats as the dotted tail", () => {
    fc.assert(
      fc.property(mapped, (ip) => {
        expect(isMapped(ip)).toBe(true);
        const u = unmap(ip);
        expect(u).toEqual({ v: 4, n: ip.n & 0xffffffffn });
        expect(formatIP(ip)).toBe(`::ffff:${formatIP(u)}`);
      }),
    );
  });
});

describe("parseMatchPrefix (rule and route matches)", () => {
  it("default, any, default6, any6", () => {
    expect(parseMatchPrefix("default")).toEqual({ v: 4, n: 0n, len: 0 });
    expect(parseMatchPrefix("any")).toEqual({ v: 4, n: 0n, len: 0 });
    expect(parseMatchPrefix("default6")).toEqual({ v: 6, n: 0n, len: 0 });
    expect(parseMatchPrefix("any6")).toEqual({ v: 6, n: 0n, len: 0 });
  });

  it("a bare address is a host prefix (/32 or /128)", () => {
    expect(parseMatchPrefix("10.0.0.1")).toEqual({ v: 4, n: 0x0a000001n, len: 32 });
    expect(parseMatchPrefix("::1")).toEqual({ v: 6, n: 1n, len: 128 });
  });

  it("a prefix with zero host bits", () => {
    expect(parseMatchPrefix("10.0.0.0/8")).toEqual({ v: 4, n: 0x0a000000n, len: 8 });
    expect(parseMatchPrefix("fd00::/8")).toEqual({ v: 6, n: 0xfdn << 120n, len: 8 });
    expect(parseMatchPrefix("10.0.0.1/32")).toEqual({ v: 4, n: 0x0a000001n, len: 32 });
  });

  it("host bits set are refused", () => {
    for (const t of ["10.0.0.1/8", "192.168.1.10/24", "fd00::1/64", "0.0.0.1/0", "::ffff:10.0.0.1/96"])
      expect(parseMatchPrefix(t), t).toBeUndefined();
  });

  it("garbage is refused", () => {
    for (const t of ["", "Default", "10.0.0.0/33", "10.0.0/8", "lan", "10.0.0.0/8/8"]) expect(parseMatchPrefix(t), t).toBeUndefined();
  });

  it("property: an address with host bits under its length is refused; with them cleared it is accepted", () => {
    fc.assert(
      fc.property(withLen, ({ ip, len }) => {
        const p = prefixOf(ip, len);
        expect(parseMatchPrefix(`${formatIP(ip)}/${len}`)).toEqual(p.n === ip.n ? p : undefined);
      }),
    );
  });
});

describe("IPv4 dotted quads read without ipaddr.js (issue 19)", () => {
  it("takes exactly what ipaddr.js's isValidFourPartDecimal takes, with the same value, and formats back", () => {
    const part = fc.oneof(
      fc.constantFrom("0", "00", "01", "010", "255", "256", "999", "1000", "", "a", "0x1", " 1"),
      fc.nat({ max: 300 }).map(String),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), fc.boolean(), (parts, dot) => {
        const text = parts.join(".") + (dot ? "." : "");
        const t = text.trim();
        const want = ipaddr.IPv4.isValidFourPartDecimal(t)
          ? ipaddr.IPv4.parse(t)
              .toByteArray()
              .reduce((n, b) => n * 256n + BigInt(b), 0n)
          : undefined;
        const got = parseIP(text);
        if (want === undefined) expect(got?.v === 4 ? got : undefined).toBeUndefined();
        else {
          expect(got).toEqual({ v: 4, n: want });
          expect(formatIP(got!)).toBe(t);
        }
      }),
      { numRuns: 3000, seed: 19, verbose: true },
    );
  });
});
