/**
 * Decisions remembered with exactly what they read, for `reach verify --watch`.
 *
 * A decision (query/engine.ts `answerQuery`: the verdict, its witness and its explanation) is a
 * function of the query, the engine options and the parts of the lowered network it looks at.
 * Instead of guessing those parts in advance (a "slice" by shared segments misses links that are
 * no segment, such as a VirtualBox forward handing packets to its NAT engine), the decision is run
 * on a view of the network that records every read: each field of every object and each
 * element and length of every list, down to objects of plain values (an address, a port range, a
 * position), which are taken whole, as a digest. After an edit the new network is asked the same reads; when
 * every one gives the same digest, the decision would read the same values and take the same
 * steps, so its earlier answer is the answer, byte for byte. A read that differs re-decides it.
 *
 * Not remembered: unknown answers and explanations cut at --timeout (they depend on time, not
 * only on what was read), and errors (a Disagreement is raised again on the next run).
 */
import { createHash } from "node:crypto";
import type { Network } from "../ir/types.js";
import { formatQuery, type Query } from "../ir/query.js";
import { answerQuery, type Decided, type EngineOptions } from "../query/engine.js";

type Key = string;
type Kind = "get" | "has" | "keys";

/** One read of a decision: where (a path of keys from the network), how, and the digest of what it gave. */
interface Read {
  readonly path: readonly Key[];
  readonly kind: Kind;
  readonly digest: string;
}

interface Entry {
  readonly reads: readonly Read[];
  readonly decided: Decided;
}

/** Entries kept per question (an edit undone finds the answer it had before). */
const KEEP = 4;

/** Digests of values, by identity (the IR is immutable: a value's digest never changes). */
const digests = new WeakMap<object, string>();

