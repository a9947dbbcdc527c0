/**
 * Reading the Docker importers' inputs (Compose YAML, `docker inspect` JSON) with the
 * `yaml` package (JSON is YAML 1.2), so every value has its position for diagnostics.
 */
import { basename } from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from "yaml";
import { diagnostic, type Code, type Span } from "../diagnostics/diagnostic.js";
import type { Entry, Out } from "./docker-types.js";
import type { Source } from "./types.js";

/**
 * The reader each node was parsed by: Compose files merged from several files (and the files
 * `extends:` names) mix nodes of several documents, and a node's position and aliases are those
 * of its own document. Nodes the merge builds are registered with the reader of their first part.
 */
const OWNERS = new WeakMap<object, Reader>();

/** Registers a node built from parts of parsed documents with the reader of `like` (its position, its aliases). */
export function adopt<T extends object>(node: T, like: unknown): T {
  const owner = like !== null && typeof like === "object" ? OWNERS.get(like) : undefined;
  if (owner) OWNERS.set(node, owner);
  const range = like !== null && typeof like === "object" ? (like as { range?: [number, number, number] }).range : undefined;
  if (range) (node as { range?: [number, number, number] }).range = range;
  return node;
}

/** One parsed source: node access that follows aliases and `<<` merge keys, and positions. */
export class Reader {
  private readonly lc = new LineCounter();
  private readonly text: string;
  readonly doc: Document.Parsed;
  /** The mapping read as the file's top level: the document's, or the merge of several files (docker-compose-merge.ts). */
  root: unknown;

  constructor(
    readonly src: Source,
    readonly out: Out,
    /** Variables for Compose's interpolation: from the env files the user named, nothing else. */
    readonly env: ReadonlyMap<string, string> = new Map(),
    /** Compose profiles to enable; undefined: every service, whatever its profiles. */
    readonly profiles?: readonly string[],
  ) {
    // a byte order mark is not part of the first line's columns
    this.text = src.text.startsWith("\uFEFF") ? src.text.slice(1) : src.text;
    this.doc = parseDocument(this.text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
    this.root = this.doc.contents;
    visit(this.doc, {
      Node: (_, n) => {
        OWNERS.set(n, this);
      },
      Pair: (_, p) => {
        if (p.key !== null && typeof p.key === "object") OWNERS.set(p.key, this);
      },
    });
  }

  /** The reader that parsed `node` (this one for a node of no registered document). */
  ownerOf(node: unknown): Reader {
    return (node !== null && typeof node === "object" ? OWNERS.get(node) : undefined) ?? this;
  }

  spanOf(offset: number): Span {
    const p = this.lc.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { file: this.src.file, line: Math.max(1, p.line), col: Math.max(1, p.col) };
  }

  span(node: unknown): Span {
    const owner = this.ownerOf(node);
    if (owner !== this) return owner.span(node);
    const range = node !== null && typeof node === "object" ? (node as { range?: readonly number[] }).range : undefined;
    return this.spanOf(range?.[0] ?? 0);
  }

  /** Syntax errors of the document as RCH055 (at most five); true when there were any. */
  syntaxErrors(what: string): boolean {
    for (const e of this.doc.errors.slice(0, 5)) {
      this.out.diags.push(
        diagnostic("RCH055", this.spanOf(e.pos[0]), `malformed ${what}: ${e.message.split("\n")[0]}`, {
          expected: `a well-formed ${what}`,
        }),
      );
    }
    return this.doc.errors.length > 0;
  }

  /** A note said once. */
  note(text: string): void {
    if (!this.out.notes.includes(text)) this.out.notes.push(text);
  }

  /** `FILE:LINE:COL` of a node, for notes. */
  where(node: unknown): string {
    const s = this.span(node);
    return `${basename(s.file)}:${s.line}:${s.col}`;
  }

  warn(node: unknown, message: string, expected: string): void {
    const span = this.span(node);
    // a node read twice (a merged file's top level) is said once
    if (
      this.out.diags.some((d) => d.message === message && d.span.line === span.line && d.span.col === span.col && d.span.file === span.file)
    )
      return;
    this.out.diags.push(diagnostic("RCH051", this.span(node), message, { expected, severity: "warning" }));
  }

  error(code: Code, node: unknown, message: string, expected: string): void {
    this.out.diags.push(diagnostic(code, this.span(node), message, { expected }));
  }

  /** The node an alias stands for (aliases of aliases too); undefined when it names no anchor. */
  deref(node: unknown): unknown {
    let n = node;
    for (let i = 0; i < 16 && isAlias(n); i++) n = n.resolve(this.ownerOf(n).doc);
    return n;
  }

  /**
   * A mapping's entries in file order, or undefined when the node is not a mapping.
   * `<<: *anchor` (YAML merge keys, common in Compose files) adds the anchored
   * mapping's entries that the mapping does not set itself; each mapping is merged
   * once (`seen`), so nested merges cannot blow up.
   */
  entries(node: unknown, seen = new Set<unknown>()): Entry[] | undefined {
    const m = this.deref(node);
    if (!isMap(m)) return undefined;
    seen.add(m);
    const own: Entry[] = [];
    const merged: Entry[] = [];
    for (const pair of m.items) {
      const k = this.deref(pair.key);
      if (!isScalar(k) || (typeof k.value !== "string" && typeof k.value !== "number")) {
        this.warn(pair.key ?? m, "a mapping key that is not a plain value", "keys that are strings");
        continue;
      }
      const key = String(k.value);
      if (key === "<<") {
        const v = this.deref(pair.value);
        for (const item of isSeq(v) ? v.items : [v]) {
          const target = this.deref(item);
          if (!seen.has(target)) merged.push(...(this.entries(target, seen) ?? []));
        }
        continue;
      }
      own.push({ key, keyNode: pair.key, value: pair.value });
    }
    const keys = new Set(own.map((e) => e.key));
    for (const e of merged) {
      if (!keys.has(e.key)) {
        keys.add(e.key);
        own.push(e);
      }
    }
    return own;
  }

  get(node: unknown, key: string): unknown {
    return this.entries(node)?.find((e) => e.key === key)?.value;
  }

  items(node: unknown): unknown[] | undefined {
    const s = this.deref(node);
    return isSeq(s) ? s.items : undefined;
  }

  /** A scalar's value (null for an empty value), or undefined when the node is not a scalar. */
  scalar(node: unknown): string | number | boolean | null | undefined {
    const s = this.deref(node);
    if (!isScalar(s)) return undefined;
    const v = s.value;
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v === null ? v : undefined;
  }

  string(node: unknown): string | undefined {
    const v = this.scalar(node);
    return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
  }
}
