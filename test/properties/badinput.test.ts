/**
 * Bad input everywhere (issue 13): a seeded fuzz harness over every kind of input reach reads.
 *
 * In process: topology text (loadTopologyText, and lower when it loads), spec text (with its
 * include: resolved in a temporary folder), proof text (loadFamilyText, and members when small)
 * and query strings (parseQuery), each a bundled file or query mutated (cut, spliced, duplicated,
 * garbage and hostile values inserted) or plain garbage. Every case must load or throw InputError
 * whose diagnostics each carry an RCH code and a file:line:col inside the file they name.
 *
 * The CLI: `node dist/bin/main.js` spawned with argument vectors drawn from the real commands and
 * options plus garbage, in a temporary folder holding the inputs (`work/`), beside an `outside/`
 * folder that garbage input paths point at (output options always name paths in work/, since
 * writing where -o says is what reach should do): no stack trace or internal error on stderr, an exit code in
 * 0-4, nothing written outside `work/`, every diagnostic on stderr inside its file. `reach emulate`
 * is left out: as root it builds namespaces (its bad-input paths are covered by test/emulate).
 *
 * CI: a fixed sample (BADINPUT_RUNS=300 cases per in-process kind, BADINPUT_CLI_RUNS=12 spawns,
 * seed BADINPUT_SEED=13). By hand: BADINPUT_RUNS=100000 BADINPUT_CLI_RUNS=3000 (build first:
 * npm run build). A failure prints the seed, the case number and the input (written whole to
 * $TMPDIR/reach-badinput-KIND-SEED-N.txt). BADINPUT_LOG=FILE appends each argument vector before it
 * runs; BADINPUT_REPORT=FILE writes the exit codes, slow runs (over 60 s) and failures as JSON.
 */
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, statSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError, type Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { assignments, loadFamilyText } from "../../src/prove/family.js";
import { members } from "../../src/prove/prove.js";
import { parseQuery } from "../../src/ir/query.js";
import { rng } from "../rng.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const RUNS = Number(process.env.BADINPUT_RUNS ?? 300);
const CLI_RUNS = Number(process.env.BADINPUT_CLI_RUNS ?? 12);
const SEED = Number(process.env.BADINPUT_SEED ?? 13);

type R = () => number;
const int = (r: R, n: number) => Math.floor(r() * n);
const pick = <T>(r: R, xs: readonly T[]): T => xs[int(r, xs.length)]!;

const read = (dir: string) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => ({ name: f, text: readFileSync(join(ROOT, dir, f), "utf8") }));
const MODELS = read("models").filter((m) => !m.name.endsWith(".spec.yaml"));
const SPECS = read("models").filter((m) => m.name.endsWith(".spec.yaml"));
const PROOFS = read("proofs");
const QUERIES = [
  ...new Set(
    [...MODELS, ...PROOFS]
      .flatMap((m) => [...m.text.matchAll(/query: "([^"]+)"/g)].map((x) => x[1]!))
      .concat(["a -> [::1]:22/udp", "h -> 10.0.2.2/icmp"]),
  ),
];

/** Values that have broken parsers before: addresses, prefixes, ports, ranges, YAML indicators, control characters. */
const JUNK = [
  "0.0.0.0",
  "::",
  "::1",
  "::ffff:10.0.2.15",
  "fe80::1%eth0",
  "255.255.255.255/33",
  "0.0.0.0/0",
  "::/0",
  "10.0.0.1/8",
  "1.2.3",
  "01.02.03.04",
  "1-65535",
  "65535-1",
  "0",
  "-1",
  "65536",
  "99999999999999999999",
  "1e309",
  "NaN",
  "0x1F",
  "-",
  "~",
  "null",
  "true",
  "[]",
  "{}",
  "[[[[[[[[",
  "}}}]]]",
  "&a",
  "*a",
  "*nowhere",
  "!!binary",
  "!!js/function",
  "<<: *a",
  "? ",
  "|",
  ">-",
  "'",
  '"',
  "\\",
  "#",
  "%YAML 1.1",
  "---",
  "...",
  "\t",
  "\r",
  "\u0000",
  "\u001b[31m",
  "\uFEFF",
  "\u202e",
  "\uD800",
  "é",
  "vboxnet4294967296",
  "eth0:1",
  "a".repeat(300),
  "default",
  "default6",
  "local",
  "localhost",
  "lo",
  "__proto__",
  "constructor",
  "${p}",
  "${",
  "->",
  ":",
  "/tcp",
  "/icmp",
];

function garbage(r: R, max: number): string {
  const n = int(r, max);
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = r();
    s +=
      k < 0.5
        ? String.fromCharCode(32 + int(r, 95))
        : k < 0.7
          ? pick(r, JUNK)
          : k < 0.85
            ? pick(r, ["\n", "  ", ": ", "- ", ", "])
            : String.fromCharCode(int(r, 0x3000));
  }
  return s;
}

