/**
 * What `decide()` and `decideDifference()` (src/smt/decide.ts) ask of the solver, seen through a
 * wrapper around src/smt/solver.ts that records each call and passes it on to Z3: `witness:
 * "any"` asks for no preferences; the time a call gets is what is left of the caller's timeout
 * (never more, and the default 30 s when none is given), for the decision and for each unsat
 * core; and when the solver gives up (the wrapper answers "unknown" in its place) the verdict is
 * unknown with the solver's reason, never a guess, and the SMT-LIB text asked for is still
 * returned; an unsat core the solver gives up on is left out, and a model that none of the paths
 * carries is an internal error, not a witness. Found by mutation testing (docs/mutation.md): a
 * timeout, or a solver that gives up, is too slow or too rare to reach with real formulas.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import type { SolveResult } from "../../src/smt/solver.js";
import type { IP } from "../../src/net/addr.js";
import { build, ip, q } from "../sim/helpers.js";
import { blockedBothWays, twoAddresses } from "./decide-labs.js";

const rec = vi.hoisted(() => ({
  solve: [] as { timeoutMs: number; prefer?: readonly unknown[][]; alternatives: number }[],
  cores: [] as number[],
  /** answer this instead of Z3's verdict (keeping its SMT-LIB text) */
  gaveUp: undefined as string | undefined,
  /** answer this model instead of Z3's */
  model: undefined as undefined | { dst4: IP; dst6: IP; dport: number; sport: number },
  /** the unsat core calls give up */
  coreGivesUp: false,
}));

vi.mock("../../src/smt/solver.js", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../src/smt/solver.js")>();
  return {
    ...orig,
    solve: async (...args: Parameters<typeof orig.solve>): Promise<SolveResult> => {
      const [, alternatives, opts] = args;
      rec.solve.push({ timeoutMs: opts.timeoutMs, alternatives: alternatives.length, ...(opts.prefer ? { prefer: opts.prefer } : {}) });
      const r = await orig.solve(...args);
      if (rec.model) return { status: "sat", model: rec.model, ms: r.ms };
      if (rec.gaveUp === undefined) return r;
      return { status: "unknown", reason: rec.gaveUp, ms: r.ms, ...(r.smt2 !== undefined ? { smt2: r.smt2 } : {}) };
    },
    coreOf: async (...args: Parameters<typeof orig.coreOf>) => {
      rec.cores.push(args[3]);
      const labels = await orig.coreOf(...args);
      return rec.coreGivesUp ? undefined : labels;
    },
  };
});

// Imported afresh after the mock: a worker that runs several files in one module cache (the
// vmThreads pool StrykerJS uses, docs/mutation.md) may hold decide.js from an earlier file, bound
// to the real solver.js, and a static import would get that one.
vi.resetModules();
const { decide, decideDifference } = await import("../../src/smt/decide.js");
const { shutdown } = await import("../../src/smt/solver.js");

afterAll(() => shutdown());
afterEach(() => {
  rec.solve.length = 0;
  rec.cores.length = 0;
  rec.gaveUp = undefined;
  rec.model = undefined;
  rec.coreGivesUp = false;
});

const net = twoAddresses();
const strict = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, 192.168.1.21/24] } }
    services: [ { name: web, port: 80 } ]
    firewall: { input: { rules: [ { action: drop, proto: tcp, sport: 1024-30000 } ] } }
`);
const blocked = blockedBothWays();

describe("the preferences asked for", () => {
  it('witness "any": none; otherwise the cheapest path with familiar values, then the familiar values alone', async () => {
    expect((await decide(net, q("c -> s:80/tcp"), { witness: "any" })).verdict).toBe("reachable");
    expect(rec.solve).toEqual([expect.objectContaining({ prefer: [] })]);
    rec.solve.length = 0;
    expect((await decide(net, q("c -> s:80/tcp"))).verdict).toBe("reachable");
    expect(rec.solve).toHaveLength(1);
    expect(rec.solve[0]!.prefer).toHaveLength(2);
  });
});

describe("the time each solver call gets: what is left of the caller's timeout", () => {
  const within = (t: number, limit: number) => {
    expect(t).toBeLessThanOrEqual(limit);
    expect(t).toBeGreaterThan(limit - 1000);
  };

  it("decide", async () => {
    await decide(net, q("c -> s:80/tcp"), { timeoutMs: 5000 });
    await decide(net, q("c -> s:80/tcp"));
    expect(rec.solve).toHaveLength(2);
    within(rec.solve[0]!.timeoutMs, 5000);
    within(rec.solve[1]!.timeoutMs, 30_000);
  });

  it("each unsat core", async () => {
    const r = await decide(blocked, q("c -> s:80/tcp"), { timeoutMs: 5000 });
    expect(r.verdict).toBe("unreachable");
    expect(r.cores?.length).toBe(rec.cores.length);
    expect(rec.cores.length).toBeGreaterThan(0);
    for (const t of rec.cores) within(t, 5000);
  });

  it("decideDifference: one call, the difference of the two versions' paths", async () => {
    expect((await decideDifference(net, strict, q("c -> s:80/tcp"), { timeoutMs: 5000 })).verdict).toBe("differs");
    expect((await decideDifference(net, strict, q("c -> s:80/tcp"))).verdict).toBe("differs");
    expect(rec.solve.map((c) => c.alternatives)).toEqual([1, 1]);
    within(rec.solve[0]!.timeoutMs, 5000);
    within(rec.solve[1]!.timeoutMs, 30_000);
  });
});

describe("a solver that gives up: unknown, with its reason", () => {
  it("decide, with the statistics and the SMT-LIB text asked for", async () => {
    rec.gaveUp = "timeout";
    const r = await decide(net, q("c -> s:80/tcp"), { smt2: true });
    expect(r).toEqual({
      verdict: "unknown",
      reason: "solver: timeout",
      stats: { paths: 4, forks: expect.any(Number), nodes: expect.any(Number), exploreMs: expect.any(Number), solveMs: expect.any(Number) },
      smt2: expect.stringMatching(/check-sat/),
    });
    expect(r.stats.solveMs).toBeGreaterThan(0);
    expect("smt2" in (await decide(net, q("c -> s:80/tcp")))).toBe(false);
  });

  it("decideDifference", async () => {
    rec.gaveUp = "canceled";
    expect(await decideDifference(net, strict, q("c -> s:80/tcp"))).toEqual({ verdict: "unknown", reason: "solver: canceled" });
  });
});

describe("what the solver answers is checked, not taken on trust", () => {
  it("an unsat core the solver gives up on is left out; the verdict stands", async () => {
    rec.coreGivesUp = true;
    const r = await decide(blocked, q("c -> s:80/tcp"));
    expect(r.verdict).toBe("unreachable");
    expect(rec.cores.length).toBeGreaterThan(0);
    expect("cores" in r).toBe(false);
  });

  it("a model that none of the paths carries is an internal error, not a witness", async () => {
    // a dial of an address s does not have, on a port it does not serve
    rec.model = { dst4: ip("192.168.1.99"), dst6: ip("fd00::99"), dport: 81, sport: 40000 };
    const internal = "internal: the solver's model satisfies none of the paths it was given";
    await expect(decide(net, q("c -> s:80/tcp"))).rejects.toThrow(internal);
    await expect(decideDifference(net, strict, q("c -> s:80/tcp"))).rejects.toThrow(internal);
  });
});
