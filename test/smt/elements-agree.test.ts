/**
 * Element-level agreement (as microsoft/Zen checks its models): each simulator
 * element function and its symbolic twin give the same answer on random small
 * machines, chains and concrete packets. The symbolic side is built over a
 * packet whose destination and ports are the query's variables, then evaluated
 * (term.ts `evaluate`) under the concrete packet's values; a Cases result must
 * have exactly one alternative true, and its value must be the simulator's.
 *
 * Seed: FC_SEED (default 20261123); runs: AGREE_RUNS (default 300 per element).
 * fast-check prints the seed and the shrunk counterexample on a failure.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ip4, ip6, isLinkLocal6, isLoopback, isMartianDestination, prefixOf, sameIP, type IP, type Prefix } from "../../src/net/addr.js";
import type { Chain, Iface, Machine, Match, NatRule, NegatableMatch, Network, Origin, Route, Rule, Socket } from "../../src/ir/types.js";
import {
  applyNat,
  bindAccepts,
  evalChain,
  isLocal,
  lookupRoute,
  lookupSocket,
  matches,
  ndSource,
  relaySource,
  resolveNeighbour,
  selectSource,
  type MatchContext,
  type RelayRole,
} from "../../src/sim/elements.js";
import type { Packet } from "../../src/sim/types.js";
import {
  applyNatS,
  bindAcceptsS,
  evalChainByRuleS,
  evalChainS,
  isLinkLocal6S,
  isLocalS,
  isLoopbackS,
  isMartianDestinationS,
  lookupRouteS,
  lookupSocketS,
  matchesS,
  ndSourceS,
  NeighbourIndex,
  relaySourceS,
  resolveNeighbourS,
  RULE_LEVEL_MAX,
  selectSourceS,
  type SMatchContext,
  type SPacket,
} from "../../src/smt/elements.js";
import { and, bool, evaluate, type Assignment, type AV, type Cases, type F, type PV } from "../../src/smt/term.js";
import { openMachine } from "./open-machine.js";

const SEED = Number(process.env.FC_SEED ?? 20261123);
const RUNS = Number(process.env.AGREE_RUNS ?? 300);
const opts = { seed: SEED, numRuns: RUNS };

const origin = (what: string): Origin => ({ span: { file: "gen.yaml", line: 1, col: 1 }, what });

// small pools so that generated addresses, prefixes and ports collide often
const V4 = ["10.0.0.1", "10.0.0.2", "10.0.1.1", "192.168.1.10", "127.0.0.1", "127.0.0.5", "0.0.0.0", "255.255.255.255", "224.0.0.1"].map(
  ip4,
);
const V6 = ["::1", "fe80::1", "fe80::2", "2001:db8::1", "2001:db8:1::1", "::", "ff02::1", "::ffff:10.0.0.1"].map(ip6);
const LENS4 = [0, 8, 16, 24, 31, 32];
const LENS6 = [0, 10, 32, 48, 64, 127, 128];
const PORTS = [1, 22, 23, 80, 1024, 40000, 65535];

const ipArb = (v?: 4 | 6): fc.Arbitrary<IP> =>
  v === 4 ? fc.constantFrom(...V4) : v === 6 ? fc.constantFrom(...V6) : fc.constantFrom(...V4, ...V6);
const prefixArb: fc.Arbitrary<Prefix> = ipArb().chain((a) =>
  fc.constantFrom(...(a.v === 4 ? LENS4 : LENS6)).map((len) => prefixOf(a, len)),
);
const portRangeArb = fc
  .tuple(fc.constantFrom(...PORTS), fc.constantFrom(...PORTS))
  .map(([a, b]) => ({ lo: Math.min(a, b), hi: Math.max(a, b) }));
const IFACES = ["lo", "eth0", "eth1"];
const STATES = ["new", "established", "invalid", "untracked"] as const;

const negatableArb: fc.Arbitrary<NegatableMatch> = fc.record(
  {
    src: prefixArb,
    dst: prefixArb,
    sport: portRangeArb,
    dport: portRangeArb,
    in: fc.constantFrom(...IFACES),
    out: fc.constantFrom(...IFACES),
    origDst: prefixArb,
    origDport: portRangeArb,
  },
  { requiredKeys: [] },
);
const matchArb: fc.Arbitrary<Match> = fc
  .tuple(
    negatableArb,
    fc.record(
      {
        proto: fc.constantFrom("tcp", "udp", "icmp"),
        state: fc.subarray([...STATES, "related" as const], { minLength: 1 }),
        ctDnat: fc.boolean(),
        not: negatableArb,
      },
      { requiredKeys: [] },
    ),
  )
  .map(([yes, rest]) => ({ ...yes, ...rest }));
const ruleArb: fc.Arbitrary<Rule> = fc
  .tuple(matchArb, fc.constantFrom("accept", "drop", "reject"), fc.nat(99))
  .map(([match, action, i]) => ({ match, action, origin: origin(`input rule ${i}`) }));
const chainArb: fc.Arbitrary<Chain> = fc
  .tuple(fc.array(ruleArb, { maxLength: 6 }), fc.constantFrom("accept", "drop"))
  .map(([rules, policy]) => ({ name: "input", policy, policyOrigin: origin("input policy"), rules }));

const ifaceArb = (name: string): fc.Arbitrary<Iface> =>
  fc.tuple(fc.array(fc.tuple(ipArb(), fc.nat(8)), { maxLength: 3 }), fc.constantFrom("a", "b", null)).map(([addrs, segment]) => ({
    name,
    segment,
    addrs: addrs.map(([ip, k]) => ({ ip, len: (ip.v === 4 ? LENS4 : LENS6)[k % (ip.v === 4 ? LENS4 : LENS6).length]! })),
    origin: origin(`interface ${name}`),
  }));
const routeArb: fc.Arbitrary<Route> = fc
  .tuple(
    prefixArb,
    fc.option(ipArb(), { nil: undefined }),
    fc.constantFrom("eth0", "eth1"),
    fc.constantFrom("connected", "static"),
    fc.option(fc.constantFrom(0, 1, 100, 256, 1024), { nil: undefined }),
  )
  .map(([dst, via, dev, type, metric]) => ({
    dst,
    dev,
    type,
    ...(via && via.v === dst.v ? { via } : {}),
    ...(metric !== undefined ? { metric } : {}),
    origin: origin(`route ${dev}`),
  }));
const socketArb: fc.Arbitrary<Socket> = fc
  .record({
    proto: fc.constantFrom("tcp", "udp"),
    bind: fc.constantFrom(...V4, ...V6, ip6("::ffff:0.0.0.0")),
    port: fc.constantFrom(22, 80),
    v6only: fc.boolean(),
    device: fc.option(fc.constantFrom(...IFACES), { nil: undefined }),
  })
  .map(({ device, ...s }) => ({ ...s, owner: "svc", role: { kind: "service" }, origin: origin("service"), ...(device ? { device } : {}) }));
const natRuleArb: fc.Arbitrary<NatRule> = fc
  .tuple(
    matchArb,
    fc.oneof(
      fc.record({ kind: fc.constant("dnat" as const), to: ipArb(), toPort: fc.option(fc.constantFrom(...PORTS), { nil: undefined }) }),
      fc.record({ kind: fc.constant("snat" as const), to: ipArb() }),
      fc.constant({ kind: "masquerade" as const }),
    ),
  )
  .map(([match, a]) => ({
    match,
    action: a.kind === "dnat" && a.toPort === undefined ? { kind: "dnat", to: a.to } : a,
    origin: origin("nat rule"),
  }));

const machineArb = (name = "m"): fc.Arbitrary<Machine> =>
  fc
    .record({
      kind: fc.constantFrom("host", "router", "nat-engine"),
      eth0: ifaceArb("eth0"),
      eth1: ifaceArb("eth1"),
      routes: fc.array(routeArb, { maxLength: 5 }),
      sockets: fc.array(socketArb, { maxLength: 4 }),
    })
    .map(({ kind, eth0, eth1, routes, sockets }) =>
      openMachine(
        {
          name,
          kind,
          origin: origin(name),
          interfaces: [
            {
              name: "lo",
              segment: null,
              addrs: [
                { ip: ip4("127.0.0.1"), len: 8 },
                { ip: ip6("::1"), len: 128 },
              ],
              origin: origin("lo"),
            },
            eth0,
            eth1,
          ],
          routes,
          sockets,
        },
        { ipForward: true },
      ),
    );

/** A concrete packet; its destination and ports are what the symbolic packet leaves open. */
const packetArb: fc.Arbitrary<Packet> = fc
  .tuple(
    fc.constantFrom("tcp", "udp", "icmp"),
    fc.constantFrom(4, 6),
    fc.nat(20),
    fc.nat(20),
    fc.constantFrom(...PORTS),
    fc.constantFrom(...PORTS),
  )
  .map(([proto, v, a, b, sport, dport]) => {
    const pool = v === 4 ? V4 : V6;
    return { proto, src: pool[a % pool.length]!, dst: pool[b % pool.length]!, sport, dport };
  });
