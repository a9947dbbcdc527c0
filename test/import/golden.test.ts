/**
 * Golden import cases: realistic inputs -> the committed topology (expected.yaml)
 * -> verdicts from both engines. `UPDATE_GOLDEN=1` rewrites expected.yaml; read
 * the diff before committing it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderDiagnostic } from "../../src/diagnostics/diagnostic.js";
import { runImport } from "../../src/import/run.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { parseQuery } from "../../src/ir/query.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { importCases, inputPath } from "./cases.js";

const update = process.env["UPDATE_GOLDEN"] === "1";

describe("import golden cases", () => {
  const cases = importCases();
  it("there are cases for every kind", () => {
    expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(["virtualbox", "vagrant", "qemu", "libvirt", "compose", "docker", "linux"]));
  });
  for (const c of cases) {
    describe(`${c.kind}: ${c.name}`, () => {
      it("imports into the committed topology", async () => {
        const out = await runImport({
          kind: c.kind,
          files: c.inputs.map((f) => inputPath(c.dir, f)),
          options: { host: c.host ?? "host", lan: "192.168.1.0/24" },
          ...(c.base ? { into: join(c.dir, c.base) } : {}),
          command: ["reach import", c.kind, ...(c.base ? ["--into", c.base] : []), ...c.inputs].join(" "),
        });
        const shown = out.diagnostics.map((d) => renderDiagnostic(d, out.sources.get(d.span.file))).join("\n");
        expect(
          out.diagnostics.filter((d) => d.severity === "error"),
          shown,
        ).toEqual([]);
        expect(
          out.diagnostics.map((d) => d.code),
          shown,
        ).toEqual(c.warnings ?? []);
        const file = join(c.dir, "expected.yaml");
        if (update || !existsSync(file)) writeFileSync(file, out.text!);
        expect(out.text).toBe(readFileSync(file, "utf8"));
      });
      const text = existsSync(join(c.dir, "expected.yaml")) ? readFileSync(join(c.dir, "expected.yaml"), "utf8") : undefined;
      for (const q of c.queries) {
        it(`${q.query} is ${q.verdict}`, async () => {
          expect(text, "expected.yaml exists").toBeDefined();
          const net = lower(loadTopologyText(join(c.dir, "expected.yaml"), text!).topology);
          const parsed = parseQuery(q.query);
          if (!parsed.ok) throw new Error(parsed.message);
          const decided = await answerQuery(net, parsed.query, { engine: "both", timeoutMs: 30_000 });
          expect({ query: q.query, verdict: decided.answer.verdict, reason: decided.answer.reason }).toMatchObject({
            query: q.query,
            verdict: q.verdict,
          });
        });
      }
    });
  }
});
