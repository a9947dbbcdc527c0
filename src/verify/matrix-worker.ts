/** A worker of `reach matrix`: loads the topology, answers its share of the cells source by source, posts each result. */
import { parentPort, workerData } from "node:worker_threads";
import { lower } from "../lower/lower.js";
import type { EngineOptions } from "../query/engine.js";
import { loadTopologyFile } from "../topology/load.js";
import { answerCells, dialOf, matrixCells } from "./flows.js";

const { file, indices, engine, root } = workerData as { file: string; indices: number[]; engine: EngineOptions; root: string | undefined };
const net = lower(loadTopologyFile(file, root !== undefined ? { root } : {}).topology);
const cells = matrixCells(net);
// the share holds whole sources, in order: one source's cells at a time
const bySource = new Map<string, number[]>();
for (const index of indices) {
  const from = cells[index]!.from;
  const list = bySource.get(from);
  if (list) list.push(index);
  else bySource.set(from, [index]);
}
for (const group of bySource.values()) {
  const answers = await answerCells(
    net,
    group.map((i) => cells[i]!),
    engine,
  );
  group.forEach((index, k) => {
    const c = cells[index]!;
    const a = answers[k]!;
    parentPort!.postMessage({
      index,
      result: {
        from: c.from,
        service: `${c.service.machine}:${c.service.port}/${c.service.proto}`,
        verdict: a.answer.verdict,
        dial: dialOf(a.answer),
      },
    });
  });
}
// the parent terminates this worker on `done` (Z3's own threads go with it)
parentPort!.postMessage({ done: true });
