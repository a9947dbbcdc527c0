/**
 * A safe partial evaluator for Vagrantfiles, on tree-sitter-ruby's tree: it never runs Ruby.
 *
 * It computes what Ruby would compute from the file alone: literals, local variables and
 * constants assigned from them, string interpolation, integer arithmetic, ranges, arrays and
 * hashes, indexing, a few pure methods (to_s, to_i, first, last, join, fetch, size, keys,
 * values, map), comparisons and `a ? b : c`, and `ENV["X"] || default` / `ENV.fetch("X",
 * default)` taken at their defaults (an assumption the importer states), `format` and
 * `String#%`, paths (`File.join`, `__dir__`) and data files (`YAML.load_file`,
 * `JSON.parse(File.read(...))`) through the importer's hooks, which read them under the include
 * rules, and `Vagrant::VERSION` as the importer takes it. Anything else is
 * unknown (undefined), and the importer reports it where it matters. Loops are expanded by
 * `iterations` (bounded: MAX_ITERATIONS items a loop, MAX_DEPTH nested evaluation).
 */
import type { Node } from "web-tree-sitter";

/** A value Ruby would have from the file alone. */
export type Value =
  | { readonly kind: "string"; readonly text: string }
  | { readonly kind: "symbol"; readonly text: string }
  | { readonly kind: "integer"; readonly n: number }
  | { readonly kind: "boolean"; readonly b: boolean }
  | { readonly kind: "nil" }
  | { readonly kind: "array"; readonly items: readonly Value[] }
  | { readonly kind: "range"; readonly lo: number; readonly hi: number }
  | { readonly kind: "hash"; readonly entries: ReadonlyMap<string, { readonly key: Value; readonly value: Value }> }
  /** A value read from a data file that reach does not compute with (a float, a date): known to exist, never used. */
  | { readonly kind: "other"; readonly text: string };

/** Items one loop may run over (a Vagrantfile's machines; more is a generated file, not a lab). */
export const MAX_ITERATIONS = 64;
/** Nesting of expressions and loops the evaluator follows. */
export const MAX_DEPTH = 24;

/** Double-quoted escapes that can appear in names and addresses (Ruby's doc/syntax/literals.rdoc). */
const ESCAPES: Record<string, string> = { "\\\\": "\\", '\\"': '"', "\\'": "'", "\\n": "\n", "\\t": "\t", "\\s": " ", "\\#": "#" };

/** Ruby integer literal text: 8080, 8_080, 0x1f90, 0b1, 0o17, 017. */
function integerOf(text: string): number | undefined {
  const t = text.replaceAll("_", "").toLowerCase();
  const n = t.startsWith("0x")
    ? Number.parseInt(t.slice(2), 16)
    : t.startsWith("0b")
      ? Number.parseInt(t.slice(2), 2)
      : t.startsWith("0o")
        ? Number.parseInt(t.slice(2), 8)
        : t.length > 1 && t.startsWith("0")
          ? Number.parseInt(t.slice(1), 8)
          : Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Local variables (a block's scope sees its parent's; assignment writes where the name lives). */
export class Scope {
  private readonly vars = new Map<string, Value | undefined>();
  /** `barrier`: a method body's scope, which sees its parents' constants and globals but not their locals (Ruby's `def`). */
  constructor(
    readonly parent?: Scope,
    private readonly barrier = false,
  ) {}
  get(name: string): Value | undefined {
    let local = true;
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.vars.has(name) && (local || /^[A-Z$]/.test(name))) return s.vars.get(name);
      if (s.barrier) local = false;
    }
    return undefined;
  }
  /** Assignment: an existing variable of an outer scope is changed, else a new one is made here. */
  set(name: string, v: Value | undefined): void {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.vars.has(name)) {
        s.vars.set(name, v);
        return;
      }
      if (s.barrier) break;
    }
    this.vars.set(name, v);
  }
  /** A block parameter: always this scope's own. */
  define(name: string, v: Value): void {
    this.vars.set(name, v);
  }
}

/** What the evaluator tells its caller: an environment variable taken at its default. */
export interface EvalHooks {
  assumeEnv(node: Node, name: string, dflt: Value): void;
  /**
   * `YAML.load_file(path)`, `JSON.parse(File.read(path))` and the like: the file's data, read under
   * the include rules of docs/security.md, or undefined (the hook reports why).
   */
  readData?(node: Node, path: string, format: "yaml" | "json", symbolize: boolean): Value | undefined;
  /** `File.exist?(path)`: whether the file is there, for a path the include rules allow; else undefined. */
  exists?(node: Node, path: string): boolean | undefined;
  /** `Vagrant::VERSION`: the version the importer takes (and says so). */
  vagrantVersion?(node: Node): string;
}

