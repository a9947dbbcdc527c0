/**
 * The fast path of loading (issue 19): a reader for the plain subset of YAML that topologies and
 * JSON files are written in (block and flow mappings and lists, one-line plain and quoted
 * scalars, comments), building the value and, beside it, a compact tree of source offsets.
 * Line:col is computed from an offset only when a position is asked for.
 *
 * It gives up (`ok: false`, with why and where) on anything outside that subset (anchors,
 * aliases, tags, block scalars, multi-line scalars, empty values, duplicate keys, keys that are
 * not strings, numbers it does not read exactly as the yaml library does, nesting past
 * PLAIN_DEPTH) and on every syntax error: the loader then reads the file with the yaml library,
 * which has the exact diagnostics. So on what it accepts, the value and every position equal the
 * library's (test/topology/plain.test.ts compares them on every fixture and on random documents).
 */
import type { Span } from "../diagnostics/diagnostic.js";

/**
 * Where every value of a document is, as one tape in document order (a node is a value: its
 * children follow it, and `next` skips its subtree), so that a document of a million values costs
 * a few typed arrays instead of an object per mapping and list. Node 0 is the root.
 */
export class Positions {
  /** where each node's value starts */
  start: Int32Array;
  /** just past a mapping's or list's last character; -1 for a scalar */
  end: Int32Array;
  /** where the key of a mapping's child starts; -1 otherwise */
  keyAt: Int32Array;
  /** the node after this one's subtree */
  next: Int32Array;
  /** 1 a mapping, 2 a list, 0 a scalar */
  kind: Uint8Array;
  /** the key of a mapping's child, as read (the YAML reader); without it, keys are compared in the source (plain JSON keys) */
  readonly keys: (string | undefined)[] | undefined;
  length = 0;
  /** key -> child node, built on the first lookup in a large mapping */
  private readonly index = new Map<number, Map<string, number> | number[]>();

  constructor(
    readonly src: string,
    withKeys: boolean,
  ) {
    const n = Math.max(64, src.length >> 4);
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.keyAt = new Int32Array(n);
    this.next = new Int32Array(n);
    this.kind = new Uint8Array(n);
    this.keys = withKeys ? [] : undefined;
  }

  /** A new node at `start` (the key it is under, if any); returns its index. */
  push(start: number, kind: number, keyAt: number, key: string | undefined): number {
    const n = this.length++;
    if (n === this.start.length) this.grow();
    this.start[n] = start;
    this.end[n] = -1;
    this.keyAt[n] = keyAt;
    this.next[n] = n + 1;
    this.kind[n] = kind;
    if (this.keys) this.keys[n] = key;
    return n;
  }

  /** Closes a mapping or list: where it ends, and that its subtree ends here. */
  close(n: number, end: number): void {
    this.end[n] = end;
    this.next[n] = this.length;
  }

  private grow(): void {
    this.start = twice(this.start);
    this.end = twice(this.end);
    this.keyAt = twice(this.keyAt);
    this.next = twice(this.next);
    this.kind = twice(this.kind);
  }

  /** The child of node `n` at one path segment (a mapping's key, a list's index), or -1. */
  child(n: number, seg: string | number): number {
    const kind = this.kind[n];
    if (kind === 0) return -1;
    // a list's index as a number (lowering's usual step): no text to make
    if (kind === 2 && typeof seg === "number" && Number.isSafeInteger(seg) && seg >= 0) {
      const items = this.index.get(n);
      if (Array.isArray(items)) return items[seg] ?? -1;
    }
    const name = String(seg);
    if (kind === 2 && !(typeof seg === "number" && Number.isSafeInteger(seg) && seg >= 0) && !/^(0|[1-9][0-9]*)$/.test(name)) return -1;
    const big = this.index.get(n);
    if (big) return (big instanceof Map ? big.get(name) : big[Number(name)]) ?? -1;
    let k = kind === 2 ? Number(name) : -1;
    let count = 0;
    let found = -1;
    for (let c = n + 1, last = this.next[n]!; c < last; c = this.next[c]!, count++)
      if (found < 0 && (kind === 2 ? k-- === 0 : this.keyIs(c, name))) {
        found = c;
        if (count <= 8) return c;
      }
    // a large mapping or list: the next lookups in it are one step each
    if (count > 8) this.indexChildren(n);
    return found;
  }

