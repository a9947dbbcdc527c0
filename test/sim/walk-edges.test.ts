/**
 * The walk's edges (src/sim/walk.ts), asserted on the trace: what a refusal lists as near misses
 * (the same port on another address or device, a DNAT only on another interface), the device a
 * local packet is matched against by SO_BINDTODEVICE, NAT PREROUTING that looped-back packets skip,
 * a routing loop's end, the route and receive steps an explanation prints, and IPv6 neighbour
 * discovery's two halves. Written for survivors of the mutation run over src/sim (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import { machineIndex } from "../../src/ir/types.js";
import { samePacket, walk } from "../../src/sim/walk.js";
import type { Attempt, Packet, Step } from "../../src/sim/types.js";
import { build, dial, ip } from "./helpers.js";

const net = build(`segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] }, wan: 203.0.113.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] }, eth1: { segment: wan, addresses: [203.0.113.10/24] } }
    services: [ { name: lo-only, proto: tcp, port: 8080, bind: 127.0.0.1 }, { name: dev, proto: tcp, port: 9000, device: eth0 }, { name: w, proto: tcp, port: 8081 } ]
    nat: [ { action: dnat, chain: prerouting, in: eth1, proto: tcp, dport: 80, to: 192.168.1.10, toPort: 8081 } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24, "fd00::11/64"] } }
    routes: [ { to: 10.8.0.0/16, via: 192.168.1.12 } ]
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.12/24] } }
    ip_forward: true
    routes: [ { to: 10.8.0.0/16, via: 192.168.1.13 } ]
  d:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.13/24] } }
    ip_forward: true
    routes: [ { to: 10.8.0.0/16, via: 192.168.1.12 } ]
  e:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.14/24] } }
    services: [ { name: w, proto: tcp, port: 8081 } ]
    nat: [ { action: dnat, chain: prerouting, proto: tcp, dport: 80, to: 192.168.1.14, toPort: 8081 } ]
`);

/** The failure, with its near misses by owner and its DNAT hint by interface. */
const refusal = (a: Attempt) => {
  if (a.outcome.kind !== "failed") return `ok ${a.outcome.machine} ${a.outcome.socket?.owner}`;
  const d = a.outcome.disposition;
  if (d.kind !== "refused") return d;
  return { machine: d.machine, near: d.near?.map((s) => s.owner), dnatOnlyOn: d.dnatOnlyOn && (d.dnatOnlyOn.iface ?? "(no interface)") };
};

describe("a refusal names its near misses", () => {
  it("the same port bound elsewhere (127.0.0.1), and nothing else", () => {
    expect(refusal(dial(net, "b", "tcp", "192.168.1.10", 8080))).toEqual({ machine: "a", near: ["lo-only"], dnatOnlyOn: undefined });
    expect(refusal(dial(net, "b", "udp", "192.168.1.10", 8080))).toEqual({ machine: "a", near: [], dnatOnlyOn: undefined });
  });
  it("a DNAT of the port that only applies on another interface", () => {
    expect(refusal(dial(net, "b", "tcp", "192.168.1.10", 80))).toEqual({ machine: "a", near: [], dnatOnlyOn: "eth1" });
    expect(refusal(dial(net, "b", "tcp", "192.168.1.10", 81))).toEqual({ machine: "a", near: [], dnatOnlyOn: undefined });
  });
});

describe("SO_BINDTODEVICE and local traffic (the device that owns the destination, lo only for loopback)", () => {
  it("a listener bound to eth0 takes the machine's own connection to eth0's address, not to 127.0.0.1 or eth1's", () => {
    expect(refusal(dial(net, "a", "tcp", "192.168.1.10", 9000))).toBe("ok a dev");
    expect(refusal(dial(net, "a", "tcp", "127.0.0.1", 9000))).toEqual({ machine: "a", near: ["dev"], dnatOnlyOn: undefined });
    expect(refusal(dial(net, "a", "tcp", "203.0.113.10", 9000))).toEqual({ machine: "a", near: ["dev"], dnatOnlyOn: undefined });
    expect(refusal(dial(net, "b", "tcp", "192.168.1.10", 9000))).toBe("ok a dev");
  });
});

