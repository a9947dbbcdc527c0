/**
 * All pairs by classes (issue 19 item 3, src/query/classes.ts): every matrix and exposure cell
 * decided by classes equals its per-flow decision.
 *
 *   - every cell of every bundled model (Z3, verdict-only as `reach matrix` asks), and with the
 *     simulator on the smaller models; exposure's shown flows (verdict, dial, reason) equal the
 *     per-flow exposure's;
 *   - on generated topologies (fast-check, seed printed), every cell of every source equals the
 *     per-flow Z3 decision, and the first source's cells by the simulator equal the per-flow
 *     exhaustive simulator (verdict and the same witness dial);
 *   - the exploration bound: the forks counted for a service bound the per-flow exploration's
 *     from above, so a service is decided by classes only where the per-flow exploration stays
 *     within its budget, and a per-flow "unknown (bound hit)" is never turned into a verdict.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Network } from "../../src/ir/types.js";
import type { Query } from "../../src/ir/query.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery, type EngineOptions } from "../../src/query/engine.js";
import { sourceAnswers, type ServiceRef } from "../../src/query/classes.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decideService, exploreServices, flowForksAtMost, serviceKey } from "../../src/smt/classes.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { answerCells, answerCellsPerFlow, dialOf, exposure, exposureServices, matrixCells, userMachines } from "../../src/verify/flows.js";
import { topologyArb } from "../properties/arbitraries.js";

const ROOT = join(import.meta.dirname, "..", "..");
const MODELS = readdirSync(join(ROOT, "models"))
  .filter((f) => f.endsWith(".yaml"))
  .sort();
const SEED = Number(process.env.FC_SEED ?? 20261206);
const RUNS = Number(process.env.CLASSES_RUNS ?? 20);

const SMT: EngineOptions = { engine: "smt", timeoutMs: 60_000, explain: false };
const SIM: EngineOptions = { engine: "sim", timeoutMs: 60_000, explain: false };

const modelNet = (name: string): Network => lower(loadTopologyFile(join(ROOT, "models", name)).topology);

const flowQuery = (from: string, s: ServiceRef): Query => ({
  text: `${from} -> ${s.machine}:${s.port}/${s.proto}`,
  from,
  target: { kind: "machine", machine: s.machine },
  proto: s.proto,
  port: s.port,
});

afterAll(() => shutdown());

describe("every cell of the bundled models equals its per-flow decision", () => {
  it("Z3: all models, every machine against every service", async () => {
    let cells = 0;
    let reachable = 0;
    for (const name of MODELS) {
      const net = modelNet(name);
      const all = matrixCells(net);
      const perFlow = await answerCellsPerFlow(net, all, SMT);
      const byClasses = await answerCells(net, all, SMT);
      const got = byClasses.map((a) => `${a.query}: ${a.answer.verdict}`);
      expect(got, name).toEqual(perFlow.map((a) => `${a.query}: ${a.answer.verdict}`));
      // a reachable cell's dial works (replayed by sourceAnswers; here its form)
      for (const a of byClasses) if (a.answer.verdict === "reachable") expect(dialOf(a.answer), a.query).not.toBe("");
      cells += all.length;
      reachable += byClasses.filter((a) => a.answer.verdict === "reachable").length;
    }
    console.log(`classes vs per flow (Z3): ${MODELS.length} models, ${cells} cells, ${reachable} reachable`);
    // both verdicts well represented, or the comparison says little
    expect(reachable).toBeGreaterThan(cells / 5);
    expect(cells - reachable).toBeGreaterThan(cells / 5);
  }, 300_000);

  it("the simulator: the models with at most 12 cells, each cell and its witness as the per-flow exhaustive enumeration", async () => {
    let checked = 0;
    for (const name of MODELS) {
      const net = modelNet(name);
      const all = matrixCells(net);
      if (all.length > 12) continue;
      const byClasses = await answerCells(net, all, SIM);
      for (const [i, c] of all.entries()) {
        const flow = exhaustive(net, flowQuery(c.from, c.service));
        expect(byClasses[i]!.answer.verdict, `${name}: ${byClasses[i]!.query}`).toBe(flow.verdict);
        if (flow.dial) expect(byClasses[i]!.answer.dial, `${name}: ${byClasses[i]!.query}`).toEqual(flow.dial);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  }, 300_000);

  it("exposure shows the flows the per-flow exposure shows, with the same verdicts, dials, reasons and engine reports", async () => {
    const opts: EngineOptions = { engine: "smt", timeoutMs: 60_000 };
    for (const name of ["virtualbox-nat.yaml", "home-router-hairpin.yaml", "lab-all-conditions.yaml", "docker-published.yaml"]) {
      const net = modelNet(name);
      for (const from of userMachines(net)) {
        const old = [];
        for (const s of exposureServices(net, from)) {
          const { answer, report } = await answerQuery(net, flowQuery(from, s), opts);
          if (answer.verdict !== "unreachable")
            old.push(`${s.machine}:${s.port}/${s.proto} ${answer.verdict} ${dialOf(answer)} ${answer.reason} ${JSON.stringify(report)}`);
        }
        const now = (await exposure(net, from, opts)).map(
          (f) =>
            `${f.service.machine}:${f.service.port}/${f.service.proto} ${f.answer.verdict} ${dialOf(f.answer)} ${f.answer.reason} ${JSON.stringify(f.report)}`,
        );
        expect(now, `${name} from ${from}`).toEqual(old);
      }
    }
  }, 300_000);
});

describe(`generated topologies: every cell by classes equals the per-flow decisions (seed ${SEED}, ${RUNS} topologies)`, () => {
  it("Z3 for every source and service; the simulator (verdict and witness) for the first source", async () => {
    const tally = { topologies: 0, cells: 0, reachable: 0, simCells: 0 };
    await fc.assert(
      fc.asyncProperty(topologyArb, async (t) => {
        const net = lower(loadTopologyText("generated.yaml", t.yaml).topology);
        tally.topologies++;
        for (const [k, from] of userMachines(net).entries()) {
          const services = exposureServices(net, from);
          const cells = await sourceAnswers(net, from, services, SMT);
          const sim = k === 0 ? await sourceAnswers(net, from, services, SIM) : undefined;
          for (const [i, s] of services.entries()) {
            const q = flowQuery(from, s);
            const z3 = await decide(net, q, { timeoutMs: 60_000, witness: "any" });
            const got = cells[i]!.answer.verdict;
            if (got !== z3.verdict) throw new Error(`${q.text}: by classes ${got}, per flow ${z3.verdict}`);
            tally.cells++;
            if (got === "reachable") tally.reachable++;
            if (!sim) continue;
            const flow = exhaustive(net, q);
            if (sim[i]!.answer.verdict !== flow.verdict)
              throw new Error(`${q.text}: the simulator by classes ${sim[i]!.answer.verdict}, per flow ${flow.verdict}`);
            expect(sim[i]!.answer.dial, q.text).toEqual(flow.dial);
            tally.simCells++;
          }
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(
      `classes vs per flow on generated topologies: ${tally.topologies} topologies, ${tally.cells} cells (${tally.reachable} reachable), ${tally.simCells} with the simulator`,
    );
    expect(tally.cells).toBeGreaterThan(RUNS);
    expect(tally.simCells).toBeGreaterThan(RUNS / 2);
    expect(tally.reachable).toBeGreaterThan(tally.cells / 10);
    expect(tally.cells - tally.reachable).toBeGreaterThan(tally.cells / 10);
  }, 600_000);
});

describe("the per-flow exploration bound is kept", () => {
  const name = "lab-all-conditions.yaml";

  it("the forks counted for a service are at least the per-flow exploration's", async () => {
    let compared = 0;
    for (const model of [name, "home-router-hairpin.yaml", "natnetwork.yaml", "docker-user-ctorigdstport.yaml"]) {
      const net = modelNet(model);
      for (const from of userMachines(net)) {
        const services = exposureServices(net, from);
        for (const proto of ["tcp", "udp"] as const) {
          const wanted = services.filter((s) => s.proto === proto);
          if (!wanted.length) continue;
          const all = exploreServices(net, from, proto, new Set(wanted.map((s) => s.machine)), 1e7, Date.now() + 60_000);
          for (const s of wanted) {
            const flow = await decide(net, flowQuery(from, s), { timeoutMs: 60_000, witness: "any" });
            expect(
              flowForksAtMost(all, serviceKey(s.machine, s.port)),
              `${model}: ${from} -> ${s.machine}:${s.port}`,
            ).toBeGreaterThanOrEqual(flow.stats.forks);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(50);
  }, 300_000);

  it("with a small budget, a service is decided by classes only where the per-flow decision is not unknown, and then alike", async () => {
    const net = modelNet(name);
    let deferred = 0;
    let decided = 0;
    for (const budget of [2, 8, 30]) {
      for (const from of userMachines(net)) {
        const services = exposureServices(net, from).filter((s) => s.proto === "tcp");
        const all = exploreServices(net, from, "tcp", new Set(services.map((s) => s.machine)), 1e7, Date.now() + 60_000);
        for (const s of services) {
          const mine = await decideService(all, serviceKey(s.machine, s.port), s.port, { budget, timeoutMs: 60_000 });
          const flow = await decide(net, flowQuery(from, s), { timeoutMs: 60_000, witness: "any", budget });
          if (mine) {
            expect(flow.verdict, `budget ${budget}: ${from} -> ${s.machine}:${s.port}`).toBe(mine.verdict);
            decided++;
          } else deferred++;
          // a per-flow bound hit is never decided here
          if (flow.verdict === "unknown") expect(mine).toBeUndefined();
        }
      }
    }
    expect(deferred).toBeGreaterThan(0);
    expect(decided).toBeGreaterThan(0);
  }, 300_000);

  it("an exploration over its cap decides nothing: every service goes to its per-flow decision", async () => {
    const net = modelNet(name);
    const from = userMachines(net)[0]!;
    const services = exposureServices(net, from).filter((s) => s.proto === "tcp");
    const all = exploreServices(net, from, "tcp", new Set(services.map((s) => s.machine)), 3, Date.now() + 60_000);
    expect(all.hit).toMatch(/more than 3 symbolic branches/);
    for (const s of services)
      expect(await decideService(all, serviceKey(s.machine, s.port), s.port, { timeoutMs: 60_000 })).toBeUndefined();
  }, 120_000);
});

describe("past the class limit, Z3 decides a service's paths", () => {
  it("with no classes allowed, every service of every source of a model is decided by Z3, with the per-flow verdict", async () => {
    let byZ3 = 0;
    for (const model of ["lab-all-conditions.yaml", "home-router-hairpin.yaml", "host-firewall.yaml"]) {
      const net = modelNet(model);
      for (const from of userMachines(net)) {
        const services = exposureServices(net, from).filter((s) => s.proto === "tcp");
        const all = exploreServices(net, from, "tcp", new Set(services.map((s) => s.machine)), 1e7, Date.now() + 60_000);
        for (const s of services) {
          const mine = (await decideService(all, serviceKey(s.machine, s.port), s.port, { timeoutMs: 60_000, maxClasses: 0 }))!;
          const flow = await decide(net, flowQuery(from, s), { timeoutMs: 60_000, witness: "any" });
          expect(mine.verdict, `${model}: ${from} -> ${s.machine}:${s.port}`).toBe(flow.verdict);
          if (mine.paths > 0) {
            expect(mine.by).toBe("z3");
            byZ3++;
          }
        }
      }
    }
    expect(byZ3).toBeGreaterThan(10);
  }, 300_000);
});
