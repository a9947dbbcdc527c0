/**
 * Decisions remembered with exactly what they read, for `reach verify --watch`.
 *
 * A decision (query/engine.ts `answerQuery`: the verdict, its witness and its explanation) is a
 * function of the query, the engine options and the parts of the lowered network it looks at.
 * Instead of guessing those parts in advance (a "slice" by shared segments misses links that are
 * no segment, such as a VirtualBox forward handing packets to its NAT engine), the decision is run
 * on a view of the network that records every read: each field of every object and each element
 * of every list, the keys of each object it goes into, down to objects of plain values (an
 * address, a port range, a position), which are taken whole, as a digest. The reads form a tree
 * (an object two places share is checked at both), each object with the digest of its whole
 * content. After an edit the new network is asked the same reads, from the root down: an object
 * whose whole digest is the same gives every read below it the same (a text edit stops at the
 * root), and otherwise each of its reads is compared. When every one gives the same, the decision
 * would read the same values and take the same steps, so its earlier answer is the answer, byte
 * for byte. A read that differs re-decides it.
 *
 * Not remembered: unknown answers and explanations cut at --timeout (they depend on time, not
 * only on what was read), and errors (a Disagreement is raised again on the next run).
 */
import { createHash } from "node:crypto";
import type { Network } from "../ir/types.js";
import { formatQuery, type Query } from "../ir/query.js";
import { answerQuery, type Decided, type EngineOptions } from "../query/engine.js";

type Key = string;
type Kind = "get" | "keys";

/** What a "get" gave: a primitive as it is, an object of plain values as its digest, an object holding objects as its shape. */
interface Gave {
  readonly key: Key;
  /** true: `seen` is a digest ("array"/"object" for a viewed object); false: the primitive itself */
  readonly whole: boolean;
  readonly seen: unknown;
}

/**
 * What one decision read of one object of the network: the fields it read (each the first time),
 * the object's keys (what `in`, `Object.keys` and a read of a missing field depend on), and the
 * objects it went on into through a field. `digest` is the digest of the whole object (keys in
 * their order) when it was read: when the object at the same place now has the same one, every
 * read below it gives what it gave.
 */
interface Node {
  digest: string;
  keys: string;
  readonly gets: Gave[];
  /** the fields read that hold objects, each with what was read of that object */
  readonly kids: { readonly key: Key; readonly node: Node }[];
}

/** A read that gives something else now: where, and how. */
interface Changed {
  readonly path: readonly Key[];
  readonly kind: Kind;
}

interface Entry {
  readonly reads: Node;
  readonly decided: Decided;
}

/** Entries kept per question (an edit undone finds the answer it had before). */
const KEEP = 4;

/** Digests of values, by identity (the IR is immutable: a value's digest never changes). */
const digests = new WeakMap<object, string>();
const orderedDigests = new WeakMap<object, string>();

/** A canonical digest of a value: the same for equal values (keys in sorted order), whatever object holds them. */
export function digestOf(v: unknown): string {
  return digestWith(v, digests, (o) => Object.keys(o).sort());
}

/** A digest that also tells the order of each object's keys (what `Object.keys` of a view gives). */
export function orderedDigestOf(v: unknown): string {
  return digestWith(v, orderedDigests, (o) => Object.keys(o));
}

function digestWith(v: unknown, memo: WeakMap<object, string>, keysOf: (o: object) => string[]): string {
  if (v === null || typeof v !== "object") {
    if (typeof v === "bigint") return `n${v}`;
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "function") throw new Error("internal: a function in the network");
    return `${typeof v}:${String(v)}`;
  }
  const known = memo.get(v);
  if (known !== undefined) return known;
  // an origin that finds its span when read (src/lower/context.ts FileOrigin): digested as it prints, span included
  if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
    const d = digestWith((v as { toJSON: () => unknown }).toJSON(), memo, keysOf);
    memo.set(v, d);
    return d;
  }
  const body = Array.isArray(v)
    ? `[${v.map((x) => digestWith(x, memo, keysOf)).join(",")}]`
    : `{${keysOf(v)
        .map((k) => `${JSON.stringify(k)}:${digestWith((v as Record<string, unknown>)[k], memo, keysOf)}`)
        .join(",")}}`;
  // short bodies (an address, a port range, a position) are their own digest
  const d = body.length <= 64 ? body : createHash("sha1").update(body).digest("base64");
  memo.set(v, d);
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

