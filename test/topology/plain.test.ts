/**
 * The fast reader (src/topology/plain.ts) against the yaml library: on every document it
 * accepts, the value and the position of every value and key are the library's. Checked on every
 * YAML and JSON file of the repository and on random documents written in several styles; it must
 * also accept the plain files topologies are written as (so the fast path is really taken).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import YAML, { LineCounter } from "yaml";
import { describe, expect, it } from "vitest";
import { dataFiles } from "../model-files.js";
import { makeLocator, parseYamlBounded, plainSourceMap, type Locator, type Path } from "../../src/topology/load.js";
import { PLAIN_DEPTH, parseJson, parsePlain, type Positions } from "../../src/topology/plain.js";
import { lanTopology } from "../bench/generate.js";

const root = join(import.meta.dirname, "..", "..");

/** Every path of a value, the root included. */
function paths(v: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...path, i], out));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...path, k], out);
  return out;
}

/** The positions of one reading, compared with the library's at every path of the value. */
function samePositions(text: string, pos: Positions, value: unknown, lib: Locator): void {
  const fast = plainSourceMap("f.yaml", text, pos);
  for (const p of paths(value)) {
    expect(fast.at(p), JSON.stringify(p)).toEqual(lib.at(p));
    expect(fast.key(p), JSON.stringify(p)).toEqual(lib.key(p));
    expect(fast.at([...p, "missing", 0]), JSON.stringify(p)).toEqual(lib.at([...p, "missing", 0]));
  }
}

/**
 * Compares the fast readers (the YAML reader; the JSON reader where it takes the text) with the
 * library on one text; returns whether the YAML reader took it. The JSON reader takes nothing the
 * YAML reader does not.
 */
function agree(text: string): boolean {
  const plain = parsePlain(text);
  const json = parseJson(text);
  if (!plain.ok) {
    expect(json, "the JSON reader takes only what the YAML reader takes").toBeUndefined();
    return false;
  }
  const lc = new LineCounter();
  const doc = parseYamlBounded("f.yaml", text, lc, Infinity);
  expect(
    doc.errors.map((e) => e.message),
    "the library finds no error in what the fast reader takes",
  ).toEqual([]);
  const value = doc.toJS();
  expect(plain.value).toStrictEqual(value);
  const lib = makeLocator("f.yaml", doc, lc);
  samePositions(text, plain.pos, value, lib);
  if (json?.ok) {
    jsonTaken++;
    expect(json.value).toStrictEqual(value);
    expect(json.values).toBe(plain.values);
    samePositions(text, json.pos, value, lib);
  }
  return true;
}
let jsonTaken = 0;

