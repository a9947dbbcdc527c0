/**
 * `reach doctor`: read what this machine's tools report (each source only when its tool is
 * there), merge it into one topology, and decide the named findings on it (findings.ts). The
 * CLI (src/cli/main.ts) calls runDoctor and prints `text` (or `json`), writes `topologyYaml`
 * with -o, and exits with `exitCode`: 0 nothing found, 1 findings, 2 no topology came out.
 * Read-only: every command is a listing (docs/doctor.md).
 */
import { join } from "node:path";
import { formatSpan, type Diagnostic } from "../diagnostics/diagnostic.js";

const formatDiagnostic = (d: Diagnostic) => `${formatSpan(d.span)}: ${d.severity} ${d.code}: ${d.message}`;
import type { EngineOptions } from "../query/engine.js";
import type { Network } from "../ir/types.js";
import type { Loaded } from "../topology/load.js";
import { DRIFT, exposureDrift, fileDrift, renderDifference } from "./drift.js";
import { findings, FINDINGS, type Finding } from "./findings.js";
import { buildModel, type Model } from "./model.js";
import { readPodman } from "./podman.js";
import { readDocker, readHost, readLibvirt, readQemu, readVirtualbox, type SourceRead } from "./sources.js";

export { SOURCES, type SourceName } from "./names.js";
import { SOURCES, type SourceName } from "./names.js";

export interface DoctorOptions {
  /** The host's name in the topology (default "host"). */
  readonly host?: string;
  /** The LAN assumed when no source describes the host (default 192.168.1.0/24). */
  readonly lan?: string;
  /** Read this network namespace instead of the machine's own (`ip netns exec`; QEMU processes in it). */
  readonly netns?: string;
  /** Per command, in milliseconds (default 5000): a hung tool is killed, and the rest goes on. */
  readonly commandTimeoutMs?: number;
  /** The commands' environment (PATH decides which tools are there; default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where /proc is (default /proc; with replay, REPLAY/proc). */
  readonly procRoot?: string;
  /** Read recorded outputs from this folder instead of running anything (exec.ts `replayed`). */
  readonly replay?: string;
  /** Which sources to read (default all). */
  readonly sources?: readonly SourceName[];
  /** How the findings' queries are decided (default Z3, 20 s each). */
  readonly engine?: EngineOptions;
  /** Decide the LAN exposure with one explained solver query per service (the way before the simulator-first search). */
  readonly solverOnly?: boolean;
}

export interface DoctorResult {
  readonly text: string;
  readonly json: unknown;
  readonly exitCode: number;
  readonly topologyYaml: string;
}

const DEFAULT_ENGINE: EngineOptions = { engine: "smt", timeoutMs: 20_000 };

async function readAll(o: DoctorOptions): Promise<SourceRead[]> {
  const run = { timeoutMs: o.commandTimeoutMs ?? 5000, env: o.env ?? process.env, netns: o.netns, replay: o.replay };
  const want = new Set(o.sources ?? SOURCES);
  const jobs: Promise<SourceRead>[] = [];
  if (want.has("host")) jobs.push(readHost(run));
  if (want.has("virtualbox")) jobs.push(readVirtualbox(run));
  if (want.has("docker")) jobs.push(readDocker(run));
  if (want.has("libvirt")) jobs.push(readLibvirt(run));
  if (want.has("qemu"))
    jobs.push(
      Promise.resolve(
        readQemu(run, { procRoot: o.procRoot ?? (o.replay !== undefined ? join(o.replay, "proc") : "/proc"), netns: o.netns }),
      ),
    );
  if (want.has("podman")) jobs.push(readPodman(run));
  return Promise.all(jobs);
}

/** What the machine's tools report (each source that is there), merged into one topology. */
export async function liveModel(opts: DoctorOptions): Promise<{ reads: SourceRead[]; model: Model }> {
  const reads = await readAll(opts);
  return { reads, model: await buildModel(reads, opts.host ?? "host", opts.lan ?? "192.168.1.0/24") };
}

/** How the machine was read, for the first line of an answer. */
const readingWhat = (o: DoctorOptions): string =>
  o.replay !== undefined
    ? ` (replaying the outputs recorded in ${o.replay}): nothing run`
    : `${o.netns ? ` (network namespace ${o.netns})` : ""}: read-only`;

export function sourceLines(reads: readonly SourceRead[]): string[] {
  return ["sources:", ...reads.map(sourceLine)];
}

function renderFinding(f: Finding, i: number): string[] {
  return [
    `${i + 1}. ${f.code} ${f.machine}: ${f.title}`,
    ...f.evidence.map((e) => `   evidence: ${e.at}: ${e.text}`),
    `   consequence: ${f.consequence}`,
    `   fix: ${f.fix}`,
    `   decided: ${f.query} -> ${f.verdict}${f.dial ? ` (dial ${f.dial})` : ""}${f.causes?.length ? ` [causes: ${f.causes.join(", ")}]` : ""}`,
  ];
}

