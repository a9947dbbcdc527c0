/**
 * The exchange's edges (src/sim/connect.ts), asserted on the attempt itself: which query an
 * attempt meets, where a chain of relays gives up, and the ICMP error a failure sends back (which
 * machine it leaves from, what NAT it undoes, when there is none). Written for the survivors of the
 * mutation run over src/sim (docs/mutation.md): the symptom tests read these only through the
 * symptom a client sees, which several different traces share.
 */
import { describe, expect, it } from "vitest";
import { meetsQuery } from "../../src/sim/connect.js";
import { MAX_LEGS } from "../../src/ir/dial.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { formatIP } from "../../src/net/addr.js";
import type { Attempt, Packet, Trace } from "../../src/sim/types.js";
import { build, dial, failure } from "./helpers.js";

const q = (text: string): Query => {
  const r = parseQuery(text);
  if (!r.ok) throw new Error(r.message);
  return r.query;
};
const show = (p: Packet) => `${p.proto} ${formatIP(p.src)}:${p.sport} -> ${formatIP(p.dst)}:${p.dport}`;
/** The error's way back, one line a step: enough to tell where it left from and what NAT it undid. */
const way = (t: Trace | undefined) =>
  t && [
    ...t.steps.map((s) =>
      s.kind === "originate" || s.kind === "receive"
        ? `${s.kind} ${s.machine} ${show(s.packet)}`
        : s.kind === "unnat" || s.kind === "nat"
          ? `${s.kind} ${s.machine} ${show(s.before)} => ${show(s.after)}`
          : s.kind === "filter"
            ? `${s.machine} ${s.chain} ${s.state} ${s.action}`
            : `${s.kind} ${s.machine}`,
    ),
    `${t.disposition.kind} ${t.disposition.machine}`,
  ];

const LAN = `segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: web, proto: tcp, port: 80 } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
`;

describe("meetsQuery: an attempt answers the query only where it ended as asked", () => {
  const net = build(LAN);
  it("a failed attempt meets no query, also one naming an address", () => {
    const failed = dial(net, "b", "tcp", "192.168.1.10", 81);
    expect(failed.ok).toBe(false);
    for (const text of ["b -> a:81/tcp", "b -> 192.168.1.10:81/tcp", "b -> 192.168.1.10/icmp"])
      expect([text, meetsQuery(q(text), failed)]).toEqual([text, false]);
  });
  it("a delivered attempt meets an address query, and a machine query only at that machine and port", () => {
    const ok = dial(net, "b", "tcp", "192.168.1.10", 80);
    expect(ok.ok).toBe(true);
    expect(meetsQuery(q("b -> 192.168.1.10:80/tcp"), ok)).toBe(true);
    expect(meetsQuery(q("b -> a:80/tcp"), ok)).toBe(true);
    expect(meetsQuery(q("b -> a:8080/tcp"), ok)).toBe(false);
    expect(meetsQuery(q("a -> b:80/tcp"), ok)).toBe(false);
    const ping = dial(net, "b", "icmp", "192.168.1.10");
    expect([meetsQuery(q("b -> a/icmp"), ping), meetsQuery(q("b -> b/icmp"), ping)]).toEqual([true, false]);
  });
});

describe("a chain of relays that never ends", () => {
  it(`gives up after ${MAX_LEGS} legs with a loop at the machine whose leg was last`, () => {
    const net = build(`segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    relays: [ { name: p, port: 8000, to: 192.168.1.11, toPort: 8000 } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
    relays: [ { name: p, port: 8000, to: 192.168.1.10, toPort: 8000 } ]
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.12/24] } }
`);
    const a = dial(net, "c", "tcp", "192.168.1.10", 8000);
    expect(a.legs).toHaveLength(MAX_LEGS);
    expect(a.legs.map((l) => l.from)).toEqual(["c", ...Array.from({ length: MAX_LEGS - 1 }, (_, i) => (i % 2 === 0 ? "a" : "b"))]);
    expect(a.outcome).toEqual({
      kind: "failed",
      leg: MAX_LEGS - 1,
      direction: "forward",
      disposition: { kind: "loop", machine: a.legs[MAX_LEGS - 1]!.from },
    });
  });
});

