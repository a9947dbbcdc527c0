/**
 * UDP exchanges: a datagram and its answer (semantics.md 1 for the socket, 4 for
 * conntrack), and a UDP port forward of a VirtualBox NAT adapter (semantics.md 5:
 * forwards carry TCP and UDP).
 */
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/net/addr.js";
import { build, dial, expectOk, failure, pkt, query } from "./helpers.js";

const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services:
      - { name: dns, proto: udp, port: 53, bind: 0.0.0.0 }
      - { name: tcp-only, proto: tcp, port: 54 }
      - { name: lo-dns, proto: udp, port: 55, bind: 127.0.0.1 }
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          # reachable: with it off (VirtualBox's default) libslirp drops the answer to a loopback client (semantics.md 5)
          localhostReachable: true
          forwards: [ { name: dns, proto: udp, hostPort: 5353, guestPort: 53 } ]
    services: [ { name: named, proto: udp, port: 53 } ]
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    firewall:
      input:
        policy: drop
        rules: [ { action: accept, state: [established, related] } ]
`;
const net = build(YAML);

describe("UDP", () => {
  it("a UDP service answers (semantics.md 1, 4: the answer is established for the client's stateful INPUT)", () => {
    const a = dial(net, "lan-pc", "udp", "192.168.1.10", 53);
    expectOk(a, "server", "dns");
    const r = a.legs[0]!.reply!;
    expect(r.disposition.kind === "delivered" && pkt(r.disposition.packet)).toMatchObject({
      proto: "udp",
      src: "192.168.1.10",
      sport: 53,
      dst: "192.168.1.20",
      dport: 40000,
    });
    const inStep = r.steps.find((s) => s.kind === "filter" && s.machine === "lan-pc" && s.chain === "input");
    expect(inStep).toMatchObject({ state: "established", action: "accept" });
    expect(query(net, "lan-pc -> server:53/udp").verdict).toBe("reachable");
  });
  it("a TCP listener does not answer UDP on the same port (semantics.md 1)", () => {
    expect(failure(dial(net, "lan-pc", "udp", "192.168.1.10", 54)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    expect(query(net, "lan-pc -> server:54/udp").verdict).toBe("unreachable");
  });
  it("a UDP socket bound to 127.0.0.1 does not answer the LAN (semantics.md 1)", () => {
    expect(failure(dial(net, "lan-pc", "udp", "192.168.1.10", 55)).disposition).toMatchObject({ kind: "refused", machine: "server" });
    expectOk(dial(net, "server", "udp", "127.0.0.1", 55), "server", "lo-dns");
  });
  it("a UDP query through a VirtualBox NAT forward (semantics.md 5)", () => {
    const ans = query(net, "lan-pc -> guest:53/udp");
    expect(ans.verdict).toBe("reachable");
    expect(ans.dial && { dst: formatIP(ans.dial.dst), dport: ans.dial.dport }).toEqual({ dst: "192.168.1.30", dport: 5353 });
    const a = dial(net, "lan-pc", "udp", "192.168.1.30", 5353);
    expectOk(a, "guest", "named");
    expect(pkt(a.legs[1]!.packet)).toMatchObject({ proto: "udp", src: "192.168.1.20", dst: "10.0.2.15", dport: 53 });
  });
  it("the host's own UDP query through the forward on 127.0.0.1 arrives from 10.0.2.2 (semantics.md 5)", () => {
    const a = dial(net, "host", "udp", "127.0.0.1", 5353);
    expectOk(a, "guest", "named");
    expect(pkt(a.legs[1]!.packet).src).toBe("10.0.2.2");
    expect(query(net, "host -> guest:53/udp").verdict).toBe("reachable");
  });
  it("a TCP query does not use the UDP forward", () => {
    expect(failure(dial(net, "lan-pc", "tcp", "192.168.1.30", 5353)).disposition).toMatchObject({ kind: "refused", machine: "host" });
  });
});
