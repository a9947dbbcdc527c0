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
import { formatIP } from "../../src/net/addr.js";
import type { Attempt, Packet, Trace } from "../../src/sim/types.js";
import { build, dial, failure, q } from "./helpers.js";

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

describe("the error a client's own OUTPUT chain answers its SYN with (ownError)", () => {
  it("is a local packet back to the client that undoes the client's own DNAT (nat OUTPUT)", () => {
    const net = build(`segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    nat: [ { action: dnat, chain: output, proto: tcp, dport: 80, to: 192.168.1.11, toPort: 8080 } ]
    firewall: { output: { policy: accept, rules: [ { action: reject, proto: tcp, dport: 8080 } ] } }
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
    services: [ { name: s, proto: tcp, port: 8080 } ]
`);
    const a = dial(net, "a", "tcp", "192.168.1.11", 80);
    expect(failure(a).disposition).toMatchObject({ kind: "rejected", machine: "a", chain: "output" });
    expect(way(a.legs[0]!.errorBack)).toEqual([
      "originate a tcp 192.168.1.11:8080 -> 192.168.1.10:40000",
      "route a",
      "a output related accept",
      "unnat a tcp 192.168.1.11:8080 -> 192.168.1.10:40000 => tcp 192.168.1.11:80 -> 192.168.1.10:40000",
      "receive a tcp 192.168.1.11:80 -> 192.168.1.10:40000",
      "a input related accept",
      "delivered a",
    ]);
  });
});

