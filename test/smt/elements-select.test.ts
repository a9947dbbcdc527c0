/**
 * Symbolic route lookup, source address selection and masquerade (src/smt/elements.ts) against
 * their concrete twins (src/sim/elements.ts) on small hand-made machines: the symbolic element is
 * built over the dialed-address variable, then evaluated at concrete destinations; exactly one
 * alternative must hold there and its value must be the simulator's. Alternatives are never dead
 * (a condition folded to false is left out).
 */
import { describe, expect, it } from "vitest";
import { ip4, ip6, prefixOf, type IP } from "../../src/net/addr.js";
import type { Iface, Machine, NatRule, Origin, Route } from "../../src/ir/types.js";
import { applyNat, lookupRoute, selectSource } from "../../src/sim/elements.js";
import { applyNatS, localRoute, lookupRouteS, selectSourceS, type SMatchContext, type SPacket } from "../../src/smt/elements.js";
import { ac, evaluate, FALSE, type AV, type Cases } from "../../src/smt/term.js";
import { openMachine } from "./open-machine.js";

const O = (what: string): Origin => ({ span: { file: "t.yaml", line: 1, col: 1 }, what });
const V4: AV = { k: "v", v: 4 };
const V6: AV = { k: "v", v: 6 };

const parse = (s: string): IP => (s.includes(":") ? ip6(s) : ip4(s));
const iface = (name: string, addrs: string[]): Iface => ({
  name,
  segment: name === "lo" ? null : "s",
  addrs: addrs.map((a) => {
    const [ip, len] = a.split("/");
    return { ip: parse(ip!), len: Number(len) };
  }),
  origin: O(name),
});
const route = (dst: string, dev: string, extra: Partial<Route> = {}): Route => {
  const [ip, len] = dst.split("/");
  return { dst: prefixOf(parse(ip!), Number(len)), dev, type: "static", origin: O(`route ${dst} ${dev}`), ...extra };
};
const machine = (interfaces: Iface[], routes: Route[]): Machine =>
  openMachine({ name: "m", kind: "host", origin: O("m"), interfaces, routes, sockets: [] });

/** The one alternative that holds for destination `dst` (none dead, exactly one true). */
function at<T>(cases: Cases<T>, dst: IP): T {
  for (const [c] of cases) expect(c).not.toEqual(FALSE);
  const hits = cases.filter(([c]) => evaluate(c, { dst, dport: 80, sport: 40000 }));
  expect(hits.length).toBe(1);
  return hits[0]![1];
}

const show = (ip: IP | undefined) => (ip ? `${ip.v}:${ip.n}` : "none");
const val = (a: AV | undefined, dst: IP) => (a === undefined ? undefined : a.k === "c" ? a.ip : dst);

/** A small deterministic generator (LCG). */
function rng(seed: number) {
  let s = seed >>> 0;
  return (k: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % k;
  };
}

