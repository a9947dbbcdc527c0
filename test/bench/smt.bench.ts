/**
 * Speed of the Z3 engine, and how it compares with what else could answer:
 *
 *   1. end-to-end `reach ask models/virtualbox-nat.yaml "host -> guest:22/tcp"`
 *      as a child process, Z3's WASM initialisation included (goal < 0.5 s);
 *   2. one query on a generated LAN of 1,000 machines x 10 input rules (10,000
 *      firewall rules) after load + lower, Z3 already initialised (goal < 2 s);
 *      the same on 10,000 machines (REACH_BENCH_10K=0 leaves it out: its load
 *      takes ~20-30 s). answerQuery on 10,000 machines takes minutes (the usual
 *      dials are quadratic in machines), past the suite's ~5 min budget, so it
 *      runs only with REACH_BENCH_10K_ASK=1;
 *   3. the exported SMT-LIB 2 (decide(..., { smt2: true })) solved by the native
 *      `z3` binary, beside the in-process solve time (stats.solveMs);
 *   4. the simulator's exhaustive enumeration of the packet classes
 *      (sim/exhaustive.ts) against Z3 on the same queries.
 *
 * vitest bench runs only the file's own beforeAll/afterAll (not describe-level
 * hooks), so all set-up is in the file's beforeAll and the ratio summary is
 * printed by its afterAll. Timings for the summary are recorded by the bench
 * functions themselves (warm-up runs excluded); the table above it is vitest's.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, bench, describe } from "vitest";
import type { Network } from "../../src/ir/types.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { answerQuery } from "../../src/query/engine.js";
import { decide, type SmtDecision } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { classCount, exhaustive, packetClasses, type ExhaustiveResult, type PacketClasses } from "../../src/sim/exhaustive.js";
import { lanTopology } from "./generate.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist/bin/main.js");
const RULES_PER_MACHINE = 10;
const BIG = process.env.REACH_BENCH_10K !== "0";
const ASK_10K = BIG && process.env.REACH_BENCH_10K_ASK === "1";

const q = (text: string): Query => {
  const r = parseQuery(text);
  if (!r.ok) throw new Error(`${text}: ${r.message}`);
  return r.query;
};

// ---------------------------------------------------------------------------
// timings recorded by the bench functions (run phase only), for the summary

const samples = new Map<string, number[]>();
let recording = false;
/** Bench options: exactly `iterations` measured runs, `warmup` unmeasured ones before. */
const runs = (iterations: number, warmup = 0) => ({
  iterations,
  time: 0,
  warmupIterations: warmup,
  warmupTime: 0,
  setup: (_task: unknown, mode?: "run" | "warmup") => {
    recording = mode === "run";
  },
});
function record(key: string, ms: number): void {
  if (!recording) return;
  const xs = samples.get(key) ?? [];
  xs.push(ms);
  samples.set(key, xs);
}
async function timed<T>(key: string, f: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  record(key, performance.now() - t0);
  return r;
}
/** A bench function that times `f` under `key`. */
const timing =
  <T>(key: string, f: () => T | Promise<T>) =>
  async (): Promise<void> => {
    await timed(key, f);
  };
function median(key: string): number | undefined {
  const xs = [...(samples.get(key) ?? [])].sort((a, b) => a - b);
  if (!xs.length) return undefined;
  const m = xs.length >> 1;
  return xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}

// ---------------------------------------------------------------------------
// inputs

interface Lan {
  readonly n: number;
  readonly net: Network;
  readonly classes: PacketClasses;
  readonly loadMs: number;
}
const lans = new Map<number, Lan>();
const lan = (n: number): Lan => {
  const l = lans.get(n);
  if (!l) throw new Error(`LAN ${n} not loaded (beforeAll)`);
  return l;
};
/** The two LAN queries: through the router's forward (from the internet), and machine to machine across the LAN. */
const outsideQuery = (_n: number) => "outside -> m0:8080/tcp";
const lanQuery = (n: number) => `m3 -> m${Math.floor(n * 0.7)}:8080/tcp`;

const LAB = "models/lab-all-conditions.yaml";
const LAB_QUERIES = [
  "remote -> guest:8000/tcp", // reachable: router forward chained into the VirtualBox forward
  "lan-pc -> guest:8004/tcp", // unreachable: the simulator enumerates every class
  "host -> guest:8003/tcp", // reachable: from the host itself through the VirtualBox forward (the most candidate paths of the three)
] as const;
let labNet: Network | undefined;

