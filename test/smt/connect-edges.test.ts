/**
 * The corners of Z3's exchanges (src/smt/connect.ts) that the differential property's generated
 * topologies rarely reach, found by mutation testing (docs/mutation.md): a dial to the any
 * address, a delivery to another port than the one asked for, the shadowed one of two UDP
 * forwards, a wildcard UDP server with no route back, and the bound on legs. Each case asks both
 * engines (Z3 and the exhaustive simulator) for the verdict docs/semantics.md gives (not measured
 * in namespaces here: the kernel regressions cover the same rules for the simulator).
 */
import { afterAll, describe, it } from "vitest";
import { MAX_LEGS } from "../../src/ir/dial.js";
import { shutdown } from "../../src/smt/solver.js";
import { build } from "../sim/helpers.js";
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
    // relays r1..rN, each to the next one's port 9000, the last to srv's service
    const chain = (n: number) => {
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
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
${relays.join("\n")}
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.99/24] } }
    services: [ { name: end, port: 9000 } ]
`);
    };
    // the client's own leg and one per relay
    // dialed at r1's address (anything that answers there, through the relays): the client's own leg and one per relay
    await both(chain(MAX_LEGS - 1), "c -> 192.168.1.21:9000/tcp", "reachable");
    await both(chain(MAX_LEGS), "c -> 192.168.1.21:9000/tcp", "unreachable");
  });
});
