/**
 * The documentation is true: README.md and docs/*.md. Every topology example loads (or fails with
 * the codes it is marked with), every pasted `$ reach ...` transcript is what the built CLI prints,
 * every JSON excerpt is in the real output, every relative link points to an existing file and
 * heading, and the diagnostic code table is the catalogue. How examples are marked: docs/testing.md.
 * Transcripts run dist/bin/main.js: `npm run build` first.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { CATALOGUE, InputError } from "../src/diagnostics/diagnostic.js";
import { emulationSupport } from "../src/emulate/build.js";
import { fix } from "../src/fix/fix.js";
import { renderFix } from "../src/fix/report.js";
import { runImport } from "../src/import/run.js";
import { parseQuery } from "../src/ir/query.js";
import { lower } from "../src/lower/lower.js";
import { loadFamilyFile } from "../src/prove/family.js";
import { checkExpectations } from "../src/query/expect.js";
import { loadTopologyFile, loadTopologyText } from "../src/topology/load.js";

const REPO = resolve(import.meta.dirname, "..");
/** The built CLI; REACH_DOCS_CLI runs the transcripts against another build (e.g. of a clean checkout). */
const CLI = process.env.REACH_DOCS_CLI ?? join(REPO, "dist", "bin", "main.js");
const DOCS = [
  "README.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const read = (doc: string) => readFileSync(join(REPO, doc), "utf8");

interface Block {
  readonly doc: string;
  /** 1-based line of the opening fence */
  readonly line: number;
  readonly lang: string;
  readonly body: string;
  /** `<!-- key: value -->` comments right above the fence */
  readonly marks: Readonly<Record<string, string>>;
}

/** Fenced blocks with the HTML comment directives just above them. */
export function blocksOf(doc: string, text = read(doc)): Block[] {
  const lines = text.split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const marks: Record<string, string> = {};
    for (let k = i - 1; k >= 0; k--) {
      const m = /^<!--\s*([\w-]+):\s*(.*?)\s*-->$/.exec(lines[k]!);
      if (!m) break;
      marks[m[1]!] = m[2]!;
    }
    let j = i + 1;
    while (j < lines.length && lines[j] !== "```") j++;
    if (j >= lines.length) throw new Error(`${doc}:${i + 1}: unclosed fence`);
    out.push({ doc, line: i + 1, lang: open[1]!, body: lines.slice(i + 1, j).join("\n"), marks });
    i = j;
  }
  return out;
}

const allBlocks = DOCS.flatMap((d) => blocksOf(d));

/** A scratch folder per document, for `<!-- file: NAME -->` blocks and `<!-- in: scratch -->` transcripts. */
const scratch = new Map<string, string>();
const temps: string[] = [];
const newTemp = () => {
  const d = mkdtempSync(join(tmpdir(), "reach-docs-"));
  temps.push(d);
  return d;
};
const scratchOf = (doc: string) => {
  if (!scratch.has(doc)) scratch.set(doc, newTemp());
  return scratch.get(doc)!;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
// files are written before any test runs, so a transcript may use a file shown further up
for (const b of allBlocks) if (b.marks.file) writeFileSync(join(scratchOf(b.doc), b.marks.file), b.body + "\n");

// ---------------------------------------------------------------- matching

/**
 * Does the pasted output match the real one? A pasted line `...` stands for any number of lines;
 * a pasted line ending in `...` for any line that starts with what comes before it.
 */
export function matches(pasted: readonly string[], real: readonly string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (i === pasted.length) r = j === real.length;
    else {
      const p = pasted[i]!;
      if (p.trim() === "...") r = go(i + 1, j) || (j < real.length && go(i, j + 1));
      else if (j === real.length) r = false;
      else if (p.endsWith("...")) r = real[j]!.startsWith(p.slice(0, -3)) && go(i + 1, j + 1);
      else r = p === real[j] && go(i + 1, j + 1);
    }
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

const trimEnd = (lines: string[]) => {
  const out = lines.map((l) => l.trimEnd());
  while (out.length && out[out.length - 1] === "") out.pop();
  return out;
};

/** `reach emulate` prints times; they are never the same twice. */
const timings = (s: string) => s.replace(/\b\d+(\.\d+)? (ms|s)\b/g, "T $2");

/** The commands of a transcript, each with its pasted output. */
export function transcript(body: string): { command: string; output: string[] }[] {
  const steps: { command: string; output: string[] }[] = [];
  for (const line of body.split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), output: [] });
    else if (steps.length) steps[steps.length - 1]!.output.push(line);
    else throw new Error(`output before the first command: ${line}`);
  }
  return steps.map((s) => ({ ...s, output: trimEnd(s.output) }));
}