  /** Whether the key of child node c is `name`. */
  private keyIs(c: number, name: string): boolean {
    if (this.keys) return this.keys[c] === name;
    // a plain JSON key: "name" with no escape in it (the JSON reader gives up on others)
    const at = this.keyAt[c]! + 1;
    return this.src.startsWith(name, at) && this.src.charCodeAt(at + name.length) === 34;
  }

  private keyText(c: number): string {
    if (this.keys) return this.keys[c]!;
    const at = this.keyAt[c]! + 1;
    return this.src.slice(at, this.src.indexOf('"', at));
  }

  private indexChildren(n: number): void {
    if (this.kind[n] === 2) {
      const items: number[] = [];
      for (let c = n + 1, last = this.next[n]!; c < last; c = this.next[c]!) items.push(c);
      this.index.set(n, items);
      return;
    }
    const m = new Map<string, number>();
    for (let c = n + 1, last = this.next[n]!; c < last; c = this.next[c]!) m.set(this.keyText(c), c);
    this.index.set(n, m);
  }
}

export type PlainResult =
  | { readonly ok: true; readonly value: unknown; readonly pos: Positions; readonly values: number }
  | { readonly ok: false; readonly why: string; readonly at: number };

/** Nesting the fast path reads; deeper input goes to the yaml library (a topology needs about 8). */
export const PLAIN_DEPTH = 32;

class GiveUp {
  constructor(
    readonly why: string,
    readonly at: number,
  ) {}
}

const NULLS = new Set(["~", "null", "Null", "NULL"]);
const BOOLS = new Map([
  ["true", true],
  ["True", true],
  ["TRUE", true],
  ["false", false],
  ["False", false],
  ["FALSE", false],
]);
/** Numbers the yaml core schema reads in ways this reader does not copy: left to the library. */
const NUMBERISH =
  /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(0|-?[1-9][0-9]{0,14})$/;
/** Characters that cannot start a plain scalar (or change its meaning) in YAML. */
const INDICATORS = new Set(["&", "*", "!", "|", ">", "%", "@", "`", "?", "#", ",", "[", "]", "{", "}", "'", '"']);
const FLOW_END = new Set([",", "[", "]", "{", "}"]);
/** FLOW_END by character code. */
const flowEnd = (c: number): boolean => c === 44 || c === 91 || c === 93 || c === 123 || c === 125;
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" };

/** A plain scalar's value under the core schema, or GiveUp where this reader does not decide it. */
function resolvePlain(s: string, at: number): unknown {
  // most scalars start with a letter that no null, boolean or number starts with
  const c = s.charCodeAt(0);
  if ((c >= 97 && c <= 122 && c !== 110 && c !== 116 && c !== 102) || (c >= 65 && c <= 90 && c !== 78 && c !== 84 && c !== 70)) return s;
  if (NULLS.has(s)) return null;
  const b = BOOLS.get(s);
  if (b !== undefined) return b;
  if (INT.test(s)) return Number(s);
  if (c !== 126 && NUMBERISH.test(s)) throw new GiveUp("a number the fast reader leaves to the yaml library", at);
  return s;
}

class Reader {
  i = 0;
  /** where the last key read starts */
  keyStart = 0;
  values = 0;
  readonly pos: Positions;
  /** the key the next node is under (its offset, or -1) */
  private keyAt = -1;
  private key_: string | undefined;
  constructor(readonly src: string) {
    this.pos = new Positions(src, true);
  }

  /** The next value is a mapping's, under this key. */
  under(at: number, key: string): void {
    this.keyAt = at;
    this.key_ = key;
  }

  /** A node of the position tape at `start`, under the pending key if there is one. */
  node(start: number, kind: number): number {
    const n = this.pos.push(start, kind, this.keyAt, this.key_);
    this.keyAt = -1;
    this.key_ = undefined;
    return n;
  }

  fail(why: string, at = this.i): never {
    throw new GiveUp(why, at);
  }

