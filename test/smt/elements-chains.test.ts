/**
 * Symbolic firewall chains, matches, socket lookup, neighbour resolution and solicited-node groups
 * (src/smt/elements.ts) on hand-made chains and machines, checked against the simulator's
 * elements (src/sim/elements.ts) at concrete ports and addresses, and for the per-rule
 * conditions (evalChainByRuleS) against the rule each condition names.
 */
import { describe, expect, it } from "vitest";
import { ip4, ip6, prefixOf, type IP } from "../../src/net/addr.js";
import type { Chain, Iface, Machine, Match, Network, Origin, Rule, Socket } from "../../src/ir/types.js";
import { evalChain, lookupSocket, matches } from "../../src/sim/elements.js";
import {
  evalChainByRuleS,
  evalChainS,
  lookupSocketS,
  matchesS,
  NeighbourIndex,
  RULE_LEVEL_MAX,
  solicitedNodeS,
  type SMatchContext,
  type SPacket,
} from "../../src/smt/elements.js";
import { ac, and, evaluate, FALSE, TRUE, type AV, type Cases, type F } from "../../src/smt/term.js";
import { openMachine } from "./open-machine.js";

const O = (what: string): Origin => ({ span: { file: "t.yaml", line: 1, col: 1 }, what });
const ctx: SMatchContext = { state: "new", dnat: FALSE, in: "eth0" };
const tcpVar: SPacket = {
  proto: "tcp",
  src: ac(ip4("10.0.0.5")),
  dst: ac(ip4("10.0.0.1")),
  sport: { k: "c", n: 40000 },
  dport: { k: "v", name: "dport" },
};
const ev = (f: F, dport: number) => evaluate(f, { dst: ip4("10.0.0.1"), dport, sport: 40000 });
const rule = (match: Match, action: Rule["action"], what: string): Rule => ({ match, action, origin: O(what) });
const chain = (policy: Chain["policy"], rules: Rule[], policyOrigin?: Origin): Chain => ({
  name: "input",
  policy,
  rules,
  ...(policyOrigin ? { policyOrigin } : {}),
});
const simAccepts = (c: Chain, dport: number) =>
  evalChain(c, { proto: "tcp", src: ip4("10.0.0.5"), dst: ip4("10.0.0.1"), sport: 40000, dport }, { state: "new", in: "eth0" }).action ===
  "accept";
const PORTS = [1, 20, 22, 25, 30, 80, 443, 8080];

