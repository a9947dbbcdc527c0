/**
 * `reach verify --watch`: the time from a save to the printed results (load, lower, the cached
 * verify) on each seed model (models/*.yaml with expectations), after two kinds of edit:
 *   port    a service's port moves by one more each time (a new port each time: nothing
 *           remembered fits the questions that read it, the others are reused). The service is
 *           the first one whose port can move by 1..EDITS and still load (on some models the next
 *           port is another service's: RCH032);
 *   text    a comment line under `expect:` (nothing in the lowered network: all reused);
 * and, beside them, a plain `reach verify` of the same file in the same process (Z3 warm). The
 * cache is made as watch mode makes it: the decisions are made on the network itself and what
 * they read is recorded once the results are out (`settle`, timed apart: "then recording").
 * REACH_OLD=DIR (a dist/ built from the code before, e.g. `git worktree add /tmp/old main`, link
 * node_modules, `npx tsc -p tsconfig.json`, then REACH_OLD=/tmp/old/dist) runs the old watch code
 * on the same edits in the same process, turn about with the new (which goes first alternates), so
 * that both are measured under the same load. Goal (issue 19 item 7): < 200 ms after an edit. The
 * table at the end has the medians of 5 and how many expectations each edit re-decided.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { DecisionCache } from "../../src/verify/decision-cache.js";
import { runFile, type WatchOptions } from "../../src/verify/watch.js";
import { verifyTopology } from "../../src/verify/verify.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";

/** The watch code under test: this tree's, and the old dist's when REACH_OLD names one. */
interface Impl {
  readonly name: "new" | "old";
  readonly runFile: typeof runFile;
  readonly DecisionCache: typeof DecisionCache;
}
const OLD = process.env.REACH_OLD;
const impls: Impl[] = [{ name: "new", runFile, DecisionCache }];
if (OLD) {
  const watch = (await import(resolve(OLD, "verify/watch.js"))) as { runFile: typeof runFile };
  const cache = (await import(resolve(OLD, "verify/decision-cache.js"))) as { DecisionCache: typeof DecisionCache };
  impls.push({ name: "old", runFile: watch.runFile, DecisionCache: cache.DecisionCache });
}

const ITERATIONS = 5;
/** port edits each model gets: the setup's run, then one per iteration (and spares) */
const EDITS = 10;
const dir = mkdtempSync(join(tmpdir(), "reach-bench-watch-"));
const models = readdirSync("models")
  .filter((f) => f.endsWith(".yaml") && !f.includes(".spec."))
  .filter((f) => /expect:/.test(readFileSync(join("models", f), "utf8")));
const o: WatchOptions = { engine: { engine: "smt", timeoutMs: 30_000 }, out: () => {}, err: () => {} };
interface Times {
  port: number[];
  text: number[];
  redecided: number[];
  /** after a port edit, the recording of what the new decisions read, once the results are out (watch is busy meanwhile) */
  settle: number[];
}
interface Row {
  readonly times: Record<Impl["name"], Times>;
  plain: number[];
  total: number;
  edited: string;
}
const rows: Record<string, Row> = {};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const ms = (xs: number[]) => `${median(xs).toFixed(0)} ms`;

afterAll(() => {
  const head = [
    "model",
    "port edited",
    ...impls.flatMap((i) => [`port edit (${i.name})`, ...(i.name === "new" ? ["then recording"] : []), `text edit (${i.name})`]),
    "plain verify",
  ];
  const lines = Object.entries(rows).map(([m, r]) =>
    [
      m,
      r.edited,
      ...impls.flatMap((i) => [
        `${ms(r.times[i.name].port)} (${median(r.times[i.name].redecided)} of ${r.total})`,
        ...(i.name === "new" ? [ms(r.times.new.settle)] : []),
        ms(r.times[i.name].text),
      ]),
      ms(r.plain),
    ].join(" | "),
  );
  console.log(`\n| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|\n${lines.map((l) => `| ${l} |`).join("\n")}`);
  rmSync(dir, { recursive: true, force: true });
});

