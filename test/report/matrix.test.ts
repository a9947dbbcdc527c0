/**
 * The report's matrices: every heatmap cell says what `reach ask` answers for its flow, and
 * `--diff OLD` marks exactly the flows diffFlows finds changed (the rest unchanged), with a legend.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { parseQuery } from "../../src/ir/query.js";
import { answerQuery } from "../../src/query/engine.js";
import { reportFile } from "../../src/report/build.js";
import { reportHtml } from "../../src/report/html.js";

const ENGINE = { engine: "smt" as const, timeoutMs: 20_000 };
const MODEL = join(import.meta.dirname, "../../models/nat-guest-loopback-bind.yaml");

/** The cells of the page's matrix tables: [flow, state] from each cell's title and class. */
function cells(page: string, table: number): [string, string][] {
  const tables = [...page.matchAll(/<table class="matrix">(.*?)<\/table>/gs)].map((m) => m[1]!);
  return [...tables[table]!.matchAll(/<td class="c (\w+)" title="(\S+ -&gt; \S+?): [^"]*">/g)].map((m) => [
    m[2]!.replaceAll("&gt;", ">"),
    m[1]!,
  ]);
}

describe("the report's heatmap", () => {
  it("each cell is the answer reach ask gives for its flow", async () => {
    const loaded = loadTopologyFile(MODEL);
    const net = lower(loaded.topology);
    const page = reportHtml([await reportFile("lab.yaml", loaded, net, ENGINE)]);
    const got = cells(page, 0).filter(([, s]) => s !== "self");
    expect(got.length).toBeGreaterThan(3);
    for (const [flow, state] of got) {
      const q = parseQuery(flow);
      if (!q.ok) throw new Error(q.message);
      const { answer } = await answerQuery(net, q.query, ENGINE);
      expect(state, flow).toBe(answer.verdict);
    }
  }, 120_000);
});

describe("reach report --diff", () => {
  it("widening sshd's bind adds exactly the flows to guest:22, the rest unchanged", async () => {
    const oldNet = lower(loadTopologyFile(MODEL).topology);
    const text = readFileSync(MODEL, "utf8");
    expect(text).toContain("bind: 127.0.0.1");
    const loaded = loadTopologyText("new.yaml", text.replace("bind: 127.0.0.1", "bind: 0.0.0.0"));
    const page = reportHtml([
      await reportFile("new.yaml", loaded, lower(loaded.topology), ENGINE, undefined, { file: "old.yaml", net: oldNet }),
    ]);
    expect(page).toContain("<b>changes since old.yaml</b>: 2 flows changed");
    const diff = cells(page, 0).filter(([, s]) => s !== "self");
    expect(diff.filter(([, s]) => s !== "unchanged")).toEqual([
      ["host -> guest:22/tcp", "added"],
      ["lan-pc -> guest:22/tcp", "added"],
    ]);
    for (const words of ["added: now reachable", "removed: no longer reachable", "changed: reachable, by other packets", "unchanged"])
      expect(page).toContain(words);
  }, 120_000);
});