describe("evalChainS / evalChainByRuleS", () => {
  it("leaves out rules that cannot match and numbers the others by their place in the chain", () => {
    const c = chain("accept", [rule({ proto: "udp" }, "drop", "udp drop"), rule({ dport: { lo: 22, hi: 22 } }, "drop", "ssh drop")]);
    const conds = evalChainByRuleS(c, tcpVar, ctx);
    expect(conds.length).toBe(1);
    expect(conds[0]!.rule).toEqual({ index: 2, origin: O("ssh drop") });
    for (const p of PORTS) expect(ev(conds[0]!.f, p), `${p}`).toBe(simAccepts(c, p));
  });

  it("ends the chain at a rule that always matches", () => {
    const c = chain("drop", [
      rule({ dport: { lo: 22, hi: 22 } }, "drop", "ssh drop"),
      rule({}, "accept", "accept all"),
      rule({ dport: { lo: 80, hi: 80 } }, "drop", "www drop"),
    ]);
    const conds = evalChainByRuleS(c, tcpVar, ctx);
    expect(conds.map((x) => x.rule)).toEqual([{ index: 1, origin: O("ssh drop") }]);
    for (const p of PORTS) {
      expect(ev(evalChainS(c, tcpVar, ctx), p), `${p}`).toBe(simAccepts(c, p));
      expect(ev(and(...conds.map((x) => x.f)), p), `${p}`).toBe(simAccepts(c, p));
    }
    // a drop policy decided by an always-matching drop rule: named by that rule
    const d = chain("accept", [rule({ dport: { lo: 22, hi: 22 } }, "accept", "ssh"), rule({}, "drop", "drop all")], O("pol"));
    const dc = evalChainByRuleS(d, tcpVar, ctx);
    expect(dc.map((x) => x.rule)).toEqual([{ index: 2, origin: O("drop all") }]);
    expect(dc[0]!.policy).toBe(undefined);
    for (const p of PORTS) expect(ev(dc[0]!.f, p), `${p}`).toBe(simAccepts(d, p));
  });

  it("folds a chain with no rule left to its policy", () => {
    const c = chain("accept", [rule({ proto: "udp" }, "drop", "udp drop"), rule({ dport: { lo: 22, hi: 22 } }, "accept", "ssh")]);
    expect(evalChainS(c, tcpVar, ctx)).toEqual(TRUE);
    expect(evalChainS(chain("drop", [rule({ proto: "icmp" }, "accept", "ping")]), tcpVar, ctx)).toEqual(FALSE);
  });

  it("lets an earlier accept rule win over a later drop rule (first match)", () => {
    const c = chain("accept", [
      rule({ dport: { lo: 22, hi: 22 } }, "accept", "ssh"),
      rule({ dport: { lo: 20, hi: 30 } }, "drop", "low drop"),
    ]);
    const conds = evalChainByRuleS(c, tcpVar, ctx);
    expect(conds.map((x) => x.rule?.index)).toEqual([2]);
    for (const p of PORTS) expect(ev(conds[0]!.f, p), `${p}`).toBe(simAccepts(c, p));
    expect(ev(conds[0]!.f, 22)).toBe(true);
    expect(ev(conds[0]!.f, 25)).toBe(false);
  });

  it("under a drop policy, accepts exactly what some accept rule matches first", () => {
    const c = chain(
      "drop",
      [
        rule({ dport: { lo: 25, hi: 25 } }, "drop", "smtp drop"),
        rule({ dport: { lo: 22, hi: 22 } }, "accept", "ssh"),
        rule({ dport: { lo: 20, hi: 30 } }, "drop", "low drop"),
        rule({ dport: { lo: 80, hi: 80 } }, "accept", "www"),
      ],
      O("input policy"),
    );
    const conds = evalChainByRuleS(c, tcpVar, ctx);
    const pol = conds.find((x) => x.policy !== undefined)!;
    expect(pol.policy).toEqual({ origin: O("input policy") });
    expect(pol.rule).toBe(undefined);
    for (const p of PORTS) {
      expect(ev(pol.f, p), `${p}`).toBe(p === 22 || p === 80);
      expect(ev(and(...conds.map((x) => x.f)), p), `${p}`).toBe(simAccepts(c, p));
      expect(ev(evalChainS(c, tcpVar, ctx), p), `${p}`).toBe(simAccepts(c, p));
    }
  });

  it("keeps a chain of more than RULE_LEVEL_MAX symbolic rules as one condition", () => {
    const rules = Array.from({ length: RULE_LEVEL_MAX + 6 }, (_, i) =>
      rule({ dport: { lo: 100 + i, hi: 100 + i } }, i % 3 === 0 ? "accept" : "drop", `r${i}`),
    );
    const c = chain("accept", rules);
    const conds = evalChainByRuleS(c, tcpVar, ctx);
    expect(conds.length).toBe(1);
    expect(conds[0]!.rule).toBe(undefined);
    for (const p of [1, 99, 100, 101, 102, 103, 150, 151, 169, 170, 200]) expect(ev(conds[0]!.f, p), `${p}`).toBe(simAccepts(c, p));
  });
});

describe("matchesS: a negated condition still needs its field", () => {
  const simCtx = { state: "new" as const };
  it("does not match a negated IPv4 prefix on an IPv6 packet", () => {
    const m: Match = { not: { src: prefixOf(ip4("10.0.0.0"), 8) } };
    const p6: SPacket = {
      proto: "tcp",
      src: ac(ip6("2001:db8::1")),
      dst: { k: "v", v: 6 },
      sport: { k: "c", n: 1 },
      dport: { k: "c", n: 2 },
    };
    expect(matches(m, { proto: "tcp", src: ip6("2001:db8::1"), dst: ip6("2001:db8::2"), sport: 1, dport: 2 }, simCtx)).toBe(false);
    expect(matchesS(m, p6, { state: "new", dnat: FALSE })).toEqual(FALSE);
  });

  it("does not match a negated input interface without one", () => {
    const m: Match = { not: { in: "eth0" } };
    expect(matches(m, { proto: "tcp", src: ip4("10.0.0.5"), dst: ip4("10.0.0.1"), sport: 1, dport: 2 }, simCtx)).toBe(false);
    expect(matchesS(m, tcpVar, { state: "new", dnat: FALSE })).toEqual(FALSE);
    expect(matchesS(m, tcpVar, { state: "new", dnat: FALSE, in: "eth1" })).toEqual(TRUE);
  });

  it("does not match a negated port on ICMP", () => {
    const m: Match = { not: { dport: { lo: 22, hi: 22 } } };
    const icmp: SPacket = {
      proto: "icmp",
      src: ac(ip4("10.0.0.5")),
      dst: ac(ip4("10.0.0.1")),
      sport: { k: "c", n: 7 },
      dport: { k: "c", n: 0 },
    };
    expect(matches(m, { proto: "icmp", src: ip4("10.0.0.5"), dst: ip4("10.0.0.1"), sport: 7, dport: 0 }, simCtx)).toBe(false);
    expect(matchesS(m, icmp, { state: "new", dnat: FALSE })).toEqual(FALSE);
  });
});