/** A canonical digest of a value: the same for equal values (keys in sorted order), whatever object holds them. */
export function digestOf(v: unknown): string {
  if (v === null || typeof v !== "object") {
    if (typeof v === "bigint") return `n${v}`;
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "function") throw new Error("internal: a function in the network");
    return `${typeof v}:${String(v)}`;
  }
  const known = digests.get(v);
  if (known !== undefined) return known;
  const body = Array.isArray(v)
    ? `[${v.map(digestOf).join(",")}]`
    : `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${digestOf((v as Record<string, unknown>)[k])}`)
        .join(",")}}`;
  // short bodies (an address, a port range, a position) are their own digest
  const d = body.length <= 64 ? body : createHash("sha1").update(body).digest("base64");
  digests.set(v, d);
  return d;
}

/** The value at `path` of the network, read plainly. */
function valueAt(net: Network, path: readonly Key[]): unknown {
  let v: unknown = net;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/**
 * Objects holding other objects are viewed (their fields are reads of their own); an object of
 * plain values only (an address, a port range, a position) is read whole.
 */
const viewed = (v: unknown): v is object => {
  if (v === null || typeof v !== "object") return false;
  let known = holders.get(v);
  if (known === undefined) holders.set(v, (known = Object.values(v).some((x) => x !== null && typeof x === "object")));
  return known;
};
const holders = new WeakMap<object, boolean>();

/** What a read gives, as a digest: for a viewed object only its shape (its fields are reads of their own). */
function readDigest(kind: Kind, value: unknown, key: Key | undefined): string {
  if (kind === "keys") return JSON.stringify(Reflect.ownKeys(value as object).map(String));
  if (kind === "has") return String(key !== undefined && value !== null && typeof value === "object" && key in value);
  if (viewed(value)) return Array.isArray(value) ? "array" : "object";
  return digestOf(value);
}

/** A view of a network that records what is read through it, until `stop()`. */
function recorder(net: Network): { view: Network; reads: () => Read[]; stop: () => void } {
  const reads: Read[] = [];
  let live = true;
  const views = new WeakMap<object, object>();
  const view = <T extends object>(target: T, path: readonly Key[]): T => {
    const known = views.get(target);
    if (known) return known as T;
    // each read is noted once per object (the network is immutable: a second read gives the same)
    const seen = new Set<string>();
    const note = (kind: Kind, key: Key | undefined, digest: () => string) => {
      const id = `${kind}:${key ?? ""}`;
      if (!live || seen.has(id)) return;
      seen.add(id);
      reads.push({ path: key === undefined ? path : [...path, key], kind, digest: digest() });
    };
    // what each field gave, so that the hot loops of the engines pay one lookup per read after the first
    const given = new Map<string, unknown>();
    const p = new Proxy(target, {
      get(t, key, receiver) {
        if (typeof key === "symbol") return Reflect.get(t, key, receiver);
        if (given.has(key)) return given.get(key);
        const v: unknown = Reflect.get(t, key, receiver);
        if (typeof v !== "function") note("get", key, () => readDigest("get", v, key));
        const out = typeof v !== "function" && viewed(v) ? view(v, [...path, key]) : v;
        // a read after stop() is not noted: keep it out of the memo, so that it is not skipped later
        if (live) given.set(key, out);
        return out;
      },
      has(t, key) {
        if (typeof key !== "symbol") note("has", key, () => readDigest("has", t, key));
        return Reflect.has(t, key);
      },
      ownKeys(t) {
        note("keys", undefined, () => readDigest("keys", t, undefined));
        return Reflect.ownKeys(t);
      },
    });
    views.set(target, p);
    return p;
  };
  return { view: view(net, []), reads: () => reads, stop: () => (live = false) };
}

/** The first of an entry's reads that gives another digest on `net` (none: the decision stands). */
function firstChanged(net: Network, reads: readonly Read[]): Read | undefined {
  for (const r of reads) {
    const last = r.path[r.path.length - 1];
    const value = r.kind === "get" ? valueAt(net, r.path) : valueAt(net, r.kind === "has" ? r.path.slice(0, -1) : r.path);
    if (readDigest(r.kind, value, last) !== r.digest) return r;
  }
  return undefined;
}

/** A read in words, by the name of the machine or segment it is in: "machine web: sockets[0].port". */
function readText(net: Network, r: Read): string {
  const [top, index, ...rest] = r.path;
  const el = valueAt(net, [top ?? "", index ?? ""]) as { name?: unknown } | undefined;
  const head =
    (top === "machines" || top === "segments") && el?.name !== undefined
      ? `${top.slice(0, -1)} ${String(el.name)}: `
      : `${top}${index !== undefined ? `[${index}]` : ""}.`;
  const tail = rest.map((k, i) => (/^\d+$/.test(k) ? `[${k}]` : `${i ? "." : ""}${k}`)).join("");
  return `${head}${tail}${r.kind === "keys" ? " (its keys)" : ""}`;
}

/** A remembered decision is worth keeping only when it did not depend on the clock. */
const timeless = (d: Decided): boolean => d.answer.verdict !== "unknown" && !d.answer.cut && !d.report.note?.includes("--timeout");

export interface CacheStats {
  /** decisions answered from memory */
  readonly reused: number;
  /** decisions made */
  readonly decided: number;
  /** for each decision made again: its query and the first thing it read that changed */
  readonly why: readonly string[];
}

export class DecisionCache {
  private readonly entries = new Map<string, Entry[]>();
  private reused = 0;
  private decidedCount = 0;
  private why: string[] = [];

  constructor(private readonly decide: (net: Network, q: Query, opts: EngineOptions) => Promise<Decided> = answerQuery) {}

  /** How many decisions were reused and made since the last call (then counting starts again). */
  take(): CacheStats {
    const s = { reused: this.reused, decided: this.decidedCount, why: this.why };
    this.reused = 0;
    this.decidedCount = 0;
    this.why = [];
    return s;
  }

  /** The answer to `q` on `net`: the remembered one when everything it read is unchanged, else a new decision. */
  async answer(net: Network, q: Query, opts: EngineOptions): Promise<Decided> {
    const key = `${formatQuery(q)}\u0000${JSON.stringify([opts.engine, opts.timeoutMs, opts.explain ?? true, opts.smt2 ?? false])}`;
    const list = this.entries.get(key) ?? [];
    const changed: Read[] = [];
    for (const e of list) {
      const c = firstChanged(net, e.reads);
      if (!c) {
        this.reused++;
        return e.decided;
      }
      changed.push(c);
    }
    // why it is decided again: what the latest earlier decision read that is not the same now
    if (changed[0]) this.why.push(`${formatQuery(q)}: ${readText(net, changed[0])}`);
    const rec = recorder(net);
    let decided: Decided;
    try {
      decided = await this.decide(rec.view, q, opts);
    } finally {
      rec.stop();
    }
    this.decidedCount++;
    if (timeless(decided)) this.entries.set(key, [{ reads: rec.reads(), decided }, ...list].slice(0, KEEP));
    return decided;
  }
}