describe("nat PREROUTING sees what arrives, not what loops back", () => {
  it("a DNAT without an interface translates a neighbour's connection, not the machine's own", () => {
    expect(refusal(dial(net, "b", "tcp", "192.168.1.14", 80))).toBe("ok e w");
    expect(refusal(dial(net, "e", "tcp", "192.168.1.14", 80))).toEqual({ machine: "e", near: [], dnatOnlyOn: undefined });
  });
});

describe("a routing loop", () => {
  it("ends where the hop limit runs out, at one of the two routers", () => {
    const a = dial(net, "b", "tcp", "10.8.0.1", 22);
    expect(a.outcome).toMatchObject({ kind: "failed", leg: 0, direction: "forward" });
    expect(a.outcome.kind === "failed" && a.outcome.disposition).toEqual({ kind: "loop", machine: "c" });
    const hops = a.legs[0]!.forward.steps.filter((s) => s.kind === "transmit").length;
    expect(hops).toBe(65);
  });
});

describe("the steps an explanation prints", () => {
  const brief = (steps: readonly Step[]) =>
    steps.map((s) =>
      s.kind === "route"
        ? `route ${s.machine} ${s.local ? "local" : "out"}${s.via ? " via" : ""}`
        : s.kind === "receive"
          ? `receive ${s.machine} ${s.iface}`
          : `${s.kind} ${s.machine}`,
    );
  it("across the LAN: the sender's route out, the receiver's local route; no unnat without NAT", () => {
    const a = dial(net, "b", "tcp", "192.168.1.10", 8081);
    expect(brief(a.legs[0]!.forward.steps)).toEqual([
      "originate b",
      "route b out",
      "filter b",
      "transmit b",
      "receive a eth0",
      "route a local",
      "filter a",
      "deliver a",
    ]);
    expect(brief(a.legs[0]!.reply!.steps)).toEqual([
      "originate a",
      "route a out",
      "filter a",
      "transmit a",
      "receive b eth0",
      "route b local",
      "filter b",
    ]);
  });
  it("through a gateway: the route says via", () => {
    const a = dial(net, "b", "tcp", "10.8.0.1", 22);
    expect(brief(a.legs[0]!.forward.steps).slice(0, 2)).toEqual(["originate b", "route b out via"]);
  });
  it("to itself: a local route, then received on lo", () => {
    const a = dial(net, "a", "tcp", "127.0.0.1", 8080);
    expect(brief(a.legs[0]!.forward.steps)).toEqual(["originate a", "route a local", "filter a", "receive a lo", "filter a", "deliver a"]);
  });
});

describe("IPv6 neighbour discovery: which half a filter drops (semantics.md 3)", () => {
  const lab = (cIn: string, cOut: string, sIn: string, sOut: string) =>
    build(`segments: { lan: { subnets: ["fd00::/64"] } }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::20/64"] } }
    firewall: { input: { policy: accept, rules: [ ${cIn} ] }, output: { policy: accept, rules: [ ${cOut} ] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::10/64"] } }
    services: [ { name: w, proto: tcp, port: 80, bind: "::" } ]
    firewall: { input: { policy: accept, rules: [ ${sIn} ] }, output: { policy: accept, rules: [ ${sOut} ] } }
`);
  const nd = "proto: icmp, state: [untracked]";
  const seen = ([cIn, cOut, sIn, sOut]: readonly [string, string, string, string]) => {
    const a = dial(lab(cIn, cOut, sIn, sOut), "c", "tcp", "fd00::10", 80);
    if (a.outcome.kind === "ok") return "ok";
    const d = a.outcome.disposition;
    // the rule that drops it is cited (its origin), or the chain's policy
    const cite =
      d.kind === "no-neighbour" && d.filtered ? (d.filtered.rule ? " (rule)" : d.filtered.policyOrigin ? " (policy)" : " (?)") : "";
    return d.kind === "no-neighbour" && d.filtered
      ? `${d.machine}: ${d.filtered.machine} ${d.filtered.chain} ${d.filtered.what}${cite}`
      : d.kind;
  };
  it.each([
    ["nothing dropped", ["", "", "", ""], "ok"],
    ["c's OUTPUT drops its solicitation", ["", `{ action: drop, ${nd}, dst: "ff02::/16" }`, "", ""], "c: c output solicitation (rule)"],
    ["s's INPUT drops the solicitation", ["", "", `{ action: drop, ${nd} }`, ""], "c: s input solicitation (rule)"],
    ["s's OUTPUT drops its advertisement", ["", "", "", `{ action: drop, ${nd}, dst: "fd00::20" }`], "c: s output advertisement (rule)"],
    ["c's INPUT drops the advertisement", [`{ action: drop, ${nd} }`, "", "", ""], "c: c input advertisement (rule)"],
    // the solicitation that got in left s an entry for c: s's answer needs no discovery of its own
    ["s's OUTPUT drops only its own solicitations", ["", "", "", `{ action: drop, ${nd}, dst: "ff02::/16" }`], "ok"],
  ] as const)("%s", (_what, chains, want) => {
    expect(seen(chains)).toBe(want);
  });
});