/** One mutation of `text`: cut, delete, duplicate, insert, replace a word, swap lines, or plain garbage. */
function mutate(r: R, text: string): string {
  const at = () => int(r, text.length + 1);
  switch (int(r, 8)) {
    case 0:
      return text.slice(0, at());
    case 1: {
      const a = at();
      return text.slice(0, a) + text.slice(a + int(r, 40));
    }
    case 2: {
      const a = at();
      const b = Math.min(text.length, a + int(r, 200));
      return text.slice(0, b) + text.slice(a, b) + text.slice(b);
    }
    case 3: {
      const a = at();
      return text.slice(0, a) + garbage(r, 6) + text.slice(a);
    }
    case 4:
    case 5: {
      // a word (a value, a key, a name) replaced by a junk value
      const words = [...text.matchAll(/[A-Za-z0-9_.:/-]+/g)];
      if (!words.length) return garbage(r, 50);
      const w = pick(r, words);
      return text.slice(0, w.index) + pick(r, JUNK) + text.slice(w.index + w[0].length);
    }
    case 6: {
      const lines = text.split("\n");
      const i = int(r, lines.length);
      const j = int(r, lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join("\n");
    }
    default:
      return garbage(r, 120);
  }
}

/** A case: 1 to 3 mutations of a picked input (a few are pure garbage). */
const input = (r: R, corpus: readonly { text: string }[]) => {
  let t = pick(r, corpus).text;
  for (let k = 1 + int(r, 3); k > 0; k--) t = mutate(r, t);
  return t;
};

/** A diagnostic's position lies inside the text of the file it names (line 1 col 1 for a file with no text known). */
function inside(d: Diagnostic, sources: ReadonlyMap<string, string>): boolean {
  const text = sources.get(d.span.file);
  if (text === undefined) return d.span.line === 1 && d.span.col === 1;
  const lines = text.split("\n");
  const line = lines[d.span.line - 1];
  return (
    Number.isInteger(d.span.line) && Number.isInteger(d.span.col) && line !== undefined && d.span.col >= 1 && d.span.col <= line.length + 1
  );
}

/** Runs `body`: anything but InputError with good diagnostics is a failure, reported with the case. */
function survive(
  kind: string,
  n: number,
  text: string,
  body: () => void,
  extraSources: ReadonlyMap<string, string> = new Map(),
): "ok" | "rejected" {
  try {
    body();
    return "ok";
  } catch (e) {
    const where = () => {
      // the whole input, to reproduce the case by hand
      const dump = join(tmpdir(), `reach-badinput-${kind}-${SEED}-${n}.txt`);
      writeFileSync(dump, text);
      return `${kind} case ${n} (BADINPUT_SEED=${SEED}, input in ${dump}): ${JSON.stringify(text.length > 500 ? text.slice(0, 500) + "..." : text)}`;
    };
    if (!(e instanceof InputError)) throw new Error(`crash on ${where()}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    if (!e.diagnostics.length) throw new Error(`no diagnostic on ${where()}`);
    const sources = new Map([...extraSources, ...e.sources]);
    for (const d of e.diagnostics) {
      if (!/^RCH\d{3}$/.test(d.code) || !d.message) throw new Error(`bad diagnostic ${JSON.stringify(d)} on ${where()}`);
      if (!inside(d, sources)) throw new Error(`diagnostic outside its file: ${JSON.stringify(d)} on ${where()}`);
    }
    return "rejected";
  }
}

const tmp = mkdtempSync(join(tmpdir(), "reach-badinput-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe(`bad input, in process (${RUNS} cases per kind, seed ${SEED})`, () => {
  it("topology text", () => {
    const r = rng(SEED);
    let ok = 0;
    for (let n = 0; n < RUNS; n++) {
      const text = input(r, MODELS);
      const file = join(tmp, "topology.yaml");
      if (survive("topology", n, text, () => void lower(loadTopologyText(file, text).topology)) === "ok") ok++;
    }
    expect(ok).toBeLessThan(RUNS);
  }, 3_600_000);

  it("spec text (include: resolved in a temporary folder)", () => {
    const r = rng(SEED + 1);
    const dir = join(tmp, "spec");
    mkdirSync(dir, { recursive: true });
    for (const m of MODELS) writeFileSync(join(dir, m.name), m.text);
    const file = join(dir, "lab.spec.yaml");
    const includes = new Map(MODELS.map((m) => [join(dir, m.name), m.text]));
    for (let n = 0; n < RUNS; n++) {
      const text = input(r, SPECS);
      survive("spec", n, text, () => void loadTopologyText(file, text), includes);
    }
  }, 3_600_000);

  it("proof text (and the members of a small family that loads)", () => {
    const r = rng(SEED + 2);
    for (let n = 0; n < RUNS; n++) {
      const text = input(r, PROOFS);
      survive(
        "proof",
        n,
        text,
        () => {
          const f = loadFamilyText("proof.yaml", text);
          if (assignments(f).length <= 8) members(f);
        },
        new Map([["proof.yaml", text]]), // members() reports at the theorem's line without the sources
      );
    }
  }, 3_600_000);

  it("query strings", () => {
    const r = rng(SEED + 3);
    for (let n = 0; n < RUNS * 10; n++) {
      const text = int(r, 4) ? mutate(r, pick(r, QUERIES)) : garbage(r, 40);
      let q;
      try {
        q = parseQuery(text);
      } catch (e) {
        throw new Error(`crash on query case ${n} (BADINPUT_SEED=${SEED}): ${JSON.stringify(text)}: ${String(e)}`);
      }
      if (!q.ok && !(Number.isInteger(q.offset) && q.offset >= 0 && q.offset <= text.length))
        throw new Error(`query offset ${q.offset} outside ${JSON.stringify(text)} (case ${n})`);
    }
  });
});

describe("found by the fuzz (seed 13), kept as regressions", () => {
  const codes = (text: string) => {
    try {
      const l = loadTopologyText("t.yaml", text);
      lower(l.topology);
      return [];
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return e.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col}`);
    }
  };
  it("names that are Object.prototype's members: a bridge to __proto__ crashed the lowering", () => {
    const host = "segments: { s: 10.0.0.0/24 }\nmachines:\n  h: { interfaces: { eth0: { segment: s, addresses: [10.0.0.1/24] } } }\n";
    expect(codes(`${host}  g: { vm: { on: h, adapters: [ { mode: bridged, bridge: __proto__, addresses: [10.0.0.2/24] } ] } }\n`)).toEqual([
      "RCH022 4:58",
    ]);
    expect(codes(`${host}  g: { vm: { on: constructor, adapters: [ { mode: nat } ] } }\n`)).toEqual(["RCH023 4:18"]);
    expect(codes(`${host}expect: [ { query: "h -> toString:22/tcp", verdict: reachable } ]\n`)).toEqual(["RCH041 4:20"]);
    // zod would drop it without a word
    expect(codes(`${host}  __proto__: {}\n`)).toEqual(["RCH004 4:3"]);
  });
  it("a YAML error token spanning lines: later diagnostics stay on their own lines", () => {
    const text = '  - a\n:x\nb: c\n- "d\n';
    const lines = text.split("\n");
    try {
      loadTopologyText("t.yaml", text);
    } catch (e) {
      for (const d of (e as InputError).diagnostics) expect(d.span.col).toBeLessThanOrEqual(lines[d.span.line - 1]!.length + 1);
    }
  });
});