describe("the error a server sends about a packet addressed to it", () => {
  // icmp_send: for a packet to a local address the error's source is the address it was sent to,
  // not the one the route back would pick (a router's is: its outgoing address, above)
  const net = (pcInput: string) =>
    build(`segments: { lan: 192.168.1.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    firewall: { input: { policy: accept, rules: [ ${pcInput} ] } }
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, 192.168.1.50/24] } }
    firewall: { input: { policy: accept, rules: [ { action: reject, proto: tcp, dport: 23 } ] } }
`);
  const back = (pcInput: string, proto: "udp" | "tcp", port: number) => {
    const a = dial(net(pcInput), "pc", proto, "192.168.1.50", port);
    const e = a.legs[0]!.errorBack!;
    return [failure(a).disposition.kind, e.disposition.kind, way(e)?.[0]];
  };
  it.each([
    ["udp", 9, "refused"],
    ["tcp", 23, "rejected"],
  ] as const)("%s (%s): from the dialed secondary address, so a client rule about the primary's ICMP lets it in", (proto, port, kind) => {
    const from50 = `originate srv ${proto} 192.168.1.50:${port} -> 192.168.1.20:40000`;
    expect(back("", proto, port)).toEqual([kind, "delivered", from50]);
    expect(back("{ action: drop, proto: icmp, src: 192.168.1.10 }", proto, port)).toEqual([kind, "delivered", from50]);
    expect(back("{ action: drop, proto: icmp, src: 192.168.1.50 }", proto, port)).toEqual([kind, "dropped", from50]);
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

describe("a guest behind its NAT engine, and the parts of an exchange", () => {
  // libslirp passes on a TCP reset but no ICMP error of its TCP, and no error of its UDP to the
  // host's loopback (types.ts Leg.errorSwallowed; test/regressions/kernel-slirp-loopback-error.test.ts)
  const lab = (hostRoutes: string) =>
    build(`segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ ${hostRoutes} ]
    firewall: { output: { policy: accept, rules: [ { action: reject, proto: udp, dport: 7 }, { action: drop, proto: tcp, dport: 25, state: [established] } ] } }
  guest:
    vm: { on: host, adapters: [ { mode: nat, localhostReachable: true, forwards: [ { name: a, proto: udp, hostPort: 5353, guestPort: 53 }, { name: b, proto: udp, hostPort: 5354, guestPort: 53 } ] } ] }
    services: [ { name: dns, proto: udp, port: 53 } ]
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] } }
    ip_forward: true
    routes: [ { to: 10.5.0.0/16, via: 192.168.1.99 } ]
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    firewall: { input: { policy: accept, rules: [ { action: reject, proto: tcp, dport: 23 }, { action: reject, proto: tcp, dport: 24, with: tcp-reset }, { action: drop, proto: tcp, dport: 26 } ] } }
    services: [ { name: smtp, proto: tcp, port: 25 } ]
`);
  const net = lab("{ to: default, via: 192.168.1.1 }");
  const row = (n: ReturnType<typeof build>, from: string, proto: "tcp" | "udp", dst: string, port: number) => {
    const a = dial(n, from, proto, dst, port);
    const last = a.legs.at(-1)!;
    const o = a.outcome;
    return {
      outcome: o.kind === "failed" ? `${o.direction} ${o.disposition.kind} ${o.disposition.machine}` : `ok ${o.machine}`,
      legs: a.legs.length,
      swallowed: last.errorSwallowed,
      errorBack: last.errorBack?.disposition.kind,
      ack: last.ack !== undefined,
      data: last.data !== undefined,
    };
  };
  const failed = (outcome: string, legs: number, swallowed: string | undefined, errorBack: string | undefined, ack = false) => ({
    outcome,
    legs,
    swallowed,
    errorBack,
    ack,
    data: false,
  });
  it.each([
    [
      "guest's TCP meeting an ICMP reject: the error is swallowed",
      "guest",
      "tcp",
      "192.168.1.30",
      23,
      failed("forward rejected srv", 2, "guest-nat", "delivered"),
    ],
    [
      "guest's TCP meeting a tcp-reset reject: the reset is passed on",
      "guest",
      "tcp",
      "192.168.1.30",
      24,
      failed("forward rejected srv", 2, undefined, "delivered"),
    ],
    [
      "guest's TCP through a router without a route: swallowed",
      "guest",
      "tcp",
      "10.9.0.1",
      22,
      failed("forward no-route r", 2, "guest-nat", "delivered"),
    ],
    [
      "guest's TCP through a router whose next hop never answers: swallowed",
      "guest",
      "tcp",
      "10.5.0.1",
      22,
      failed("forward no-neighbour r", 2, "guest-nat", "delivered"),
    ],
    ["guest's TCP dropped: nothing to swallow", "guest", "tcp", "192.168.1.30", 26, failed("forward dropped srv", 2, undefined, undefined)],
    [
      "guest's UDP to the host's loopback, nothing listening: swallowed",
      "guest",
      "udp",
      "10.0.2.2",
      9,
      failed("forward refused host", 2, "guest-nat", "delivered"),
    ],
    [
      "guest's UDP to the host's LAN address, nothing listening: passed on",
      "guest",
      "udp",
      "192.168.1.10",
      9,
      failed("forward refused host", 2, undefined, "delivered"),
    ],
    [
      "a UDP send its own OUTPUT rejects: send() fails, no error is walked",
      "host",
      "udp",
      "192.168.1.30",
      7,
      failed("forward rejected host", 1, undefined, undefined),
    ],
    [
      "TCP whose handshake ACK its own OUTPUT drops: fails at the ACK",
      "host",
      "tcp",
      "192.168.1.30",
      25,
      failed("ack dropped host", 1, undefined, undefined, true),
    ],
    [
      "the shadowed one of two UDP forwards to one guest port: the engine has no connection",
      "host",
      "udp",
      "127.0.0.1",
      5353,
      failed("reply engine-no-connection guest-nat", 1, undefined, undefined),
    ],
    [
      "the last of them answers; UDP has no ACK",
      "host",
      "udp",
      "127.0.0.1",
      5354,
      { outcome: "ok guest", legs: 2, swallowed: undefined, errorBack: undefined, ack: false, data: false },
    ],
    [
      "TCP: the handshake's ACK is walked, no data walk when every machine saw the request",
      "srv",
      "tcp",
      "192.168.1.30",
      25,
      { outcome: "ok srv", legs: 1, swallowed: undefined, errorBack: undefined, ack: true, data: false },
    ],
  ] as const)("%s", (_what, from, proto, dst, port, want) => {
    expect(row(net, from, proto, dst, port)).toEqual(want);
  });
  it("the host's own missing route fails at once (ENETUNREACH): nothing to swallow", () => {
    expect(row(lab(""), "guest", "tcp", "10.9.0.1", 22)).toEqual(failed("forward no-route host", 2, undefined, undefined));
  });
  it("a no-route leg's packet carries the unspecified source, as nothing was sent", () => {
    const a = dial(build(LAN), "b", "tcp", "10.9.9.9", 80);
    expect(a.legs[0]!.packet.src).toEqual({ v: 4, n: 0n });
  });
});

describe("the dial itself", () => {
  it("connect() to :: means ::1, to 0.0.0.0 means 127.0.0.1", () => {
    const net = build(`segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    services: [ { name: six, proto: tcp, port: 80, bind: "::1" }, { name: four, proto: tcp, port: 81, bind: 127.0.0.1 } ]
`);
    expect(dial(net, "a", "tcp", "::", 80).outcome).toMatchObject({ kind: "ok", machine: "a" });
    expect(dial(net, "a", "tcp", "0.0.0.0", 81).outcome).toMatchObject({ kind: "ok", machine: "a" });
    expect(dial(net, "a", "tcp", "::", 81).ok).toBe(false);
  });
  it("a route out of an interface with no address of the family: nothing is sent (NO_SOURCE_ADDRESS)", () => {
    const net = build(`segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: "fd00::/64", dev: eth0 } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24, "fd00::11/64"] } }
    services: [ { name: s, proto: tcp, port: 80 } ]
`);
    const a = dial(net, "a", "tcp", "fd00::11", 80);
    expect(a.outcome).toEqual({
      kind: "failed",
      leg: 0,
      direction: "forward",
      disposition: { kind: "no-source", machine: "a", iface: "eth0" },
    });
    expect([a.legs[0]!.forward.steps, a.legs[0]!.packet.src]).toEqual([[], { v: 6, n: 0n }]);
  });
  it("an unknown client is an internal error that names it", () => {
    expect(() => dial(build(LAN), "nobody", "tcp", "192.168.1.10", 80)).toThrow("internal: unknown machine nobody");
  });
});