export const truthy = (v: Value): boolean => !(v.kind === "nil" || (v.kind === "boolean" && !v.b));

/** Ruby's to_s of a value, where it is plain. */
export function toS(v: Value): string | undefined {
  switch (v.kind) {
    case "string":
    case "symbol":
      return v.text;
    case "integer":
      return String(v.n);
    case "boolean":
      return String(v.b);
    case "nil":
      return "";
    default:
      return undefined;
  }
}

/** How a hash keys a value (a symbol :a and a string "a" are different keys). */
export const hashKey = (v: Value): string => `${v.kind}:${toS(v) ?? JSON.stringify(v)}`;

const str = (text: string): Value => ({ kind: "string", text });
const int = (n: number): Value | undefined => (Number.isSafeInteger(n) ? { kind: "integer", n } : undefined);
const bool = (b: boolean): Value => ({ kind: "boolean", b });
const same = (a: Value, b: Value): boolean => JSON.stringify(a) === JSON.stringify(b, (_k, x: unknown) => (x instanceof Map ? [...x] : x));

const named = (node: Node | null): Node[] => (node?.namedChildren ?? []).filter((c) => c.type !== "comment");

/** The items of a value one loops over, as Ruby's each yields them. */
export function itemsOf(v: Value): Value[] | undefined {
  if (v.kind === "array") return [...v.items];
  if (v.kind === "range") {
    if (v.hi - v.lo + 1 > MAX_ITERATIONS) return undefined;
    return Array.from({ length: Math.max(0, v.hi - v.lo + 1) }, (_, i) => ({ kind: "integer", n: v.lo + i }) as Value);
  }
  if (v.kind === "hash") return [...v.entries.values()].map(({ key, value }) => ({ kind: "array", items: [key, value] }) as Value);
  return undefined;
}

/** The name of `ENV["X"]`, or undefined when the node is something else. */
function envRead(node: Node): string | undefined {
  if (node.type !== "element_reference") return undefined;
  if (node.childForFieldName("object")?.text !== "ENV") return undefined;
  const [key] = named(node).slice(1);
  return key?.type === "string" ? stringPart(key) : undefined;
}

/** A string without interpolation: its characters. */
function stringPart(node: Node): string | undefined {
  const single = node.text.startsWith("'") || node.text.startsWith(":'") || node.text.startsWith("%q");
  let out = "";
  for (const c of node.namedChildren) {
    if (c.type === "string_content") out += single ? c.text.replaceAll("\\\\", "\\").replaceAll("\\'", "'") : c.text;
    else if (c.type === "escape_sequence" && ESCAPES[c.text] !== undefined) out += ESCAPES[c.text];
    else return undefined;
  }
  return out;
}

export class Evaluator {
  constructor(private readonly hooks: EvalHooks) {}

