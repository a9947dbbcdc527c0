/**
 * semantics.md section 2: 127/8 and ::1 stay on the machine; a loopback
 * destination arriving on a real interface (DNAT to 127.0.0.1) is a martian
 * unless route_localnet=1; loopback traffic still crosses filter OUTPUT and INPUT.
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, dial, expectOk, failure, filterSteps, lineOf, pkt, query, stepsOf } from "./helpers.js";

describe("semantics.md 2: loopback", () => {
  describe("127/8 and ::1 never leave a machine", () => {
    const YAML = `
segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
    routes:
      - { to: 127.0.0.0/8, via: 192.168.1.1 }
      - { to: "::1", via: "fd00::1" }
  gw:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24, "fd00::1/64"] } }
    ip_forward: true
    route_localnet: true
    services:
      - { name: gw-web, proto: tcp, port: 80, bind: 0.0.0.0 }
      - { name: gw-web6, proto: tcp, port: 80, bind: "::", v6only: true }
`;
    const net = build(YAML);
    it("a static route sending 127.0.0.0/8 out is never used: 127.0.0.1 stays local (refused on pc, not delivered on gw)", () => {
      const a = dial(net, "pc", "tcp", "127.0.0.1", 80);
      expect(failure(a).disposition).toMatchObject({ kind: "refused", machine: "pc" });
      expect(a.legs[0]!.forward.steps.some((s) => s.kind === "transmit")).toBe(false);
    });
    it("the same for 127.0.0.9", () => {
      const a = dial(net, "pc", "tcp", "127.0.0.9", 80);
      expect(failure(a).disposition).toMatchObject({ kind: "refused", machine: "pc" });
      expect(a.legs[0]!.forward.steps.some((s) => s.kind === "transmit")).toBe(false);
    });
    it("a static route for ::1 is never used: ::1 stays local", () => {
      const a = dial(net, "pc", "tcp", "::1", 80);
      expect(failure(a).disposition).toMatchObject({ kind: "refused", machine: "pc" });
      expect(a.legs[0]!.forward.steps.some((s) => s.kind === "transmit")).toBe(false);
    });
    it("pc -> localhost:80 is unreachable on both addresses (gw's service is not pc's localhost)", () => {
      const ans = query(net, "pc -> localhost:80/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.perAddress?.map((x) => x.verdict)).toEqual(["unreachable", "unreachable"]);
    });
  });

  describe("DNAT from eth0 to 127.0.0.1 (martian unless route_localnet)", () => {
    const yaml = (localnet: boolean) => `
segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    route_localnet: ${localnet}
    nat:
      - { action: dnat, chain: prerouting, in: eth0, proto: tcp, dport: 8080, to: 127.0.0.1, toPort: 8080, comment: "to loopback" }
    services:
      - { name: app, proto: tcp, port: 8080, bind: 127.0.0.1 }
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`;
    it("route_localnet=0: the translated packet is a martian on server and the client times out", () => {
      const net = build(yaml(false));
      const a = dial(net, "lan-pc", "tcp", "192.168.1.10", 8080);
      expect(failure(a)).toMatchObject({
        leg: 0,
        direction: "forward",
        disposition: { kind: "martian", machine: "server", iface: "eth0", which: "destination" },
      });
      const d = failure(a).disposition;
      if (d.kind === "martian") expect(formatIP(d.addr)).toBe("127.0.0.1");
      expect(query(net, "lan-pc -> server:8080/tcp").verdict).toBe("unreachable");
    });
    it("route_localnet=1: the DNAT to 127.0.0.1 works and the reply is un-NATed", () => {
      const net = build(yaml(true));
      const a = dial(net, "lan-pc", "tcp", "192.168.1.10", 8080);
      expectOk(a, "server", "app");
      const d = a.legs[0]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "192.168.1.20", dst: "127.0.0.1", dport: 8080 });
      const r = a.legs[0]!.reply!.disposition;
      expect(r.kind === "delivered" && pkt(r.packet)).toMatchObject({
        src: "192.168.1.10",
        dst: "192.168.1.20",
        sport: 8080,
        dport: 40000,
      });
      expect(query(net, "lan-pc -> server:8080/tcp").verdict).toBe("reachable");
    });
  });

  describe("nat OUTPUT DNAT of the machine's own 127.0.0.1 to another machine (kernel-oracle.md pitfall 3)", () => {
    const yaml = (localnet: boolean) => `
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    route_localnet: ${localnet}
    nat:
      - { action: dnat, chain: output, proto: tcp, dst: 127.0.0.1, dport: 8080, to: 192.168.1.20, toPort: 80 }
      - { action: masquerade, out: eth0 }
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: web, proto: tcp, port: 80 } ]
`;
    it("route_localnet=0: a packet with a 127/8 source never leaves the host (timeout)", () => {
      const net = build(yaml(false));
      const a = dial(net, "host", "tcp", "127.0.0.1", 8080);
      expect(a.ok).toBe(false);
      expect(a.legs[0]!.forward.steps.some((s) => s.kind === "transmit")).toBe(false);
    });
    it("route_localnet=1 with masquerade: it works", () => {
      const net = build(yaml(true));
      const a = dial(net, "host", "tcp", "127.0.0.1", 8080);
      expectOk(a, "lan-pc", "web");
      const d = a.legs[0]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "192.168.1.10", dst: "192.168.1.20", dport: 80 });
    });
  });

  describe("loopback traffic crosses filter OUTPUT and INPUT", () => {
    const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services:
      - { name: web, proto: tcp, port: 80, bind: "::" }
      - { name: blocked-out, proto: tcp, port: 81, bind: 0.0.0.0 }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, in: lo, comment: "only loopback" }
      output:
        policy: accept
        rules:
          - { action: drop, proto: tcp, dport: 81, comment: "output drop 81" }
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`;
    const net = build(YAML);
    it("an INPUT that drops everything except in: lo still allows localhost (both addresses)", () => {
      const ans = query(net, "server -> localhost:80/tcp");
      expect(ans.verdict).toBe("reachable");
      expect(ans.perAddress?.map((x) => x.verdict)).toEqual(["reachable", "reachable"]);
    });
    it("the loopback connection is seen by INPUT with in=lo, accepted by the lo rule", () => {
      const a = dial(net, "server", "tcp", "127.0.0.1", 80);
      expectOk(a, "server", "web");
      const inSteps = filterSteps(stepsOf(a, 0), "server", "input");
      expect(inSteps.length).toBe(1);
      expect(inSteps[0]!.action).toBe("accept");
      expect(inSteps[0]!.rule?.origin.span.line).toBe(lineOf(YAML, "only loopback"));
      expect(filterSteps(stepsOf(a, 0), "server", "output").length).toBe(1);
    });
    it("the host dialing its own LAN address also goes through lo", () => {
      expectOk(dial(net, "server", "tcp", "192.168.1.10", 80), "server", "web");
    });
    it("the same port from the LAN is dropped by the INPUT policy", () => {
      const f = failure(dial(net, "lan-pc", "tcp", "192.168.1.10", 80));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "server", chain: "input" });
      const d = f.disposition;
      if (d.kind !== "dropped") throw new Error("unreachable");
      expect(d.rule).toBeUndefined();
      expect(d.policyOrigin?.span.line).toBe(lineOf(YAML, "policy: drop"));
    });
    it("an OUTPUT drop blocks localhost too", () => {
      const f = failure(dial(net, "server", "tcp", "127.0.0.1", 81));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "server", chain: "output" });
      const d = f.disposition;
      if (d.kind === "dropped") expect(d.rule?.origin.span.line).toBe(lineOf(YAML, "output drop 81"));
      expect(query(net, "server -> localhost:81/tcp").verdict).toBe("unreachable");
    });
    it("without the lo accept, INPUT policy drop blocks localhost", () => {
      const net2 = build(YAML.replace('        rules:\n          - { action: accept, in: lo, comment: "only loopback" }\n', ""));
      expect(net2.machines.find((m) => m.name === "server")!.filter.input.rules.length).toBe(0);
      const f = failure(dial(net2, "server", "tcp", "127.0.0.1", 80));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "server", chain: "input" });
      expect(query(net2, "server -> localhost:80/tcp").verdict).toBe("unreachable");
    });
  });
});
