/**
 * The symbolic engine's all-services exploration (src/smt/classes.ts) beyond the verdict: HOW each
 * service is decided (`by: "classes"` or `"z3"`), the witness it gives, and the packet classes
 * behind it. The smt scope's other tests judge verdicts only, and this file has a fallback almost
 * everywhere (a condition whose classes it cannot count goes to Z3, which gives the same verdict),
 * so a broken class count or witness choice kept every verdict. Found by mutation testing
 * (docs/mutation.md, "src/smt/classes.ts, survivor by survivor").
 *
 *   - `classModel` against a reference written from the file comment's definition of the classes
 *     (every atom's bounds, each interval's low end and the cuts inside it, the preferred port and
 *     the default source port first, `sport = dport` tried as the port itself and the next one),
 *     on generated conditions, at class limits on either side of each count; an "unsat" is
 *     checked by brute force over a grid that meets every class;
 *   - `classModel`'s hand cases: conditions it does not cover, contradictions, the `peq` extras;
 *   - a lab whose NAT loop makes a condition compare the two ports (`peq`: nf_nat's tuple
 *     uniqueness check, the only place the engines compare them; no rule condition can);
 *   - `exploreServices`/`decideService` on labs: the paths cheapest first, the budget's bound,
 *     `by`, the witness; the Z3 fallback's answers (sat, unsat, gave up, a model no path carries)
 *     through a wrapper around src/smt/solver.ts, as in decide-solver-calls.test.ts;
 *   - `satisfiedBy`'s filters (the source, protocol, family and a dial of a value, not a constant).
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_SPORT, type Dial } from "../../src/ir/dial.js";
import type { IP, Prefix } from "../../src/net/addr.js";
import type { SDial } from "../../src/smt/connect.js";
import type { Found } from "../../src/smt/decide.js";
import { FULL, refine, type Intervals } from "../../src/smt/domain.js";
import { and, evaluate, type F } from "../../src/smt/term.js";
import { build, ip } from "../sim/helpers.js";
import { blockedBothWays } from "./decide-labs.js";
import { rng } from "../rng.js";

const rec = vi.hoisted(() => ({
  /** the time each solve call was given */
  timeouts: [] as number[],
  /** answer "unknown" with this reason instead of Z3's verdict */
  gaveUp: undefined as string | undefined,
  /** answer this model instead of Z3's */
  model: undefined as undefined | { dst4: IP; dst6: IP; dport: number; sport: number },
}));

vi.mock("../../src/smt/solver.js", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../src/smt/solver.js")>();
  return {
    ...orig,
    solve: async (...args: Parameters<typeof orig.solve>) => {
      rec.timeouts.push(args[2].timeoutMs);
      const r = await orig.solve(...args);
      if (rec.model) return { status: "sat" as const, model: rec.model, ms: r.ms };
      if (rec.gaveUp !== undefined) return { status: "unknown" as const, reason: rec.gaveUp, ms: r.ms };
      return r;
    },
  };
});

// Imported afresh after the mock (a vmThreads worker may hold classes.js bound to the real solver).
vi.resetModules();
const { classModel, decideService, exploreServices, flowForksAtMost, satisfiedBy, serviceKey, MAX_CLASSES } =
  await import("../../src/smt/classes.js");
type Explored = ReturnType<typeof exploreServices>;
const { DOMAIN } = await import("../../src/smt/decide.js");
const { shutdown } = await import("../../src/smt/solver.js");

afterAll(() => shutdown());
afterEach(() => {
  rec.timeouts.length = 0;
  rec.gaveUp = undefined;
  rec.model = undefined;
});

// ---- formulas and paths by hand ----

