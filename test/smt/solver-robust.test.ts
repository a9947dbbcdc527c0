/**
 * Issue 13: the in-process solver survives long runs. A failure inside Z3 is
 * retried once on a new WASM instance, a second one is a SolverFailure (never
 * a verdict), and many decisions in one process keep no Z3 object alive.
 */
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { decide, DOMAIN } from "../../src/smt/decide.js";
import {
  coreOf,
  injectSolverFailures,
  optimizeFamily,
  renewContextAfter,
  shutdown,
  SolverFailure,
  solverStats,
  solve,
  solveFamily,
} from "../../src/smt/solver.js";
import { and, cfgIs, inPorts, or } from "../../src/smt/term.js";

afterAll(() => shutdown());
afterEach(() => injectSolverFailures(0));

const net = lower(loadTopologyFile(join("models", "nat-forward-host-firewall.yaml")).topology);
const query = (text: string): Query => {
  const q = parseQuery(text);
  if (!q.ok) throw new Error(q.message);
  return q.query;
};
const REACHABLE = query("host -> guest:22/tcp");
/** decided by the exploration alone (no path): the solver is not called */
const UNREACHABLE = query("lan-pc -> guest:22/tcp");

describe("a solver failure", () => {
  it("once: the decision is retried on a rebuilt instance and gets the right verdict", async () => {
    await decide(net, REACHABLE); // the first instance exists
    for (const [q, verdict] of [
      [REACHABLE, "reachable"],
      [query("lan-pc -> guest:80/tcp"), "reachable"],
    ] as const) {
      const before = solverStats();
      injectSolverFailures(1);
      const d = await decide(net, q);
      const after = solverStats();
      expect(d.verdict).toBe(verdict);
      expect(after.injected - before.injected).toBe(1);
      expect(after.failures - before.failures).toBe(1);
      expect(after.rebuilds - before.rebuilds).toBe(1);
      expect(after.live).toBe(0);
    }
  });

  it("twice in a row: SolverFailure, and the next decision works", async () => {
    injectSolverFailures(2);
    const before = solverStats();
    await expect(decide(net, REACHABLE)).rejects.toBeInstanceOf(SolverFailure);
    expect(solverStats().rebuilds - before.rebuilds).toBe(2);
    const d = await decide(net, REACHABLE);
    expect(d.verdict).toBe("reachable");
    expect(d.dial).toBeDefined();
    expect((await decide(net, UNREACHABLE)).verdict).toBe("unreachable");
    expect(solverStats().live).toBe(0);
  });

  it("in an unsat check and in an unsat core: retried, the same answer", async () => {
    const dport = (lo: number, hi: number) => inPorts({ k: "v", name: "dport" }, lo, hi);
    const clash = [dport(1, 10), dport(5, 5), dport(20, 30)];
    expect((await solve(DOMAIN, [and(...clash)], { timeoutMs: 10_000 })).status).toBe("unsat");
    const plain = await coreOf(DOMAIN, clash, ["a", "b", "c"], 10_000);
    expect(plain).toContain("c");
    const before = solverStats();
    injectSolverFailures(1);
    expect((await solve(DOMAIN, [and(...clash)], { timeoutMs: 10_000 })).status).toBe("unsat");
    injectSolverFailures(1);
    expect(await coreOf(DOMAIN, clash, ["a", "b", "c"], 10_000)).toEqual(plain);
    expect(solverStats().failures - before.failures).toBe(2);
    expect(solverStats().live).toBe(0);
  });

  it("in solveFamily and optimizeFamily: retried, same answer; twice: SolverFailure", async () => {
    const hard = [or(cfgIs("x", 3), cfgIs("x", 5))];
    const r1 = await solveFamily(hard, { x: 8 }, 10_000);
    injectSolverFailures(1);
    const r2 = await solveFamily(hard, { x: 8 }, 10_000);
    expect(r2.status).toBe("sat");
    expect(r1.status === "sat" && r2.status === "sat" && [3, 5].includes(r2.model.cfg["x"]!)).toBe(true);
    injectSolverFailures(1);
    const o = await optimizeFamily(hard, [{ f: cfgIs("x", 5), weight: 1 }], { x: 8 }, 10_000);
    expect(o).toEqual({ status: "sat", cfg: { x: 5 } });
    injectSolverFailures(2);
    await expect(optimizeFamily(hard, [{ f: cfgIs("x", 5), weight: 1 }], { x: 8 }, 10_000)).rejects.toBeInstanceOf(SolverFailure);
    expect(await optimizeFamily(hard, [{ f: cfgIs("x", 3), weight: 1 }], { x: 8 }, 10_000)).toEqual({ status: "sat", cfg: { x: 3 } });
    expect(solverStats().live).toBe(0);
  });
});

// A mutation run (vitest.stryker.config.ts) makes the run shorter: every surviving mutant of
// src/smt runs it in full. The context is renewed after half the decisions' solver calls.
const DECISIONS = Number(process.env.LONG_DECISIONS ?? 2_000);
const RENEW = DECISIONS / 2;

describe("a long run in one process", () => {
  it(
    `${DECISIONS} decisions: right verdicts, no failure, no Z3 object kept, bounded Z3 heap, renewed contexts`,
    { timeout: 180_000 },
    async () => {
      const queries = [
        [REACHABLE, "reachable"],
        [UNREACHABLE, "unreachable"],
        [query("lan-pc -> guest:80/tcp"), "reachable"],
        [query("lan-pc -> 192.168.1.10:2222/tcp"), "unreachable"],
      ] as const;
      renewContextAfter(RENEW);
      try {
        const start = solverStats();
        let heapAtQuarter = 0;
        for (let i = 0; i < DECISIONS; i++) {
          const [q, verdict] = queries[i % queries.length]!;
          const d = await decide(net, q);
          if (d.verdict !== verdict) expect({ i, verdict: d.verdict }).toEqual({ i, verdict });
          if (solverStats().live !== 0) expect({ i, live: solverStats().live }).toEqual({ i, live: 0 });
          if (i === DECISIONS / 4) heapAtQuarter = solverStats().z3Bytes;
        }
        const end = solverStats();
        expect(end.failures - start.failures).toBe(0);
        expect(end.rebuilds - start.rebuilds).toBe(0);
        // ~1.5 solver calls a decision: the context was renewed at least twice, and no more often than the budget says
        const calls = end.calls - start.calls;
        expect(end.contexts - start.contexts).toBeGreaterThanOrEqual(Math.floor(calls / RENEW) - 1);
        expect(end.contexts - start.contexts).toBeLessThanOrEqual(Math.ceil(calls / RENEW));
        // before the fix Z3's heap grew by ~265 KB a decision (~400 MB here); now it stays where it was
        expect(end.z3Bytes).toBeLessThan(64 * 2 ** 20);
        expect(end.z3Bytes - heapAtQuarter).toBeLessThan(8 * 2 ** 20);
      } finally {
        renewContextAfter(20_000);
      }
    },
  );
});
