/**
 * Z3 decides every expectation of every model in models/, and each witness,
 * replayed in the simulator, reaches what the query asked for.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { MODEL_FILES } from "../model-files.js";

const files = MODEL_FILES;

afterAll(() => shutdown());

describe("Z3 on the models", () => {
  for (const f of files) {
    describe(f, () => {
      const loaded = loadTopologyFile(join("models", f));
      const net = lower(loaded.topology);
      for (const e of (loaded.topology.doc.expect ?? []).flatMap((x) => (x.query !== undefined ? [{ ...x, query: x.query }] : []))) {
        it(`${e.query} is ${e.verdict}`, async () => {
          const q = parseQuery(e.query);
          if (!q.ok) throw new Error(q.message);
          const d = await decide(net, q.query);
          expect({ query: e.query, verdict: d.verdict, reason: d.reason }).toMatchObject({ verdict: e.verdict });
          if (d.dial) {
            const a = attempt(net, machineIndex(net), d.dial);
            expect(a.ok).toBe(true);
            const t = q.query.target;
            if (t.kind === "machine") expect(a.outcome).toMatchObject({ kind: "ok", machine: t.machine });
          }
        });
      }
    });
  }
});
