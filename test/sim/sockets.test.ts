/**
 * semantics.md section 1: which destination addresses a listening socket accepts,
 * by bind address, V6ONLY and SO_BINDTODEVICE. Each row of the table is checked
 * with a real exchange through the simulator.
 */
import { describe, expect, it } from "vitest";
import { build, dial, expectOk, failure, lineOf, pkt, query } from "./helpers.js";

const YAML = `
segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
  back: 10.1.0.0/24
machines:
  server:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] }
      eth1: { segment: back, addresses: [10.1.0.1/24] }
    services:
      - { name: any4, proto: tcp, port: 1000, bind: 0.0.0.0 }
      - { name: lo4, proto: tcp, port: 1001, bind: 127.0.0.1 }
      - { name: lanaddr, proto: tcp, port: 1002, bind: 192.168.1.10 }
      - { name: dual, proto: tcp, port: 1003, bind: "::" }
      - { name: v6only, proto: tcp, port: 1004, bind: "::", v6only: true }
      - { name: lo6, proto: tcp, port: 1005, bind: "::1" }
      - { name: mapped, proto: tcp, port: 1006, bind: "::ffff:192.168.1.10" }
      - { name: onlo, proto: tcp, port: 1007, bind: 0.0.0.0, device: lo }
      - { name: oneth0, proto: tcp, port: 1008, bind: 0.0.0.0, device: eth0 }
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
  back-pc:
    description: reaches 192.168.1.10 through server's eth1
    interfaces: { eth0: { segment: back, addresses: [10.1.0.2/24] } }
    routes: [ { to: 192.168.1.10/32, via: 10.1.0.1 } ]
`;
const net = build(YAML);

