/**
 * A proof file: one claim of the seeds, quoted, formalised as theorems over a
 * family of topologies. The family is a topology template whose placeholders
 * `${name}` are parameters, each with a finite domain; a theorem says for which
 * parameter values a query is reachable:
 *
 *   claim: "If your server binds to 127.0.0.1 ..., it accepts connections only from the same machine."
 *   params:
 *     bind: ["127.0.0.1", "0.0.0.0", "192.168.1.30", "::", "::1"]
 *     forward: { none: null, any: { hostPort: 2222, guestPort: 22 } }   # label: value
 *   where: { not: { ... } }            # optional: leave assignments out of the family
 *   topology: { machines: { server: { services: [ { port: 80, bind: "${bind}" } ] } } }
 *   theorems:
 *     - query: "lan-pc -> server:80/tcp"
 *       reachable: { bind: ["0.0.0.0", "192.168.1.30", "::"] }   # iff
 *   holds: false                       # optional: the claim as stated is false (a recorded finding)
 *
 * A placeholder that is a whole string is replaced by the value (any YAML: a
 * mapping, a list; null removes the key or list item); inside a longer string it
 * is replaced by the value's text. Conditions: true, false, { PARAM: label or
 * [labels] }, { all: [...] }, { any: [...] }, { not: ... }.
 */
import { LineCounter } from "yaml";
import { checkValueSize, makeLocator, parseYamlBounded, readBounded, tooLarge } from "../topology/load.js";
import { z } from "zod";
import { diagnostic, type Diagnostic, InputError, type Span } from "../diagnostics/diagnostic.js";
import { parseQuery, type Query } from "../ir/query.js";

export type Value = unknown;

export interface Param {
  readonly name: string;
  readonly labels: readonly string[];
  readonly values: readonly Value[];
}

export type Cond =
  | { readonly k: "const"; readonly b: boolean }
  | { readonly k: "in"; readonly param: string; readonly values: readonly number[] }
  | { readonly k: "all"; readonly xs: readonly Cond[] }
  | { readonly k: "any"; readonly xs: readonly Cond[] }
  | { readonly k: "not"; readonly x: Cond };

export interface Theorem {
  readonly text: string;
  readonly query: Query;
  readonly reachable: Cond;
  readonly span: Span;
}

export interface Family {
  readonly file: string;
  readonly source: string;
  readonly claim: string;
  readonly origin?: string;
  readonly note?: string;
  readonly holds: boolean;
  readonly params: readonly Param[];
  readonly where: Cond;
  readonly template: unknown;
  readonly theorems: readonly Theorem[];
}

/** One member of the family: a value index per parameter. */
export type Assignment = readonly number[];

const label = z.union([z.string(), z.number(), z.boolean()]);
const CondSchema: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.boolean(),
    z.strictObject({ all: z.array(CondSchema) }),
    z.strictObject({ any: z.array(CondSchema) }),
    z.strictObject({ not: CondSchema }),
    z.record(z.string(), z.union([label, z.array(label)])),
  ]),
);

const ProofSchema = z.strictObject({
  claim: z.string().min(1),
  source: z.string().optional(),
  note: z.string().optional(),
  holds: z.boolean().optional(),
  params: z.record(
    z.string().regex(/^[a-z][a-z0-9_]*$/i),
    z.union([z.array(z.union([z.string(), z.number(), z.boolean()])).min(1), z.record(z.string(), z.unknown())]),
  ),
  where: CondSchema.optional(),
  topology: z.record(z.string(), z.unknown()),
  theorems: z.array(z.strictObject({ query: z.string(), reachable: CondSchema })).min(1),
});

type ProofDoc = z.infer<typeof ProofSchema>;

/**
 * What a proof file may ask for (docs/topology.md "Limits"; RCH006 past them): its text, and its
 * members, the product of the parameters' domain sizes before where: (every member is loaded,
 * lowered and simulated, and Z3 sees them all in one formula: the largest family of proofs/ has 64).
 */
export const PROOF_LIMITS = { textChars: 1024 * 1024, members: 1024 } as const;
type At = (path: readonly (string | number)[]) => Span;

/** What the sections after the claim read with: where a path is, and the diagnostics so far (reported together at the end). */
interface Reading {
  readonly file: string;
  readonly source: string;
  readonly lc: LineCounter;
  readonly at: At;
  readonly ds: Diagnostic[];
}