function sourceLine(r: SourceRead): string {
  const ok = r.ran.filter((x) => x.outcome === "ok").length;
  const bad = r.ran.filter((x) => x.outcome !== "ok" && x.outcome !== "missing");
  const missing = r.ran.some((x) => x.outcome === "missing");
  const state =
    missing && !ok
      ? r.opts.replay !== undefined
        ? "not recorded"
        : "tool not installed"
      : `${ok} read${bad.length ? `, ${bad.length} not (${bad.map((b) => b.outcome).join(", ")})` : ""}`;
  return `  ${r.name.padEnd(10)} ${state}`;
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorResult> {
  const host = opts.host ?? "host";
  const t0 = Date.now();
  const { reads, model } = await liveModel(opts);
  const tRead = Date.now() - t0;
  const engine = opts.engine ?? DEFAULT_ENGINE;
  const found = model.errors.length ? [] : await findings(model, host, engine, opts.solverOnly);
  const tTotal = Date.now() - t0;
  const exitCode = model.errors.length ? 2 : found.length ? 1 : 0;
  const text = [
    `reach doctor${readingWhat(opts)}`,
    ...sourceLines(reads),
    ...(model.notes.length ? ["notes:", ...model.notes.map((n) => `  - ${n}`)] : []),
    ...(model.warnings.length ? ["warnings:", ...model.warnings.map((d) => `  ${formatDiagnostic(d)}`)] : []),
    ...(model.errors.length ? ["the topology did not come out:", ...model.errors.map((d) => `  ${formatDiagnostic(d)}`)] : []),
    found.length ? `${found.length} finding${found.length === 1 ? "" : "s"}:` : "no findings",
    ...found.flatMap(renderFinding),
    `read in ${tRead} ms, decided in ${tTotal - tRead} ms`,
  ].join("\n");
  const json = {
    sources: reads.map((r) => ({ name: r.name, ran: r.ran, notes: r.notes, unread: r.unread })),
    notes: model.notes,
    warnings: model.warnings,
    errors: model.errors,
    findings: found,
    catalogue: FINDINGS,
    timings: { readMs: tRead, totalMs: tTotal },
  };
  return { text: text + "\n", json, exitCode, topologyYaml: model.text };
}

export interface DriftResult {
  readonly text: string;
  readonly json: unknown;
  /** 0 nothing exposed beyond the file, 1 the live machine exposes what the file does not say, 2 a side did not load */
  readonly exitCode: number;
}

/**
 * `reach drift FILE`: the declared topology (already loaded by the caller, so its errors are the
 * usual diagnostics) against the doctor's live model of this machine (drift.ts).
 */
export async function runDrift(
  declared: Loaded,
  declaredNet: Network,
  opts: DoctorOptions & { readonly from?: string } = {},
): Promise<DriftResult> {
  const from = opts.from ?? "lan";
  const t0 = Date.now();
  const { reads, model } = await liveModel(opts);
  const head = [`reach drift ${declared.file} against this machine${readingWhat(opts)}`, ...sourceLines(reads)];
  if (!model.doc || !model.net) {
    const text = [...head, "the live topology did not come out:", ...model.errors.map((d) => `  ${formatDiagnostic(d)}`)].join("\n");
    return { text: text + "\n", json: { errors: model.errors, differences: [] }, exitCode: 2 };
  }
  const notes = [...model.notes];
  const both = [declared.topology.doc.machines, model.doc.machines].every((ms) => Object.hasOwn(ms, from));
  const files = fileDrift(declared, model.doc, from);
  const decided = both
    ? await exposureDrift({
        declared,
        declaredNet,
        liveNet: model.net,
        from,
        engine: opts.engine ?? DEFAULT_ENGINE,
      })
    : { differences: [], undecided: [] };
  if (!both) notes.push(`exposure not compared: the declared topology has no machine ${from} (name the LAN vantage with --from)`);
  const differences = [...decided.differences, ...files];
  const exposes = differences.filter((d) => d.exposes).length;
  const text = [
    ...head,
    ...(notes.length ? ["notes:", ...notes.map((n) => `  - ${n}`)] : []),
    ...(model.warnings.length ? ["warnings:", ...model.warnings.map((d) => `  ${formatDiagnostic(d)}`)] : []),
    differences.length ? `${differences.length} difference${differences.length === 1 ? "" : "s"}:` : "no differences",
    ...differences.flatMap((d, i) => renderDifference(d, i + 1)),
    ...(decided.undecided.length ? ["not compared (undecided):", ...decided.undecided.map((u) => `  ${u}`)] : []),
    exposes
      ? `the live machine exposes ${exposes} thing${exposes === 1 ? "" : "s"} ${declared.file} does not say`
      : `the live machine exposes nothing ${declared.file} does not say`,
    `read and decided in ${Date.now() - t0} ms`,
  ].join("\n");
  const json = {
    declared: declared.file,
    from,
    notes,
    warnings: model.warnings,
    differences,
    undecided: decided.undecided,
    catalogue: DRIFT,
  };
  return { text: text + "\n", json, exitCode: exposes ? 1 : 0 };
}
