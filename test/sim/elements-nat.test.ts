/**
 * NAT rules (src/sim/elements.ts applyNat): a DNAT or SNAT applies only to packets of its target's
 * family, and SNAT takes the address it names, not the interface's as masquerade does. Written for
 * survivors of the mutation run over elements.ts (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import type { Attempt } from "../../src/sim/types.js";
import { build, dial, expectOk, pkt } from "./helpers.js";

const net = build(`segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] }, dmz: 192.168.2.0/24, wan: 203.0.113.0/24 }
machines:
  gw:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.1/24, "fd00::1/64"] }
      eth1: { segment: wan, addresses: [203.0.113.1/24, 203.0.113.2/24] }
      eth2: { segment: dmz, addresses: [192.168.2.1/24] }
    ip_forward: true
    services: [ { name: alt, proto: tcp, port: 8080, bind: "::" } ]
    nat:
      - { action: dnat, chain: prerouting, proto: tcp, dport: 8080, to: 192.168.2.10, toPort: 80 }
      - { action: snat, out: eth1, to: 203.0.113.2 }
  s:
    interfaces: { eth0: { segment: dmz, addresses: [192.168.2.10/24] } }
    routes: [ { to: default, via: 192.168.2.1 } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  w:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.50/24] } }
    services: [ { name: web, proto: tcp, port: 80 } ]
`);

/** The packet as the accepting socket received it. */
const received = (a: Attempt) => {
  const d = a.legs[0]!.forward.disposition;
  return d.kind === "delivered" ? pkt(d.packet) : d.kind;
};

describe("a NAT rule of one family", () => {
  it("an IPv4 DNAT (no address in its match) leaves IPv6 to the same port alone", () => {
    // iptables' nat table is per family; nft `dnat ip to` in an inet table applies to IPv4 only
    expectOk(dial(net, "c", "tcp", "192.168.1.1", 8080), "s", "web");
    expectOk(dial(net, "c", "tcp", "fd00::1", 8080), "gw", "alt");
  });
});

describe("SNAT", () => {
  it("takes the address it names: the WAN's second address, not the first as masquerade would", () => {
    // SNAT --to-source sets the given address; only MASQUERADE asks the outgoing interface for one
    const a = dial(net, "c", "tcp", "203.0.113.50", 80);
    expectOk(a, "w", "web");
    expect(received(a)).toMatchObject({ src: "203.0.113.2", dst: "203.0.113.50", dport: 80 });
  });
});