  /** The next line with content from offset `from` (at a line's end or start): its indentation and start, or undefined at the end. */
  peekLine(from: number, inFlow = false): { indent: number; start: number } | undefined {
    const s = this.src;
    let p = from;
    for (;;) {
      if (s[p] === "\n") p++;
      const lineStart = p;
      while (s[p] === " ") p++;
      const c = s[p];
      if (c === "\t" || c === "\r") this.fail("a tab or carriage return outside a quoted string", p);
      if (c === undefined) return undefined;
      if (c === "#") {
        // the library wants a space before a comment inside a flow collection, a line break is not enough
        if (inFlow && p === lineStart) this.fail("a comment at a line's start inside a flow collection", p);
        const nl = s.indexOf("\n", p);
        if (nl < 0) return undefined;
        p = nl;
        continue;
      }
      if (c === "\n") continue;
      if (p === lineStart && (s.startsWith("---", p) || s.startsWith("...", p) || c === "%"))
        this.fail("a document marker or directive", p);
      return { indent: p - lineStart, start: p };
    }
  }

  /** After a value on a line: spaces, perhaps a comment, then the line's end. */
  endOfLine(): void {
    const s = this.src;
    while (s[this.i] === " ") this.i++;
    if (s[this.i] === "#" && s[this.i - 1] === " ") {
      const nl = s.indexOf("\n", this.i);
      this.i = nl < 0 ? s.length : nl;
    }
    if (this.i < s.length && s[this.i] !== "\n") this.fail("more after a value on its line");
  }

  root(): unknown {
    const first = this.peekLine(0);
    if (!first) this.fail("an empty document", 0);
    this.i = first.start;
    const c = this.src[this.i];
    const r = c === "{" || c === "[" ? this.flow(-1, 1) : this.blockNode(first.indent, 1);
    if (c === "{" || c === "[") this.endOfLine();
    if (this.peekLine(this.i)) this.fail("content after the document's end", this.peekLine(this.i)!.start);
    return r;
  }

  /** A block mapping or list starting at this.i, in column `indent`. */
  blockNode(indent: number, depth: number): unknown {
    if (depth > PLAIN_DEPTH) this.fail(`nesting deeper than ${PLAIN_DEPTH} levels`);
    const s = this.src;
    if (s[this.i] === "-" && (s[this.i + 1] === " " || s[this.i + 1] === "\n" || this.i + 1 === s.length))
      return this.blockSeq(indent, depth);
    if (this.isKeyLine(this.i)) return this.blockMap(indent, depth);
    return this.fail("a scalar on a line of its own");
  }

  /** Whether a `key:` starts at p (on this line). */
  isKeyLine(p: number): boolean {
    const s = this.src;
    if (s[p] === '"' || s[p] === "'") {
      const close = this.quoteEnd(p);
      let q = close + 1;
      while (s[q] === " ") q++;
      return s[q] === ":" && (s[q + 1] === " " || s[q + 1] === "\n" || q + 1 === s.length);
    }
    for (let q = p; q < s.length && s[q] !== "\n"; q++) {
      if (s[q] === "#" && s[q - 1] === " ") return false;
      if (s[q] === ":" && (s[q + 1] === " " || s[q + 1] === "\n" || q + 1 === s.length)) return true;
    }
    return false;
  }

  /** The offset of the closing quote of the quoted scalar at p, on the same line. */
  quoteEnd(p: number): number {
    const s = this.src;
    const q = s[p]!;
    for (let k = p + 1; k < s.length; k++) {
      const c = s[k];
      if (c === "\n") break;
      if (q === '"' && c === "\\") {
        if (s[k + 1] === "\n" || k + 1 === s.length) break;
        k++;
      } else if (c === q) {
        if (q === "'" && s[k + 1] === "'") k++;
        else return k;
      }
    }
    return this.fail("a quoted string that does not end on its line", p);
  }

