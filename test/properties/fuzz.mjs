#!/usr/bin/env node
/**
 * `npm run fuzz -- --count N --seed S`: the differential property
 * (differential.test.ts: Z3 against the exhaustive simulator) on N generated
 * topologies from seed S. A failure prints the seed and writes the shrunk
 * topology to a YAML file that `reach ask` loads.
 */
import { spawnSync } from "node:child_process";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";

const argv = yargs(hideBin(process.argv))
  .scriptName("npm run fuzz --")
  .option("count", { type: "number", default: 1000, describe: "generated topologies" })
  .option("seed", { type: "number", default: Date.now() % 2 ** 31, describe: "fast-check seed (printed, so a run can be replayed)" })
  .check((a) =>
    Number.isInteger(a.count) && a.count > 0 && Number.isInteger(a.seed)
      ? true
      : "--count must be a positive integer and --seed an integer",
  )
  .strict()
  .help()
  .parseSync();

console.log(`fuzz: ${argv.count} topologies, seed ${argv.seed}`);
const r = spawnSync("npx", ["vitest", "run", "test/properties/differential.test.ts", "--reporter=default"], {
  stdio: "inherit",
  env: { ...process.env, DIFF_RUNS: String(argv.count), FC_SEED: String(argv.seed) },
});
process.exit(r.status ?? 1);
