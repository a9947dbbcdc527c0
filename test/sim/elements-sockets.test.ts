/**
 * Listening-socket lookup by bind address (src/sim/elements.ts bindAccepts): an IPv6 socket bound
 * to the IPv4-mapped wildcard. Written for survivors of the mutation run over elements.ts
 * (docs/mutation.md). The scoring among several accepting sockets is not tested here: the checker
 * refuses any two listeners on one port that could both accept a packet (RCH032), so it never
 * chooses (docs/mutation.md lists those mutants as equivalent).
 */
import { describe, expect, it } from "vitest";
import { build, dial, expectOk, failure } from "./helpers.js";

const net = build(`segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
machines:
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    services: [ { name: v4any, proto: tcp, port: 80, bind: "::ffff:0.0.0.0" } ]
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
`);

describe("an AF_INET6 socket bound to ::ffff:0.0.0.0", () => {
  it("accepts IPv4 to any local address, and no IPv6", () => {
    // bind() to a v4-mapped address makes the socket IPv4-only: its address is the IPv4 wildcard, never :: or fd00::10
    expectOk(dial(net, "c", "tcp", "192.168.1.10", 80), "s", "v4any");
    expect(failure(dial(net, "c", "tcp", "fd00::10", 80)).disposition).toMatchObject({ kind: "refused", machine: "s" });
  });
});
