// @ts-check
/**
 * StrykerJS over the engines and the lowering (`npm run mutate`; docs/mutation.md). Not in CI: it
 * is long. One folder at a time: `npm run mutate -- --mutate 'src/lower/**\/*.ts'` (or src/sim,
 * src/smt); the folder also picks the tests vitest.stryker.config.ts runs (REACH_MUTATE_SCOPE).
 * Incremental: reports/stryker-incremental-<folder>.json (reports/ is ignored by git) keeps each
 * folder's results, so a rerun tests only mutants whose code or covering tests changed.
 */
const FOLDERS = ["lower", "sim", "smt"];

/** The folder named by --mutate/-m on the command line, if exactly one of ours is named. */
function scopeFromArgs(argv) {
  const i = argv.findIndex((a) => a === "--mutate" || a === "-m");
  const pattern = i >= 0 ? (argv[i + 1] ?? "") : "";
  const named = FOLDERS.filter((f) => pattern.includes(`src/${f}/`));
  return named.length === 1 ? named[0] : "all";
}

/** `walk` when --mutate names one file (src/sim/walk.ts): its run keeps its own reports. */
function fileFromArgs(argv) {
  const i = argv.findIndex((a) => a === "--mutate" || a === "-m");
  const m = /^src\/\w+\/([\w-]+)\.ts$/.exec(i >= 0 ? (argv[i + 1] ?? "") : "");
  return m ? m[1] : undefined;
}

// Read by vitest.stryker.config.ts in the test-runner processes, which inherit this environment.
process.env.REACH_MUTATE_SCOPE ??= scopeFromArgs(process.argv);
const scope = process.env.REACH_MUTATE_SCOPE;
// A folder's files can run one at a time (a folder takes hours); each keeps its own results.
const file = fileFromArgs(process.argv);
// Read by vitest.stryker.config.ts too: one file's run may add the tests that judge that file.
if (file) process.env.REACH_MUTATE_FILE ??= file;
const name = file ? `${scope}-${file}` : scope;

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  // vmThreads: each test file still gets fresh modules (a static mutant is seen), in a new VM
  // context rather than a new process; a mutant covered by 20 files saves about 10 s of forks.
  vitest: { configFile: "vitest.stryker.config.ts", related: true, pool: "vmThreads" },
  mutate: ["src/sim/**/*.ts", "src/smt/**/*.ts", "src/lower/**/*.ts"],
  coverageAnalysis: "perTest",
  // The machine is shared (2 cores): one test-runner process.
  concurrency: 1,
  incremental: true,
  incrementalFile: `reports/stryker-incremental-${name}.json`,
  tempDirName: "reports/.stryker-tmp",
  // Stryker rewrites the sandbox's tsconfig through the TypeScript 5 API, which TypeScript 7 (this
  // project's) no longer has; ours has no extends/references to rewrite, so point it at no file.
  tsconfigFile: "reports/no-tsconfig-rewrite.json",
  ignorePatterns: ["dist", "counterexamples", "reports", ".ci"],
  timeoutMS: 20_000,
  dryRunTimeoutMinutes: 20,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowEmojis: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 85, break: null },
};
