/**
 * term.ts, the formulas both the explorer and the solver read, against their meaning: random
 * formulas built with the smart constructors (and, or, not, inPrefix, eqAddr, inPorts, eqPort,
 * cfgIs) are evaluated on random assignments and compared with a reference written as plain
 * JavaScript beside them; and the folding the file promises is checked on the result (a decision
 * on constants is decided here, and/or stay flat and never hold a constant, so Z3 never sees one).
 *
 * Seed: FC_SEED (default 20261207); runs: TERM_RUNS (default 500).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { contains, sameIP, type IP, type Prefix } from "../../src/net/addr.js";
import {
  FALSE,
  TRUE,
  ac,
  and,
  bool,
  cfgAll,
  cfgIs,
  eqAddr,
  eqPort,
  evaluate,
  inPorts,
  inPrefix,
  not,
  or,
  size,
  type AV,
  type Assignment,
  type F,
  type PV,
} from "../../src/smt/term.js";

const SEED = Number(process.env.FC_SEED ?? 20261207);
const RUNS = Number(process.env.TERM_RUNS ?? 500);
const params = { seed: SEED, numRuns: RUNS, verbose: true } as const;

// A small universe, so that random values meet: 10.0.0.0/29 and 2001:db8::/125, ports 0-7.
const BASE4 = 0x0a000000n;
const BASE6 = 0x20010db8n << 96n;
const ipArb = (v: 4 | 6): fc.Arbitrary<IP> => fc.nat(7).map((k) => ({ v, n: (v === 4 ? BASE4 : BASE6) + BigInt(k) }));
const prefixArb: fc.Arbitrary<Prefix> = fc.tuple(fc.constantFrom(4 as const, 6 as const), fc.nat(7), fc.nat(4)).map(([v, k, host]) => {
  // host bits 0-3 of the low byte: lengths 32/29 (IPv4) and 128/125 (IPv6); 0: the whole family
  const width = v === 4 ? 32 : 128;
  const len = host === 4 ? 0 : width - host;
  const n = len === 0 ? 0n : ((v === 4 ? BASE4 : BASE6) + BigInt(k)) & ~((1n << BigInt(width - len)) - 1n);
  return { v, n, len };
});

/** A formula and what it means, written without term.ts. */
interface Built {
  readonly f: F;
  readonly ref: (x: Assignment) => boolean;
  /** whether it mentions no variable (then it must have folded to true or false) */
  readonly constant: boolean;
}

/** The value of an address field under an assignment (the dialed address is the variable). */
const addrOf = (a: AV, x: Assignment): IP | undefined => (a.k === "c" ? a.ip : x.dst.v === a.v ? x.dst : undefined);
const portOf = (p: PV, x: Assignment): number => (p.k === "c" ? p.n : x[p.name]);
const same = (a: IP | undefined, b: IP | undefined) => a !== undefined && b !== undefined && sameIP(a, b);