const dp = (lo: number, hi: number): F => ({ t: "rng", name: "dport", lo, hi });
const sp = (lo: number, hi: number): F => ({ t: "rng", name: "sport", lo, hi });
const pfx = (v: 4 | 6, n: bigint, len: number): F => ({ t: "pfx", p: { v, n, len } as Prefix });
const host = (text: string): F => {
  const a = ip(text);
  return pfx(a.v, a.n, a.v === 4 ? 32 : 128);
};
const PEQ: F = { t: "peq" };
const not = (x: F): F => ({ t: "not", x });
// raw connectives: term.ts's and()/or() would fold the constants this file wants to keep
const AND = (...xs: F[]): F => ({ t: "and", xs });
const OR = (...xs: F[]): F => ({ t: "or", xs });

const varDial = (v: 4 | 6, from = "c", proto: "tcp" | "udp" = "tcp"): SDial => ({
  from,
  proto,
  dst: { k: "v", v },
  dport: { k: "v", name: "dport" },
  sport: { k: "v", name: "sport" },
});
const found = (pc: F[], dial: SDial = varDial(4), cost = 1): Found => ({ dial, path: { pc, why: [], cost, machine: "s" } });
const dialOf = (dst: IP, dport: number, sport: number): Dial => ({ from: "c", proto: "tcp", dst, dport, sport });

// ---- the reference: the classes as the file comment defines them ----

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const inside = (set: Intervals, x: bigint) => set.some(([lo, hi]) => lo <= x && x <= hi);

/** The representatives of a variable: every interval's low end and every cut inside the set, ascending; `first` (when in the set) leading. */
function repsOf(set: Intervals, cuts: ReadonlySet<bigint>, first?: bigint): bigint[] {
  const all = new Set<bigint>(set.map(([lo]) => lo));
  for (const c of cuts) if (inside(set, c)) all.add(c);
  const rest = [...all].filter((x) => x !== first).sort(cmp);
  return first !== undefined && inside(set, first) ? [first, ...rest] : rest;
}

interface Classes {
  readonly f: F;
  readonly sportSet: Intervals;
  readonly peq: boolean;
  readonly dsts: bigint[];
  readonly dports: bigint[];
  readonly sports: bigint[];
}

function classesOf(fd: Found, preferPort?: number): Classes | "unsat" | "uncovered" {
  const { dial, path } = fd;
  if (dial.dst.k !== "v" || dial.dport.k !== "v" || dial.sport.k !== "v") return "uncovered";
  const v = dial.dst.v;
  const width = v === 4 ? 32 : 128;
  const f = and(DOMAIN, ...path.pc);
  const dom = refine(FULL, f);
  if (!dom) return "unsat";
  const dst = new Set<bigint>();
  const ports = new Set<bigint>();
  let peq = false;
  let cfg = false;
  const walk = (g: F): void => {
    if (g.t === "and" || g.t === "or") g.xs.forEach(walk);
    else if (g.t === "not") walk(g.x);
    else if (g.t === "chain") g.rules.forEach((r) => walk(r.m));
    else if (g.t === "pfx") {
      if (g.p.v !== v) return;
      const size = 2n ** BigInt(width - g.p.len);
      const lo = (g.p.n / size) * size;
      dst.add(lo).add(lo + size);
    } else if (g.t === "rng") ports.add(BigInt(g.lo)).add(BigInt(g.hi) + 1n);
    else if (g.t === "peq") peq = true;
    else if (g.t === "cfg") cfg = true;
  };
  walk(f);
  if (cfg) return "uncovered";
  return {
    f,
    sportSet: dom.sport,
    peq,
    dsts: repsOf(v === 4 ? dom.dst4 : dom.dst6, dst),
    dports: repsOf(dom.dport, ports, preferPort === undefined ? undefined : BigInt(preferPort)),
    sports: repsOf(dom.sport, ports, BigInt(DEFAULT_SPORT)),
  };
}

const countOf = (c: Classes) => c.dsts.length * c.dports.length * (c.sports.length + (c.peq ? 2 : 0));