const SHELL_PRELUDE = `reach() { node ${JSON.stringify(CLI)} "$@"; }\nnpx() { "$@"; }\nsudo() { "$@"; }\n`;

function run(command: string, cwd: string): string {
  try {
    return execFileSync("bash", ["-c", `${SHELL_PRELUDE}${command} 2>&1`], { cwd, encoding: "utf8", timeout: 120_000 });
  } catch (e) {
    const err = e as { stdout?: string; status?: number };
    if (typeof err.stdout === "string" && typeof err.status === "number") return err.stdout; // exit codes 1-4 are part of the story
    throw e;
  }
}

/** Where a transcript runs: the repository, the document's scratch folder, or a fresh copy of a folder's files or of one file. */
function cwdOf(b: Block): string {
  const where = b.marks.in;
  if (!where) return REPO;
  if (where === "scratch") return scratchOf(b.doc);
  const src = join(REPO, where);
  const dir = newTemp();
  if (statSync(src).isDirectory()) cpSync(src, dir, { recursive: true });
  else {
    mkdirSync(dirname(join(dir, where)), { recursive: true });
    cpSync(src, join(dir, where));
  }
  return dir;
}

// ---------------------------------------------------------------- the tests

describe("documentation examples", () => {
  it("the built CLI exists (npm run build)", () => {
    expect(existsSync(CLI)).toBe(true);
  });

  const topologies = allBlocks.filter((b) => b.lang === "yaml");
  it.each(topologies.map((b) => [`${b.doc}:${b.line}`, b] as const))(
    "yaml example %s: a topology loads and holds, or fails as marked",
    (_, b) => {
      const data: unknown = YAML.parse(b.body);
      const isTopology = typeof data === "object" && data !== null && "machines" in data;
      if (!isTopology) {
        expect(b.marks.bad, "a `bad:` mark on a block that is not a topology").toBeUndefined();
        return;
      }
      const name = `${b.doc}:${b.line}`;
      if (b.marks.bad) {
        let codes: string[] = [];
        try {
          loadTopologyText(name, b.body);
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          codes = e.diagnostics.filter((d) => d.severity === "error").map((d) => d.code);
        }
        expect(codes).toEqual(b.marks.bad.split(/\s+/));
        return;
      }
      const loaded = loadTopologyText(name, b.body);
      for (const r of checkExpectations(lower(loaded.topology), loaded.topology)) expect(r.holds, r.query).toBe(true);
    },
  );

  const emulation = emulationSupport();
  const transcripts = allBlocks.filter((b) => b.lang === "console");
  it.each(transcripts.map((b) => [`${b.doc}:${b.line}`, b] as const))(
    "transcript %s is what reach prints",
    (_, b) => {
      if (b.marks.needs === "emulate" && !emulation.ok) return; // said in the summary line below
      const cwd = cwdOf(b);
      for (const step of transcript(b.body)) {
        let real = run(step.command, cwd);
        let pasted = step.output;
        if (b.marks.needs === "emulate") {
          real = timings(real);
          pasted = pasted.map(timings);
        }
        const realLines = trimEnd(real.split("\n"));
        if (!matches(pasted, realLines)) expect(realLines.join("\n"), `${b.doc}:${b.line}: $ ${step.command}`).toBe(pasted.join("\n"));
      }
    },
    300_000,
  );
  it.skipIf(emulation.ok)(`transcripts that need reach emulate are skipped here: ${emulation.ok ? "" : emulation.why}`, () => {});

  const jsons = allBlocks.filter((b) => b.lang === "json");
  it.each(jsons.map((b) => [`${b.doc}:${b.line}`, b] as const))("json excerpt %s is in the real output", (_, b) => {
    const of = b.marks["excerpt-of"];
    expect(of, "a json block says what it is an excerpt of").toBeDefined();
    // the real output, compact: every "key":value pair as JSON.stringify writes it
    const real = JSON.stringify(JSON.parse(run(of!, REPO)));
    const pairs = [...b.body.matchAll(/"([^"]+)":\s*("(?:[^"\\]|\\.)*"|-?\d+|true|false|null)/g)];
    expect(pairs.length).toBeGreaterThan(0);
    for (const [, key, value] of pairs) {
      const v = value!;
      // a string value ending in "...)" or "..." is a prefix
      const cut = v.indexOf("...");
      const want = cut >= 0 ? `"${key}":${v.slice(0, cut)}` : `"${key}":${v}`;
      expect(real, `${b.doc}:${b.line}: "${key}": ${v}`).toContain(want);
    }
  });
});

