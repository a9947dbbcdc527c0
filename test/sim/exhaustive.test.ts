/**
 * The exhaustive decision procedure (src/sim/exhaustive.ts): it agrees with ask()
 * on every model expectation, finds what a candidate list misses (a DNAT on a
 * destination prefix, a source-port window), keeps its representatives inside
 * the dial domain, and each representative stands for its whole class: a random
 * concrete dial and the representative of its class take the same decisions.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { scenarioArb } from "../properties/arbitraries.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { ask } from "../../src/query/dials.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { type Dial } from "../../src/ir/dial.js";
import {
  classCount,
  exhaustive,
  inDialDomain,
  packetClasses,
  representative,
  representativeForAddress,
  sportsFor,
  type PacketClasses,
} from "../../src/sim/exhaustive.js";
import { contains, isMapped, type IP } from "../../src/net/addr.js";
import type { Network } from "../../src/ir/types.js";
import type { Attempt, Disposition, Step, Trace } from "../../src/sim/types.js";

// Sizes of the two sampled groups below. A mutation run (vitest.stryker.config.ts) makes them
// smaller: every surviving mutant of src/sim runs them in full.
const DIALS = Number(process.env.CLASS_DIALS ?? 150);
const SKIP_CASES = Number(process.env.SKIP_CASES ?? 40);
import { build, ip, q } from "./helpers.js";
import { MODEL_FILES } from "../model-files.js";
import { rng } from "../rng.js";

const files = MODEL_FILES;
const models = files.map((f) => {
  const loaded = loadTopologyFile(join("models", f));
  return {
    file: f,
    net: lower(loaded.topology),
    expect: (loaded.topology.doc.expect ?? []).flatMap((e) => (e.query !== undefined ? [{ ...e, query: e.query }] : [])),
  };
});

function expectDomain(c: PacketClasses): void {
  const sorted = <T extends number | bigint>(xs: readonly T[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
  expect(c.dst4.every((x) => x.v === 4 && x.n >= 0n && x.n <= 0xffffffffn)).toBe(true);
  expect(c.dst6.every((x) => x.v === 6 && x.n > 0n && x.n < 1n << 128n && !isMapped(x) && inDialDomain(x))).toBe(true);
  expect(c.ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)).toBe(true);
  expect(c.sports.every((p) => Number.isInteger(p) && p >= 1024 && p <= 65535)).toBe(true);
  expect(sorted(c.dst4.map((x) => x.n)) && sorted(c.dst6.map((x) => x.n)) && sorted(c.ports) && sorted(c.sports)).toBe(true);
  // each domain's minimum is a representative
  expect([c.dst4[0]?.n, c.dst6[0]?.n, c.ports[0], c.sports[0]]).toEqual([0n, 1n, 1, 1024]);
}

describe("exhaustive agrees with ask() on every model expectation", () => {
  for (const m of models) {
    describe(m.file, () => {
      const classes = packetClasses(m.net);
      for (const e of m.expect) {
        it(`${e.query} is ${e.verdict}`, () => {
          const query = q(e.query);
          const r = exhaustive(m.net, query, classes);
          expect(r.verdict).toBe(ask(m.net, query).verdict);
          expect(r.verdict).toBe(e.verdict);
          const total = classCount(m.net, query, classes);
          if (r.verdict === "reachable") {
            expect(r.attempt?.ok).toBe(true);
            expect(r.tried).toBeLessThanOrEqual(total);
            // the witness replays
            expect(attempt(m.net, machineIndex(m.net), r.dial!).ok).toBe(true);
          } else {
            expect(r.dial).toBeUndefined();
            // every class is accounted for: dialed, or skipped as provably the same as one dialed
            expect(r.tried + r.skipped).toBe(total);
          }
        });
      }
    });
  }
});

describe("a DNAT on a destination prefix (no interface holds the addresses)", () => {
  const YAML = `
segments:
  internet: 203.0.113.0/24
  dmz: 10.0.0.0/24
machines:
  router:
    interfaces:
      wan0: { segment: internet, addresses: [203.0.113.1/24] }
      dmz0: { segment: dmz, addresses: [10.0.0.1/24] }
    router:
      wan: wan0
      forwards: [ { name: ssh, proto: tcp, port: 22, to: 10.0.0.10 } ]
    nat:
      - { action: dnat, chain: prerouting, in: wan0, proto: tcp, dst: 198.51.100.0/24, dport: 80, to: 10.0.0.10, toPort: 8080, comment: "VIP range" }
  server:
    interfaces: { eth0: { segment: dmz, addresses: [10.0.0.10/24] } }
    routes: [ { to: default, via: 10.0.0.1 } ]
    services: [ { name: web, proto: tcp, port: 8080 } ]
  client:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.50/24] } }
    routes: [ { to: default, via: 203.0.113.1 } ]
`;
  const net = build(YAML);
  const VIP = { v: 4, n: ip("198.51.100.0").n, len: 24 } as const;

  it("is reachable through an address inside the prefix", () => {
    const r = exhaustive(net, q("client -> server:8080/tcp"));
    expect(r.verdict).toBe("reachable");
    expect(contains(VIP, r.dial!.dst)).toBe(true);
    expect(r.dial!.dport).toBe(80);
    expect(r.attempt!.ok).toBe(true);
    expect(r.attempt!.outcome).toMatchObject({ kind: "ok", machine: "server" });
    // the direct way is closed: the router forwards from the WAN only what it DNATed
    expect(attempt(net, machineIndex(net), { from: "client", proto: "tcp", dst: ip("10.0.0.10"), dport: 8080, sport: 40000 }).ok).toBe(
      false,
    );
    // any address of the prefix works, not only the representative
    expect(attempt(net, machineIndex(net), { from: "client", proto: "tcp", dst: ip("198.51.100.77"), dport: 80, sport: 40000 }).ok).toBe(
      true,
    );
  });
  it("the address query on a VIP agrees", () => {
    expect(exhaustive(net, q("client -> 198.51.100.200:80/tcp")).verdict).toBe("reachable");
    expect(exhaustive(net, q("client -> 198.51.101.1:80/tcp")).verdict).toBe("unreachable");
  });
});

describe("a source-port window in a firewall", () => {
  const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: sshd, proto: tcp, port: 22 } ]
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, state: [established, related] }
          - { action: accept, proto: tcp, dport: 22, sport: 5000-5010, comment: "only from 5000-5010" }
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`;
  const net = build(YAML);
  for (const text of ["pc -> server:22/tcp", "pc -> 192.168.1.10:22/tcp"]) {
    it(`${text}: reachable with a source port in 5000-5010`, () => {
      const r = exhaustive(net, q(text));
      expect(r.verdict).toBe("reachable");
      expect(r.dial!.sport).toBeGreaterThanOrEqual(5000);
      expect(r.dial!.sport).toBeLessThanOrEqual(5010);
      expect(r.dial!.dport).toBe(22);
      expect(r.attempt!.ok).toBe(true);
    });
  }
  it("with the window closed to 1000-1023 (privileged ports only) it is unreachable", () => {
    const closed = build(YAML.replace("sport: 5000-5010", "sport: 1000-1023"));
    const r = exhaustive(closed, q("pc -> server:22/tcp"));
    expect(r.verdict).toBe("unreachable");
    expect(r.tried + r.skipped).toBe(classCount(closed, q("pc -> server:22/tcp")));
  });
});

describe("packetClasses stays inside the dial domain", () => {
  for (const m of models) it(m.file, () => expectDomain(packetClasses(m.net)));
  it("IPv6: mapped binds, a route into ::ffff:0:0/96 and cuts next to it never give :: or a mapped representative", () => {
    const net = build(`
segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64", "fd00::8000:0:0:1/64"] } }
    routes: [ { to: "::/0", via: "fd00::1" } ]
    services:
      - { name: mapped, proto: tcp, port: 80, bind: "::ffff:192.168.1.10" }
      - { name: dual, proto: tcp, port: 81, bind: "::" }
    firewall:
      input:
        rules:
          - { action: drop, src: "::ffff:0:0/96" }
          - { action: drop, src: "::fffe:ffff:ffff/128" }
          - { action: drop, dst: "::1:0:0:0/80" }
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
`);
    const c = packetClasses(net);
    expectDomain(c);
    // the block's end stands for what follows it; the address just below the block is a class of its own
    expect(c.dst6.some((x) => x.n === 0x10000n << 32n)).toBe(true);
    expect(c.dst6.some((x) => x.n === (0xffffn << 32n) - 1n)).toBe(true);
    // rule 8: fd00::10 and fd00::8000:0:0:1 differ at bit 64; fd00::/65 and fd00::8000:0:0:0/65 are classes
    expect(c.dst6.some((x) => x.n === ip("fd00::8000:0:0:0").n)).toBe(true);
    // the IPv4 view of the mapped bind is a class too
    expect(c.dst4.some((x) => x.n === ip("192.168.1.10").n)).toBe(true);
  });
  it("sportsFor adds the dport and the one after it, in the sport domain only", () => {
    const c = packetClasses(models[0]!.net);
    expect(sportsFor(c, 22)).toEqual(c.sports);
    const d = c.ports.find((p) => p >= 1024 && p < 65535 && !c.sports.includes(p + 1))!;
    expect(sportsFor(c, d)).toEqual([...c.sports, d + 1].sort((x, y) => x - y));
    expect(sportsFor(c, 65535).every((p) => p >= 1024 && p <= 65535)).toBe(true);
  });
});

describe("unreachable", () => {
  const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: dev, proto: tcp, port: 8000, bind: 127.0.0.1 } ]
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: default, via: 192.168.1.10 } ]
`;
  const net = build(YAML);
  it("a service bound to 127.0.0.1 is unreachable from another machine, over every class", () => {
    const query = q("pc -> server:8000/tcp");
    const r = exhaustive(net, query);
    expect(r.verdict).toBe("unreachable");
    expect(r.tried + r.skipped).toBe(classCount(net, query));
    expect(r.tried).toBeGreaterThan(10);
    expect(ask(net, query).verdict).toBe("unreachable");
  });
  it("but reachable from the server itself", () => {
    expect(exhaustive(net, q("server -> server:8000/tcp")).verdict).toBe("reachable");
    expect(exhaustive(net, q("server -> localhost:8000/tcp")).verdict).toBe("reachable");
  });
});

/* ---------- every concrete dial behaves as its class representative ---------- */