/** What classModel should answer: the first representative (address, then port, then source port) that satisfies the condition. */
function expected(fd: Found, preferPort: number | undefined, maxClasses: number): Dial | "unsat" | undefined {
  const c = classesOf(fd, preferPort);
  if (c === "unsat") return "unsat";
  if (c === "uncovered") return undefined;
  if ([c.dsts, c.dports, c.sports].some((r) => r.length > maxClasses) || countOf(c) > maxClasses) return undefined;
  const v = (fd.dial.dst as { v: 4 | 6 }).v;
  for (const dst of c.dsts)
    for (const dport of c.dports) {
      const extra = c.peq ? [dport, dport + 1n].filter((p) => inside(c.sportSet, p) && !c.sports.includes(p)) : [];
      for (const sport of [...c.sports, ...extra]) {
        const a = { dst: { v, n: dst }, dport: Number(dport), sport: Number(sport) };
        if (evaluate(c.f, a)) return { from: fd.dial.from, proto: fd.dial.proto, ...a } as Dial;
      }
    }
  return "unsat";
}

/** classModel against the reference at the default limit and at limits on either side of each count. */
function checkAgainstReference(fd: Found, preferPort: number | undefined, label: string): Dial | "unsat" | undefined {
  const want = expected(fd, preferPort, MAX_CLASSES);
  expect(classModel(fd, preferPort), label).toEqual(want);
  const c = classesOf(fd, preferPort);
  if (typeof c === "object") {
    const n = countOf(c);
    const limits = new Set([
      n,
      n - 1,
      c.dsts.length,
      c.dports.length,
      c.sports.length,
      c.dsts.length - 1,
      c.dports.length - 1,
      c.sports.length - 1,
    ]);
    for (const m of limits)
      if (m >= 0) expect(classModel(fd, preferPort, m), `${label}, at most ${m} classes`).toEqual(expected(fd, preferPort, m));
  }
  return want;
}

// ---- generated conditions ----

// port bounds near the source ports' low end (1024) and the default source port (40000)
const PORTS = [1, 1020, 1021, 1022, 1023, 1024, 1025, 1026, 1027, 1028, 1029, 1030, 39998, 39999, 40000, 40001, 40002, 65535];
const PREFER = [undefined, 1, 80, 1024, 1025, 1026, 1030, 40000, 65535];
const BASE = { 4: ip("10.0.0.0").n, 6: ip("fd00::").n } as const;

function generate(r: () => number, v: 4 | 6): { pc: F[]; preferPort: number | undefined } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const width = v === 4 ? 32 : 128;
  const range = (): [number, number] => {
    const a = pick(PORTS);
    const b = pick(PORTS);
    return a <= b ? [a, b] : [b, a];
  };
  const own = (): F => {
    const len = width - Math.floor(r() * 5);
    const size = 1n << BigInt(width - len);
    const k = BigInt(Math.floor(r() * 16));
    return pfx(v, BASE[v] + k - (k % size), len);
  };
  const atom = (): F => {
    const x = r();
    if (x < 0.3) return own();
    if (x < 0.36) return pfx(v, BASE[v], width - 24);
    // a prefix of the other family: no cut of this one (::/16 would cut IPv4 at 0.1.0.0, 10.0.0.0/8 IPv6 at 2^120)
    if (x < 0.42) return v === 4 ? pfx(6, 0n, 16) : pfx(4, BASE[4], 8);
    if (x < 0.62) return dp(...range());
    if (x < 0.82) return sp(...range());
    if (x < 0.9) return PEQ;
    return x < 0.95 ? { t: "true" } : { t: "false" };
  };
  // atoms are shared between the branches that use them (a DAG, as the explorer builds them)
  const pool = Array.from({ length: 1 + Math.floor(r() * 5) }, atom);
  const node = (depth: number): F => {
    const x = r();
    if (depth === 0 || x < 0.3) return pick(pool);
    const kids = () => Array.from({ length: 2 + Math.floor(r() * 2) }, () => node(depth - 1));
    if (x < 0.5) return AND(...kids());
    if (x < 0.7) return OR(...kids());
    if (x < 0.8) return not(node(depth - 1));
    return { t: "chain", rules: kids().map((m) => ({ m, accept: r() < 0.5 })), policy: r() < 0.5 };
  };
  // top-level single-variable conjuncts narrow the domain (several intervals, low ends that are cuts)
  const narrow = (): F => {
    const x = r();
    if (x < 0.25) return own();
    if (x < 0.4) return not(own());
    if (x < 0.6) return (r() < 0.5 ? dp : sp)(...range());
    if (x < 0.8) return not((r() < 0.5 ? dp : sp)(...range()));
    const f = r() < 0.5 ? dp : sp;
    return OR(f(...range()), f(...range()));
  };
  const pc = Array.from({ length: 1 + Math.floor(r() * 3) }, () => (r() < 0.6 ? node(3) : narrow()));
  return { pc, preferPort: pick(PREFER) };
}

