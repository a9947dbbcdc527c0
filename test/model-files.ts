/** The bundled models (models/*.yaml), shared by the tests that run every expectation. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const MODELS_DIR = join(import.meta.dirname, "..", "models");
/** File names in models/, sorted; the JSON Schema is not a model. */
export const MODEL_FILES: readonly string[] = readdirSync(MODELS_DIR)
  .filter((f) => /\.(ya?ml|json)$/.test(f) && !f.endsWith(".schema.json"))
  .sort();

/** Every YAML and JSON file below `dir` (node_modules and dot entries left out): the readers' tests run on all of them. */
export function dataFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === "node_modules" || n.startsWith(".")) return [];
    return statSync(p).isDirectory() ? dataFiles(p) : /\.(ya?ml|json)$/.test(n) ? [p] : [];
  });
}