/** Records the reads of the decisions just made (the new cache; the old one recorded them at once). */
const settle = async (cache: DecisionCache) => {
  if (typeof cache.settle === "function") await cache.settle();
};

/** The file with the port at `at` (an index into it, of "port: N") moved by `by`. */
function movePort(text: string, at: number, by: number): string {
  const m = /^port: (\d+)/.exec(text.slice(at))!;
  return text.slice(0, at) + `port: ${Number(m[1]) + by}` + text.slice(at + m[0].length);
}

/** The first service port (after `services:`) that can move by 1..EDITS with the file still loading. */
function editablePort(file: string, original: string): number {
  const from = original.indexOf("services:");
  for (const m of original.slice(from).matchAll(/port: \d+/g)) {
    const at = from + m.index;
    const loads = (by: number) => {
      writeFileSync(file, movePort(original, at, by));
      try {
        loadTopologyFile(file);
        return true;
      } catch {
        return false;
      }
    };
    if (Array.from({ length: EDITS }, (_, k) => k + 1).every(loads)) return at;
  }
  throw new Error(`${file}: no service port can move by 1..${EDITS} and still load`);
}

for (const model of models) {
  const file = join(dir, model);
  copyFileSync(join("models", model), file);
  const original = readFileSync(file, "utf8");
  const at = editablePort(file, original);
  writeFileSync(file, original);
  // as watch mode makes it: decide first, record the reads after the results (the old code records at once)
  const state = impls.map((i) => ({
    impl: i,
    cache: new i.DecisionCache(undefined, { defer: true }),
    w: { file, reads: new Set<string>() },
  }));
  const line = original.slice(0, at).split("\n").length;
  const row: Row = (rows[model] = {
    times: { new: { port: [], text: [], redecided: [], settle: [] }, old: { port: [], text: [], redecided: [], settle: [] } },
    plain: [],
    total: 0,
    edited: `line ${line}: ${/^port: \d+/.exec(original.slice(at))![0]}`,
  });
  let k = 0;
  /** one run of each implementation on the file as it is now; which goes first alternates */
  const runAll = async (what: "port" | "text") => {
    for (const s of k % 2 ? state : [...state].reverse()) {
      const r = await s.impl.runFile(s.w, s.cache, o);
      if (!r.ok) throw new Error(`${model}: the edited file does not load`);
      const t = row.times[s.impl.name];
      t[what].push(r.ms);
      const t0 = performance.now();
      await settle(s.cache);
      if (what === "port") t.settle.push(performance.now() - t0);
      if (what === "port") t.redecided.push(r.redecided.length);
      row.total = r.results.length;
    }
  };
  describe(`reach verify --watch ${model}`, () => {
    // each edit's runs start from the original file, every cache warm with it
    const afterEdit = {
      iterations: ITERATIONS,
      warmupIterations: 0,
      time: 0,
      setup: async () => {
        writeFileSync(file, original);
        for (const s of state) await s.impl.runFile(s.w, s.cache, o).then(() => settle(s.cache));
      },
    };
    bench(
      "re-run after a port edit",
      async () => {
        k++;
        writeFileSync(file, movePort(original, at, k));
        await runAll("port");
      },
      afterEdit,
    );
    bench(
      "re-run after a text edit",
      async () => {
        k++;
        writeFileSync(file, original.replace(/^expect:\n/m, `expect:\n  # edit ${k}\n`));
        await runAll("text");
      },
      afterEdit,
    );
    bench(
      "plain verify (no cache)",
      async () => {
        writeFileSync(file, original);
        const t0 = performance.now();
        const loaded = loadTopologyFile(file);
        await verifyTopology(lower(loaded.topology), loaded.topology, o.engine);
        row.plain.push(performance.now() - t0);
      },
      { iterations: 3, warmupIterations: 0, time: 0 },
    );
  });
}
