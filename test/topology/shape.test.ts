/**
 * The shape check's fast path (src/topology/shape.ts) against zod: what it passes, zod passes,
 * with the same value (key order included); every valid fixture takes the fast path; random
 * damage to valid documents never makes it pass what zod refuses.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { dataFiles } from "../model-files.js";
import { TopologySchema } from "../../src/topology/schema.js";
import { fastShape, NOT_SURE } from "../../src/topology/shape.js";
import { lanDoc } from "../bench/generate.js";

const root = join(import.meta.dirname, "..", "..");

/** The documents of the repository's YAML and JSON files that the yaml library reads. */
function documents(): unknown[] {
  const all = [...dataFiles(join(root, "models")), ...dataFiles(join(root, "test")), ...dataFiles(join(root, "proofs"))];
  return all.flatMap((f) => {
    try {
      const doc = YAML.parseDocument(readFileSync(f, "utf8"), { uniqueKeys: true });
      return doc.errors.length ? [] : [doc.toJS({ maxAliasCount: 100 }) as unknown];
    } catch {
      return [];
    }
  });
}

/** Compares the fast path with zod on one value; returns whether the fast path passed it. */
function agree(v: unknown): boolean {
  // zod reads the value as it was: the fast path may put keys in order in place (shape.ts reorder)
  const zod = TopologySchema.safeParse(structuredClone(v));
  const fast = fastShape(TopologySchema, v);
  // whatever the fast path did to the value, zod reads it as before: the same value or the same issues
  expect(TopologySchema.safeParse(v), "zod on the value after the fast path").toStrictEqual(zod);
  if (fast === NOT_SURE) return false;
  expect(zod.success, "zod passes what the fast path passes").toBe(true);
  expect(fast).toStrictEqual(zod.data);
  expect(JSON.stringify(fast), "the keys in zod's order").toBe(JSON.stringify(zod.data));
  return true;
}

/** Every path of a value, the root included. */
function paths(v: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...path, i], out));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...path, k], out);
  return out;
}

describe("the shape check's fast path equals zod", () => {
  const docs = documents();

  it("passes every valid fixture with zod's value, and nothing zod refuses", () => {
    let valid = 0;
    for (const d of docs) {
      const took = agree(d);
      if (TopologySchema.safeParse(d).success) {
        valid++;
        expect(took, JSON.stringify(d).slice(0, 200)).toBe(true);
      }
    }
    expect(valid).toBeGreaterThan(50);
    expect(agree(lanDoc(30, 10))).toBe(true);
  });

  it("puts the keys of a document written out of zod's order in order in place: no copy of what holds them", () => {
    const doc = lanDoc(3, 4) as { machines: Record<string, { firewall?: { input?: { rules?: Record<string, unknown>[] } } }> };
    const m = Object.values(doc.machines).find((x) => x.firewall?.input?.rules?.length)!;
    const rule = m.firewall!.input!.rules![0]!;
    // the rule written with its keys reversed: action, zod's first key, comes last
    const reversed = Object.fromEntries(Object.entries(rule).reverse());
    m.firewall!.input!.rules![0] = reversed;
    expect(Object.keys(reversed).at(-1)).toBe("action");
    const fast = fastShape(TopologySchema, doc);
    expect(fast).toBe(doc);
    expect(m.firewall!.input!.rules![0]).toBe(reversed);
    expect(Object.keys(reversed)).toEqual(
      Object.keys(
        TopologySchema.parse(doc).machines[Object.keys(doc.machines).find((k) => doc.machines[k] === m)!]!.firewall!.input!.rules![0]!,
      ),
    );
    expect(Object.keys(reversed)[0]).toBe("action");
  });

  it("on random damage to valid documents: what it passes, zod passes the same way", () => {
    const valid = [...docs.filter((d) => TopologySchema.safeParse(d).success), lanDoc(3, 4)];
    const scalar = fc.oneof(
      fc.constantFrom(null, true, false, 0, -1, 1.5, 65536, 4294967296, "", "tcp", "drop", "nat", "10.0.0.1/24", "x", [], {}, { not: "a" }),
      fc.string({ maxLength: 3 }),
      fc.integer(),
    );
    const key = fc.constantFrom(
      "name",
      "port",
      "proto",
      "mode",
      "action",
      "not",
      "rules",
      "policy",
      "metric",
      "to",
      "via",
      "bogus",
      "subnets",
    );
    const edit = fc.record({
      at: fc.nat(),
      op: fc.constantFrom("replace", "delete", "add", "reverse", "wrap"),
      key,
      value: scalar,
    });
    let passed = 0;
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 3 }), (b, edits) => {
        const doc = structuredClone(valid[b]) as unknown;
        let d = doc;
        for (const e of edits) d = damage(d, e);
        if (agree(d)) passed++;
      }),
      { numRuns: 3000, seed: 19, verbose: true },
    );
    // some damage keeps the shape (a different port number, reversed keys): the fast path takes those
    expect(passed).toBeGreaterThan(100);
  }, 120_000);
});

type Edit = { at: number; op: string; key: string; value: unknown };

/** One edit at one node of the document: replaced, its key deleted, a key added, its keys reversed, or wrapped in a list. */
function damage(doc: unknown, e: Edit): unknown {
  const ps = paths(doc);
  const path = ps[e.at % ps.length]!;
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const get = (p: (string | number)[]) => p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], doc);
  const set = (value: unknown): unknown => {
    if (last === undefined) return value;
    (get(parentPath) as Record<string | number, unknown>)[last] = value;
    return doc;
  };
  const node = get(path);
  switch (e.op) {
    case "replace":
      return set(structuredClone(e.value));
    case "delete":
      if (last !== undefined && !Array.isArray(get(parentPath))) delete (get(parentPath) as Record<string, unknown>)[last as string];
      return doc;
    case "add":
      if (node !== null && typeof node === "object" && !Array.isArray(node))
        (node as Record<string, unknown>)[e.key] = structuredClone(e.value);
      return doc;
    case "reverse":
      if (node !== null && typeof node === "object" && !Array.isArray(node)) return set(Object.fromEntries(Object.entries(node).reverse()));
      return doc;
    default:
      return set([node]);
  }
}
