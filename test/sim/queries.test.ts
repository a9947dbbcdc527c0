/**
 * Query forms answered by the simulator (src/query/ask.ts): localhost per address
 * (semantics.md 2), machine targets over ICMP, exact addresses, and the dial chosen
 * for a machine target reached through a VirtualBox NAT forward (semantics.md 5).
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, query } from "./helpers.js";

const YAML = `
segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    services:
      - { name: v4, proto: tcp, port: 8000, bind: 0.0.0.0 }
      - { name: dual, proto: tcp, port: 8001, bind: "::" }
      - { name: v6lo, proto: tcp, port: 8002, bind: "::1" }
      - { name: v4lo, proto: tcp, port: 8003, bind: 127.0.0.1 }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: ssh, proto: tcp, hostPort: 2222, guestPort: 22 } ]
    services: [ { name: sshd, proto: tcp, port: 22, bind: 0.0.0.0 } ]
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
`;
const net = build(YAML);

const perAddress = (text: string) => {
  const ans = query(net, text);
  return {
    verdict: ans.verdict,
    per: (ans.perAddress ?? []).map((a) => [a.query.target.kind === "address" ? formatIP(a.query.target.ip) : "?", a.verdict]),
  };
};

describe("queries (src/query/ask.ts)", () => {
  describe("A -> localhost:P/tcp (semantics.md 2): one answer per address", () => {
    it("0.0.0.0: 127.0.0.1 reachable, ::1 not; overall reachable and the reason says which", () => {
      const r = perAddress("host -> localhost:8000/tcp");
      expect(r).toEqual({
        verdict: "reachable",
        per: [
          ["127.0.0.1", "reachable"],
          ["::1", "unreachable"],
        ],
      });
      const ans = query(net, "host -> localhost:8000/tcp");
      expect(ans.reason).toMatch(/127\.0\.0\.1: reachable/);
      expect(ans.reason).toMatch(/::1: unreachable/);
      expect(ans.dial && formatIP(ans.dial.dst)).toBe("127.0.0.1");
    });
    it(":: dual-stack: both addresses reachable", () => {
      expect(perAddress("host -> localhost:8001/tcp")).toEqual({
        verdict: "reachable",
        per: [
          ["127.0.0.1", "reachable"],
          ["::1", "reachable"],
        ],
      });
    });
    it("::1: only ::1", () => {
      expect(perAddress("host -> localhost:8002/tcp")).toEqual({
        verdict: "reachable",
        per: [
          ["127.0.0.1", "unreachable"],
          ["::1", "reachable"],
        ],
      });
    });
    it("127.0.0.1: only 127.0.0.1", () => {
      expect(perAddress("host -> localhost:8003/tcp")).toEqual({
        verdict: "reachable",
        per: [
          ["127.0.0.1", "reachable"],
          ["::1", "unreachable"],
        ],
      });
    });
    it("nothing listening: both unreachable", () => {
      expect(perAddress("host -> localhost:9999/tcp")).toEqual({
        verdict: "unreachable",
        per: [
          ["127.0.0.1", "unreachable"],
          ["::1", "unreachable"],
        ],
      });
    });
    it("localhost is the querying machine's own: lan-pc -> localhost:8000 is unreachable", () => {
      expect(perAddress("lan-pc -> localhost:8000/tcp").verdict).toBe("unreachable");
    });
  });

  describe("A -> B/icmp (semantics.md 3: echo request and reply both routed)", () => {
    it("a LAN peer answers ping", () => {
      const ans = query(net, "lan-pc -> host/icmp");
      expect(ans.verdict).toBe("reachable");
      expect(ans.attempt?.outcome).toMatchObject({ kind: "ok", machine: "host" });
      expect(ans.dial?.proto).toBe("icmp");
    });
    it("a machine pings itself", () => {
      expect(query(net, "host -> host/icmp").verdict).toBe("reachable");
    });
    it("exact address ping, IPv4 and IPv6", () => {
      expect(query(net, "lan-pc -> 192.168.1.10/icmp").verdict).toBe("reachable");
      expect(query(net, "lan-pc -> [fd00::10]/icmp").verdict).toBe("reachable");
      expect(query(net, "lan-pc -> 192.168.1.99/icmp").verdict).toBe("unreachable");
    });
  });

  describe("exact-address queries dial exactly that address (semantics.md 1, 5)", () => {
    it("lan-pc -> 192.168.1.10:8000 reachable; 8003 (127.0.0.1 bind) refused", () => {
      const ok = query(net, "lan-pc -> 192.168.1.10:8000/tcp");
      expect(ok.verdict).toBe("reachable");
      expect(ok.dial && formatIP(ok.dial.dst)).toBe("192.168.1.10");
      expect(ok.dial?.dport).toBe(8000);
      const no = query(net, "lan-pc -> 192.168.1.10:8003/tcp");
      expect(no.verdict).toBe("unreachable");
      expect(no.reason).toMatch(/refused/);
    });
    it("IPv6 exact address: [fd00::10]:8001 reachable (dual-stack), [fd00::10]:8000 not (IPv4 socket)", () => {
      expect(query(net, "lan-pc -> [fd00::10]:8001/tcp").verdict).toBe("reachable");
      expect(query(net, "lan-pc -> [fd00::10]:8000/tcp").verdict).toBe("unreachable");
    });
    it("the forward's host address: lan-pc -> 192.168.1.10:2222 ends at the guest's sshd", () => {
      const ans = query(net, "lan-pc -> 192.168.1.10:2222/tcp");
      expect(ans.verdict).toBe("reachable");
      expect(ans.attempt?.outcome).toMatchObject({ kind: "ok", machine: "guest" });
      expect(ans.attempt?.outcome.kind === "ok" && ans.attempt.outcome.socket?.owner).toBe("sshd");
    });
    it("an exact address does not try other addresses: host -> 10.0.2.15:22 is unreachable", () => {
      const ans = query(net, "host -> 10.0.2.15:22/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.tried).toBe(1);
    });
  });

  describe("machine targets pick a dial (semantics.md 5)", () => {
    it("host -> guest:22 dials 127.0.0.1:2222 (semantics.md 5, the forward on every host address)", () => {
      const ans = query(net, "host -> guest:22/tcp");
      expect(ans.verdict).toBe("reachable");
      expect(ans.dial && formatIP(ans.dial.dst)).toBe("127.0.0.1");
      expect(ans.dial?.dport).toBe(2222);
      expect(ans.attempt?.outcome).toMatchObject({ kind: "ok", machine: "guest" });
    });
    it("lan-pc -> guest:22 dials the host's LAN address on 2222", () => {
      const ans = query(net, "lan-pc -> guest:22/tcp");
      expect(ans.verdict).toBe("reachable");
      expect(ans.dial && formatIP(ans.dial.dst)).toBe("192.168.1.10");
      expect(ans.dial?.dport).toBe(2222);
    });
    it("nothing listening on the target port: the reason says so", () => {
      const ans = query(net, "lan-pc -> guest:80/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.reason).toMatch(/nothing on guest listens on tcp\/80/);
    });
  });
});
