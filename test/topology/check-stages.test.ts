/**
 * The checker split into stages (issue 14) says exactly what the one long function said.
 * check-stages.golden.json was written BEFORE the split and pins, for every input, the full
 * diagnostic list in the order the loader returns it (code, severity, line:col, message,
 * expected, related spans), or the fact that it loaded and its warnings. Inputs:
 *   - every .yaml under models/ and test/ (import goldens included: whatever they give);
 *   - the topology texts written inline in the tests (frozen in the golden: `inline`);
 *   - the models as they were (frozen: `bases`) with one leaf value replaced or deleted,
 *     a deterministic sweep that reaches every stage of the checker with bad values.
 * Regenerate deliberately with UPDATE_GOLDEN=1 and review the diff: it should be empty.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { InputError, type Diagnostic, type Span } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";

const ROOT = join(import.meta.dirname, "..", "..");
const GOLDEN = join(import.meta.dirname, "check-stages.golden.json");

interface Golden {
  /** Topology texts from the tests, by "test file:line". */
  inline: { name: string; text: string }[];
  /** The models' texts when the golden was written, by file name. */
  bases: Record<string, string>;
  /** Input name -> outcome and diagnostics, one line each. */
  results: Record<string, string[]>;
}

const span = (s: Span) => `${relative(ROOT, s.file) || s.file}:${s.line}:${s.col}`;
const line = (d: Diagnostic) =>
  `${span(d.span)} ${d.code} ${d.severity} ${d.message}` +
  (d.expected !== undefined ? ` | expected: ${d.expected}` : "") +
  (d.related ?? []).map((r) => ` | related ${span(r.span)} ${r.message}`).join("");

/** What loading gives: "loaded" and the warnings, "rejected" and the diagnostics, or what else was thrown. */
function outcome(load: () => { warnings: readonly Diagnostic[] }): string[] {
  try {
    return ["loaded", ...load().warnings.map(line)];
  } catch (e) {
    if (e instanceof InputError) return ["rejected", ...e.diagnostics.map(line)];
    return [`threw ${e instanceof Error ? e.message : String(e)}`];
  }
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
    });
}

/** Replacement values for the sweep: addresses, prefixes, ports, names and wrong types. */
const JUNK: readonly unknown[] = [
  "0.0.0.0",
  "::",
  "::1",
  "127.0.0.1",
  "10.0.2.2",
  "192.168.1.10/24",
  "10.0.0.0/8",
  "10.0.0.1/8",
  "fe80::1",
  "::ffff:10.0.2.15",
  "224.0.0.1/4",
  22,
  80,
  443,
  0,
  70000,
  "1-2",
  "5-3",
  "lo",
  "eth0",
  "vboxnet9",
  "host",
  "nope",
  true,
  null,
  "DELETE",
];

function leafPaths(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  return v !== null && typeof v === "object"
    ? Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, Array.isArray(v) ? Number(k) : k]))
    : [path];
}

/** The sweep: leaf i of base b gets junk value (7i + 3b) mod |JUNK| (7 is prime to 26: every value comes round). */
function mutants(bases: Record<string, string>): { name: string; file: string; text: string }[] {
  return Object.entries(bases).flatMap(([file, text], b) =>
    leafPaths(YAML.parse(text)).map((path, i) => {
      const value = JUNK[(i * 7 + b * 3) % JUNK.length];
      const doc = YAML.parseDocument(text);
      if (value === "DELETE") doc.deleteIn(path);
      else doc.setIn(path, value);
      // next to the models, so that a spec's include: finds its topology
      return {
        name: `${file} ${path.join(".")} = ${JSON.stringify(value)}`,
        file: join(ROOT, "models", `mutant-${file}`),
        text: doc.toString(),
      };
    }),
  );
}

function compute(g: Pick<Golden, "inline" | "bases">): Record<string, string[]> {
  const results: Record<string, string[]> = {};
  for (const file of [...yamlFiles(join(ROOT, "models")), ...yamlFiles(join(ROOT, "test"))])
    results[`file ${relative(ROOT, file)}`] = outcome(() => loadTopologyFile(file));
  for (const { name, text } of g.inline) results[`inline ${name}`] = outcome(() => loadTopologyText("t.yaml", text));
  for (const { name, file, text } of mutants(g.bases)) results[`mutant ${name}`] = outcome(() => loadTopologyText(file, text));
  return results;
}

describe("checker stages: diagnostics identical to the golden written before the split", () => {
  it("every input of check-stages.golden.json gives the same outcome and diagnostics", () => {
    const golden = JSON.parse(readFileSync(GOLDEN, "utf8")) as Golden;
    const results = compute(golden);
    if (process.env.UPDATE_GOLDEN === "1") {
      golden.results = results;
      writeFileSync(GOLDEN, JSON.stringify(golden, null, 1) + "\n");
    }
    expect(Object.keys(results).length).toBeGreaterThan(1000);
    expect(results).toEqual(golden.results);
  }, 300_000);
});
