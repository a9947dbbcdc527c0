/**
 * Bad input never crashes: whatever the file holds, loading either succeeds or
 * throws InputError with positioned diagnostics, and a file that loads can be
 * lowered and every query of it answered. Inputs: truncations of every bundled
 * model, random text, and models with one value swapped for a random one.
 * A failure prints fast-check's seed and the shrunk input.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { checkExpectations } from "../../src/query/expect.js";

const dir = join(import.meta.dirname, "..", "..", "models");
const models = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => ({ name: f, text: readFileSync(join(dir, f), "utf8") }));

/** Loads, and when the file is valid lowers it and answers its expectations. Returns what happened. */
function survive(file: string, text: string): "ok" | "rejected" {
  try {
    const loaded = loadTopologyText(file, text);
    checkExpectations(lower(loaded.topology), loaded.topology);
    return "ok";
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    expect(e.diagnostics.length).toBeGreaterThan(0);
    for (const d of e.diagnostics) {
      expect(d.code).toMatch(/^RCH\d{3}$/);
      expect(d.span.line).toBeGreaterThanOrEqual(1);
      expect(d.span.col).toBeGreaterThanOrEqual(1);
      expect(d.message.length).toBeGreaterThan(0);
    }
    return "rejected";
  }
}

const SEED = Number(process.env.FC_SEED ?? 20261123);
const params = { seed: SEED, numRuns: Number(process.env.FC_RUNS ?? 300), verbose: 1 } as const;

describe("loader robustness (fast-check, seed printed on failure)", () => {
  it("every prefix of every model is rejected or loaded, never a crash", () => {
    let rejected = 0;
    for (const m of models) {
      for (let cut = 0; cut < m.text.length; cut += 17) if (survive(m.name, m.text.slice(0, cut)) === "rejected") rejected++;
    }
    expect(rejected).toBeGreaterThan(0);
    // about 8 s on a quiet 2-core machine; a bound, not a speed goal (a loaded machine takes 4 times as long)
  }, 120_000);

  it("random text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => void survive("random.yaml", text)),
      params,
    );
  });

  it("a model with one value replaced by a random value", () => {
    const leafPaths = (v: unknown, path: (string | number)[] = []): (string | number)[][] =>
      v !== null && typeof v === "object"
        ? Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, Array.isArray(v) ? Number(k) : k]))
        : [path];
    const docs = models.map((m) => YAML.parse(m.text) as unknown);
    const junk = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.integer({ min: -5, max: 70000 }),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        "0.0.0.0",
        "::",
        "::1",
        "127.0.0.1",
        "10.0.2.2",
        "192.168.1.10/24",
        "10.0.0.0/8",
        "fd00::/64",
        "1-65535",
        "nat",
        "hostonly",
        "lo",
        "eth0",
      ),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.nat(), fc.nat(), junk, (mi, pi, value) => {
        const doc = structuredClone(docs[mi % docs.length]) as Record<string, unknown>;
        const paths = leafPaths(doc);
        const path = paths[pi % paths.length]!;
        let cur: Record<string | number, unknown> = doc;
        for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
        cur[path[path.length - 1]!] = value;
        survive(models[mi % models.length]!.name, YAML.stringify(doc));
      }),
      params,
    );
  });

  it("an alias bomb and an unresolved alias are refused with RCH002, not expanded", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`,
      ),
      "machines: {}",
    ].join("\n");
    for (const text of [bomb, "machines:\n  a: *nowhere\n"]) {
      try {
        loadTopologyText("bomb.yaml", text);
        expect.unreachable("loaded");
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).diagnostics[0]?.code).toBe("RCH002");
      }
    }
  });
});
