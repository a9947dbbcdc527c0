/**
 * `reach matrix`: every machine against every service, decided by classes
 * source by source (query/classes.ts). On a large topology the sources are
 * split over worker threads (one per core, at most `workers`), each loading the
 * topology itself and answering its sources' cells; a progress bar shows on a
 * terminal.
 */
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { Network } from "../ir/types.js";
import type { EngineOptions } from "../query/engine.js";
import type { IncludeOptions } from "../topology/include.js";
import { answerCells, dialOf, matrixCells, type Cell } from "./flows.js";

export interface CellResult {
  readonly from: string;
  readonly service: string;
  readonly verdict: "reachable" | "unreachable" | "unknown";
  /** what to dial, when reachable */
  readonly dial: string;
}

export interface MatrixOptions extends EngineOptions, IncludeOptions {
  /** worker threads; 1 answers in this thread */
  readonly workers?: number;
  readonly progress?: (done: number, total: number) => void;
  /** only the cells this takes (by their index in matrixCells), e.g. a shard's; results keep matrixCells' order */
  readonly select?: (cell: Cell, index: number) => boolean;
}

/** Cells below this count are answered in this thread: a worker loads the topology again (and Z3, if it needs it). */
const PARALLEL_FROM = 64;

const serviceName = (c: Cell) => `${c.service.machine}:${c.service.port}/${c.service.proto}`;

export async function matrix(net: Network, file: string, opts: MatrixOptions): Promise<CellResult[]> {
  const all = matrixCells(net);
  const chosen = all.map((_, i) => i).filter((i) => !opts.select || opts.select(all[i]!, i));
  const cells = chosen.map((i) => all[i]!);
  const sources = [...new Set(cells.map((c) => c.from))];
  const workers = Math.max(
    1,
    Math.min(opts.workers ?? availableParallelism(), availableParallelism(), Math.ceil(cells.length / (PARALLEL_FROM / 2)), sources.length),
  );
  // a matrix needs verdicts (and checked witnesses), not explanations
  const engine: EngineOptions = { engine: opts.engine, timeoutMs: opts.timeoutMs, explain: false };
  if (workers === 1 || cells.length < PARALLEL_FROM) {
    const answers = await answerCells(net, cells, engine, (done) => opts.progress?.(done, cells.length));
    return answers.map((a) => ({
      from: a.from,
      service: serviceName({ from: a.from, service: a.service }),
      verdict: a.answer.verdict,
      dial: dialOf(a.answer),
    }));
  }
  // whole sources per worker (one exploration answers a source's cells), interleaved: neighbouring sources cost alike
  const share = new Map(sources.map((from, k) => [from, k % workers]));
  const shares = Array.from({ length: workers }, (_, w) => chosen.filter((i) => share.get(all[i]!.from) === w));
  const at = new Map(chosen.map((cell, i) => [cell, i]));
  const results: CellResult[] = new Array(cells.length);
  let done = 0;
  await Promise.all(
    shares.map(
      (indices) =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(new URL("./matrix-worker.js", import.meta.url), {
            workerData: { file, indices, engine, root: opts.root },
          });
          let finished = false;
          worker.on("message", (m: { index: number; result: CellResult } | { done: true }) => {
            if ("done" in m) {
              finished = true;
              void worker.terminate().then(() => resolve());
              return;
            }
            results[at.get(m.index)!] = m.result;
            opts.progress?.(++done, cells.length);
          });
          worker.on("error", reject);
          // terminate() after `done` ends the worker; ending before `done` is a bug
          worker.on("exit", (code) => {
            if (!finished) reject(new Error(`internal: matrix worker stopped (exit ${code}) before answering its share`));
          });
        }),
    ),
  );
  return results;
}
