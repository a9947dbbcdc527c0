/**
 * Loading a topology file: YAML (or JSON, which YAML 1.2 reads) with source
 * positions, shape validation with zod, then the semantic checks of check.ts.
 * All problems are collected; nothing stops at the first one.
 */
import { isAscii } from "node:buffer";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import type { Document, CST, LineCounter } from "yaml";
import type { z } from "zod";
import { diagnostic, type Diagnostic, InputError, type Span } from "../diagnostics/diagnostic.js";
import { SpecSchema, TopologySchema, type TopologyDoc } from "./schema.js";
import { checkTopology, expectDiagnostics, sizeDiagnostics, type Topology } from "./check.js";
import { readInclude, type IncludeOptions } from "./include.js";
import { fastShape, NOT_SURE } from "./shape.js";
import { lineStarts, parseJson, parsePlain, spanAt, type Positions } from "./plain.js";

/**
 * The yaml library, loaded when a file first needs it (plain YAML and JSON never do): the same
 * module instance an `import "yaml"` gives, read synchronously.
 */
let yamlLib: typeof import("yaml") | undefined;
const Y = (): typeof import("yaml") => (yamlLib ??= createRequire(import.meta.url)("yaml") as typeof import("yaml"));

/**
 * What reach reads at most (docs/topology.md "Limits"): past one of these an input is refused
 * with RCH006 before it costs minutes or gigabytes. Plain YAML and JSON (src/topology/plain.ts:
 * no anchors, aliases, tags or multi-line scalars) load at about 0.1 s and 60 MB per MB, so the
 * text limit keeps a topology at a few seconds and under 3 GB (30,000 machines with 10 firewall
 * rules each are 39 MB of YAML); YAML beyond that subset goes through the yaml library, which
 * costs about 1 s and 100 MB per MB, so it is read up to `yamlChars`; the nesting limit keeps the
 * YAML composer's recursion far from the stack's end (a 10,000-deep `[[[...]]]` used to kill the
 * process); the value limit bounds what aliases expand to.
 */
export const LIMITS = {
  /** characters of a topology or spec file in plain YAML or JSON */
  textChars: 64 * 1024 * 1024,
  /** characters of a topology or spec file that uses YAML beyond the plain subset */
  yamlChars: 16 * 1024 * 1024,
  /** levels of nesting (mappings and lists inside each other), in the text and after aliases */
  depth: 64,
  /** values (mappings, lists, scalars) of the document after aliases are expanded */
  values: 4_000_000,
} as const;

/** How a file is loaded: the include root for spec files, and (inside) the spec that includes it. */
export interface LoadOptions extends IncludeOptions {
  readonly includedFrom?: { readonly at: Span; readonly include: string; readonly sources: ReadonlyMap<string, string> };
}

export type Path = readonly (string | number)[];

/** Maps a path inside the document to the position of its value or its key. */
export interface Locator {
  readonly file: string;
  at(path: Path): Span;
  key(path: Path): Span;
}

/**
 * Positions of every node, indexed once by path (a lowering asks for thousands).
 * A path that does not exist falls back to its nearest existing ancestor.
 */
export function makeLocator(file: string, doc: Document | undefined, lc: LineCounter): Locator {
  const { isMap, isNode, isPair, isScalar, isSeq } = Y();
  const spanOf = (offset: number): Span => {
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  const start: Span = { file, line: 1, col: 1 };
  const values = new Map<string, number>();
  const keys = new Map<string, number>();
  const keyOf = (path: Path) => path.map(String).join("\u0000");
  const visit = (node: unknown, path: (string | number)[]) => {
    if (!isNode(node)) return;
    if (node.range) values.set(keyOf(path), node.range[0]);
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const p = [...path, String(pair.key.value)];
        if (pair.key.range) keys.set(keyOf(p), pair.key.range[0]);
        visit(pair.value, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, i]));
    }
  };
  visit(doc?.contents, []);
  const at = (path: Path): Span => {
    for (let i = path.length; i >= 0; i--) {
      const off = values.get(keyOf(path.slice(0, i)));
      if (off !== undefined) return spanOf(off);
    }
    return start;
  };
  return {
    file,
    at,
    key(path) {
      const off = keys.get(keyOf(path));
      return off !== undefined ? spanOf(off) : at(path);
    },
  };
}

