/**
 * Origins that find their span when first read (src/lower/context.ts FileOrigin, issue 19): the
 * span is the locator's, found once, never before it is read; an origin says where it is in
 * JSON, through the watch cache's digests and the emulator's renaming, and every origin of every
 * bundled model's network has a span inside its file (a spread `{ ...origin }` would lose it).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Span } from "../../src/diagnostics/diagnostic.js";
import { renameSlirp6 } from "../../src/emulate/slirp6.js";
import type { Origin } from "../../src/ir/types.js";
import { FileOrigin, reworded } from "../../src/lower/context.js";
import { lower } from "../../src/lower/lower.js";
import { parseMatchPrefix } from "../../src/net/addr.js";
import { loadTopologyFile, loadTopologyText, type Locator, type Path } from "../../src/topology/load.js";
import { digestOf } from "../../src/verify/decision-cache.js";
import { MODEL_FILES, MODELS_DIR } from "../model-files.js";

/** A locator that notes every path it is asked for, and answers line = path length, col = last index + 1. */
function countingLocator(): { loc: Locator; asked: Path[] } {
  const asked: Path[] = [];
  const at = (path: Path): Span => {
    asked.push([...path]);
    const last = path.at(-1);
    return { file: "f.yaml", line: path.length, col: typeof last === "number" ? last + 1 : 1 };
  };
  return { loc: { file: "f.yaml", at, key: at }, asked };
}

describe("FileOrigin", () => {
  it("asks the locator only when its span is read, once, and gives the same span on every read", () => {
    const { loc, asked } = countingLocator();
    const o = new FileOrigin(loc, ["machines", "web", "services"], "service web", 2);
    expect(asked).toEqual([]);
    const span = o.span;
    expect(span).toEqual({ file: "f.yaml", line: 4, col: 3 });
    expect(o.span).toBe(span);
    expect(asked).toEqual([["machines", "web", "services", 2]]);
    expect(new FileOrigin(loc, ["machines", "web"], "machine web").span).toEqual({ file: "f.yaml", line: 2, col: 1 });
  });

  it("prints as {span, what} in JSON, and reworded keeps its place", () => {
    const { loc } = countingLocator();
    const o = new FileOrigin(loc, ["routers", "r"], "home router 'r'", 0);
    expect(JSON.parse(JSON.stringify({ origin: o }))).toEqual({
      origin: { span: { file: "f.yaml", line: 3, col: 1 }, what: "home router 'r'" },
    });
    const r = reworded(o, "router default input policy");
    expect(r.what).toBe("router default input policy");
    expect(r.span).toEqual(o.span);
    const plain: Origin = { span: { file: "g.yaml", line: 7, col: 2 }, what: "x" };
    expect(reworded(plain, "y")).toEqual({ span: plain.span, what: "y" });
  });

  it("the watch cache's digest holds the span: origins that differ only in where they are differ", () => {
    const { loc } = countingLocator();
    const a = new FileOrigin(loc, ["a"], "input rule 1", 0);
    const b = new FileOrigin(loc, ["a"], "input rule 1", 1);
    const c = new FileOrigin(loc, ["a"], "input rule 1", 1);
    expect(digestOf(a)).not.toBe(digestOf(b));
    expect(digestOf(b)).toBe(digestOf(c));
    expect(digestOf(b)).toBe(digestOf({ span: b.span, what: b.what }));
  });

  it("the emulator's IPv6 renaming keeps origins whole", () => {
    const { loc } = countingLocator();
    const o = new FileOrigin(loc, ["m"], "machine 'm'");
    const renamed = renameSlirp6({ origin: o, ip: { v: 6, n: 0xfec0n << 112n } }, parseMatchPrefix("fec0::/64")!);
    expect(renamed.origin.span).toEqual(o.span);
    expect(renamed.ip).not.toEqual({ v: 6, n: 0xfec0n << 112n });
  });
});

/** Every origin below `v` (any key ending in "origin" or "Origin"), with where it was found. */
function origins(v: unknown, at: string, out: [string, Origin][] = []): [string, Origin][] {
  if (v === null || typeof v !== "object") return out;
  for (const [k, x] of Object.entries(v)) {
    if (/[oO]rigin$/.test(k) && x) out.push([`${at}.${k}`, x as Origin]);
    else origins(x, `${at}.${k}`, out);
  }
  return out;
}

describe("every origin of every bundled model has a span in its file", () => {
  for (const f of MODEL_FILES.filter((x) => !x.includes(".spec."))) {
    it(f, () => {
      const file = join(MODELS_DIR, f);
      const lines = readFileSync(file, "utf8").split("\n");
      const found = origins(lower(loadTopologyFile(file).topology), "net");
      expect(found.length).toBeGreaterThan(0);
      for (const [where, o] of found) {
        const s = o.span as Span | undefined;
        expect(s, where).toBeDefined();
        expect(s!.file, where).toBe(file);
        expect(s!.line, where).toBeGreaterThanOrEqual(1);
        expect(s!.line, where).toBeLessThanOrEqual(lines.length);
        // a span points at text (a key or a value), never past the end of its line
        expect(lines[s!.line - 1]!.length, where).toBeGreaterThanOrEqual(s!.col - 1);
      }
    });
  }

  it("through the yaml library too (anchors): the same spans as the plain reader's", () => {
    const plain =
      "segments: { lan: 10.0.0.0/24 }\nmachines:\n  a:\n    interfaces: { eth0: { segment: lan, addresses: [10.0.0.1/24] } }\n  b:\n    interfaces: { eth0: { segment: lan, addresses: [10.0.0.2/24] } }\n";
    const withAnchor = plain.replace("segment: lan, addresses: [10.0.0.1/24]", "segment: &s lan, addresses: [10.0.0.1/24]");
    const spans = (text: string) =>
      origins(lower(loadTopologyText("x.yaml", text).topology), "net").map(([w, o]) => `${w} ${o.span.line}:${o.span.col}`);
    expect(spans(withAnchor)).toEqual(spans(plain));
  });
});