const lo: Iface = { name: "lo", segment: null, addrs: [{ ip: ip4("127.0.0.1"), len: 8 }], origin: O("lo") };
const host = (name: string, addrs: string[], sockets: Socket[] = []): Machine =>
  openMachine({
    name,
    kind: "host",
    origin: O(name),
    interfaces: [
      lo,
      {
        name: "eth0",
        segment: "s",
        addrs: addrs.map((a) => ({ ip: a.includes(":") ? ip6(a) : ip4(a), len: a.includes(":") ? 64 : 24 })),
        origin: O(`${name} eth0`),
      },
    ],
    routes: [],
    sockets,
  });
const sock = (owner: string, bind: string, extra: Partial<Socket> = {}): Socket => ({
  owner,
  proto: "tcp",
  bind: bind.includes(":") ? ip6(bind) : ip4(bind),
  port: 80,
  v6only: false,
  role: { kind: "service" },
  origin: O(owner),
  ...extra,
});

function at<T>(cases: Cases<T>, dst: IP, dport: number): T {
  const hits = cases.filter(([c]) => evaluate(c, { dst, dport, sport: 40000 }));
  expect(hits.length).toBe(1);
  return hits[0]![1];
}

describe("lookupSocketS", () => {
  it("prefers a specific address, then a bound device, then the packet's family, then the socket listed first", () => {
    const orders: Socket[][] = [
      [
        sock("wild", "0.0.0.0"),
        sock("dual", "::"),
        sock("dev", "0.0.0.0", { device: "eth0" }),
        sock("spec", "10.0.0.1"),
        sock("wild2", "0.0.0.0"),
      ],
      [sock("wild", "0.0.0.0"), sock("wild2", "0.0.0.0"), sock("wild3", "0.0.0.0"), sock("spec6", "2001:db8::1")],
      [sock("dual", "::"), sock("wild", "0.0.0.0"), sock("mapped", "::ffff:10.0.0.1"), sock("dual2", "::")],
      [sock("mapped", "::ffff:10.0.0.1"), sock("spec", "10.0.0.1"), sock("dev", "::", { device: "eth1" }), sock("wild", "0.0.0.0")],
    ];
    for (const sockets of orders) {
      const m = host("m", ["10.0.0.1", "10.0.0.2", "2001:db8::1"], sockets);
      for (const [fam, dsts] of [
        [4, ["10.0.0.1", "10.0.0.2"]],
        [6, ["2001:db8::1", "2001:db8::5"]],
      ] as const) {
        const dstVar: AV = { k: "v", v: fam };
        for (const inIface of ["eth0", "eth1"]) {
          const cases = lookupSocketS(m, { ...tcpVar, dst: dstVar }, inIface);
          for (const d of dsts) {
            const dst = fam === 4 ? ip4(d) : ip6(d);
            for (const port of [80, 81]) {
              const want = lookupSocket(m, { proto: "tcp", src: ip4("10.0.0.5"), dst, sport: 40000, dport: port }, inIface);
              expect(at(cases, dst, port)?.owner, `${sockets.map((s) => s.owner).join(",")} ${d} ${inIface} ${port}`).toBe(want?.owner);
            }
          }
        }
      }
    }
  });
});

describe("NeighbourIndex", () => {
  it("answers for a fixed next hop with the owner a keep function keeps", () => {
    const a = host("a", ["10.0.0.1"]);
    const b = host("b", ["10.0.0.2"]);
    const net = { file: "t.yaml", machines: [a, b], segments: [] } as Network;
    const idx = new NeighbourIndex(net);
    const kept = idx.resolve("s", ac(ip4("10.0.0.2")), "a", () => true);
    expect(kept.length).toBe(1);
    expect(kept[0]![0]).toEqual(TRUE);
    expect(kept[0]![1]?.machine).toBe(b);
    expect(idx.resolve("s", ac(ip4("10.0.0.2")), "a", (m) => m !== b)).toEqual([]);
    expect(idx.resolve("s", ac(ip4("10.0.0.2")), "a")[0]![1]?.machine).toBe(b);
  });
});

describe("solicitedNodeS", () => {
  it("is ff02::1:ffXX:XXXX of a fixed target, ff02::1:ff00:0 of an open one", () => {
    expect(solicitedNodeS(ac(ip6("2001:db8::12:3456")))).toEqual(ac(ip6("ff02::1:ff12:3456")));
    expect(solicitedNodeS({ k: "v", v: 6 })).toEqual(ac(ip6("ff02::1:ff00:0")));
  });
});
