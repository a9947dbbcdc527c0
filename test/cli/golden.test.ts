/**
 * Golden files for what users see: `reach ask` text and JSON, `reach show`.
 * Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff.
 */
import { describe, expect, it } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { answerQuery } from "../../src/query/engine.js";
import { answerJson, renderAnswer } from "../../src/query/render.js";
import { showNetwork } from "../../src/lower/show.js";
import { golden } from "../golden.js";

const slug = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "");

export const CASES: readonly [model: string, query: string][] = [
  ["models/virtualbox-nat.yaml", "host -> guest:22/tcp"],
  ["models/virtualbox-nat.yaml", "lan-pc -> guest:22/tcp"],
  ["models/virtualbox-nat.yaml", "guest -> web:80/tcp"],
  ["models/virtualbox-nat.yaml", "web -> guest:22/tcp"],
  ["models/virtualbox-nat.yaml", "host -> guest/icmp"],
  ["models/nat-guest-loopback-bind.yaml", "host -> guest:22/tcp"],
  ["models/seed004-wrong-subnet.yaml", "host -> guest:22/tcp"],
  ["models/seed004-right-subnet.yaml", "host -> guest:22/tcp"],
  ["models/home-router-hairpin.yaml", "client-b -> 203.0.113.3:443/tcp"],
  ["models/home-router-hairpin.yaml", "client-a -> 203.0.113.2:443/tcp"],
  ["models/ipv6-loopback-dualstack.yaml", "server -> localhost:8001/tcp"],
  ["models/host-bind-loopback-vs-any.yaml", "lan-pc -> 192.168.1.30:80/tcp"],
  ["models/nat-forward-host-firewall.yaml", "lan-pc -> guest:22/tcp"],
];

describe("golden: reach ask", () => {
  for (const [model, query] of CASES) {
    it(`${model} "${query}"`, async () => {
      const loaded = loadTopologyFile(model);
      const net = lower(loaded.topology);
      const q = parseQuery(query);
      if (!q.ok) throw new Error(q.message);
      // what `reach ask` prints by default: Z3 decides, the simulator's replay is shown
      const { answer: ans, report } = await answerQuery(net, q.query, { engine: "smt", timeoutMs: 30_000 });
      const base = `${slug(model.replace(/^models\//, "").replace(/\.ya?ml$/, ""))}__${slug(query)}`;
      golden(`${base}.txt`, renderAnswer(ans, net.machines, report) + "\n");
      golden(`${base}.json`, JSON.stringify(answerJson(ans, net.machines, report), null, 2) + "\n");
    });
  }
});

describe("golden: reach show", () => {
  it("models/virtualbox-nat.yaml", () => {
    const net = lower(loadTopologyFile("models/virtualbox-nat.yaml").topology);
    golden("show__virtualbox-nat.txt", showNetwork(net) + "\n");
  });
});
