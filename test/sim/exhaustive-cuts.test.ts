/**
 * packetClasses (src/sim/exhaustive.ts) keeps every cut its header documents: a prefix or
 * range [lo, hi] gives lo and hi+1, a constant c gives c and c+1, and each cut inside a
 * domain is a representative. The expected cuts are derived here from the network's own
 * constants by those rules (not pasted from the output). Each constant is chosen so that
 * no other cut of the network duplicates it, so a cut left out shows.
 *
 * Not pinned (equivalent mutants): a/c in rule 8 (a/(c+1) and b/(c+1) are the two halves of a/c, so
 * its two ends are always their outer ends); `x >= lo` in repsOf (lo is already in the Set); `<=`/`>=`
 * in the comparator (the values are distinct) and its `1` branch (V8's sort only tests `< 0`);
 * `x <= MAPPED_END` (it maps MAPPED_END to itself); a non-bigint seed in `moved` (a string never
 * compares `>` to 1n, so repsOf drops it).
 */
import { describe, expect, it } from "vitest";
import { packetClasses, type PacketClasses } from "../../src/sim/exhaustive.js";
import { bits, isMapped, type IP, type Prefix } from "../../src/net/addr.js";
import type { Machine, Network } from "../../src/ir/types.js";
import { build, ip } from "./helpers.js";

/** The cuts of a prefix `text` ("a.b.c.d/len"): its first address and the one past its last. */
function prefixCuts(text: string): { v: 4 | 6; cuts: bigint[] } {
  const [addr, len] = text.split("/");
  const a = ip(addr!);
  const size = 1n << BigInt(bits(a.v) - Number(len));
  const lo = a.n & ~(size - 1n);
  return { v: a.v, cuts: [lo, lo + size] };
}
/** The cuts of a constant address: c and c+1. */
function ipCuts(text: string): { v: 4 | 6; cuts: bigint[] } {
  const a = ip(text);
  return { v: a.v, cuts: [a.n, a.n + 1n] };
}

const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;
const MAPPED_LO = 0xffffn << 32n;
const MAPPED_END = 0x10000n << 32n;

/** Every cut of `x` that falls inside its domain is a representative (a cut in ::ffff:0:0/96 stands as the block's end). */
function expectAddrCuts(c: PacketClasses, x: { v: 4 | 6; cuts: bigint[] }, what: string): void {
  const reps = new Set((x.v === 4 ? c.dst4 : c.dst6).map((r) => r.n));
  const inside = x.cuts
    .map((n) => (x.v === 6 && n >= MAPPED_LO && n < MAPPED_END ? MAPPED_END : n))
    .filter((n) => n >= (x.v === 4 ? 0n : 1n) && n <= MAX[x.v]);
  expect(inside.length, what).toBeGreaterThan(0);
  for (const n of inside) expect(reps.has(n), `${what}: cut ${n.toString(16)} (IPv${x.v})`).toBe(true);
}
/** A port range [lo, hi] gives lo and hi+1, in both domains where they fall. */
function expectPortCuts(c: PacketClasses, lo: number, hi: number, what: string): void {
  for (const p of [lo, hi + 1]) {
    if (p >= 1 && p <= 65535) expect(c.ports.includes(p), `${what}: dport cut ${p}`).toBe(true);
    if (p >= 1024 && p <= 65535) expect(c.sports.includes(p), `${what}: sport cut ${p}`).toBe(true);
  }
}