  quoted(): string {
    const s = this.src;
    const p = this.i;
    const end = this.quoteEnd(p);
    this.i = end + 1;
    const body = s.slice(p + 1, end);
    if (s[p] === "'") return body.includes("''") ? body.replaceAll("''", "'") : body;
    if (!body.includes("\\")) return body;
    return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (m, e: string) => {
      if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
      const r = ESCAPES[e];
      return r ?? this.fail(`the escape ${m}`, p);
    });
  }

  /** A mapping's key and its ':'; where the key starts is left in keyStart. */
  key(): string {
    const s = this.src;
    const at = this.i;
    this.keyStart = at;
    let key: string;
    if (s[at] === '"' || s[at] === "'") key = this.quoted();
    else {
      let q = at;
      for (;;) {
        const d = s.charCodeAt(q); // NaN past the end
        if (d === 58) {
          // ':' then a space, a line's end, the text's end or a flow indicator ends the key; any other ':' is not read here
          const e = s.charCodeAt(q + 1);
          if (e === 32 || e === 10 || q + 1 === s.length || flowEnd(e)) break;
          this.fail("a key the fast reader does not read", at);
        }
        if (q >= s.length || d === 10 || d === 9 || flowEnd(d)) this.fail("a key the fast reader does not read", at);
        q++;
      }
      const text = s.slice(at, q).trimEnd();
      if (!text || INDICATORS.has(text[0]!) || text[0] === "-" || text.includes(" #")) this.fail("a key the fast reader does not read", at);
      const v = resolvePlain(text, at);
      if (typeof v !== "string") this.fail("a key that is not a string", at);
      key = v;
      this.i = q;
    }
    while (s[this.i] === " ") this.i++;
    if (s[this.i] !== ":") this.fail("a key without ':'", this.i);
    this.i++;
    if (key === "__proto__") this.fail("the key __proto__", at);
    return key;
  }

  blockMap(indent: number, depth: number): unknown {
    const obj: Record<string, unknown> = {};
    const n = this.node(this.i, 1);
    this.values++;
    for (;;) {
      const key = this.key();
      const at = this.keyStart;
      if (Object.hasOwn(obj, key)) this.fail("a duplicate key", at);
      this.under(at, key);
      obj[key] = this.afterIndicator(indent, depth, true);
      const next = this.peekLine(this.i);
      if (!next || next.indent < indent) {
        this.pos.close(n, this.i);
        return obj;
      }
      if (next.indent > indent) this.fail("a line indented deeper than its mapping's keys", next.start);
      if (this.src[next.start] === "-") this.fail("a list item among a mapping's keys", next.start);
      this.i = next.start;
    }
  }

  blockSeq(indent: number, depth: number): unknown {
    const arr: unknown[] = [];
    const n = this.node(this.i, 2);
    this.values++;
    for (;;) {
      this.i++; // the '-'
      arr.push(this.afterIndicator(indent, depth, false));
      const end = this.i;
      const next = this.peekLine(this.i);
      if (!next || next.indent < indent) {
        this.pos.close(n, end);
        return arr;
      }
      if (next.indent > indent) this.fail("a line indented deeper than its list's items", next.start);
      const s = this.src;
      const p = next.start;
      if (!(s[p] === "-" && (s[p + 1] === " " || s[p + 1] === "\n" || p + 1 === s.length))) {
        this.pos.close(n, end);
        return arr; // the parent mapping's next key
      }
      this.i = p;
    }
  }

  /**
   * The value after a mapping's ':' or a list's '-': on the same line (a scalar, a flow
   * collection, or in a list a compact mapping), or on the lines below, indented deeper (or, for
   * a mapping's value, a list at the mapping's own indentation).
   */
  afterIndicator(indent: number, depth: number, inMap: boolean): unknown {
    const s = this.src;
    const start = this.i;
    while (s[this.i] === " ") this.i++;
    const c = s[this.i];
    if (c === "\t") this.fail("a tab");
    if (this.i === s.length || c === "\n" || (c === "#" && this.i > start)) {
      this.endOfLine();
      const next = this.peekLine(this.i);
      const listHere = next && next.indent === indent && inMap && s[next.start] === "-" && s[next.start + 1] === " ";
      if (!next || (next.indent <= indent && !listHere)) return this.fail("an empty value", start);
      this.i = next.start;
      return this.blockNode(next.indent, depth + 1);
    }
    if (this.i === start) this.fail("no space after ':' or '-'");
    if (c === "{" || c === "[") {
      const r = this.flow(indent, depth + 1);
      this.endOfLine();
      return r;
    }
    if (c === '"' || c === "'") {
      const o = this.i;
      if (inMap || !this.isKeyLine(o)) {
        this.node(o, 0);
        const value = this.quoted();
        this.values++;
        this.endOfLine();
        return value;
      }
    }
    if (!inMap && this.isKeyLine(this.i)) {
      if (depth + 1 > PLAIN_DEPTH) this.fail(`nesting deeper than ${PLAIN_DEPTH} levels`);
      return this.blockMap(this.i - this.lineStart(this.i), depth + 1);
    }
    return this.blockScalar();
  }

  lineStart(p: number): number {
    return this.src.lastIndexOf("\n", p - 1) + 1;
  }

  /** A one-line plain scalar in block context. */
  blockScalar(): unknown {
    const s = this.src;
    const o = this.i;
    const c = s[o]!;
    if (INDICATORS.has(c) || ((c === "-" || c === ":") && (s[o + 1] === undefined || s[o + 1] === " " || s[o + 1] === "\n")))
      this.fail("a value the fast reader does not read", o);
    let q = o;
    for (; q < s.length; q++) {
      const d = s.charCodeAt(q);
      if (d === 10) break;
      if (d === 35 && s.charCodeAt(q - 1) === 32) break; // ' #'
      if (d === 9 || d === 13 || d === 91 || d === 93 || d === 123 || d === 125) this.fail("a value the fast reader does not read", o);
      if (d === 58) {
        const e = s.charCodeAt(q + 1);
        if (e === 32 || e === 10 || q + 1 === s.length) this.fail("a ': ' inside a value", q);
      }
    }
    this.i = q;
    this.endOfLine();
    this.values++;
    this.node(o, 0);
    return resolvePlain(s.slice(o, q).trimEnd(), o);
  }

  /** Spaces, line breaks and comments between the tokens of a flow collection; lines below `indent` give up. */
  flowSpace(indent: number): void {
    const s = this.src;
    for (;;) {
      const c = s[this.i];
      if (c === " ") this.i++;
      else if (c === "\n") {
        const next = this.peekLine(this.i, true);
        if (!next) return this.fail("a flow collection that does not end");
        if (next.indent <= indent) this.fail("a flow collection's line not indented past its block", next.start);
        this.i = next.start;
      } else if (c === "#" && (s[this.i - 1] === " " || s[this.i - 1] === "\n")) {
        const nl = s.indexOf("\n", this.i);
        this.i = nl < 0 ? s.length : nl;
      } else if (c === "\t" || c === "\r") this.fail("a tab or carriage return");
      else return;
    }
  }

  flow(indent: number, depth: number): unknown {
    if (depth > PLAIN_DEPTH) this.fail(`nesting deeper than ${PLAIN_DEPTH} levels`);
    const s = this.src;
    const isMap = s[this.i] === "{";
    const close = isMap ? "}" : "]";
    const n = this.node(this.i, isMap ? 1 : 2);
    const obj: Record<string, unknown> = {};
    const arr: unknown[] = [];
    this.values++;
    this.i++;
    this.flowSpace(indent);
    if (s[this.i] !== close)
      for (;;) {
        if (isMap) {
          const key = this.key();
          const at = this.keyStart;
          if (Object.hasOwn(obj, key)) this.fail("a duplicate key", at);
          this.flowSpace(indent);
          this.under(at, key);
          obj[key] = this.flowValue(indent, depth);
        } else arr.push(this.flowValue(indent, depth));
        this.flowSpace(indent);
        if (s[this.i] === close) break;
        if (s[this.i] !== ",") this.fail(`'${close}' or ',' expected`);
        this.i++;
        this.flowSpace(indent);
        if (s[this.i] === close) this.fail("a trailing ','");
      }
    this.i++;
    this.pos.close(n, this.i);
    return isMap ? obj : arr;
  }

  flowValue(indent: number, depth: number): unknown {
    const s = this.src;
    const o = this.i;
    const c = s[o];
    if (c === "{" || c === "[") return this.flow(indent, depth + 1);
    this.values++;
    this.node(o, 0);
    if (c === '"' || c === "'") {
      const value = this.quoted();
      if (s[this.i] === ":") this.fail("a pair inside a flow list", this.i);
      return value;
    }
    const after = s[o + 1];
    if (
      c === undefined ||
      INDICATORS.has(c) ||
      c === ":" ||
      (c === "-" && (after === undefined || after === " " || after === "\n" || FLOW_END.has(after)))
    )
      this.fail("a value the fast reader does not read", o);
    let q = o;
    for (; q < s.length; q++) {
      const d = s[q]!;
      if (d === "\n" || FLOW_END.has(d) || (d === "#" && s[q - 1] === " ")) break;
      if (d === ":" && (s[q + 1] === " " || s[q + 1] === "\n" || q + 1 === s.length || FLOW_END.has(s[q + 1]!)))
        this.fail("a pair inside a flow list", q);
      if (d === "\t" || d === "\r") this.fail("a tab or carriage return", q);
    }
    this.i = q;
    const value = resolvePlain(s.slice(o, q).trimEnd(), o);
    this.flowSpace(indent);
    if (s[this.i] !== "," && s[this.i] !== "]" && s[this.i] !== "}") this.fail("a value that goes on past its line", this.i);
    return value;
  }
}

