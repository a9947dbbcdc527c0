/**
 * The real network as judge of every bundled model: each model is built in
 * network namespaces, every query of its expect: list is probed with real
 * connects, and Z3, the exhaustive simulator and the kernel must give the same
 * verdict (which must also be the one the file expects), every dial must end
 * where the simulator says, every failed dial's client must see the symptom
 * reach states (refused, timeout, EHOSTUNREACH, accepted-then-hang, ...), and
 * nothing may be left behind.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emulate } from "../../src/emulate/emulate.js";
import { dialProbeText } from "../../src/emulate/probe.js";
import { lower } from "../../src/lower/lower.js";
import { expectationQueries } from "../../src/query/expect.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { MODEL_FILES, MODELS_DIR } from "../model-files.js";
import { disagreementText, kernelSkip } from "./support.js";

describe.skipIf(kernelSkip).concurrent("every model: Z3, the simulator and the kernel agree", () => {
  for (const f of MODEL_FILES) {
    it(
      f,
      async () => {
        const loaded = loadTopologyFile(join(MODELS_DIR, f));
        const topo = loaded.spec ?? loaded.topology;
        const net = lower(loaded.topology);
        const queries = expectationQueries(topo);
        const expected = new Map(
          (topo.doc.expect ?? []).flatMap((e) => (e.query !== undefined ? [[e.query, e.verdict ?? "reachable"] as const] : [])),
        );
        const r = await emulate(net, queries);
        const wrong = r.probes.filter((p) => !p.agree);
        expect(wrong.map(disagreementText)).toEqual([]);
        const seen = r.probes.flatMap((p) =>
          p.dials.flatMap((d) => (d.symptom && !d.symptom.agree ? [`${p.query.text}: ${dialProbeText(d)}`] : [])),
        );
        expect(seen).toEqual([]);
        for (const p of r.probes)
          expect({ q: p.query.text, kernel: p.kernel }).toEqual({ q: p.query.text, kernel: expected.get(p.query.text) });
        expect(r.leftBehind).toEqual([]);
        expect(r.listenErrors).toEqual([]);
        expect(r.forwardErrors).toEqual([]);
      },
      120_000,
    );
  }
});