// ---------------------------------------------------------------- links

/** GitHub's anchor for a heading. */
export const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```/gm, "");
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6} (.*)$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

describe("links", () => {
  it.each(DOCS)("every relative link of %s points to an existing file and heading", (doc) => {
    const text = read(doc).replace(/^```[\s\S]*?^```/gm, "");
    const broken: string[] = [];
    for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split("#") as [string, string | undefined];
      const file = path ? resolve(REPO, dirname(doc), path) : join(REPO, doc);
      if (!existsSync(file)) broken.push(`${target}: no such file`);
      else if (anchor !== undefined && !anchorsOf(file).has(anchor)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it("the README links to every document in docs/", () => {
    const readme = read("README.md");
    for (const d of DOCS.filter((x) => x !== "README.md")) expect(readme, d).toContain(`](${d})`);
  });
});

// ---------------------------------------------------------------- moved from readme.test.ts, with their examples

describe("docs/topology.md", () => {
  it("the table of diagnostic codes is the catalogue, code and title", () => {
    const rows = read("docs/topology.md")
      .split("\n")
      .map((l) => /^\| (RCH\d{3}) \| ([^|]*?) \|/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2]]);
    expect(rows).toEqual(Object.entries(CATALOGUE));
  });

  it("the Models table lists every model file", () => {
    const text = read("docs/topology.md");
    for (const f of readdirSync(join(REPO, "models")).filter((x) => x.endsWith(".yaml")))
      expect(text, f).toMatch(new RegExp(`^\\| [^|]*${f.replace(".", "\\.")}`, "m"));
  });
});

describe("docs/proofs.md", () => {
  it("the Proofs table lists every proof file, REFUTED exactly where the file records a false claim", () => {
    const doc = read("docs/proofs.md");
    for (const f of readdirSync(join(REPO, "proofs")).filter((x) => x.endsWith(".yaml"))) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${f}\``));
      expect(row, f).toBeDefined();
      expect(row!.includes("**REFUTED**"), f).toBe(!loadFamilyFile(join(REPO, "proofs", f)).holds);
    }
  });
});

describe("docs/fix.md", () => {
  it("the pasted reach fix output is current", async () => {
    const loaded = loadTopologyFile("test/fix/overexposed.yaml");
    const q = parseQuery("lan -> default:80/tcp");
    if (!q.ok) throw new Error(q.message);
    const r = await fix(loaded, q.query, "unreachable", { maxEdits: 2, count: 3, timeoutMs: 60_000 });
    expect(read("docs/fix.md")).toContain(renderFix(r, "test/fix/overexposed.yaml", loaded.source));
  }, 120_000);
});

describe("docs/import.md", () => {
  it("the pasted Vagrant import is current", async () => {
    const r = await runImport({
      kind: "vagrant",
      files: ["test/import/golden/vagrant-exposed-forward/Vagrantfile"],
      options: { host: "host", lan: "192.168.1.0/24" },
      command: "reach import vagrant Vagrantfile",
    });
    expect(read("docs/import.md")).toContain(`$ cat lab.yaml\n${r.text}$ npx reach exposure`);
  });
});
