/**
 * `reach verify --watch FILE|FOLDER`: verify, then again on every save.
 *
 * Each named file (a folder: every topology in it) is loaded, lowered and verified; then the
 * files and what they include are watched (fs.watch on their folders, filtered to those names;
 * an editor's save by rename is seen too). A change waits `debounceMs` for the writes of one save
 * to end, then only the files it touched are loaded again. Their expectations are checked through
 * a DecisionCache (decision-cache.ts): a question whose every read of the network is unchanged
 * gets its earlier answer, byte for byte; the others are decided again, on the network itself, and
 * what they read is recorded after the results are printed (a save meanwhile ends that after the
 * decision at hand). Each run prints what changed in the lowered network, which
 * expectations were re-decided and which reused, and the results as `reach verify` prints them.
 *
 * Bad input while watching (a syntax error half-way through an edit) prints its diagnostics and
 * keeps watching with the last good results; nothing is ever written but stdout and stderr.
 * Ctrl-C (SIGINT) or SIGTERM closes the watchers and ends the promise.
 */
import { statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { InputError, renderDiagnostic } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import { lower } from "../lower/lower.js";
import { answerQuery, type EngineOptions } from "../query/engine.js";
import { expandInputs, type IncludeOptions } from "../topology/include.js";
import { loadTopologyFile } from "../topology/load.js";
import { DecisionCache, digestOf } from "./decision-cache.js";
import { renderText } from "./report.js";
import { verifyTopology, type VerifyResult } from "./verify.js";

export interface WatchOptions {
  readonly engine: EngineOptions;
  readonly include?: IncludeOptions;
  /** quiet time after the last change before verifying (default 60 ms) */
  readonly debounceMs?: number;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** stops watching when it fires (default: SIGINT or SIGTERM) */
  readonly stop?: Promise<void>;
}

/** One verified file: the files it reads (itself and its include), its last good network. */
interface Watched {
  readonly file: string;
  reads: Set<string>;
  net?: Network;
}

/** What one run of one file found: per expectation, whether any of its questions was decided again. */
export interface RunReport {
  readonly file: string;
  readonly ok: boolean;
  readonly changed: readonly string[];
  readonly redecided: readonly number[];
  readonly reused: readonly number[];
  /** each question decided again, with the first thing it had read that changed */
  readonly why: readonly string[];
  readonly results: readonly VerifyResult[];
  readonly ms: number;
}

/** What changed between two lowered networks, element by element, in words. */
export function networkChanges(before: Network | undefined, after: Network): string[] {
  if (!before) return ["first run"];
  const out: string[] = [];
  const compare = <T extends { name: string }>(what: string, a: readonly T[], b: readonly T[]) => {
    const old = new Map(a.map((x) => [x.name, x]));
    const now = new Map(b.map((x) => [x.name, x]));
    for (const [name, x] of now) {
      const y = old.get(name);
      if (!y) out.push(`${what} ${name} added`);
      else if (digestOf(x) !== digestOf(y)) {
        const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].filter(
          (k) => digestOf((x as Record<string, unknown>)[k]) !== digestOf((y as Record<string, unknown>)[k]),
        );
        out.push(`${what} ${name} (${keys.join(", ")})`);
      }
    }
    for (const name of old.keys()) if (!now.has(name)) out.push(`${what} ${name} removed`);
  };
  compare("machine", before.machines, after.machines);
  compare("segment", before.segments, after.segments);
  if (digestOf(before.incomplete ?? null) !== digestOf(after.incomplete ?? null)) out.push("incomplete:");
  return out.length ? out : ["nothing in the lowered network (expectations or layout only)"];
}

/** Loads, lowers and verifies one file through the cache; bad input is reported and leaves the last good state. */
export async function runFile(w: Watched, cache: DecisionCache, o: WatchOptions): Promise<RunReport> {
  const t0 = performance.now();
  let loaded;
  let net: Network;
  try {
    loaded = loadTopologyFile(w.file, o.include ?? {});
    net = lower(loaded.topology);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    for (const d of e.diagnostics) o.err(renderDiagnostic(d, e.sources.get(d.span.file)) + "\n");
    const n = e.diagnostics.filter((d) => d.severity === "error").length;
    o.err(`${n} error${n === 1 ? "" : "s"}: ${w.file} not verified; still watching (the last good results stand)\n`);
    return { file: w.file, ok: false, changed: [], redecided: [], reused: [], why: [], results: [], ms: performance.now() - t0 };
  }
  for (const d of loaded.warnings) o.err(renderDiagnostic(d, loaded.source) + "\n");
  w.reads = new Set([resolve(w.file), resolve(loaded.file)]);
  const changed = networkChanges(w.net, net);
  w.net = net;
  // verifyTopology checks the expectations one after the other, calling select(k) just before k
  const decidedBy = new Map<number, number>();
  const why: string[] = [];
  let current = -1;
  const close = () => {
    const s = cache.take();
    if (current >= 0) decidedBy.set(current, s.decided);
    why.push(...s.why);
  };
  close();
  const select = (k: number) => {
    close();
    current = k;
    return true;
  };
  const results = await verifyTopology(net, loaded.spec ?? loaded.topology, o.engine, select, (n, q, e) => cache.answer(n, q, e));
  close();
  const ks = [...decidedBy.keys()];
  const redecided = ks.filter((k) => decidedBy.get(k)! > 0);
  const reused = ks.filter((k) => decidedBy.get(k) === 0);
  return { file: w.file, ok: true, changed, redecided, reused, why, results, ms: performance.now() - t0 };
}