describe("lookupRouteS", () => {
  it("sends a local destination to the local table", () => {
    const m = machine([iface("lo", ["127.0.0.1/8"]), iface("eth0", ["10.0.0.1/24"])], [route("0.0.0.0/0", "eth0")]);
    const r = at(lookupRouteS(m, V4), ip4("10.0.0.1"));
    expect(r).toEqual(localRoute(m));
    expect(r?.type).toBe("local");
    expect(r?.dev).toBe("lo");
    expect(at(lookupRouteS(m, V4), ip4("10.0.0.9"))?.dev).toBe("eth0");
  });

  it("skips local-table and device-less routes, and routes of the other family", () => {
    const m = machine(
      [iface("lo", ["127.0.0.1/8", "::1/128"]), iface("eth0", ["10.0.0.1/24", "2001:db8::1/64"])],
      [
        route("10.9.0.0/24", "lo", { type: "local" }),
        route("2001:db8:9::/48", "lo", { type: "local" }),
        route("10.8.0.0/24", ""),
        route("10.0.0.0/24", "eth0", { type: "connected" }),
        route("10.7.0.0/16", "eth0", { via: ip4("10.0.0.254") }),
        route("2001:db8::/64", "eth0", { type: "connected" }),
      ],
    );
    for (const d of ["10.9.0.5", "10.8.0.5", "10.0.0.7", "10.7.1.1", "8.8.8.8", "10.0.0.1", "127.0.0.9"]) {
      const dst = ip4(d);
      const want = lookupRoute(m, dst);
      const got = at(lookupRouteS(m, V4), dst);
      if (want?.type === "local") expect(got?.type, d).toBe("local");
      else expect(got, d).toBe(want);
    }
    for (const d of ["2001:db8:9::5", "2001:db8::7", "2001:db8::1", "2001:db8:1::1"]) {
      const dst = ip6(d);
      const want = lookupRoute(m, dst);
      const got = at(lookupRouteS(m, V6), dst);
      if (want?.type === "local") expect(got?.type, d).toBe("local");
      else expect(got, d).toBe(want);
    }
  });

  it("breaks ties on length by metric, then by the route listed first", () => {
    const eq = [route("10.0.0.0/8", "eth0"), route("10.0.0.0/8", "eth1"), route("10.0.0.0/8", "eth2"), route("10.0.0.0/8", "eth3")];
    const m = machine([iface("lo", ["127.0.0.1/8"]), iface("eth0", ["192.168.0.1/24"])], eq);
    expect(at(lookupRouteS(m, V4), ip4("10.1.1.1"))).toBe(eq[0]);
    expect(lookupRoute(m, ip4("10.1.1.1"))).toBe(eq[0]);
    const mixed = [
      route("10.0.0.0/8", "eth0", { metric: 200 }),
      route("10.0.0.0/8", "eth1", { metric: 100 }),
      route("10.0.0.0/8", "eth2", { metric: 100 }),
      route("10.1.0.0/16", "eth3", { metric: 900 }),
    ];
    const m2 = machine([iface("lo", ["127.0.0.1/8"]), iface("eth0", ["192.168.0.1/24"])], mixed);
    expect(at(lookupRouteS(m2, V4), ip4("10.2.1.1"))).toBe(mixed[1]);
    expect(at(lookupRouteS(m2, V4), ip4("10.1.1.1"))).toBe(mixed[3]);
  });
});

