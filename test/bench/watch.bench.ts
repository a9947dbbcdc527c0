/**
 * `reach verify --watch`: the time from a save to the printed results (load, lower, the cached
 * verify) on each seed model (models/*.yaml), after two kinds of edit:
 *   port    the first service's port moves by one (a new port each time: nothing remembered fits
 *           the questions that read it, the others are reused);
 *   text    an expectation's `because:` changes (nothing in the lowered network: all reused);
 * and, beside them, a plain `reach verify` of the same file in the same process (Z3 warm).
 * Goal (issue 19 item 7): < 200 ms after an edit. The table at the end has the medians and how
 * many expectations each edit re-decided.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, bench, describe } from "vitest";
import { DecisionCache } from "../../src/verify/decision-cache.js";
import { runFile, type WatchOptions } from "../../src/verify/watch.js";
import { verifyTopology } from "../../src/verify/verify.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";

const dir = mkdtempSync(join(tmpdir(), "reach-bench-watch-"));
const models = readdirSync("models")
  .filter((f) => f.endsWith(".yaml") && !f.includes(".spec."))
  .filter((f) => /expect:/.test(readFileSync(join("models", f), "utf8")));
const o: WatchOptions = { engine: { engine: "smt", timeoutMs: 30_000 }, out: () => {}, err: () => {} };
interface Row {
  port: number[];
  text: number[];
  plain: number[];
  redecided: number[];
  total: number;
}
const rows: Record<string, Row> = {};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

afterAll(() => {
  const lines = Object.entries(rows).map(
    ([m, r]) =>
      `${m.padEnd(34)} ${median(r.port).toFixed(0).padStart(6)} ms (${median(r.redecided)} of ${r.total} re-decided) ${median(r.text).toFixed(0).padStart(6)} ms ${median(r.plain).toFixed(0).padStart(8)} ms`,
  );
  console.log(`\nmodel                              after a port edit              after a text edit   plain verify\n${lines.join("\n")}`);
  rmSync(dir, { recursive: true, force: true });
});

for (const model of models) {
  const file = join(dir, model);
  copyFileSync(join("models", model), file);
  const original = readFileSync(file, "utf8");
  const port = /port: (\d+)/.exec(original.slice(original.indexOf("services:")));
  const cache = new DecisionCache();
  const w = { file, reads: new Set<string>() };
  const row: Row = (rows[model] = { port: [], text: [], plain: [], redecided: [], total: 0 });
  let k = 0;
  describe(`reach verify --watch ${model}`, () => {
    bench(
      "re-run after a port edit",
      async () => {
        k++;
        const at = original.indexOf("services:") + port!.index;
        writeFileSync(file, original.slice(0, at) + `port: ${Number(port![1]) + k}` + original.slice(at + port![0].length));
        const r = await runFile(w, cache, o);
        if (!r.ok) throw new Error(`${model}: the edited port does not load`);
        row.port.push(r.ms);
        row.redecided.push(r.redecided.length);
        row.total = r.results.length;
      },
      {
        iterations: 5,
        warmupIterations: 0,
        time: 0,
        setup: async () => {
          writeFileSync(file, original);
          await runFile(w, cache, o);
        },
      },
    );
    bench(
      "re-run after a text edit",
      async () => {
        k++;
        writeFileSync(file, original.replace(/^expect:\n/m, `expect:\n  # edit ${k}\n`));
        row.text.push((await runFile(w, cache, o)).ms);
      },
      { iterations: 5, warmupIterations: 0, time: 0 },
    );
    bench(
      "plain verify (no cache)",
      async () => {
        const t0 = performance.now();
        const loaded = loadTopologyFile(file);
        await verifyTopology(lower(loaded.topology), loaded.topology, o.engine);
        row.plain.push(performance.now() - t0);
      },
      { iterations: 3, warmupIterations: 0, time: 0 },
    );
  });
}