/** A locator that also knows where a node ends, and the offset of a span (to tell which diagnostics fall inside a malformed node). */
export interface SourceMap extends Locator {
  range(path: Path): readonly [number, number] | undefined;
  offset(span: Span): number;
}

/** The library's document as a SourceMap. */
function librarySourceMap(file: string, doc: Document, lc: LineCounter): SourceMap {
  return {
    ...makeLocator(file, doc, lc),
    range(path) {
      const n = doc.getIn(path, true);
      return Y().isNode(n) && n.range ? [n.range[0], n.range[2]] : undefined;
    },
    offset: (span) => (lc.lineStarts[span.line - 1] ?? 0) + span.col - 1,
  };
}

/**
 * Positions from the fast readers' tape (src/topology/plain.ts): a path is followed down the tape
 * when it is asked for, and its line:col computed from the offset then, so loading indexes
 * nothing by path. A path that does not exist falls back to its nearest existing ancestor.
 */
export function plainSourceMap(file: string, source: string, pos: Positions): SourceMap {
  let starts: Int32Array | undefined;
  // lowering asks in document order: the line of the last answer is where the next search starts
  let line = 0;
  const spanOf = (offset: number): Span => {
    const ls = (starts ??= lineStarts(source));
    if (ls[line]! <= offset) {
      // a few lines further down, or else a binary search
      for (let k = 0; k < 16 && line + 1 < ls.length && ls[line + 1]! <= offset; k++) line++;
      if (line + 1 >= ls.length || ls[line + 1]! > offset) return { file, line: line + 1, col: offset - ls[line]! + 1 };
    }
    const span = spanAt(file, ls, offset);
    line = span.line - 1;
    return span;
  };
  // the last path walked and its nodes: lowering asks for sibling after sibling, which share all but the last step
  // (copied step by step, not aliased: a caller may reuse its path array for the next sibling; `depth` steps of them hold)
  const lastPath: (string | number)[] = [];
  const lastNodes: number[] = [0];
  let depth = 0;
  /** the node at `path`, or at its longest existing prefix (then `exact` is false) */
  let exact = true;
  const walk = (path: Path): number => {
    let i = 0;
    while (i < path.length && i < depth && path[i] === lastPath[i]) i++;
    let node = lastNodes[i]!;
    exact = true;
    for (; i < path.length; i++) {
      const next = pos.child(node, path[i]!);
      if (next < 0) {
        exact = false;
        break;
      }
      node = next;
      lastPath[i] = path[i]!;
      lastNodes[i + 1] = node;
    }
    depth = i;
    return node;
  };
  const at = (path: Path) => spanOf(pos.start[walk(path)]!);
  return {
    file,
    at,
    key(path) {
      const node = path.length ? walk(path) : -1;
      return node >= 0 && exact && pos.keyAt[node]! >= 0 ? spanOf(pos.keyAt[node]!) : at(path);
    },
    range(path) {
      const node = walk(path);
      if (!exact) return undefined;
      const o = pos.start[node]!;
      return pos.kind[node] === 0 ? [o, o] : [o, pos.end[node]!];
    },
    offset: (span) => (starts ??= lineStarts(source))[span.line - 1]! + span.col - 1,
  };
}

/** zod's type names in the words of a YAML user. */
function expectedType(t: string): string {
  const words: Record<string, string> = {
    record: "a mapping",
    object: "a mapping",
    array: "a list",
    string: "a string",
    number: "a number",
    boolean: "true or false",
    int: "an integer",
  };
  return words[t] ?? t;
}

