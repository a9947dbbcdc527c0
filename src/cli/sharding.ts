/**
 * `--shard I/N` for verify, matrix and exposure (the split and the manifests are verify/shard.ts):
 * which units of work this shard takes, and the manifest its JSON, JUnit or SARIF output carries
 * for `reach merge`.
 */
import type { Network } from "../ir/types.js";
import type { EngineOptions } from "../query/engine.js";
import type { Loaded } from "../topology/load.js";
import { exposureServices, flowQuery, matrixCells, type Cell, type Service } from "../verify/flows.js";
import type { FileResults } from "../verify/report.js";
import {
  expectationKeys,
  inShard,
  inputsDigest,
  shardJson,
  shardJunit,
  shardSarif,
  type Manifest,
  type Shard,
  type ShardedCommand,
} from "../verify/shard.js";
import { verifyTopology } from "../verify/verify.js";

/** What a shard reports: the positions of its units among all `total` (SARIF lists only the units that do not hold). */
export interface Units {
  readonly command: ShardedCommand;
  readonly shard: Shard;
  readonly inputs: string;
  readonly total: number;
  readonly ordinals: readonly number[];
  readonly sarifOrdinals?: readonly number[];
}

interface LoadedFile {
  readonly file: string;
  readonly net: Network;
  readonly loaded: Loaded;
}

/** The digest of what a run read: each file's name, its topology and its spec. */
export const digestOf = (files: readonly LoadedFile[]): string =>
  inputsDigest(files.map(({ file, loaded }) => ({ file, docs: [loaded.topology.doc, loaded.spec?.doc ?? null] })));

/** Verifies each file's expectations, or this shard's share of them (a spec file checks its own against its include). */
export async function verifyFiles(
  files: readonly LoadedFile[],
  opts: EngineOptions,
  shard: Shard | undefined,
): Promise<{ all: FileResults[]; units?: Units }> {
  const all: FileResults[] = [];
  const ordinals: number[] = [];
  const sarifOrdinals: number[] = [];
  let total = 0;
  for (const { file, net, loaded } of files) {
    const topo = loaded.spec ?? loaded.topology;
    const keys = expectationKeys(file, topo.doc.expect ?? []);
    const mine = (k: number) => inShard(shard, keys[k]!);
    const picked = keys.map((_, k) => k).filter(mine);
    const results = await verifyTopology(net, topo, opts, shard ? mine : undefined);
    if (results.length !== picked.length)
      throw new Error(`internal: ${picked.length} expectations of ${file} gave ${results.length} results`);
    ordinals.push(...picked.map((k) => total + k));
    sarifOrdinals.push(...picked.filter((_, i) => results[i]!.status !== "holds").map((k) => total + k));
    total += keys.length;
    all.push({
      file,
      machines: net.machines,
      results,
      ...(net.incomplete ? { incomplete: net.incomplete } : {}),
      ...(net.assumed?.length ? { assumed: net.assumed } : {}),
    });
  }
  return { all, ...(shard ? { units: { command: "verify", shard, inputs: digestOf(files), total, ordinals, sarifOrdinals } } : {}) };
}

/** The matrix cells of a shard: whole rows (a source machine's cells stay together), by the source's name. */
export function matrixShare(file: LoadedFile, shard: Shard): { select: (c: Cell, i: number) => boolean; units: Units } {
  const all = matrixCells(file.net);
  const select = (c: Cell) => inShard(shard, `matrix row\n${c.from}`);
  const ordinals = all.map((c, i) => (select(c) ? i : -1)).filter((i) => i >= 0);
  return { select, units: { command: "matrix", shard, inputs: digestOf([file]), total: all.length, ordinals } };
}

/** The exposure flows of a shard, by each flow's query; `units` takes the services the output lists (all but the unreachable ones). */
export function exposureShare(
  file: LoadedFile,
  from: string,
  shard: Shard,
): { select: (s: Service) => boolean; units: (listed: readonly Service[]) => Units } {
  const all = exposureServices(file.net, from);
  const position = new Map(all.map((s, i) => [flowQuery(from, s), i]));
  const select = (s: Service) => inShard(shard, flowQuery(from, s));
  return {
    select,
    units: (listed) => ({
      command: "exposure",
      shard,
      inputs: digestOf([file]),
      total: all.length,
      ordinals: listed.map((s) => position.get(flowQuery(from, s))!),
    }),
  };
}

/** A shard's output with its manifest (JSON, JUnit, SARIF); other formats are written as they are. */
export function withManifest(text: string, format: string, u: Units | undefined): string {
  if (!u) return text;
  const m = (ordinals: readonly number[]): Manifest => ({
    command: u.command,
    index: u.shard.index,
    count: u.shard.count,
    inputs: u.inputs,
    total: u.total,
    ordinals,
  });
  if (format === "json") return shardJson(text, m(u.ordinals));
  if (format === "junit") return shardJunit(text, m(u.ordinals));
  if (format === "sarif") return shardSarif(text, m(u.sarifOrdinals ?? u.ordinals));
  return text;
}
