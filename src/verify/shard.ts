/**
 * Sharding (`--shard I/N` of verify, matrix and exposure): each unit of work (an expectation, a
 * matrix row, an exposure flow) goes to the shard a hash of its identity names, so every runner
 * computes the same split from the same inputs, whatever order or machine it runs in. A shard's
 * JSON, JUnit and SARIF output carries a manifest (which shard, a digest of the inputs, how many
 * units the whole run has, and the position of each reported unit in the unsharded output), from
 * which `reach merge` (merge.ts) rebuilds the unsharded output and checks that the shards fit.
 */
import { createHash } from "node:crypto";

export interface Shard {
  /** 1-based */
  readonly index: number;
  readonly count: number;
}

/** The most shards a run may be split into. */
export const MAX_SHARDS = 1000;

/** "I/N" with 1 <= I <= N <= MAX_SHARDS; undefined otherwise. */
export function parseShard(text: string): Shard | undefined {
  const m = /^([1-9]\d{0,3})\/([1-9]\d{0,3})$/.exec(text);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index <= count && count <= MAX_SHARDS ? { index, count } : undefined;
}

/** The shard (1..count) a unit of work belongs to: FNV-1a (32 bits) of its identity, modulo count. */
export function shardOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, "utf8")) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % count) + 1;
}

/** Whether a unit of work is this shard's (every unit is, without --shard). */
export const inShard = (shard: Shard | undefined, key: string): boolean => !shard || shardOf(key, shard.count) === shard.index;

/**
 * The identities of a file's expectations: the file, the expectation as written (canonical JSON)
 * and, for equal ones, which occurrence it is. Neither its position nor the other expectations
 * move it to another shard.
 */
export function expectationKeys(file: string, expect: readonly unknown[]): string[] {
  const seen = new Map<string, number>();
  return expect.map((e) => {
    const text = JSON.stringify(e);
    const n = seen.get(text) ?? 0;
    seen.set(text, n + 1);
    return `${file}\n${text}\n${n}`;
  });
}

/** A digest of what a run read (file names and their parsed documents): shards of different inputs do not merge. */
export function inputsDigest(parts: readonly { readonly file: string; readonly docs: readonly unknown[] }[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(JSON.stringify([p.file, ...p.docs]));
  return h.digest("hex").slice(0, 16);
}

export type ShardedCommand = "verify" | "matrix" | "exposure";

/** What a shard's output says about itself. `ordinals[i]` is the position of its i-th reported unit among all `total`. */
export interface Manifest {
  readonly command: ShardedCommand;
  readonly index: number;
  readonly count: number;
  readonly inputs: string;
  readonly total: number;
  readonly ordinals: readonly number[];
}

/** The key a manifest has in JSON outputs (top level) and SARIF (the run's properties). */
export const MANIFEST_KEY = "reachShard";

/** JUnit carries its manifest in a comment after the XML declaration. */
export const JUNIT_MANIFEST = "reach-shard ";

/** Adds the manifest to a JSON output (verify, matrix or exposure). */
export function shardJson(json: string, m: Manifest): string {
  return JSON.stringify({ ...(JSON.parse(json) as object), [MANIFEST_KEY]: m }, null, 2);
}

/** Adds the manifest to a SARIF log, in its run's properties. */
export function shardSarif(sarif: string, m: Manifest): string {
  const log = JSON.parse(sarif) as { runs: { properties?: Record<string, unknown> }[] };
  const run = log.runs[0]!;
  run.properties = { ...run.properties, [MANIFEST_KEY]: m };
  return JSON.stringify(log, null, 2);
}

/** Adds the manifest to a JUnit report, as a comment after the XML declaration. */
export function shardJunit(xml: string, m: Manifest): string {
  const end = xml.startsWith("<?xml") ? xml.indexOf("?>") + 2 : 0;
  return `${xml.slice(0, end)}\n<!--${JUNIT_MANIFEST}${JSON.stringify(m)}-->${xml.slice(end)}`;
}
