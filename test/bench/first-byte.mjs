#!/usr/bin/env node
/**
 * How long a command keeps its user waiting: milliseconds to the first byte on stdout and to the
 * end of the process, for one run of `node CLI ARGS...` (e.g. an unreachable `reach ask` whose
 * answer is written before its repair search: docs/benchmarks.md).
 *   node test/bench/first-byte.mjs dist/bin/main.js ask /tmp/lan10k.json "m1 -> m9999:9999/tcp"
 */
import { spawn } from "node:child_process";

const [cli, ...args] = process.argv.slice(2);
if (!cli) {
  console.error("usage: node test/bench/first-byte.mjs CLI [ARGS...]");
  process.exit(2);
}
const t0 = performance.now();
let first;
const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "ignore"] });
child.stdout.on("data", () => (first ??= performance.now() - t0));
child.on("close", (code) =>
  console.log(JSON.stringify({ firstMs: Math.round(first ?? -1), totalMs: Math.round(performance.now() - t0), code })),
);
