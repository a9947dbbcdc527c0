/** A worker of `reach matrix`: loads the topology, answers its share of the cells, posts each result. */
import { parentPort, workerData } from "node:worker_threads";
import { lower } from "../lower/lower.js";
import type { EngineOptions } from "../query/engine.js";
import { loadTopologyFile } from "../topology/load.js";
import { answerCells, dialOf, matrixCells } from "./flows.js";

const { file, indices, engine, root } = workerData as { file: string; indices: number[]; engine: EngineOptions; root: string | undefined };
const net = lower(loadTopologyFile(file, root !== undefined ? { root } : {}).topology);
const cells = matrixCells(net);
for (const index of indices) {
  const [a] = await answerCells(net, [cells[index]!], engine);
  const c = cells[index]!;
  parentPort!.postMessage({
    index,
    result: {
      from: c.from,
      service: `${c.service.machine}:${c.service.port}/${c.service.proto}`,
      verdict: a!.answer.verdict,
      dial: dialOf(a!.answer),
    },
  });
}
// the parent terminates this worker on `done` (Z3's own threads go with it)
parentPort!.postMessage({ done: true });