export function loadFamilyText(file: string, source: string): Family {
  const { p, lc, at } = parseProof(file, source);
  const r: Reading = { file, source, lc, at, ds: [] };
  const params = paramsOf(r, p.params);
  const theorems = theoremsOf(r, params, p.theorems);
  const where = p.where === undefined ? ({ k: "const", b: true } as const) : condOf(r, params, p.where, ["where"]);
  checkPlaces(r, params, p.topology);
  if (r.ds.length) throw new InputError(r.ds, new Map([[file, source]]));
  return {
    file,
    source,
    claim: p.claim,
    ...(p.source ? { origin: p.source } : {}),
    ...(p.note ? { note: p.note } : {}),
    holds: p.holds ?? true,
    params,
    where,
    template: p.topology,
    theorems,
  };
}

/** The file as YAML, checked against the proof schema (claim, params, where, topology, theorems); throws on either failing. */
function parseProof(file: string, source: string): { p: ProofDoc; lc: LineCounter; at: At } {
  const lc = new LineCounter();
  const doc = parseYamlBounded(file, source, lc, PROOF_LIMITS.textChars);
  const loc = makeLocator(file, doc, lc);
  const at = loc.at;
  const sources = new Map([[file, source]]);
  const fail = (ds: Diagnostic[]): never => {
    throw new InputError(ds, sources);
  };
  if (doc.errors.length) {
    fail(
      doc.errors.map((e) => {
        const p = lc.linePos(e.pos[0]);
        return diagnostic("RCH002", { file, line: p.line, col: p.col }, e.message.split("\n")[0]!, { expected: "valid YAML" });
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // unresolved aliases, alias bombs: the yaml library throws while building values
    fail([
      diagnostic(
        "RCH002",
        { file, line: 1, col: 1 },
        `cannot build the document: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`,
        {
          expected: "anchors (&name) defined before their aliases (*name), and at most 100 alias expansions",
        },
      ),
    ]);
  }
  checkValueSize(file, raw, loc, sources);
  const parsed = ProofSchema.safeParse(raw);
  if (!parsed.success) {
    fail(
      parsed.error.issues.map((i) => {
        const path = i.path.filter((p): p is string | number => typeof p !== "symbol");
        return diagnostic(
          i.code === "unrecognized_keys" ? "RCH003" : i.code === "invalid_type" && i.input === undefined ? "RCH005" : "RCH004",
          at(path),
          `${path.join(".") || "the file"}: ${i.message}`,
          {
            expected: "a proof file: claim, params, topology, theorems (see proofs/README.md)",
          },
        );
      }),
    );
  }
  return { p: parsed.data!, lc, at };
}

/** params: a list of values or label: value pairs each; names and labels checked. */
function paramsOf({ at, ds }: Reading, raw: ProofDoc["params"]): Param[] {
  const params: Param[] = Object.entries(raw).map(([name, d]) =>
    Array.isArray(d) ? { name, labels: d.map(String), values: d } : { name, labels: Object.keys(d), values: Object.values(d) },
  );
  for (const q of params) {
    if (!q.values.length)
      ds.push(
        diagnostic("RCH004", at(["params", q.name]), `parameter ${q.name} has no values`, {
          expected: "a list of values, or label: value pairs (at least one)",
        }),
      );
    if (["all", "any", "not"].includes(q.name))
      ds.push(
        diagnostic("RCH004", at(["params", q.name]), `a parameter cannot be named ${q.name}`, {
          expected: "another name: all, any and not combine conditions",
        }),
      );
    const dup = q.labels.find((l, i) => q.labels.indexOf(l) !== i);
    if (dup !== undefined)
      ds.push(
        diagnostic("RCH030", at(["params", q.name]), `parameter ${q.name} lists the value ${dup} twice`, {
          expected: 'each value once (80 and "80" are the same value)',
        }),
      );
  }
  const members = params.reduce((n, q) => n * Math.max(1, q.values.length), 1);
  if (members > PROOF_LIMITS.members)
    ds.push(
      tooLarge(
        at(["params"]),
        `the family has ${members > 1e15 ? members.toExponential(2) : members} members (the product of ${params.map((q) => q.values.length).join(" x ")} values)`,
        `at most ${PROOF_LIMITS.members} members: fewer parameters or values (where: excludes members only after they are counted)`,
      ),
    );
  for (const q of params)
    if (q.values.length > 255)
      ds.push(
        diagnostic("RCH004", at(["params", q.name]), `parameter ${q.name} has ${q.values.length} values`, {
          expected: "at most 255 values per parameter",
        }),
      );
  return params;
}

/** A condition (where:, a theorem's reachable:) at `path`; a bad one reads as false, with a diagnostic. */
function condOf(r: Reading, params: readonly Param[], c: unknown, path: (string | number)[]): Cond {
  const { at, ds } = r;
  if (typeof c === "boolean") return { k: "const", b: c };
  if (c === null || typeof c !== "object" || Array.isArray(c)) {
    ds.push(
      diagnostic("RCH004", at(path), `${JSON.stringify(c)} is not a condition`, {
        expected: "true, false, { PARAM: value or [values] }, or all/any/not of conditions",
      }),
    );
    return { k: "const", b: false };
  }
  const o = c as Record<string, unknown>;
  const only = Object.keys(o).length === 1;
  // all/any/not are the combinators (a parameter cannot be named so: see the params check)
  if (only && "all" in o && Array.isArray(o["all"]))
    return { k: "all", xs: (o["all"] as unknown[]).map((x, i) => condOf(r, params, x, [...path, "all", i])) };
  if (only && "any" in o && Array.isArray(o["any"]))
    return { k: "any", xs: (o["any"] as unknown[]).map((x, i) => condOf(r, params, x, [...path, "any", i])) };
  if (only && "not" in o) return { k: "not", x: condOf(r, params, o["not"], [...path, "not"]) };
  const keys = Object.keys(o);
  if (keys.length !== 1) {
    ds.push(
      diagnostic("RCH004", at(path), `a condition names one parameter, not ${keys.length}`, {
        expected: "{ PARAM: value or [values] }, or all/any/not of conditions",
      }),
    );
    return { k: "const", b: false };
  }
  const name = keys[0]!;
  const param = params.find((x) => x.name === name);
  if (!param) {
    ds.push(
      diagnostic("RCH004", at([...path, name]), `no parameter ${name}`, { expected: `one of ${params.map((x) => x.name).join(", ")}` }),
    );
    return { k: "const", b: false };
  }
  const wanted = ([] as unknown[]).concat(o[name]).map(String);
  const values: number[] = [];
  for (const w of wanted) {
    const i = param.labels.indexOf(w);
    if (i < 0)
      ds.push(
        diagnostic("RCH004", at([...path, name]), `${w} is not a value of ${name}`, { expected: `one of ${param.labels.join(", ")}` }),
      );
    else values.push(i);
  }
  return { k: "in", param: name, values };
}

/** theorems: each query parsed (an address, not localhost) and its reachable: condition. */
function theoremsOf(r: Reading, params: readonly Param[], raw: ProofDoc["theorems"]): Theorem[] {
  const { at, ds } = r;
  return raw.map((t, i) => {
    const q = parseQuery(t.query);
    const span = at(["theorems", i, "query"]);
    if (!q.ok) {
      ds.push(diagnostic("RCH040", span, q.message, { expected: q.expected }));
      return { text: t.query, query: undefined as unknown as Query, reachable: { k: "const", b: false }, span };
    }
    if (q.query.target.kind === "localhost")
      ds.push(
        diagnostic("RCH040", span, "a theorem's query names an address, not localhost", {
          expected: "127.0.0.1 or [::1] (localhost is both)",
        }),
      );
    return { text: t.query, query: q.query, reachable: condOf(r, params, t.reachable, ["theorems", i, "reachable"]), span };
  });
}

/** The template's placeholders: each names a parameter; inside a longer string, only scalar values can stand. */
function checkPlaces({ file, source, lc, at, ds }: Reading, params: readonly Param[], template: unknown): void {
  const placeAt = (text: string): Span => {
    const off = source.indexOf(text);
    const pos = lc.linePos(Math.max(0, off));
    return off < 0 ? at(["topology"]) : { file, line: pos.line, col: pos.col };
  };
  const check = (x: unknown): void => {
    if (typeof x === "string") {
      const whole = /^\$\{([A-Za-z][A-Za-z0-9_]*)\}$/.test(x);
      for (const m of x.matchAll(PLACEHOLDER)) {
        const param = params.find((q) => q.name === m[1]);
        if (!param)
          ds.push(
            diagnostic("RCH004", placeAt(m[0]), `\${${m[1]}} is not a parameter`, {
              expected: `one of ${params.map((q) => q.name).join(", ")}`,
            }),
          );
        else if (!whole && param.values.some((v) => v === null || typeof v === "object"))
          ds.push(
            diagnostic(
              "RCH004",
              placeAt(m[0]),
              `\${${m[1]}} stands inside a longer string, but some values of ${m[1]} are not text or numbers`,
              { expected: `the placeholder as the whole value ("\${${m[1]}}"), or scalar values` },
            ),
          );
      }
    } else if (Array.isArray(x)) x.forEach(check);
    else if (x && typeof x === "object")
      for (const [k, v] of Object.entries(x)) {
        check(k.includes("${") ? `${k} ` : k); // a key is text: never a whole-value placeholder
        check(v);
      }
  };
  check(template);
}

export function loadFamilyFile(file: string): Family {
  return loadFamilyText(file, readBounded(file, PROOF_LIMITS.textChars, "a readable proof file"));
}

/** Every assignment of the family (the cartesian product of the domains), `where` applied. */
export function assignments(f: Family): Assignment[] {
  let out: number[][] = [[]];
  for (const p of f.params) out = out.flatMap((a) => p.values.map((_, i) => [...a, i]));
  return out.filter((a) => holds(f, f.where, a));
}

export function holds(f: Family, c: Cond, a: Assignment): boolean {
  switch (c.k) {
    case "const":
      return c.b;
    case "in":
      return c.values.includes(a[f.params.findIndex((p) => p.name === c.param)]!);
    case "all":
      return c.xs.every((x) => holds(f, x, a));
    case "any":
      return c.xs.some((x) => holds(f, x, a));
    case "not":
      return !holds(f, c.x, a);
  }
}

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9_]*)\}/g;
const REMOVED = Symbol("removed");

