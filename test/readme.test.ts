/**
 * The README's examples are real: its pasted outputs are what reach prints. Its transcripts are also
 * run against the built CLI, and its links checked, by test/docs.test.ts, which checks docs/*.md the
 * same way (the topology, proofs, fix and import examples moved there with their checks).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTopologyFile } from "../src/topology/load.js";
import { lower } from "../src/lower/lower.js";
import { parseQuery } from "../src/ir/query.js";
import { answerQuery } from "../src/query/engine.js";
import { answerJson, engineLine, renderAnswer } from "../src/query/render.js";

const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
/** Where the README sends the answer's data and the engines (docs/engines.md). */
const engines = readFileSync(join(import.meta.dirname, "..", "docs", "engines.md"), "utf8");

/**
 * The README's pasted copy of an answer (its block starts with the answer's first line): line for
 * line the answer, where a line "..." stands for any number of the answer's lines.
 */
function pastedLines(rendered: string): { matches: true } | { matches: false; at: string } {
  const want = rendered.trimEnd().split("\n");
  const lines = readme.split("\n");
  const start = lines.indexOf(want[0]!);
  if (start < 0) return { matches: false, at: `no line ${want[0]}` };
  const pasted = lines.slice(start, lines.indexOf("```", start));
  let j = 0;
  for (let i = 0; i < pasted.length; i++) {
    if (pasted[i] === "...") {
      const next = pasted[i + 1];
      if (next === undefined) return { matches: true };
      while (j < want.length && want[j] !== next) j++;
      continue;
    }
    if (want[j] !== pasted[i]) return { matches: false, at: `pasted ${pasted[i]}, printed ${want[j]}` };
    j++;
  }
  return j === want.length ? { matches: true } : { matches: false, at: `printed more: ${want[j]}` };
}

describe("README", () => {
  it.each([
    ["models/virtualbox-nat.yaml", "host -> guest:22/tcp"],
    ["models/nat-guest-loopback-bind.yaml", "host -> guest:22/tcp"],
  ])("the pasted output of %s %j is current", async (model, query) => {
    const net = lower(loadTopologyFile(model).topology);
    const q = parseQuery(query);
    if (!q.ok) throw new Error(q.message);
    // what `reach ask` prints by default (Z3 decides, the simulator's replay is shown)
    const { answer, report } = await answerQuery(net, q.query, { engine: "smt", timeoutMs: 30_000 });
    expect(pastedLines(renderAnswer(answer, net.machines, report))).toEqual({ matches: true });
  });

  it("the pasted --engine both line is current", async () => {
    const net = lower(loadTopologyFile("models/virtualbox-nat.yaml").topology);
    const q = parseQuery("host -> guest:22/tcp");
    if (!q.ok) throw new Error(q.message);
    const { report } = await answerQuery(net, q.query, { engine: "both", timeoutMs: 30_000 });
    expect(engines).toContain(engineLine(report));
  });

  it("the --json field list names the real answer's fields", async () => {
    const line = engines.split("\n").find((l) => l.startsWith('`{ "verdict"'));
    expect(line).toBeDefined();
    // perAddress is there for a localhost query, the simulator's exchanges with --engine both
    let json = "";
    for (const [model, query] of [
      ["models/virtualbox-nat.yaml", "host -> guest:22/tcp"],
      ["models/ipv6-loopback-dualstack.yaml", "server -> localhost:8001/tcp"],
      ["models/virtualbox-nat.yaml", "web -> guest:22/tcp"],
    ] as const) {
      const net = lower(loadTopologyFile(model).topology);
      const q = parseQuery(query);
      if (!q.ok) throw new Error(q.message);
      const { answer, report } = await answerQuery(net, q.query, { engine: "both", timeoutMs: 30_000 });
      json += JSON.stringify(answerJson(answer, net.machines, report));
    }
    for (const [, key] of line!.matchAll(/"(\w+)"/g)) expect(json, key).toContain(`"${key}":`);
  });

  it("is a front door: about 15 KB, the reference lives in docs/", () => {
    expect(Buffer.byteLength(readme)).toBeLessThan(16_500);
  });
});
