import fc from "fast-check";
import { it } from "vitest";
import { writeFileSync } from "node:fs";
import { scenarioArb } from "./properties/arbitraries.js";
it("dump", () => {
  let k = 0;
  for (const seed of [20261123, 20261124, 20261125, 20261126]) {
    const xs = fc.sample(scenarioArb(["machine", "icmp", "localhost", "entry", "up"], 3), { seed, numRuns: 50 });
    xs.forEach((s, i) => {
      {
        writeFileSync(`/tmp/scr-${seed}-${i}.yaml`, `${s.topology.yaml}# ${s.queries.join(" | ")}\n`);
        k++;
      }
    });
  }
  console.log("dumped", k);
});
