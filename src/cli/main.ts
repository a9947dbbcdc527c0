#!/usr/bin/env node
/**
 * The `reach` command line: thin. Parse arguments, call the library, render, exit.
 * Exit codes: 0 answered / all hold, 1 an expectation violated, 2 bad input or
 * usage, 3 unknown, 4 internal error.
 */
import { VERSION, withoutHelpCache } from "./quick.js";
import type { Argv } from "yargs";
import { prepareSolver } from "../smt/solver.js";
import { renderDiagnostic, InputError, diagnostic } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import { MACHINE_NAME, parseQuery, type Query } from "../ir/query.js";
import type { Loaded } from "../topology/load.js";
import { expandInputs, type IncludeOptions } from "../topology/include.js";
import type { EngineName, EngineOptions } from "../query/engine.js";
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { FileResults, Format } from "../verify/report.js";
import { KINDS, type Kind } from "../import/kinds.js";
import type { ImportOutcome } from "../import/run.js";
import type { FixResult } from "../fix/fix.js";
import { SNAPSHOT_COMMANDS, takeSnapshot } from "../import/snapshot.js";
import { SOURCES, type SourceName } from "../doctor/names.js";
import type { DoctorOptions } from "../doctor/cli.js";
import { parseCidr } from "../net/addr.js";
import { DRAW_FORMATS, type DrawFormat } from "../draw/formats.js";
import type { ReportFile } from "../report/html.js";
import { MAX_SHARDS, parseShard, type Shard } from "../verify/shard.js";

/** Commands that always solve (unless --engine sim). */
const SOLVING = new Set(["ask", "verify", "check", "exposure", "matrix", "diff", "report", "fix", "prove", "doctor", "drift"]);

/**
 * Z3 takes longest to get ready, and compiles its WASM on another core: for a command that will
 * solve, it starts before anything else is imported (yargs included), from a first look at the
 * arguments. Only a head start: each such command calls prepareSolver() again (a no-op then).
 */
function solverAhead(args: readonly string[]): void {
  const help = args.some((a) => a === "--help" || a === "-h" || a === "--version");
  const sim = args.some((a, i) => a === "--engine=sim" || (a === "--engine" && args[i + 1] === "sim"));
  if (SOLVING.has(args[0] ?? "") && !help && !sim) prepareSolver();
}
solverAhead(process.argv.slice(2));

// Each command imports the modules it needs when it runs (import(...) in its handler), so that
// --help, --version and a one-query `ask` do not load the parser, the engines, the importers, the
// emulator and the renderers of every other command (docs/benchmarks.md, "Half-second CLI").

/** The caveat line of an answer over an incomplete topology (none for a complete one). */
const withCaveat = async (net: Network): Promise<string[]> => {
  const { assumptionLines, incompleteLine } = await import("../query/render.js");
  const l = incompleteLine(net);
  return [...assumptionLines(net), ...(l ? [l] : [])];
};

/** A JSON output with the topology's incomplete parts added. */
const withIncomplete = (json: string, net: Network): string =>
  net.incomplete?.length ? JSON.stringify({ ...(JSON.parse(json) as object), incomplete: net.incomplete }, null, 2) : json;

/** The time an unreachable `reach ask` gives its inline repair search. */
const INLINE_FIX_SECONDS = 5;

export const EXIT = { ok: 0, violated: 1, input: 2, unknown: 3, internal: 4 } as const;

/**
 * Writes what went wrong to stderr and returns the exit code it means. The engines' and the
 * prover's error classes are imported only when something that is not bad input went wrong.
 */
async function report(e: unknown): Promise<number> {
  if (e instanceof InputError || !(e instanceof Error)) return reportInput(e);
  const [{ Disagreement }, { ProofDisagreement }] = await Promise.all([import("../query/engine.js"), import("../prove/prove.js")]);
  if (e instanceof Disagreement) {
    process.stderr.write(`reach: internal error (a bug, please report it): the engines disagree on ${e.query.text}\n`);
    for (const v of e.views) process.stderr.write(`  ${v.engine}: ${v.verdict}${v.detail ? ` (${v.detail})` : ""}\n`);
    return EXIT.internal;
  }
  if (e instanceof ProofDisagreement) {
    process.stderr.write(`reach: internal error (a bug, please report it): ${e.message}\n`);
    return EXIT.internal;
  }
  return reportInput(e);
}

