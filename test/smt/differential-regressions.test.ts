/**
 * Bugs found while building the Z3 engine and its differential test, each kept
 * as a named case: both engines must give the expected verdict, and Z3 must
 * decide (never `unknown`) on these small topologies.
 */
import { afterAll, describe, expect, it } from "vitest";
import { parseQuery } from "../../src/ir/query.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { shutdown } from "../../src/smt/solver.js";
import { build } from "../sim/helpers.js";
import { decisionText } from "../../src/ir/decision.js";
import { both } from "./both.js";

afterAll(() => shutdown());

describe("regressions found by the differential test and the Z3 models test (2026-11-23)", () => {
  it("a reply's source port is restored from the original destination port, not the source port (conntrack un-NAT)", async () => {
    // Z3 first got every TCP exchange wrong here: the symbolic settle() restored the reply's
    // sport from the original sport, so the reply never matched the client's socket.
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  a: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: web, port: 80 } ]
`);
    await both(net, "a -> b:80/tcp", "reachable");
    await both(net, "a -> 192.168.1.20:80/tcp", "reachable");
  });

  it("a routing loop between two forwarding hosts is decided, not cut off by the branch bound", async () => {
    // shrunk by fast-check (seed 20261123): h0 routes the LAN via h1, h1 routes everything via h0.
    // Each trip round the loop forked the path again until 200,000 branches: `unknown`.
    // (The kernel refuses h0's route at the connected route's metric 0: it has metric 10 now, and loses as before.)
    const net = build(`
segments: { lan0: 192.168.10.0/24, internet: 203.0.113.0/24 }
machines:
  h0:
    interfaces: { eth0: { segment: lan0, addresses: [192.168.10.10/24] } }
    routes: [ { to: 192.168.10.0/24, via: 192.168.10.11, metric: 10 } ]
    ip_forward: true
    nat: [ { action: masquerade } ]
  h1:
    interfaces: { eth0: { segment: lan0, addresses: [192.168.10.11/24] } }
    routes: [ { to: default, via: 192.168.10.10 } ]
    ip_forward: true
  gw:
    interfaces:
      lan0: { segment: lan0, addresses: [192.168.10.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.1/24] }
    router: { wan: wan0 }
`);
    const smt = await both(net, "h0 -> h0/icmp", "reachable");
    expect(smt.stats.forks).toBeLessThan(10_000);
    await both(net, "h0 -> h1:80/tcp", "unreachable");
  });

  it("an IPv4-mapped bind and a v6only :: on the same port both listen (no RCH032), each for its family", async () => {
    // found when the generator learned mapped binds: the checker called this a clash (EADDRINUSE),
    // but Linux's ipv6_rcv_saddr_equal() lets a v6only wildcard coexist with an IPv4-mapped bind.
    const net = build(`
segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
machines:
  a: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } } }
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
    services:
      - { name: v4, port: 5432, bind: "::ffff:192.168.1.20" }
      - { name: v6, port: 5432, bind: "::", v6only: true }
`);
    await both(net, "a -> 192.168.1.20:5432/tcp", "reachable");
    await both(net, "a -> [fd00::20]:5432/tcp", "reachable");
    const sim = exhaustive(net, (parseQuery("a -> 192.168.1.20:5432/tcp") as { ok: true; query: never }).query);
    expect(sim.attempt?.outcome).toMatchObject({ kind: "ok", socket: { owner: "v4" } });
  });

  it("a source-port rule blocks only its ports: another source port gets through", async () => {
    // the mutant that ignored sport matches in the Z3 encoding survived 300 generated topologies
    // until rules were generated with fewer conditions; this is the smallest case it gets wrong.
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: sshd, port: 22 } ]
    firewall: { input: { rules: [ { action: drop, proto: tcp, sport: 40000 } ] } }
`);
    const smt = await both(net, "pc -> server:22/tcp", "reachable");
    expect(smt.dial?.sport).not.toBe(40000);
    await both(net, "pc -> 192.168.1.10:22/tcp", "reachable");
  });
});

describe("Z3 explains an unreachable answer when candidate paths exist but none is feasible (2026-11-23)", () => {
  it("two source-port rules that together cover every source port: the unsat core names the two INPUT rules", async () => {
    const yaml = `
segments: { lan: 192.168.1.0/24 }
machines:
  pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: sshd, port: 22 } ]
    firewall:
      input:
        rules:
          - { action: drop, proto: tcp, dport: 22, sport: 1024-30000 }
          - { action: drop, proto: tcp, sport: 30001-65535 }
`;
    const net = build(yaml);
    const smt = await both(net, "pc -> server:22/tcp", "unreachable");
    expect(smt.stats.paths).toBeGreaterThan(0);
    expect(smt.cores?.[0]).toMatchObject({ machine: "server", socket: "sshd" });
    // rule-level labels: the two rules together, each with its file:line:col (with the socket's port, when Z3 names it)
    expect(smt.cores?.[0]?.decisions.map(decisionText)).toEqual(
      expect.arrayContaining([`server's INPUT input rule 1 (${net.file}:11:13)`, `server's INPUT input rule 2 (${net.file}:12:13)`]),
    );
    // one rule fewer and a source port gets through
    const open = build(yaml.replace("          - { action: drop, proto: tcp, sport: 30001-65535 }\n", ""));
    const ok = await both(open, "pc -> server:22/tcp", "reachable");
    expect(ok.dial!.sport).toBeGreaterThan(30000);
  });
});

describe("rp_filter strict and loose differ in both engines (a mutant treating strict as loose survived the generator; 2026-11-23)", () => {
  // the client sends out of an address-less eth1 with its eth0 address as source: the server
  // receives on eth1 a packet whose route back leaves by eth0
  const yaml = `
segments: { a: 10.0.1.0/24, b: 10.0.2.0/24 }
machines:
  client:
    interfaces:
      eth0: { segment: a, addresses: [10.0.1.20/24] }
      eth1: { segment: b }
    routes: [ { to: 10.0.1.10/32, dev: eth1 } ]
  server:
    interfaces:
      eth0: { segment: a, addresses: [10.0.1.10/24] }
      eth1: { segment: b, addresses: [10.0.2.10/24] }
    rp_filter: 1
    services: [ { name: web, port: 80 } ]
`;
  it("strict (1): the asymmetric path is dropped", async () => {
    await both(build(yaml), "client -> 10.0.1.10:80/tcp", "unreachable");
  });
  it("loose (2): the same path is accepted", async () => {
    await both(build(yaml.replace("rp_filter: 1", "rp_filter: 2")), "client -> 10.0.1.10:80/tcp", "reachable");
  });
});
