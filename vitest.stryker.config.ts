/**
 * The vitest config StrykerJS uses (stryker.config.mjs; `npm run mutate`, docs/mutation.md): only
 * fast unit and property tests that import the engines from src/ (a test that reads dist/ cannot
 * see a mutant), never the kernel (test/mutation/no-kernel.setup.ts), nor the CLI, nor a browser.
 * REACH_MUTATE_SCOPE (set by stryker.config.mjs from --mutate) picks the tests of one folder.
 */
import { defineConfig } from "vitest/config";

const LOWER = ["test/lower/**/*.test.ts"];
const SIM = ["test/sim/**/*.test.ts"];
const SMT = ["test/smt/**/*.test.ts"];

const scope = process.env.REACH_MUTATE_SCOPE ?? "all";
const include = scope === "lower" ? LOWER : scope === "sim" ? SIM : scope === "smt" ? SMT : [...LOWER, ...SIM, ...SMT];

export default defineConfig({
  test: {
    include,
    setupFiles: ["test/mutation/no-kernel.setup.ts"],
    testTimeout: 300_000,
    env: { AGREE_RUNS: "100", DOMAIN_RUNS: "100" },
  },
});
