/**
 * The corners of Z3's exchanges (src/smt/connect.ts) that the differential property's generated
 * topologies rarely reach, found by mutation testing (docs/mutation.md): a dial to the any
 * address, a delivery to another port than the one asked for, the shadowed one of two UDP
 * forwards, a wildcard UDP server with no route back, the bound on legs, TCP's ACK and UDP's lack
 * of one, a route with no source address. Each case asks both engines (Z3 and the exhaustive
 * simulator) for the verdict docs/semantics.md gives (not measured in namespaces here: the kernel
 * regressions cover the same rules for the simulator). Then what Z3 says beyond the verdict: the
 * decisions its unsat cores name, the witness of the cheapest path (Path.cost: 100 a leg, one per
 * decision), and the forks an all-services exploration counts for each service (classes.ts).
 */
import { afterAll, describe, expect, it } from "vitest";
import { decisionText } from "../../src/ir/decision.js";
import { MAX_LEGS } from "../../src/ir/dial.js";
import { formatIP } from "../../src/net/addr.js";
import { exploreServices, flowForksAtMost, serviceKey } from "../../src/smt/classes.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { build, q } from "../sim/helpers.js";
import { both } from "./both.js";

afterAll(() => shutdown());

describe("Z3's exchanges at their corners, against the simulator", () => {
  it("connect() to 0.0.0.0 or :: dials the loopback of that family; to ::ffff:a.b.c.d, IPv4", async () => {
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    services: [ { name: four, port: 22, bind: 127.0.0.1 }, { name: six, port: 23, bind: "::1", v6only: true } ]
`);
    await both(net, "a -> 0.0.0.0:22/tcp", "reachable");
    await both(net, "a -> 0.0.0.0:23/tcp", "unreachable");
    await both(net, "a -> [::]:23/tcp", "reachable");
    await both(net, "a -> [::]:22/tcp", "unreachable");
    await both(net, "a -> [::ffff:127.0.0.1]:22/tcp", "reachable");
  });

  it("a connection DNATed to another port of the target reaches the service there, not the one asked for", async () => {
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  m:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: 80, to: 192.168.1.20, toPort: 8080 } ]
    services: [ { name: app, port: 8080 } ]
`);
    await both(net, "c -> m:80/tcp", "unreachable");
    await both(net, "c -> m:8080/tcp", "reachable");
  });

  it("of two UDP forwards of one NAT engine to one guest port, only the last answers", async () => {
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  guest:
    vm: { on: host, adapters: [ { mode: nat, localhostReachable: true, forwards: [ { name: a, proto: udp, hostPort: 5353, guestPort: 53 }, { name: b, proto: udp, hostPort: 5354, guestPort: 53 } ] } ] }
    services: [ { name: dns, proto: udp, port: 53 } ]
`);
    await both(net, "host -> 127.0.0.1:5353/udp", "unreachable");
    await both(net, "host -> 127.0.0.1:5354/udp", "reachable");
  });

  it("a wildcard UDP server with no route back to the client does not answer", async () => {
    const net = build(`
segments: { lan: 192.168.1.0/24, far: 10.9.0.0/24 }
machines:
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] }, eth1: { segment: far, addresses: [10.9.0.1/24] } }
    ip_forward: true
  c:
    interfaces: { eth0: { segment: far, addresses: [10.9.0.5/24] } }
    routes: [ { to: default, via: 10.9.0.1 } ]
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: dns, proto: udp, port: 53 } ]
  t:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: dns, proto: udp, port: 53 } ]
