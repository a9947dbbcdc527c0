/**
 * The IR that lower() makes from every bundled model, pinned: `reach show` text and a full JSON
 * dump of the Network (bigints as `<digits>n`, undefined-valued keys kept as "<undefined>", key
 * order as built). A refactoring of lowering must leave these byte-identical; a deliberate change
 * is regenerated with UPDATE_GOLDEN=1 and reviewed in the diff. Spec files (`include:`) are skipped:
 * they lower the topology they include, which is pinned under its own name.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lower } from "../../src/lower/lower.js";
import { showNetwork } from "../../src/lower/show.js";
import { loadTopologyFile } from "../../src/topology/load.js";
import { MODEL_FILES, MODELS_DIR } from "../model-files.js";

const goldenDir = join(import.meta.dirname, "golden");

function golden(name: string, actual: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`missing golden file ${name}: run UPDATE_GOLDEN=1 npm test`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

/** JSON that drops nothing: bigints become `<digits>n`, a key present with value undefined stays visible. */
export function irJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `${v}n` : v === undefined ? "<undefined>" : v), 2) + "\n";
}

const models = MODEL_FILES.filter((f) => !/^include:/m.test(readFileSync(join(MODELS_DIR, f), "utf8")));

describe("lowering golden (every model's IR)", () => {
  it("covers the models", () => expect(models.length).toBeGreaterThanOrEqual(15));
  for (const f of models) {
    const base = f.replace(/\.(ya?ml|json)$/, "");
    it(f, () => {
      const net = lower(loadTopologyFile(join("models", f)).topology);
      golden(`${base}.show.txt`, showNetwork(net) + "\n");
      golden(`${base}.ir.json`, irJson(net));
    });
  }
});
