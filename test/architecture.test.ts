/**
 * The layering of src/ (docs/architecture.md): a module imports its own folder or a folder of a
 * lower layer, never a higher one; the two engines (sim/, smt/) never import each other, so the
 * differential test compares two engines written independently; and the folders form no cycle.
 * The import graph is read from the sources themselves (static and dynamic imports, `new URL`
 * worker paths), so a back-import anywhere fails this test with the file and line that holds it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "src");

/** Each folder of src/ and its layer: a folder may import folders of its own layer or below. */
export const LAYERS: Record<string, number> = {
  net: 0,
  diagnostics: 0,
  ir: 1,
  topology: 2,
  lower: 3,
  sim: 4,
  smt: 4,
  query: 5,
  verify: 6,
  prove: 6,
  fix: 6,
  emulate: 6,
  import: 6,
  doctor: 6,
  draw: 6,
  report: 6,
  cli: 7,
};

/** Same-layer folders that must not import each other (either way). */
const APART: readonly (readonly [string, string])[] = [["sim", "smt"]];

export interface Edge {
  readonly file: string;
  readonly line: number;
  readonly from: string;
  readonly to: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const folderOf = (file: string) => relative(SRC, file).split("/")[0]!;

/** Every import between two folders of src/, with where it is written. */
export function folderEdges(root = SRC): Edge[] {
  const edges: Edge[] = [];
  for (const file of sources(root)) {
    const text = readFileSync(file, "utf8");
    const re = /(?:from\s*|import\s*\(\s*|new URL\(\s*)"(\.{1,2}\/[^"]+)"/g;
    for (const m of text.matchAll(re)) {
      const target = normalize(join(dirname(file), m[1]!));
      if (!target.startsWith(root)) continue;
      const from = relative(root, file).split("/")[0]!;
      const to = relative(root, target).split("/")[0]!;
      if (from === to) continue;
      edges.push({ file: relative(join(root, ".."), file), line: text.slice(0, m.index).split("\n").length, from, to });
    }
  }
  return edges;
}

/** The rule's violations among `edges`, one line each. */
export function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const a = LAYERS[e.from];
    const b = LAYERS[e.to];
    if (a === undefined || b === undefined) out.push(`${e.file}:${e.line}: folder ${a === undefined ? e.from : e.to} has no layer`);
    else if (b > a) out.push(`${e.file}:${e.line}: ${e.from} (layer ${a}) imports ${e.to} (layer ${b})`);
    else if (APART.some(([x, y]) => (x === e.from && y === e.to) || (y === e.from && x === e.to)))
      out.push(`${e.file}:${e.line}: ${e.from} imports ${e.to}: the engines are independent`);
  }
  return out;
}

/** A cycle among folders, as a list of folder names, or undefined. */
export function folderCycle(edges: readonly Edge[]): string[] | undefined {
  const next = new Map<string, Set<string>>();
  for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    if (state.get(n) === "done") return undefined;
    state.set(n, "open");
    stack.push(n);
    for (const m of next.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of next.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

describe("layering of src/ (docs/architecture.md)", () => {
  const edges = folderEdges();
  it("reads a real import graph", () => {
    expect(edges.length).toBeGreaterThan(50);
    expect(edges).toContainEqual(expect.objectContaining({ from: "cli", to: "query" }));
  });
  it("every folder of src/ has a layer", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => LAYERS[f] === undefined)).toEqual([]);
  });
  it("no folder imports a higher layer, and sim and smt never import each other", () => {
    expect(violations(edges)).toEqual([]);
  });
  it("no cycle among folders", () => {
    expect(folderCycle(edges)).toBeUndefined();
  });
  it("the rule catches a back-import and the engines' mutual import", () => {
    const edge = (from: string, to: string): Edge => ({ file: `src/${from}/x.ts`, line: 3, from, to });
    expect(violations([edge("topology", "query")])).toEqual(["src/topology/x.ts:3: topology (layer 2) imports query (layer 5)"]);
    expect(violations([edge("smt", "sim")])).toEqual(["src/smt/x.ts:3: smt imports sim: the engines are independent"]);
    expect(violations([edge("query", "sim"), edge("cli", "net")])).toEqual([]);
    expect(folderCycle([edge("fix", "verify"), edge("verify", "fix")])).toEqual(["fix", "verify", "fix"]);
  });
  it("the folder of a source file is its first path component", () => {
    expect(folderOf(join(SRC, "smt", "walk.ts"))).toBe("smt");
  });
});
