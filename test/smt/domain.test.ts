/**
 * domain.ts against brute force: on a small universe (dport and sport 0-7,
 * dst4 in 10.0.0.0/29) every point is enumerated, and refine, judge and single
 * must say what the points say. refine never loses a point that satisfies the
 * condition (and is exact for conjunctions of single-variable conditions);
 * judge's true/false hold for every point of the domain; single is the one
 * value a variable has left.
 *
 * Seed: FC_SEED (default 20261123); runs: DOMAIN_RUNS (default 300).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FULL, judge, refine, single, type Dom, type VarKey } from "../../src/smt/domain.js";
import { and, evaluate, not, or, type Assignment, type F } from "../../src/smt/term.js";

const SEED = Number(process.env.FC_SEED ?? 20261123);
const RUNS = Number(process.env.DOMAIN_RUNS ?? 300);
const BASE = 0x0a000000n; // 10.0.0.0
const N = 8;

const UNIVERSE: F = and(
  { t: "rng", name: "dport", lo: 0, hi: N - 1 },
  { t: "rng", name: "sport", lo: 0, hi: N - 1 },
  { t: "pfx", p: { v: 4, n: BASE, len: 29 } },
);
const points: Assignment[] = [];
for (let d = 0; d < N; d++)
  for (let p = 0; p < N; p++) for (let s = 0; s < N; s++) points.push({ dst: { v: 4, n: BASE + BigInt(d) }, dport: p, sport: s });

const value = (x: Assignment, key: VarKey): bigint => (key === "dst4" ? x.dst.n : key === "dst6" ? -1n : BigInt(x[key]));
const inDom = (d: Dom, x: Assignment): boolean =>
  (["dst4", "dport", "sport"] as const).every((k) => d[k].some(([lo, hi]) => value(x, k) >= lo && value(x, k) <= hi));

const rngArb: fc.Arbitrary<F> = fc
  .tuple(fc.constantFrom("dport" as const, "sport" as const), fc.nat(N - 1), fc.nat(N - 1))
  .map(([name, a, b]) => ({ t: "rng", name, lo: Math.min(a, b), hi: Math.max(a, b) }));
const pfxArb: fc.Arbitrary<F> = fc
  .tuple(fc.nat(N - 1), fc.integer({ min: 29, max: 32 }))
  .map(([k, len]) => ({ t: "pfx", p: { v: 4, n: (BASE + BigInt(k)) & ~((1n << BigInt(32 - len)) - 1n), len } }));
const atomArb: fc.Arbitrary<F> = fc.oneof(rngArb, pfxArb, fc.constant<F>({ t: "peq" }));
const { formula: formulaArb } = fc.letrec<{ formula: F }>((tie) => ({
  formula: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atomArb,
    tie("formula").map((x) => not(x)),
    fc.array(tie("formula"), { minLength: 1, maxLength: 3 }).map((xs) => and(...xs)),
    fc.array(tie("formula"), { minLength: 1, maxLength: 3 }).map((xs) => or(...xs)),
  ),
}));
/** A firewall chain of generated rules (first match decides, else the policy). */
const chainArb: fc.Arbitrary<F> = fc
  .tuple(fc.array(fc.tuple(fc.oneof(rngArb, pfxArb, fc.constant<F>({ t: "peq" })), fc.boolean()), { maxLength: 3 }), fc.boolean())
  .map(([rules, policy]) => ({ t: "chain", rules: rules.map(([m, accept]) => ({ m, accept })), policy }));

/** A condition on one variable: a Boolean combination of that variable's atoms. */
const oneVarArb: fc.Arbitrary<F> = fc.oneof(rngArb, pfxArb).chain((a) => {
  const same = a.t === "rng" ? rngArb.filter((b) => b.t === "rng" && b.name === a.name) : pfxArb;
  return fc
    .tuple(same, fc.constantFrom("and", "or", "not", "atom"))
    .map(([b, op]) => (op === "and" ? and(a, not(b)) : op === "or" ? or(a, b) : op === "not" ? not(a) : a));
});

/** A domain on the universe, narrowed by some single-variable conditions. */
const domArb: fc.Arbitrary<Dom | undefined> = fc
  .array(oneVarArb, { maxLength: 3 })
  .map((cs) => cs.reduce<Dom | undefined>((d, c) => d && refine(d, c), refine(FULL, UNIVERSE)));

const opts = { seed: SEED, numRuns: RUNS };