/** What a key holds, for union-typed keys whose zod message says nothing useful. */
const EXPECTED_BY_KEY: Record<string, string> = {
  port: "a port number 1-65535",
  hostPort: "a port number 1-65535",
  guestPort: "a port number 1-65535",
  toPort: "a port number 1-65535",
  sport: 'a port 1-65535 or a range "LO-HI"',
  dport: 'a port 1-65535 or a range "LO-HI"',
  mode: "one of nat, natnetwork, bridged, hostonly, internal, none",
  action: "one of accept, drop, reject (firewall) or dnat, snat, masquerade (nat)",
  rp_filter: "0, 1 or 2",
};

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** zod issue -> our diagnostic, positioned on the offending node. */
function fromZodIssue(issue: z.core.$ZodIssue, root: unknown, loc: Locator): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const where = path.length ? path.join(".") : "the top level";
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((k) =>
        diagnostic("RCH003", loc.key([...path, k]), `unknown key '${k}' in ${where}`, {
          expected: issue.message.startsWith("allowed keys") ? issue.message : undefined,
        }),
      );
    case "invalid_type": {
      const got = valueAt(root, path);
      if (got === undefined) {
        const key = path[path.length - 1];
        return [
          diagnostic(
            "RCH005",
            loc.at(path.slice(0, -1)),
            `missing required key '${String(key)}' in ${path.slice(0, -1).join(".") || "the top level"}`,
            {
              expected: `${String(key)}: ${EXPECTED_BY_KEY[String(key)] ?? expectedType(issue.expected)}`,
            },
          ),
        ];
      }
      return [
        diagnostic("RCH004", loc.at(path), `${where} is ${describe(got)}`, {
          expected: EXPECTED_BY_KEY[String(path[path.length - 1])] ?? expectedType(issue.expected),
        }),
      ];
    }
    case "invalid_value":
      return [
        diagnostic("RCH004", loc.at(path), `${where} is ${describe(valueAt(root, path))}`, {
          expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
        }),
      ];
    case "invalid_union": {
      const got = valueAt(root, path);
      if (got === undefined) {
        const key = String(path[path.length - 1]);
        return [
          diagnostic("RCH005", loc.at(path.slice(0, -1)), `missing required key '${key}' in ${path.slice(0, -1).join(".")}`, {
            expected: `${key}: ${EXPECTED_BY_KEY[key] ?? "a value"}`,
          }),
        ];
      }
      // A discriminated union with a bad or missing discriminator: say which key decides.
      const disc = (issue as { discriminator?: string }).discriminator;
      if (disc !== undefined && got !== null && typeof got === "object") {
        const dv = (got as Record<string, unknown>)[disc];
        return [
          diagnostic(
            dv === undefined ? "RCH005" : "RCH004",
            loc.at(dv === undefined ? path : [...path, disc]),
            dv === undefined ? `missing required key '${disc}' in ${where}` : `${where}.${disc} is ${describe(dv)}`,
            {
              expected: `${disc}: ${EXPECTED_BY_KEY[disc] ?? "one of the documented values"}`,
            },
          ),
        ];
      }
      return [
        diagnostic("RCH004", loc.at(path), `${where} is ${describe(got)}`, {
          expected: EXPECTED_BY_KEY[String(path[path.length - 1])] ?? issue.message,
        }),
      ];
    }
    default:
      return [diagnostic("RCH004", loc.at(path), `${where}: ${issue.message}`)];
  }
}

export interface Loaded {
  readonly file: string;
  readonly source: string;
  readonly topology: Topology;
  readonly warnings: readonly Diagnostic[];
  /**
   * Loaded from a spec file (`include:` + `expect:`): `topology` is the included one,
   * `spec` holds the spec's expectations, located in the spec file.
   */
  readonly spec?: Topology;
}

