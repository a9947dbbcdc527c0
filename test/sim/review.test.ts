/**
 * Regressions from the review of the simulator against semantics.md (2026-11-23):
 * each was a wrong verdict before its fix. Topologies are the reviewer's minimal ones.
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, query } from "./helpers.js";

const answer = (yaml: string, text: string) => query(build(yaml), text);

describe("simulator review (2026-11-23): wrong verdicts fixed", () => {
  it("a self-query finds a service bound to 127.0.0.53 (systemd-resolved)", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: resolved, proto: udp, port: 53, bind: 127.0.0.53 } ]
`,
      "host -> host:53/udp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(a.attempt && formatIP(a.attempt.legs[0]!.packet.dst)).toBe("127.0.0.53");
  });
  it("a DNAT virtual IP that no interface holds is a dial target", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  dc: 10.0.0.0/24
machines:
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    firewall:
      output:
        rules: [ { action: drop, dst: 10.0.0.0/24 } ]
  lb:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      dc0: { segment: dc, addresses: [10.0.0.1/24] }
    ip_forward: true
    nat:
      - { action: dnat, chain: prerouting, proto: tcp, dst: 198.51.100.7/32, dport: 80, to: 10.0.0.5, toPort: 8080 }
  server:
    interfaces: { eth0: { segment: dc, addresses: [10.0.0.5/24] } }
    routes: [ { to: default, via: 10.0.0.1 } ]
    services: [ { name: web, proto: tcp, port: 8080 } ]
`,
      "client -> server:8080/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(a.attempt && formatIP(a.attempt.legs[0]!.packet.dst)).toBe("198.51.100.7");
  });
  it("a ping reaches a machine through a protocol-less DNAT", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  internet: 203.0.113.0/24
machines:
  gw:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.2/24] }
    ip_forward: true
    nat:
      - { action: dnat, chain: prerouting, in: wan0, dst: 203.0.113.2/32, to: 192.168.1.50 }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.50/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  remote:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.99/24] } }
`,
      "remote -> server/icmp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(a.attempt && formatIP(a.attempt.legs[0]!.packet.dst)).toBe("203.0.113.2");
  });
  it("rp_filter is IPv4 only", () => {
    const a = answer(
      `segments:
  s1: { subnets: ["2001:db8:1::/64", "2001:db8:5::/64"] }
  s2: 2001:db8:2::/64
machines:
  m:
    interfaces:
      eth0: { segment: s1, addresses: [2001:db8:1::10/64] }
      eth1: { segment: s2, addresses: [2001:db8:2::10/64] }
    routes: [ { to: "::/0", via: "2001:db8:2::1" } ]
    rp_filter: 1
    services: [ { name: web, proto: tcp, port: 80, bind: "::" } ]
  r:
    interfaces:
      a: { segment: s1, addresses: [2001:db8:5::1/64] }
      b: { segment: s2, addresses: [2001:db8:2::1/64] }
    ip_forward: true
  c:
    interfaces: { eth0: { segment: s1, addresses: [2001:db8:5::20/64] } }
    routes: [ { to: "2001:db8:1::/64", dev: eth0 } ]
`,
      "c -> [2001:db8:1::10]:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });
  it("a global IPv6 destination gets a global source, also via a fe80:: gateway", () => {
    const a = answer(
      `segments:
  lan: { subnets: ["2001:db8:1::/64", "fe80::/64"] }
  dc: 2001:db8:2::/64
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: ["fe80::10/64", "2001:db8:1::10/64"] } }
    routes: [ { to: "::/0", via: "fe80::1" } ]
  r:
    interfaces:
      lan0: { segment: lan, addresses: ["fe80::1/64", "2001:db8:1::1/64"] }
      dc0: { segment: dc, addresses: ["2001:db8:2::1/64"] }
    ip_forward: true
  server:
    interfaces: { eth0: { segment: dc, addresses: ["2001:db8:2::50/64"] } }
    routes: [ { to: "::/0", via: "2001:db8:2::1" } ]
    services: [ { name: web, proto: tcp, port: 80, bind: "::" } ]
    firewall:
      input:
        policy: drop
        rules: [ { action: accept, state: [untracked] }, { action: accept, src: "2001:db8:1::/64" } ]
`,
      "host -> [2001:db8:2::50]:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });
  it("link-local sources are not forwarded; the global source has no route back", () => {
    const a = answer(
      `segments:
  lan: fe80::/64
  other: 2001:db8:9::/64
  dc: 2001:db8:2::/64
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: ["fe80::10/64"] }
      eth1: { segment: other, addresses: ["2001:db8:9::10/64"] }
    routes: [ { to: "::/0", via: "fe80::1", dev: eth0 } ]
  r:
    interfaces:
      lan0: { segment: lan, addresses: ["fe80::1/64"] }
      dc0: { segment: dc, addresses: ["2001:db8:2::1/64"] }
    ip_forward: true
  server:
    interfaces: { eth0: { segment: dc, addresses: ["2001:db8:2::50/64"] } }
    routes: [ { to: "::/0", via: "2001:db8:2::1" } ]
    services: [ { name: web, proto: tcp, port: 80, bind: "::" } ]
`,
      "host -> server:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });
  it("dialing 0.0.0.0 means this host", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: dev, proto: tcp, port: 8000, bind: 0.0.0.0 } ]
  router:
    interfaces: { lan0: { segment: lan, addresses: [192.168.1.1/24] } }
`,
      "host -> 0.0.0.0:8000/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(a.attempt && formatIP(a.attempt.legs[0]!.packet.dst)).toBe("127.0.0.1");
  });
  it("dialing ::ffff:a.b.c.d sends IPv4 to a.b.c.d", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: dev, proto: tcp, port: 8000, bind: 0.0.0.0 } ]
  router:
    interfaces: { lan0: { segment: lan, addresses: [192.168.1.1/24] } }
`,
      "host -> [::ffff:192.168.1.10]:8000/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(a.attempt && formatIP(a.attempt.legs[0]!.packet.dst)).toBe("192.168.1.10");
  });

  it("a DNAT port range whose ends are filtered is still tried in the middle", () => {
    const a = answer(
      `segments: { lan: 192.168.1.0/24, dc: 10.0.0.0/24 }
machines:
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    firewall: { output: { rules: [ { action: drop, proto: tcp, dport: 8000 }, { action: drop, proto: tcp, dport: 8100 } ] } }
  gw:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      dc0: { segment: dc, addresses: [10.0.0.1/24] }
    ip_forward: true
    nat: [ { action: dnat, chain: prerouting, proto: tcp, dst: 192.168.1.1, dport: "8000-8100", to: 10.0.0.5, toPort: 80 } ]
  server:
    interfaces: { eth0: { segment: dc, addresses: [10.0.0.5/24] } }
    routes: [ { to: default, via: 10.0.0.1 } ]
    services: [ { name: web, port: 80 } ]
`,
      "client -> server:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(a.attempt!.legs[0]!.packet.dport).toBe(8001);
  });

  it("a NAT Network is per host: VMs of two hosts with one network name are not neighbours", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
natnetworks:
  labnet: { network: 10.0.2.0/24 }
machines:
  hostA:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  hostB:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
  vm1:
    vm: { on: hostA, adapters: [ { mode: natnetwork, network: labnet, addresses: [10.0.2.5/24] } ] }
  vm2:
    vm: { on: hostB, adapters: [ { mode: natnetwork, network: labnet, addresses: [10.0.2.6/24] } ] }
    services: [ { port: 22 } ]
`,
      "vm1 -> vm2:22/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("a port forward on 127.0.0.2 is a dial target of its host", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { proto: tcp, hostIp: 127.0.0.2, hostPort: 2222, guestPort: 22 } ]
    services: [ { port: 22 } ]
`,
      "host -> guest:22/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("the router's default firewall admits only DNATed connections from the WAN", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  internet: 203.0.113.0/24
machines:
  router:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.2/24] }
    router:
      wan: wan0
      hairpin: true
      forwards: [ { proto: tcp, port: 8443, to: 192.168.1.50, toPort: 443 } ]
    services: [ { name: webui, port: 80 } ]
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.50/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { port: 443 }, { port: 22 } ]
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  remote:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.99/24] } }
    routes: [ { to: 192.168.1.0/24, via: 203.0.113.2 } ]
`,
      "remote -> 192.168.1.50:443/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("the same router: through the forward it works", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  internet: 203.0.113.0/24
machines:
  router:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.2/24] }
    router:
      wan: wan0
      hairpin: true
      forwards: [ { proto: tcp, port: 8443, to: 192.168.1.50, toPort: 443 } ]
    services: [ { name: webui, port: 80 } ]
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.50/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { port: 443 }, { port: 22 } ]
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  remote:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.99/24] } }
    routes: [ { to: 192.168.1.0/24, via: 203.0.113.2 } ]
`,
      "remote -> server:443/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("a router forward to the router itself passes its default INPUT chain", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  internet: 203.0.113.0/24
machines:
  router:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.2/24] }
    router:
      wan: wan0
      forwards: [ { proto: tcp, port: 8080, to: 192.168.1.1, toPort: 80 } ]
    services: [ { name: webui, port: 80 } ]
  remote:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.99/24] } }
`,
      "remote -> 203.0.113.2:8080/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("a firewall admitting only state new from the client drops the handshake ACK", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  wan: 203.0.113.0/24
machines:
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  fw:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.1/24] }
      eth1: { segment: wan, addresses: [203.0.113.1/24] }
    ip_forward: true
    firewall:
      forward:
        policy: drop
        rules:
          - { action: accept, in: eth0, state: [new] }
          - { action: accept, in: eth1, state: [established] }
  server:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.10/24] } }
    routes: [ { to: default, via: 203.0.113.1 } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
`,
      "client -> server:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("asymmetric routing: the request-side firewall never sees the SYN-ACK and drops the ACK as invalid", () => {
    const a = answer(
      `segments:
  lan: 10.0.1.0/24
  srv: 10.0.2.0/24
machines:
  client:
    interfaces: { eth0: { segment: lan, addresses: [10.0.1.20/24] } }
    routes: [ { to: default, via: 10.0.1.1 } ]
  f1:
    interfaces:
      eth0: { segment: lan, addresses: [10.0.1.1/24] }
      eth1: { segment: srv, addresses: [10.0.2.1/24] }
    ip_forward: true
    firewall:
      forward:
        rules:
          - { action: drop, state: [invalid] }
  f2:
    interfaces:
      eth0: { segment: lan, addresses: [10.0.1.2/24] }
      eth1: { segment: srv, addresses: [10.0.2.2/24] }
    ip_forward: true
  server:
    interfaces: { eth0: { segment: srv, addresses: [10.0.2.10/24] } }
    routes: [ { to: default, via: 10.0.2.2 } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
`,
      "client -> server:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("nat OUTPUT matches the route's output interface", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    nat:
      - { action: dnat, chain: output, proto: tcp, dst: 192.168.1.99, dport: 80, out: eth0, to: 192.168.1.30, toPort: 8080 }
  proxy:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    services: [ { name: p, proto: tcp, port: 8080 } ]
`,
      "host -> 192.168.1.99:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("IPv6 masquerade picks a global source for a global destination", () => {
    const a = answer(
      `segments:
  lan: fd00:1::/64
  wan: { subnets: ["2001:db8:1::/64", "fe80::/64"] }
  inet: 2001:db8:9::/64
machines:
  client:
    interfaces: { eth0: { segment: lan, addresses: ["fd00:1::20/64"] } }
    routes: [ { to: "::/0", via: "fd00:1::1" } ]
  gw:
    interfaces:
      eth0: { segment: lan, addresses: ["fd00:1::1/64"] }
      eth1: { segment: wan, addresses: ["fe80::2/64", "2001:db8:1::2/64"] }
    ip_forward: true
    routes: [ { to: "::/0", via: "fe80::1", dev: eth1 } ]
    nat:
      - { action: masquerade, out: eth1 }
  isp:
    interfaces:
      eth0: { segment: wan, addresses: ["fe80::1/64", "2001:db8:1::1/64"] }
      eth1: { segment: inet, addresses: ["2001:db8:9::1/64"] }
    ip_forward: true
  server:
    interfaces: { eth0: { segment: inet, addresses: ["2001:db8:9::10/64"] } }
    routes: [ { to: "::/0", via: "2001:db8:9::1" } ]
    services: [ { name: web, proto: tcp, port: 80, bind: "::" } ]
`,
      "client -> server:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("masquerade out of lo picks a universe-scope address, never 127.0.0.1", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    nat:
      - { action: masquerade, comment: "-t nat -A POSTROUTING -j MASQUERADE" }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, src: 192.168.1.0/24 }
    services: [ { name: web, proto: tcp, port: 80 } ]
`,
      "host -> 192.168.1.10:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("SO_BINDTODEVICE eth0 accepts local connections to eth0's address (kernel-tested)", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services:
      - { name: devlo, port: 9000, device: lo }
      - { name: deveth, port: 9002, device: eth0 }
`,
      "host -> host:9002/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("SO_BINDTODEVICE lo does not accept local connections to eth0's address (kernel-tested)", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services:
      - { name: devlo, port: 9000, device: lo }
      - { name: deveth, port: 9002, device: eth0 }
`,
      "host -> 192.168.1.10:9000/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("a host-only guest with a DHCP address may route via the host (its lease is a connected subnet)", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    ip_forward: true
    nat:
      - { action: masquerade, out: eth0, src: 192.168.56.0/24 }
  guest:
    vm: { on: host, adapters: [ { mode: hostonly } ] }
    routes: [ { to: default, via: 192.168.56.1 } ]
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: web, port: 80 } ]
`,
      "guest -> lan-pc:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("host-only DHCP skips an address another VM has set statically", () => {
    const a = answer(
      `machines:
  host:
    interfaces: {}
  a:
    vm: { on: host, adapters: [ { mode: hostonly, addresses: [192.168.56.101/24] } ] }
  b:
    vm: { on: host, adapters: [ { mode: hostonly } ] }
    services: [ { name: s, port: 22 } ]
`,
      "host -> b:22/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
    expect(formatIP(a.attempt!.legs[0]!.packet.dst)).toBe("192.168.56.102");
  });

  it("a UDP server on 0.0.0.0 answers from the route's source: a client that dialed the secondary address drops it (kernel-tested)", () => {
    const a = answer(
      `segments:
  a: 10.0.0.0/24
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.2/24] } }
  s:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.1/24, 10.0.0.100/24] } }
    services: [ { proto: udp, port: 5353, bind: 0.0.0.0 } ]
`,
      "c -> 10.0.0.100:5353/udp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("IPv6 source selection prefers the longest matching prefix behind a link-local gateway (kernel-tested)", () => {
    const a = answer(
      `segments:
  lan: { subnets: ["2001:db8:1::/64", "fd00:1::/64", "fe80::/64"] }
  srv: { subnets: ["fd00:99::/64"] }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: ["2001:db8:1::10/64", "fd00:1::10/64", "fe80::10/64"] } }
    routes: [ { to: "::/0", via: "fe80::1", dev: eth0 } ]
  r:
    ip_forward: true
    interfaces:
      e0: { segment: lan, addresses: ["fd00:1::1/64", "2001:db8:1::1/64", "fe80::1/64"] }
      e1: { segment: srv, addresses: ["fd00:99::1/64"] }
  s:
    interfaces: { eth0: { segment: srv, addresses: ["fd00:99::5/64"] } }
    routes: [ { to: "::/0", via: "fd00:99::1" } ]
    services: [ { proto: tcp, port: 22, bind: "::" } ]
    firewall:
      input: { policy: drop, rules: [ { action: accept, state: [untracked] }, { action: accept, src: "fd00::/8" } ] }
`,
      "c -> s:22/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("a socket bound to ::ffff:0.0.0.0 is an IPv4 wildcard (kernel-tested)", () => {
    const a = answer(
      `segments:
  a: 10.0.0.0/24
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.2/24, "fd00::2/64"] } }
  s:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.1/24, "fd00::1/64"] } }
    services:
      - { name: m0, proto: tcp, port: 81, bind: "::ffff:0.0.0.0" }
      - { name: m1, proto: tcp, port: 82, bind: "::ffff:10.0.0.1" }
      - { name: m2, proto: tcp, port: 83, bind: "::", v6only: true }
`,
      "c -> 10.0.0.1:81/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("the VirtualBox NAT engine answers DNS on 10.0.2.3", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  lab: 172.16.0.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      eth1: { segment: lab, addresses: [172.16.0.10/24] }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: dns, proto: udp, port: 53, bind: 0.0.0.0 } ]
  vm:
    vm:
      on: host
      adapters: [ { mode: nat, forwards: [ { proto: udp, hostPort: 5000, guestPort: 5000 } ] } ]
    services: [ { name: u, proto: udp, port: 5000, bind: 0.0.0.0 } ]
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: 172.16.0.0/24, via: 192.168.1.10 } ]
  router:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] } }
`,
      "vm -> 10.0.2.3:53/udp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("a reply that leaves a multi-homed VM by the other NIC goes to the wrong machine", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  vm:
    vm:
      on: host
      adapters:
        - { mode: nat, forwards: [ { proto: tcp, hostPort: 2222, guestPort: 22 } ] }
        - { mode: hostonly }
        - { mode: bridged, bridge: eth0, addresses: [192.168.1.50/24] }
    services: [ { name: sshd, proto: tcp, port: 22, bind: 0.0.0.0 } ]
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`,
      "pc -> 192.168.1.10:2222/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("a gateway must be on-link on the route's own dev (kernel-tested: Nexthop has invalid gateway)", () => {
    expect(() =>
      answer(
        `segments:
  a: 192.168.1.0/24
  b: 192.168.2.0/24
  c: 10.9.0.0/24
machines:
  h:
    interfaces:
      eth0: { segment: a, addresses: [192.168.1.10/24] }
      eth1: { segment: b, addresses: [192.168.2.10/24] }
    routes: [ { to: 10.9.0.0/24, via: 192.168.2.1, dev: eth0 } ]
  r:
    ip_forward: true
    interfaces:
      e0: { segment: a, addresses: [192.168.1.1/24] }
      e1: { segment: b, addresses: [192.168.2.1/24] }
      e2: { segment: c, addresses: [10.9.0.1/24] }
  s:
    interfaces: { eth0: { segment: c, addresses: [10.9.0.5/24] } }
    routes: [ { to: default, via: 10.9.0.1 } ]
    services: [ { proto: tcp, port: 80 } ]
`,
        "h -> s:80/tcp",
      ),
    ).toThrow(/RCH034/);
  });

  it("a gateway reachable through an on-link dev route is accepted (kernel-tested)", () => {
    expect(() =>
      build(`segments:
  a: { subnets: [192.168.1.0/24, 10.5.0.0/24] }
machines:
  h:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.10/24] } }
    routes: [ { to: 10.5.0.0/24, dev: eth0 }, { to: default, via: 10.5.0.1 } ]
  g:
    interfaces: { eth0: { segment: a, addresses: [10.5.0.1/24] } }
    routes: [ { to: 192.168.1.0/24, dev: eth0 } ]
    services: [ { proto: tcp, port: 80 } ]
`),
    ).not.toThrow();
  });

  it("a DNAT without a port match is tried on a port no rule singles out", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
  wan: 203.0.113.0/24
machines:
  gw:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.1/24] }
      wan0: { segment: wan, addresses: [203.0.113.2/24] }
    ip_forward: true
    nat:
      - { action: dnat, chain: prerouting, in: wan0, proto: tcp, dport: 22, to: 192.168.1.60 }
      - { action: dnat, chain: prerouting, in: wan0, proto: tcp, to: 192.168.1.50, toPort: 22 }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.50/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: sshd, proto: tcp, port: 22, bind: 0.0.0.0 } ]
  other:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.60/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  client:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.99/24] } }
`,
      "client -> server:22/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("an unprivileged client may choose a non-ephemeral source port", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.50/24] } }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, state: [established, related] }
          - { action: accept, proto: tcp, dport: 22, sport: 10000-20000 }
    services: [ { name: sshd, proto: tcp, port: 22, bind: 0.0.0.0 } ]
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`,
      "client -> server:22/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("127.0.0.2 reaches a 0.0.0.0 service when 127.0.0.1 is filtered", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  box:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.50/24] } }
    firewall:
      input:
        policy: accept
        rules:
          - { action: drop, proto: tcp, dport: 8080, dst: 127.0.0.1 }
          - { action: drop, proto: tcp, dport: 8080, dst: 192.168.1.50 }
    services: [ { name: app, proto: tcp, port: 8080, bind: 0.0.0.0 } ]
`,
      "box -> box:8080/tcp",
    );
    expect(a.verdict, a.reason).toBe("reachable");
  });

  it("the NAT engine's outbound connection does not keep the guest's source port", () => {
    const a = answer(
      `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm: { on: host, adapters: [ { mode: nat } ] }
  web:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.80/24] } }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, state: [established, related] }
          - { action: accept, proto: tcp, dport: 80, sport: 50000 }
    services: [ { name: httpd, proto: tcp, port: 80, bind: 0.0.0.0 } ]
`,
      "guest -> web:80/tcp",
    );
    expect(a.verdict, a.reason).toBe("unreachable");
  });

  it("a VirtualBox forward with an IPv6 host IP is refused: forwards listen on IPv4 only", () => {
    expect(() =>
      answer(
        `segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: ssh, proto: tcp, hostIp: "::", hostPort: 2222, guestPort: 22 } ]
    services: [ { name: sshd, proto: tcp, port: 22, bind: 0.0.0.0 } ]
  pc:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::20/64"] } }
`,
        "pc -> guest:22/tcp",
      ),
    ).toThrow(/RCH010/);
  });

  it("a VirtualBox forward on a host port below 1024 does not exist unless VirtualBox runs as root", () => {
    expect(
      answer(
        `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: web, proto: tcp, hostPort: 80, guestPort: 80 } ]
    services: [ { name: httpd, proto: tcp, port: 80, bind: 0.0.0.0 } ]
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`,
        "lan-pc -> guest:80/tcp",
      ).verdict,
    ).toBe("unreachable");
    expect(
      answer(
        `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm:
      on: host
      asRoot: true
      adapters:
        - mode: nat
          forwards: [ { name: web, proto: tcp, hostPort: 80, guestPort: 80 } ]
    services: [ { name: httpd, proto: tcp, port: 80, bind: 0.0.0.0 } ]
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`,
        "lan-pc -> guest:80/tcp",
      ).verdict,
    ).toBe("reachable");
  });
});
