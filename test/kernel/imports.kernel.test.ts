/**
 * The kernel as judge of what the importers write: every golden import's
 * committed topology (test/import/golden/CASE/expected.yaml) that the emulator can
 * build is built in network namespaces, the case's queries are probed with real
 * connects, and the kernel's verdicts must be the case's and agree with Z3 and
 * the simulator dial by dial. A topology the emulator refuses is listed with why.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emulate } from "../../src/emulate/emulate.js";
import { unsupported } from "../../src/emulate/plan.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { importCases } from "../import/cases.js";
import { disagreementText, kernelSkip } from "./support.js";

describe.skipIf(kernelSkip)("imported topologies: the kernel agrees with the golden verdicts", () => {
  for (const c of importCases()) {
    it(
      c.name,
      async (ctx) => {
        const net = lower(loadTopologyFile(join(c.dir, "expected.yaml")).topology);
        const refused = unsupported(net);
        if (refused.length) {
          ctx.annotate(`not emulated: ${refused.map((u) => (u.machine ? `${u.machine}: ${u.what}` : u.what)).join("; ")}`);
          ctx.skip();
        }
        const queries = c.queries.map((q) => {
          const p = parseQuery(q.query);
          if (!p.ok) throw new Error(p.message);
          return p.query;
        });
        const r = await emulate(net, queries);
        expect(r.probes.filter((p) => !p.agree).map(disagreementText)).toEqual([]);
        expect(r.probes.map((p) => [p.query.text, p.kernel])).toEqual(c.queries.map((q) => [q.query, q.verdict]));
        expect(r.leftBehind).toEqual([]);
        expect(r.listenErrors).toEqual([]);
      },
      180_000,
    );
  }
});
