/** Golden files (test/golden/): what users see, regenerated deliberately with UPDATE_GOLDEN=1 and reviewed in the diff. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

const goldenDir = join(import.meta.dirname, "golden");

export function golden(name: string, actual: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`missing golden file ${name}: run UPDATE_GOLDEN=1 npm test`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}
