/**
 * Neighbour resolution (src/sim/elements.ts resolveNeighbour, arpTable, ndSource): IPv4 ARP is
 * answered for any address of the machine on any of its segments (weak host, arp_ignore=0), IPv6
 * neighbour discovery only for the addresses of the interface the solicitation arrived on; a
 * segment nobody answers on; the source a solicitation is sent from. Written for survivors of the
 * mutation run over elements.ts (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, dial, expectOk, failure } from "./helpers.js";

describe("who answers for an address of another interface", () => {
  const net = build(`segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
  back: { subnets: [10.0.0.0/24, "fd01::/64"] }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
    routes: [ { to: 10.0.0.0/24, dev: eth0 }, { to: "fd01::/64", dev: eth0 } ]
  s:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] }
      eth1: { segment: back, addresses: [10.0.0.10/24, "fd01::10/64"] }
    services: [ { name: w, proto: tcp, port: 80, bind: "::" } ]
`);
  it("s answers ARP on lan for its eth1 address, but not neighbour discovery", () => {
    // arp_ignore=0: Linux replies to ARP for any local address, whatever interface holds it
    expectOk(dial(net, "c", "tcp", "10.0.0.10", 80), "s", "w");
    // ndisc_recv_ns looks the target up on the receiving device only (no proxy ND configured)
    const d = failure(dial(net, "c", "tcp", "fd01::10", 80)).disposition;
    expect(d).toMatchObject({ kind: "no-neighbour", machine: "c", iface: "eth0", segment: "lan" });
    expect(d.kind === "no-neighbour" && formatIP(d.nextHop)).toBe("fd01::10");
  });
});

describe("a segment nobody answers on", () => {
  it("an interface on a segment with no other machine and no address of its own: no neighbour", () => {
    const net = build(`segments: { lan: { subnets: ["fd00::/64"] }, dark: { subnets: ["fd02::/64"] } }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::10/64"] }, eth1: { segment: dark } }
    routes: [ { to: "fd02::/64", dev: eth1 } ]
`);
    // the solicitations out of eth1 go unanswered: connect() fails with EHOSTUNREACH
    expect(failure(dial(net, "a", "tcp", "fd02::5", 80)).disposition).toMatchObject({
      kind: "no-neighbour",
      machine: "a",
      iface: "eth1",
      segment: "dark",
    });
  });
});

describe("the source of a neighbour solicitation", () => {
  it("the packet's own source when the interface has it, even beside a second address", () => {
    const net = build(`segments: { lan: { subnets: ["fd00::/64"] } }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::20/64", "fd00::21/64"] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::10/64"] } }
    services: [ { name: w, proto: tcp, port: 80, bind: "::" } ]
    firewall:
      input:
        policy: drop
        rules: [ { action: accept, proto: icmp, state: [untracked], src: "fd00::/64" }, { action: accept, proto: tcp, dport: 80 } ]
`);
    // ndisc_solicit sends from the packet's source (fd00::20) if the device holds it, not from its link-local address
    expectOk(dial(net, "c", "tcp", "fd00::10", 80), "s", "w");
  });
});