/** Values that meet every class of the generated atoms (two of each class of several ports, for `sport = dport` and its negation). */
const GRID_PORTS = [
  1, 2, 1000, 1019, 1020, 1021, 1022, 1023, 1024, 1025, 1026, 1027, 1028, 1029, 1030, 1031, 1500, 1501, 39997, 39998, 39999, 40000, 40001,
  40002, 40003, 50000, 50001, 65535,
];
const gridDsts = (v: 4 | 6): bigint[] => {
  const b = BASE[v];
  const out = [b - 1n, b + 256n, b + 257n, b + (1n << BigInt((v === 4 ? 32 : 128) - 8)), 1n << BigInt(v === 4 ? 24 : 120), 0xfffffffn];
  for (let k = 0n; k <= 17n; k++) out.push(b + k);
  return out;
};

function bruteForceModel(f: F, v: 4 | 6): boolean {
  for (const n of gridDsts(v))
    for (const dport of GRID_PORTS) for (const sport of GRID_PORTS) if (evaluate(f, { dst: { v, n }, dport, sport })) return true;
  return false;
}

describe("classModel: a condition's classes, against the reference", () => {
  for (const v of [4, 6] as const) {
    it(`generated IPv${v} conditions: the same model (or unsat, or Z3) at every class limit; unsat only where no packet of any class satisfies`, () => {
      const r = rng(v === 4 ? 20261207 : 7122026);
      const tally = { dial: 0, unsat: 0, z3: 0 };
      for (let i = 0; i < 250; i++) {
        const { pc, preferPort } = generate(r, v);
        const fd = found(pc, varDial(v));
        const got = checkAgainstReference(fd, preferPort, `IPv${v} case ${i}`);
        if (got === "unsat") {
          expect(bruteForceModel(and(DOMAIN, ...pc), v), `IPv${v} case ${i}: unsat`).toBe(false);
          tally.unsat++;
        } else if (got === undefined) tally.z3++;
        else tally.dial++;
      }
      // each outcome well represented
      expect(tally.dial).toBeGreaterThan(50);
      expect(tally.unsat).toBeGreaterThan(20);
    });
  }

  it("the preferred port leads, when the condition allows it; the default source port leads the source ports", () => {
    const d = (n: string, dport: number, sport: number) => dialOf(ip(n), dport, sport);
    expect(classModel(found([]), 8080)).toEqual(d("0.0.0.1", 8080, 40000));
    expect(classModel(found([]))).toEqual(d("0.0.0.1", 1, 40000));
    // not allowed: the lowest port of the condition's first interval
    expect(classModel(found([OR(dp(1000, 2000), dp(3000, 4000))]), 80)).toEqual(d("0.0.0.1", 1000, 40000));
    // allowed in the second of two intervals
    expect(classModel(found([OR(dp(1000, 2000), dp(3000, 4000))]), 3500)).toEqual(d("0.0.0.1", 3500, 40000));
    // the preferred port is an interval's low end (listed once), the source ports are above the default one
    const low = found([OR(dp(1000, 2000), dp(3000, 4000)), sp(50000, 60000), host("10.0.0.5")]);
    expect(classModel(low, 3000)).toEqual(d("10.0.0.5", 3000, 50000));
    // ports 3000 (preferred), 1000 and 1024 (a cut), one source port: three classes
    expect(classModel(low, 3000, 3)).toEqual(d("10.0.0.5", 3000, 50000));
    expect(classModel(low, 3000, 2)).toBeUndefined();
  });

  it("a shared subformula is walked once, and still counted", () => {
    const x = dp(80, 80);
    const fd = found([OR(x, AND(x, sp(2000, 2000)), not(AND(x, x)))]);
    expect(classModel(fd)).toEqual(dialOf(ip("0.0.0.1"), 1, 40000));
    expect(classModel(found([AND(x, OR(x, sp(2000, 2000)))]))).toEqual(dialOf(ip("0.0.0.1"), 80, 40000));
    checkAgainstReference(fd, undefined, "shared");
  });

  it("raw true and false inside a condition, chains of several rules", () => {
    const T: F = { t: "true" };
    const Fa: F = { t: "false" };
    const chain: F = {
      t: "chain",
      rules: [
        { m: AND(dp(1, 1023), T), accept: false },
        { m: OR(Fa, sp(50000, 50000)), accept: true },
      ],
      policy: false,
    };
    expect(classModel(found([chain]))).toEqual(dialOf(ip("0.0.0.1"), 1024, 50000));
    expect(classModel(found([OR(Fa, dp(8080, 8080))]))).toEqual(dialOf(ip("0.0.0.1"), 8080, 40000));
  });

  it("what the classes do not cover goes to Z3: a configuration parameter, a dial field that is a constant", () => {
    expect(classModel(found([dp(80, 80), { t: "cfg", param: "p", value: 1 }]))).toBeUndefined();
    const base = varDial(4);
    const c = { k: "c" as const, n: 80 };
    for (const dial of [
      { ...base, dst: { k: "c" as const, ip: ip("192.168.1.20") } },
      { ...base, dport: c },
      { ...base, sport: c },
      { ...base, proto: "icmp" as const, dport: { k: "c" as const, n: 0 }, sport: { k: "c" as const, n: 1 } },
    ])
      expect(classModel(found([dp(80, 80)], dial), 80)).toBeUndefined();
  });

  it("contradicting single-variable conjuncts: unsat without a class tried", () => {
    expect(classModel(found([dp(10, 20), dp(30, 40)]))).toBe("unsat");
    expect(classModel(found([host("10.0.0.1"), host("10.0.0.2")]))).toBe("unsat");
  });

  it("an IPv6 condition: IPv6 representatives, IPv4 atoms cut nothing", () => {
    const fd = found([pfx(6, ip("fd00::").n, 120), not(host("fd00::")), pfx(4, BASE[4], 8)], varDial(6));
    // an IPv4 atom is false for an IPv6 address: unsat
    expect(classModel(fd)).toBe("unsat");
    const ok = found([pfx(6, ip("fd00::").n, 120), not(host("fd00::")), not(pfx(4, BASE[4], 8))], varDial(6));
    expect(classModel(ok)).toEqual(dialOf(ip("fd00::1"), 1, 40000));
    expect(classModel(ok, undefined, 3)).toBeUndefined();
    expect(classModel(ok, undefined, 4)).toEqual(dialOf(ip("fd00::1"), 1, 40000));
  });
});