/** Sorted strictly ascending (so distinct), inside the dial domain, the domain's minimum first. */
function expectDomain(c: PacketClasses): void {
  const ascending = <T extends number | bigint>(xs: readonly T[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
  expect(ascending(c.dst4.map((x) => x.n)), "dst4 ascending").toBe(true);
  expect(ascending(c.dst6.map((x) => x.n)), "dst6 ascending").toBe(true);
  expect(ascending(c.ports), "ports ascending").toBe(true);
  expect(ascending(c.sports), "sports ascending").toBe(true);
  expect(c.dst4.every((x) => x.v === 4 && x.n >= 0n && x.n <= MAX[4])).toBe(true);
  expect(c.dst6.every((x) => x.v === 6 && x.n >= 1n && x.n <= MAX[6] && !isMapped(x))).toBe(true);
  expect(c.ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)).toBe(true);
  expect(c.sports.every((p) => Number.isInteger(p) && p >= 1024 && p <= 65535)).toBe(true);
  expect([c.dst4[0]?.n, c.dst6[0]?.n, c.ports[0], c.sports[0]]).toEqual([0n, 1n, 1, 1024]);
}

// Constants of the network below, each used once.
const K = {
  lan4: "192.168.1.0/24",
  lan6: "fd00::/64",
  a4: "192.168.1.10",
  // two IPv6 addresses of one machine: commonPrefix 125 (fd00::1 vs fd00::5), own length 64; the
  // halves' boundary fd00::4 is no address's cut (fd00::2 would be: the address fd00::1's c+1)
  a6: "fd00::1",
  b6: "fd00::5",
  len6: 64,
  spare: "10.40.0.0/16", // a segment's subnet no interface has
  routeDst: "10.20.0.0/16",
  via: "192.168.1.1",
  notSrc: "10.30.0.0/16",
  dnatTo: "192.168.1.50",
  dnatDport: 8080,
  dnatToPort: 9000,
  snatTo: "192.168.1.60",
  relayTo: "10.9.9.9",
  relayToPort: 5555,
} as const;

const YAML = `
segments:
  lan: { subnets: [${K.lan4}, "${K.lan6}"] }
  spare: { subnets: [${K.spare}] }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [${K.a4}/24, "${K.a6}/${K.len6}", "${K.b6}/${K.len6}"] } }
    routes: [ { to: ${K.routeDst}, via: ${K.via} } ]
    relays:
      - { name: proxy, port: 8443, to: ${K.relayTo}, toPort: ${K.relayToPort} }
    firewall:
      input:
        rules:
          - { action: drop, src: { not: ${K.notSrc} } }
    nat:
      - { action: dnat, chain: prerouting, proto: tcp, dport: ${K.dnatDport}, to: ${K.dnatTo}, toPort: ${K.dnatToPort} }
      - { action: snat, out: eth0, to: ${K.snatTo} }
`;

describe("packetClasses keeps every documented cut", () => {
  const net = build(YAML);
  const c = packetClasses(net);

  it("stays sorted, distinct and inside the dial domain", () => expectDomain(c));

  it("interface addresses and subnets, segment subnets", () => {
    expectAddrCuts(c, ipCuts(K.a4), "interface address");
    expectAddrCuts(c, prefixCuts(K.lan4), "interface subnet");
    expectAddrCuts(c, prefixCuts(K.spare), "segment subnet");
  });

  it("route destinations and gateways", () => {
    expectAddrCuts(c, prefixCuts(K.routeDst), "route destination");
    expectAddrCuts(c, ipCuts(K.via), "route via");
  });

  it("a negated match cuts where the plain one does", () => expectAddrCuts(c, prefixCuts(K.notSrc), "src: { not }"));

  it("DNAT and SNAT targets, the DNAT toPort", () => {
    expectAddrCuts(c, ipCuts(K.dnatTo), "dnat to");
    expectAddrCuts(c, ipCuts(K.snatTo), "snat to");
    expectPortCuts(c, K.dnatDport, K.dnatDport, "dnat dport");
    expectPortCuts(c, K.dnatToPort, K.dnatToPort, "dnat toPort");
  });

  it("relay targets and ports", () => {
    expectAddrCuts(c, ipCuts(K.relayTo), "relay to");
    expectPortCuts(c, K.relayToPort, K.relayToPort, "relay toPort");
  });

  it("IPv6 source selection (rule 8): a/(c+1), b/(c+1), a/c, a/(len(b)+1) for each ordered pair", () => {
    const a = ip(K.a6);
    const b = ip(K.b6);
    // commonPrefix(fd00::1, fd00::5) = 125: the first differing bit is bit 125
    const cp = 128 - (a.n ^ b.n).toString(2).length;
    expect(cp).toBe(125);
    for (const [x, y] of [
      [K.a6, K.b6],
      [K.b6, K.a6],
    ] as const) {
      expectAddrCuts(c, prefixCuts(`${x}/${cp + 1}`), `${x}/(c+1)`);
      expectAddrCuts(c, prefixCuts(`${x}/${cp}`), `${x}/c`);
      expectAddrCuts(c, prefixCuts(`${x}/${K.len6 + 1}`), `${x}/(len(${y})+1)`);
    }
  });
});

// ---- cuts a checked topology always duplicates with another one, pinned on the IR itself ----
// A checked topology's interface subnet is also its segment's subnet; a bind must be an address of the machine (RCH036), a relay's `gateway` (VirtualBox/QEMU forwards) is the NAT engine's own address, its `from` must be an
// address of the machine (RCH036), and an engine's gateway and loopback address are its interface
// addresses: from YAML these cuts are always also interface-address cuts. packetClasses' contract is on
// the Network IR, so those are checked on a machine given constants nobody else has.
describe("binds, relay gateway/from and NAT engine addresses are cuts of their own", () => {
  const base = build(YAML);
  const E = {
    gateway: "10.77.0.2",
    from: "10.77.0.9",
    relayTo: "10.78.0.1",
    toPort: 6001,
    eGw: "10.79.0.2",
    eLo: "10.79.0.3",
    eLo6: "fd79::2",
    ifAddr: "10.83.0.5",
    ifLen: 20,
    bind: "10.80.0.1",
    mapped: "10.81.0.1",
  };
  const service = (bind: string, port: number) => ({
    owner: `test service ${bind}`,
    proto: "tcp" as const,
    bind: ip(bind),
    port,
    v6only: false,
    role: { kind: "service" as const },
    origin: base.machines[0]!.origin,
  });
  const relay = (extra: { gateway?: IP; from?: IP }) => ({
    owner: "test relay",
    proto: "tcp" as const,
    bind: ip("0.0.0.0"),
    port: 6000,
    v6only: false,
    role: { kind: "relay" as const, engine: "a", to: ip(E.relayTo), toPort: E.toPort, ...extra },
    origin: base.machines[0]!.origin,
  });
  const a = base.machines.find((m) => m.name === "a")!;
  const withExtra: Machine = {
    ...a,
    // an interface whose subnet no segment declares (a checked topology puts it in its segment's subnets)
    interfaces: a.interfaces.map((i) => (i.name === "eth0" ? { ...i, addrs: [...i.addrs, { ip: ip(E.ifAddr), len: E.ifLen }] } : i)),
    sockets: [
      ...a.sockets,
      service(E.bind, 81),
      service(`::ffff:${E.mapped}`, 82),
      relay({ gateway: ip(E.gateway) }),
      relay({ from: ip(E.from) }),
    ],
    engine: {
      kind: "qemu",
      host: "a",
      gateway: ip(E.eGw),
      loopbackAddress: ip(E.eLo),
      loopbackAddress6: ip(E.eLo6),
      loopbackReachable: true,
      origin: a.origin,
    },
  };
  const net: Network = { ...base, machines: base.machines.map((m) => (m === a ? withExtra : m)) };
  const c = packetClasses(net);

  it("stays inside the dial domain", () => expectDomain(c));
  it("an interface's subnet", () => expectAddrCuts(c, prefixCuts(`${E.ifAddr}/${E.ifLen}`), "interface subnet"));
  it("socket binds, raw and unmapped", () => {
    expectAddrCuts(c, ipCuts(E.bind), "bind");
    expectAddrCuts(c, ipCuts(`::ffff:${E.mapped}`), "mapped bind (as IPv6: the block's end)");
    expectAddrCuts(c, ipCuts(E.mapped), "mapped bind, unmapped");
  });
  it("relay gateway and from", () => {
    expectAddrCuts(c, ipCuts(E.gateway), "relay gateway");
    expectAddrCuts(c, ipCuts(E.from), "relay from");
  });
  it("NAT engine gateway, loopback address, IPv6 loopback address", () => {
    expectAddrCuts(c, ipCuts(E.eGw), "engine gateway");
    expectAddrCuts(c, ipCuts(E.eLo), "engine loopbackAddress");
    expectAddrCuts(c, ipCuts(E.eLo6), "engine loopbackAddress6");
  });
});

// ---- the fixed ranges: every machine's lo (127.0.0.1/8, ::1) duplicates some, so a network without machines ----
describe("the fixed ranges are cuts in a network of no machine", () => {
  const empty: Network = { ...build(YAML), machines: [], segments: [] };
  const c = packetClasses(empty);
  it("stays inside the dial domain", () => expectDomain(c));
  it.each([
    ["127.0.0.0/8", prefixCuts("127.0.0.0/8")],
    ["127.0.0.1", ipCuts("127.0.0.1")],
    ["127.0.0.2", ipCuts("127.0.0.2")],
    ["0.0.0.0/8", prefixCuts("0.0.0.0/8")],
    ["0.0.0.0", ipCuts("0.0.0.0")],
    ["224.0.0.0/4", prefixCuts("224.0.0.0/4")],
    ["255.255.255.255", ipCuts("255.255.255.255")],
    ["::1", ipCuts("::1")],
    ["fe80::/10", prefixCuts("fe80::/10")],
    ["ff00::/8", prefixCuts("ff00::/8")],
  ])("%s", (what, x) => expectAddrCuts(c, x, what));
  it("the fixed ports: 41000, 40000, 1, 1024", () => {
    for (const p of [41000, 40000, 1, 1024]) expectPortCuts(c, p, p, `port ${p}`);
  });
});