/** What a field gives, as a read keeps it. */
function gave(key: Key, v: unknown): Gave {
  if (v === null || typeof v !== "object") return { key, whole: false, seen: v };
  return { key, whole: true, seen: viewed(v) ? (Array.isArray(v) ? "array" : "object") : digestOf(v) };
}

const sameGave = (g: Gave, v: unknown): boolean => {
  const now = gave(g.key, v);
  return now.whole === g.whole && (now.seen === g.seen || (now.seen !== now.seen && g.seen !== g.seen));
};

/** An object's keys in their order, as text (by identity, like the digests). */
const keysText = (o: object): string => {
  let k = keyTexts.get(o);
  if (k === undefined) keyTexts.set(o, (k = JSON.stringify(Reflect.ownKeys(o).map(String))));
  return k;
};
const keyTexts = new WeakMap<object, string>();

/**
 * A view of a network that records what is read through it, until `stop()`: a copy of each
 * object the decision goes into (made when it first goes in: one copy per object, so identity is
 * kept), whose fields are getters that note the field the first time it is read and then become
 * the plain value (the hot loops of the engines read the copy at full speed after that). An object
 * reached by two paths is one copy, and each path is an edge of the tree of reads, so that every
 * place it is read from is checked later. The keys of each object gone into are noted whole (what
 * `in`, `Object.keys` and a read of a field it lacks depend on).
 */
function recorder(net: Network): { view: Network; reads: () => Node; stop: () => void } {
  let live = true;
  const nodes = new Map<object, Node>();
  const views = new WeakMap<object, object>();
  const nodeOf = (target: object): Node => {
    // after stop() nothing is noted: a view made then gets a node of its own that no tree holds
    if (!live) return { digest: "", keys: "", gets: [], kids: [] };
    let n = nodes.get(target);
    if (!n) nodes.set(target, (n = { digest: "", keys: "", gets: [], kids: [] }));
    return n;
  };
  const view = <T extends object>(target: T): T => {
    const known = views.get(target);
    if (known) return known as T;
    const node = nodeOf(target);
    const copy = (Array.isArray(target) ? new Array<unknown>(target.length) : {}) as Record<string, unknown>;
    views.set(target, copy);
    for (const key of Object.keys(target)) {
      const get = () => {
        const v = (target as Record<string, unknown>)[key];
        const holder = viewed(v);
        if (live) {
          node.gets.push(gave(key, v));
          if (holder) node.kids.push({ key, node: nodeOf(v) });
        }
        const out = holder ? view(v) : v;
        Object.defineProperty(copy, key, { value: out, enumerable: true, configurable: true, writable: false });
        return out;
      };
      Object.defineProperty(copy, key, { get, enumerable: true, configurable: true });
    }
    return copy as T;
  };
  const root = view(net);
  const stop = () => {
    live = false;
    for (const [target, n] of nodes) {
      n.digest = orderedDigestOf(target);
      n.keys = keysText(target);
    }
    nodes.clear();
  };
  const tree = nodeOf(net);
  return { view: root, reads: () => tree, stop };
}

/**
 * The first read below `node` that gives something else on `value` (the object now at the same
 * place), depth first in the order the reads were made; none: every read gives the same.
 */
function firstChanged(node: Node, value: unknown, path: readonly Key[]): Changed | undefined {
  if (value === null || typeof value !== "object") return { path, kind: "get" };
  // the same whole object (keys in the same order): every read of it and below gives the same
  if (orderedDigestOf(value) === node.digest) return undefined;
  const fields = value as Record<string, unknown>;
  for (const g of node.gets) if (!sameGave(g, fields[g.key])) return { path: [...path, g.key], kind: "get" };
  if (keysText(value) !== node.keys) return { path, kind: "keys" };
  for (const k of node.kids) {
    const c = firstChanged(k.node, fields[k.key], [...path, k.key]);
    if (c) return c;
  }
  return undefined;
}