describe("classModel: sport = dport (the peq atom)", () => {
  it("sport = dport: the preferred port as both ports", () => {
    const fd = found([dp(1030, 1040), PEQ]);
    expect(classModel(fd, 1035)).toEqual(dialOf(ip("0.0.0.1"), 1035, 1035));
    checkAgainstReference(fd, 1035, "peq, preferred");
  });

  it("sport != dport within one class of each: the source port one past the destination port", () => {
    const fd = found([dp(2000, 2001), sp(2000, 2001), not(PEQ)]);
    expect(classModel(fd)).toEqual(dialOf(ip("0.0.0.1"), 2000, 2001));
    checkAgainstReference(fd, undefined, "peq, one interval");
    // the source ports in two intervals, the second ruled out by a condition the domain does not read
    const two = found([dp(2000, 2001), OR(sp(2000, 2001), sp(2005, 2005)), not(PEQ), OR(not(sp(2005, 2005)), PEQ)]);
    expect(classModel(two)).toEqual(dialOf(ip("0.0.0.1"), 2000, 2001));
    checkAgainstReference(two, undefined, "peq, two intervals");
  });

  it("each destination port counts two more source ports", () => {
    const fd = found([dp(2000, 2001), sp(2000, 2001), not(PEQ)]);
    // one address, one port, one source port and the two of peq
    expect(classModel(fd, undefined, 3)).toEqual(dialOf(ip("0.0.0.1"), 2000, 2001));
    expect(classModel(fd, undefined, 2)).toBeUndefined();
  });
});

