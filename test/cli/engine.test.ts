/**
 * The engines behind `reach ask` / `reach check`: Z3 (default), the exhaustive
 * simulator, and both cross-checking each other.
 *
 *  - in process: `--engine both` on every expectation of every model; decide()
 *    under a tiny branch budget answers unknown, never unreachable; the engine
 *    turns a Z3 unknown into reachable only on a working simulator dial;
 *  - the built CLI (dist/, rebuilt here when older than src/): disagreements
 *    exit 4 (REACH_FAULT=smt-verdict test hook), --smt2 writes a file any
 *    solver can check, and bad --smt2 / --timeout / --engine values exit 2.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { answerQuery, Disagreement } from "../../src/query/engine.js";
import { renderAnswer } from "../../src/query/render.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { MODEL_FILES } from "../model-files.js";

// decide() passes through to the real one; single tests inject a branch budget
// into the engine's call (answerQuery has no option for it) to make Z3 unknown.
vi.mock(import("../../src/smt/decide.js"), async (importOriginal) => {
  const m = await importOriginal();
  return { ...m, decide: vi.fn(m.decide) };
});

const root = join(import.meta.dirname, "..", "..");
const files = MODEL_FILES;
const NAT = "models/virtualbox-nat.yaml";
const REACHABLE = "host -> guest:22/tcp";
const UNREACHABLE = "web -> guest:22/tcp";

const reach = (args: readonly string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], {
    encoding: "utf8",
    cwd: root,
    env: { ...process.env, REACH_FAULT: undefined, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const query = (text: string): Query => {
  const q = parseQuery(text);
  if (!q.ok) throw new Error(`${text}: ${q.message}`);
  return q.query;
};

const netOf = (file: string) => lower(loadTopologyFile(file).topology);

const hasZ3 = (() => {
  const r = spawnSync("z3", ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
})();

/** dist/ is what the CLI tests run; rebuild it when some src/ file is newer than its output (as cli.test.ts assumes `npm ci` did). */
function distIsStale(): boolean {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
    );
  // the command is the bundle (dist/bin) made from tsc's dist/ after it
  const bin = join(root, "dist", "bin", "main.js");
  const cli = join(root, "dist", "cli", "main.js");
  if (!existsSync(bin) || !existsSync(cli) || statSync(bin).mtimeMs < statSync(cli).mtimeMs) return true;
  return walk(join(root, "src")).some((src) => {
    const out = join(root, "dist", relative(join(root, "src"), src).replace(/\.ts$/, ".js"));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
  });
}