  /** The value of an expression, or undefined when Ruby would have to run something to know it. */
  // Long: one dispatch over the node types of Ruby expressions; each case is a line or two.
  value(node: Node, scope: Scope, depth = 0): Value | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const d = depth + 1;
    switch (node.type) {
      case "string":
      case "delimited_symbol": {
        const text = this.interpolate(node, scope, d);
        return text === undefined ? undefined : { kind: node.type === "string" ? "string" : "symbol", text };
      }
      case "simple_symbol":
        return { kind: "symbol", text: node.text.slice(1) };
      case "hash_key_symbol":
        return { kind: "symbol", text: node.text };
      case "integer": {
        const n = integerOf(node.text);
        return n === undefined ? undefined : { kind: "integer", n };
      }
      case "true":
      case "false":
        return bool(node.type === "true");
      case "nil":
        return { kind: "nil" };
      case "array": {
        const items: Value[] = [];
        for (const c of named(node)) {
          const v = this.value(c, scope, d);
          if (!v) return undefined;
          items.push(v);
        }
        return { kind: "array", items };
      }
      case "hash":
        return this.hash(node, scope, d);
      case "range": {
        const lo = node.childForFieldName("begin");
        const hi = node.childForFieldName("end");
        const a = lo && this.value(lo, scope, d);
        const b = hi && this.value(hi, scope, d);
        if (a?.kind !== "integer" || b?.kind !== "integer") return undefined;
        return { kind: "range", lo: a.n, hi: node.childForFieldName("operator")?.text === "..." ? b.n - 1 : b.n };
      }
      case "parenthesized_statements": {
        const inner = named(node);
        return inner.length === 1 ? this.value(inner[0]!, scope, d) : undefined;
      }
      case "identifier":
      case "constant":
      case "global_variable":
        return node.text === "__dir__" ? str(".") : scope.get(node.text);
      case "assignment": {
        const left = node.childForFieldName("left");
        const right = node.childForFieldName("right");
        if (!left || !right || !["identifier", "constant", "global_variable"].includes(left.type)) return undefined;
        const v = this.value(right, scope, d);
        scope.set(left.text, v);
        return v;
      }
      case "scope_resolution":
        // the version of Vagrant that runs the file: the importer states which one it takes
        if (node.text !== "Vagrant::VERSION" || !this.hooks.vagrantVersion) return undefined;
        return str(this.hooks.vagrantVersion(node));
      case "binary":
        return this.binary(node, scope, d);
      case "unary": {
        const op = node.childForFieldName("operator")?.text;
        const x = node.childForFieldName("operand");
        const v = x && this.value(x, scope, d);
        if (!v) return undefined;
        if (op === "!" || op === "not") return bool(!truthy(v));
        if (op === "-" && v.kind === "integer") return int(-v.n);
        return undefined;
      }
      case "conditional": {
        const c = node.childForFieldName("condition");
        const cv = c && this.value(c, scope, d);
        const branch = cv && node.childForFieldName(truthy(cv) ? "consequence" : "alternative");
        return branch ? this.value(branch, scope, d) : undefined;
      }
      case "element_reference":
        return this.index(node, scope, d);
      case "call":
        return this.call(node, scope, d);
      default:
        return undefined;
    }
  }

  /** A string's characters with its `#{...}` computed. */
  private interpolate(node: Node, scope: Scope, depth: number): string | undefined {
    if (!node.namedChildren.some((c) => c.type === "interpolation")) return stringPart(node);
    let out = "";
    for (const c of node.namedChildren) {
      if (c.type === "string_content") out += c.text;
      else if (c.type === "escape_sequence" && ESCAPES[c.text] !== undefined) out += ESCAPES[c.text];
      else if (c.type === "interpolation") {
        const inner = named(c);
        const v = inner.length === 1 ? this.value(inner[0]!, scope, depth) : undefined;
        const t = v && toS(v);
        if (t === undefined) return undefined;
        out += t;
      } else return undefined;
    }
    return out;
  }

  private hash(node: Node, scope: Scope, depth: number): Value | undefined {
    const entries = new Map<string, { key: Value; value: Value }>();
    for (const p of named(node)) {
      const k = p.type === "pair" ? p.childForFieldName("key") : null;
      const v = p.type === "pair" ? p.childForFieldName("value") : null;
      if (!k || !v) return undefined;
      // `"a": 1` is the symbol :a; `"a" => 1` is the string "a"
      const arrow = p.children.some((c) => c.type === "=>");
      const key = k.type === "string" && !arrow ? (this.value(k, scope, depth) as Value | undefined) : this.value(k, scope, depth);
      const keyed = key && k.type === "string" && !arrow && key.kind === "string" ? ({ kind: "symbol", text: key.text } as Value) : key;
      const value = this.value(v, scope, depth);
      if (!keyed || !value) return undefined;
      entries.set(hashKey(keyed), { key: keyed, value });
    }
    return { kind: "hash", entries };
  }

  private binary(node: Node, scope: Scope, depth: number): Value | undefined {
    const op = node.childForFieldName("operator")?.text ?? "";
    const l = node.childForFieldName("left");
    const r = node.childForFieldName("right");
    if (!l || !r) return undefined;
    if (op === "||" || op === "or") {
      const env = envRead(l);
      if (env !== undefined) {
        const dflt = this.value(r, scope, depth);
        if (dflt) this.hooks.assumeEnv(node, env, dflt);
        return dflt;
      }
      const a = this.value(l, scope, depth);
      return a && (truthy(a) ? a : this.value(r, scope, depth));
    }
    if (op === "&&" || op === "and") {
      const a = this.value(l, scope, depth);
      return a && (truthy(a) ? this.value(r, scope, depth) : a);
    }
    const a = this.value(l, scope, depth);
    const b = this.value(r, scope, depth);
    if (!a || !b) return undefined;
    if (op === "%" && a.kind === "string") return mapDefined(sprintf(a.text, b.kind === "array" ? b.items : [b]), str);
    if (a.kind === "other" || b.kind === "other") return undefined;
    if (op === "==") return bool(same(a, b));
    if (op === "!=") return bool(!same(a, b));
    if (a.kind === "integer" && b.kind === "integer") {
      const x = a.n;
      const y = b.n;
      switch (op) {
        case "+":
          return int(x + y);
        case "-":
          return int(x - y);
        case "*":
          return int(x * y);
        case "/":
          return y === 0 ? undefined : int(Math.floor(x / y));
        case "%":
          return y === 0 ? undefined : int(((x % y) + y) % y);
        case "**":
          return y < 0 || y > 64 ? undefined : int(x ** y);
        case "<":
          return bool(x < y);
        case ">":
          return bool(x > y);
        case "<=":
          return bool(x <= y);
        case ">=":
          return bool(x >= y);
        default:
          return undefined;
      }
    }
    if (op === "+" && a.kind === "string" && b.kind === "string") return str(a.text + b.text);
    if (a.kind === "string" && b.kind === "string" && ["<", ">", "<=", ">="].includes(op)) {
      // String#<=>: byte order (Vagrantfiles compare Vagrant::VERSION this way)
      const c = Buffer.compare(Buffer.from(a.text), Buffer.from(b.text));
      return bool(op === "<" ? c < 0 : op === ">" ? c > 0 : op === "<=" ? c <= 0 : c >= 0);
    }
    if (op === "+" && a.kind === "array" && b.kind === "array") return { kind: "array", items: [...a.items, ...b.items] };
    return undefined;
  }

  /** `x[i]`: an array's item, a hash's value (nil when absent, as Ruby says); ENV is unknown. */
  private index(node: Node, scope: Scope, depth: number): Value | undefined {
    const obj = node.childForFieldName("object");
    const args = named(node).slice(1);
    if (!obj || args.length !== 1 || obj.text === "ENV") return undefined;
    const o = this.value(obj, scope, depth);
    const k = this.value(args[0]!, scope, depth);
    if (!o || !k) return undefined;
    if (o.kind === "hash") return o.entries.get(hashKey(k))?.value ?? { kind: "nil" };
    if (o.kind === "array" && k.kind === "integer") return o.items.at(k.n) ?? { kind: "nil" };
    return undefined;
  }

  private call(node: Node, scope: Scope, depth: number): Value | undefined {
    const recv = node.childForFieldName("receiver");
    const method = node.childForFieldName("method")?.text;
    const args = named(node.childForFieldName("arguments"));
    if (!recv && (method === "format" || method === "sprintf") && !node.childForFieldName("block")) {
      const [f, ...rest] = args.map((a) => this.value(a, scope, depth));
      return f?.kind === "string" && rest.every((x) => x) ? mapDefined(sprintf(f.text, rest as Value[]), str) : undefined;
    }
    if (recv && ["File", "YAML", "Psych", "JSON"].includes(recv.text))
      return this.library(node, recv.text, method ?? "", args, scope, depth);
    if (!recv || !method) return undefined;
    if (recv.text === "ENV" && method === "fetch" && args.length === 2 && args[0]!.type === "string") {
      const name = stringPart(args[0]!);
      const dflt = this.value(args[1]!, scope, depth);
      if (name !== undefined && dflt) this.hooks.assumeEnv(node, name, dflt);
      return name === undefined ? undefined : dflt;
    }
    const o = this.value(recv, scope, depth);
    if (!o) return undefined;
    const arg = (i: number) => (args[i] ? this.value(args[i], scope, depth) : undefined);
    if (node.childForFieldName("block")) return method === "map" || method === "collect" ? this.map(node, o, scope, depth) : undefined;
    switch (method) {
      case "to_s":
        return args.length ? undefined : o.kind === "string" ? o : mapDefined(toS(o), str);
      case "to_i":
        return o.kind === "integer" ? o : o.kind === "string" && /^\s*-?\d+/.test(o.text) ? int(Number.parseInt(o.text, 10)) : undefined;
      case "to_sym":
        return o.kind === "string" || o.kind === "symbol" ? { kind: "symbol", text: o.text } : undefined;
      case "to_a":
        return mapDefined(itemsOf(o), (items) => ({ kind: "array", items }));
      case "size":
      case "length":
      case "count":
        return args.length
          ? undefined
          : o.kind === "hash"
            ? int(o.entries.size)
            : o.kind === "string"
              ? int(o.text.length)
              : mapDefined(itemsOf(o), (i) => int(i.length));
      case "first":
      case "last": {
        const items = itemsOf(o);
        return items && !args.length ? (method === "first" ? items[0] : items.at(-1)) : undefined;
      }
      case "keys":
      case "values":
        return o.kind === "hash"
          ? { kind: "array", items: [...o.entries.values()].map((e) => (method === "keys" ? e.key : e.value)) }
          : undefined;
      case "join": {
        const sep = args.length ? arg(0) : str("");
        const parts = o.kind === "array" ? o.items.map(toS) : undefined;
        return sep?.kind === "string" && parts?.every((p) => p !== undefined) ? str(parts.join(sep.text)) : undefined;
      }
      case "fetch":
      case "dig": {
        const k = arg(0);
        if (!k || args.length > 2) return undefined;
        const got =
          o.kind === "hash" ? o.entries.get(hashKey(k))?.value : o.kind === "array" && k.kind === "integer" ? o.items.at(k.n) : undefined;
        return got ?? (args.length === 2 ? arg(1) : undefined);
      }
      case "include?": {
        const k = arg(0);
        const items = itemsOf(o);
        return k && items ? bool(items.some((i) => same(i, k))) : undefined;
      }
      case "nil?":
        return bool(o.kind === "nil");
      case "empty?":
        return o.kind === "string" ? bool(o.text === "") : mapDefined(itemsOf(o), (i) => bool(i.length === 0));
      case "upcase":
      case "downcase":
        return o.kind === "string" ? str(method === "upcase" ? o.text.toUpperCase() : o.text.toLowerCase()) : undefined;
      default:
        return undefined;
    }
  }

  /**
   * Paths and data files: `File.join`, `File.dirname(__FILE__)` and `__dir__` (the Vagrantfile's
   * folder, kept as the relative path "."), `File.expand_path(p, base)`, `File.exist?`, and
   * `YAML.load_file(p)` / `YAML.load(File.read(p))` / `JSON.parse(File.read(p))`, read through the
   * hooks (the include rules of docs/security.md). Nothing else of these classes is run.
   */
  private library(node: Node, cls: string, method: string, args: Node[], scope: Scope, depth: number): Value | undefined {
    const path = (n: Node | undefined) => textOf(n && this.value(n, scope, depth));
    const opts = args.slice(1).some((a) => /symbolize_names:\s*true|:symbolize_names\s*=>\s*true/.test(a.text));
    const fileRead = (n: Node | undefined): string | undefined =>
      n?.type === "call" && n.childForFieldName("receiver")?.text === "File" && n.childForFieldName("method")?.text === "read"
        ? path(named(n.childForFieldName("arguments"))[0])
        : undefined;
    if (cls === "File") {
      if (method === "dirname" && args.length === 1 && ["__FILE__", "__dir__"].includes(args[0]!.text)) return str(".");
      if (method === "join" && args.length) {
        const parts = args.map(path);
        return parts.every((p) => p !== undefined) ? str(parts.join("/").replaceAll(/\/+/g, "/")) : undefined;
      }
      if (method === "expand_path" && args.length >= 1 && args.length <= 2) {
        const p = path(args[0]);
        const base = args.length === 2 ? path(args[1]) : ".";
        if (p === undefined || base === undefined || p.startsWith("/") || p.startsWith("~")) return undefined;
        return str(base === "." ? p : `${base}/${p}`);
      }
      if ((method === "exist?" || method === "file?" || method === "exists?") && args.length === 1) {
        const p = path(args[0]);
        const got = p === undefined ? undefined : this.hooks.exists?.(node, p);
        return got === undefined ? undefined : bool(got);
      }
      return undefined;
    }
    const yaml = cls === "YAML" || cls === "Psych";
    let file: string | undefined;
    let format: "yaml" | "json" = yaml ? "yaml" : "json";
    if ((method === "load_file" || method === "safe_load_file" || method === "unsafe_load_file") && args.length >= 1) file = path(args[0]);
    else if ((yaml ? ["load", "safe_load", "unsafe_load"] : ["parse", "load"]).includes(method) && args.length >= 1)
      file = fileRead(args[0]);
    if (file === undefined || !this.hooks.readData) return undefined;
    if (!yaml) format = "json";
    return this.hooks.readData(node, file, format, !yaml && opts ? true : yaml && opts);
  }

  /** `xs.map { |x| expr }`: a block of one expression, per item. */
  private map(node: Node, o: Value, scope: Scope, depth: number): Value | undefined {
    const block = node.childForFieldName("block");
    const body = named(block?.childForFieldName("body") ?? null);
    const params = named(block?.childForFieldName("parameters") ?? null);
    const items = itemsOf(o);
    if (!items || body.length !== 1 || params.some((p) => p.type !== "identifier")) return undefined;
    const out: Value[] = [];
    for (const item of items) {
      const inner = new Scope(scope);
      bindParams(
        inner,
        params.map((p) => p.text),
        [item],
      );
      const v = this.value(body[0]!, inner, depth);
      if (!v) return undefined;
      out.push(v);
    }
    return { kind: "array", items: out };
  }

  /**
   * The parameter tuples a loop call yields (`xs.each`, `each_with_index`, `each_pair`, `map`,
   * `n.times`, `a.upto(b)`), or undefined when its receiver or count is not known.
   */
  iterations(call: Node, scope: Scope): Value[][] | undefined {
    const method = call.childForFieldName("method")?.text;
    const recv = call.childForFieldName("receiver");
    if (!recv || !method) return undefined;
    const o = this.value(recv, scope);
    if (!o) return undefined;
    let items: Value[] | undefined;
    if (method === "times" && o.kind === "integer") items = itemsOf({ kind: "range", lo: 0, hi: o.n - 1 });
    else if (method === "upto" && o.kind === "integer") {
      const [to] = named(call.childForFieldName("arguments"));
      const b = to && this.value(to, scope);
      items = b?.kind === "integer" ? itemsOf({ kind: "range", lo: o.n, hi: b.n }) : undefined;
    } else if (["each", "each_pair", "map", "collect", "each_with_index"].includes(method)) items = itemsOf(o);
    if (!items || items.length > MAX_ITERATIONS) return undefined;
    return items.map((item, i) => (method === "each_with_index" ? [item, { kind: "integer", n: i }] : [item]));
  }
}

