/**
 * The repair search at scale (found 2026-12-07): `reach ask` on an unreachable pair of a
 * 10,000-machine file printed "fix: none found within 5 s" after 143 s, because candidates went
 * on being built (each the whole file, written out with the yaml library and read again) after
 * the deadline; and on a file with YAML aliases the inline repair's refusal threw away the answer
 * (exit 2). Here: the candidate copies only the edited path, the search keeps to its limit and
 * says what it did not build, and a refused repair leaves the answer standing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { choices, fix } from "../../src/fix/fix.js";
import { applyToData, repairSpace, type Edit } from "../../src/fix/space.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { q as query } from "../sim/helpers.js";

describe("a candidate is the document with its edits, the rest shared", () => {
  it("leaves the document as it was and copies only the mappings and lists on the edited paths", () => {
    const { doc } = loadTopologyFile("test/fix/two-edits.yaml").topology;
    const before = JSON.stringify(doc);
    const names = Object.keys(doc.machines);
    const [edited, other] = [names[0]!, names[1]!];
    const edits: Edit[] = [
      { op: "set", path: ["machines", edited, "ipForward"], value: true, was: undefined },
      { op: "append", path: ["machines", edited, "routes"], value: { to: "default", via: "10.9.9.9" } },
    ];
    const out = applyToData(doc, edits);
    expect(JSON.stringify(doc)).toBe(before);
    expect(out.machines[edited]).not.toBe(doc.machines[edited]);
    expect(out.machines[other]).toBe(doc.machines[other]);
    expect(out.segments).toBe(doc.segments);
    const m = out.machines[edited] as Record<string, unknown>;
    expect(m.ipForward).toBe(true);
    expect(m.routes).toEqual([...(doc.machines[edited]!.routes ?? []), { to: "default", via: "10.9.9.9" }]);
  });
});

describe("the repair search keeps to its time limit", () => {
  it("builds no candidate once the limit has passed, and says how many it left", { timeout: 60_000 }, async () => {
    const loaded = loadTopologyFile("test/fix/two-edits.yaml");
    const q = query("lan-pc -> guest:8080/tcp");
    const net = lower(loaded.topology);
    const before = await answerQuery(net, q, { engine: "both", timeoutMs: 30_000 });
    expect(before.answer.verdict).toBe("unreachable");
    // with a whole minute the search finds the two-edit repair (fix.test.ts)
    const ample = await fix(loaded, q, "reachable", { maxEdits: 2, count: 1, timeoutMs: 60_000, answered: { net, before } });
    expect(ample.repairs).toHaveLength(1);
    expect(ample.unknown).toBeUndefined();
    // a limit that is over when the search starts: none built, none explored, and the reason given
    const none = await fix(loaded, q, "reachable", { maxEdits: 2, count: 1, timeoutMs: 0, answered: { net, before } });
    expect(none.repairs).toEqual([]);
    expect(none.candidates).toBe(0);
    expect(none.unknown).toMatch(/^\d+ candidates were not built: they do not fit in the time limit$/);
    // every way of changing one or two slots, the unchanged file left out
    const all = choices(repairSpace(loaded.topology.doc, net, q, "reachable"), 2).length - 1;
    expect(Number(/^(\d+)/.exec(none.unknown!)![1])).toBe(all);
  });
});

describe("reach ask: a file reach fix will not edit still gets its answer", () => {
  const dir = mkdtempSync(join(tmpdir(), "reach-fix-budget-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const reach = (...args: string[]) => spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
  // two machines sharing one route list through an anchor, a common YAML habit
  const file = join(dir, "anchors.yaml");
  writeFileSync(
    file,
    [
      "segments:",
      "  lan: 10.0.0.0/24",
      "machines:",
      "  a:",
      "    interfaces: { eth0: { segment: lan, addresses: [10.0.0.1/24] } }",
      "    routes: &gw [ { to: default, via: 10.0.0.254 } ]",
      "  b:",
      "    interfaces: { eth0: { segment: lan, addresses: [10.0.0.2/24] } }",
      "    routes: *gw",
      "",
    ].join("\n"),
  );

  it("text: the unreachable answer and its cause, then why no repair was tried; exit 0", () => {
    const r = reach("ask", file, "a -> b:22/tcp");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^unreachable: a -> b:22\/tcp \(NOTHING_LISTENS\)\n/);
    expect(r.stdout).toContain("  fix: not tried: reach fix does not edit files with YAML aliases");
    expect(r.stderr).toBe("");
  });

  it("JSON: the verdict, and fix.status 'not tried' with the reason", () => {
    const r = reach("ask", file, "a -> b:22/tcp", "--json");
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { verdict: string; fix: { status: string; reason: string } };
    expect(j.verdict).toBe("unreachable");
    expect(j.fix.status).toBe("not tried");
    expect(j.fix.reason).toMatch(/YAML aliases/);
  });
});
