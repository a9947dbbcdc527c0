/**
 * What the command line skips to answer in half a second (issue 19, item 5; docs/benchmarks.md,
 * "Half-second CLI"): `reach --version` is answered before yargs loads (this module is main.ts's
 * first import, so nothing after it runs), and a command that runs does not have yargs lay out
 * its whole help text first.
 */
import { createRequire } from "node:module";
import type { Argv } from "yargs";

/** The version package.json gives, the one yargs' --version prints. */
export const VERSION: string = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

/**
 * A reader that stops reading (`reach show big.yaml | head`) closes the pipe: the next write fails
 * with EPIPE, which Node raises as an uncaught error with a stack trace. The output is then
 * nobody's, so it is dropped and the command ends as it would have (its exit code is the answer's).
 */
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
  });

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}

/**
 * yargs renders the running command's help (every option wrapped to the terminal's width, about
 * 0.1 s of CPU: string-width's emoji pattern, cliui) each time a command runs, so that a later
 * showHelp() would have it. reach never shows help after a command started (usage errors print
 * their own line and point to --help), so the rendering is skipped; --help itself is untouched.
 */
export function withoutHelpCache<T>(y: Argv<T>): Argv<T> {
  const usage = (y as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } })
    .getInternalMethods()
    .getUsageInstance();
  usage.cacheHelpMessage = () => undefined;
  return y;
}
