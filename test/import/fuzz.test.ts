/**
 * Fuzzing every importer with its own golden inputs: every prefix (truncated
 * downloads, half-copied terminal output), random edits, and garbage. An
 * importer may reject any of them, but only with diagnostics that point inside
 * the input; it never throws. fast-check prints the seed and the shrunk input
 * on failure; IMPORT_FUZZ_RUNS and IMPORT_FUZZ_SEED control the run.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IMPORTERS, type Kind } from "../../src/import/run.js";
import type { Source } from "../../src/import/types.js";
import { importCases, inputPath } from "./cases.js";

const runs = Number(process.env["IMPORT_FUZZ_RUNS"] ?? 60);
const seed = process.env["IMPORT_FUZZ_SEED"] !== undefined ? Number(process.env["IMPORT_FUZZ_SEED"]) : undefined;

/** Imports `text` as `kind` and checks every diagnostic lies inside it. */
async function importsSafely(kind: Kind, file: string, text: string): Promise<void> {
  const source: Source = { file, text };
  const r = await IMPORTERS[kind]([source], { host: "host" });
  const lines = text.split("\n");
  for (const d of r.diagnostics) {
    expect(d.span.file).toBe(file);
    expect(d.span.line).toBeGreaterThanOrEqual(1);
    expect(d.span.line).toBeLessThanOrEqual(lines.length + 1);
    expect(d.span.col).toBeGreaterThanOrEqual(1);
    expect(d.message.length).toBeGreaterThan(0);
  }
}

/** A sample with some characters replaced, deleted or inserted. */
const edited = (text: string) =>
  fc
    .array(
      fc.tuple(
        fc.nat({ max: Math.max(0, text.length) }),
        fc.constantFrom("del", "ins", "rep"),
        fc.string({ maxLength: 3, unit: "binary" }),
      ),
      { minLength: 1, maxLength: 6 },
    )
    .map((edits) => {
      let t = text;
      for (const [at, op, s] of edits) {
        const i = Math.min(at, t.length);
        t =
          op === "del"
            ? t.slice(0, i) + t.slice(i + 1)
            : op === "ins"
              ? t.slice(0, i) + s + t.slice(i)
              : t.slice(0, i) + s + t.slice(i + s.length);
      }
      return t;
    });

describe("importers never crash", () => {
  const inputs = importCases().flatMap((c) =>
    c.inputs.map((f) => {
      const path = inputPath(c.dir, f);
      const i = path.indexOf(":");
      const own = i > 0 && !path.startsWith("/") ? path.slice(0, i) : undefined;
      const file = own ? path.slice(i + 1) : path;
      return { kind: (own ?? c.kind) as Kind, file, text: readFileSync(file, "utf8"), label: `${c.name}/${f}` };
    }),
  );
  it("there are samples to fuzz", () => expect(inputs.length).toBeGreaterThan(0));
  for (const s of inputs) {
    it(`${s.kind} ${s.label}: every prefix`, async () => {
      const step = Math.max(1, Math.floor(s.text.length / 200));
      for (let n = 0; n < s.text.length; n += step) await importsSafely(s.kind, s.file, s.text.slice(0, n));
    });
    it(`${s.kind} ${s.label}: random edits`, async () => {
      await fc.assert(
        fc.asyncProperty(edited(s.text), (t) => importsSafely(s.kind, s.file, t)),
        { numRuns: runs, ...(seed !== undefined ? { seed } : {}) },
      );
    });
  }
  for (const kind of Object.keys(IMPORTERS) as Kind[]) {
    it(`${kind}: garbage`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.json(), fc.constantFrom("", "\n", "<", "{", "[", "\uFEFF", "\0")),
          (t) => importsSafely(kind, "garbage.txt", t),
        ),
        { numRuns: runs, ...(seed !== undefined ? { seed } : {}) },
      );
    });
  }
});