/** Writes bad input's diagnostics (exit 2), or anything else as an internal error (exit 4). */
function reportInput(e: unknown): number {
  if (e instanceof InputError) {
    for (const d of e.diagnostics) process.stderr.write(renderDiagnostic(d, e.sources.get(d.span.file)) + "\n");
    const n = e.diagnostics.filter((d) => d.severity === "error").length;
    process.stderr.write(`${n} error${n === 1 ? "" : "s"}\n`);
    return EXIT.input;
  }
  process.stderr.write(`reach: internal error (a bug, please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.internal;
}

/** Exits once everything written to stdout and stderr has reached them (a pipe takes large outputs in pieces). */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write("", () => resolve()))));
  process.exit(code);
}

/** The include root a command was given (--root), in the loader's terms. */
function rootOf(argv: { root?: string | undefined }): IncludeOptions {
  return argv.root !== undefined ? { root: argv.root } : {};
}

async function load(file: string, argv: { root?: string | undefined }) {
  const [{ loadTopologyFile }, { lower }] = await Promise.all([import("../topology/load.js"), import("../lower/lower.js")]);
  const loaded = loadTopologyFile(file, rootOf(argv));
  for (const w of loaded.warnings) process.stderr.write(renderDiagnostic(w, loaded.source) + "\n");
  return { loaded, net: lower(loaded.topology) };
}

const engineOption = { choices: ["smt", "sim", "both"] as const, default: "smt" as const, describe: "which engine decides (see ask)" };
const timeoutOption = { type: "number" as const, default: 30, describe: "seconds per question before it is unknown" };

const shardOption = {
  type: "string" as const,
  describe: "I/N: check only shard I of N (the same split on every runner); reach merge joins the shards' json, junit or sarif outputs",
};

/** --shard I/N (RCH042 otherwise). */
const findingsOption = {
  type: "string",
  describe:
    "also decide the named findings of docs/doctor.md on each topology (from the machine lan): warnings, or with --findings=error violations (exit 1)",
} as const;

/** --findings (bare: warnings), --findings=warn or --findings=error; not with --shard (findings are per file, not per expectation). */
function findingsLevel(value: string | undefined, shard: string | undefined): "warning" | "error" | undefined {
  if (value === undefined) return undefined;
  if (shard !== undefined) throw usage("--findings", "cannot be combined with --shard", "--findings on the unsharded run");
  if (value === "" || value === "warn" || value === "warning") return "warning";
  if (value === "error") return "error";
  throw usage("--findings", `'${value}' is not a level`, "--findings, --findings=warn or --findings=error");
}

function shardOf(text: string | undefined): Shard | undefined {
  if (text === undefined) return undefined;
  const s = parseShard(text);
  if (!s) throw usage("--shard", `'${text}' is not a shard I/N`, `I/N with 1 <= I <= N <= ${MAX_SHARDS}, e.g. --shard 2/4`);
  return s;
}

/** A shard's JSON output with its manifest (for reach merge). */
async function sharded(json: string, units: import("./sharding.js").Units | undefined): Promise<string> {
  return units ? (await import("./sharding.js")).withManifest(json, "json", units) : json;
}

/** --timeout: seconds above 0 (RCH042 otherwise). */
function checkTimeout(seconds: number): void {
  if (!(seconds > 0))
    throw usage("--timeout", `'${seconds}' is not a positive number of seconds`, "a number of seconds above 0, e.g. --timeout 10");
}

function engineOf(argv: { engine: string; timeout: number }): EngineOptions {
  checkTimeout(argv.timeout);
  return { engine: argv.engine as EngineName, timeoutMs: argv.timeout * 1000 };
}

async function checkMachine(net: Network, name: string, option: string): Promise<void> {
  if (net.machines.some((m) => m.name === name && m.kind !== "nat-engine")) return;
  const { userMachines } = await import("../verify/flows.js");
  throw usage(option, `'${name}' is not a machine of this topology`, `one of ${userMachines(net).join(", ")}`);
}

/** A progress bar on stderr when it is a terminal (never in CI logs or pipes). */
async function progressBar(): Promise<{ update: (done: number, total: number) => void; stop: () => void } | undefined> {
  if (!process.stderr.isTTY || process.env.CI) return undefined;
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: "{bar} {value}/{total} flows", hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => started && bar.stop(),
  };
}

/**
 * A command's body: bad input becomes diagnostics (exit 2), our bugs exit 4, and
 * the process ends when the body is done (Z3's worker threads would keep Node
 * alive; stdout and stderr are synchronous on Linux, so nothing is lost).
 */
function handler<A>(body: (argv: A) => Promise<void>): (argv: A) => Promise<void> {
  return async (argv) => {
    try {
      await body(argv);
    } catch (e) {
      process.exitCode = await report(e);
    }
    await exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  };
}

function usage(option: string, message: string, expected: string): InputError {
  return new InputError([diagnostic("RCH042", { file: "<arguments>", line: 1, col: 1 }, `${option}: ${message}`, { expected })], new Map());
}

/** A query from the command line, checked against the topology: RCH040 (syntax) and RCH041 (unknown machine) point into the query text. */
function queryArg(text: string, loaded: Loaded, file: string): Query {
  const q = parseQuery(text);
  if (!q.ok)
    throw new InputError(
      [diagnostic("RCH040", { file: "<query>", line: 1, col: q.offset + 1 }, q.message, { expected: q.expected })],
      new Map([["<query>", text]]),
    );
  const arrow = text.indexOf("->");
  const names = [
    { n: q.query.from, col: text.indexOf(q.query.from) + 1 },
    ...(q.query.target.kind === "machine" ? [{ n: q.query.target.machine, col: text.indexOf(q.query.target.machine, arrow + 2) + 1 }] : []),
  ];
  const unknown = names.filter(({ n }) => !Object.hasOwn(loaded.topology.doc.machines, n));
  if (unknown.length) {
    throw new InputError(
      unknown.map(({ n, col }) =>
        diagnostic("RCH041", { file: "<query>", line: 1, col }, `query names machine '${n}', which is not in ${file}`, {
          expected: `one of ${Object.keys(loaded.topology.doc.machines).join(", ")}`,
        }),
      ),
      new Map([["<query>", text]]),
    );
  }
  return q.query;
}

/** An output file must not be one of the inputs: writing it would destroy what the user had. */
function checkOutputPath(out: string, input: string, option: string): void {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  if (real(out) === real(input))
    throw usage(option, `'${out}' is the topology file itself; it would be overwritten`, "a new file name, e.g. query.smt2");
  checkFolder(out, option);
}

/** An output path's folder must exist (RCH042). */
function checkFolder(out: string, option: string): void {
  if (!existsSync(dirname(resolve(out)))) throw usage(option, `the folder of '${out}' does not exist`, "a path in an existing folder");
}

/**
 * Writes through a temporary file and a rename, so a failure never leaves half a file (nor the
 * temporary one); a file system's refusal is the user's diagnostic (RCH057), not a crash.
 */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    const why = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new InputError([
      diagnostic("RCH057", { file: path, line: 1, col: 1 }, `cannot write ${path} (${why}); nothing was changed`, {
        expected: "a writable file path in an existing folder",
      }),
    ]);
  }
}

/** A free backup name beside `path`: FILE.bak, FILE.bak.1, ... */
function backupName(path: string): string {
  for (let i = 0; ; i++) {
    const b = i ? `${path}.bak.${i}` : `${path}.bak`;
    if (!existsSync(b)) return b;
  }
}

/**
 * Where an import goes: stdout, or a new file. An existing file is replaced only
 * with --force, and then a backup of it is kept first (RCH054 otherwise).
 */
function checkImportOutput(out: string | undefined, force: boolean): void {
  if (out === undefined) return;
  checkFolder(out, "--output");
  if (existsSync(out) && !force)
    throw new InputError([
      diagnostic("RCH054", { file: out, line: 1, col: 1 }, `${out} already exists; not overwritten`, {
        expected: "a new file name, or --force (which keeps a backup of the old file first)",
      }),
    ]);
}

/** Writes an output file checked by checkImportOutput: an existing one is kept as FILE.bak first. */
function writeWithBackup(out: string, text: string): void {
  if (existsSync(out)) {
    if (statSync(out).isDirectory())
      throw new InputError([diagnostic("RCH057", { file: out, line: 1, col: 1 }, `${out} is a folder`, { expected: "a file path" })]);
    const bak = backupName(out);
    copyFileSync(out, bak);
    process.stderr.write(`kept the old ${out} as ${bak}\n`);
  }
  writeAtomically(out, text);
  process.stderr.write(`wrote ${out}\n`);
}

/** Prints an import's diagnostics, writes its topology, and sets the exit code: 0 clean, 1 written with omissions, 2 nothing written. */
function finishImport(r: ImportOutcome, out: string | undefined, force: boolean): void {
  for (const d of r.diagnostics) process.stderr.write(renderDiagnostic(d, r.sources.get(d.span.file)) + "\n");
  if (r.text === undefined) {
    const n = r.diagnostics.filter((d) => d.severity === "error").length;
    process.stderr.write(`${n} error${n === 1 ? "" : "s"}; nothing written\n`);
    process.exitCode = EXIT.input;
    return;
  }
  if (out === undefined) process.stdout.write(r.text);
  else writeWithBackup(out, r.text);
  const left = r.diagnostics.filter((d) => d.severity === "warning").length;
  if (left)
    process.stderr.write(
      `${left} warning${left === 1 ? "" : "s"}: the topology is written without what they name (listed at its top too)\n`,
    );
  process.exitCode = left ? EXIT.violated : EXIT.ok;
}

/** --host: the name queries will use for the machine (RCH042 otherwise). */
function checkHost(host: string): void {
  if (!MACHINE_NAME.test(host))
    throw usage("--host", `'${host}' is not a name a query can use`, "letters, digits, '_', '.', '-' (e.g. --host laptop)");
}

/** The live machine's options, shared by doctor and drift. */
function liveOptions<T>(y: Argv<T>) {
  return y
    .option("netns", { type: "string", describe: "read this network namespace instead (ip netns exec; root)" })
    .option("host", { type: "string", default: "host", describe: "the machine's name in the topology" })
    .option("lan", { type: "string", default: "192.168.1.0/24", describe: "the LAN assumed when no source describes the host" })
    .option("sources", { type: "string", array: true, choices: SOURCES, describe: "read only these sources (default: all)" })
    .option("command-timeout", { type: "number", default: 5, describe: "seconds per command before it is killed" })
    .option("replay", {
      type: "string",
      describe: "run nothing: read each command's recorded output from this folder (another machine's, e.g. from reach snapshot --save)",
    })
    .option("engine", engineOption)
    .option("timeout", timeoutOption);
}

/** The doctor's options of a parsed command line (RCH042 for a bad one). */
function doctorOptionsOf(argv: {
  host: string;
  lan: string;
  netns?: string | undefined;
  sources?: string[] | undefined;
  replay?: string | undefined;
  "command-timeout": number;
  engine: string;
  timeout: number;
}): DoctorOptions {
  checkHost(argv.host);
  checkLan(argv.lan);
  const seconds = argv["command-timeout"];
  if (!(seconds > 0)) throw usage("--command-timeout", `'${seconds}' is not a positive number of seconds`, "e.g. --command-timeout 5");
  return {
    host: argv.host,
    lan: argv.lan,
    ...(argv.netns !== undefined ? { netns: argv.netns } : {}),
    ...(argv.sources !== undefined ? { sources: argv.sources as SourceName[] } : {}),
    ...(argv.replay !== undefined ? { replay: replayFolder(argv.replay) } : {}),
    commandTimeoutMs: seconds * 1000,
    engine: engineOf(argv),
  };
}

/** --replay: a folder of recorded outputs (RCH042 otherwise). */
function replayFolder(dir: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw usage("--replay", `'${dir}' is not a folder`, "a folder of recorded outputs named after their commands (e.g. ip_-j_addr)");
  return dir;
}

function checkLan(lan: string): void {
  const c = parseCidr(lan);
  if (!c || c.ip.v !== 4 || c.len > 24 || c.len < 8)
    throw usage("--lan", `'${lan}' is not an IPv4 subnet from /8 to /24`, "e.g. --lan 192.168.0.0/24");
}

/** Options that take one value: given twice, yargs makes a list of them, which no handler expects (RCH042 instead). */
const SINGLE_VALUED = [
  "output",
  "smt2",
  "save",
  "counterexamples",
  "timeout",
  "engine",
  "format",
  "from",
  "host",
  "lan",
  "into",
  "netns",
  "root",
  "want",
  "max-edits",
  "alternatives",
  "workers",
  "command-timeout",
  "probe-timeout",
  "query",
  "diff",
  "replay",
  "shard",
];

function refuseRepeated(argv: Record<string, unknown>): void {
  for (const k of SINGLE_VALUED)
    if (Array.isArray(argv[k])) throw usage(`--${k}`, `given ${(argv[k] as unknown[]).length} times`, `--${k} once`);
}

const [{ default: yargs }, { hideBin }] = await Promise.all([import("yargs"), import("yargs/helpers")]);

await withoutHelpCache(yargs(hideBin(process.argv)))
  .scriptName("reach")
  // reach speaks English only; yargs would otherwise translate its own words by LANG (German
  // "Optionen:" among reach's English lines), and in the bundle it cannot find its translations
  .locale("en")
  .option("root", {
    type: "string",
    global: true,
    describe: "the folder a spec file's include: may resolve inside (default: the spec file's own folder)",
  })
  .usage("$0 <command>\n\nExact reachability for VM labs, home LANs and servers.")
  .command(
    "ask <file> <query>",
    "Can A reach B? Answers with the address to dial and the path hop by hop, or why not.",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "topology file (YAML or JSON)" })
        .positional("query", {
          type: "string",
          demandOption: true,
          describe: '"A -> B:PORT/tcp", "A -> 10.0.2.15:22/udp", "A -> localhost:8000/tcp", "A -> B/icmp"',
        })
        .option("json", { type: "boolean", default: false, describe: "print the answer as JSON" })
        .option("engine", {
          choices: ["smt", "sim", "both"] as const,
          default: "smt" as const,
          describe: "smt: Z3 decides, the simulator explains; sim: the simulator over every packet class; both: both, and they must agree",
        })
        .option("timeout", { type: "number", default: 30, describe: "seconds before the answer is unknown (exit 3)" })
        .option("smt2", { type: "string", describe: "write the Z3 query as SMT-LIB 2 to this file (check it with any solver)" })
        .option("fix", {
          type: "boolean",
          default: true,
          describe: `an unreachable answer ends with the smallest repair reach fix finds within ${INLINE_FIX_SECONDS} s (--no-fix: skip it)`,
        })
        .example('$0 ask models/virtualbox-nat.yaml "host -> guest:22/tcp"', "can the host ssh into the NAT guest?")
        .example(
          '$0 ask models/ipv6-loopback-dualstack.yaml "server -> localhost:8001/tcp" --json',
          "answers for each address localhost resolves to",
        ),
    handler(async (argv) => {
      // Z3 compiles and starts its timer thread while the file is read, checked and lowered
      if (argv.engine !== "sim") prepareSolver();
      const engineP = import("../query/engine.js");
      const { net, loaded } = await load(argv.file, argv);
      if (argv.smt2 !== undefined) checkOutputPath(argv.smt2, argv.file, "--smt2");
      checkTimeout(argv.timeout);
      const q = queryArg(argv.query, loaded, argv.file);
      const opts: EngineOptions = {
        engine: argv.engine as EngineName,
        timeoutMs: argv.timeout * 1000,
        ...(argv.smt2 !== undefined ? { smt2: true } : {}),
      };
      const { answerQuery } = await engineP;
      const { answer: ans, report, smt2 } = await answerQuery(net, q, opts);
      const [{ answerJson, assumptionLines, renderAnswer }, { fix }, { inlineFix, inlineFixJson }] = await Promise.all([
        import("../query/render.js"),
        import("../fix/fix.js"),
        import("../fix/report.js"),
      ]);
      if (argv.smt2 !== undefined)
        writeAtomically(argv.smt2, smt2.map((x) => `; reach ask ${argv.file} "${x.query}"\n${x.text}`).join("(reset)\n"));
      // the repair, inline: bounded, and only for a topology file (a spec's topology is another file)
      const search = argv.fix && ans.verdict === "unreachable" && !loaded.spec;
      const findRepair = async (): Promise<FixResult | string | undefined> => {
        if (!search) return undefined;
        try {
          return await fix(loaded, q, "reachable", {
            maxEdits: 2,
            count: 1,
            timeoutMs: INLINE_FIX_SECONDS * 1000,
            answered: { net, before: { answer: ans, report, smt2 } },
          });
        } catch (e) {
          // a file reach fix will not edit (YAML aliases) still has its answer: the fix says why it was not tried
          if (e instanceof InputError) return e.diagnostics.map((d) => d.message).join("; ");
          throw e;
        }
      };
      if (argv.json) {
        const repair = await findRepair();
        const fixJson =
          repair === undefined ? {} : { fix: typeof repair === "string" ? { status: "not tried", reason: repair } : inlineFixJson(repair) };
        process.stdout.write(
          JSON.stringify(
            {
              ...(answerJson(ans, net.machines, report) as object),
              ...fixJson,
              ...(net.incomplete ? { incomplete: net.incomplete } : {}),
              ...(assumptionLines(net).length ? { assumes: assumptionLines(net) } : {}),
            },
            null,
            2,
          ) + "\n",
        );
      } else {
        // the answer first: the repair search that follows may take its whole budget on a large file
        process.stdout.write(renderAnswer(ans, net.machines, report) + "\n");
        const repair = await findRepair();
        const fixLines =
          repair === undefined
            ? []
            : typeof repair === "string"
              ? [`  fix: not tried: ${repair}`]
              : inlineFix(repair, argv.file, INLINE_FIX_SECONDS);
        const rest = [...fixLines, ...(await withCaveat(net))];
        if (rest.length) process.stdout.write(rest.join("\n") + "\n");
      }
      process.exitCode = ans.verdict === "unknown" ? EXIT.unknown : EXIT.ok;
    }),
  )
  .command(
    "show <file>",
    "Print the network IR the topology lowers to (VirtualBox modes and routers expanded).",
    (y) => y.positional("file", { type: "string", demandOption: true }),
    async (argv) => {
      // no solver here: the process ends by itself once the output is written
      try {
        const { showNetwork } = await import("../lower/show.js");
        process.stdout.write(showNetwork((await load(argv.file, argv)).net) + "\n");
      } catch (e) {
        process.exitCode = await report(e);
      }
    },
  )
  .command(
    ["verify <files..>", "check <files..>"],
    "Check the expect: list of topology files (folders: every topology in them). Exit 1 when one does not hold, with its counterexample.",
    (y) =>
      y
        .positional("files", { type: "string", array: true, demandOption: true, describe: "topology files or folders" })
        .option("format", {
          choices: ["text", "json", "github", "junit", "sarif", "html"] as const,
          default: "text" as const,
          describe:
            "text for people, json for tools, github for Actions annotations on the expectation's line, junit (XML) for CI test tabs, sarif (2.1.0) for code scanning, html: the page reach report writes",
        })
        .option("engine", { choices: ["smt", "sim", "both"] as const, default: "smt" as const, describe: "which engine decides (see ask)" })
        .option("findings", findingsOption)
        .option("timeout", { type: "number", default: 30, describe: "seconds per question before it is unknown" })
        .option("shard", shardOption)
        .option("watch", {
          type: "boolean",
          default: false,
          describe: "verify again on every save of the files and their includes, re-deciding only what the edit touched (Ctrl-C stops)",
        }),
    handler(async (argv) => {
      const lintLevel = findingsLevel(argv.findings, argv.shard);
      checkTimeout(argv.timeout);
      const shard = shardOf(argv.shard);
      const opts: EngineOptions = { engine: argv.engine as EngineName, timeoutMs: argv.timeout * 1000 };
      if (argv.engine !== "sim") prepareSolver();
      if (argv.watch) {
        if (argv.format !== "text" || shard) throw usage("--watch", "prints text for people", "--watch without --format or --shard");
        const { watchVerify } = await import("../verify/watch.js");
        const write = (s: NodeJS.WriteStream) => (text: string) => void s.write(text);
        return watchVerify(argv.files, { engine: opts, include: rootOf(argv), out: write(process.stdout), err: write(process.stderr) });
      }
      const files = argv.files.flatMap(expandInputs);
      const [{ verifyFiles, withManifest }, { renderGithub, renderJson, renderJunit, renderSarif, renderText, summary, useColour }] =
        await Promise.all([import("./sharding.js"), import("../verify/report.js")]);
      // load every file first: bad input is reported (exit 2) before anything is verified
      const loadedAll = await Promise.all(files.map(async (file) => ({ file, ...(await load(file, argv)) })));
      const { all, units } = await verifyFiles(loadedAll, opts, shard);
      if (lintLevel) {
        const { lintTopology } = await import("../doctor/lint.js");
        for (const [i, { loaded, net }] of loadedAll.entries())
          all[i] = { ...all[i]!, lint: await lintTopology(loaded, net, opts, lintLevel) };
      }
      if (argv.format === "html") {
        const [{ reportFile }, { reportHtml }] = await Promise.all([import("../report/build.js"), import("../report/html.js")]);
        const pages: ReportFile[] = [];
        for (const [i, { file, net, loaded }] of loadedAll.entries())
          pages.push({ ...(await reportFile(file, loaded, net, opts, all[i]!.results)), ...(all[i]!.lint ? { lint: all[i]!.lint } : {}) });
        process.stdout.write(reportHtml(pages));
        const s = summary(all);
        process.exitCode = s.violated ? EXIT.violated : s.unknown ? EXIT.unknown : EXIT.ok;
        return;
      }
      const format = argv.format as Format;
      const text =
        format === "json"
          ? renderJson(all)
          : format === "github"
            ? renderGithub(all)
            : format === "junit"
              ? renderJunit(all)
              : format === "sarif"
                ? renderSarif(all, VERSION)
                : renderText(all, useColour(process.stdout));
      process.stdout.write(withManifest(text, format, units) + "\n");
      const s = summary(all);
      const lintErrors = all.filter((f) => f.lint?.level === "error").reduce((n, f) => n + f.lint!.findings.length, 0);
      process.exitCode = s.violated || lintErrors ? EXIT.violated : s.unknown ? EXIT.unknown : EXIT.ok;
    }),
  )
  .command(
    "exposure <file>",
    "Every service a vantage machine can connect to, and what it dials: the attack surface seen from there.",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true })
        .option("from", {
          type: "string",
          demandOption: true,
          describe: "the vantage machine (e.g. lan-pc, or a machine standing for the internet)",
        })
        .option("format", { choices: ["text", "json", "csv"] as const, default: "text" as const })
        .option("engine", engineOption)
        .option("timeout", timeoutOption)
        .option("shard", shardOption),
    handler(async (argv) => {
      const shard = shardOf(argv.shard);
      const { net, loaded } = await load(argv.file, argv);
      await checkMachine(net, argv.from, "--from");
      const share = shard ? (await import("./sharding.js")).exposureShare({ file: argv.file, net, loaded }, argv.from, shard) : undefined;
      const [{ exposure }, { exposureCsv, exposureJson, exposureText }] = await Promise.all([
        import("../verify/flows.js"),
        import("../verify/flows-render.js"),
      ]);
      const opts = engineOf(argv);
      const bar = await progressBar();
      const flows = await exposure(net, argv.from, opts, bar?.update, share?.select);
      bar?.stop();
      const f = argv.format;
      process.stdout.write(
        (f === "json"
          ? await sharded(withIncomplete(exposureJson(argv.from, flows, net.machines), net), share?.units(flows.map((x) => x.service)))
          : f === "csv"
            ? exposureCsv(flows, net.machines)
            : [exposureText(argv.from, flows, net.machines), ...(await withCaveat(net))].join("\n")) + "\n",
      );
      if (f === "csv") for (const l of await withCaveat(net)) process.stderr.write(l + "\n");
      process.exitCode = flows.some((x) => x.answer.verdict === "unknown") ? EXIT.unknown : EXIT.ok;
    }),
  )
  .command(
    "matrix <file>",
    "Every machine against every service: can it connect? Uses every core on large topologies.",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true })
        .option("format", { choices: ["text", "json", "csv"] as const, default: "text" as const })
        .option("workers", { type: "number", describe: "worker threads (default: one per core)" })
        .option("engine", engineOption)
        .option("timeout", timeoutOption)
        .option("shard", shardOption),
    handler(async (argv) => {
      const shard = shardOf(argv.shard);
      const { net, loaded } = await load(argv.file, argv);
      const share = shard ? (await import("./sharding.js")).matrixShare({ file: argv.file, net, loaded }, shard) : undefined;
      if (argv.workers !== undefined && !(Number.isInteger(argv.workers) && argv.workers >= 1))
        throw usage("--workers", `'${argv.workers}' is not a number of threads`, "a whole number of at least 1");
      const bar = await progressBar();
      const [{ matrix }, { matrixCsv, matrixJson, matrixText }] = await Promise.all([
        import("../verify/matrix.js"),
        import("../verify/flows-render.js"),
      ]);
      const cells = await matrix(net, argv.file, {
        ...engineOf(argv),
        ...rootOf(argv),
        ...(argv.workers !== undefined ? { workers: argv.workers } : {}),
        ...(bar ? { progress: bar.update } : {}),
        ...(share ? { select: share.select } : {}),
      });
      bar?.stop();
      const f = argv.format;
      const text =
        f === "json"
          ? await sharded(withIncomplete(matrixJson(cells), net), share?.units)
          : f === "csv"
            ? matrixCsv(cells)
            : [matrixText(cells), ...(await withCaveat(net))].join("\n");
      process.stdout.write(text + "\n");
      if (f === "csv") for (const l of await withCaveat(net)) process.stderr.write(l + "\n");
      process.exitCode = cells.some((c) => c.verdict === "unknown") ? EXIT.unknown : EXIT.ok;
    }),
  )
  .command(
    "diff <old> <new>",
    "The flows whose reachability changed between two versions of a topology, each with both explanations (exit 1 when any changed).",
    (y) =>
      y
        .positional("old", { type: "string", demandOption: true })
        .positional("new", { type: "string", demandOption: true })
        .option("format", { choices: ["text", "json"] as const, default: "text" as const })
        .option("engine", engineOption)
        .option("timeout", timeoutOption),
    handler(async (argv) => {
      const before = await (await load(argv.old, argv)).net;
      const after = await (await load(argv.new, argv)).net;
      const [{ diffFlows }, { diffJson, diffText }] = await Promise.all([
        import("../verify/flows.js"),
        import("../verify/flows-render.js"),
      ]);
      const changes = await diffFlows(before, after, engineOf(argv));
      process.stdout.write(
        (argv.format === "json" ? diffJson(changes, before.machines, after.machines) : diffText(changes, before.machines, after.machines)) +
          "\n",
      );
      process.exitCode = changes.some((c) => c.what === "undecided") ? EXIT.unknown : changes.length ? EXIT.violated : EXIT.ok;
    }),
  )
  .command(
    "merge <files..>",
    "Merge the json, junit or sarif outputs of a run's shards (--shard I/N) into the output of the unsharded run, with its exit status.",
    (y) =>
      y
        .positional("files", { type: "string", array: true, demandOption: true, describe: "every shard's output file (any order)" })
        .option("output", { alias: "o", type: "string", describe: "write the merged output here (default: stdout)" })
        .example("$0 merge shard-*.json", "the four shards of `reach verify lab.yaml --format json --shard I/4`"),
    handler(async (argv) => {
      if (argv.output !== undefined) for (const f of argv.files) checkOutputPath(argv.output, f, "--output");
      const { mergeShards } = await import("../verify/merge.js");
      const inputs = argv.files.map((file) => {
        try {
          return { file, text: readFileSync(file, "utf8") };
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code ?? String(e);
          throw new InputError([
            diagnostic("RCH060", { file, line: 1, col: 1 }, `cannot read ${file} (${why})`, { expected: "a shard's output file" }),
          ]);
        }
      });
      const merged = mergeShards(inputs);
      if (argv.output === undefined) process.stdout.write(merged.text + "\n");
      else writeAtomically(argv.output, merged.text + "\n");
      process.exitCode = merged.exitCode;
    }),
  )
  .command(
    "draw <file>",
    "Draw the topology (machines as frames with their VMs and NAT engines, segments, forwards, services, firewalls), or with --query the path of one answer (where it is blocked, why, and the repair).",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "topology file (YAML or JSON)" })
        .option("query", { alias: "q", type: "string", describe: 'draw this query\'s path instead: "A -> B:PORT/tcp"' })
        .option("format", {
          choices: DRAW_FORMATS,
          default: "svg" as const,
          describe: "svg (Graphviz, built in), dot (lay it out yourself), mermaid (GitHub renders it), html (one self-contained page)",
        })
        .option("output", { alias: "o", type: "string", describe: "write the picture here (default: stdout)" })
        .option("engine", engineOption)
        .option("timeout", timeoutOption)
        .example("$0 draw models/virtualbox-nat.yaml -o lab.svg", "the topology as SVG")
        .example(
          '$0 draw models/nat-guest-loopback-bind.yaml --query "host -> guest:22/tcp" -o why.svg',
          "the blocked path, its cause and the repair",
        ),
    handler(async (argv) => {
      const { net, loaded } = await load(argv.file, argv);
      if (argv.output !== undefined) checkOutputPath(argv.output, argv.file, "--output");
      const format = argv.format as DrawFormat;
      const { drawQuery, drawTopology } = await import("../draw/draw.js");
      let text: string;
      if (argv.query !== undefined) {
        const q = queryArg(argv.query, loaded, argv.file);
        const r = await drawQuery(loaded, net, q, engineOf(argv), format);
        text = r.text;
        process.exitCode = r.answer.verdict === "unknown" ? EXIT.unknown : EXIT.ok;
      } else text = await drawTopology(loaded, net, format);
      if (argv.output === undefined) process.stdout.write(text);
      else writeAtomically(argv.output, text);
    }),
  )
  .command(
    "report <files..>",
    "One self-contained HTML page (no network): the topology picture, every expectation with its verdict, causes and path picture, the exposure of each machine; collapsible, with a search box.",
    (y) =>
      y
        .positional("files", { type: "string", array: true, demandOption: true, describe: "topology files or folders" })
        .option("output", { alias: "o", type: "string", demandOption: true, describe: "the HTML file to write, e.g. report.html" })
        .option("diff", {
          type: "string",
          describe: "an older version of the one topology file: draw what changed (added, removed, changed)",
        })
        .option("engine", engineOption)
        .option("timeout", timeoutOption)
        .option("findings", findingsOption)
        .example("$0 report models/ -o report.html", "every bundled model in one page")
        .example("$0 report lab.yaml --diff old-lab.yaml -o report.html", "the lab and what changed since old-lab.yaml"),
    handler(async (argv) => {
      const opts = engineOf(argv);
      const files = argv.files.flatMap(expandInputs);
      for (const f of files) checkOutputPath(argv.output, f, "--output");
      if (argv.diff !== undefined && files.length !== 1)
        throw usage(
          "--diff",
          `compares one topology file with an older version, but ${files.length} files were given`,
          "reach report NEW --diff OLD -o report.html",
        );
      const [{ reportFile }, { reportHtml }] = await Promise.all([import("../report/build.js"), import("../report/html.js")]);
      const old = argv.diff !== undefined ? { file: argv.diff, net: (await load(argv.diff, argv)).net } : undefined;
      const loadedAll = await Promise.all(files.map(async (file) => ({ file, ...(await load(file, argv)) })));
      const pages: ReportFile[] = [];
      const lintLevel = findingsLevel(argv.findings, undefined);
      const { lintTopology } = await import("../doctor/lint.js");
      for (const { file, net, loaded } of loadedAll) {
        const page = await reportFile(file, loaded, net, opts, undefined, old);
        pages.push(lintLevel ? { ...page, lint: await lintTopology(loaded, net, opts, lintLevel) } : page);
      }
      writeAtomically(argv.output, reportHtml(pages));
      const n = pages.reduce((k, p) => k + p.expectations.filter((e) => e.result.status === "violated").length, 0);
      const u = pages.reduce((k, p) => k + p.expectations.filter((e) => e.result.status === "unknown").length, 0);
      process.stderr.write(`wrote ${argv.output} (${files.length} file${files.length === 1 ? "" : "s"}, ${n} violated, ${u} unknown)\n`);
      process.exitCode = n ? EXIT.violated : u ? EXIT.unknown : EXIT.ok;
    }),
  )
  .command(
    "emulate <file>",
    "Build the topology for real in Linux network namespaces (root), probe each query with real connects, and print the kernel's verdict beside reach's.",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "topology file (YAML or JSON)" })
        .option("probe", {
          type: "string",
          array: true,
          describe: "a query to probe (repeatable); default: every query in the file's expect: list",
        })
        .option("keep", {
          type: "boolean",
          default: false,
          describe: "leave the namespaces up afterwards (ip netns list; remove with ip netns del)",
        })
        .option("json", { type: "boolean", default: false, describe: "print the report as JSON" })
        .option("probe-timeout", {
          type: "number",
          default: 300,
          describe: "milliseconds a probe waits for an answer (a dial the simulator says works is retried with 3000)",
        })
        .option("timeout", { type: "number", default: 30, describe: "seconds Z3 may take per query" })
        .example(
          '$0 emulate models/virtualbox-nat.yaml --probe "host -> guest:22/tcp"',
          "the kernel's verdict beside reach's, then everything is torn down",
        ),
    handler(async (argv) => {
      const { net, loaded } = await load(argv.file, argv);
      checkTimeout(argv.timeout);
      const [
        { expectationQueries },
        { emulationSupport, EmulateError },
        { emulate, emulationAgrees, emulationJson, renderEmulation },
        { unsupported },
      ] = await Promise.all([
        import("../query/expect.js"),
        import("../emulate/build.js"),
        import("../emulate/emulate.js"),
        import("../emulate/plan.js"),
      ]);
      const pt = argv["probe-timeout"];
      if (!(Number.isFinite(pt) && pt >= 10 && pt <= 60_000))
        throw usage("--probe-timeout", `'${pt}' is not a number of milliseconds from 10 to 60000`, "e.g. --probe-timeout 500");
      const queries = argv.probe?.length
        ? argv.probe.map((t) => queryArg(t, loaded, argv.file))
        : expectationQueries(loaded.spec ?? loaded.topology);
      if (!queries.length) throw usage("--probe", `${argv.file} has no query in its expect: list`, 'one or more --probe "A -> B:PORT/tcp"');
      const cannot = (why: string) =>
        new InputError(
          [
            diagnostic("RCH043", { file: argv.file, line: 1, col: 1 }, why, {
              expected:
                "root on Linux with iproute2, nftables, slirp4netns, iputils-ping and procps installed, and a topology the emulator can build",
            }),
          ],
          new Map(),
        );
      const support = emulationSupport();
      if (!support.ok) throw cannot(`cannot emulate here: ${support.why}`);
      const refused = unsupported(net);
      if (refused.length)
        throw cannot(
          `cannot emulate ${argv.file} faithfully: ${refused.map((u) => (u.machine ? `${u.machine}: ${u.what}` : u.what)).join("; ")}`,
        );
      // Ctrl-C and kill end the process through exit(), whose hook tears down what is up
      for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(sig, () => process.exit(130));
      let r;
      try {
        r = await emulate(net, queries, { keep: argv.keep, timeoutMs: pt, solverTimeoutMs: argv.timeout * 1000 });
      } catch (e) {
        if (e instanceof EmulateError) throw cannot(`the kernel refused to build ${argv.file}: ${e.message}`);
        throw e;
      }
      process.stdout.write((argv.json ? JSON.stringify(emulationJson(r), null, 2) : renderEmulation(r, net)) + "\n");
      process.exitCode = emulationAgrees(r) ? EXIT.ok : EXIT.internal;
    }),
  )
  .command(
    "import <kind> <files..>",
    "Read what your tools already wrote (VirtualBox, Vagrant, QEMU, libvirt, Docker, a Linux host's ip/ss/iptables output) into one topology file.",
    (y) =>
      y
        .positional("kind", { choices: KINDS, demandOption: true, describe: "what the files are" })
        .positional("files", {
          type: "string",
          array: true,
          demandOption: true,
          describe: "input files; KIND:FILE imports one file as another kind",
        })
        .option("output", {
          alias: "o",
          type: "string",
          describe: "write the topology here (default: stdout); never over an existing file without --force",
        })
        .option("force", { type: "boolean", default: false, describe: "replace an existing --output file, keeping a backup (FILE.bak)" })
        .option("into", { type: "string", describe: "your own topology file to merge the imports into (it is not modified)" })
        .option("host", { type: "string", default: "host", describe: "name of the machine running the VMs or containers" })
        .option("lan", { type: "string", default: "192.168.1.0/24", describe: "the LAN the host is assumed on when no input says" })
        .option("env-file", {
          type: "string",
          array: true,
          describe: "Compose: an env file whose variables ${VAR} take (repeatable, later ones win; reach reads no .env on its own)",
        })
        .option("profile", {
          type: "string",
          array: true,
          describe: "Compose: import only the services without profiles and those of these profiles (default: every service)",
        })
        .option("docker-version", {
          type: "number",
          choices: [27, 28],
          default: 28,
          describe: "Docker: the Docker Engine whose rules the host runs (28 drops packets routed straight to containers; 27 does not)",
        })
        .option("userland-proxy", {
          type: "boolean",
          default: true,
          describe:
            'Docker: docker-proxy relays published ports (daemon.json "userland-proxy", on by default; --no-userland-proxy when it says false)',
        })
        .example("$0 import vagrant Vagrantfile -o lab.yaml", "the Vagrant machines, their forwards and private networks")
        .example(
          "$0 import virtualbox web.vminfo hostonlyifs.txt -o lab.yaml",
          "VBoxManage showvminfo --machinereadable output plus list hostonlyifs",
        )
        .epilogue(
          "Exit codes: 0 imported, 1 imported but something was left out (warnings, also listed at the top of the file), 2 nothing written.",
        ),
    handler(async (argv) => {
      checkImportOutput(argv.output, argv.force);
      checkLan(argv.lan);
      if (argv.output && argv.into && resolve(argv.output) === resolve(argv.into))
        throw usage("--output", `'${argv.output}' is the --into file, which import never modifies`, "another file name");
      for (const f of argv.files)
        if (argv.output && resolve(argv.output) === resolve(f))
          throw usage("--output", `'${argv.output}' is one of the inputs`, "another file name");
      checkHost(argv.host);
      const { runImport } = await import("../import/run.js");
      const r = await runImport({
        kind: argv.kind as Kind,
        files: argv.files,
        options: {
          host: argv.host,
          lan: argv.lan,
          ...(argv["env-file"] ? { envFiles: argv["env-file"] } : {}),
          ...(argv.profile ? { profiles: argv.profile } : {}),
          userlandProxy: argv["userland-proxy"],
          dockerVersion: argv["docker-version"] === 27 ? 27 : 28,
        },
        ...(argv.into ? { into: argv.into } : {}),
      });
      finishImport(r, argv.output, argv.force);
    }),
  )
  .command(
    "doctor",
    "Read this machine's VMs, containers and firewall (read-only) into one topology and report named findings (docs/doctor.md).",
    (y) =>
      liveOptions(y)
        .option("output", { alias: "o", type: "string", describe: "also write the merged topology here" })
        .option("force", { type: "boolean", default: false, describe: "replace an existing --output file, keeping a backup" })
        .option("json", { type: "boolean", default: false, describe: "print the findings as JSON" })
        .example("sudo $0 doctor -o lab.yaml", "what this machine exposes, and why"),
    handler(async (argv) => {
      checkImportOutput(argv.output, argv.force);
      const { runDoctor } = await import("../doctor/cli.js");
      const r = await runDoctor(doctorOptionsOf(argv));
      if (argv.output !== undefined) writeWithBackup(argv.output, r.topologyYaml);
      process.stdout.write(argv.json ? JSON.stringify(r.json, null, 2) + "\n" : r.text);
      process.exitCode = r.exitCode;
    }),
  )
  .command(
    "drift <file>",
    "The declared topology against this machine as reach doctor reads it: what differs, both sides; exit 1 when the machine exposes what the file does not say.",
    (y) =>
      liveOptions(y)
        .positional("file", { type: "string", demandOption: true })
        .option("from", { type: "string", default: "lan", describe: "the LAN vantage machine both topologies have" })
        .option("json", { type: "boolean", default: false, describe: "print the differences as JSON" })
        .example("sudo $0 drift lab.yaml", "what this machine exposes that lab.yaml does not say"),
    handler(async (argv) => {
      const { loaded, net } = await load(argv.file, argv);
      const { runDrift } = await import("../doctor/cli.js");
      const r = await runDrift(loaded, net, { ...doctorOptionsOf(argv), from: argv.from });
      process.stdout.write(argv.json ? JSON.stringify(r.json, null, 2) + "\n" : r.text);
      process.exitCode = r.exitCode;
    }),
  )
  .command(
    "snapshot",
    `Read this Linux machine (read-only: ${SNAPSHOT_COMMANDS.map((c) => c.name).join(", ")}) into one machine of a topology.`,
    (y) =>
      y
        .option("output", { alias: "o", type: "string", describe: "write the topology here (default: stdout)" })
        .option("force", { type: "boolean", default: false, describe: "replace an existing --output file, keeping a backup" })
        .option("host", { type: "string", default: "host", describe: "the machine's name in the topology" })
        .option("netns", { type: "string", describe: "read this network namespace instead (ip netns exec; root)" })
        .option("save", {
          type: "string",
          describe: "also save each command's raw output in this new folder (to re-import with `reach import linux` or attach to a report)",
        })
        .example("sudo $0 snapshot -o me.yaml", "this machine's addresses, routes, listeners and firewall"),
    handler(async (argv) => {
      checkImportOutput(argv.output, argv.force);
      if (argv.save !== undefined && existsSync(argv.save)) throw usage("--save", `'${argv.save}' already exists`, "a new folder name");
      checkHost(argv.host);
      const snap = takeSnapshot(argv.netns);
      if (argv.save !== undefined && !snap.diagnostics.some((d) => d.severity === "error")) {
        mkdirSync(argv.save, { recursive: true });
        for (const s of snap.sources) writeFileSync(join(argv.save, `${s.file.replace(/[^A-Za-z0-9.-]+/g, "_")}.txt`), s.text);
      }
      if (snap.diagnostics.some((d) => d.severity === "error")) {
        finishImport({ notes: [], diagnostics: snap.diagnostics, sources: new Map() }, undefined, false);
        return;
      }
      const command = `reach snapshot${argv.netns ? ` --netns ${argv.netns}` : ""}`;
      const { runImport } = await import("../import/run.js");
      const r = await runImport({
        kind: "linux",
        files: [],
        sources: snap.sources,
        options: { host: argv.host, lan: "192.168.1.0/24" },
        command,
        notes: snap.notes,
        diagnostics: snap.diagnostics,
      });
      finishImport(r, argv.output, argv.force);
    }),
  )
  .command(
    "prove <paths..>",
    "Check theorems over families of topologies (proofs/*.yaml) with Z3 for all parameter values at once and with the simulator by enumeration.",
    (y) =>
      y
        .positional("paths", { type: "string", array: true, demandOption: true, describe: "proof files, or folders of them" })
        .option("counterexamples", {
          type: "string",
          default: "counterexamples",
          describe: "folder for the concrete topology of each refutation (created; files in it are never overwritten)",
        })
        .option("timeout", timeoutOption)
        .example("$0 prove proofs/", "every claim of the seeds, machine-checked"),
    handler(async (argv) => {
      checkTimeout(argv.timeout);
      const files = argv.paths.flatMap(expandInputs);
      const cx = argv.counterexamples;
      if (existsSync(cx) && !statSync(cx).isDirectory())
        throw usage("--counterexamples", `'${cx}' is a file, not a folder`, "a folder (created when a theorem is refuted)");
      const [{ loadFamilyFile }, { asRecorded, proveFamily }, { renderFamily }, { recordCounterexamples }] = await Promise.all([
        import("../prove/family.js"),
        import("../prove/prove.js"),
        import("../prove/report.js"),
        import("../prove/counterexamples.js"),
      ]);
      const families = files.map((f) => loadFamilyFile(f));
      let code: number = EXIT.ok;
      for (const fam of families) {
        const r = await proveFamily(fam, { timeoutMs: argv.timeout * 1000 });
        const written = await recordCounterexamples(fam, r, argv.counterexamples, argv.timeout * 1000, writeAtomically);
        process.stdout.write(renderFamily(r, written) + "\n\n");
        if (r.theorems.some((t) => t.status === "unknown")) code = Math.max(code, EXIT.unknown);
        else if (!asRecorded(r)) code = code === EXIT.ok ? EXIT.violated : code;
      }
      const proved = families.length;
      process.stdout.write(`${proved} proof file${proved === 1 ? "" : "s"} checked\n`);
      process.exitCode = code;
    }),
  )
  .command(
    "fix <file> <query>",
    "The smallest edit of the topology that gives the wanted verdict while every other expect: keeps holding (Z3 MaxSMT), checked before it is shown.",
    (y) =>
      y
        .positional("file", { type: "string", demandOption: true, describe: "topology file (YAML or JSON)" })
        .positional("query", { type: "string", demandOption: true, describe: '"A -> B:PORT/tcp"' })
        .option("want", { choices: ["reachable", "unreachable"] as const, demandOption: true, describe: "the verdict you want" })
        .option("max-edits", { type: "number", default: 2, describe: "the most places a repair may change (1-3)" })
        .option("alternatives", { type: "number", default: 2, describe: "next-best repairs to show" })
        .option("write", {
          type: "boolean",
          default: false,
          describe: "apply the best repair to the file (keeping FILE.bak, comments and layout)",
        })
        .option("timeout", { ...timeoutOption, default: 120 })
        .example(
          '$0 fix models/nat-guest-loopback-bind.yaml "host -> guest:22/tcp" --want reachable',
          "sshd is bound to 127.0.0.1 behind a forward: the fix is its bind address",
        ),
    handler(async (argv) => {
      checkTimeout(argv.timeout);
      const k = argv["max-edits"];
      if (!Number.isInteger(k) || k < 1 || k > 3) throw usage("--max-edits", `'${k}' is not 1, 2 or 3`, "--max-edits 1, 2 or 3");
      const alts = argv.alternatives;
      if (!Number.isInteger(alts) || alts < 0 || alts > 10)
        throw usage("--alternatives", `'${alts}' is not a number from 0 to 10`, "e.g. --alternatives 2");
      const { loaded } = await load(argv.file, argv);
      if (loaded.spec) throw usage("<file>", `${argv.file} is a spec file`, "the topology file it includes (fix edits the topology)");
      const q = queryArg(argv.query, loaded, argv.file);
      const [{ fix }, { renderFix }] = await Promise.all([import("../fix/fix.js"), import("../fix/report.js")]);
      const r = await fix(loaded, q, argv.want, { maxEdits: k, count: 1 + alts, timeoutMs: argv.timeout * 1000 });
      process.stdout.write(renderFix(r, argv.file, loaded.source) + "\n");
      const best = r.repairs[0];
      if (argv.write && best) {
        const bak = backupName(argv.file);
        copyFileSync(argv.file, bak);
        writeAtomically(argv.file, best.text);
        process.stdout.write(`wrote ${argv.file} (the old file is ${bak})\n`);
      }
      process.exitCode = r.before.answer.verdict === argv.want || best ? EXIT.ok : r.unknown ? EXIT.unknown : EXIT.violated;
    }),
  )
  .command(
    "schema",
    "Print the JSON Schema of the topology format (for editors).",
    (y) => y,
    async () => {
      const { topologyJsonSchema } = await import("../topology/schema.js");
      process.stdout.write(JSON.stringify(topologyJsonSchema(), null, 2) + "\n");
    },
  )
  .example('$0 ask models/virtualbox-nat.yaml "host -> guest:22/tcp"', "can the host ssh into its NAT guest? what to dial, and the path")
  .example('$0 ask models/virtualbox-nat.yaml "lan-pc -> guest:22/tcp" --json', "the same from another LAN machine, as JSON")
  .example("$0 verify models/", "check every expect: of the bundled models")
  .example("$0 verify lab.yaml --format github", "in CI: annotations on the lines of the expectations that do not hold")
  .example("$0 show models/hostonly.yaml", "what a host-only adapter lowers to")
  .example("sudo $0 emulate models/virtualbox-nat.yaml", "the real kernel (network namespaces) as judge of every expectation")
  .epilogue("Exit codes: 0 answered / all hold, 1 an expectation does not hold, 2 bad input or usage, 3 unknown, 4 internal error.")
  .demandCommand(
    1,
    "name a command: ask, verify, report, draw, doctor, drift, exposure, matrix, merge, diff, emulate, import, snapshot, prove, fix, show or schema",
  )
  .check((argv) => (refuseRepeated(argv), true), true)
  .strict()
  .fail((msg, err) => {
    // a usage error: the command must not run (yargs would go on); the message is short, so it is written at once
    const code = err ? reportInput(err) : (process.stderr.write(`reach: ${msg}\nRun 'reach --help' for usage.\n`), EXIT.input);
    process.exit(code);
  })
  .help()
  // given, not looked up: yargs would read the package.json nearest to where it runs from (in the
  // bundle, the user's own project's)
  .version(VERSION)
  .parseAsync()
  .catch(async (e: unknown) => {
    // after .fail() has reported a usage error, yargs still rejects: keep that exit code
    if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = await report(e);
  });