describe("conntrack's packet identity and a walk's defaults", () => {
  const p: Packet = { proto: "tcp", src: ip("192.168.1.11"), dst: ip("192.168.1.10"), sport: 40000, dport: 80 };
  it("samePacket compares all five fields", () => {
    expect(samePacket(p, { ...p })).toBe(true);
    for (const other of [
      { proto: "udp" as const },
      { src: ip("192.168.1.12") },
      { dst: ip("192.168.1.12") },
      { sport: 40001 },
      { dport: 81 },
    ])
      expect([other, samePacket(p, { ...p, ...other })]).toEqual([other, false]);
  });
  it("a walk given no neighbour set makes its own (IPv6 discovery needs one)", () => {
    const machines = machineIndex(net);
    const six: Packet = { proto: "tcp", src: ip("fd00::11"), dst: ip("fd00::10"), sport: 40000, dport: 8081 };
    const t = walk({ net, machines, ct: new Map() }, machines.get("b")!, six);
    expect(t.disposition).toMatchObject({ kind: "refused", machine: "a" });
  });
});

describe("no route after the client's own DNAT (nat OUTPUT): the SYN is rerouted, and only then", () => {
  const lab = build(`segments: { lan: 192.168.1.0/24, far: 192.168.2.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: far, addresses: [192.168.2.20/24] } }
    routes: [ { to: 192.168.1.0/24, via: 192.168.2.1 } ]
    nat: [ { action: dnat, chain: output, proto: tcp, dport: 81, to: 10.9.9.9, toPort: 80 } ]
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] }, eth1: { segment: far, addresses: [192.168.2.1/24] } }
    ip_forward: true
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: w, proto: tcp, port: 80 } ]
`);
  it("rerouted at the client; a server's missing route back is not", () => {
    const r = dial(lab, "c", "tcp", "192.168.1.10", 81);
    expect(r.outcome).toEqual({
      kind: "failed",
      leg: 0,
      direction: "forward",
      disposition: { kind: "no-route", machine: "c", dst: ip("10.9.9.9"), rerouted: true },
    });
    const back = dial(lab, "c", "tcp", "192.168.1.10", 80);
    expect(back.outcome).toEqual({
      kind: "failed",
      leg: 0,
      direction: "reply",
      disposition: { kind: "no-route", machine: "s", dst: ip("192.168.2.20") },
    });
  });
});