// ------------------------------------------------------------------ the CLI

const COMMANDS: Record<string, { positionals: string[]; options: string[] }> = {
  ask: { positionals: ["FILE", "QUERY"], options: ["--json", "--engine", "--timeout", "--smt2", "--no-fix", "--fix", "--root"] },
  show: { positionals: ["FILE"], options: ["--root"] },
  verify: { positionals: ["FILE", "FILE"], options: ["--format", "--engine", "--timeout", "--root"] },
  check: { positionals: ["FILE"], options: ["--format", "--timeout"] },
  exposure: { positionals: ["FILE"], options: ["--from", "--format", "--engine", "--timeout"] },
  matrix: { positionals: ["FILE"], options: ["--format", "--workers", "--engine", "--timeout"] },
  diff: { positionals: ["FILE", "FILE"], options: ["--format", "--engine", "--timeout"] },
  import: { positionals: ["KIND", "FILE"], options: ["--output", "-o", "--force", "--into", "--host", "--lan"] },
  snapshot: { positionals: [], options: ["--output", "--force", "--host", "--netns", "--save"] },
  prove: { positionals: ["PROOF"], options: ["--counterexamples", "--timeout"] },
  fix: { positionals: ["FILE", "QUERY"], options: ["--want", "--max-edits", "--alternatives", "--write", "--timeout"] },
  schema: { positionals: [], options: [] },
};
const VALUES: Record<string, readonly string[]> = {
  "--engine": ["smt", "sim", "both", "z3", ""],
  "--timeout": ["1", "0.5", "0", "-1", "abc", "1e-9", "Infinity", "NaN", "3"],
  "--format": ["text", "json", "csv", "github", "junit", "sarif", "xml"],
  "--want": ["reachable", "unreachable", "maybe"],
  "--max-edits": ["1", "2", "3", "0", "4", "1.5", "x"],
  "--alternatives": ["0", "2", "11", "-1", "x"],
  "--workers": ["1", "2", "0", "-3", "1.5", "x"],
  "--lan": ["192.168.1.0/24", "10.0.0.0/8", "::/0", "1.2.3.4/33", "x"],
  "--host": ["host", "laptop", "bad name", "", "-"],
  "--netns": ["reach-none", "", "../x", "a;b"],
  "--from": ["host", "lan-pc", "nobody", ""],
};
const KINDS = ["virtualbox", "vagrant", "qemu", "libvirt", "compose", "docker", "linux", "nope"];