/** The decisions of an attempt, without the concrete values that vary inside a class. */
function signature(a: Attempt): string {
  const line = (o?: { span: { line: number } }) => o?.span.line;
  const step = (s: Step): unknown => {
    switch (s.kind) {
      case "filter":
        return [s.kind, s.machine, s.chain, s.state, s.action, line(s.rule?.origin), line(s.policyOrigin)];
      case "nat":
        return [s.kind, s.machine, s.hook, line(s.rule.origin)];
      case "route":
        return [
          s.kind,
          s.machine,
          s.local,
          s.route.type,
          s.route.dev,
          s.route.type === "local" ? null : `${s.route.dst.n}/${s.route.dst.len}`,
        ];
      case "transmit":
        return [s.kind, s.machine, s.iface, s.to, s.toIface];
      case "receive":
        return [s.kind, s.machine, s.iface];
      case "deliver":
        return [s.kind, s.machine, s.socket?.owner];
      default:
        return [s.kind, s.machine];
    }
  };
  const disp = (d: Disposition): unknown => {
    const base: unknown[] = [d.kind, d.machine];
    if (d.kind === "delivered") base.push(d.socket?.owner);
    if (d.kind === "dropped" || d.kind === "rejected") base.push(d.chain, line(d.rule?.origin));
    if (d.kind === "martian") base.push(d.which);
    return base;
  };
  const trace = (t?: Trace) => (t ? [t.steps.map(step), disp(t.disposition)] : null);
  return JSON.stringify({
    ok: a.ok,
    outcome: a.outcome.kind === "ok" ? [a.outcome.machine, a.outcome.socket?.owner] : [a.outcome.leg, a.outcome.direction],
    legs: a.legs.map((l) => [l.from, trace(l.forward), trace(l.reply), trace(l.ack)]),
  });
}

