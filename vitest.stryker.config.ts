/**
 * The vitest config StrykerJS uses (stryker.config.mjs; `npm run mutate`, docs/mutation.md): only
 * fast unit and property tests that import the engines from src/ (a test that reads dist/ cannot
 * see a mutant), never the kernel (test/mutation/no-kernel.setup.ts), nor the CLI, nor a browser.
 * REACH_MUTATE_SCOPE (set by stryker.config.mjs from --mutate) picks the tests of one folder.
 */
import { statSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Smaller test files first. A mutant stops at its first failing test, and vitest's own order runs
 * the largest (here: the slowest, sampled) files first, so a mutant a small file kills at once
 * waited for them.
 */
class SmallFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const size = (f: TestSpecification) => statSync(f.moduleId).size;
    return [...files].sort((a, b) => size(a) - size(b));
  }
}

const LOWER = ["test/lower/**/*.test.ts"];
// src/sim/exhaustive.ts is the reference the differential property checks Z3 against (a class it
// leaves out shows as a disagreement), so a run of that file alone adds the property. The folder's
// run leaves it out: every simulator mutant reaches it, and each survivor would run it whole.
const DIFFERENTIAL = ["test/properties/differential.test.ts"];

// The simulator is also judged by the symptom oracle, the kernel regressions' engine assertions
// (their namespace halves are skipped) and the firewall-action tests.
// Both engines' class exploration (src/sim/classes.ts, src/smt/classes.ts) is judged by
// test/query/classes.test.ts, which compares every cell with the per-flow answer.
const SIM = [
  "test/sim/**/*.test.ts",
  "test/query/causes.test.ts",
  "test/query/classes.test.ts",
  "test/regressions/**/*.test.ts",
  "test/topology/{reject-with,nat-engine,match-negation-metric}.test.ts",
];
// The solver is judged above all by the differential property (Z3 against the simulator), and
// by the kernel regressions' engine halves, which ask Z3 too (enginesAgree).
const SMT = ["test/smt/**/*.test.ts", ...DIFFERENTIAL, "test/query/classes.test.ts", "test/regressions/**/*.test.ts"];

const scope = process.env.REACH_MUTATE_SCOPE ?? "all";
const file = process.env.REACH_MUTATE_FILE;
const include =
  scope === "lower"
    ? LOWER
    : scope === "sim"
      ? [...SIM, ...(file === "exhaustive" ? DIFFERENTIAL : [])]
      : scope === "smt"
        ? SMT
        : [...LOWER, ...SIM, ...SMT];

export default defineConfig({
  test: {
    include,
    setupFiles: ["test/setup.ts", "test/mutation/no-kernel.setup.ts"],
    testTimeout: 300_000,
    sequence: { sequencer: SmallFirst },
    env: {
      AGREE_RUNS: "100",
      DOMAIN_RUNS: "100",
      CLASS_DIALS: "40",
      SKIP_CASES: "12",
      CAUSE_RUNS: "80",
      LONG_DECISIONS: "200",
      DIFF_RUNS: "40",
    },
  },
});