/** Writes the inputs into `work/`: models, a spec and what it includes, proofs, and mutated copies. */
function workFolder(r: R, root: string): string {
  const work = join(root, "work");
  mkdirSync(work, { recursive: true });
  mkdirSync(join(root, "outside"), { recursive: true });
  for (const m of [...MODELS, ...SPECS]) writeFileSync(join(work, m.name), m.text);
  for (const p of PROOFS) writeFileSync(join(work, `proof-${p.name}`), p.text);
  for (let i = 0; i < 4; i++) writeFileSync(join(work, `bad${i}.yaml`), input(r, MODELS));
  writeFileSync(join(work, "badproof.yaml"), input(r, PROOFS));
  cpSync(join(ROOT, "test", "import", "golden"), join(work, "imports"), { recursive: true });
  return work;
}

/**
 * Paths garbage may name. Not /dev/zero for `reach import`: the importers read a file whole
 * (src/import, reported in issue 13), so it exhausts memory, and the kernel's OOM killer may pick
 * the test's own worker; the topology and proof loaders stop at their limit (test/resources).
 */
const PATHS = ["../outside/x.yaml", "../outside", "/dev/null", "/dev/zero", "nonexistent.yaml", ".", "", "-", "--"];

function argValue(r: R, kind: string, files: readonly string[], proofs: readonly string[], imports: readonly string[]): string {
  const k = r();
  if (k < 0.1) return garbage(r, 12).replaceAll("\0", "");
  if (k < 0.15) return pick(r, kind === "IMPORT" ? PATHS.filter((p) => p !== "/dev/zero") : PATHS);
  switch (kind) {
    case "FILE":
      return pick(r, files);
    case "PROOF":
      return r() < 0.8 ? pick(r, proofs) : ".";
    case "QUERY":
      return r() < 0.7 ? pick(r, QUERIES) : mutate(r, pick(r, QUERIES)).replaceAll("\0", "");
    case "KIND":
      return pick(r, KINDS);
    default:
      return pick(r, imports);
  }
}