const ctxArb: fc.Arbitrary<MatchContext> = fc.record(
  {
    in: fc.constantFrom(...IFACES),
    out: fc.constantFrom(...IFACES),
    state: fc.constantFrom(...STATES),
    dnat: fc.boolean(),
    orig: packetArb,
  },
  { requiredKeys: ["state"] },
);

/** The symbolic packet of a concrete one: source constant, destination and ports the variables. */
const sym = (p: Packet): SPacket => ({
  proto: p.proto,
  src: { k: "c", ip: p.src },
  dst: { k: "v", v: p.dst.v },
  sport: { k: "v", name: "sport" },
  dport: { k: "v", name: "dport" },
});
const assign = (p: Packet): Assignment => ({ dst: p.dst, dport: p.dport, sport: p.sport });
/** The context's conntrack entry stays constant (the packet's fields are the variables). */
const symCtx = ({ orig, ...c }: MatchContext): SMatchContext => ({
  ...c,
  dnat: bool(c.dnat ?? false),
  ...(orig
    ? {
        orig: {
          ...orig,
          src: { k: "c", ip: orig.src },
          dst: { k: "c", ip: orig.dst },
          sport: { k: "c", n: orig.sport },
          dport: { k: "c", n: orig.dport },
        },
      }
    : {}),
});
const dstVar = (a: IP): AV => ({ k: "v", v: a.v });
const av = (a: AV, x: Assignment): IP => (a.k === "c" ? a.ip : x.dst);
const pv = (p: PV, x: Assignment): number => (p.k === "c" ? p.n : x[p.name]);