// ---- labs ----

/** c reaches s's web on 192.168.2.20 through r (IPv4, 4 machines' worth) and on fd00:1::20 directly (IPv6, cheaper). */
const dualStack = () =>
  build(`
segments: { a: { subnets: [192.168.1.0/24, "fd00:1::/64"] }, b: 192.168.2.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.10/24, "fd00:1::10/64"] } }
    routes: [ { to: 192.168.2.0/24, via: 192.168.1.1 } ]
  r:
    ip_forward: true
    interfaces: { eth0: { segment: a, addresses: [192.168.1.1/24] }, eth1: { segment: b, addresses: [192.168.2.1/24] } }
  s:
    interfaces: { eth0: { segment: b, addresses: [192.168.2.20/24] }, eth1: { segment: a, addresses: ["fd00:1::20/64"] } }
    routes: [ { to: 192.168.1.0/24, via: 192.168.2.1 } ]
    services: [ { name: web, port: 80, bind: "::" } ]
`);

/**
 * A NAT loop: c dials an address r routes to r2; r2 DNATs it back to c and masquerades it; r
 * SNATs it (out of eth0) to 203.0.113.7. That second entry at r must not take the reply tuple
 * of the first (nf_nat's uniqueness, walk.ts), which holds when the dialed address is
 * 203.0.113.7 and the source port equals the destination port (the tuples are swapped): `peq`.
 * c's input drops lo, so only the loop reaches its web.
 */
const natLoop = () =>
  build(`
segments: { lan1: 192.168.1.0/24, lan2: 10.0.0.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan1, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: web, port: 80 } ]
    firewall: { input: { rules: [ { action: drop, in: lo } ] } }
  r:
    ip_forward: true
    interfaces: { eth0: { segment: lan1, addresses: [192.168.1.1/24] }, eth1: { segment: lan2, addresses: [10.0.0.1/24] } }
    routes: [ { to: default, via: 10.0.0.2 } ]
    nat: [ { action: masquerade, out: eth1 }, { action: snat, out: eth0, to: 203.0.113.7 } ]
  r2:
    ip_forward: true
    interfaces: { eth0: { segment: lan2, addresses: [10.0.0.2/24] } }
    routes: [ { to: 192.168.1.0/24, via: 10.0.0.1 } ]
    nat: [ { chain: prerouting, action: dnat, to: 192.168.1.10 }, { action: masquerade, out: eth0 } ]
`);

const explore = (net: ReturnType<typeof build>, machines: string[], cap = 1e7): Explored =>
  exploreServices(net, "c", "tcp", new Set(machines), cap, Date.now() + 60_000);

const hasPeq = (f: F): boolean =>
  f.t === "peq" ||
  ((f.t === "and" || f.t === "or") && f.xs.some(hasPeq)) ||
  (f.t === "not" && hasPeq(f.x)) ||
  (f.t === "chain" && f.rules.some((r) => hasPeq(r.m)));

