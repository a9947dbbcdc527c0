/**
 * Symbolic configuration: `reach prove` on the bundled proofs (Z3 over each family
 * at once against the simulator enumerating it), `reach fix` on the issue's
 * repairs, and the importers on their golden inputs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bench, describe } from "vitest";
import { fix } from "../../src/fix/fix.js";
import { IMPORTERS } from "../../src/import/run.js";
import { lower } from "../../src/lower/lower.js";
import { loadFamilyFile } from "../../src/prove/family.js";
import { members, proveFamily } from "../../src/prove/prove.js";
import { answerQuery } from "../../src/query/engine.js";
import { parseQuery } from "../../src/ir/query.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { importCases, inputPath } from "../import/cases.js";

const proofs = readdirSync("proofs")
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => loadFamilyFile(join("proofs", f)));
const largest = proofs.reduce((a, b) => (members(a).length >= members(b).length ? a : b));
const query = (t: string) => {
  const q = parseQuery(t);
  if (!q.ok) throw new Error(q.message);
  return q.query;
};

describe(`reach prove: ${proofs.length} proof files`, () => {
  bench(
    "every file: Z3 over each family + the simulator over every member",
    async () => {
      for (const f of proofs) await proveFamily(f, { timeoutMs: 60_000 });
    },
    { iterations: 3, warmupIterations: 1 },
  );
  bench(
    `largest family (${largest.file}, ${members(largest).length} members): prove`,
    async () => {
      await proveFamily(largest, { timeoutMs: 60_000 });
    },
    { iterations: 5, warmupIterations: 1 },
  );
  bench(
    `largest family: the simulator alone, member by member`,
    async () => {
      for (const m of members(largest))
        for (const t of largest.theorems) await answerQuery(m.net, t.query, { engine: "sim", timeoutMs: 60_000, explain: false });
    },
    { iterations: 5, warmupIterations: 1 },
  );
});

describe("reach fix", () => {
  const two = loadTopologyFile("test/fix/two-edits.yaml");
  const over = loadTopologyFile("test/fix/overexposed.yaml");
  bench(
    "two-edits.yaml, wanted reachable (2 edits, best + 1 alternative)",
    async () => {
      await fix(two, query("lan-pc -> guest:3000/tcp"), "reachable", { maxEdits: 2, count: 2, timeoutMs: 60_000 });
    },
    { iterations: 3, warmupIterations: 1 },
  );
  bench(
    "overexposed.yaml, wanted unreachable (exists-forall, best only)",
    async () => {
      await fix(over, query("lan -> default:80/tcp"), "unreachable", { maxEdits: 2, count: 1, timeoutMs: 60_000 });
    },
    { iterations: 3, warmupIterations: 1 },
  );
});

describe("importers on their golden inputs", () => {
  const cases = importCases();
  const sources = cases.map((c) => ({
    kind: c.kind,
    list: c.inputs.filter((f) => !f.includes(":")).map((f) => ({ file: f, text: readFileSync(inputPath(c.dir, f), "utf8") })),
  }));
  bench(
    `all ${cases.length} cases: import (no merge)`,
    async () => {
      for (const s of sources) await IMPORTERS[s.kind](s.list, { host: "host" });
    },
    { iterations: 10, warmupIterations: 2 },
  );
  bench(
    "for scale: load + lower models/lab-multi-vm.yaml",
    () => {
      lower(loadTopologyFile("models/lab-multi-vm.yaml").topology);
    },
    { iterations: 10 },
  );
});