/** Formulas of one run, whose dialed address is of family v (a query runs one family at a time). */
function builtArb(v: 4 | 6): fc.Arbitrary<Built> {
  const avArb: fc.Arbitrary<AV> = fc.oneof(
    fc.constant<AV>({ k: "v", v }),
    fc.constantFrom(4 as const, 6 as const).chain((w) => ipArb(w).map(ac)),
  );
  const pvArb: fc.Arbitrary<PV> = fc.oneof(
    fc.constantFrom<PV>({ k: "v", name: "dport" }, { k: "v", name: "sport" }),
    fc.nat(7).map((n): PV => ({ k: "c", n })),
  );
  const isConst = (a: AV | PV) => a.k === "c";
  const atom: fc.Arbitrary<Built> = fc.oneof(
    fc.tuple(avArb, prefixArb).map(([a, p]) => ({
      f: inPrefix(a, p),
      ref: (x: Assignment) => {
        const ip = addrOf(a, x);
        return ip !== undefined && contains(p, ip);
      },
      constant: isConst(a),
    })),
    fc.tuple(avArb, avArb).map(([a, b]) => ({
      f: eqAddr(a, b),
      ref: (x: Assignment) => same(addrOf(a, x), addrOf(b, x)),
      // two variables of the run are the same variable
      constant: isConst(a) || isConst(b) ? isConst(a) && isConst(b) : true,
    })),
    fc.tuple(pvArb, fc.nat(8), fc.nat(8)).map(([p, lo, hi]) => ({
      f: inPorts(p, lo, hi),
      ref: (x: Assignment) => portOf(p, x) >= lo && portOf(p, x) <= hi,
      // an empty range holds for no value
      constant: isConst(p) || lo > hi,
    })),
    fc.tuple(pvArb, pvArb).map(([p, q]) => ({
      f: eqPort(p, q),
      ref: (x: Assignment) => portOf(p, x) === portOf(q, x),
      constant: isConst(p) && isConst(q) ? true : p.k === "v" && q.k === "v" ? p.name === q.name : false,
    })),
    fc.boolean().map((b) => ({ f: bool(b), ref: () => b, constant: true })),
    fc.tuple(fc.constantFrom("a", "b"), fc.nat(2)).map(([p, value]) => ({
      f: cfgIs(p, value),
      ref: (x: Assignment) => x.cfg![p] === value,
      constant: false,
    })),
  );
  return fc.letrec<{ b: Built }>((tie) => ({
    b: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      atom,
      tie("b").map((y) => ({ f: not(y.f), ref: (x: Assignment) => !y.ref(x), constant: y.constant })),
      fc.array(tie("b"), { maxLength: 4 }).map((ys) => ({
        f: and(...ys.map((y) => y.f)),
        ref: (x: Assignment) => ys.every((y) => y.ref(x)),
        constant: ys.every((y) => y.constant),
      })),
      fc.array(tie("b"), { maxLength: 4 }).map((ys) => ({
        f: or(...ys.map((y) => y.f)),
        ref: (x: Assignment) => ys.some((y) => y.ref(x)),
        constant: ys.every((y) => y.constant),
      })),
      // a first-match chain (built as the explorer builds it: one node)
      fc.tuple(fc.array(fc.tuple(tie("b"), fc.boolean()), { maxLength: 4 }), fc.boolean()).map(([rules, policy]) => ({
        f: { t: "chain", rules: rules.map(([r, accept]) => ({ m: r.f, accept })), policy } satisfies F,
        ref: (x: Assignment) => {
          for (const [r, accept] of rules) if (r.ref(x)) return accept;
          return policy;
        },
        constant: false,
      })),
    ),
  })).b;
}

const assignmentArb = (v: 4 | 6): fc.Arbitrary<Assignment> =>
  fc.record({
    dst: ipArb(v),
    dport: fc.nat(7),
    sport: fc.nat(7),
    cfg: fc.record({ a: fc.nat(2), b: fc.nat(2) }),
  });

/** Every node of a formula (shared ones once). */
function nodes(f: F, out: F[] = []): F[] {
  out.push(f);
  if (f.t === "and" || f.t === "or") for (const y of f.xs) nodes(y, out);
  else if (f.t === "not") nodes(f.x, out);
  else if (f.t === "chain") for (const r of f.rules) nodes(r.m, out);
  return out;
}

const run = fc
  .constantFrom(4 as const, 6 as const)
  .chain((v) => fc.tuple(builtArb(v), fc.array(assignmentArb(v), { minLength: 1, maxLength: 6 })));