/** An argument vector: a real command (or garbage), its positionals, some options with values. */
function argv(r: R, files: readonly string[], proofs: readonly string[], imports: readonly string[]): string[] {
  // an argument vector cannot hold a NUL character (execve ends the string there)
  if (r() < 0.05) return Array.from({ length: int(r, 4) }, () => garbage(r, 10).replaceAll("\0", ""));
  const name = pick(r, Object.keys(COMMANDS));
  const cmd = COMMANDS[name]!;
  const args = [name, ...cmd.positionals.map((p) => argValue(r, name === "import" && p === "FILE" ? "IMPORT" : p, files, proofs, imports))];
  if (r() < 0.1) args.pop();
  for (let k = int(r, 4); k > 0; k--) {
    const o = r() < 0.9 && cmd.options.length ? pick(r, cmd.options) : pick(r, ["--nope", "--help", "--version", "-x", "--timeout"]);
    args.push(o);
    if (["--json", "--no-fix", "--fix", "--force", "--write", "--help", "--version"].includes(o)) continue;
    const path = ["--smt2", "--output", "-o", "--into", "--save", "--counterexamples", "--root"].includes(o);
    args.push(
      path
        ? pick(r, ["out.smt2", "out.yaml", "cex", "saved", "bad0.yaml", ".", "imports", "nofolder/out.yaml"])
        : pick(r, VALUES[o] ?? JUNK).replaceAll("\0", ""),
    );
  }
  // the inline fix of an unreachable answer takes 5 s: usually skipped
  if (name === "ask" && r() < 0.8) args.push("--no-fix");
  if (!args.includes("--timeout") && ["ask", "verify", "exposure", "matrix", "diff", "prove", "fix"].includes(name))
    args.push("--timeout", "2");
  return args;
}

const CLI = join(ROOT, "dist", "bin", "main.js");

interface Run {
  readonly args: string[];
  readonly code: number | null;
  readonly stderr: string;
  readonly ms: number;
}
function run(args: string[], cwd: string): Promise<Run> {
  const t0 = performance.now();
  return new Promise((done) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, CI: "1" } });
    let stderr = "";
    p.stderr.setEncoding("utf8");
    p.stderr.on("data", (s: string) => (stderr += s.length < 1e6 ? s : ""));
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      done({ args, code, stderr, ms: performance.now() - t0 });
    });
  });
}