describe("the ICMP error a router sends about a forwarded packet (docs/semantics.md 4, 10)", () => {
  const forwards = `segments: { lan: 192.168.10.0/24, wan: 203.0.113.0/24 }
machines:
  out:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.9/24] } }
  r:
    interfaces: { lan0: { segment: lan, addresses: [192.168.10.1/24] }, wan0: { segment: wan, addresses: [203.0.113.2/24] } }
    router: { wan: wan0, forwards: [ { name: dns, proto: udp, port: 53, to: 192.168.10.5, toPort: 5353 }, { name: web, proto: tcp, port: 80, to: 192.168.10.5, toPort: 8080 } ] }
    firewall: { forward: { policy: accept, rules: [ { action: reject, proto: udp, dport: 5353 }, { action: reject, proto: tcp, dport: 8080 } ] } }
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.5/24] } }
    routes: [ { to: default, via: 192.168.10.1 } ]
    services: [ { name: d, proto: udp, port: 5353 }, { name: w, proto: tcp, port: 8080 } ]
`;
  it.each([
    ["udp", 53, 5353],
    ["tcp", 80, 8080],
  ] as const)("%s: rejected after the port forward's DNAT, the error undoes it on its way out", (proto, port, toPort) => {
    const a = dial(build(forwards), "out", proto, "203.0.113.2", port);
    expect(failure(a).disposition).toMatchObject({ kind: "rejected", machine: "r", chain: "forward" });
    expect(way(a.legs[0]!.errorBack)).toEqual([
      `originate r ${proto} 192.168.10.5:${toPort} -> 203.0.113.9:40000`,
      "route r",
      "r output related accept",
      `unnat r ${proto} 192.168.10.5:${toPort} -> 203.0.113.9:40000 => ${proto} 203.0.113.2:${port} -> 203.0.113.9:40000`,
      "transmit r",
      `receive out ${proto} 203.0.113.2:${port} -> 203.0.113.9:40000`,
      "route out",
      "out input related accept",
      "delivered out",
    ]);
  });

  it("a router with no route back to the client sends nothing: the error ends at the router", () => {
    const net = build(`segments: { lan: 192.168.10.0/24, mid: 10.1.0.0/24, dmz: 10.0.0.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
    routes: [ { to: default, via: 192.168.10.1 } ]
  r1:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.1/24] }, eth1: { segment: mid, addresses: [10.1.0.1/24] } }
    ip_forward: true
    routes: [ { to: 10.0.0.0/24, via: 10.1.0.2 } ]
  r2:
    interfaces: { eth0: { segment: mid, addresses: [10.1.0.2/24] }, eth1: { segment: dmz, addresses: [10.0.0.1/24] } }
    ip_forward: true
    firewall: { forward: { policy: accept, rules: [ { action: reject, proto: tcp, dport: 22 } ] } }
  srv:
    interfaces: { eth0: { segment: dmz, addresses: [10.0.0.2/24] } }
    services: [ { name: ssh, proto: tcp, port: 22 } ]
`);
    const a = dial(net, "pc", "tcp", "10.0.0.2", 22);
    expect(failure(a).disposition).toMatchObject({ kind: "rejected", machine: "r2", chain: "forward" });
    expect(a.legs[0]!.errorBack).toEqual({ steps: [], disposition: { kind: "no-route", machine: "r2", dst: { v: 4, n: 0xc0a80a14n } } });
  });
});

describe("failures that send no error back", () => {
  it("the client's own missing route: connect() fails at once, nothing is sent and nothing comes back", () => {
    const net = build(LAN);
    for (const proto of ["tcp", "udp"] as const) {
      const a: Attempt = dial(net, "b", proto, "10.9.9.9", 80);
      expect(failure(a)).toMatchObject({ leg: 0, direction: "forward", disposition: { kind: "no-route", machine: "b" } });
      expect(a.legs[0]!.forward.steps).toEqual([]);
      expect(a.legs[0]!.errorBack).toBeUndefined();
    }
  });
  it("a guest's UDP to its NAT gateway with the host's loopback closed: libslirp drops it without a word; its TCP gets net-unreachable", () => {
    const net = build(`segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: app, proto: udp, port: 8000 }, { name: app2, proto: tcp, port: 8000 } ]
  guest:
    vm: { on: host, adapters: [ { mode: nat } ] }
`);
    const udp = dial(net, "guest", "udp", "10.0.2.2", 8000);
    expect(failure(udp).disposition).toMatchObject({ kind: "engine-loopback-off" });
    expect(udp.legs[0]!.errorBack).toBeUndefined();
    const tcp = dial(net, "guest", "tcp", "10.0.2.2", 8000);
    expect(failure(tcp).disposition).toMatchObject({ kind: "engine-loopback-off" });
    expect(way(tcp.legs[0]!.errorBack)?.at(-1)).toBe("delivered guest");
  });
});