describe("term.ts: formulas mean what they say", () => {
  it("every formula built with the constructors evaluates as its plain reference, on every assignment", () => {
    fc.assert(
      fc.property(run, ([b, xs]) => {
        for (const x of xs)
          expect(
            evaluate(b.f, x),
            JSON.stringify(x, (_, v) => (typeof v === "bigint" ? String(v) : v)),
          ).toBe(b.ref(x));
      }),
      params,
    );
  });

  it("folds as it builds: a formula without variables is true or false, and/or are flat and hold no constant, not wraps no constant or not", () => {
    fc.assert(
      fc.property(run, ([b]) => {
        if (b.constant) expect(["true", "false"]).toContain(b.f.t);
        for (const n of nodes(b.f)) {
          if (n.t === "and" || n.t === "or") {
            expect(n.xs.length).toBeGreaterThanOrEqual(2);
            for (const y of n.xs) expect(["true", "false", n.t]).not.toContain(y.t);
          }
          if (n.t === "not") expect(["true", "false", "not"]).not.toContain(n.x.t);
          // an atom on the variable of the other family, or a whole family, is decided here
          if (n.t === "pfx") expect(n.p.len).toBeGreaterThan(0);
          if (n.t === "rng") expect(n.lo).toBeLessThanOrEqual(n.hi);
        }
      }),
      params,
    );
  });

  it("the constructors' edge cases", () => {
    const dst4: AV = { k: "v", v: 4 };
    const dport: PV = { k: "v", name: "dport" };
    const sport: PV = { k: "v", name: "sport" };
    const a = inPorts(dport, 1, 5);
    const b = inPorts(sport, 2, 3);
    // and/or of nothing are their units; of one formula, that formula
    expect(and()).toBe(TRUE);
    expect(or()).toBe(FALSE);
    expect(and(a)).toBe(a);
    expect(or(TRUE, a)).toBe(TRUE);
    expect(and(a, FALSE, b)).toBe(FALSE);
    // nested and/or are flattened into one node, in order
    expect(and(and(a, b), a)).toEqual({ t: "and", xs: [a, b, a] });
    expect(or(a, or(b, a))).toEqual({ t: "or", xs: [a, b, a] });
    expect(not(not(a))).toBe(a);
    // the dialed address against a constant is an exact prefix; against the other family, false
    expect(eqAddr(dst4, ac({ v: 4, n: BASE4 }))).toEqual({ t: "pfx", p: { v: 4, n: BASE4, len: 32 } });
    expect(eqAddr(ac({ v: 6, n: BASE6 }), dst4)).toBe(FALSE);
    expect(eqAddr(dst4, { k: "v", v: 4 })).toBe(TRUE);
    expect(eqAddr(dst4, { k: "v", v: 6 })).toBe(FALSE);
    expect(inPrefix(dst4, { v: 4, n: 0n, len: 0 })).toBe(TRUE);
    expect(inPrefix(dst4, { v: 6, n: 0n, len: 0 })).toBe(FALSE);
    // the two port variables: equal is one atom, a constant port a one-port range
    expect(eqPort(dport, sport)).toEqual({ t: "peq" });
    expect(eqPort(sport, sport)).toBe(TRUE);
    expect(eqPort({ k: "c", n: 4 }, sport)).toEqual({ t: "rng", name: "sport", lo: 4, hi: 4 });
    expect(inPorts(dport, 5, 4)).toBe(FALSE);
  });

  it("a configuration parameter without a value is an internal error, not false; cfgAll is the conjunction", () => {
    const x: Assignment = { dst: { v: 4, n: BASE4 }, dport: 1, sport: 2, cfg: { a: 1 } };
    expect(() => evaluate(cfgIs("b", 0), x)).toThrow(/no value for configuration parameter b/);
    expect(() => evaluate(cfgIs("a", 0), { ...x, cfg: undefined })).toThrow(/parameter a/);
    expect(evaluate(cfgAll([["a", 1]]), x)).toBe(true);
    expect(evaluate(cfgAll([["a", 0]]), x)).toBe(false);
    expect(cfgAll([])).toBe(TRUE);
  });

  it("size counts the nodes, a shared subterm once", () => {
    const a = inPorts({ k: "v", name: "dport" }, 1, 5);
    const b = inPorts({ k: "v", name: "sport" }, 1, 5);
    expect(size(a)).toBe(1);
    expect(size(and(a, b))).toBe(3);
    expect(size({ t: "and", xs: [a, a] })).toBe(2);
    expect(size(not(or(a, b)))).toBe(4);
    expect(
      size({
        t: "chain",
        rules: [
          { m: a, accept: true },
          { m: and(a, b), accept: false },
        ],
        policy: true,
      }),
    ).toBe(4);
  });
});