/** YAML library errors, in the user's terms, positioned where the problem starts. */
function syntaxDiagnostic(file: string, source: string, code: string, message: string, offset: number, lc: LineCounter): Diagnostic {
  let pos = offset;
  let text = message.split("\n")[0] ?? message;
  if (code === "DUPLICATE_KEY") {
    const key = /^("[^"]*"|'[^']*'|[^:\s,{}[\]]+)/.exec(source.slice(offset))?.[1] ?? "?";
    const p = lc.linePos(pos);
    return diagnostic("RCH030", { file, line: p.line, col: p.col }, `duplicate key '${key.replace(/^["']|["']$/g, "")}' in a mapping`, {
      expected: "each key once",
    });
  }
  if (code === "TAG_RESOLVE_FAILED") {
    const tag = /^![^\s,{}[\]]*/.exec(source.slice(offset))?.[0] ?? "!";
    const p = lc.linePos(pos);
    return diagnostic("RCH002", { file, line: p.line, col: p.col }, `'${tag}' is a YAML tag, which reach does not read`, {
      expected: `a negation as { not: ${tag.slice(1) || "VALUE"} }, or the text quoted: "${tag}"`,
    });
  }
  if (code === "MULTIPLE_DOCS") text = "multiple documents in one file: a topology is a single YAML document (remove the '---' line)";
  if (code === "MISSING_CHAR" && /quote/i.test(message)) {
    const q = message.includes('"') ? '"' : "'";
    const open = source.lastIndexOf(q, Math.min(offset, source.length) - 1);
    if (open >= 0) pos = open;
    text = `missing closing ${q === '"' ? "double" : "single"} quote`;
  }
  const p = lc.linePos(pos);
  return diagnostic("RCH002", { file, line: p.line, col: p.col }, text, { expected: "valid YAML or JSON" });
}

/** A document of the wrong shape: its shape errors, and the checker's errors in its well-formed parts. */
function shapeErrors(issues: readonly z.core.$ZodIssue[], raw: unknown, loc: SourceMap, sources: ReadonlyMap<string, string>): InputError {
  const shape = issues.flatMap((i) => fromZodIssue(i, raw, loc));
  // source ranges of the malformed nodes: the checker's findings inside them are noise
  const broken = issues.flatMap((i) => {
    if (i.code === "unrecognized_keys") return []; // an extra key leaves the rest of its mapping well-formed
    const r = loc.range(i.path.filter((p): p is string | number => typeof p !== "symbol"));
    return r ? [r] : [];
  });
  // Report the semantic problems of the parts that are well-formed too; where the shape is too
  // broken for the checker, its findings are left out, never guessed.
  let semantic: Diagnostic[] = [];
  try {
    semantic = checkTopology(raw as TopologyDoc, loc).diagnostics.filter(
      (d) =>
        d.severity === "error" &&
        !shape.some((x) => x.span.line === d.span.line && x.span.col === d.span.col) &&
        !broken.some(([a, b]) => loc.offset(d.span) >= a && loc.offset(d.span) <= b),
    );
  } catch {
    semantic = [];
  }
  return new InputError(sortDiagnostics([...shape, ...semantic]), sources);
}

/** An RCH006 diagnostic: the input is past one of the LIMITS. */
export function tooLarge(span: Span, message: string, expected: string): Diagnostic {
  return diagnostic("RCH006", span, message, { expected });
}

/**
 * YAML.parseDocument with the limits applied while it parses: more than `maxChars` characters,
 * or nesting deeper than LIMITS.depth (the parser's stack, checked after every token, so a deep
 * input stops at its first too-deep token), is RCH006 thrown as InputError.
 */