/**
 * Exhaustive sizes. On 10,000 machines only the query from
 * outside is enumerated: m3 -> m7000 tries ~27 classes per machine and each
 * class costs more as the LAN grows (the simulator's neighbour lookup scans every
 * machine), an estimated 2-4 minutes for one run.
 */
const SIM_SIZES = [50, 200, 1000] as const;
const LAN_SIZES = BIG ? [...SIM_SIZES, 10_000] : [...SIM_SIZES];
const simQueries = (n: number) => (n >= 10_000 ? [outsideQuery(n)] : [outsideQuery(n), lanQuery(n)]);

const z3Native = spawnSync("z3", ["-version"], { encoding: "utf8" });
const HAVE_Z3 = z3Native.status === 0;
let tmp = "";
interface Smt2Case {
  readonly label: string;
  readonly file: string;
  readonly net: () => Network;
  readonly query: string;
  readonly expect: string;
  decision?: SmtDecision;
}
const smt2Cases: Smt2Case[] = [
  { label: "lab host -> guest:8003/tcp", file: "lab.smt2", net: () => labNet!, query: "host -> guest:8003/tcp", expect: "sat" },
  { label: "LAN 1000 m3 -> m700:8080/tcp", file: "lan1000.smt2", net: () => lan(1000).net, query: lanQuery(1000), expect: "sat" },
];
/** Copies of an export solved by one native z3 process (separated by (reset), as `reach ask --smt2` joins queries). */
const REPEAT = 20;
/** z3 -st's own `:time` per run (ms), per case. */
const zStats = new Map<string, number[]>();
const verdicts = new Map<string, string>();
const simResults = new Map<string, ExhaustiveResult & { classes: number }>();

/** Source files modified after `since` (ms): the CLI bench runs dist/, so a stale build is worth a warning. */
function newerSources(dir: string, since: number): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && statSync(join(dir, f)).mtimeMs > since)
    .map((f) => `src/${f}`);
}