/** A run in words: what changed, what was decided again and what reused, the results, the time. */
export function renderRun(r: RunReport, machines: Network["machines"]): string {
  const where = (k: number) => `${r.file}:${r.results[k]!.span.line}`;
  const lines = [
    `== ${r.file}`,
    `changed: ${r.changed.join("; ")}`,
    `re-decided (${r.redecided.length}): ${r.redecided.map(where).join(", ") || "none"}`,
    ...r.why.map((w) => `  because ${w}`),
    `reused (${r.reused.length}): ${r.reused.map(where).join(", ") || "none"}`,
    renderText([{ file: r.file, machines, results: r.results }]),
    `${r.redecided.length} re-decided, ${r.reused.length} reused in ${Math.round(r.ms)} ms`,
  ];
  return lines.join("\n") + "\n";
}

/** Files named by the inputs (folders expanded); a refused folder entry is reported and left out. */
function expand(inputs: readonly string[], o: WatchOptions): string[] {
  return inputs.flatMap((i) => {
    try {
      return expandInputs(i);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      for (const d of e.diagnostics) o.err(renderDiagnostic(d, e.sources.get(d.span.file)) + "\n");
      return [];
    }
  });
}

const defaultStop = (): Promise<void> =>
  new Promise((done) => {
    const end = () => {
      process.off("SIGINT", end);
      process.off("SIGTERM", end);
      done();
    };
    process.on("SIGINT", end);
    process.on("SIGTERM", end);
  });

/** Watches and verifies until stopped; resolves once every watcher is closed. */
export async function watchVerify(inputs: readonly string[], o: WatchOptions): Promise<void> {
  const stop = o.stop ?? defaultStop();
  // results first: each run decides on the network itself and records what it read after printing
  const cache = new DecisionCache(answerQuery, { defer: true });
  const files = new Map<string, Watched>();
  const watchers = new Map<string, FSWatcher>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const folders = inputs.map((i) => resolve(i)).filter(isFolder);

  const onEvent = (dir: string) => (_event: string, name: string | Buffer | null) => {
    // no name given (some platforms): every watched file of that folder may have changed
    const paths =
      name === null ? [...files.values()].flatMap((w) => [...w.reads].filter((p) => dirname(p) === dir)) : [resolve(dir, String(name))];
    const relevant = paths.filter(
      (path) => [...files.values()].some((w) => w.reads.has(path)) || (folders.includes(dir) && /\.(ya?ml|json)$/.test(basename(path))),
    );
    if (!relevant.length || stopped) return;
    for (const p of relevant) pending.add(p);
    clearTimeout(timer);
    timer = setTimeout(() => (running = running.then(() => rerun())), o.debounceMs ?? 60);
  };
  const rewatch = () => {
    const dirs = new Set([...folders, ...[...files.values()].flatMap((w) => [...w.reads].map((p) => dirname(p)))]);
    for (const d of dirs)
      if (!watchers.has(d)) {
        try {
          watchers.set(d, watch(d, onEvent(d)));
        } catch (e) {
          o.err(`reach: cannot watch ${d}: ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
        }
      }
  };
  const verify = async (w: Watched) => {
    try {
      const r = await runFile(w, cache, o);
      if (r.ok) o.out(renderRun(r, w.net!.machines));
    } catch (e) {
      // an internal error (the engines disagree: a bug) is reported; the watch goes on
      o.err(`reach: internal error (a bug, please report it): ${e instanceof Error ? e.message : String(e)}\n`);
    }
  };
  // runs are chained on `running`: a save (or Ctrl-C) while the reads are recorded ends the recording
  // after the decision at hand; the ones not recorded are decided again when next asked
  const settle = () => cache.settle(() => stopped || pending.size > 0);
  const rerun = async () => {
    if (stopped) return;
    const changed = [...pending];
    pending.clear();
    for (const f of expand(inputs, o)) if (!files.has(f)) files.set(f, { file: f, reads: new Set([resolve(f)]) });
    o.out(`saved: ${changed.join(", ")}\n`);
    for (const w of files.values()) if (changed.some((p) => w.reads.has(p) || p === resolve(w.file))) await verify(w);
    rewatch();
    o.out(watchingLine(files));
    await settle();
  };

  for (const f of expand(inputs, o)) files.set(f, { file: f, reads: new Set([resolve(f)]) });
  // watching starts before the first run, so that a save during it is not missed
  rewatch();
  for (const w of files.values()) await verify(w);
  rewatch();
  o.out(watchingLine(files));
  running = settle();
  await stop;
  stopped = true;
  clearTimeout(timer);
  for (const w of watchers.values()) w.close();
  await running;
  o.out("stopped watching\n");
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function watchingLine(files: ReadonlyMap<string, Watched>): string {
  const n = new Set([...files.values()].flatMap((w) => [...w.reads])).size;
  return `watching ${n} file${n === 1 ? "" : "s"} (Ctrl-C to stop)\n`;
}