describe("the fast reader equals the yaml library", () => {
  it("on every YAML and JSON file of the repository (values and every position)", () => {
    const all = [...dataFiles(join(root, "models")), ...dataFiles(join(root, "test")), ...dataFiles(join(root, "proofs"))];
    let taken = 0;
    for (const f of all) if (agree(readFileSync(f, "utf8").replace(/^\uFEFF/, ""))) taken++;
    // most of the repository's files are plain; the rest use anchors, block scalars, errors on purpose
    expect(taken).toBeGreaterThan(all.length / 2);
  }, 120_000);

  it("takes the generated LAN in YAML and JSON", () => {
    expect(agree(lanTopology(20, 4))).toBe(true);
    expect(agree(lanTopology(20, 4, "json"))).toBe(true);
    expect(agree(JSON.stringify(YAML.parse(lanTopology(5, 3))))).toBe(true);
    expect(parseJson(lanTopology(20, 4, "json"))?.ok, "the JSON reader takes the LAN in JSON").toBe(true);
    expect(parseJson(JSON.stringify(YAML.parse(lanTopology(5, 3))))?.ok).toBe(true);
  });

  it("on random documents in block, flow and JSON styles", () => {
    const scalar = fc.oneof(
      fc.string({
        unit: fc.constantFrom(
          "a",
          "b",
          "0",
          "1",
          ".",
          "-",
          ":",
          " ",
          "#",
          "'",
          '"',
          "/",
          ",",
          "x",
          "\\",
          "é",
          "[",
          "{",
          "~",
          "e",
          "\n",
          "\t",
        ),
      }),
      fc.integer(),
      fc.constantFrom(
        true,
        false,
        null,
        1.5,
        -0.25,
        1e21,
        "null",
        "True",
        "0x1F",
        "0o17",
        ".inf",
        "-.5",
        "1e3",
        "::1",
        "10.0.0.1/24",
        "a: b",
        "- x",
      ),
    );
    // not the empty key: the library locator files path [""] under the same index entry as the root
    const key = fc.string({ unit: fc.constantFrom("a", "b", "1", "-", " ", ".", ":", "#", "_", "x"), minLength: 1, maxLength: 4 });
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: "small" }, scalar, fc.array(tie("v"), { maxLength: 4 }), fc.dictionary(key, tie("v"), { maxKeys: 4 })),
    })).v;
    let taken = 0;
    fc.assert(
      fc.property(value, fc.constantFrom("block", "flow", "json", "json1", "indentSeq"), (v, style) => {
        const text =
          style === "json"
            ? JSON.stringify(v)
            : style === "json1"
              ? JSON.stringify(v, null, 1)
              : YAML.stringify(v, style === "flow" ? { collectionStyle: "flow" } : { indentSeq: style !== "indentSeq" });
        if (text !== undefined && agree(text)) taken++;
      }),
      { numRuns: 2000, seed: 19, verbose: true },
    );
    expect(taken).toBeGreaterThan(500);
    expect(jsonTaken, "the JSON reader took some of the JSON-style documents").toBeGreaterThan(100);
  }, 120_000);

  it("on damaged documents: what it takes, the library takes the same way (it gives up on every error)", () => {
    const base = [
      readFileSync(join(root, "models", "virtualbox-nat.yaml"), "utf8"),
      lanTopology(3, 3),
      lanTopology(2, 3, "json"),
      YAML.stringify(YAML.parse(lanTopology(2, 3)), { collectionStyle: "flow" }),
    ];
    const edit = fc.record({
      at: fc.nat(),
      del: fc.nat({ max: 3 }),
      ins: fc.string({ unit: fc.constantFrom(" ", "\n", ":", "-", "#", "[", "]", "{", "}", ",", '"', "'", "a", "1", "\\"), maxLength: 3 }),
    });
    let taken = 0;
    fc.assert(
      fc.property(fc.nat({ max: base.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 3 }), (b, edits) => {
        let text = base[b]!;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.ins + text.slice(at + e.del);
        }
        if (agree(text)) taken++;
      }),
      { numRuns: 3000, seed: 19, verbose: true },
    );
    expect(taken).toBeGreaterThan(300);
  }, 120_000);

  it("the JSON reader leaves to the YAML readers what YAML could read otherwise", () => {
    for (const text of [
      '{"a": true\r\n}',
      '{"a":\t1}',
      '{"a": 1, "a": 2}',
      '{"a": "\\u0041"}',
      '{"a\\"b": 1}',
      '{"a": 1.5}',
      '{"a": -0}',
      '{"a": 1e3}',
      '{"__proto__": {}}',
      '"a"',
      "{'a': 1}",
      "a: 1",
    ]) {
      expect(parseJson(text), text).toBeUndefined();
    }
    // duplicate keys in a mapping of more keys than are compared pair by pair (they go through a set at its end)
    const many = (keys: string[]) => `{${keys.map((k, i) => `"${k}": ${i}`).join(", ")}}`;
    const forty = Array.from({ length: 40 }, (_, i) => `k${i}`);
    expect(parseJson(many(forty))?.ok, "40 different keys").toBe(true);
    expect(parseJson(many([...forty, "k3"])), "a duplicate of an early key at the end").toBeUndefined();
    expect(parseJson(many([...forty.slice(0, 30), "k29", ...forty.slice(30)])), "a duplicate in the middle").toBeUndefined();
    expect(parseJson(many(["a", "b", "a"])), "a duplicate among the first keys").toBeUndefined();
    // keys compared per mapping: the same key in sibling and nested mappings is fine
    expect(parseJson('{"a": {"a": 1, "b": {"a": 2}}, "b": [{"a": 1}, {"a": 2}]}')?.ok).toBe(true);
    // nesting: PLAIN_DEPTH levels are read, one more is left to the YAML readers
    const nest = (d: number) => "[".repeat(d) + "]".repeat(d);
    expect(parseJson(nest(PLAIN_DEPTH))?.ok).toBe(true);
    expect(parseJson(nest(PLAIN_DEPTH + 1))).toBeUndefined();
    const ok = parseJson('{"a": [1, -2, "x\\ny", true, null, {}], "b": {"c": false}}');
    expect(ok?.ok && ok.value).toEqual({ a: [1, -2, "x\ny", true, null, {}], b: { c: false } });
  });

  it("gives up, with where, on what it does not read", () => {
    for (const [text, at] of [
      ["a: &x 1\nb: *x\n", 3],
      ["a: |\n  text\n", 3],
      ["a: 1\na: 2\n", 5],
      ["a: b\n  c\n", 7],
      ["a:\nb: 1\n", 2],
      ["a: 1.5\n", 3],
      ['a: "x\\x41"\n', 3],
      ["a: [1, 2,]\n", 9],
      ["--- \na: 1\n", 0],
    ] as const) {
      const r = parsePlain(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.at, text).toBe(at);
    }
  });
});