describe("exploreServices and decideService on labs", () => {
  const net = dualStack();
  const key = serviceKey("s", 80);

  it("the paths of a service cheapest first; decided by classes, the witness from the cheapest path", async () => {
    const ex = explore(net, ["s"]);
    expect(ex.hit).toBeUndefined();
    const paths = ex.paths.get(key)!;
    // explored IPv4 first, then IPv6; listed by cost
    expect(paths.map((f) => [f.dial.dst, f.path.cost])).toEqual([
      [{ k: "v", v: 6 }, 3],
      [{ k: "v", v: 4 }, 4],
    ]);
    for (const [i, f] of paths.entries()) checkAgainstReference(f, 80, `path ${i}`);
    expect(await decideService(ex, key, 80, { timeoutMs: 10_000 })).toEqual({
      verdict: "reachable",
      dial: dialOf(ip("fd00:1::20"), 80, 40000),
      paths: 2,
      by: "classes",
    });
    expect(rec.timeouts).toEqual([]);
  });

  it("an unsat condition is unreachable by classes, without Z3", async () => {
    const blocked = blockedBothWays();
    const ex = explore(blocked, ["s"]);
    const [only] = ex.paths.get(key)!;
    expect(classModel(only!, 80)).toBe("unsat");
    expect(await decideService(ex, key, 80, { timeoutMs: 10_000 })).toEqual({ verdict: "unreachable", paths: 1, by: "classes" });
    expect(rec.timeouts).toEqual([]);
    // no path at all: unreachable by classes too
    expect(await decideService(ex, serviceKey("s", 81), 81, { timeoutMs: 10_000 })).toEqual({
      verdict: "unreachable",
      paths: 0,
      by: "classes",
    });
  });

  it("past the class limit, Z3: unsat and sat, with the caller's time", async () => {
    const ex = explore(blockedBothWays(), ["s"]);
    expect(await decideService(ex, key, 80, { timeoutMs: 7000, maxClasses: 0 })).toEqual({ verdict: "unreachable", paths: 1, by: "z3" });
    const mine = await decideService(explore(net, ["s"]), key, 80, { timeoutMs: 6000, maxClasses: 0 });
    expect(mine).toMatchObject({ verdict: "reachable", paths: 2, by: "z3" });
    expect(satisfiedBy(explore(net, ["s"]).paths.get(key)!, mine!.dial!)).toBe(true);
    expect(rec.timeouts).toEqual([7000, 6000]);
  });

  it("Z3 gives up: unknown, with its reason", async () => {
    rec.gaveUp = "timeout";
    expect(await decideService(explore(net, ["s"]), key, 80, { timeoutMs: 5000, maxClasses: 0 })).toEqual({
      verdict: "unknown",
      reason: "solver: timeout",
      paths: 2,
      by: "z3",
    });
  });

  it("Z3's model is decoded on the path it satisfies, in that path's family; a model no path carries is an internal error", async () => {
    const ex = explore(net, ["s"]);
    // satisfies the IPv4 path (the second) only
    rec.model = { dst4: ip("192.168.2.20"), dst6: ip("fd00::99"), dport: 80, sport: 40000 };
    expect(await decideService(ex, key, 80, { timeoutMs: 5000, maxClasses: 0 })).toEqual({
      verdict: "reachable",
      dial: dialOf(ip("192.168.2.20"), 80, 40000),
      paths: 2,
      by: "z3",
    });
    // the IPv6 path (the first) only
    rec.model = { dst4: ip("192.168.2.99"), dst6: ip("fd00:1::20"), dport: 80, sport: 40000 };
    expect(await decideService(ex, key, 80, { timeoutMs: 5000, maxClasses: 0 })).toMatchObject({
      dial: dialOf(ip("fd00:1::20"), 80, 40000),
    });
    rec.model = { dst4: ip("192.168.2.99"), dst6: ip("fd00::99"), dport: 80, sport: 40000 };
    await expect(decideService(ex, key, 80, { timeoutMs: 5000, maxClasses: 0 })).rejects.toThrow(
      "internal: the solver's model satisfies none of the paths it was given",
    );
  });

  it("a path of a fixed address is not decoded as a dial of the address variable", async () => {
    const fixed: SDial = { ...varDial(4), dst: { k: "c", ip: ip("192.168.1.20") } };
    const ex: Explored = {
      paths: new Map([[key, [found([dp(80, 80)], fixed), found([host("192.168.1.20"), dp(80, 80)])]]]),
      common: 0,
      scoped: new Map(),
    };
    // a model both paths carry: the fixed one is skipped (its address is not the model's)
    rec.model = { dst4: ip("192.168.1.20"), dst6: ip("fd00::99"), dport: 80, sport: 40000 };
    expect(await decideService(ex, key, 80, { timeoutMs: 5000, maxClasses: 0 })).toMatchObject({
      verdict: "reachable",
      dial: { dst: ip("192.168.1.20"), dport: 80 },
      by: "z3",
    });
  });

  it("the budget: decided when the forks counted are within it, left to the per-flow decision above it or after a bound hit", async () => {
    const ex = explore(net, ["s"]);
    const forks = flowForksAtMost(ex, key);
    expect(forks).toBeGreaterThan(0);
    expect(await decideService(ex, key, 80, { timeoutMs: 5000, budget: forks })).toMatchObject({ by: "classes" });
    expect(await decideService(ex, key, 80, { timeoutMs: 5000, budget: forks - 1 })).toBeUndefined();
    expect(await decideService({ ...ex, hit: "bound" }, key, 80, { timeoutMs: 5000 })).toBeUndefined();
    const capped = explore(net, ["s"], 1);
    expect(capped.hit).toMatch(/more than 1 symbolic branch/);
    expect(await decideService(capped, key, 80, { timeoutMs: 5000 })).toBeUndefined();
  });

  it("an error that is not the exploration's bound is not taken for one", () => {
    expect(() => exploreServices(net, "nosuch", "tcp", new Set(["s"]), 1e7, Date.now() + 60_000)).toThrow(/unknown machine nosuch/);
  });

  it("a NAT loop compares the two ports (peq): its path is decided by classes, each destination port counting two more source ports", async () => {
    const ex = explore(natLoop(), ["c"]);
    const paths = ex.paths.get(serviceKey("c", 80))!;
    const loop = paths.find((f) => f.path.pc.some(hasPeq))!;
    expect(loop).toBeDefined();
    const c = classesOf(loop, 80);
    if (typeof c !== "object") throw new Error("not counted");
    expect(c.peq).toBe(true);
    const n = countOf(c);
    const want = expected(loop, 80, n);
    expect(want).toMatchObject({ dport: 80, sport: 40000 });
    expect(classModel(loop, 80)).toEqual(want);
    expect(classModel(loop, 80, n)).toEqual(want);
    expect(classModel(loop, 80, n - 1)).toBeUndefined();
    expect(await decideService(ex, serviceKey("c", 80), 80, { timeoutMs: 5000 })).toMatchObject({
      verdict: "reachable",
      by: "classes",
      paths: paths.length,
    });
  });
});