/** Every `file:line:col: error|warning RCHnnn` on stderr lies inside its file (`work/` files, `<query>`, `<arguments>`). */
function positionsInside(stderr: string, work: string, args: readonly string[]): string[] {
  const bad: string[] = [];
  for (const m of stderr.matchAll(/^(.+?):(\d+):(\d+): (?:error|warning) (RCH\d{3})/gm)) {
    const [all, file, l, c] = m as unknown as [string, string, string, string];
    const line = Number(l);
    const col = Number(c);
    let text: string | undefined;
    if (file === "<query>") text = args.find((a) => QUERIES.includes(a) || a.includes("->")) ?? undefined;
    else if (file === "<arguments>") text = undefined;
    else {
      // only regular files of work/ (a diagnostic may name /dev/zero, which is never read here)
      const path = resolve(work, file);
      try {
        text = path.startsWith(work + "/") && statSync(path).isFile() ? readFileSync(path, "utf8") : undefined;
      } catch {
        text = undefined;
      }
    }
    if (text === undefined) {
      if (file === "<query>") continue; // the query may be garbage without an arrow: it is not found among the args
      if (line !== 1 || col !== 1) bad.push(all);
      continue;
    }
    const lines = text.split(/\n/);
    if (line < 1 || line > lines.length || col < 1 || col > lines[line - 1]!.length + 1) bad.push(all);
  }
  return bad;
}

describe(`bad input, the CLI (${CLI_RUNS} argument vectors, seed ${SEED})`, () => {
  it(
    "no stack trace, exit 0-4, nothing written outside work/, diagnostics inside their files",
    async () => {
      const r = rng(SEED + 4);
      const root = join(tmp, "cli");
      const work = workFolder(r, root);
      const files = readdirSync(work).filter((f) => f.endsWith(".yaml") && !f.startsWith("proof-"));
      const proofs = [...readdirSync(work).filter((f) => f.startsWith("proof-")), "badproof.yaml"];
      const imports = readdirSync(join(work, "imports")).flatMap((d) =>
        readdirSync(join(work, "imports", d)).map((f) => `imports/${d}/${f}`),
      );
      const cases = Array.from({ length: CLI_RUNS }, () => argv(r, files, proofs, imports));
      const failures: string[] = [];
      const slow: Run[] = [];
      const codes = new Map<number | null, number>();
      // two at a time: the machine has two cores
      for (let i = 0; i < cases.length; i += 2) {
        if (process.env.BADINPUT_LOG)
          for (const a of cases.slice(i, i + 2)) appendFileSync(process.env.BADINPUT_LOG, JSON.stringify(a) + "\n");
        const runs = await Promise.all(cases.slice(i, i + 2).map((a) => run(a, work)));
        for (const x of runs) {
          codes.set(x.code, (codes.get(x.code) ?? 0) + 1);
          if (x.ms > 60_000) slow.push(x);
          const why = [
            ...(x.code === null || x.code < 0 || x.code > 4 ? [`exit ${x.code}`] : []),
            ...(/^\s+at \S/m.test(x.stderr) || /internal error/.test(x.stderr) ? ["stack trace / internal error"] : []),
            ...positionsInside(x.stderr, work, x.args).map((p) => `position outside its file: ${p}`),
            ...(readdirSync(join(root, "outside")).length ? [`wrote outside work/: ${readdirSync(join(root, "outside")).join(", ")}`] : []),
            ...(readdirSync(root).length !== 2 ? [`wrote beside work/: ${readdirSync(root).join(", ")}`] : []),
          ];
          if (why.length) failures.push(`reach ${JSON.stringify(x.args)}: ${why.join("; ")}\n${x.stderr.slice(0, 3000)}`);
          if (process.env.BADINPUT_LOG)
            appendFileSync(
              process.env.BADINPUT_LOG,
              `=> exit ${x.code}, ${Math.round(x.ms)} ms${why.length ? `, FAILED: ${why.join("; ")}` : ""}\n`,
            );
        }
      }
      if (process.env.BADINPUT_REPORT)
        writeFileSync(
          process.env.BADINPUT_REPORT,
          JSON.stringify(
            {
              runs: cases.length,
              seed: SEED,
              codes: Object.fromEntries(codes),
              slow: slow.map((s) => [s.args, Math.round(s.ms)]),
              failures,
            },
            null,
            1,
          ),
        );
      expect(failures).toEqual([]);
    },
    24 * 3_600_000,
  );
});