const textOf = (v: Value | undefined): string | undefined => (v?.kind === "string" || v?.kind === "symbol" ? v.text : undefined);

/**
 * Ruby's `format`/`String#%` for the directives a Vagrantfile uses: `%s`, `%d`/`%i`, `%x`, `%%`,
 * with the flags `-` and `0` and a width (Kernel#sprintf); anything else is not computed.
 */
export function sprintf(fmt: string, args: readonly Value[]): string | undefined {
  let i = 0;
  let bad = false;
  const out = fmt.replaceAll(/%([-0]?)(\d*)([sdix%])/g, (_m, flag: string, width: string, conv: string) => {
    if (conv === "%") return "%";
    const v = args[i++];
    let t: string | undefined;
    if (!v) bad = true;
    else if (conv === "s") t = toS(v);
    else if (v.kind === "integer") t = conv === "x" ? v.n.toString(16) : String(v.n);
    if (t === undefined) {
      bad = true;
      return "";
    }
    const w = Number(width || 0);
    if (flag === "-") return t.padEnd(w);
    if (flag === "0" && conv !== "s") return t.startsWith("-") ? `-${t.slice(1).padStart(w - 1, "0")}` : t.padStart(w, "0");
    return t.padStart(w);
  });
  // a directive this subset does not know (%f, %.2s, ...) leaves a % behind: not computed
  return bad || fmt.replaceAll(/%([-0]?)(\d*)([sdix%])/g, "").includes("%") ? undefined : out;
}

const mapDefined = <T, U>(x: T | undefined, f: (x: T) => U | undefined): U | undefined => (x === undefined ? undefined : f(x));

/** Block parameters as Ruby binds them: one array item spread over several parameters. */
export function bindParams(scope: Scope, params: readonly string[], args: readonly Value[]): void {
  const spread = args.length === 1 && params.length > 1 && args[0]!.kind === "array" ? args[0]!.items : args;
  params.forEach((p, i) => scope.define(p, spread[i] ?? { kind: "nil" }));
}

/** The loop methods `iterations` expands. */
export const LOOP_METHODS = new Set(["each", "each_pair", "map", "collect", "each_with_index", "times", "upto"]);