describe("satisfiedBy: a dial of the simulator, checked against the paths", () => {
  const v4 = found([dp(80, 80)]);
  const d = dialOf(ip("192.168.1.20"), 80, 40000);

  it("a dial some path carries; none carries another port", () => {
    expect(satisfiedBy([v4], d)).toBe(true);
    expect(satisfiedBy([found([dp(81, 81)]), v4], d)).toBe(true);
    expect(satisfiedBy([v4], { ...d, dport: 81 })).toBe(false);
    expect(satisfiedBy([], d)).toBe(false);
  });

  it("only a path of the dial's source, protocol and family, whose address is the variable", () => {
    expect(satisfiedBy([found([dp(80, 80)], varDial(4, "other"))], d)).toBe(false);
    expect(satisfiedBy([found([dp(80, 80)], varDial(4, "c", "udp"))], d)).toBe(false);
    expect(satisfiedBy([found([dp(80, 80)], varDial(6))], d)).toBe(false);
    expect(satisfiedBy([found([dp(80, 80)], { ...varDial(4), dst: { k: "c", ip: ip("192.168.1.20") } })], d)).toBe(false);
    expect(satisfiedBy([found([dp(80, 80)], varDial(6))], dialOf(ip("fd00::20"), 80, 40000))).toBe(true);
  });
});