/** A read in words, by the name of the machine or segment it is in: "machine web: sockets[0].port". */
function readText(net: Network, r: Changed): string {
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

export interface CacheOptions {
  /**
   * Decide on the network itself (at full speed, with the engines' per-network indexes shared by
   * all questions of the run), and record what each decision reads later, in `settle()`: watch
   * mode prints the results first and records after.
   */
  readonly defer?: boolean;
}

/** A decision made on the network itself, whose reads `settle()` is still to record. */
interface Pending {
  readonly key: string;
  readonly net: Network;
  readonly q: Query;
  readonly opts: EngineOptions;
  /** the decision whose answer was printed */
  readonly printed?: Decided;
}

/** Two decisions print the same: their answers and engine reports are equal (Z3's timings aside). */
const samePrinted = (a: Decided, b: Decided): boolean => {
  try {
    return digestOf([a.answer, a.report]) === digestOf([b.answer, b.report]);
  } catch {
    return false;
  }
};

export class DecisionCache {
  private readonly entries = new Map<string, Entry[]>();
  private reused = 0;
  private decidedCount = 0;
  private why: string[] = [];
  private pending: Pending[] = [];
  /** deferred decisions of the latest network, not yet recorded: asked again on the same network, they are reused */
  private readonly fresh = new Map<string, { readonly net: Network; readonly decided: Decided }>();

  constructor(
    private readonly decide: (net: Network, q: Query, opts: EngineOptions) => Promise<Decided> = answerQuery,
    private readonly options: CacheOptions = {},
  ) {}

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
    const now = this.fresh.get(key);
    if (now && now.net === net) {
      this.reused++;
      return now.decided;
    }
    const list = this.entries.get(key) ?? [];
    const changed: Changed[] = [];
    for (const e of list) {
      const c = firstChanged(e.reads, net, []);
      if (!c) {
        this.reused++;
        return e.decided;
      }
      changed.push(c);
    }
    // why it is decided again: what the latest earlier decision read that is not the same now
    if (changed[0]) this.why.push(`${formatQuery(q)}: ${readText(net, changed[0])}`);
    this.decidedCount++;
    if (!this.options.defer) return this.record({ key, net, q, opts });
    const decided = await this.decide(net, q, opts);
    if (timeless(decided)) {
      this.fresh.set(key, { net, decided });
      this.pending.push({ key, net, q, opts, printed: decided });
    }
    return decided;
  }

  /**
   * Records what the deferred decisions made since the last call read: each is decided again on a
   * recording view, and that decision and its reads are remembered when it prints what the first
   * did (Z3 may pick another of several valid witnesses: then it is left out, and so is one that
   * fails now; either is decided again when next asked, so a reused answer is the one shown last).
   * `enough()`, asked before each, ends it early (a new save, Ctrl-C): the rest are not recorded.
   */
  async settle(enough: () => boolean = () => false): Promise<void> {
    const jobs = this.pending;
    this.pending = [];
    this.fresh.clear();
    for (const job of jobs) {
      if (enough()) return;
      await this.record(job).catch(() => undefined);
    }
  }

  /** A decision on a recording view, remembered with its reads unless it depended on the clock or differs from the one printed. */
  private async record({ key, net, q, opts, printed }: Pending): Promise<Decided> {
    const rec = recorder(net);
    let decided: Decided;
    try {
      decided = await this.decide(rec.view, q, opts);
    } finally {
      rec.stop();
    }
    if (timeless(decided) && (!printed || samePrinted(printed, decided)))
      this.entries.set(key, [{ reads: rec.reads(), decided }, ...(this.entries.get(key) ?? [])].slice(0, KEEP));
    return decided;
  }
}