/** Reads `src` if it is in the plain subset; otherwise says why not and where. */
export function parsePlain(src: string): PlainResult {
  const r = new Reader(src);
  try {
    const value = r.root();
    return { ok: true, value, pos: r.pos, values: r.values };
  } catch (e) {
    if (e instanceof GiveUp) return { ok: false, why: e.why, at: e.at };
    throw e;
  }
}

/** Line starts of a text, for line:col from offsets. */
export function lineStarts(src: string): Int32Array {
  let n = 1;
  for (let i = src.indexOf("\n"); i >= 0; i = src.indexOf("\n", i + 1)) n++;
  const starts = new Int32Array(n);
  let k = 1;
  for (let i = src.indexOf("\n"); i >= 0; i = src.indexOf("\n", i + 1)) starts[k++] = i + 1;
  return starts;
}

/** line:col (1-based) of an offset. */
export function spanAt(file: string, starts: Int32Array, offset: number): Span {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { file, line: lo + 1, col: offset - starts[lo]! + 1 };
}

/**
 * The offsets of a JSON text, beside JSON.parse's value: the same tape as the YAML reader's, so
 * every position is the one the yaml library gives. It takes only JSON whose value YAML reads the
 * same way (whole numbers, strings without \u escapes, keys without escapes, no duplicate keys, no
 * tab or carriage return between tokens, no '__proto__' key, nesting up to PLAIN_DEPTH, a mapping
 * or list at the top); on anything else, and on invalid JSON, it returns undefined, and the
 * YAML readers decide. `ascii`: the text's own bytes when every one is ASCII (load.ts readSource),
 * else they are made from the text.
 */