beforeAll(async () => {
  if (!existsSync(CLI)) {
    console.log("dist/bin/main.js missing: npm run build");
    const b = spawnSync("npm", ["run", "build"], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}\n${b.stderr}`);
  }
  const newer = newerSources(join(ROOT, "src"), statSync(CLI).mtimeMs);
  if (newer.length)
    console.log(
      `WARNING: dist/ is older than ${newer.length} file(s) under src/ (${newer.slice(0, 3).join(", ")}${newer.length > 3 ? ", ..." : ""}): the CLI figures measure the last build; run npm run build first`,
    );
  const cli = spawnSync(process.execPath, [CLI, "ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (cli.status !== 0 || !cli.stdout.startsWith("reachable"))
    throw new Error(`CLI check failed (${cli.status}):\n${cli.stdout}\n${cli.stderr}`);

  // Z3's WASM initialisation (~0.35 s or more), paid once here and never inside a measurement
  const t0 = performance.now();
  const warm = await decide(lower(loadTopologyFile(join(ROOT, "models/virtualbox-nat.yaml")).topology), q("host -> guest:22/tcp"));
  console.log(`Z3 initialised by a first decide() (${warm.verdict}) in ${(performance.now() - t0).toFixed(0)} ms`);

  labNet = lower(loadTopologyFile(join(ROOT, LAB)).topology);
  for (const n of LAN_SIZES) {
    const t = performance.now();
    const text = lanTopology(n, RULES_PER_MACHINE);
    const net = lower(loadTopologyText(`lan-${n}.yaml`, text).topology);
    const loadMs = performance.now() - t;
    lans.set(n, { n, net, classes: packetClasses(net), loadMs });
    console.log(
      `LAN ${n} machines x ${RULES_PER_MACHINE} rules: generate + load + lower ${(loadMs / 1000).toFixed(1)} s (not measured below)`,
    );
  }

  // the verdicts, once, so that the figures below are known to be answers (never unknown)
  const lines: string[] = [];
  const check = async (label: string, net: Network, text: string) => {
    const d = await decide(net, q(text));
    if (d.verdict === "unknown") throw new Error(`${label} ${text}: unknown (${d.reason})`);
    verdicts.set(`${label} ${text}`, d.verdict);
    lines.push(
      `  ${`${label} ${text}`.padEnd(44)} ${d.verdict.padEnd(12)} paths ${String(d.stats.paths).padStart(3)}  forks ${String(d.stats.forks).padStart(6)}  formula nodes ${d.stats.nodes}`,
    );
  };
  for (const n of LAN_SIZES) for (const text of [outsideQuery(n), lanQuery(n)]) await check(`LAN ${n}`, lan(n).net, text);
  for (const text of LAB_QUERIES) await check("lab", labNet, text);
  console.log(`Verdicts (Z3):\n${lines.join("\n")}`);

  if (HAVE_Z3) {
    tmp = mkdtempSync(join(tmpdir(), "reach-smt-bench-"));
    writeFileSync(join(tmp, "trivial.smt2"), "(check-sat)\n");
    for (const c of smt2Cases) {
      const d = await decide(c.net(), q(c.query), { smt2: true });
      if (d.smt2 === undefined) throw new Error(`${c.label}: no SMT-LIB text`);
      c.decision = d;
      writeFileSync(join(tmp, c.file), d.smt2);
      // the same query REPEAT times in one process: the start-up cost is paid once and the per-solve time stands out of the noise
      writeFileSync(join(tmp, `x${REPEAT}-${c.file}`), Array.from({ length: REPEAT }, () => d.smt2).join("(reset)\n"));
      const z = spawnSync("z3", [join(tmp, c.file)], { encoding: "utf8" });
      if (z.stdout.trim().split("\n")[0] !== c.expect)
        throw new Error(`${c.label}: native z3 says ${z.stdout.trim()}, expected ${c.expect}`);
    }
  } else {
    console.log(`native z3 not found (${z3Native.error?.message ?? z3Native.stderr}): the native-solver comparison is skipped`);
  }
  if (!BIG) {
    console.log("10,000-machine LAN skipped (REACH_BENCH_10K=0).");
  } else if (!ASK_10K) {
    console.log(
      "answerQuery on 10,000 machines skipped: it takes minutes (the usual dials are quadratic in machines); REACH_BENCH_10K_ASK=1 runs it once.",
    );
  }
}, 1_800_000);

// ---------------------------------------------------------------------------
// 1. the CLI, end to end

const cliArgs = [CLI, "ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp"];
function spawnOk(key: string, cmd: string, args: string[]): void {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT });
  record(key, performance.now() - t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}\n${String(r.stderr)}`);
}

describe('1. CLI end to end: reach ask models/virtualbox-nat.yaml "host -> guest:22/tcp" (goal < 500 ms)', () => {
  bench(
    "child process `node dist/bin/main.js ask ...` (engine smt, Z3 init included)",
    () => spawnOk("cli", process.execPath, cliArgs),
    runs(5, 1),
  );
  bench(
    "child process, --engine sim (no Z3: shows what Z3 init + solve add)",
    () => spawnOk("cli-sim", process.execPath, [...cliArgs, "--engine", "sim"]),
    runs(5, 1),
  );
  bench("child process `node -e ''` (bare Node start, the floor)", () => spawnOk("node", process.execPath, ["-e", ""]), runs(5, 1));
});

// ---------------------------------------------------------------------------
// 2. generated LANs, one query after load + lower

for (const n of [1000, 10_000]) {
  const title = `2. generated LAN ${n.toLocaleString("en")} machines x ${RULES_PER_MACHINE} input rules (${(n * RULES_PER_MACHINE).toLocaleString("en")} rules): one query, loaded and Z3 warm (goal < 2 s)`;
  describe.skipIf(n === 10_000 && !BIG)(title, () => {
    bench(
      `decide() ${outsideQuery(n)} (through the router's port forward)`,
      timing(`decide ${n} outside`, () => decide(lan(n).net, q(outsideQuery(n)))),
      runs(5, 1),
    );
    bench(
      `decide() ${lanQuery(n)} (across the LAN; reachable)`,
      timing(`decide ${n} lan`, () => decide(lan(n).net, q(lanQuery(n)))),
      runs(5, 1),
    );
    if (n < 10_000 || ASK_10K)
      bench(
        `answerQuery(engine smt) ${lanQuery(n)} (all of \`reach ask\` after loading: usual dials, Z3, replay)${n >= 10_000 ? " (1 run)" : ""}`,
        timing(`answer ${n} lan`, () => answerQuery(lan(n).net, q(lanQuery(n)), { engine: "smt", timeoutMs: 600_000 })),
        runs(n >= 10_000 ? 1 : 3, 0),
      );
  });
}

// ---------------------------------------------------------------------------
// 3. native z3 on the exported SMT-LIB vs the in-process solve

describe.skipIf(!HAVE_Z3)("3. exported SMT-LIB: native z3 process vs in-process (z3-solver WASM)", () => {
  for (const c of smt2Cases) {
    bench(
      `in-process decide() ${c.label} (summary uses stats.solveMs)`,
      async () => {
        const d = await timed(`inproc ${c.label}`, () => decide(c.net(), q(c.query)));
        record(`solveMs ${c.label}`, d.stats.solveMs);
      },
      runs(10, 2),
    );
    bench(
      `native \`z3 -st\` on its SMT-LIB export, ${c.label} (process wall)`,
      () => {
        const t0 = performance.now();
        const z = spawnSync("z3", ["-st", join(tmp, c.file)], { encoding: "utf8" });
        record(`native ${c.label}`, performance.now() - t0);
        if (z.status !== 0 || !z.stdout.startsWith(c.expect)) throw new Error(`z3: ${z.stdout}${z.stderr}`);
        const stat = (k: string) => Number(new RegExp(`:${k}\\s+([0-9.]+)`).exec(z.stdout)?.[1] ?? NaN) * 1000;
        if (recording) zStats.set(c.label, [...(zStats.get(c.label) ?? []), stat("time")]);
      },
      runs(10, 1),
    );
    bench(
      `native \`z3\` on ${REPEAT} copies of the export in one process, ${c.label} (process wall)`,
      () => {
        const t0 = performance.now();
        const z = spawnSync("z3", [join(tmp, `x${REPEAT}-${c.file}`)], { encoding: "utf8" });
        record(`native x${REPEAT} ${c.label}`, performance.now() - t0);
        const answers = z.stdout.trim().split("\n");
        if (z.status !== 0 || answers.length !== REPEAT || answers.some((a) => a !== c.expect))
          throw new Error(`z3: ${z.stdout}${z.stderr}`);
      },
      runs(5, 1),
    );
  }
  bench(
    "native `z3` on `(check-sat)` alone (process start + init: subtracted above)",
    () => spawnOk("native trivial", "z3", [join(tmp, "trivial.smt2")]),
    runs(10, 1),
  );
});

// ---------------------------------------------------------------------------
// 4. the simulator's exhaustive enumeration vs Z3

describe("4a. models/lab-all-conditions.yaml (the largest model): exhaustive simulator vs Z3", () => {
  let labClasses: PacketClasses | undefined;
  const classes = () => (labClasses ??= packetClasses(labNet!));
  for (const text of LAB_QUERIES) {
    const key = `lab ${text}`;
    bench(
      `Z3 decide() ${key}`,
      timing(`z3 ${key}`, () => decide(labNet!, q(text))),
      runs(10, 2),
    );
    bench(
      `exhaustive simulator ${key}`,
      () => {
        const r = timedSync(`sim ${key}`, () => exhaustive(labNet!, q(text), classes()));
        keepSim(key, r, () => classCount(labNet!, q(text), classes()));
      },
      runs(10, 2),
    );
  }
});

function timedSync<T>(key: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  record(key, performance.now() - t0);
  return r;
}
function keepSim(key: string, r: ExhaustiveResult, count: () => number): void {
  if (!simResults.has(key)) simResults.set(key, { ...r, classes: count() });
}

for (const n of LAN_SIZES) {
  const iterations = n >= 1000 ? 3 : 5;
  describe(`4b. generated LAN ${n} machines x ${RULES_PER_MACHINE} rules: exhaustive simulator vs Z3 (scaling)`, () => {
    for (const text of simQueries(n)) {
      const key = `LAN ${n} ${text}`;
      bench(
        `Z3 decide() ${key}`,
        timing(`z3 ${key}`, () => decide(lan(n).net, q(text))),
        runs(5, 1),
      );
      bench(
        `exhaustive simulator ${key}`,
        () => {
          const r = timedSync(`sim ${key}`, () => exhaustive(lan(n).net, q(text), lan(n).classes));
          keepSim(key, r, () => classCount(lan(n).net, q(text), lan(n).classes));
        },
        runs(iterations, 0),
      );
    }
  });
}

// ---------------------------------------------------------------------------
// summary

const ms = (x: number | undefined) =>
  x === undefined || Number.isNaN(x) ? "-" : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !(b > 0) ? "-" : `${(a / b).toFixed(a / b < 10 ? 2 : 0)}x`;
function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => "  " + r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), "  " + w.map((x) => "-".repeat(x)).join("  "), ...rows.map(line)].join("\n");
}
const medianOf = (xs: readonly number[] | undefined) => {
  if (!xs?.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

afterAll(async () => {
  const out: string[] = ["", "=== reach SMT engine: summary (medians of the measured runs) ==="];
  out.push("", "Goals:");
  const goals: string[][] = [["CLI ask virtualbox-nat host -> guest:22/tcp (child process)", ms(median("cli")), "500 ms"]];
  for (const n of [1000, 10_000]) {
    if (!lans.has(n)) continue;
    goals.push([`LAN ${n}: decide() ${outsideQuery(n)}`, ms(median(`decide ${n} outside`)), "2 s"]);
    goals.push([`LAN ${n}: decide() ${lanQuery(n)}`, ms(median(`decide ${n} lan`)), "2 s"]);
    goals.push([`LAN ${n}: answerQuery(smt) ${lanQuery(n)}`, n >= 10_000 && !ASK_10K ? "not run" : ms(median(`answer ${n} lan`)), "2 s"]);
    goals.push([`LAN ${n}: load + lower (outside the goal, for scale)`, ms(lans.get(n)!.loadMs), "-"]);
  }
  const verdictOf = (row: string[]) => {
    const [v, g] = [row[1]!, row[2]!];
    if (g === "-" || v === "-" || v === "not run") return "";
    const num = (s: string) => (s.endsWith(" s") ? Number.parseFloat(s) * 1000 : Number.parseFloat(s));
    return num(v) <= num(g) ? "met" : "MISSED";
  };
  out.push(
    table(
      ["figure", "median", "goal", ""],
      goals.map((r) => [...r, verdictOf(r)]),
    ),
  );
  out.push(`  (for reference: --engine sim ${ms(median("cli-sim"))}, bare \`node -e ''\` ${ms(median("node"))})`);

  if (HAVE_Z3) {
    const base = median("native trivial");
    out.push(
      "",
      `Native z3 (${z3Native.stdout.trim()}) vs in-process z3-solver (WASM). Native solve time: "net" = process wall - wall of \`z3\` on "(check-sat)" (${ms(base)}, the process start);`,
      `"per solve" = (wall of ${REPEAT} copies in one process - that start) / ${REPEAT}, steadier when the solve is below the start-up noise; ":time" is z3 -st's own (10 ms resolution).`,
    );
    const rows = smt2Cases.map((c) => {
      const wall = median(`native ${c.label}`);
      const net = wall !== undefined && base !== undefined ? wall - base : undefined;
      const many = median(`native x${REPEAT} ${c.label}`);
      const per = many !== undefined && base !== undefined ? Math.max(many - base, 0) / REPEAT : undefined;
      const inproc = median(`solveMs ${c.label}`);
      const st = zStats.get(c.label);
      const netText = net !== undefined && net <= 0 ? "<0 (noise)" : ms(net);
      return [
        c.label,
        `${c.decision?.stats.nodes ?? "-"}`,
        ms(wall),
        netText,
        ms(per),
        ms(medianOf(st)),
        ms(inproc),
        ms(median(`inproc ${c.label}`)),
        ratio(inproc, per),
        ratio(inproc, net),
      ];
    });
    out.push(
      table(
        [
          "query",
          "nodes",
          "z3 wall",
          "z3 net",
          "z3 per solve",
          "z3 -st :time",
          "in-proc solveMs",
          "in-proc decide",
          "solveMs/per solve",
          "solveMs/net",
        ],
        rows,
      ),
    );
    out.push(
      "  solveMs covers translating the formula into Z3 terms, check(), and (sat) up to 3 more checks for a familiar witness; the native run is one check-sat on the printed text.",
    );
  }

  out.push("", "Exhaustive simulator vs Z3 decide() (same query, same loaded network):");
  const rows: string[][] = [];
  const simRow = (key: string) => {
    const s = median(`sim ${key}`);
    const z = median(`z3 ${key}`);
    const r = simResults.get(key);
    const tried = r ? `${r.tried}/${r.classes}` : "-";
    const per = r && s !== undefined ? `${((s * 1000) / r.tried).toFixed(1)} us` : "-";
    const agree = r ? (verdicts.get(key) === r.verdict ? r.verdict : `DISAGREE: z3 ${verdicts.get(key)}, sim ${r.verdict}`) : "-";
    rows.push([key, agree, tried, per, ms(s), ms(z), ratio(s, z)]);
  };
  for (const text of LAB_QUERIES) simRow(`lab ${text}`);
  for (const n of LAN_SIZES) for (const text of simQueries(n)) simRow(`LAN ${n} ${text}`);
  out.push(table(["query", "verdict", "classes tried", "per class", "exhaustive", "Z3 decide", "sim/Z3"], rows));
  out.push(
    `  Not run: the exhaustive simulator on ${lanQuery(10_000)} with 10,000 machines (estimated 2-4 min a run: ~27 classes tried per machine, each costlier as the LAN grows; see the per-class column).`,
  );
  console.log(out.join("\n"));

  if (tmp) rmSync(tmp, { recursive: true, force: true });
  await shutdown();
});
