/** smt/solver.ts is the only module that imports z3-solver (architecture.md): everything else builds formulas. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "..", "src");
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

it("only src/smt/solver.ts imports z3-solver", () => {
  const importers = files(SRC).filter((f) => /from\s+["']z3-solver["']|import\(\s*["']z3-solver["']\s*\)/.test(readFileSync(f, "utf8")));
  expect(importers.map((f) => relative(SRC, f))).toEqual(["smt/solver.ts"]);
});
