/**
 * The shape check's fast path (issue 19): the zod schema of schema.ts compiled once into plain
 * functions that say whether a document has the shape, and give the value zod would give (strict
 * objects list their keys in the schema's order, as zod's output does: an object whose keys are
 * out of that order gets them in order in place, see reorder(); the value is the input itself). It
 * decides only what it is sure of: a document it does not pass (a wrong shape, or a part of a
 * schema it does not know) goes to zod, whose issues are the diagnostics. So a diagnostic never
 * changes, and a valid document skips zod's copy of every value.
 *
 * test/topology/shape.test.ts holds it to zod: on every fixture and on random damage to them, what
 * it passes zod passes too, with the same value, key order included, and zod reads the value the
 * same after it.
 */
import type { z } from "zod";

/** The mark of a value the fast path does not pass. */
export const NOT_SURE: unique symbol = Symbol("not sure");
type Check = (v: unknown) => unknown;

const compiled = new WeakMap<object, Check>();

/** The value zod's safeParse would give for a value of `schema`'s shape, or NOT_SURE (then ask zod). */
export function fastShape(schema: z.ZodType, value: unknown): unknown {
  let check = compiled.get(schema);
  if (!check) compiled.set(schema, (check = compile(schema)));
  return check(value);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const never: Check = () => NOT_SURE;

/** The zod definition parts this file reads (zod 4's `_zod.def`). */
interface Def {
  readonly type: string;
  readonly checks?: readonly { readonly _zod: { readonly def: Record<string, unknown> & { readonly check: string } } }[];
  readonly shape?: Record<string, z.ZodType>;
  readonly catchall?: z.ZodType;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly keyType?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly entries?: Record<string, unknown>;
  readonly values?: readonly unknown[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** A check of `schema`, or `never` where the schema uses something this file does not know. */
function compile(schema: z.ZodType): Check {
  const def = defOf(schema);
  switch (def.type) {
    case "string":
      return scalar(
        def,
        (v) => typeof v === "string",
        (v) => (v as string).length,
      );
    case "number":
      return scalar(def, (v) => typeof v === "number" && Number.isFinite(v), undefined);
    case "boolean":
      return def.checks?.length ? never : (v) => (typeof v === "boolean" ? v : NOT_SURE);
    case "enum": {
      const ok = new Set(Object.values(def.entries ?? {}));
      return (v) => (ok.has(v) ? v : NOT_SURE);
    }
    case "literal": {
      const ok = new Set(def.values);
      return (v) => (ok.has(v) ? v : NOT_SURE);
    }
    case "optional": {
      const inner = lazy(def.innerType!);
      return (v) => (v === undefined ? v : inner(v));
    }
    case "union":
      return union(def);
    case "array":
      return array(def);
    case "record":
      return record(def);
    case "object":
      return object(def);
    default:
      return never;
  }
}

/** Compiled on first use (the schema may refer to itself through getters). */
function lazy(s: z.ZodType): Check {
  let c: Check | undefined;
  return (v) => (c ??= compile(s))(v);
}

/** A string or number with the checks zod has for them here: lengths, safe integers, bounds. */
function scalar(def: Def, type: (v: unknown) => boolean, length: ((v: unknown) => number) | undefined): Check {
  const tests: ((v: unknown) => boolean)[] = [type];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === "min_length" && length) tests.push((v) => length(v) >= (d["minimum"] as number));
    else if (d.check === "number_format" && d["format"] === "safeint") tests.push((v) => Number.isSafeInteger(v));
    else if (d.check === "greater_than")
      tests.push(d["inclusive"] ? (v) => (v as number) >= (d["value"] as number) : (v) => (v as number) > (d["value"] as number));
    else if (d.check === "less_than")
      tests.push(d["inclusive"] ? (v) => (v as number) <= (d["value"] as number) : (v) => (v as number) < (d["value"] as number));
    else return never;
  }
  if (tests.length === 1) return (v) => (type(v) ? v : NOT_SURE);
  return (v) => (tests.every((t) => t(v)) ? v : NOT_SURE);
}

/** A union (discriminated or not): the first option that passes, as zod takes it. */
function union(def: Def): Check {
  const options = (def.options ?? []).map(lazy);
  return (v) => {
    for (const o of options) {
      const r = o(v);
      if (r !== NOT_SURE) return r;
    }
    return NOT_SURE;
  };
}

function array(def: Def): Check {
  let min = 0;
  for (const c of def.checks ?? []) {
    if (c._zod.def.check !== "min_length") return never;
    min = c._zod.def["minimum"] as number;
  }
  const item = lazy(def.element!);
  return (v) => {
    if (!Array.isArray(v) || v.length < min) return NOT_SURE;
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const r = item(v[i]);
      if (r === NOT_SURE) return NOT_SURE;
      if (r !== v[i]) (out ??= v.slice())[i] = r;
    }
    return out ?? v;
  };
}