function randomDial(c: PacketClasses, from: string, r: () => number): Dial {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const delta = () => pick([-2, -1, -1, 0, 1, 1, 2, 3, Math.floor(r() * 1000)]);
  const proto = pick(["tcp", "tcp", "udp", "icmp"] as const);
  let dst: IP;
  for (;;) {
    const six = r() < 0.3;
    const base = pick(six ? c.dst6 : c.dst4).n;
    const max = six ? (1n << 128n) - 1n : 0xffffffffn;
    let n = r() < 0.1 ? BigInt(Math.floor(r() * 2 ** 32)) << (six ? 96n : 0n) : base + BigInt(delta());
    if (n < 0n) n = 0n;
    if (n > max) n = max;
    dst = { v: six ? 6 : 4, n };
    if (inDialDomain(dst)) break;
  }
  if (proto === "icmp") return { from, proto, dst, dport: 0, sport: 1 };
  const clamp = (x: number, lo: number) => Math.min(65535, Math.max(lo, x));
  const dport = clamp(r() < 0.1 ? 1 + Math.floor(r() * 65535) : pick(c.ports) + delta(), 1);
  const sport = dport >= 1024 && r() < 0.25 ? dport : clamp(r() < 0.2 ? 1024 + Math.floor(r() * 64512) : pick(c.sports) + delta(), 1024);
  return { from, proto, dst, dport, sport };
}

/** Random dials whose attempt decides differently from their representative's (none, when the classes are exact). */
function mismatches(
  net: Network,
  c: PacketClasses,
  seed: number,
  perMachine: number,
  sampleNear: PacketClasses = c,
): { dial: Dial; rep: Dial }[] {
  const index = machineIndex(net);
  const r = rng(seed);
  const out: { dial: Dial; rep: Dial }[] = [];
  for (const m of net.machines) {
    for (let k = 0; k < perMachine; k++) {
      const d = randomDial(sampleNear, m.name, r);
      const rep = representative(c, d);
      expect(representative(c, rep)).toEqual(rep);
      const sig = signature(attempt(net, index, d));
      if (signature(attempt(net, index, rep)) !== sig) out.push({ dial: d, rep });
      // with destination and port fixed (an address query), only the source port's class counts
      if (d.proto !== "icmp") {
        const repA = representativeForAddress(c, d);
        expect(sportsFor(c, d.dport)).toContain(repA.sport);
        if (signature(attempt(net, index, repA)) !== sig) out.push({ dial: d, rep: repA });
      }
    }
  }
  return out;
}

