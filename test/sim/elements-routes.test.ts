/**
 * Route lookup and source-address choice (src/sim/elements.ts lookupRoute, selectSource), asserted
 * on what a dial shows: the local route a trace (`reach query --json`) prints for the receiver, the
 * route a sender takes, and the source address of the connection. Written for survivors of the
 * mutation run over elements.ts (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import type { Attempt, Step } from "../../src/sim/types.js";
import { build, dial, lineOf, stepsOf } from "./helpers.js";

/** The route steps of `machine` in a leg's forward trace. */
const routesOf = (a: Attempt, machine: string) =>
  stepsOf(a, 0).filter((s): s is Step & { kind: "route" } => s.kind === "route" && s.machine === machine);
const prefix = (p: { v: 4 | 6; n: bigint; len: number }) => `${formatIP({ v: p.v, n: p.n })}/${p.len}`;
/** The source address the client's connection was given. */
const source = (a: Attempt) => formatIP(a.legs[0]!.packet.src);

describe("the local table: a host route per address, cited at the interface that holds it", () => {
  const YAML = `segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] }
    services: [ { name: w, proto: tcp, port: 80, bind: "::" } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24, "fd00::11/64"] } }
`;
  const net = build(YAML);
  it.each([
    ["192.168.1.10", "192.168.1.10/32"],
    ["fd00::10", "fd00::10/128"],
  ])("to %s: local route %s on lo, from eth0's line", (dst, want) => {
    // Linux adds a local-table host route (/32, /128 for IPv6) on lo for each address it is given
    const [r] = routesOf(dial(net, "b", "tcp", dst, 80), "a");
    expect(r).toMatchObject({ local: true, route: { type: "local", dev: "lo" } });
    expect(prefix(r!.route.dst)).toBe(want);
    expect(r!.route.origin.span.line).toBe(lineOf(YAML, "eth0: { segment: lan, addresses: [192.168.1.10/24"));
  });
});

describe("route choice: the longest prefix first, then the lowest metric, then the first route", () => {
  it("a /16 with metric 100 beats a default route with metric 10", () => {
    const net = build(`segments: { lan: 192.168.1.0/24 }
machines:
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
    routes: [ { to: 10.1.0.0/16, via: 192.168.1.12, metric: 100 }, { to: default, via: 192.168.1.13, metric: 10 } ]
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.12/24] } }
  d:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.13/24] } }
`);
    // fib lookup is longest-prefix match; the metric only orders routes to the same prefix
    const a = dial(net, "b", "tcp", "10.1.2.3", 22);
    expect(routesOf(a, "b").map((s) => s.via && formatIP(s.via))).toEqual(["192.168.1.12"]);
    expect(stepsOf(a, 0).find((s) => s.kind === "transmit")).toMatchObject({ machine: "b", to: "c" });
  });

  it("two QEMU user-net adapters both on 10.0.2.0/24: the first adapter's route, so its engine answers", () => {
    const net = build(`segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm: { on: host, adapters: [ { mode: nat, engine: qemu }, { mode: nat, engine: qemu } ] }
`);
    // the kernel appends the second, equal connected route (same prefix, metric 0) after the first: lookups take the first
    const a = dial(net, "guest", "udp", "10.0.2.3", 53);
    expect(a.outcome).toMatchObject({ kind: "ok", machine: "guest-nat" });
    expect(routesOf(a, "guest")[0]?.route.dev).toBe("eth0");
  });
});

describe("source address selection", () => {
  const net = build(`segments:
  lan: { subnets: [192.168.1.0/24, 10.0.0.0/24, 172.17.0.0/24, "fd00:4::/64", "fd00:6::/64", "fd00:7::/64"] }
  other: { subnets: ["fd01::/64"] }
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, 10.0.0.10/24, 172.17.0.10/24, "fd00:6::10/64", "fd00:4::10/64"] }
    routes:
      - { to: 172.16.0.0/16, via: 10.0.0.1 }
      - { to: 172.18.0.0/16, dev: eth0 }
      - { to: "fd00:7::/64", dev: eth0 }
  z:
    interfaces:
      eth0: { segment: lan, addresses: ["fd00:4::20/64", "fd00:6::20/64"] }
    routes: [ { to: "fd00:7::/64", dev: eth0 } ]
  r:
    interfaces: { eth0: { segment: lan, addresses: [10.0.0.1/24] } }
`);
  it("through a gateway: the address on the gateway's subnet, not the primary", () => {
    // inet_select_addr prefers an address whose subnet holds the next hop (inet_ifa_match)
    expect(source(dial(net, "a", "tcp", "172.16.0.5", 22))).toBe("10.0.0.10");
    expect(source(dial(net, "a", "tcp", "10.0.0.5", 22))).toBe("10.0.0.10");
  });
  it("IPv4 on-link route matching no address: the primary (first) address, not the longest match", () => {
    // inet_select_addr without a matching subnet falls back to the first primary address; IPv4 has no RFC 6724 rule 8
    expect(source(dial(net, "a", "tcp", "172.18.0.5", 22))).toBe("192.168.1.10");
  });
  it("IPv6: the address sharing the longest prefix with the destination (RFC 6724 rule 8), wherever it is listed", () => {
    // fd00:7:: shares 31 bits with fd00:6::, 30 with fd00:4::; everything else (scope, label, interface) ties
    expect(source(dial(net, "a", "tcp", "fd00:7::5", 22))).toBe("fd00:6::10");
    expect(source(dial(net, "z", "tcp", "fd00:7::5", 22))).toBe("fd00:6::20");
  });
});

describe("IPv6 source when the outgoing interface has only a link-local address", () => {
  const lab = (otherIface: string) =>
    build(`segments: { lan: { subnets: ["fe80::/64", "fd00::/64"] }, other: { subnets: ["fd01::/64"] } }
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: ["fe80::10/64"] }
${otherIface}
    routes: [ { to: default6, via: "fe80::1", dev: eth0 } ]
  r:
    interfaces: { eth0: { segment: lan, addresses: ["fe80::1/64", "fd00::1/64"] } }
`);
  it("a global address of another interface (RFC 6724 rule 2 before rule 5)", () => {
    // Linux considers every interface's addresses for a global destination: matching scope beats the outgoing interface
    const net = lab(`      eth1: { segment: other, addresses: ["fd01::10/64"] }`);
    expect(source(dial(net, "a", "tcp", "2001:db8::5", 22))).toBe("fd01::10");
  });
  it("with no global address anywhere, the link-local one (::1 is never a source for it)", () => {
    // rule 2 only prefers a scope: a link-local source is still a candidate, loopback is not
    const net = lab("");
    expect(source(dial(net, "a", "tcp", "2001:db8::5", 22))).toBe("fe80::10");
  });
});
