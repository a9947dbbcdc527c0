#!/usr/bin/env node
/**
 * `node test/kernel/emulable.mjs --count N --seed S`: generates N topologies from seed S with the
 * property tests' generator and prints the share the emulator can build and its refusal reasons
 * by count (test/kernel/emulable.test.ts; needs no root, builds nothing).
 */
import { spawnSync } from "node:child_process";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";

const argv = yargs(hideBin(process.argv))
  .scriptName("node test/kernel/emulable.mjs")
  .option("count", { type: "number", default: 1000, describe: "generated topologies" })
  .option("seed", { type: "number", default: 20261206, describe: "fast-check seed" })
  .check((a) => (Number.isInteger(a.count) && a.count > 0 && Number.isInteger(a.seed) ? true : "--count and --seed must be integers"))
  .strict()
  .help()
  .parseSync();

const r = spawnSync("npx", ["vitest", "run", "test/kernel/emulable.test.ts", "--reporter=default"], {
  stdio: "inherit",
  env: { ...process.env, EMULABLE_COUNT: String(argv.count), EMULABLE_SEED: String(argv.seed), EMULABLE_GOAL: "0" },
});
process.exit(r.status ?? 1);
