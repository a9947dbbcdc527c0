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

/** Parses one JSON text (leading byte order mark and surrounding whitespace allowed). */
export function parseJson(text: string): JsonResult {
  let i = text.startsWith("\uFEFF") ? 1 : 0;
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const fail = (message: string, at = i): never => {
    throw new Fail(at, message);
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    let out = "";
    for (;;) {
      if (i >= text.length) fail("unterminated string", start);
      const c = text[i]!;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === "\\") {
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e !== undefined && simple[e] !== undefined) {
          out += simple[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else fail("bad escape in string");
      } else if (c.charCodeAt(0) < 0x20) fail("control character in string");
      else {
        out += c;
        i++;
      }
    }
  };
  const scalar = (): JValue => {
    const off = i;
    const c = text[i];
    if (c === '"') return { t: "str", off, v: str() };
    const word = /^(true|false|null)/.exec(text.slice(i, i + 5));
    if (word) {
      i += word[1]!.length;
      return word[1] === "null" ? { t: "null", off } : { t: "bool", off, v: word[1] === "true" };
    }
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (num && num[0].length) {
      i += num[0].length;
      return { t: "num", off, v: Number(num[0]) };
    }
    return fail(i >= text.length ? "unexpected end of input" : `unexpected character '${c}'`);
  };

  type Frame = { kind: "arr"; off: number; items: JValue[] } | { kind: "obj"; off: number; entries: Map<string, JValue>; key?: string };
  const stack: Frame[] = [];
  const value = (): JValue => {
    for (;;) {
      ws();
      let v: JValue | undefined;
      const c = text[i];
      if (c === "[" || c === "{") {
        if (stack.length >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
        const off = i++;
        ws();
        if (c === "[") {
          if (text[i] === "]") {
            i++;
            v = { t: "arr", off, items: [] };
          } else {
            stack.push({ kind: "arr", off, items: [] });
            continue;
          }
        } else if (text[i] === "}") {
          i++;
          v = { t: "obj", off, entries: new Map() };
        } else {
          const frame: Frame = { kind: "obj", off, entries: new Map() };
          stack.push(frame);
          frame.key = key();
          continue;
        }
      } else v = scalar();
      // attach v to the enclosing containers, closing those that end here
      for (;;) {
        const top = stack[stack.length - 1];
        if (!top) return v;
        if (top.kind === "arr") top.items.push(v);
        else top.entries.set(top.key!, v);
        ws();
        const sep = text[i];
        if (sep === ",") {
          i++;
          if (top.kind === "obj") top.key = key();
          break;
        }
        const close = top.kind === "arr" ? "]" : "}";
        if (sep !== close) fail(i >= text.length ? "unexpected end of input" : `expected ',' or '${close}'`);
        i++;
        stack.pop();
        v = top.kind === "arr" ? { t: "arr", off: top.off, items: top.items } : { t: "obj", off: top.off, entries: top.entries };
      }
    }
  };
  const key = (): string => {
    ws();
    if (text[i] !== '"') fail(i >= text.length ? "unexpected end of input" : "expected a quoted key");
    const k = str();
    ws();
    if (text[i] !== ":") fail("expected ':' after a key");
    i++;
    return k;
  };
  try {
    const v = value();
    ws();
    if (i < text.length) fail("unexpected text after the JSON value");
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
