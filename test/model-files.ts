/** The bundled models (models/*.yaml), shared by the tests that run every expectation. */
import { readdirSync } from "node:fs";
import { join } from "node:path";

export const MODELS_DIR = join(import.meta.dirname, "..", "models");
/** File names in models/, sorted; the JSON Schema is not a model. */
export const MODEL_FILES: readonly string[] = readdirSync(MODELS_DIR)
  .filter((f) => /\.(ya?ml|json)$/.test(f) && !f.endsWith(".schema.json"))
  .sort();
