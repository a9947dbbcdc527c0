/**
 * `reach doctor`: read what this machine's tools report (each source only when its tool is
 * there), merge it into one topology, and decide the named findings on it (findings.ts). The
 * CLI (src/cli/main.ts) calls runDoctor and prints `text` (or `json`), writes `topologyYaml`
 * with -o, and exits with `exitCode`: 0 nothing found, 1 findings, 2 no topology came out.
 * Read-only: every command is a listing (docs/doctor.md).
 */
import { formatSpan, type Diagnostic } from "../diagnostics/diagnostic.js";

const formatDiagnostic = (d: Diagnostic) => `${formatSpan(d.span)}: ${d.severity} ${d.code}: ${d.message}`;
import type { EngineOptions } from "../query/engine.js";
import { findings, FINDINGS, type Finding } from "./findings.js";
import { buildModel } from "./model.js";
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
  /** Where /proc is (default /proc). */
  readonly procRoot?: string;
  /** Which sources to read (default all). */
  readonly sources?: readonly SourceName[];
  /** How the findings' queries are decided (default Z3, 20 s each). */
  readonly engine?: EngineOptions;
}

export interface DoctorResult {
  readonly text: string;
  readonly json: unknown;
  readonly exitCode: number;
  readonly topologyYaml: string;
}

async function readAll(o: DoctorOptions): Promise<SourceRead[]> {
  const run = { timeoutMs: o.commandTimeoutMs ?? 5000, env: o.env ?? process.env, netns: o.netns };
  const want = new Set(o.sources ?? SOURCES);
  const jobs: Promise<SourceRead>[] = [];
  if (want.has("host")) jobs.push(readHost(run));
  if (want.has("virtualbox")) jobs.push(readVirtualbox(run));
  if (want.has("docker")) jobs.push(readDocker(run));
  if (want.has("libvirt")) jobs.push(readLibvirt(run));
  if (want.has("qemu")) jobs.push(Promise.resolve(readQemu(run, { procRoot: o.procRoot ?? "/proc", netns: o.netns })));
  return Promise.all(jobs);
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
      ? "tool not installed"
      : `${ok} read${bad.length ? `, ${bad.length} not (${bad.map((b) => b.outcome).join(", ")})` : ""}`;
  return `  ${r.name.padEnd(10)} ${state}`;
}

// Long: the report's sections in order (sources, warnings, findings, timings), each a few lines
export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorResult> {
  const host = opts.host ?? "host";
  const t0 = Date.now();
  const reads = await readAll(opts);
  const tRead = Date.now() - t0;
  const model = await buildModel(reads, host, opts.lan ?? "192.168.1.0/24");
  const engine = opts.engine ?? { engine: "smt" as const, timeoutMs: 20_000 };
  const found = model.errors.length ? [] : await findings(model, host, engine);
  const tTotal = Date.now() - t0;
  const exitCode = model.errors.length ? 2 : found.length ? 1 : 0;
  const text = [
    `reach doctor${opts.netns ? ` (network namespace ${opts.netns})` : ""}: read-only`,
    "sources:",
    ...reads.map(sourceLine),
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
