// @ts-check
/**
 * The installed command (package.json `bin`: dist/bin/main.js) is tsc's dist/ bundled by esbuild
 * (`npm run build` runs tsc, then this). Node resolves, reads and compiles one module per file, and
 * the CLI and yargs with its helpers are about 130 files: the bundle turns them into a few chunks
 * (each command's own code still loads only when that command runs: dynamic imports become chunks).
 * Measured, CPU time of the whole process (docs/benchmarks.md, "Half-second CLI"): `reach --help`
 * 0.20 -> 0.13 s, `reach ask` on a seed model 0.46 -> 0.31 s.
 *
 * Kept as they are, resolved from node_modules when run: the packages that find a WebAssembly or
 * worker file next to their own code (z3-solver, web-tree-sitter, @viz-js/viz, tree-sitter-ruby).
 * The two other processes the CLI starts are entries of their own, written beside the chunks that
 * start them by `new URL("./name.js", import.meta.url)`: the emulator's agent and the matrix worker.
 * dist/ keeps tsc's files too: tests import the engines from there.
 */
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli/main.js", "dist/emulate/agent.js", "dist/verify/matrix-worker.js"],
  outdir: "dist/bin",
  entryNames: "[name]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["z3-solver", "web-tree-sitter", "@viz-js/viz", "tree-sitter-ruby"],
  // CommonJS packages (yargs' helpers, cliui) call require for Node's own modules.
  banner: { js: 'import { createRequire as __reachRequire } from "node:module"; const require = __reachRequire(import.meta.url);' },
  logLevel: "warning",
});
