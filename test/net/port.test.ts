/**
 * src/net/port.ts: ports (1-65535 where something binds or forwards, 0-65535 in rule matches),
 * port ranges "LO-HI" of rule matches, and "PORT/PROTO" of expectations. Properties run with
 * fast-check, which prints the seed and the shrunk counterexample when one fails.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePort, parsePortRange, parseServicePort } from "../../src/net/port.js";

const port = fc.integer({ min: 0, max: 65535 });

describe("parsePort", () => {
  it("1-65535 by default, as a number or as digits with spaces around", () => {
    expect(parsePort(22)).toBe(22);
    expect(parsePort(65535)).toBe(65535);
    expect(parsePort("80")).toBe(80);
    expect(parsePort(" 443 ")).toBe(443);
  });

  it("0 only with min 0 (rule matches)", () => {
    expect(parsePort(0)).toBeUndefined();
    expect(parsePort("0")).toBeUndefined();
    expect(parsePort(0, 0)).toBe(0);
    expect(parsePort("0", 0)).toBe(0);
  });

  it("min raises the floor", () => {
    expect(parsePort(1023, 1024)).toBeUndefined();
    expect(parsePort(1024, 1024)).toBe(1024);
  });

  it("refuses out of range, fractions, signs and text", () => {
    for (const v of [65536, -1, 1.5, NaN, Infinity, "65536", "-1", "+1", "1.5", "", " ", "22a", "0x16", "1e2", "2 2"])
      expect(parsePort(v), String(v)).toBeUndefined();
  });

  it("property: every port in range parses from its number and its digits", () => {
    fc.assert(
      fc.property(port, (p) => {
        expect(parsePort(p, 0)).toBe(p);
        expect(parsePort(String(p), 0)).toBe(p);
        expect(parsePort(p)).toBe(p === 0 ? undefined : p);
      }),
    );
  });
});

describe("parsePortRange", () => {
  it("one port is the range of itself (0 allowed)", () => {
    expect(parsePortRange(22)).toEqual({ lo: 22, hi: 22 });
    expect(parsePortRange("22")).toEqual({ lo: 22, hi: 22 });
    expect(parsePortRange(0)).toEqual({ lo: 0, hi: 0 });
  });

  it('"LO-HI" with LO <= HI', () => {
    expect(parsePortRange("1000-2000")).toEqual({ lo: 1000, hi: 2000 });
    expect(parsePortRange("0-1023")).toEqual({ lo: 0, hi: 1023 });
    expect(parsePortRange("53-53")).toEqual({ lo: 53, hi: 53 });
    expect(parsePortRange("0-65535")).toEqual({ lo: 0, hi: 65535 });
  });

  it("bad ranges are refused", () => {
    for (const v of ["5-3", "1-2-3", "-5", "5-", "-", "1-65536", "a-b", "1:2", "1..2", 65536, -1, ""])
      expect(parsePortRange(v), String(v)).toBeUndefined();
  });

  it("property: LO-HI parses to { lo, hi } exactly when LO <= HI", () => {
    fc.assert(
      fc.property(port, port, (a, b) => {
        expect(parsePortRange(`${a}-${b}`)).toEqual(a <= b ? { lo: a, hi: b } : undefined);
      }),
    );
  });
});

describe("parseServicePort", () => {
  it("PORT/PROTO, tcp or udp, any case, spaces allowed", () => {
    expect(parseServicePort("22/tcp")).toEqual({ port: 22, proto: "tcp" });
    expect(parseServicePort(" 53 / UDP ")).toEqual({ port: 53, proto: "udp" });
    expect(parseServicePort("65535/udp")).toEqual({ port: 65535, proto: "udp" });
  });

  it("refuses port 0, out of range, other protocols and a missing part", () => {
    for (const t of ["0/tcp", "65536/tcp", "123456/tcp", "22", "22/", "/tcp", "22/icmp", "22/sctp", "tcp/22", "22-23/tcp", ""])
      expect(parseServicePort(t), t).toBeUndefined();
  });

  it("property: every port 1-65535 with tcp or udp round trips", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.constantFrom("tcp" as const, "udp" as const), (p, proto) => {
        expect(parseServicePort(`${p}/${proto}`)).toEqual({ port: p, proto });
      }),
    );
  });
});