const MIXED = `
segments:
  internet: 203.0.113.0/24
  dmz: { subnets: [10.0.0.0/24, "fd00:d::/64"] }
  lan: { subnets: [192.168.1.0/24, "fd00:1::/64"] }
machines:
  router:
    interfaces:
      wan0: { segment: internet, addresses: [203.0.113.1/24] }
      dmz0: { segment: dmz, addresses: [10.0.0.1/24, "fd00:d::1/64"] }
      lan0: { segment: lan, addresses: [192.168.1.1/24, "fd00:1::1/64"] }
    router: { wan: wan0, hairpin: true, forwards: [ { port: 22, to: 10.0.0.10 } ] }
    rp_filter: 1
    nat: [ { action: dnat, chain: prerouting, in: wan0, proto: tcp, dst: 198.51.100.0/24, dport: 80-90, to: 10.0.0.10, toPort: 8080 } ]
  server:
    interfaces: { eth0: { segment: dmz, addresses: [10.0.0.10/24, "fd00:d::10/64", "fd00:d::8000:0:0:10/64"] } }
    routes: [ { to: default, via: 10.0.0.1 }, { to: "::/0", via: "fd00:d::1" } ]
    services:
      - { name: web, proto: tcp, port: 8080 }
      - { name: sshd, proto: tcp, port: 22 }
      - { name: dns, proto: udp, port: 53 }
      - { name: v6web, proto: tcp, port: 8443, bind: "fd00:d::8000:0:0:10" }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, state: [established, untracked] }
          - { action: accept, proto: tcp, sport: 5000-5010 }
          - { action: accept, proto: tcp, dport: 8080 }
          - { action: accept, proto: udp, dport: 53, src: 192.168.1.0/25 }
          - { action: reject, proto: tcp, dport: 8443, src: "fd00:1::/65" }
          - { action: accept, proto: tcp, dport: 8443 }
  client:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.50/24] } }
    routes: [ { to: default, via: 203.0.113.1 } ]
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00:1::20/64"] } }
    routes: [ { to: default, via: 192.168.1.1 }, { to: "::/0", via: "fd00:1::1" } ]
    services: [ { name: echo, proto: udp, port: 7 } ]
`;

describe("a random concrete dial takes the same decisions as its class representative", () => {
  models.forEach((m, i) => it(m.file, () => expect(mismatches(m.net, packetClasses(m.net), 1000 + i, DIALS)).toEqual([])));
  it("a network with a DNAT prefix, a sport window, hairpin, rp_filter and IPv6 source selection", () => {
    const net = build(MIXED);
    expect(mismatches(net, packetClasses(net), 77, 600)).toEqual([]);
  });
  it("the check has teeth: with a class left out (the router's WAN address), it finds mismatches", () => {
    const net = build(MIXED);
    const c = packetClasses(net);
    const wan = ip("203.0.113.1").n;
    const holed: PacketClasses = { ...c, dst4: c.dst4.filter((x) => x.n !== wan) };
    expect(holed.dst4.length).toBe(c.dst4.length - 1);
    expect(mismatches(net, holed, 77, 1500, c).length).toBeGreaterThan(0);
    const sportless: PacketClasses = { ...c, sports: c.sports.filter((p) => p !== 5000) };
    expect(mismatches(net, sportless, 78, 1500, c).length).toBeGreaterThan(0);
  });
});

describe("skipping classes whose outcome cannot differ never changes the verdict", () => {
  // generated topologies (every VM mode, firewalls with port matches, NAT, routers)
  const cases = fc.sample(scenarioArb(["machine", "icmp", "localhost"], 2), { seed: 77, numRuns: SKIP_CASES });
  cases.forEach((c, i) => {
    it(`generated topology ${i}: ${c.queries.join("; ")}`, () => {
      const net = build(c.topology.yaml);
      for (const text of c.queries) {
        const query = q(text);
        const fast = exhaustive(net, query);
        const full = exhaustive(net, query, packetClasses(net), false);
        expect({ text, verdict: fast.verdict }).toEqual({ text, verdict: full.verdict });
        expect(full.skipped).toBe(0);
        if (full.verdict === "unreachable") expect(fast.tried + fast.skipped).toBe(full.tried);
      }
    });
  });
});