describe("selectSourceS", () => {
  it("takes the destination itself for a local IPv6 route, 127.0.0.1 for 127/8", () => {
    const m = machine([iface("lo", ["127.0.0.1/8", "::1/128"]), iface("eth0", ["10.0.0.1/24", "2001:db8::1/64"])], []);
    const local = localRoute(m);
    const cases6 = selectSourceS(m, local, V6);
    expect(cases6.length).toBe(1);
    expect(val(at(cases6, ip6("2001:db8::1")), ip6("2001:db8::1"))).toEqual(ip6("2001:db8::1"));
    expect(at(selectSourceS(m, local, V4), ip4("127.0.0.5"))).toEqual(ac(ip4("127.0.0.1")));
    expect(val(at(selectSourceS(m, local, V4), ip4("10.0.0.1")), ip4("10.0.0.1"))).toEqual(ip4("10.0.0.1"));
  });

  it("prefers the outgoing interface's IPv6 address to an equally good one of an earlier interface", () => {
    const m = machine(
      [iface("lo", ["::1/128"]), iface("eth0", ["2001:db8:1::1/64"]), iface("eth1", ["2001:db8:2::1/64"])],
      [route("::/0", "eth1")],
    );
    const dst = ip6("2001:db8:3::1");
    expect(selectSource(m, m.routes[0]!, dst)).toEqual(ip6("2001:db8:2::1"));
    expect(val(at(selectSourceS(m, m.routes[0]!, V6), dst), dst)).toEqual(ip6("2001:db8:2::1"));
  });

  it("falls back to an IPv6 address of another scope on the outgoing interface", () => {
    const m = machine([iface("lo", ["::1/128"]), iface("eth0", ["2001:db8::1/64"])], [route("fe80::/64", "eth0")]);
    const dst = ip6("fe80::5");
    expect(selectSource(m, m.routes[0]!, dst)).toEqual(ip6("2001:db8::1"));
    expect(val(at(selectSourceS(m, m.routes[0]!, V6), dst), dst)).toEqual(ip6("2001:db8::1"));
  });

  it("has no source through a device the machine lacks, like the simulator", () => {
    const m = machine([iface("lo", ["127.0.0.1/8", "::1/128"]), iface("eth0", ["2001:db8::1/64"])], []);
    const r4 = route("0.0.0.0/0", "eth9");
    const r6 = route("::/0", "eth9");
    for (const d of ["8.8.8.8", "10.0.0.1"])
      expect(show(val(at(selectSourceS(m, r4, V4), ip4(d)), ip4(d)))).toBe(show(selectSource(m, r4, ip4(d))));
    for (const d of ["2001:db8::9", "fe80::9", "2001:db9::1"])
      expect(show(val(at(selectSourceS(m, r6, V6), ip6(d)), ip6(d)))).toBe(show(selectSource(m, r6, ip6(d))));
  });

  it("agrees with the simulator on IPv6 rule 8 (longest shared prefix up to the address's length, a tie to the newest)", () => {
    const pool = [
      "2001:db8::1",
      "2001:db8::2",
      "2001:db8:0:1::1",
      "2001:db8:8000::1",
      "2001:db8:ff00::1",
      "2001:db9::1",
      "2001:db8::8000:0:0:1",
      "fe80::1",
      "fe80::2:1",
    ].map(ip6);
    const lens = [16, 30, 32, 33, 40, 48, 64, 100, 127, 128];
    const next = rng(20261207);
    let checked = 0;
    for (let run = 0; run < 400; run++) {
      const mk = (name: string, k: number) =>
        iface(
          name,
          Array.from({ length: k }, () => {
            const a = pool[next(pool.length)]!;
            return `${a.v === 6 ? fmt6(a) : ""}/${lens[next(lens.length)]}`;
          }),
        );
      const m = machine([iface("lo", ["::1/128"]), mk("eth0", next(4)), mk("eth1", 1 + next(4))], []);
      const r = route("::/0", ["eth0", "eth1", "eth9"][next(3)]!);
      const cases = selectSourceS(m, r, V6);
      for (let k = 0; k < 12; k++) {
        const base = pool[next(pool.length)]!;
        const flip = next(3) === 0 ? 0n : 1n << BigInt(next(128));
        const dst: IP = { v: 6, n: base.n ^ flip };
        expect(show(val(at(cases, dst), dst)), `${run} ${fmt6(dst)}`).toBe(show(selectSource(m, r, dst)));
        checked++;
      }
    }
    expect(checked).toBe(4800);
  });

  it("agrees with the simulator on IPv4 (on-link address, else the first, else any other)", () => {
    const m = machine(
      [iface("lo", ["127.0.0.1/8"]), iface("eth0", ["10.0.0.1/24", "10.0.1.1/24"]), iface("eth1", [])],
      [route("0.0.0.0/0", "eth0", { via: ip4("10.0.1.254") })],
    );
    const cases = [
      route("10.0.0.0/16", "eth0"),
      route("0.0.0.0/0", "eth0", { via: ip4("10.0.1.254") }),
      route("0.0.0.0/0", "eth1"),
      route("0.0.0.0/0", "eth9"),
    ];
    for (const r of cases)
      for (const d of ["10.0.0.9", "10.0.1.9", "10.0.2.9", "8.8.8.8"])
        expect(show(val(at(selectSourceS(m, r, V4), ip4(d)), ip4(d))), `${r.dev} ${d}`).toBe(show(selectSource(m, r, ip4(d))));
  });
});

