/**
 * A small JSON reader (RFC 8259) that keeps each value's character offset, so
 * that the Linux importer can point its diagnostics at the element of
 * `ip -j addr`, `ip -j route` or `nft -j list ruleset` output they are about.
 * `JSON.parse` keeps no positions. Iterative for arrays and objects up to a
 * nesting limit, so hostile input cannot exhaust the stack.
 */

export type JValue =
  | { readonly t: "obj"; readonly off: number; readonly entries: ReadonlyMap<string, JValue> }
  | { readonly t: "arr"; readonly off: number; readonly items: readonly JValue[] }
  | { readonly t: "str"; readonly off: number; readonly v: string }
  | { readonly t: "num"; readonly off: number; readonly v: number }
  | { readonly t: "bool"; readonly off: number; readonly v: boolean }
  | { readonly t: "null"; readonly off: number };

export type JsonResult =
  { readonly ok: true; readonly value: JValue } | { readonly ok: false; readonly off: number; readonly message: string };

const MAX_DEPTH = 256;

class Fail {
  constructor(
    readonly off: number,
    readonly message: string,
  ) {}
}

type Frame = { kind: "arr"; off: number; items: JValue[] } | { kind: "obj"; off: number; entries: Map<string, JValue>; key?: string };

/**
 * The reader's state: the text and the offset `i` of the next character. Containers are
 * kept on an explicit stack (not recursion), so deep nesting fails cleanly at MAX_DEPTH.
 */
class JsonScanner {
  i: number;
  private readonly stack: Frame[] = [];

  constructor(readonly text: string) {
    this.i = text.startsWith("\uFEFF") ? 1 : 0;
  }

  ws(): void {
    const text = this.text;
    while (this.i < text.length) {
      const c = text.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  fail(message: string, at = this.i): never {
    throw new Fail(at, message);
  }

  private atEnd(): boolean {
    return this.i >= this.text.length;
  }

  /** A string; the cursor is on its opening quote. */
  str(): string {
    const text = this.text;
    const start = this.i;
    this.i++; // opening quote
    let out = "";
    for (;;) {
      if (this.atEnd()) this.fail("unterminated string", start);
      const c = text[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === "\\") out += this.escape();
      else if (c.charCodeAt(0) < 0x20) this.fail("control character in string");
      else {
        out += c;
        this.i++;
      }
    }
  }

  /** One escape sequence of a string; the cursor is on its backslash. */
  private escape(): string {
    const text = this.text;
    const e = text[this.i + 1];
    const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
    if (e !== undefined && simple[e] !== undefined) {
      this.i += 2;
      return simple[e];
    }
    if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 2, this.i + 6))) {
      const c = String.fromCharCode(parseInt(text.slice(this.i + 2, this.i + 6), 16));
      this.i += 6;
      return c;
    }
    return this.fail("bad escape in string");
  }

  /** A string, true, false, null or a number. */
  scalar(): JValue {
    const text = this.text;
    const off = this.i;
    const c = text[this.i];
    if (c === '"') return { t: "str", off, v: this.str() };
    const word = /^(true|false|null)/.exec(text.slice(this.i, this.i + 5));
    if (word) {
      this.i += word[1]!.length;
      return word[1] === "null" ? { t: "null", off } : { t: "bool", off, v: word[1] === "true" };
    }
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(this.i, this.i + 400));
    if (num && num[0].length) {
      this.i += num[0].length;
      return { t: "num", off, v: Number(num[0]) };
    }
    return this.fail(this.atEnd() ? "unexpected end of input" : `unexpected character '${c}'`);
  }

  /** An object key and its colon. */
  key(): string {
    this.ws();
    if (this.text[this.i] !== '"') this.fail(this.atEnd() ? "unexpected end of input" : "expected a quoted key");
    const k = this.str();
    this.ws();
    if (this.text[this.i] !== ":") this.fail("expected ':' after a key");
    this.i++;
    return k;
  }

  /** A whole value: containers are opened on the stack and closed as their ends are read. */
  value(): JValue {
    for (;;) {
      this.ws();
      const c = this.text[this.i];
      const v = c === "[" || c === "{" ? this.open(c) : this.scalar();
      if (v === undefined) continue;
      const done = this.attach(v);
      if (done) return done;
    }
  }

  /** `[` or `{`: an empty container as a value, or undefined when a frame was pushed for its members. */
  private open(c: "[" | "{"): JValue | undefined {
    if (this.stack.length >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    const off = this.i++;
    this.ws();
    if (c === "[") {
      if (this.text[this.i] === "]") {
        this.i++;
        return { t: "arr", off, items: [] };
      }
      this.stack.push({ kind: "arr", off, items: [] });
      return undefined;
    }
    if (this.text[this.i] === "}") {
      this.i++;
      return { t: "obj", off, entries: new Map() };
    }
    const frame: Frame = { kind: "obj", off, entries: new Map() };
    this.stack.push(frame);
    frame.key = this.key();
    return undefined;
  }

  /**
   * Attaches a value to the enclosing containers, closing those that end here; the
   * whole value when the outermost one closes, undefined when a next member follows.
   */
  private attach(value: JValue): JValue | undefined {
    let v = value;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (!top) return v;
      if (top.kind === "arr") top.items.push(v);
      else top.entries.set(top.key!, v);
      this.ws();
      const sep = this.text[this.i];
      if (sep === ",") {
        this.i++;
        if (top.kind === "obj") top.key = this.key();
        return undefined;
      }
      const close = top.kind === "arr" ? "]" : "}";
      if (sep !== close) this.fail(this.atEnd() ? "unexpected end of input" : `expected ',' or '${close}'`);
      this.i++;
      this.stack.pop();
      v = top.kind === "arr" ? { t: "arr", off: top.off, items: top.items } : { t: "obj", off: top.off, entries: top.entries };
    }
  }
}

/** Parses one JSON text (leading byte order mark and surrounding whitespace allowed). */
export function parseJson(text: string): JsonResult {
  const s = new JsonScanner(text);
  try {
    const v = s.value();
    s.ws();
    if (s.i < text.length) s.fail("unexpected text after the JSON value");
    return { ok: true, value: v };
  } catch (e) {
    if (e instanceof Fail) return { ok: false, off: e.off, message: e.message };
    throw e;
  }
}

/** A member of an object value, if `v` is an object that has it. */
export function member(v: JValue | undefined, key: string): JValue | undefined {
  return v?.t === "obj" ? v.entries.get(key) : undefined;
}

export function str(v: JValue | undefined): string | undefined {
  return v?.t === "str" ? v.v : undefined;
}

export function num(v: JValue | undefined): number | undefined {
  return v?.t === "num" ? v.v : undefined;
}

export function items(v: JValue | undefined): readonly JValue[] {
  return v?.t === "arr" ? v.items : [];
}

/** Plain JavaScript value (for messages). */
export function plain(v: JValue): unknown {
  switch (v.t) {
    case "obj":
      return Object.fromEntries([...v.entries].map(([k, x]) => [k, plain(x)]));
    case "arr":
      return v.items.map(plain);
    case "null":
      return null;
    default:
      return v.v;
  }
}
