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

/** Where a value starts; for a mapping or list also where its keys and items start. */
export type Pos = number | PosColl;
export interface PosColl {
  readonly o: number;
  /** the offset just past the collection's last character */
  end: number;
  /** a mapping's keys in source order (undefined for a list) */
  readonly keys: string[] | undefined;
  /** where each key starts (a mapping) */
  readonly ko: number[];
  readonly kids: Pos[];
  /** key -> index, built on the first lookup in a large mapping */
  index?: Map<string, number>;
}

export type PlainResult =
  | { readonly ok: true; readonly value: unknown; readonly pos: Pos; readonly values: number }
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
const NUMBERISH = [
  /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/,
  /^0x[0-9a-fA-F]+$/,
  /^0o[0-7]+$/,
  /^[-+]?\.(inf|Inf|INF)$/,
  /^\.(nan|NaN|NAN)$/,
];
const INT = /^(0|-?[1-9][0-9]{0,14})$/;
/** Characters that cannot start a plain scalar (or change its meaning) in YAML. */
const INDICATORS = new Set(["&", "*", "!", "|", ">", "%", "@", "`", "?", "#", ",", "[", "]", "{", "}", "'", '"']);
const FLOW_END = new Set([",", "[", "]", "{", "}"]);
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" };

/** A plain scalar's value under the core schema, or GiveUp where this reader does not decide it. */
function resolvePlain(s: string, at: number): unknown {
  if (NULLS.has(s)) return null;
  const b = BOOLS.get(s);
  if (b !== undefined) return b;
  if (INT.test(s)) return Number(s);
  if (NUMBERISH.some((r) => r.test(s))) throw new GiveUp("a number the fast reader leaves to the yaml library", at);
  return s;
}

class Reader {
  i = 0;
  values = 0;
  constructor(readonly src: string) {}

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