/** z.record(z.string(), V): every own key, in the input's order. */
function record(def: Def): Check {
  const key = defOf(def.keyType!);
  if (key.type !== "string" || key.checks?.length) return never;
  const value = lazy(def.valueType!);
  return (v) => {
    if (!isRecord(v)) return NOT_SURE;
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(v)) {
      const r = value(v[k]);
      if (r === NOT_SURE) return NOT_SURE;
      if (r !== v[k]) (out ??= { ...v })[k] = r;
    }
    return out ?? v;
  };
}

/** A strict object: no key outside its shape, each key's value of its kind; zod lists the keys in the shape's order. */
function object(def: Def): Check {
  if (!def.catchall || defOf(def.catchall).type !== "never" || def.checks?.length) return never;
  const keys = Object.keys(def.shape ?? {});
  const rank = new Map(keys.map((k, i) => [k, i]));
  const checks = keys.map((k) => lazy(def.shape![k]!));
  const required = keys.map((k) => defOf(def.shape![k]!).type !== "optional");
  const requiredCount = required.filter(Boolean).length;
  return (v) => {
    if (!isRecord(v)) return NOT_SURE;
    let last = -1;
    let ordered = true;
    let seenRequired = 0;
    // the values zod gives, by rank, once one differs from the input's (until then they are the input's)
    let outs: unknown[] | undefined;
    for (const k in v) {
      const r = rank.get(k);
      if (r === undefined || !Object.hasOwn(v, k)) return NOT_SURE;
      if (r < last) ordered = false;
      last = r;
      if (required[r]) seenRequired++;
      const x = v[k];
      const y = x === undefined ? NOT_SURE : checks[r]!(x);
      if (y === NOT_SURE) return NOT_SURE;
      if (y !== x && !outs) {
        outs = new Array<unknown>(keys.length);
        for (const k2 in v) {
          if (k2 === k) break;
          outs[rank.get(k2)!] = v[k2];
        }
      }
      if (outs) outs[r] = y;
    }
    if (seenRequired !== requiredCount) return NOT_SURE;
    if (ordered && !outs) return v;
    if (!outs) return reorder(v, keys);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) if (Object.hasOwn(v, keys[i]!)) out[keys[i]!] = outs ? outs[i] : v[keys[i]!];
    return out;
  };
}

/**
 * A checked object whose keys are all its own values but not in the schema's order: its keys put
 * in that order in place (zod's output order), instead of a new object, which would make new every
 * list and mapping above it too (a 10,000-machine file written `dport` before `sport` was copied
 * whole). Keys are deleted last first, so that V8 keeps the object's fast properties (deleting an
 * object's last-added key steps its map back), then added again in order. The value is the
 * loader's own, fresh from the parser; nothing else holds it.
 */
function reorder(v: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const own = Object.keys(v);
  const values = own.map((k) => v[k]);
  for (let i = own.length - 1; i >= 0; i--) delete v[own[i]!];
  for (let j = 0; j < keys.length; j++) {
    const i = own.indexOf(keys[j]!);
    if (i >= 0) v[keys[j]!] = values[i];
  }
  return v;
}
