import fc from "fast-check";
import { it } from "vitest";
import { topologyArb } from "/work/main/test/properties/arbitraries.js";
import { loadTopologyText } from "/work/main/src/topology/load.js";
it("smoke", () => {
  const samples = fc.sample(topologyArb, { numRuns: 3000, seed: Number(process.env.S ?? 1) });
  const counts = new Map<string, number>();
  let shown = 0;
  for (const t of samples) {
    try { loadTopologyText("g.yaml", t.yaml); } catch (e) {
      const m = String((e as Error).message);
      for (const line of m.split("\n")) { const c = /RCH\d+: [^'0-9]*/.exec(line)?.[0] ?? line; counts.set(c, (counts.get(c) ?? 0) + 1); }
      if (shown++ < 2) console.log(m + "\n" + t.yaml);
    }
  }
  console.log(counts);
  console.log(samples[3]!.yaml);
});