  root(): { value: unknown; pos: Pos } {
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
  blockNode(indent: number, depth: number): { value: unknown; pos: Pos } {
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

  key(): { key: string; at: number } {
    const s = this.src;
    const at = this.i;
    let key: string;
    if (s[at] === '"' || s[at] === "'") key = this.quoted();
    else {
      let q = at;
      while (!(s[q] === ":" && (s[q + 1] === " " || s[q + 1] === "\n" || q + 1 === s.length || FLOW_END.has(s[q + 1]!)))) {
        if (q >= s.length || s[q] === "\n" || s[q] === "\t" || FLOW_END.has(s[q]!) || s[q] === ":")
          this.fail("a key the fast reader does not read", at);
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
    return { key, at };
  }

  // Long: one loop over a block mapping's lines, with the checks that keep it inside the plain subset
  blockMap(indent: number, depth: number): { value: unknown; pos: Pos } {
    const obj: Record<string, unknown> = {};
    const pos: PosColl = { o: this.i, end: 0, keys: [], ko: [], kids: [] };
    this.values++;
    for (;;) {
      const { key, at } = this.key();
      if (Object.hasOwn(obj, key)) this.fail("a duplicate key", at);
      const v = this.afterIndicator(indent, depth, true);
      obj[key] = v.value;
      pos.keys!.push(key);
      pos.ko.push(at);
      pos.kids.push(v.pos);
      pos.end = this.i;
      const next = this.peekLine(this.i);
      if (!next || next.indent < indent) return { value: obj, pos };
      if (next.indent > indent) this.fail("a line indented deeper than its mapping's keys", next.start);
      if (this.src[next.start] === "-") this.fail("a list item among a mapping's keys", next.start);
      this.i = next.start;
    }
  }

  blockSeq(indent: number, depth: number): { value: unknown; pos: Pos } {
    const arr: unknown[] = [];
    const pos: PosColl = { o: this.i, end: 0, keys: undefined, ko: [], kids: [] };
    this.values++;
    for (;;) {
      this.i++; // the '-'
      const v = this.afterIndicator(indent, depth, false);
      arr.push(v.value);
      pos.kids.push(v.pos);
      pos.end = this.i;
      const next = this.peekLine(this.i);
      if (!next || next.indent < indent) return { value: arr, pos };
      if (next.indent > indent) this.fail("a line indented deeper than its list's items", next.start);
      const s = this.src;
      const p = next.start;
      if (!(s[p] === "-" && (s[p + 1] === " " || s[p + 1] === "\n" || p + 1 === s.length))) return { value: arr, pos }; // the parent mapping's next key
      this.i = p;
    }
  }

  /**
   * The value after a mapping's ':' or a list's '-': on the same line (a scalar, a flow
   * collection, or in a list a compact mapping), or on the lines below, indented deeper (or, for
   * a mapping's value, a list at the mapping's own indentation).
   */
  afterIndicator(indent: number, depth: number, inMap: boolean): { value: unknown; pos: Pos } {
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
        const value = this.quoted();
        this.values++;
        this.endOfLine();
        return { value, pos: o };
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
  blockScalar(): { value: unknown; pos: Pos } {
    const s = this.src;
    const o = this.i;
    const c = s[o]!;
    if (INDICATORS.has(c) || ((c === "-" || c === ":") && (s[o + 1] === undefined || s[o + 1] === " " || s[o + 1] === "\n")))
      this.fail("a value the fast reader does not read", o);
    let q = o;
    for (; q < s.length && s[q] !== "\n"; q++) {
      const d = s[q];
      if (d === "#" && s[q - 1] === " ") break;
      if (d === "\t" || d === "\r" || d === "[" || d === "]" || d === "{" || d === "}")
        this.fail("a value the fast reader does not read", o);
      if (d === ":" && (s[q + 1] === " " || s[q + 1] === "\n" || q + 1 === s.length)) this.fail("a ': ' inside a value", q);
    }
    this.i = q;
    this.endOfLine();
    this.values++;
    return { value: resolvePlain(s.slice(o, q).trimEnd(), o), pos: o };
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

  // Long: flow mappings and lists share their loop (items, separators, the closing bracket)
  flow(indent: number, depth: number): { value: unknown; pos: Pos } {
    if (depth > PLAIN_DEPTH) this.fail(`nesting deeper than ${PLAIN_DEPTH} levels`);
    const s = this.src;
    const isMap = s[this.i] === "{";
    const close = isMap ? "}" : "]";
    const pos: PosColl = { o: this.i, end: 0, keys: isMap ? [] : undefined, ko: [], kids: [] };
    const obj: Record<string, unknown> = {};
    const arr: unknown[] = [];
    this.values++;
    this.i++;
    this.flowSpace(indent);
    if (s[this.i] !== close)
      for (;;) {
        if (isMap) {
          const { key, at } = this.key();
          if (Object.hasOwn(obj, key)) this.fail("a duplicate key", at);
          this.flowSpace(indent);
          const v = this.flowValue(indent, depth);
          obj[key] = v.value;
          pos.keys!.push(key);
          pos.ko.push(at);
          pos.kids.push(v.pos);
        } else {
          const v = this.flowValue(indent, depth);
          arr.push(v.value);
          pos.kids.push(v.pos);
        }
        this.flowSpace(indent);
        if (s[this.i] === close) break;
        if (s[this.i] !== ",") this.fail(`'${close}' or ',' expected`);
        this.i++;
        this.flowSpace(indent);
        if (s[this.i] === close) this.fail("a trailing ','");
      }
    this.i++;
    pos.end = this.i;
    return { value: isMap ? obj : arr, pos };
  }

  flowValue(indent: number, depth: number): { value: unknown; pos: Pos } {
    const s = this.src;
    const o = this.i;
    const c = s[o];
    if (c === "{" || c === "[") return this.flow(indent, depth + 1);
    this.values++;
    if (c === '"' || c === "'") {
      const value = this.quoted();
      if (s[this.i] === ":") this.fail("a pair inside a flow list", this.i);
      return { value, pos: o };
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
    return { value, pos: o };
  }
}

/** Reads `src` if it is in the plain subset; otherwise says why not and where. */
export function parsePlain(src: string): PlainResult {
  const r = new Reader(src);
  try {
    const { value, pos } = r.root();
    return { ok: true, value, pos, values: r.values };
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

/** The child of a position node at one path segment (a mapping's key, a list's index), if there is one. */
export function child(node: Pos, seg: string | number): { pos: Pos; keyAt: number | undefined } | undefined {
  if (typeof node === "number") return undefined;
  const name = String(seg);
  if (node.keys === undefined) {
    if (!/^(0|[1-9][0-9]*)$/.test(name)) return undefined;
    const p = node.kids[Number(name)];
    return p === undefined ? undefined : { pos: p, keyAt: undefined };
  }
  let k: number;
  if (node.keys.length <= 8) k = node.keys.indexOf(name);
  else {
    node.index ??= new Map(node.keys.map((key, j) => [key, j]));
    k = node.index.get(name) ?? -1;
  }
  return k < 0 ? undefined : { pos: node.kids[k]!, keyAt: node.ko[k] };
}