`);
    await both(net, "c -> s:53/udp", "unreachable");
    await both(net, "c -> t:53/udp", "reachable");
  });

  it(`a chain of relays is followed for ${MAX_LEGS} legs, and no further`, async () => {
    const client = "  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }";
    // dialed at r1's address (anything that answers there, through the relays): the client's own leg and one per relay
    await both(relayChain(MAX_LEGS - 1, client), "c -> 192.168.1.21:9000/tcp", "reachable");
    await both(relayChain(MAX_LEGS, client), "c -> 192.168.1.21:9000/tcp", "unreachable");
  });

  it(`the host's leg a NAT engine opens for its guest counts against the ${MAX_LEGS} legs`, async () => {
    // found by the StrykerJS rerun of 2026-12-07 (docs/mutation.md: connect.ts 182): the guest's
    // own leg, the host's (libslirp's socket), then one per relay
    const client = `  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  guest: { vm: { on: host, adapters: [ { mode: nat } ] } }`;
    await both(relayChain(MAX_LEGS - 2, client), "guest -> 192.168.1.21:9000/tcp", "reachable");
    await both(relayChain(MAX_LEGS - 1, client), "guest -> 192.168.1.21:9000/tcp", "unreachable");
  });

  it("a TCP client's ACK that crosses a router as invalid (the SYN-ACK came back another way) is dropped by its invalid rule", async () => {
    // c reaches the LAN through h1, which drops what conntrack calls invalid; s answers through r2,
    // so h1 never sees the SYN-ACK and takes c's ACK as invalid (docs/semantics.md 4); t answers through h1
    const net = build(`
segments: { lan: 192.168.10.0/24, wan: 203.0.113.0/24 }
machines:
  h1:
    ip_forward: true
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.2/24] }, eth1: { segment: wan, addresses: [203.0.113.2/24] } }
    firewall: { forward: { rules: [ { action: drop, state: [invalid] } ] } }
  r2:
    ip_forward: true
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.3/24] }, eth1: { segment: wan, addresses: [203.0.113.4/24] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.10/24] } }
    routes: [ { to: default, via: 192.168.10.3 } ]
    services: [ { name: pg, port: 5432 } ]
  t:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.11/24] } }
    routes: [ { to: default, via: 192.168.10.2 } ]
    services: [ { name: pg, port: 5432 } ]
  c:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.3/24] } }
    routes: [ { to: 192.168.10.0/24, via: 203.0.113.2 } ]
`);
    await both(net, "c -> s:5432/tcp", "unreachable");
    await both(net, "c -> t:5432/tcp", "reachable");
  });

  it("a UDP exchange is the datagram and its answer: no further packet is sent (a rule dropping established packets out of the client)", async () => {
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    firewall: { output: { rules: [ { action: drop, state: [established] } ] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: dns, proto: udp, port: 53 }, { name: web, port: 80 } ]
`);
    await both(net, "c -> s:53/udp", "reachable");
    // TCP's ACK is established at c: dropped
    await both(net, "c -> s:80/tcp", "unreachable");
  });

  it("a route to a family the outgoing interface has no address of: connect() fails, no packet", async () => {
    const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: "fd00:9::/64", dev: eth0 } ]
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00:9::5/64"] } }
    services: [ { name: web, port: 80 } ]
`);
    await both(net, "c -> [fd00:9::5]:80/tcp", "unreachable");
    await both(net, "c -> s:80/tcp", "reachable");
  });
});

