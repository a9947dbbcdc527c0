/** The golden import cases: test/import/golden/<name>/case.json plus the inputs beside it. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Kind } from "../../src/import/run.js";

export interface ImportCase {
  readonly name: string;
  readonly dir: string;
  readonly kind: Kind;
  /** Input files, relative to dir (`KIND:file` to use another importer for one file). */
  readonly inputs: readonly string[];
  /** A hand-written topology the imports are merged into. */
  readonly base?: string;
  readonly host?: string;
  readonly queries: readonly { readonly query: string; readonly verdict: "reachable" | "unreachable" }[];
  /** Warnings the import must report (codes), in order; none when absent. */
  readonly warnings?: readonly string[];
}

export const GOLDEN_DIR = join(import.meta.dirname, "golden");

export function importCases(): ImportCase[] {
  if (!existsSync(GOLDEN_DIR)) return [];
  return readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(GOLDEN_DIR, d.name, "case.json")))
    .map((d) => ({
      name: d.name,
      dir: join(GOLDEN_DIR, d.name),
      ...(JSON.parse(readFileSync(join(GOLDEN_DIR, d.name, "case.json"), "utf8")) as Omit<ImportCase, "name" | "dir">),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** `KIND:file` keeps its kind prefix while the path is made absolute. */
export const inputPath = (dir: string, input: string): string => {
  const i = input.indexOf(":");
  return i > 0 && !input.startsWith("/") ? `${input.slice(0, i)}:${join(dir, input.slice(i + 1))}` : join(dir, input);
};
