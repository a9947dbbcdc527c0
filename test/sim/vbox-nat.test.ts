/**
 * semantics.md section 5, VirtualBox NAT: port forwards are user-space relays on
 * the host (cross the host's INPUT, listen on IPv4 only when the host IP is empty,
 * deliver to the guest's own address with source 10.0.2.2 for loopback clients and
 * the client's address otherwise), private per-VM NAT networks, 10.0.2.2 and the
 * host's loopback (localhostReachable), and ICMP.
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, dial, expectOk, failure, lineOf, pkt, query } from "./helpers.js";

type Opts = {
  hostFirewall?: string;
  hostIp?: string;
  guestBind?: string;
  guestFirewall?: string;
  localhostReachable?: boolean;
  hostServices?: string;
};

const topo = (o: Opts = {}) => `
segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
  internet: 203.0.113.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
${o.hostServices ?? ""}${o.hostFirewall ?? ""}
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
${o.localhostReachable !== undefined ? `          localhostReachable: ${o.localhostReachable}\n` : ""}          forwards:
            - { name: ssh, proto: tcp, ${o.hostIp !== undefined ? `hostIp: "${o.hostIp}", ` : ""}hostPort: 2222, guestPort: 22 }
            - { name: dns, proto: udp, hostPort: 5353, guestPort: 53 }
    services:
      - { name: sshd, proto: tcp, port: 22, bind: ${o.guestBind ?? "0.0.0.0"} }
      - { name: named, proto: udp, port: 53, bind: 0.0.0.0 }
${o.guestFirewall ?? ""}
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
  router:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.2/24] }
    router: { wan: wan0 }
  web:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.80/24] } }
    services: [ { name: httpd, proto: tcp, port: 80 } ]
`;

describe("semantics.md 5: VirtualBox NAT", () => {
  describe("port forward source address inside the guest", () => {
    const net = build(topo());
    it("dialed from the host's loopback: the guest sees 10.0.2.2", () => {
      const a = dial(net, "host", "tcp", "127.0.0.1", 2222);
      expectOk(a, "guest", "sshd");
      expect(a.legs.length).toBe(2);
      expect(pkt(a.legs[1]!.packet)).toMatchObject({ src: "10.0.2.2", dst: "10.0.2.15", dport: 22 });
      const d = a.legs[1]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "10.0.2.2", dst: "10.0.2.15", dport: 22 });
    });
    it("dialed from the LAN: the guest sees the client's own address 192.168.1.20", () => {
      const a = dial(net, "lan-pc", "tcp", "192.168.1.10", 2222);
      expectOk(a, "guest", "sshd");
      expect(a.legs[0]!.forward.disposition).toMatchObject({ kind: "delivered", machine: "host" });
      const first = a.legs[0]!.forward.disposition;
      expect(first.kind === "delivered" && first.socket?.role.kind).toBe("relay");
      expect(pkt(a.legs[1]!.packet)).toMatchObject({ src: "192.168.1.20", dst: "10.0.2.15", dport: 22 });
      const d = a.legs[1]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "192.168.1.20", dst: "10.0.2.15" });
    });
    it("the client's reply comes from the host's forward port", () => {
      const a = dial(net, "lan-pc", "tcp", "192.168.1.10", 2222);
      const r = a.legs[0]!.reply!.disposition;
      expect(r.kind === "delivered" && pkt(r.packet)).toMatchObject({ src: "192.168.1.10", sport: 2222, dst: "192.168.1.20" });
    });
    it("a guest firewall rule on source 10.0.2.2 blocks the host's loopback client but not the LAN client", () => {
      const YAML = topo({
        guestFirewall: `    firewall:\n      input:\n        rules:\n          - { action: drop, src: 10.0.2.2, comment: "no host" }\n`,
      });
      const n = build(YAML);
      const f = failure(dial(n, "host", "tcp", "127.0.0.1", 2222));
      expect(f).toMatchObject({ leg: 1, direction: "forward", disposition: { kind: "dropped", machine: "guest", chain: "input" } });
      const d = f.disposition;
      if (d.kind === "dropped") expect(d.rule?.origin.span.line).toBe(lineOf(YAML, "no host"));
      expectOk(dial(n, "lan-pc", "tcp", "192.168.1.10", 2222), "guest", "sshd");
    });
  });

  describe("the forward is a host socket: it crosses the host's INPUT", () => {
    const YAML = topo({
      hostFirewall: `    firewall:\n      input:\n        rules:\n          - { action: drop, proto: tcp, dport: 2222, comment: "block forward port" }\n`,
    });
    const net = build(YAML);
    it("an INPUT drop on host port 2222 blocks the LAN client", () => {
      const f = failure(dial(net, "lan-pc", "tcp", "192.168.1.10", 2222));
      expect(f).toMatchObject({ leg: 0, direction: "forward", disposition: { kind: "dropped", machine: "host", chain: "input" } });
      const d = f.disposition;
      if (d.kind === "dropped") expect(d.rule?.origin.span.line).toBe(lineOf(YAML, "block forward port"));
      const ans = query(net, "lan-pc -> guest:22/tcp");
      expect(ans.verdict).toBe("unreachable");
      const viaForward = ans.closest.find((c) => c.legs[0]!.packet.dport === 2222);
      expect(viaForward && failure(viaForward).disposition).toMatchObject({ kind: "dropped", machine: "host", chain: "input" });
    });
    it("the query's headline reason names the INPUT rule on the forward (the only way in), not the private 10.0.2.15", () => {
      const ans = query(net, "lan-pc -> guest:22/tcp");
      expect(ans.reason).toMatch(/INPUT/);
      expect(ans.reason).toContain(`inline.yaml:${lineOf(YAML, "block forward port")}:`);
    });
    it("and the host's own loopback client too (no lo accept before it)", () => {
      const f = failure(dial(net, "host", "tcp", "127.0.0.1", 2222));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "host", chain: "input" });
      expect(query(net, "host -> guest:22/tcp").verdict).toBe("unreachable");
    });
  });

  describe("forward bound to hostIp 127.0.0.1", () => {
    const net = build(topo({ hostIp: "127.0.0.1" }));
    it("is not reachable from the LAN: connection refused on the host", () => {
      expect(query(net, "lan-pc -> guest:22/tcp").verdict).toBe("unreachable");
      const f = failure(dial(net, "lan-pc", "tcp", "192.168.1.10", 2222));
      expect(f.disposition).toMatchObject({ kind: "refused", machine: "host" });
    });
    it("is reachable from the host itself", () => {
      expect(query(net, "host -> guest:22/tcp").verdict).toBe("reachable");
      expectOk(dial(net, "host", "tcp", "127.0.0.1", 2222), "guest", "sshd");
    });
    it("the host dialing its LAN address on 2222 is refused too", () => {
      expect(failure(dial(net, "host", "tcp", "192.168.1.10", 2222)).disposition).toMatchObject({ kind: "refused", machine: "host" });
    });
  });

  describe("guest service bound to 127.0.0.1 behind a forward", () => {
    const net = build(topo({ guestBind: "127.0.0.1" }));
    it("is unreachable: the relayed connection arrives at 10.0.2.15", () => {
      const a = dial(net, "host", "tcp", "127.0.0.1", 2222);
      const f = failure(a);
      expect(f).toMatchObject({ leg: 1, direction: "forward", disposition: { kind: "refused", machine: "guest" } });
      expect(a.legs[0]!.forward.disposition).toMatchObject({ kind: "delivered", machine: "host" });
      const ans = query(net, "host -> guest:22/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.reason).toMatch(/127\.0\.0\.1/);
      expect(ans.reason).toMatch(/10\.0\.2\.15/);
    });
    it("the explanation says the connect succeeds and is then closed, never 'refused'", () => {
      const ans = query(net, "host -> guest:22/tcp");
      expect(ans.reason).toMatch(/accepts the connection/);
      expect(ans.reason).not.toMatch(/refused/i);
    });
  });

  describe("a forward whose guest port is closed", () => {
    it("the first leg is accepted by the host's forward socket; the relayed leg is refused at the guest", () => {
      const net = build(topo().replace("guestPort: 22 }", "guestPort: 2200 }"));
      const a = dial(net, "lan-pc", "tcp", "192.168.1.10", 2222);
      expect(a.legs[0]!.forward.disposition).toMatchObject({ kind: "delivered", machine: "host" });
      expect(a.legs[0]!.reply?.disposition).toMatchObject({ kind: "delivered", machine: "lan-pc" });
      expect(failure(a)).toMatchObject({ leg: 1, direction: "forward", disposition: { kind: "refused", machine: "guest" } });
    });
  });

  describe("forward bound to the host's LAN address", () => {
    const net = build(topo({ hostIp: "192.168.1.10" }));
    it("the LAN reaches it; the host's 127.0.0.1:2222 is refused", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 2222), "guest", "sshd");
      expect(failure(dial(net, "host", "tcp", "127.0.0.1", 2222)).disposition).toMatchObject({ kind: "refused", machine: "host" });
    });
  });

  describe("outbound NAT traffic is the host talking: the host's OUTPUT chain applies", () => {
    const YAML = topo({
      hostFirewall: `    firewall:\n      output:\n        rules:\n          - { action: drop, proto: tcp, dport: 80, comment: "no web out" }\n`,
    });
    const net = build(YAML);
    it("a host OUTPUT drop on tcp/80 blocks guest -> web:80", () => {
      const f = failure(dial(net, "guest", "tcp", "203.0.113.80", 80));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "host", chain: "output" });
      const d = f.disposition;
      if (d.kind === "dropped") expect(d.rule?.origin.span.line).toBe(lineOf(YAML, "no web out"));
      expect(query(net, "guest -> web:80/tcp").verdict).toBe("unreachable");
    });
  });

  describe("two NAT VMs", () => {
    const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  vm1:
    vm: { on: host, adapters: [ { mode: nat } ] }
    services: [ { name: ssh1, proto: tcp, port: 22 } ]
  vm2:
    vm: { on: host, adapters: [ { mode: nat } ] }
    services: [ { name: ssh2, proto: tcp, port: 22 } ]
`;
    const net = build(YAML);
    it("both are 10.0.2.15", () => {
      for (const name of ["vm1", "vm2"]) {
        const m = net.machines.find((x) => x.name === name)!;
        const eth0 = m.interfaces.find((i) => i.name === "eth0")!;
        expect(eth0.addrs.map((x) => formatIP(x.ip))).toEqual(["10.0.2.15"]);
      }
    });
    it("cannot reach each other", () => {
      expect(query(net, "vm1 -> vm2:22/tcp").verdict).toBe("unreachable");
      expect(query(net, "vm2 -> vm1:22/tcp").verdict).toBe("unreachable");
      expect(query(net, "vm1 -> vm2/icmp").verdict).toBe("unreachable");
    });
    it("vm1 dialing 10.0.2.15 reaches itself, not vm2", () => {
      expectOk(dial(net, "vm1", "tcp", "10.0.2.15", 22), "vm1", "ssh1");
    });
    it("with a forward on vm2, vm1 reaches it through the host's address (VM -> host, then the forward)", () => {
      const n = build(
        YAML.replace(
          "vm: { on: host, adapters: [ { mode: nat } ] }\n    services: [ { name: ssh2",
          "vm: { on: host, adapters: [ { mode: nat, forwards: [ { hostPort: 2222, guestPort: 22 } ] } ] }\n    services: [ { name: ssh2",
        ),
      );
      const a = dial(n, "vm1", "tcp", "192.168.1.10", 2222);
      expectOk(a, "vm2", "ssh2");
      expect(query(n, "vm1 -> vm2:22/tcp").verdict).toBe("reachable");
      expect(failure(dial(n, "vm1", "tcp", "10.0.2.15", 2222)).disposition).toMatchObject({ kind: "refused", machine: "vm1" });
    });
  });

  describe("10.0.2.2 and the host's loopback (localhostReachable)", () => {
    const hostServices = `    services:\n      - { name: lo-app, proto: tcp, port: 8000, bind: 127.0.0.1 }\n      - { name: any-app, proto: tcp, port: 8001, bind: 0.0.0.0 }\n`;
    it("default (VirtualBox 7): 10.0.2.2 does not reach the host's loopback service", () => {
      const net = build(topo({ hostServices }));
      const f = failure(dial(net, "guest", "tcp", "10.0.2.2", 8000));
      expect(f.disposition).toMatchObject({ kind: "engine-loopback-off", machine: "guest-nat" });
      expect(query(net, "guest -> host:8000/tcp").verdict).toBe("unreachable");
      expect(query(net, "guest -> 10.0.2.2:8000/tcp").verdict).toBe("unreachable");
    });
    it("default: every connection to 10.0.2.2 fails, even to a 0.0.0.0 service", () => {
      const net = build(topo({ hostServices }));
      expect(failure(dial(net, "guest", "tcp", "10.0.2.2", 8001)).disposition).toMatchObject({ kind: "engine-loopback-off" });
    });
    it("default: a host service bound to 0.0.0.0 stays reachable through the host's LAN address", () => {
      const net = build(topo({ hostServices }));
      expectOk(dial(net, "guest", "tcp", "192.168.1.10", 8001), "host", "any-app");
      expect(query(net, "guest -> host:8001/tcp").verdict).toBe("reachable");
    });
    it("explicit localhostReachable: false behaves as the default", () => {
      const net = build(topo({ hostServices, localhostReachable: false }));
      expect(query(net, "guest -> host:8000/tcp").verdict).toBe("unreachable");
    });
    it("localhostReachable: true: 10.0.2.2 reaches the host's 127.0.0.1 service", () => {
      const net = build(topo({ hostServices, localhostReachable: true }));
      const a = dial(net, "guest", "tcp", "10.0.2.2", 8000);
      expectOk(a, "host", "lo-app");
      const last = a.legs[a.legs.length - 1]!;
      expect(pkt(last.packet)).toMatchObject({ dst: "127.0.0.1", dport: 8000 });
      expect(query(net, "guest -> host:8000/tcp").verdict).toBe("reachable");
    });
  });

  describe("a forward with an empty host IP is IPv4 only", () => {
    const net = build(topo());
    it("the host's IPv4 LAN address works", () => {
      expectOk(dial(net, "lan-pc", "tcp", "192.168.1.10", 2222), "guest", "sshd");
    });
    it("dialing the host's IPv6 address on that port is refused", () => {
      const f = failure(dial(net, "lan-pc", "tcp", "fd00::10", 2222));
      expect(f).toMatchObject({ leg: 0, direction: "forward", disposition: { kind: "refused", machine: "host" } });
    });
    it("and [::1]:2222 from the host is refused", () => {
      expect(failure(dial(net, "host", "tcp", "::1", 2222)).disposition).toMatchObject({ kind: "refused", machine: "host" });
    });
  });

  describe("ICMP", () => {
    const net = build(topo());
    it("guest ping to the internet works", () => {
      const ans = query(net, "guest -> web/icmp");
      expect(ans.verdict).toBe("reachable");
      expect(ans.attempt?.outcome).toMatchObject({ kind: "ok", machine: "web" });
    });
    it("host ping to the guest does not", () => {
      expect(query(net, "host -> guest/icmp").verdict).toBe("unreachable");
      expect(dial(net, "host", "icmp", "10.0.2.15").ok).toBe(false);
    });
    it("the LAN cannot ping the guest either", () => {
      expect(query(net, "lan-pc -> guest/icmp").verdict).toBe("unreachable");
    });
  });

  describe("outbound", () => {
    const net = build(topo());
    it("guest -> web:80 leaves as a new connection of the host, masqueraded by the router", () => {
      const a = dial(net, "guest", "tcp", "203.0.113.80", 80);
      expectOk(a, "web", "httpd");
      const last = a.legs[a.legs.length - 1]!;
      expect(last.from).toBe("host");
      expect(pkt(last.packet)).toMatchObject({ src: "192.168.1.10", dst: "203.0.113.80", dport: 80 });
      const d = last.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet).src).toBe("203.0.113.2");
    });
    it("the host's 10.0.2.0/24 is private to VirtualBox: host -> 10.0.2.15:22 is unreachable", () => {
      const ans = query(net, "host -> 10.0.2.15:22/tcp");
      expect(ans.verdict).toBe("unreachable");
    });
  });
});