describe("Z3's unsat cores name the client's route and source address decisions", () => {
  const cores = async (yaml: string, text: string) => {
    const net = build(yaml);
    const smt = await both(net, text, "unreachable");
    expect(smt.stats.paths).toBeGreaterThan(0);
    return {
      file: net.file,
      cores: smt.cores?.map((c) => ({ machine: c.machine, socket: c.socket, decisions: c.decisions.map(decisionText) })),
    };
  };

  it("a route that takes the dialed address where a two-condition rule drops it", async () => {
    // the only way to r is 10.0.0.0/8 via r (DNATed there); c drops source ports 1024-30000, and
    // 30001-65535 to 10.0.0.0/8: only with the route's condition on the address is every port dropped
    const { file, cores: got } = await cores(
      `
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: 10.0.0.0/8, via: 192.168.1.1 } ]
    firewall:
      output:
        rules:
          - { action: drop, proto: tcp, dst: 192.168.1.0/24 }
          - { action: drop, proto: tcp, sport: 1024-30000 }
          - { action: drop, proto: tcp, dst: 10.0.0.0/8, sport: 30001-65535 }
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] } }
    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: 80, to: 192.168.1.1 } ]
    services: [ { name: web, port: 80 } ]
`,
      "c -> r:80/tcp",
    );
    expect(got?.[0]).toEqual({
      machine: "r",
      socket: "web",
      decisions: [
        "the query's ports and addresses",
        `c's route 10.0.0.0/8 via 192.168.1.1 dev eth0 (${file}:6:15)`,
        `c's OUTPUT output rule 2 (${file}:11:13)`,
        `c's OUTPUT output rule 3 (${file}:12:13)`,
      ],
    });
  });

  it("the source address of a dial to the machine itself (127.0.0.1 for 127/8, else the address dialed)", async () => {
    // a dial of c's own address has that address as its source, which rule 1 drops; a dial of
    // 127/8 has source 127.0.0.1, and rules 2 and 3 drop every source port to 127/8
    const { file, cores: got } = await cores(
      `
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: app, port: 80, bind: 0.0.0.0 } ]
    firewall:
      output:
        rules:
          - { action: drop, proto: tcp, src: 192.168.1.0/24 }
          - { action: drop, proto: tcp, dst: 127.0.0.0/8, sport: 30001-65535 }
          - { action: drop, proto: tcp, sport: 1024-30000 }
`,
      "c -> c:80/tcp",
    );
    expect(got?.[0]).toEqual({
      machine: "c",
      socket: "app",
      decisions: [
        "the query's ports and addresses",
        "c's source address selection",
        `c's OUTPUT output rule 2 (${file}:11:13)`,
        `c's OUTPUT output rule 3 (${file}:12:13)`,
      ],
    });
  });

  it("the source address of a wildcard UDP server's answer, where the client's address is still open", async () => {
    // c dials one of its own addresses (the source is the address dialed), and nat OUTPUT sends the
    // datagram to s; s answers 10.1.0.0/24 through c and has no route to 10.3.0.0/24. s drops source
    // ports 30001-65535 to 10.1.0.0/24 and 1024-30000 to anywhere: only with the answer's route
    // (its source address choice) is every port dropped. The dial of 192.168.1.10 is dropped outright.
    const { file, cores: got } = await cores(
      `
segments: { lan: 192.168.1.0/24, lan2: 10.1.0.0/24, lan3: 10.3.0.0/24 }
machines:
  c:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      eth1: { segment: lan2, addresses: [10.1.0.10/24, 10.1.0.11/24] }
      eth2: { segment: lan3, addresses: [10.3.0.10/24] }
    nat: [ { chain: output, action: dnat, proto: udp, dport: 53, to: 192.168.1.20 } ]
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: 10.1.0.0/24, via: 192.168.1.10 } ]
    services: [ { name: dns, proto: udp, port: 53, bind: 0.0.0.0 } ]
    firewall:
      output:
        rules:
          - { action: drop, proto: udp, dst: 192.168.1.10 }
          - { action: drop, proto: udp, dst: 10.1.0.0/24, dport: 30001-65535 }
          - { action: drop, proto: udp, dport: 1024-30000 }
`,
      "c -> s:53/udp",
    );
    expect(got?.map((c) => c.decisions)).toContainEqual([
      "the query's ports and addresses",
      "the source address of s's answer",
      `s's OUTPUT output rule 2 (${file}:18:13)`,
      `s's OUTPUT output rule 3 (${file}:19:13)`,
    ]);
  });
});