describe(`domain.ts against brute force on ${points.length} points (seed ${SEED}, ${RUNS} runs)`, () => {
  it("refine keeps every point that satisfies the condition, and is exact for single-variable conjunctions", () => {
    fc.assert(
      fc.property(domArb, formulaArb, fc.array(oneVarArb, { minLength: 1, maxLength: 3 }), (d, f, cs) => {
        if (!d) return;
        const r = refine(d, f);
        const sat = points.filter((x) => inDom(d, x) && evaluate(f, x));
        if (!r) expect(sat).toEqual([]);
        else for (const x of sat) expect(inDom(r, x)).toBe(true);
        // a conjunction of single-variable conditions: exactly the points that satisfy it
        const g = and(...cs);
        const rg = refine(d, g);
        const satG = points.filter((x) => inDom(d, x) && evaluate(g, x));
        if (!rg) expect(satG).toEqual([]);
        else expect(points.filter((x) => inDom(rg, x))).toEqual(satG);
      }),
      opts,
    );
  });

  it("judge: true holds at every point of the domain, false at none", () => {
    fc.assert(
      fc.property(domArb, formulaArb, (d, f) => {
        if (!d) return;
        const j = judge(f, d);
        if (j === undefined) return;
        for (const x of points) if (inDom(d, x)) expect(evaluate(f, x)).toBe(j);
      }),
      opts,
    );
  });

  // Soundness alone lets a judge that says "undefined" more often pass; the domain is exact for an
  // atom (it holds a variable's values as intervals), so there judge must decide whenever the points do.
  it("judge decides an atom and its negation exactly: true at every point, false at none, else undefined", () => {
    fc.assert(
      fc.property(domArb, fc.oneof(rngArb, pfxArb), fc.boolean(), (d, a, negate) => {
        if (!d) return;
        const f = negate ? not(a) : a;
        const inside = points.filter((x) => inDom(d, x));
        const held = inside.filter((x) => evaluate(f, x)).length;
        expect(judge(f, d)).toBe(held === inside.length ? true : held === 0 ? false : undefined);
      }),
      opts,
    );
  });

  it("judge composes and, or, not and chains as three-valued logic over their parts' judgements", () => {
    const three = (f: F, d: Dom): boolean | undefined => {
      switch (f.t) {
        case "and": {
          const js = f.xs.map((x) => judge(x, d));
          return js.includes(false) ? false : js.includes(undefined) ? undefined : true;
        }
        case "or": {
          const js = f.xs.map((x) => judge(x, d));
          return js.includes(true) ? true : js.includes(undefined) ? undefined : false;
        }
        case "not": {
          const j = judge(f.x, d);
          return j === undefined ? undefined : !j;
        }
        case "chain": {
          // the first rule not judged false decides: undecided if its match is, else its action; none: the policy
          const js = f.rules.map((r) => judge(r.m, d));
          const k = js.findIndex((j) => j !== false);
          return k < 0 ? f.policy : js[k] === undefined ? undefined : f.rules[k]!.accept;
        }
        default:
          return judge(f, d);
      }
    };
    // the cases random formulas seldom make: every part decided the same way
    const u = refine(FULL, UNIVERSE)!;
    const low: F = { t: "rng", name: "dport", lo: 0, hi: N - 1 };
    const high: F = { t: "rng", name: "sport", lo: 0, hi: N - 1 };
    const none: F = { t: "rng", name: "dport", lo: N, hi: N + 1 };
    expect([judge(and(low, high), u), judge(or(none, not(low)), u), judge(or(none, low), u), judge(and(low, none), u)]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    fc.assert(
      fc.property(domArb, fc.oneof(formulaArb, chainArb), (d, f) => {
        if (!d) return;
        expect(judge(f, d)).toBe(three(f, d));
        // and a decided chain is what its packets meet
        const j = judge(f, d);
        if (j !== undefined) for (const x of points) if (inDom(d, x)) expect(evaluate(f, x)).toBe(j);
      }),
      opts,
    );
  });

  it("judge of peq: decided when both ports have one value, false when their sets do not meet", () => {
    fc.assert(
      fc.property(domArb, (d) => {
        if (!d) return;
        const inside = points.filter((x) => inDom(d, x));
        const p = single(d, "dport");
        const s = single(d, "sport");
        const meet = inside.some((x) => x.dport === x.sport);
        const j = judge({ t: "peq" }, d);
        if (p !== undefined && s !== undefined) expect(j).toBe(p === s);
        // the domain is a product of the variables' sets: the ports can be equal at some point iff their sets meet
        else if (!meet) expect(j).toBe(false);
        else expect(j).toBeUndefined();
      }),
      opts,
    );
    // one port each (random domains seldom narrow both to one value)
    const at = (dport: number, sport: number) =>
      refine(FULL, and({ t: "rng", name: "dport", lo: dport, hi: dport }, { t: "rng", name: "sport", lo: sport, hi: sport }))!;
    expect([judge({ t: "peq" }, at(3, 3)), judge({ t: "peq" }, at(3, 4))]).toEqual([true, false]);
    expect(judge({ t: "true" }, FULL)).toBe(true);
    expect(judge({ t: "false" }, FULL)).toBe(false);
    expect(judge({ t: "cfg", param: "p", value: 1 }, FULL)).toBeUndefined();
  });

  it("single: the one value a variable has left, and only then", () => {
    fc.assert(
      fc.property(domArb, (d) => {
        if (!d) return;
        const inside = points.filter((x) => inDom(d, x));
        for (const key of ["dst4", "dport", "sport"] as const) {
          const values = new Set(inside.map((x) => value(x, key)));
          const s = single(d, key);
          if (values.size === 1) expect(s).toBe([...values][0]);
          else expect(s).toBeUndefined();
        }
      }),
      opts,
    );
  });
});

// The brute force above works inside a small universe that every domain is first narrowed to: it
// never sees a variable's whole range, nor the top of the port range. These cases do, by hand.
describe("domain.ts at the edges of the variables' ranges", () => {
  const port = (name: "dport" | "sport", lo: number, hi: number): F => ({ t: "rng", name, lo, hi });
  const pfx4 = (n: bigint, len: number): F => ({ t: "pfx", p: { v: 4, n, len } });
  const pfx6 = (n: bigint, len: number): F => ({ t: "pfx", p: { v: 6, n, len } });

  it("FULL allows every value of every variable: a condition on one variable alone leaves it that variable's values, and the others whole", () => {
    const cases: [VarKey, F, bigint][] = [
      ["dst4", pfx4(0x0a000001n, 32), 0x0a000001n],
      ["dst6", pfx6(0xfd00n << 112n, 128), 0xfd00n << 112n],
      ["dport", port("dport", 80, 80), 80n],
      ["sport", port("sport", 40000, 40000), 40000n],
    ];
    const whole: Record<VarKey, F> = {
      dst4: pfx4(0n, 0),
      dst6: pfx6(0n, 0),
      dport: port("dport", 0, 65535),
      sport: port("sport", 0, 65535),
    };
    for (const [key, f, n] of cases) {
      const d = refine(FULL, f);
      expect(d && single(d, key), key).toBe(n);
      for (const other of Object.keys(whole) as VarKey[]) {
        // nothing is known of a variable FULL: every value of its range is allowed
        expect(judge(whole[other], FULL), other).toBe(true);
        if (other !== key) expect(judge(whole[other], d!), `${key}, then ${other}`).toBe(true);
      }
    }
  });

  it("the negation of a range keeps the range's complement up to the top of the port range, 65,535", () => {
    const top = refine(FULL, not(port("dport", 0, 65534)));
    expect(top && single(top, "dport")).toBe(65535n);
    const bottom = refine(FULL, not(port("dport", 1, 65535)));
    expect(bottom && single(bottom, "dport")).toBe(0n);
    // both ends of the range, and the middle left out
    const ends = refine(FULL, not(port("sport", 1, 65534)))!;
    expect([judge(port("sport", 0, 0), ends), judge(port("sport", 65535, 65535), ends), judge(port("sport", 1, 65534), ends)]).toEqual([
      undefined,
      undefined,
      false,
    ]);
    expect(refine(FULL, and(not(port("sport", 1, 65534)), port("sport", 65000, 65535)))?.sport).toEqual([[65535n, 65535n]]);
    // the top IPv4 address, 255.255.255.255: its /31 without the other one, through negated prefixes
    const last = refine(
      FULL,
      and(not(pfx4(0n, 1)), not(pfx4(0x80000000n, 2)), not(pfx4(0xc0000000n, 3)), pfx4(0xfffffffen, 31), not(pfx4(0xfffffffen, 32))),
    );
    expect(last && single(last, "dst4")).toBe(0xffffffffn);
  });

  it("a union of ranges given in no order is their exact union", () => {
    const d = refine(
      FULL,
      or(
        port("dport", 50, 60),
        port("dport", 10, 20),
        port("dport", 70, 80),
        port("dport", 21, 25),
        port("dport", 0, 5),
        port("dport", 55, 65),
      ),
    );
    expect(d?.dport).toEqual([
      [0n, 5n],
      [10n, 25n],
      [50n, 65n],
      [70n, 80n],
    ]);
  });
});