export function parseYamlBounded(file: string, source: string, lc: LineCounter, maxChars: number): Document.Parsed {
  const sources = new Map([[file, source]]);
  const refuse = (span: Span, message: string, expected: string): never => {
    throw new InputError([tooLarge(span, message, expected)], sources);
  };
  if (source.length > maxChars)
    refuse(
      { file, line: 1, col: 1 },
      `the file has ${source.length} characters, more than the ${maxChars} reach reads`,
      `at most ${maxChars} characters (split the topology, or leave out what the questions do not need)`,
    );
  // Line starts from the text itself: the parser reports no newline inside a token it cannot read
  // (an error token spanning lines), which put later diagnostics on the wrong line.
  lc.addNewLine(0);
  for (let i = source.indexOf("\n"); i >= 0; i = source.indexOf("\n", i + 1)) lc.addNewLine(i + 1);
  const { Composer, Lexer, Parser, YAMLParseError } = Y();
  const parser = new Parser();
  const tokens: CST.Token[] = [];
  for (const lexeme of new Lexer().lex(source)) {
    for (const t of parser.next(lexeme)) tokens.push(t);
    if (parser.stack.length > LIMITS.depth) {
      const p = lc.linePos(parser.offset);
      refuse(
        { file, line: p.line, col: p.col },
        `nesting deeper than ${LIMITS.depth} levels`,
        `at most ${LIMITS.depth} levels of mappings and lists inside each other (a topology needs about 8)`,
      );
    }
  }
  for (const t of parser.end()) tokens.push(t);
  let doc: Document.Parsed | undefined;
  const composer = new Composer({ uniqueKeys: true, prettyErrors: false });
  for (const d of composer.compose(tokens, true, source.length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], "MULTIPLE_DOCS", "Source contains multiple documents"));
      break;
    }
  }
  return doc!;
}

/**
 * The document's value after aliases: at most LIMITS.depth levels and LIMITS.values values
 * (counted without recursion, so that an input past them cannot exhaust the stack either), and
 * no key `__proto__`.
 */
export function checkValueSize(file: string, value: unknown, loc: Locator, sources: ReadonlyMap<string, string>): void {
  const stack: { v: unknown; d: number; path: Path }[] = [{ v: value, d: 0, path: [] }];
  let count = 0;
  while (stack.length) {
    const { v, d, path } = stack.pop()!;
    if (++count > LIMITS.values)
      throw new InputError(
        [
          tooLarge(
            loc.at(path),
            `the document holds more than ${LIMITS.values} values once its aliases are expanded`,
            `at most ${LIMITS.values} values (mappings, lists and scalars)`,
          ),
        ],
        sources,
      );
    if (v === null || typeof v !== "object") continue;
    if (d >= LIMITS.depth)
      throw new InputError(
        [
          tooLarge(
            loc.at(path),
            `nesting deeper than ${LIMITS.depth} levels once aliases are expanded`,
            `at most ${LIMITS.depth} levels of mappings and lists inside each other`,
          ),
        ],
        sources,
      );
    if (Object.hasOwn(v, "__proto__"))
      // the shape check would drop it without a word (it sets an object's prototype in JavaScript)
      throw new InputError(
        [
          diagnostic("RCH004", loc.key([...path, "__proto__"]), "'__proto__' cannot be a name or key", {
            expected: "another name (__proto__ is special to JavaScript, which reach is written in)",
          }),
        ],
        sources,
      );
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, d: d + 1, path: d < 8 ? [...path, i] : path }));
    else for (const [k, x] of Object.entries(v as object)) stack.push({ v: x, d: d + 1, path: d < 8 ? [...path, k] : path });
  }
}

/**
 * Parses and checks topology text. Throws InputError with every diagnostic when it is not valid.
 * Plain JSON is read by JSON.parse beside a scan for its offsets, plain YAML by the fast reader; anything else (up to LIMITS.yamlChars), and
 * every syntax error, by the yaml library, whose syntax diagnostics are the reference.
 */
export function loadTopologyText(file: string, text: string, opts: LoadOptions = {}): Loaded {
  return loadSource(file, { text }, opts);
}