export function parseJson(src: string, ascii?: Uint8Array): PlainResult | undefined {
  let p = 0;
  while (src.charCodeAt(p) === 32 || src.charCodeAt(p) === 10) p++;
  const c = src.charCodeAt(p);
  if (c !== 123 && c !== 91) return undefined; // { [
  let value: unknown;
  try {
    value = JSON.parse(src);
  } catch {
    return undefined;
  }
  const scan = scanJson(src, ascii ?? bytesOf(src));
  return scan && { ok: true, value, pos: scan.pos, values: scan.values };
}

/** Whether s[from, to) is a number the YAML readers read as the same integer (INT above: 0, or up to 15 digits, no -0). */
function wholeNumber(s: string, from: number, to: number): boolean {
  const neg = s.charCodeAt(from) === 45;
  const d0 = neg ? from + 1 : from;
  if (to - d0 > 15 || to === d0) return false;
  if (s.charCodeAt(d0) === 48) return to - d0 === 1 && !neg;
  for (let k = d0; k < to; k++) {
    const d = s.charCodeAt(k);
    if (d < 48 || d > 57) return false;
  }
  return true;
}

/**
 * One pass over valid JSON (JSON.parse said so), writing the tape, or undefined where the YAML
 * readers must decide. One loop with its state in locals and an explicit stack of open mappings
 * and lists: a file of a million values makes no call or object per value.
 */