/** The concrete topology document of one assignment. */
export function instantiate(f: Family, a: Assignment): Record<string, unknown> {
  const value = (name: string): Value => {
    const i = f.params.findIndex((p) => p.name === name);
    if (i < 0)
      throw new InputError([
        diagnostic("RCH004", { file: f.file, line: 1, col: 1 }, `the topology uses \${${name}}, which is not a parameter`, {
          expected: `one of ${f.params.map((p) => p.name).join(", ")}`,
        }),
      ]);
    return f.params[i]!.values[a[i]!];
  };
  const walk = (x: unknown): unknown => {
    if (typeof x === "string") {
      const whole = /^\$\{([A-Za-z][A-Za-z0-9_]*)\}$/.exec(x);
      if (whole) {
        const v = value(whole[1]!);
        return v === null ? REMOVED : structuredClone(v);
      }
      return x.replace(PLACEHOLDER, (_, n: string) => String(value(n)));
    }
    if (Array.isArray(x)) return x.map(walk).filter((y) => y !== REMOVED);
    if (x && typeof x === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(x)) {
        const w = walk(v);
        if (w !== REMOVED) out[k.replace(PLACEHOLDER, (_, n: string) => String(value(n)))] = w;
      }
      return out;
    }
    return x;
  };
  return walk(f.template) as Record<string, unknown>;
}

/** "bind=127.0.0.1, forward=none" */
export const assignmentText = (f: Family, a: Assignment): string => f.params.map((p, i) => `${p.name}=${p.labels[a[i]!]}`).join(", ");

/** The condition in words, for reports. */
export function condText(f: Family, c: Cond): string {
  switch (c.k) {
    case "const":
      return String(c.b);
    case "in": {
      const p = f.params.find((x) => x.name === c.param)!;
      const ls = c.values.map((v) => p.labels[v]!);
      return ls.length === 1 ? `${c.param}=${ls[0]}` : `${c.param} in {${ls.join(", ")}}`;
    }
    case "all":
      return c.xs.length ? c.xs.map((x) => (x.k === "any" ? `(${condText(f, x)})` : condText(f, x))).join(" and ") : "true";
    case "any":
      return c.xs.length ? c.xs.map((x) => condText(f, x)).join(" or ") : "false";
    case "not":
      return `not (${condText(f, c.x)})`;
  }
}