function loadSource(file: string, { text, ascii }: Source, opts: LoadOptions): Loaded {
  // A byte order mark is not part of the first line's columns.
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const sources = new Map([[file, source]]);
  const refuse = (span: Span, message: string, expected: string): never => {
    throw new InputError([tooLarge(span, message, expected)], sources);
  };
  if (source.length > LIMITS.textChars)
    refuse(
      { file, line: 1, col: 1 },
      `the file has ${source.length} characters, more than the ${LIMITS.textChars} reach reads`,
      `at most ${LIMITS.textChars} characters (split the topology, or leave out what the questions do not need)`,
    );
  const plain = parseJson(source, ascii) ?? parsePlain(source);
  const large = source.length > LIMITS.yamlChars;
  // the positions of the fast reader are the library's (test/topology/plain.test.ts): its diagnostics are final
  if (plain.ok && plain.values <= LIMITS.values)
    return checkValue(file, plain.value, plainSourceMap(file, source, plain.pos), sources, opts);
  if (large) {
    const p = plain.ok ? { line: 1, col: 1 } : spanAt(file, lineStarts(source), plain.at);
    refuse(
      { file, ...p },
      plain.ok
        ? `the document holds more than ${LIMITS.values} values`
        : `the file has ${source.length} characters, and past ${LIMITS.yamlChars} reach reads plain YAML or JSON only: here, ${plain.why}`,
      plain.ok
        ? `at most ${LIMITS.values} values (mappings, lists and scalars)`
        : `plain YAML (mappings, lists, one-line scalars; no anchors, aliases, tags or block scalars) or JSON, or at most ${LIMITS.yamlChars} characters`,
    );
  }
  return loadWithLibrary(file, source, sources, opts);
}

/** The yaml library's reading: the whole of YAML 1.2, with its exact syntax diagnostics. */
function loadWithLibrary(file: string, source: string, sources: Map<string, string>, opts: LoadOptions): Loaded {
  const lc = new (Y().LineCounter)();
  const doc = parseYamlBounded(file, source, lc, LIMITS.yamlChars);
  const loc = librarySourceMap(file, doc, lc);
  // an unknown tag (`in: !docker0`) would silently read as an empty value
  const tags = doc.warnings.filter((w) => w.code === "TAG_RESOLVE_FAILED");
  const syntax = [...doc.errors, ...tags].map((e) => syntaxDiagnostic(file, source, e.code, e.message, e.pos[0], lc));
  if (syntax.length) throw new InputError(sortDiagnostics(syntax), sources);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // unresolved aliases, alias bombs: the yaml library throws while building values
    const why = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    const alias = /alias/i.test(why) ? source.search(/\*[^\s,\]}]/) : -1;
    const p = lc.linePos(Math.max(0, alias));
    throw new InputError(
      [
        diagnostic("RCH002", { file, line: p.line, col: p.col }, `cannot build the document: ${why}`, {
          expected: "anchors (&name) defined before their aliases (*name), and at most 100 alias expansions",
        }),
      ],
      sources,
    );
  }
  checkValueSize(file, raw, loc, sources);
  return checkValue(file, raw, loc, sources, opts);
}

/** The document's value: its sizes, then a spec or a topology, shape and semantics. */
function checkValue(file: string, raw: unknown, loc: SourceMap, sources: Map<string, string>, opts: LoadOptions): Loaded {
  const source = sources.get(file)!;
  const sizes = sizeDiagnostics(raw, loc);
  if (sizes.length) throw new InputError(sortDiagnostics(sizes), sources);
  if (raw === null || raw === undefined) {
    throw new InputError(
      [
        diagnostic("RCH005", { file, line: 1, col: 1 }, "the file is empty: a topology needs 'machines'", {
          expected: "machines: a mapping of machine names to machines",
        }),
      ],
      sources,
    );
  }
  if (typeof raw === "object" && !Array.isArray(raw) && "include" in (raw as object)) {
    // a spec that includes a spec: refused before it is followed (no chains, no include loops)
    const from = opts.includedFrom;
    if (from)
      throw new InputError(
        [
          diagnostic("RCH004", from.at, `'${from.include}' is a spec file itself`, {
            expected: "include: a topology file (with machines:)",
          }),
        ],
        from.sources,
      );
    return loadSpec(file, raw, loc, sources, opts);
  }
  const checked = checkTopology(shaped(raw, loc, sources), loc);
  const errors = checked.diagnostics.filter((d) => d.severity === "error");
  if (errors.length || !checked.topology) throw new InputError(sortDiagnostics(checked.diagnostics), sources);
  return { file, source, topology: checked.topology, warnings: checked.diagnostics.filter((d) => d.severity === "warning") };
}