function fmt6(ip: IP): string {
  const parts: string[] = [];
  for (let i = 7; i >= 0; i--) parts.push(((ip.n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return parts.join(":");
}

describe("applyNatS masquerade", () => {
  const masq: NatRule = { match: {}, action: { kind: "masquerade" }, origin: O("masq") };
  const ctxOut = (out: string | undefined): SMatchContext => ({ state: "new", dnat: FALSE, ...(out !== undefined ? { out } : {}) });
  const pkt = (src: string, dst: AV): SPacket => ({
    proto: "tcp",
    src: ac(parse(src)),
    dst,
    sport: { k: "c", n: 40000 },
    dport: { k: "c", n: 80 },
  });

  it("drops IPv4 when the machine has no IPv4 address to masquerade to", () => {
    const m = machine([iface("lo", ["::1/128"]), iface("eth0", ["2001:db8::1/64"])], [route("0.0.0.0/0", "eth0")]);
    for (const d of ["8.8.8.8", "10.0.0.1"]) {
      const sim = applyNat(
        [masq],
        m,
        { proto: "tcp", src: ip4("10.1.1.1"), dst: ip4(d), sport: 40000, dport: 80 },
        { state: "new", out: "eth0" },
      );
      expect(sim?.drop).toBe(true);
      const got = at(applyNatS([masq], m, pkt("10.1.1.1", V4), ctxOut("eth0")), ip4(d));
      expect(got?.drop).toBe(true);
      expect(got?.rule).toBe(masq);
      expect(got?.packet.src).toEqual(ac(ip4("10.1.1.1")));
    }
  });

  it("does not apply to IPv6 when the machine has no IPv6 address", () => {
    const m = machine([iface("lo", ["127.0.0.1/8"]), iface("eth0", ["10.0.0.1/24"])], [route("::/0", "eth0")]);
    const dst = ip6("2001:db8::9");
    expect(
      applyNat([masq], m, { proto: "tcp", src: ip6("2001:db8::5"), dst, sport: 40000, dport: 80 }, { state: "new", out: "eth0" }),
    ).toBe(undefined);
    expect(at(applyNatS([masq], m, pkt("2001:db8::5", V6), ctxOut("eth0")), dst)).toBe(undefined);
  });

  it("does not apply without an outgoing interface", () => {
    const m = machine([iface("lo", ["127.0.0.1/8"]), iface("eth0", ["10.0.0.1/24"])], [route("0.0.0.0/0", "eth0")]);
    const dst = ip4("8.8.8.8");
    expect(applyNat([masq], m, { proto: "tcp", src: ip4("10.0.0.5"), dst, sport: 40000, dport: 80 }, { state: "new" })).toBe(undefined);
    expect(at(applyNatS([masq], m, pkt("10.0.0.5", V4), ctxOut(undefined)), dst)).toBe(undefined);
  });

  it("takes the outgoing interface's address for a destination of the machine itself", () => {
    const m = machine(
      [iface("lo", ["127.0.0.1/8"]), iface("eth0", ["10.0.0.1/24"]), iface("eth1", ["192.168.1.1/24"])],
      [route("10.0.0.0/24", "eth0", { type: "connected" }), route("192.168.1.0/24", "eth1", { type: "connected" })],
    );
    for (const d of ["10.0.0.1", "192.168.1.1", "10.0.0.7"]) {
      const dst = ip4(d);
      const sim = applyNat([masq], m, { proto: "tcp", src: ip4("10.0.0.5"), dst, sport: 40000, dport: 80 }, { state: "new", out: "eth1" });
      const got = at(applyNatS([masq], m, pkt("10.0.0.5", V4), ctxOut("eth1")), dst);
      expect(sim?.packet.src).toEqual(ip4("192.168.1.1"));
      expect(got?.packet.src).toEqual(ac(ip4("192.168.1.1")));
    }
  });
});
