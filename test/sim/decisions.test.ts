/**
 * decisionOf (src/sim/walk.ts): every failing disposition the simulator can end a walk with names
 * its decision point in the vocabulary Z3's unsat cores use (ir/decision.ts), and a delivery names
 * none. Each kind is asserted whole: the explanation and the cause a user reads are built from it,
 * and test/smt/decision-vocabulary.test.ts checks that the two engines then say the same words.
 */
import { describe, expect, it } from "vitest";
import { decisionOf } from "../../src/sim/walk.js";
import { machineIndex } from "../../src/ir/types.js";
import type { Disposition } from "../../src/sim/types.js";
import { build, ip } from "./helpers.js";

const net = build(`segments: { lan: 192.168.1.0/24, wan: 203.0.113.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] }, eth1: { segment: wan, addresses: [203.0.113.10/24] } }
    firewall:
      input: { policy: drop, rules: [ { action: accept, proto: tcp, dport: 22 }, { action: reject, proto: tcp, dport: 23 } ] }
    nat: [ { action: masquerade, out: eth1 }, { action: masquerade, out: eth0 } ]
`);
const machines = machineIndex(net);
const a = machines.get("a")!;
const [, reject] = a.filter.input.rules;
const [, masq] = a.nat.postrouting;
const policy = a.filter.input.policyOrigin;
const packet = { proto: "tcp", src: ip("192.168.1.20"), dst: ip("192.168.1.10"), sport: 40000, dport: 23 } as const;

describe("decisionOf names the decision point of every failing disposition", () => {
  const cases: [string, Disposition, unknown][] = [
    ["delivered: none", { kind: "delivered", machine: "a", packet }, undefined],
    [
      "handed to a NAT engine's host: none",
      { kind: "engine-relay", machine: "a", host: "a", dst: ip("127.0.0.1"), dport: 22 } as Disposition,
      undefined,
    ],
    ["refused: the socket lookup", { kind: "refused", machine: "a", packet } as Disposition, { kind: "socket", machine: "a" }],
    [
      "dropped by the policy: the chain's policy, with its origin",
      { kind: "dropped", machine: "a", chain: "input", policyOrigin: policy! },
      { kind: "filter", machine: "a", chain: "input", policy: { origin: policy } },
    ],
    [
      "dropped with no origin to cite: the policy",
      { kind: "dropped", machine: "a", chain: "forward" },
      { kind: "filter", machine: "a", chain: "forward", policy: {} },
    ],
    [
      "rejected by a rule: its place in the chain, 1-based",
      { kind: "rejected", machine: "a", chain: "input", rule: reject!, packet },
      { kind: "filter", machine: "a", chain: "input", rule: { index: 2, origin: reject!.origin } },
    ],
    [
      "a rule of a machine the index does not hold: place 0",
      { kind: "rejected", machine: "elsewhere", chain: "input", rule: reject!, packet },
      { kind: "filter", machine: "elsewhere", chain: "input", rule: { index: 0, origin: reject!.origin } },
    ],
    ["no route", { kind: "no-route", machine: "a", dst: ip("10.9.9.9") }, { kind: "route", machine: "a" }],
    [
      "no neighbour: the segment",
      { kind: "no-neighbour", machine: "a", iface: "eth0", segment: "lan", nextHop: ip("192.168.1.99") } as Disposition,
      { kind: "neighbour", machine: "a", segment: "lan" },
    ],
    ["not forwarding", { kind: "not-forwarding", machine: "a", dst: ip("10.9.9.9") }, { kind: "not-forwarding", machine: "a" }],
    [
      "rp_filter: its mode",
      { kind: "rp-filter", machine: "a", iface: "eth0", src: ip("10.9.9.9"), mode: 2 },
      { kind: "rp-filter", machine: "a", mode: 2 },
    ],
    [
      "a martian leaving: departure",
      { kind: "martian", machine: "a", iface: "eth0", addr: ip("127.0.0.1"), which: "source", leaving: true } as Disposition,
      { kind: "martian", machine: "a", check: "departure" },
    ],
    [
      "an IPv6 link-local arriving: link-local",
      { kind: "martian", machine: "a", iface: "eth0", addr: ip("fe80::1"), which: "source" } as Disposition,
      { kind: "martian", machine: "a", check: "link-local" },
    ],
    [
      "an IPv6 loopback arriving: arrival",
      { kind: "martian", machine: "a", iface: "eth0", addr: ip("::1"), which: "source" } as Disposition,
      { kind: "martian", machine: "a", check: "arrival" },
    ],
    [
      "an IPv4 martian arriving: arrival",
      { kind: "martian", machine: "a", iface: "eth0", addr: ip("127.0.0.1"), which: "destination" } as Disposition,
      { kind: "martian", machine: "a", check: "arrival" },
    ],
    ["a loop: bounded by hops", { kind: "loop", machine: "a" }, { kind: "loop", machine: "a", bound: "hops" }],
    [
      "a NAT engine's gateway with the host's loopback closed: with the origin",
      { kind: "engine-loopback-off", machine: "a", origin: a.origin } as Disposition,
      { kind: "engine-loopback", machine: "a", origin: a.origin },
    ],
    [
      "a NAT engine with no connection for it",
      { kind: "engine-no-connection", machine: "a" },
      { kind: "engine-no-connection", machine: "a" },
    ],
    [
      "a NAT engine's own ICMPv6: the same",
      { kind: "engine-no-icmp6", machine: "a" } as Disposition,
      { kind: "engine-no-connection", machine: "a" },
    ],
    [
      "no source address: the client's",
      { kind: "no-source", machine: "a", iface: "eth0" },
      { kind: "source-address", machine: "a", role: "client" },
    ],
    [
      "a reply that is not the one expected",
      { kind: "reply-mismatch", machine: "a", expectedMachine: "a", expected: packet, got: packet } as Disposition,
      { kind: "reply-mismatch", machine: "a" },
    ],
    [
      "a masquerade with no address: the NAT rule's place, 1-based",
      { kind: "masquerade-no-address", machine: "a", iface: "eth0", rule: masq! },
      { kind: "nat", machine: "a", hook: "postrouting", rule: { index: 2, origin: masq!.origin } },
    ],
    [
      "a masquerade rule of a machine the index does not hold: place 0",
      { kind: "masquerade-no-address", machine: "elsewhere", iface: "eth0", rule: masq! },
      { kind: "nat", machine: "elsewhere", hook: "postrouting", rule: { index: 0, origin: masq!.origin } },
    ],
  ];
  it.each(cases)("%s", (_what, d, want) => {
    expect(decisionOf(d, machines)).toStrictEqual(want);
  });
});