/** The document as zod gives it when it has the topology's shape (the fast path of shape.ts, else zod); its shape errors otherwise. */
function shaped(raw: unknown, loc: SourceMap, sources: Map<string, string>): TopologyDoc {
  const fast = fastShape(TopologySchema, raw);
  if (fast !== NOT_SURE) return fast as TopologyDoc;
  const parsed = TopologySchema.safeParse(raw);
  if (!parsed.success) throw shapeErrors(parsed.error.issues, raw, loc, sources);
  return parsed.data as TopologyDoc;
}

/** A spec file: the included topology, checked as usual, and this file's expectations checked against it. */
function loadSpec(file: string, raw: unknown, loc: Locator, sources: Map<string, string>, opts: IncludeOptions): Loaded {
  const parsed = SpecSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(sortDiagnostics(parsed.error.issues.flatMap((i) => fromZodIssue(i, raw, loc))), sources);
  const at = loc.at(["include"]);
  const included = readInclude(file, parsed.data.include, at, sources, opts);
  const inner = loadTopologyText(included.path, included.text, {
    ...(opts.root !== undefined ? { root: opts.root } : {}),
    includedFrom: { at, include: parsed.data.include, sources },
  });
  const doc: TopologyDoc = { ...inner.topology.doc, expect: parsed.data.expect };
  const diags = expectDiagnostics(doc, loc);
  if (diags.some((d) => d.severity === "error")) throw new InputError(sortDiagnostics(diags), sources);
  return { ...inner, spec: { doc, loc }, warnings: [...inner.warnings, ...diags] };
}

export function loadTopologyFile(file: string, opts: IncludeOptions = {}): Loaded {
  return loadSource(file, readSource(file, LIMITS.textChars, "a readable topology file (YAML or JSON)"), opts);
}

/** A file's text, and when every byte of it is ASCII, those bytes: the JSON reader's scan reads them at the text's offsets. */
export interface Source {
  readonly text: string;
  readonly ascii?: Uint8Array;
}

/**
 * A file's text, read up to `maxChars` bytes and one more: a longer file (or /dev/zero, or a pipe
 * that never ends) is RCH006 without reading the rest; an unreadable one is RCH001.
 */
export function readBounded(file: string, maxChars: number, expected: string): string {
  return readSource(file, maxChars, expected).text;
}

/**
 * readBounded, keeping the bytes of an ASCII file: its text is then their Latin-1 reading, which
 * is a copy (UTF-8's decoding of a 15 MB file takes about 75 ms more), and the JSON reader scans
 * the same bytes instead of making them again from the text.
 */
export function readSource(file: string, maxChars: number, expected: string): Source {
  const cannot = (e: unknown): never => {
    const why = (e as NodeJS.ErrnoException).code ?? "unreadable";
    throw new InputError([diagnostic("RCH001", { file, line: 1, col: 1 }, `cannot read ${file} (${why})`, { expected })]);
  };
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    return cannot(e);
  }
  let total = 0;
  let buf: Buffer;
  try {
    // a regular file's size, and one byte more to see that it ended; a pipe or device reports 0 and grows the buffer
    buf = Buffer.allocUnsafe(Math.min(Math.max(fstatSync(fd).size + 1, 1 << 16), maxChars + 1));
    for (;;) {
      if (total === buf.length) {
        const wider = Buffer.allocUnsafe(Math.min(buf.length * 2, maxChars + 1));
        buf.copy(wider, 0, 0, total);
        buf = wider;
      }
      const n = readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
      if (total > maxChars)
        throw new InputError([
          tooLarge(
            { file, line: 1, col: 1 },
            `${file} is more than ${maxChars} bytes, more than reach reads`,
            `at most ${maxChars} bytes (split the input, or leave out what the questions do not need)`,
          ),
        ]);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    return cannot(e);
  } finally {
    closeSync(fd);
  }
  const bytes = buf.subarray(0, total);
  return isAscii(bytes) ? { text: bytes.toString("latin1"), ascii: bytes } : { text: bytes.toString("utf8") };
}

export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.span.line - b.span.line || a.span.col - b.span.col || a.code.localeCompare(b.code));
}