describe("Z3's witness takes the cheapest way (fewest legs, then fewest decisions)", () => {
  const dialOf = async (yaml: string, text: string) => {
    const smt = await both(build(yaml), text, "reachable");
    return `${formatIP(smt.dial!.dst)}:${smt.dial!.dport}`;
  };

  it("a service dialed directly rather than through a relay, and through the relay on its own LAN rather than one behind a router", async () => {
    const yaml = `
segments: { lan: 192.168.1.0/24, far: 10.9.0.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: 10.9.0.0/25, via: 192.168.1.1 } ]
  r:
    ip_forward: true
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] }, eth1: { segment: far, addresses: [10.9.0.1/24] } }
  near:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    relays: [ { port: 9000, to: 192.168.1.99, toPort: 80 }, { port: 9002, to: 192.168.1.98, toPort: 80 } ]
  far:
    interfaces: { eth0: { segment: far, addresses: [10.9.0.30/24] } }
    routes: [ { to: default, via: 10.9.0.1 } ]
    relays: [ { port: 9001, to: 192.168.1.99, toPort: 80 } ]
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.99/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: web, port: 80 } ]
    firewall: { input: { rules: [ { action: drop, proto: tcp, src: 192.168.1.10 } ] } }
  t:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.98/24] } }
    services: [ { name: web, port: 80 } ]
`;
    expect(await dialOf(yaml, "c -> t:80/tcp")).toBe("192.168.1.98:80");
    expect(await dialOf(yaml, "c -> s:80/tcp")).toBe("192.168.1.30:9000");
  });

  it("through a NAT engine: one leg rather than two, and of two ways through it the one with fewer decisions", async () => {
    // the guest's rules on 10.0.2.2 (the NAT gateway, standing for the host's loopback) add
    // conditions to that way's first packet; the host's LAN address is reached through the engine
    // too (two legs either way), or on the bridged adapter's LAN (one leg)
    const yaml = (bridged: boolean) => `
segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: sshd, port: 22, bind: 0.0.0.0 } ]
  guest:
    vm:
      on: host
      adapters: [ { mode: nat, localhostReachable: true }${bridged ? ", { mode: bridged, bridge: eth0, addresses: [192.168.1.50/24] }" : ""} ]
    firewall:
      output:
        rules:
          - { action: drop, proto: tcp, dst: 10.0.2.2, sport: 1024-1100, state: [new] }
          - { action: drop, proto: tcp, dst: 10.0.2.2, sport: 1200-1300, state: [new] }
          - { action: drop, proto: tcp, dst: 10.0.2.2, sport: 1400-1500, state: [new] }
`;
    expect(await dialOf(yaml(false), "guest -> host:22/tcp")).toBe("192.168.1.10:22");
    expect(await dialOf(yaml(true), "guest -> host:22/tcp")).toBe("192.168.1.10:22");
  });
});

describe("all services in one exploration: the forks below a delivery are counted for its service (classes.ts flowForksAtMost)", () => {
  const bound = (yaml: string, machines: string[], key: string) =>
    flowForksAtMost(exploreServices(build(yaml), "c", "tcp", new Set(machines), 1e7, Date.now() + 60_000), key);

  it("forks below one service's delivery are not counted against another service", () => {
    const yaml = (xRules: string) => `
segments: { lan: 192.168.1.0/24 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  x:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: a, port: 80 } ]
    firewall: { output: { rules: [ ${xRules} ] } }
  y:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    services: [ { name: b, port: 80 } ]
`;
    // x's answer forks on the client's source port only where x has a rule on it
    const plain = yaml("");
    const forking = yaml("{ action: drop, proto: tcp, dport: 1024-2000 }");
    const [x, y] = [serviceKey("x", 80), serviceKey("y", 80)];
    expect(bound(forking, ["x", "y"], x)).toBeGreaterThan(bound(plain, ["x", "y"], x));
    expect(bound(forking, ["x", "y"], y)).toBe(bound(plain, ["x", "y"], y));
  });

  it("forks below a relay's delivery count for the service the relay leads to: at least the per-flow exploration's", async () => {
    const yaml = `
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    firewall: { input: { rules: [ { action: drop, proto: tcp, src: 192.168.1.40, dport: 3000-3100 } ] } }
  y:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    services: [ { name: b, port: 80 } ]
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.40/24] } }
    relays: [ { port: 9000, to: 192.168.1.30, toPort: 80 } ]
    firewall: { output: { rules: [ { action: drop, proto: tcp, dport: 1024-2000 } ] } }
`;
    const flow = await decide(build(yaml), q("c -> y:80/tcp"), { witness: "any" });
    expect(bound(yaml, ["y"], serviceKey("y", 80))).toBeGreaterThanOrEqual(flow.stats.forks);
  });
});

/** `client` (YAML lines of machines) and relays r1..rN on one LAN, each to the next one's port 9000, the last to srv's service. */
function relayChain(n: number, client: string) {
  const ip = (k: number) => `192.168.1.${20 + k}`;
  const relays = Array.from(
    { length: n },
    (_, k) => `  r${k + 1}:
    interfaces: { eth0: { segment: lan, addresses: [${ip(k + 1)}/24] } }
    relays: [ { port: 9000, to: ${k + 1 < n ? ip(k + 2) : "192.168.1.99"}, toPort: 9000 } ]`,
  );
  return build(`
segments: { lan: 192.168.1.0/24 }
machines:
${client}
${relays.join("\n")}
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.99/24] } }
    services: [ { name: end, port: 9000 } ]
`);
}