describe("a routed lab: rp_filter, a wildcard UDP answer, a NAT engine without chains", () => {
  const lab = build(`segments: { lan: 192.168.1.0/24, far: 192.168.2.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: far, addresses: [192.168.2.20/24] } }
    routes: [ { to: default, via: 192.168.2.1 } ]
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] }, eth1: { segment: far, addresses: [192.168.2.1/24] } }
    ip_forward: true
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    rp_filter: 2
    services: [ { name: w, proto: tcp, port: 80 } ]
  srv2:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24, 192.168.1.51/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: d, proto: udp, port: 53 } ]
  guest:
    vm: { on: srv2, adapters: [ { mode: nat } ] }
`);
  it("loose rp_filter drops a source the machine has no route back to at all", () => {
    const a = dial(lab, "pc", "tcp", "192.168.1.10", 80);
    expect(a.outcome.kind === "failed" && a.outcome.disposition).toEqual({
      kind: "rp-filter",
      machine: "srv",
      iface: "eth0",
      src: ip("192.168.2.20"),
      mode: 2,
    });
  });
  it("a wildcard UDP server answers from its route's source, which the client that dialed the other address refuses", () => {
    const a = dial(lab, "pc", "udp", "192.168.1.51", 53);
    expect(a.outcome).toMatchObject({
      kind: "failed",
      direction: "reply",
      disposition: { kind: "reply-mismatch", machine: "pc", expectedMachine: "pc" },
    });
    expect(dial(lab, "pc", "udp", "192.168.1.11", 53).ok).toBe(true);
  });
  it("a router forwards by a route that is not local, and a NAT engine crosses no filter chain", () => {
    const routed = dial(lab, "pc", "udp", "192.168.1.11", 53);
    expect(
      routed.legs[0]!.forward.steps.filter((s) => s.machine === "r").map((s) => (s.kind === "route" ? `route ${s.local}` : s.kind)),
    ).toEqual(["receive", "route false", "filter", "transmit"]);
    const g = dial(lab, "guest", "udp", "192.168.1.11", 53);
    expect(g.ok).toBe(true);
    const engine = g.legs.flatMap((l) => [...l.forward.steps, ...(l.reply?.steps ?? [])]).filter((s) => s.machine.endsWith("-nat"));
    expect(engine.length).toBeGreaterThan(0);
    expect(engine.filter((s) => s.kind === "filter")).toEqual([]);
  });
});

describe("pings, which the kernel (or a NAT engine) answers itself", () => {
  const lab = build(`segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm: { on: host, adapters: [ { mode: nat } ] }
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
`);
  const walked = (a: Attempt) => a.legs.map((l) => l.forward.steps.map((s) => `${s.kind} ${s.machine}`));
  it("a LAN ping is delivered by the kernel, after INPUT", () => {
    const a = dial(lab, "b", "icmp", "192.168.1.10");
    expect(a.ok).toBe(true);
    expect(walked(a)).toEqual([
      ["originate b", "route b", "filter b", "transmit b", "receive host", "route host", "filter host", "deliver host"],
    ]);
  });
  it("a guest's IPv4 ping to its gateway is answered by the engine; to the LAN the engine pings as the host", () => {
    expect(walked(dial(lab, "guest", "icmp", "10.0.2.2"))).toEqual([
      ["originate guest", "route guest", "filter guest", "transmit guest", "receive guest-nat", "route guest-nat", "deliver guest-nat"],
    ]);
    const lan = dial(lab, "guest", "icmp", "192.168.1.11");
    expect([lan.ok, walked(lan).map((l) => l.at(-1))]).toEqual([true, ["receive guest-nat", "deliver b"]]);
  });
});

describe("libslirp with the host's loopback closed drops the answer to a client on the host's loopback", () => {
  it("the host's own UDP to its forward fails on the way back; a LAN client's is answered", () => {
    const lab = build(`segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm: { on: host, adapters: [ { mode: nat, localhostReachable: false, forwards: [ { name: dns, proto: udp, hostPort: 5353, guestPort: 53 } ] } ] }
    services: [ { name: d, proto: udp, port: 53 } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
`);
    const own = dial(lab, "host", "udp", "127.0.0.1", 5353);
    expect(own.outcome).toMatchObject({
      kind: "failed",
      leg: 1,
      direction: "reply",
      disposition: { kind: "engine-loopback-off", machine: "guest-nat" },
    });
    expect(dial(lab, "b", "udp", "192.168.1.10", 5353).ok).toBe(true);
  });
});