/** The one alternative of `cases` that holds under `x` (there must be exactly one). */
function pick<T>(cases: Cases<T>, x: Assignment): T {
  const hold = cases.filter(([c]) => evaluate(c, x));
  expect(hold.length, "exactly one alternative holds").toBe(1);
  return hold[0]![1];
}

const concretePacket = (p: SPacket, x: Assignment): Packet => ({
  proto: p.proto,
  src: av(p.src, x),
  dst: av(p.dst, x),
  sport: pv(p.sport, x),
  dport: pv(p.dport, x),
});
const samePacket = (a: Packet, b: Packet) =>
  a.proto === b.proto && sameIP(a.src, b.src) && sameIP(a.dst, b.dst) && a.sport === b.sport && a.dport === b.dport;

describe(`sim elements and their symbolic twins agree on concrete packets (seed ${SEED}, ${RUNS} runs each)`, () => {
  it("address predicates: isLoopback, isLinkLocal6, isMartianDestination, isLocal", () => {
    fc.assert(
      fc.property(machineArb(), ipArb(), (m, a) => {
        const x: Assignment = { dst: a, dport: 1, sport: 1024 };
        expect(evaluate(isLoopbackS(dstVar(a)), x)).toBe(isLoopback(a));
        expect(evaluate(isLinkLocal6S(dstVar(a)), x)).toBe(a.v === 6 && isLinkLocal6(a));
        expect(evaluate(isMartianDestinationS(dstVar(a)), x)).toBe(isMartianDestination(a));
        expect(evaluate(isLocalS(m, dstVar(a)), x)).toBe(isLocal(m, a));
      }),
      opts,
    );
  });

  it("route lookup: lookupRoute / lookupRouteS", () => {
    fc.assert(
      fc.property(machineArb(), ipArb(), (m, a) => {
        const r = lookupRoute(m, a);
        const s = pick(lookupRouteS(m, dstVar(a)), { dst: a, dport: 1, sport: 1024 });
        if (!r || r.type === "local") expect(s?.type).toBe(r?.type);
        else expect(s).toBe(r);
      }),
      opts,
    );
  });

  it("source selection: selectSource / selectSourceS", () => {
    fc.assert(
      fc.property(machineArb(), ipArb(), fc.nat(6), (m, a, k) => {
        const local: Route = { dst: prefixOf(a, a.v === 4 ? 32 : 128), dev: "lo", type: "local", origin: origin("local") };
        const route = k < m.routes.length ? m.routes[k]! : local;
        const x: Assignment = { dst: a, dport: 1, sport: 1024 };
        const c = selectSource(m, route, a);
        const s = pick(selectSourceS(m, route, dstVar(a)), x);
        expect(s === undefined ? undefined : av(s, x)).toEqual(c);
      }),
      opts,
    );
  });

  it("rule matching: matches / matchesS", () => {
    fc.assert(
      fc.property(matchArb, packetArb, ctxArb, (match, p, ctx) => {
        expect(evaluate(matchesS(match, sym(p), symCtx(ctx)), assign(p))).toBe(matches(match, p, ctx));
      }),
      opts,
    );
  });

  it("chain acceptance, both forms: evalChain / evalChainS / the conjunction of evalChainByRuleS", () => {
    fc.assert(
      fc.property(chainArb, packetArb, ctxArb, (chain, p, ctx) => {
        const accepts = evalChain(chain, p, ctx).action === "accept";
        const x = assign(p);
        expect(evaluate(evalChainS(chain, sym(p), symCtx(ctx)), x)).toBe(accepts);
        const parts = evalChainByRuleS(chain, sym(p), symCtx(ctx));
        expect(evaluate(and(...parts.map((c) => c.f)), x)).toBe(accepts);
        // a refused packet is refused by the rule (or policy) the simulator names
        if (!accepts && chain.rules.length <= RULE_LEVEL_MAX) {
          const failing = parts.filter((c) => !evaluate(c.f, x));
          const r = evalChain(chain, p, ctx);
          if (r.rule) expect(failing.map((c) => c.rule?.index)).toContain(chain.rules.indexOf(r.rule) + 1);
          else expect(failing.some((c) => c.policy !== undefined)).toBe(true);
        }
      }),
      opts,
    );
  });

  it("NAT application: applyNat / applyNatS", () => {
    fc.assert(
      fc.property(machineArb(), fc.array(natRuleArb, { maxLength: 4 }), packetArb, ctxArb, (m, rules, p, ctx) => {
        const x = assign(p);
        const c = applyNat(rules, m, p, ctx);
        const s = pick(applyNatS(rules, m, sym(p), symCtx(ctx)), x);
        expect(s?.rule).toBe(c?.rule);
        // a masquerade with no address to take drops the packet in both
        expect(s?.drop).toBe(c?.drop);
        if (c && s) expect(samePacket(concretePacket(s.packet, x), c.packet)).toBe(true);
      }),
      opts,
    );
  });

  it("socket lookup: bindAccepts / bindAcceptsS and lookupSocket / lookupSocketS", () => {
    fc.assert(
      fc.property(machineArb(), packetArb, fc.constantFrom(...IFACES), (m, p, inIf) => {
        const x = assign(p);
        for (const s of m.sockets) expect(evaluate(bindAcceptsS(s, sym(p).dst, inIf), x)).toBe(bindAccepts(s, p.dst, inIf));
        expect(pick(lookupSocketS(m, sym(p), inIf), x)).toBe(lookupSocket(m, p, inIf));
      }),
      opts,
    );
  });

  it("neighbour resolution: resolveNeighbour / resolveNeighbourS", () => {
    fc.assert(
      fc.property(fc.tuple(machineArb("m1"), machineArb("m2"), machineArb("m3")), ipArb(), fc.constantFrom("a", "b"), (ms, hop, seg) => {
        const net: Network = { file: "gen.yaml", machines: ms, segments: [] };
        const x: Assignment = { dst: hop, dport: 1, sport: 1024 };
        const index = new NeighbourIndex(net);
        for (const from of ["m1", "m2", "x"]) {
          const c = resolveNeighbour(net, seg, hop, from);
          const s = pick(resolveNeighbourS(index, seg, dstVar(hop), from), x);
          expect(s && { m: s.machine.name, i: s.iface.name }).toEqual(c && { m: c.machine.name, i: c.iface.name });
          // a constant next hop too
          const k = pick(resolveNeighbourS(index, seg, { k: "c", ip: hop }, from), x);
          expect(k && k.machine.name).toEqual(c && c.machine.name);
        }
      }),
      opts,
    );
  });

  it("a neighbour solicitation's source: ndSource / ndSourceS (the packet's own address of the interface, else its link-local)", () => {
    fc.assert(
      fc.property(machineArb(), ipArb(6), fc.nat(3), (m, src, k) => {
        const dev = m.interfaces[k % Math.max(1, m.interfaces.length)]?.name ?? "eth0";
        const x: Assignment = { dst: src, dport: 1, sport: 1024 };
        expect(av(pick(ndSourceS(m, dev, dstVar(src)), x), x)).toEqual(ndSource(m, dev, src));
        expect(av(pick(ndSourceS(m, dev, { k: "c", ip: src }), x), x)).toEqual(ndSource(m, dev, src));
      }),
      opts,
    );
  });

  it("a relay's own connection: relaySource / relaySourceS (libslirp forwards and a machine's relay process)", () => {
    const roleArb = fc.record(
      {
        to: ipArb(),
        gateway: fc.option(ipArb(), { nil: undefined }),
        from: fc.option(ipArb(), { nil: undefined }),
        toPort: fc.constantFrom(...PORTS),
      },
      { requiredKeys: ["to", "toPort"] },
    );
    fc.assert(
      fc.property(roleArb, ipArb(), fc.constantFrom(...PORTS), (r, client, cport) => {
        const role: RelayRole = {
          kind: "relay",
          engine: "e",
          to: r.to,
          toPort: r.toPort,
          ...(r.gateway ? { gateway: r.gateway } : r.from ? { from: r.from } : {}),
        };
        const x: Assignment = { dst: client, dport: 1, sport: cport };
        const c = relaySource(role, client, cport, 41000);
        const s = pick(relaySourceS(role, dstVar(client), { k: "v", name: "sport" }, 41000), x);
        expect({ src: s.src && av(s.src, x), sport: pv(s.sport, x) }).toEqual(c);
      }),
      opts,
    );
  });
});

// keep F referenced for readers of the helpers above
export type { F };
