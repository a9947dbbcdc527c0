/**
 * No function in src/ runs over MAX_LINES lines unless a `// Long: why` comment stands right above
 * it (issue 14). Functions are read with Prettier's TypeScript parser (an ESTree AST with
 * positions), so nested functions, methods and arrow functions count too.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import * as tsPlugin from "prettier/plugins/typescript";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..", "src");
export const MAX_LINES = 80;

interface Node {
  readonly type: string;
  readonly loc?: { readonly start: { readonly line: number }; readonly end: { readonly line: number } };
  readonly [k: string]: unknown;
}

const FUNCTIONS = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression", "TSDeclareFunction"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Every function of `text` longer than MAX_LINES lines: its first line and length. */
export async function longFunctions(text: string): Promise<{ line: number; lines: number }[]> {
  const ast = (await tsPlugin.parsers.typescript!.parse(text, {} as never)) as unknown as Node;
  const out: { line: number; lines: number }[] = [];
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (n === null || typeof n !== "object" || typeof (n as Node).type !== "string") return;
    const node = n as Node;
    if (FUNCTIONS.has(node.type) && node.loc) {
      const lines = node.loc.end.line - node.loc.start.line + 1;
      if (lines > MAX_LINES) out.push({ line: node.loc.start.line, lines });
    }
    for (const [k, v] of Object.entries(node)) if (k !== "loc" && k !== "range" && k !== "parent") visit(v);
  };
  visit(ast);
  return out;
}

/**
 * A long function is justified by a `// Long:` comment on one of the three lines above the line
 * that starts it (a declaration's own line may be `export const x = (...) =>` or a method's name).
 */
export function justified(text: string, line: number): boolean {
  return justifyingLine(text.split("\n"), line) !== undefined;
}

/** The 0-based index of the `// Long:` comment that justifies the function starting on `line` (1-based), if one does. */
function justifyingLine(lines: readonly string[], line: number): number | undefined {
  for (let i = line - 2; i >= Math.max(0, line - 4); i--) if (LONG.test(lines[i] ?? "")) return i;
  return undefined;
}

const LONG = /^\s*\/\/ Long: \S/;

describe(`functions in src/ over ${MAX_LINES} lines`, () => {
  it("each one has a `// Long: why` comment above it", async () => {
    const unjustified: string[] = [];
    for (const file of sources(SRC)) {
      const text = readFileSync(file, "utf8");
      for (const f of await longFunctions(text))
        if (!justified(text, f.line)) unjustified.push(`${relative(join(SRC, ".."), file)}:${f.line} (${f.lines} lines)`);
    }
    expect(unjustified).toEqual([]);
  });
  it("each `// Long:` comment stands above a function that is long (none left behind by a shortening)", async () => {
    const stale: string[] = [];
    for (const file of sources(SRC)) {
      const text = readFileSync(file, "utf8");
      const lines = text.split("\n");
      const used = new Set((await longFunctions(text)).map((f) => justifyingLine(lines, f.line)));
      lines.forEach((l, i) => {
        if (LONG.test(l) && !used.has(i)) stale.push(`${relative(join(SRC, ".."), file)}:${i + 1}`);
      });
    }
    expect(stale).toEqual([]);
  });
  it("the measure finds a long function and accepts its comment", async () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const x${i} = ${i};`).join("\n");
    const text = `function long() {\n${body}\n}\n`;
    expect(await longFunctions(text)).toEqual([{ line: 1, lines: MAX_LINES + 2 }]);
    expect(justified(text, 1)).toBe(false);
    const withWhy = `// Long: one flat dispatch\n${text}`;
    expect(justified(withWhy, 2)).toBe(true);
    expect(await longFunctions(`const short = () => {\n  return 1;\n};\n`)).toEqual([]);
  });
});