describe("semantics.md 1: sockets and binding", () => {
  describe("bound to 0.0.0.0", () => {
    it("accepts 127.0.0.2 from the machine itself (all of 127/8)", () => {
      const a = dial(net, "server", "tcp", "127.0.0.2", 1000);
      expectOk(a, "server", "any4");
      expect(pkt(a.legs[0]!.packet).dst).toBe("127.0.0.2");
    });
    it("accepts 127.0.0.1 and the LAN address from itself", () => {
      expectOk(dial(net, "server", "tcp", "127.0.0.1", 1000), "server", "any4");
      expectOk(dial(net, "server", "tcp", "192.168.1.10", 1000), "server", "any4");
    });
    it("accepts the LAN address from a LAN client", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 1000), "server", "any4");
    });
    it("does not accept IPv6 (an AF_INET socket)", () => {
      const f = failure(dial(net, "lan-pc", "tcp", "fd00::10", 1000));
      expect(f.disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
  });

  describe("bound to 127.0.0.1", () => {
    it("accepts 127.0.0.1 from itself", () => {
      expectOk(dial(net, "server", "tcp", "127.0.0.1", 1001), "server", "lo4");
    });
    it("rejects 127.0.0.2 (connection refused, not a timeout)", () => {
      const f = failure(dial(net, "server", "tcp", "127.0.0.2", 1001));
      expect(f).toMatchObject({ leg: 0, direction: "forward", disposition: { kind: "refused", machine: "server" } });
    });
    it("rejects the host's own LAN address dialed locally", () => {
      const f = failure(dial(net, "server", "tcp", "192.168.1.10", 1001));
      expect(f.disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
    it("rejects the LAN address from a LAN client, and the refusal names the loopback socket", () => {
      const f = failure(dial(net, "lan-pc", "tcp", "192.168.1.10", 1001));
      expect(f.disposition).toMatchObject({ kind: "refused", machine: "server" });
      const d = f.disposition;
      if (d.kind !== "refused") throw new Error("unreachable");
      expect(d.near.map((s) => s.owner)).toEqual(["lo4"]);
      expect(d.near[0]!.origin.span.line).toBe(lineOf(YAML, "name: lo4"));
      const ans = query(net, "lan-pc -> server:1001/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.reason).toMatch(/127\.0\.0\.1/);
      expect(ans.reason).toMatch(/refused/);
    });
  });

  describe("bound to a specific address (weak host model)", () => {
    it("accepts it from the LAN (arriving on eth0)", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 1002), "server", "lanaddr");
    });
    it("accepts it arriving on another interface (eth1)", () => {
      const a = dial(net, "back-pc", "tcp", "192.168.1.10", 1002);
      expectOk(a, "server", "lanaddr");
      const recv = a.legs[0]!.forward.steps.find((s) => s.kind === "receive" && s.machine === "server");
      expect(recv).toMatchObject({ kind: "receive", iface: "eth1" });
    });
    it("rejects another local address (127.0.0.1)", () => {
      expect(failure(dial(net, "server", "tcp", "127.0.0.1", 1002)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
  });

  describe(":: with V6ONLY=0 (dual-stack, the default)", () => {
    it("accepts IPv6", () => {
      expectOk(dial(net, "lan-pc", "tcp", "fd00::10", 1003), "server", "dual");
      expectOk(dial(net, "server", "tcp", "::1", 1003), "server", "dual");
    });
    it("accepts IPv4 as IPv4-mapped: the LAN address and 127.0.0.1", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 1003), "server", "dual");
      expectOk(dial(net, "server", "tcp", "127.0.0.1", 1003), "server", "dual");
    });
  });

  describe(":: with V6ONLY=1", () => {
    it("accepts IPv6", () => {
      expectOk(dial(net, "lan-pc", "tcp", "fd00::10", 1004), "server", "v6only");
    });
    it("rejects IPv4", () => {
      expect(failure(dial(net, "lan-pc", "tcp", "192.168.1.10", 1004)).disposition).toMatchObject({ kind: "refused", machine: "server" });
      expect(failure(dial(net, "server", "tcp", "127.0.0.1", 1004)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
  });

  describe("::1", () => {
    it("accepts ::1", () => {
      expectOk(dial(net, "server", "tcp", "::1", 1005), "server", "lo6");
    });
    it("never accepts 127.0.0.1", () => {
      expect(failure(dial(net, "server", "tcp", "127.0.0.1", 1005)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
    it("rejects the host's IPv6 LAN address", () => {
      expect(failure(dial(net, "lan-pc", "tcp", "fd00::10", 1005)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
  });

  describe("::ffff:192.168.1.10 (IPv4-mapped bind)", () => {
    it("accepts IPv4 192.168.1.10", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 1006), "server", "mapped");
    });
    it("rejects other IPv4 addresses and IPv6", () => {
      expect(failure(dial(net, "server", "tcp", "127.0.0.1", 1006)).disposition).toMatchObject({ kind: "refused" });
      expect(failure(dial(net, "lan-pc", "tcp", "fd00::10", 1006)).disposition).toMatchObject({ kind: "refused" });
    });
  });

  describe("SO_BINDTODEVICE", () => {
    it("0.0.0.0%lo accepts loopback traffic of the machine itself", () => {
      expectOk(dial(net, "server", "tcp", "127.0.0.1", 1007), "server", "onlo");
    });
    it("0.0.0.0%lo rejects a LAN client", () => {
      expect(failure(dial(net, "lan-pc", "tcp", "192.168.1.10", 1007)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
    it("0.0.0.0%eth0 accepts what arrives on eth0", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 1008), "server", "oneth0");
    });
    it("0.0.0.0%eth0 rejects the same address arriving on eth1", () => {
      expect(failure(dial(net, "back-pc", "tcp", "192.168.1.10", 1008)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    });
  });

  it("a closed port answers RST: refused, and the reason says so", () => {
    const a = dial(net, "lan-pc", "tcp", "192.168.1.10", 1999);
    expect(failure(a).disposition).toMatchObject({ kind: "refused", machine: "server" });
    const ans = query(net, "lan-pc -> 192.168.1.10:1999/tcp");
    expect(ans.verdict).toBe("unreachable");
    expect(ans.reason).toMatch(/refused/);
  });
});
