/**
 * The kernel as judge, against the verifier: building a model in network
 * namespaces, probing its expectations with real connects and taking it down,
 * versus Z3 deciding the same queries. Root only (skipped otherwise).
 */
import { bench, describe } from "vitest";
import { build, emulationSupport, teardown } from "../../src/emulate/build.js";
import { emulate } from "../../src/emulate/emulate.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { expectationQueries } from "../../src/query/expect.js";
import { loadTopologyFile } from "../../src/topology/load.js";

const loaded = loadTopologyFile("models/virtualbox-nat.yaml");
const net = lower(loaded.topology);
const queries = expectationQueries(loaded.topology);
const root = emulationSupport().ok;

describe.skipIf(!root)(`models/virtualbox-nat.yaml, its ${queries.length} expectation queries`, () => {
  bench(
    "kernel: build namespaces + probe every query + tear down",
    async () => {
      const r = await emulate(net, queries);
      if (!r.probes.every((p) => p.agree)) throw new Error("disagreement");
    },
    { iterations: 5, warmupIterations: 1 },
  );
  bench(
    "kernel: build + tear down only",
    async () => {
      await teardown(await build(net));
    },
    { iterations: 5, warmupIterations: 1 },
  );
  bench(
    "reach: Z3 decides every query (--engine smt)",
    async () => {
      for (const q of queries) await answerQuery(net, q, { engine: "smt", timeoutMs: 30_000 });
    },
    { iterations: 10, warmupIterations: 2 },
  );
});
