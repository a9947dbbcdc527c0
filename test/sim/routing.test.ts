/**
 * semantics.md section 3: longest-prefix match, missing routes, next hops that
 * nobody answers ARP for, ip_forward, rp_filter and asymmetric reply paths.
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, dial, expectOk, failure, lineOf, pkt, query, stepsOf } from "./helpers.js";

describe("semantics.md 3: routing, neighbours, forwarding", () => {
  describe("longest prefix wins", () => {
    const YAML = `
segments:
  a: 10.0.0.0/24
  b: 10.1.0.0/24
  t: 10.9.9.0/24
machines:
  client:
    interfaces:
      eth0: { segment: a, addresses: [10.0.0.2/24] }
      eth1: { segment: b, addresses: [10.1.0.2/24] }
    routes:
      - { to: default, via: 10.0.0.1 }
      - { to: 10.9.0.0/16, via: 10.0.0.1 }
      - { to: 10.9.9.0/24, via: 10.1.0.1 }
  ra:
    description: does not forward, so a wrong choice of route fails
    interfaces:
      eth0: { segment: a, addresses: [10.0.0.1/24] }
      eth1: { segment: t, addresses: [10.9.9.1/24] }
  rb:
    interfaces:
      eth0: { segment: b, addresses: [10.1.0.1/24] }
      eth1: { segment: t, addresses: [10.9.9.254/24] }
    ip_forward: true
  srv:
    interfaces: { eth0: { segment: t, addresses: [10.9.9.9/24] } }
    routes: [ { to: default, via: 10.9.9.254 } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
`;
    const net = build(YAML);
    it("the /24 beats the /16 and the default, whatever the order", () => {
      const a = dial(net, "client", "tcp", "10.9.9.9", 80);
      expectOk(a, "srv", "web");
      const route = stepsOf(a, 0).find((s) => s.kind === "route" && s.machine === "client");
      expect(route).toMatchObject({ kind: "route", local: false, route: { dev: "eth1" } });
      if (route?.kind === "route") {
        expect(route.route.dst.len).toBe(24);
        expect(route.route.origin.span.line).toBe(lineOf(YAML, "10.9.9.0/24, via"));
      }
      const tx = stepsOf(a, 0).find((s) => s.kind === "transmit" && s.machine === "client");
      expect(tx).toMatchObject({ iface: "eth1", to: "rb" });
      expect(tx?.kind === "transmit" && formatIP(tx.nextHop)).toBe("10.1.0.1");
    });
    it("the /16 is used for the rest of 10.9/16 (and ra does not forward)", () => {
      const f = failure(dial(net, "client", "tcp", "10.9.8.8", 80));
      expect(f.disposition).toMatchObject({ kind: "not-forwarding", machine: "ra" });
    });
    it("a connected route beats everything for its own subnet", () => {
      const a = dial(net, "client", "icmp", "10.1.0.1");
      expectOk(a, "rb");
      const tx = stepsOf(a, 0).find((s) => s.kind === "transmit");
      expect(tx).toMatchObject({ iface: "eth1", to: "rb" });
    });
  });

  describe("no route, no neighbour, ip_forward", () => {
    const yaml = (forward: boolean) => `
segments:
  a: 10.0.0.0/24
  b: 10.1.0.0/24
machines:
  isolated:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.3/24] } }
  lonely-gw:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.4/24] } }
    routes: [ { to: default, via: 10.0.0.254 } ]
  client:
    interfaces: { eth0: { segment: a, addresses: [10.0.0.2/24] } }
    routes: [ { to: default, via: 10.0.0.1 } ]
  mid:
    interfaces:
      eth0: { segment: a, addresses: [10.0.0.1/24] }
      eth1: { segment: b, addresses: [10.1.0.1/24] }
    ip_forward: ${forward}
  srv:
    interfaces: { eth0: { segment: b, addresses: [10.1.0.9/24] } }
    routes: [ { to: default, via: 10.1.0.1 } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
`;
    it("no matching route: no-route on the sender, connect fails at once", () => {
      const net = build(yaml(true));
      const f = failure(dial(net, "isolated", "tcp", "10.1.0.9", 80));
      expect(f).toMatchObject({ leg: 0, direction: "forward", disposition: { kind: "no-route", machine: "isolated" } });
      const ans = query(net, "isolated -> 10.1.0.9:80/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.reason).toMatch(/no route/);
    });
    it("no route on a forwarding router: no-route on the router", () => {
      const net = build(yaml(true));
      const f = failure(dial(net, "client", "tcp", "203.0.113.5", 80));
      expect(f.disposition).toMatchObject({ kind: "no-route", machine: "mid" });
    });
    it("a gateway nobody answers ARP for: no-neighbour", () => {
      const net = build(yaml(true));
      const f = failure(dial(net, "lonely-gw", "tcp", "10.1.0.9", 80));
      expect(f.disposition).toMatchObject({ kind: "no-neighbour", machine: "lonely-gw", iface: "eth0", segment: "a" });
      const d = f.disposition;
      if (d.kind === "no-neighbour") expect(formatIP(d.nextHop)).toBe("10.0.0.254");
      expect(query(net, "lonely-gw -> srv:80/tcp").reason).toMatch(/ARP|neighbour/);
    });
    it("an on-link destination nobody has: no-neighbour for the destination itself", () => {
      const net = build(yaml(true));
      const f = failure(dial(net, "client", "tcp", "10.0.0.77", 80));
      expect(f.disposition).toMatchObject({ kind: "no-neighbour", machine: "client", iface: "eth0" });
    });
    it("ip_forward=0 drops forwarded traffic", () => {
      const net = build(yaml(false));
      const f = failure(dial(net, "client", "tcp", "10.1.0.9", 80));
      expect(f.disposition).toMatchObject({ kind: "not-forwarding", machine: "mid" });
      expect(query(net, "client -> srv:80/tcp").verdict).toBe("unreachable");
    });
    it("ip_forward=0 still delivers to the router's own addresses on both interfaces", () => {
      const net = build(yaml(false));
      expectOk(dial(net, "client", "icmp", "10.0.0.1"), "mid");
      expectOk(dial(net, "client", "icmp", "10.1.0.1"), "mid");
    });
    it("ip_forward=1 forwards", () => {
      const net = build(yaml(true));
      expectOk(dial(net, "client", "tcp", "10.1.0.9", 80), "srv", "web");
      expect(query(net, "client -> srv:80/tcp").verdict).toBe("reachable");
    });
  });

  describe("rp_filter and asymmetric paths", () => {
    // client (10.2.0.5) -> r2 -> server's eth1; server's default route points to r1 on eth0.
    const yaml = (rp: 0 | 1 | 2) => `
segments:
  a: 10.0.0.0/24
  b: 10.1.0.0/24
  c: 10.2.0.0/24
machines:
  server:
    interfaces:
      eth0: { segment: a, addresses: [10.0.0.10/24] }
      eth1: { segment: b, addresses: [10.1.0.10/24] }
    routes: [ { to: default, via: 10.0.0.1 } ]
    rp_filter: ${rp}
    services: [ { name: web, proto: tcp, port: 80 } ]
  r1:
    interfaces:
      eth0: { segment: a, addresses: [10.0.0.1/24] }
      eth1: { segment: c, addresses: [10.2.0.1/24] }
    ip_forward: true
  r2:
    interfaces:
      eth0: { segment: b, addresses: [10.1.0.1/24] }
      eth1: { segment: c, addresses: [10.2.0.2/24] }
    ip_forward: true
  client:
    interfaces: { eth0: { segment: c, addresses: [10.2.0.5/24] } }
    routes: [ { to: 10.1.0.0/24, via: 10.2.0.2 }, { to: default, via: 10.2.0.1 } ]
`;
    it("rp_filter=1 drops a packet arriving on an interface that is not the reverse path", () => {
      const net = build(yaml(1));
      const f = failure(dial(net, "client", "tcp", "10.1.0.10", 80));
      expect(f).toMatchObject({
        leg: 0,
        direction: "forward",
        disposition: { kind: "rp-filter", machine: "server", iface: "eth1", mode: 1 },
      });
      const d = f.disposition;
      if (d.kind === "rp-filter") expect(formatIP(d.src)).toBe("10.2.0.5");
    });
    it("rp_filter=1 accepts the symmetric arrival on eth0", () => {
      const net = build(yaml(1));
      expectOk(dial(net, "client", "tcp", "10.0.0.10", 80), "server", "web");
    });
    it("rp_filter=0 (default): the asymmetric path works without NAT or state (reply leaves by eth0 via r1)", () => {
      const net = build(yaml(0));
      const a = dial(net, "client", "tcp", "10.1.0.10", 80);
      expectOk(a, "server", "web");
      const tx = stepsOf(a, 0, "reply").find((s) => s.kind === "transmit" && s.machine === "server");
      expect(tx).toMatchObject({ iface: "eth0", to: "r1" });
    });
    it("rp_filter=2 (loose) accepts it: some route back exists", () => {
      const net = build(yaml(2));
      expectOk(dial(net, "client", "tcp", "10.1.0.10", 80), "server", "web");
    });
  });

  describe("asymmetric reply path with DNAT on the forward path breaks TCP", () => {
    const yaml = (serverGw: string) => `
segments:
  wan: 203.0.113.0/24
  lan: 192.168.1.0/24
machines:
  client:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.50/24] } }
  gw2:
    interfaces:
      wan0: { segment: wan, addresses: [203.0.113.2/24] }
      lan0: { segment: lan, addresses: [192.168.1.2/24] }
    ip_forward: true
    nat:
      - { action: dnat, chain: prerouting, in: wan0, proto: tcp, dport: 80, to: 192.168.1.10, comment: "port forward 80" }
  gw1:
    interfaces:
      wan0: { segment: wan, addresses: [203.0.113.1/24] }
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
    ip_forward: true
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: ${serverGw} } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
`;
    it("the reply goes out through gw1 un-translated: the client gets it from 192.168.1.10, not 203.0.113.2", () => {
      const net = build(yaml("192.168.1.1"));
      const a = dial(net, "client", "tcp", "203.0.113.2", 80);
      const f = failure(a);
      expect(f).toMatchObject({ leg: 0, direction: "reply", disposition: { kind: "reply-mismatch", machine: "client" } });
      const d = f.disposition;
      if (d.kind === "reply-mismatch") {
        expect(pkt(d.got)).toMatchObject({ src: "192.168.1.10", sport: 80, dst: "203.0.113.50" });
        expect(pkt(d.expected)).toMatchObject({ src: "203.0.113.2", sport: 80 });
      }
      expect(stepsOf(a, 0, "reply").some((s) => s.kind === "transmit" && s.machine === "server" && s.to === "gw1")).toBe(true);
      expect(query(net, "client -> server:80/tcp").verdict).toBe("unreachable");
    });
    it("with the reply routed back through gw2 it works", () => {
      const net = build(yaml("192.168.1.2"));
      const a = dial(net, "client", "tcp", "203.0.113.2", 80);
      expectOk(a, "server", "web");
      const d = a.legs[0]!.reply!.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "203.0.113.2", sport: 80 });
    });
  });
});