function scanJson(s: string, u: Uint8Array): { pos: Positions; values: number } | undefined {
  const pos = new Positions(s, false);
  const len = s.length;
  let i = 0;
  let values = 0;
  let keyAt = -1;
  /** the node of each open mapping or list, innermost last */
  const open: number[] = [];
  /** for each open mapping, where its keys start in `keys` (-1 for a list) */
  const keyBase: number[] = [];
  /** start and end of each open mapping's key texts, in pairs */
  let keys = new Int32Array(256);
  let nk = 0;
  for (;;) {
    if ((i = space(u, i)) < 0 || open.length >= PLAIN_DEPTH) return undefined;
    const c = u[i];
    values++;
    const node = pos.push(i, c === 123 ? 1 : c === 91 ? 2 : 0, keyAt, undefined);
    keyAt = -1;
    if (c === 123 || c === 91) {
      open.push(node);
      keyBase.push(c === 123 ? nk : -1);
      i++;
    } else if (c === 34) {
      // a string: \u escapes are left to the YAML readers
      let q = i + 1;
      for (let d = u[q]; d !== 34; d = u[++q])
        if (d === 92) {
          if (u[q + 1] === 117) return undefined;
          q++;
        }
      i = q + 1;
    } else {
      // a number, true, false or null: up to the next delimiter (a tab or carriage return ends it too, and is refused below)
      let q = i;
      for (let d = u[q]; d !== 44 && d !== 93 && d !== 125 && d !== 32 && d !== 10 && d !== 9 && d !== 13 && q < len; d = u[++q]);
      if (c !== 116 && c !== 102 && c !== 110 && !wholeNumber(s, i, q)) return undefined; // 1.5, 1e3, -0: left to the YAML readers
      i = q;
    }
    // after a value (or an opening bracket): close what ends here, then the next item's start
    for (;;) {
      if ((i = space(u, i)) < 0) return undefined;
      const top = open.length - 1;
      if (top < 0) return i === len ? { pos, values } : undefined;
      const d = u[i];
      if (d === 93 || d === 125) {
        // the end of the innermost mapping or list
        i++;
        const base = keyBase[top]!;
        if (base >= 0) {
          if (nk - base > 2 * FEW_KEYS && !distinct(s, keys, base, nk)) return undefined;
          nk = base;
        }
        pos.close(open[top]!, i);
        open.pop();
        keyBase.pop();
        continue;
      }
      if (d === 44) i++; // ','; else the first item of a mapping or list just opened
      const base = keyBase[top]!;
      if (base < 0) break; // a list's next value
      // a mapping's next key: "key" (no escape in it), then ':'
      if ((i = space(u, i)) < 0) return undefined;
      const at = i;
      let q = i + 1;
      for (let e = u[q]; e !== 34; e = u[++q]) if (e === 92) return undefined;
      if (q - at - 1 > 1000 || (q - at === 10 && s.startsWith("__proto__", at + 1))) return undefined;
      // duplicate keys (YAML refuses them, JSON.parse keeps the last): among a mapping's first few, compared here; a larger one, at its end
      if (nk - base <= 2 * FEW_KEYS)
        for (let k = base; k < nk; k += 2) if (sameText(s, keys[k]!, keys[k + 1]!, at + 1, q)) return undefined;
      if (nk + 2 > keys.length) keys = twice(keys);
      keys[nk++] = at + 1;
      keys[nk++] = q;
      if ((i = space(u, q + 1)) < 0) return undefined;
      i++; // ':'
      keyAt = at;
      break;
    }
  }
}

/** Past the spaces and newlines from i; -1 at a tab or carriage return, which the JSON reader leaves to the YAML readers. */
function space(u: Uint8Array, i: number): number {
  let d = u[i];
  while (d === 32 || d === 10) d = u[++i];
  return d === 9 || d === 13 ? -1 : i;
}

/**
 * The text as bytes at the same offsets, for the JSON reader's loop (reading a byte array is about
 * twice as fast as charCodeAt): each UTF-16 unit as its Latin-1 byte, and a unit past 0xFF (inside
 * a string, where valid JSON has them) as 'x', so that its low byte cannot pass for a quote.
 */
function bytesOf(s: string): Uint8Array {
  const b = Buffer.from(s, "latin1");
  const wide = /[^\x00-\xff]/g;
  for (let m = wide.exec(s); m; m = wide.exec(s)) b[m.index] = 120;
  return b;
}

/** A typed array of twice the length, holding `a` at its start (the tape's and the key stack's growth). */
function twice<T extends Int32Array | Uint8Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}

/** Keys of a mapping compared pair by pair as they are read; past them, a mapping's keys go through a set. */
const FEW_KEYS = 16;

/** Whether the keys of a mapping (start and end of each one's text, in pairs in keys[from, to)) are all different. */
function distinct(s: string, keys: Int32Array, from: number, to: number): boolean {
  const seen = new Set<string>();
  for (let a = from; a < to; a += 2) {
    const k = s.slice(keys[a], keys[a + 1]);
    if (seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

function sameText(s: string, a0: number, a1: number, b0: number, b1: number): boolean {
  if (a1 - a0 !== b1 - b0) return false;
  for (let k = 0; k < a1 - a0; k++) if (s.charCodeAt(a0 + k) !== s.charCodeAt(b0 + k)) return false;
  return true;
}
