/**
 * Speed of the spine: end-to-end `reach ask` (process start included), and the
 * library path (load + lower + ask) on the bundled model and on generated LANs.
 * Goals: CLI well under 1 s; in-process answers in milliseconds on lab-sized models.
 */
import { spawnSync } from "node:child_process";
import { bench, describe } from "vitest";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { ask } from "../../src/query/dials.js";
import { lanTopology } from "./generate.js";

const q = (text: string) => {
  const r = parseQuery(text);
  if (!r.ok) throw new Error(r.message);
  return r.query;
};

describe("reach ask models/virtualbox-nat.yaml", () => {
  bench(
    "CLI process, end to end",
    () => {
      const r = spawnSync(process.execPath, ["dist/bin/main.js", "ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp"]);
      if (r.status !== 0) throw new Error(String(r.stderr));
    },
    { iterations: 10 },
  );
  bench("in process: load + lower + ask", () => {
    const net = lower(loadTopologyFile("models/virtualbox-nat.yaml").topology);
    ask(net, q("host -> guest:22/tcp"));
  });
});

for (const [n, rules] of [
  [50, 20],
  [200, 50],
] as const) {
  const text = lanTopology(n, rules);
  const net = lower(loadTopologyText(`lan-${n}.yaml`, text).topology);
  describe(`generated LAN: ${n} machines x ${rules} input rules`, () => {
    bench(
      "load + check + lower",
      () => {
        lower(loadTopologyText(`lan-${n}.yaml`, text).topology);
      },
      { iterations: 5 },
    );
    bench(
      "ask outside -> m0:8080/tcp (via router forward)",
      () => {
        ask(net, q("outside -> m0:8080/tcp"));
      },
      { iterations: 5 },
    );
    bench(
      `ask m1 -> m${n - 1}:8080/tcp`,
      () => {
        ask(net, q(`m1 -> m${n - 1}:8080/tcp`));
      },
      { iterations: 5 },
    );
  });
}