beforeAll(() => {
  if (!distIsStale()) return;
  const r = spawnSync("npm", ["run", "build"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
}, 180_000);

afterAll(() => shutdown());

describe("--engine both on every expectation of every model (in process)", () => {
  it("there are models with expectations", () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    describe(f, () => {
      const loaded = loadTopologyFile(join("models", f));
      const net = lower(loaded.topology);
      const expects = (loaded.topology.doc.expect ?? []).flatMap((e) => (e.query !== undefined ? [{ ...e, query: e.query }] : []));
      it("has expectations", () => expect(expects.length).toBeGreaterThan(0));
      for (const e of expects) {
        it(`${e.query} is ${e.verdict}, Z3 and the simulator agreeing`, async () => {
          let decided;
          try {
            decided = await answerQuery(net, query(e.query), { engine: "both", timeoutMs: 30_000 });
          } catch (err) {
            if (err instanceof Disagreement) expect.fail(`Disagreement: ${err.message}`);
            throw err;
          }
          expect({ query: e.query, verdict: decided.answer.verdict, reason: decided.answer.reason }).toMatchObject({
            query: e.query,
            verdict: e.verdict,
          });
          expect(decided.report.engine).toBe("both");
          expect(decided.report.paths).toEqual(expect.any(Number));
          expect(decided.report.exchanges).toEqual(expect.any(Number));
          expect(decided.report.exchanges!).toBeGreaterThan(0);
          expect(decided.report.note).toBeUndefined();
        }, 60_000);
      }
    });
  }
});

describe("a disagreement between the engines exits 4 (REACH_FAULT=smt-verdict)", () => {
  it(`${REACHABLE} (reachable): Z3 made to say unreachable`, () => {
    const r = reach(["ask", NAT, REACHABLE], { REACH_FAULT: "smt-verdict" });
    expect(r.code).toBe(4);
    expect(r.out).toBe("");
    expect(r.err).toContain("the engines disagree on host -> guest:22/tcp");
    expect(r.err).toMatch(/^\s+Z3: unreachable\b/m);
    expect(r.err).toMatch(/^\s+simulator[^:\n]*: reachable\b/m);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it(`${UNREACHABLE} (unreachable): Z3 made to say reachable`, () => {
    const r = reach(["ask", NAT, UNREACHABLE], { REACH_FAULT: "smt-verdict" });
    expect(r.code).toBe(4);
    expect(r.out).toBe("");
    expect(r.err).toContain("the engines disagree on web -> guest:22/tcp");
    expect(r.err).toMatch(/^\s+Z3: reachable\b/m);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  // regression: the fault hook once claimed reachable without a witness, and the
  // disagreement named Z3's view only; now the bogus witness is replayed and refuted.
  it(`${UNREACHABLE} (unreachable): stderr also names the simulator's verdict`, () => {
    const r = reach(["ask", NAT, UNREACHABLE], { REACH_FAULT: "smt-verdict" });
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^\s+simulator[^:\n]*: unreachable\b/m);
  });

  it("without the fault the same commands exit 0", () => {
    const a = reach(["ask", NAT, REACHABLE]);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^reachable: host -> guest:22\/tcp\n/);
    expect(a.err).toBe("");
    const b = reach(["ask", NAT, UNREACHABLE]);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/^unreachable: web -> guest:22\/tcp \(ROUTER_NO_FORWARD\)\n/);
    expect(b.err).toBe("");
  }, 60_000);
});

describe("--smt2 FILE", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "reach-engine-test-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const fresh = (name: string) => {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  };

  /** Runs `reach ask NAT q --smt2 FILE` in a folder of its own; returns the file's text. */
  const write = (name: string, q: string) => {
    const d = fresh(name);
    const file = join(d, "query.smt2");
    const r = reach(["ask", NAT, q, "--smt2", file]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^(un)?reachable: ${q.replace(/[/]/g, "\\/")}( \\([A-Z_, ]+\\))?\\n`));
    // complete: renamed into place, no temporary file left next to it
    expect(readdirSync(d)).toEqual(["query.smt2"]);
    return { file, text: readFileSync(file, "utf8") };
  };

  it("writes SMT-LIB 2: the variables declared as bit-vectors, assertions, (check-sat)", () => {
    const { text } = write("reachable", REACHABLE);
    expect(text.startsWith(`; reach ask ${NAT} "${REACHABLE}"\n`)).toBe(true);
    expect(text).toContain("(declare-fun dst4 () (_ BitVec 32))");
    expect(text).toContain("(declare-fun dst6 () (_ BitVec 128))");
    expect(text).toContain("(declare-fun dport () (_ BitVec 16))");
    expect(text).toContain("(declare-fun sport () (_ BitVec 16))");
    expect(text).toMatch(/\(assert\b/);
    expect(text.trimEnd().endsWith("(check-sat)")).toBe(true);
    expect(text.match(/\(check-sat\)/g)).toHaveLength(1);
    expect(text).not.toContain("(reset)");
  });

  it("an unreachable query is written too (its goal is false)", () => {
    const { text } = write("unreachable", UNREACHABLE);
    expect(text.startsWith(`; reach ask ${NAT} "${UNREACHABLE}"\n`)).toBe(true);
    expect(text).toMatch(/\(declare-fun dport \(\) \(_ BitVec 16\)\)/);
    expect(text.trimEnd().endsWith("(check-sat)")).toBe(true);
  });

  it("localhost: one query per address, separated by (reset)", () => {
    const { text } = write("localhost", "host -> localhost:2222/tcp");
    expect(text.match(/\(check-sat\)/g)).toHaveLength(2);
    expect(text.match(/\(reset\)/g)).toHaveLength(1);
    expect(text).toContain('"host -> 127.0.0.1:2222/tcp"');
    expect(text).toContain('"host -> [::1]:2222/tcp"');
  });

  it.skipIf(!hasZ3)(
    `the native z3 binary says sat for a reachable query, unsat for an unreachable one${hasZ3 ? "" : " (SKIPPED: no `z3` binary on PATH; the CI installs the Debian package z3)"}`,
    () => {
      const sat = write("z3-sat", REACHABLE);
      const unsat = write("z3-unsat", UNREACHABLE);
      const run = (file: string) => spawnSync("z3", [file], { encoding: "utf8" });
      const a = run(sat.file);
      expect(a.status, a.stderr).toBe(0);
      expect(a.stdout.trim()).toBe("sat");
      const b = run(unsat.file);
      expect(b.status, b.stderr).toBe(0);
      expect(b.stdout.trim()).toBe("unsat");
      // localhost on the NAT model: 127.0.0.1 forwards, ::1 does not
      const both = write("z3-localhost", "host -> localhost:2222/tcp");
      expect(run(both.file).stdout.trim().split(/\s+/)).toEqual(["sat", "unsat"]);
    },
    90_000,
  );

  it("pointing at the topology file itself: exit 2, RCH042, the topology untouched", () => {
    const d = fresh("self");
    const topo = join(d, "topology.yaml");
    copyFileSync(join(root, NAT), topo);
    const before = readFileSync(topo);
    const r = reach(["ask", topo, REACHABLE, "--smt2", topo]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("RCH042");
    expect(r.err).toContain("--smt2");
    expect(readFileSync(topo).equals(before)).toBe(true);
    expect(readdirSync(d)).toEqual(["topology.yaml"]);
  });

  it("into a folder that does not exist: exit 2, RCH042, nothing created", () => {
    const d = fresh("missing");
    const r = reach(["ask", NAT, REACHABLE, "--smt2", join(d, "no-such-folder", "q.smt2")]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("RCH042");
    expect(r.err).toContain("does not exist");
    expect(readdirSync(d)).toEqual([]);
  });
});

describe("bad --timeout and --engine", () => {
  for (const t of ["0", "-1"]) {
    it(`--timeout ${t}: exit 2, RCH042`, () => {
      const r = reach(["ask", NAT, REACHABLE, "--timeout", t]);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain("RCH042");
      expect(r.err).toContain("--timeout");
    });
  }

  it("--engine nonsense: exit 2", () => {
    const r = reach(["ask", NAT, REACHABLE, "--engine", "nonsense"]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("nonsense");
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe("unknown", () => {
  const net = netOf(NAT);

  it("a query needing more branching is decided with the default budget", async () => {
    for (const text of [REACHABLE, UNREACHABLE]) {
      const d = await decide(net, query(text));
      expect(d.verdict).toBe(text === REACHABLE ? "reachable" : "unreachable");
      expect(d.stats.forks).toBeGreaterThan(3);
    }
  });

  for (const text of [REACHABLE, UNREACHABLE]) {
    it(`decide(${text}, budget 3) is unknown because of the bound, never unreachable`, async () => {
      const d = await decide(net, query(text), { budget: 3 });
      expect(d.verdict).not.toBe("unreachable");
      expect(d.verdict).toBe("unknown");
      expect(d.reason).toMatch(/bound/);
      expect(d.reason).toMatch(/\b3\b/);
      expect(d.dial).toBeUndefined();
    });
  }

  // The engine's contract: a concrete dial the simulator found is proof, so a
  // Z3 unknown with such a dial answers reachable; without one, unknown.
  // The budget is injected into the engine's decide() call through the mock.
  const withBudget3 = () => {
    const real = vi.mocked(decide).getMockImplementation()!;
    vi.mocked(decide).mockImplementationOnce((n, q, o) => real(n, q, { ...o, budget: 3 }));
  };

  it("engine smt: Z3 unknown, the simulator's usual dial works: reachable, with a note", async () => {
    withBudget3();
    const { answer, report, smt } = await answerQuery(net, query(REACHABLE), { engine: "smt", timeoutMs: 30_000 });
    expect(smt?.verdict).toBe("unknown");
    expect(answer.verdict).toBe("reachable");
    expect(answer.dial).toMatchObject({ dport: 2222 });
    expect(report.note).toMatch(/^Z3: bound hit: .*; the simulator's dial is proof$/);
    const last = renderAnswer(answer, net.machines, report).split("\n").at(-1)!;
    expect(last.startsWith("  decided by ")).toBe(true);
    expect(last).toContain("Z3: bound hit");
    expect(last).toContain("the simulator's dial is proof");
  });

  it("engine smt: Z3 unknown, no dial works: unknown, never unreachable", async () => {
    withBudget3();
    const { answer, smt } = await answerQuery(net, query(UNREACHABLE), { engine: "smt", timeoutMs: 30_000 });
    expect(smt?.verdict).toBe("unknown");
    expect(answer.verdict).toBe("unknown");
    expect(answer.reason).toMatch(/bound hit/);
    expect(answer.reason).toContain("no dial the simulator tried works");
  });

  // regression: a decision cut short by the bound reported paths = 0, which the
  // last line rendered as a proof that no path exists.
  it("the last line never claims that no path exists when Z3 gave up (reachable, unknown)", async () => {
    for (const text of [REACHABLE, UNREACHABLE]) {
      withBudget3();
      const { answer, report, smt } = await answerQuery(net, query(text), { engine: "smt", timeoutMs: 30_000 });
      expect(smt?.verdict).toBe("unknown");
      const last = renderAnswer(answer, net.machines, report).split("\n").at(-1)!;
      expect(last).not.toContain("no path can carry");
    }
  });

  it("the injection is one-shot: the next call decides again", async () => {
    const { answer, smt } = await answerQuery(net, query(UNREACHABLE), { engine: "smt", timeoutMs: 30_000 });
    expect(smt?.verdict).toBe("unreachable");
    expect(answer.verdict).toBe("unreachable");
  });
});

describe("reach ask --engine sim|both", () => {
  it("--engine sim: exit 0, decided by the simulator", () => {
    const r = reach(["ask", NAT, REACHABLE, "--engine", "sim"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^reachable: host -> guest:22\/tcp\n/);
    const last = r.out.trimEnd().split("\n").at(-1)!;
    expect(last.startsWith("  decided by")).toBe(true);
    expect(last).toContain("simulator");
    expect(last).not.toContain("Z3");
  });

  it("--engine both: exit 0, the symbolic paths agreeing with the exhaustive simulator", () => {
    const r = reach(["ask", NAT, REACHABLE, "--engine", "both"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^reachable: host -> guest:22\/tcp\n/);
    const last = r.out.trimEnd().split("\n").at(-1)!;
    // the usual dial satisfies a symbolic path, so no solver call; the exhaustive simulator agrees
    expect(last).toMatch(
      /^  decided by the simulator's dial, satisfying one of \d+ symbolic paths, agreeing with the simulator over \d+ exchanges/,
    );
  });

  it("--engine both on an unreachable query: decided by Z3 agreeing with the simulator", () => {
    const r = reach(["ask", NAT, "lan-pc -> guest:23/tcp", "--engine", "both", "--no-fix"]);
    expect(r.code).toBe(0);
    const last = r.out.trimEnd().split("\n").at(-1)!;
    expect(last.startsWith("  decided by")).toBe(true);
    expect(last).toMatch(/Z3|symbolic encoding/);
    expect(last).toContain("simulator");
  });
});

describe("reach check", () => {
  for (const args of [[NAT], ["--engine", "both", NAT]]) {
    it(`reach check ${args.join(" ")}: exit 0, every expectation ok`, () => {
      const r = reach(["check", ...args]);
      expect(r.out).not.toContain("FAIL");
      // one line per expectation, and the summary
      expect(r.out.trimEnd().split("\n").length).toBe((loadTopologyFile(NAT).topology.doc.expect ?? []).length + 1);
      const lines = r.out.trimEnd().split("\n");
      expect(lines.slice(0, -1).every((l) => l.startsWith("ok "))).toBe(true);
      expect(lines.at(-1)).toMatch(/^\d+ hold, 0 violated, 0 unknown$/);
      expect(r.code).toBe(0);
    });
  }
});
