/**
 * `reach merge`: the outputs of the shards of one run (`--shard I/N`, JSON, JUnit or SARIF) back
 * into the output the unsharded run writes, unit for unit and in its order, with its totals and
 * exit status. The shards must fit: one format and command, the same inputs (digest), every shard
 * from 1 to N exactly once, no unit twice (RCH059); a file that is not a shard's output is RCH060.
 */
import junitModule, { type Builder as JunitBuilder } from "junit-report-builder";
import { SaxesParser } from "saxes";
import { diagnostic, InputError, type Code } from "../diagnostics/diagnostic.js";
import { JUNIT_MANIFEST, MANIFEST_KEY, type Manifest } from "./shard.js";

export interface ShardFile {
  readonly file: string;
  readonly text: string;
}

export interface Merged {
  readonly format: "json" | "junit" | "sarif";
  readonly text: string;
  /** 0 all hold, 1 an expectation is violated, 3 something is unknown (as the unsharded command) */
  readonly exitCode: number;
}

const fail = (code: Code, file: string, message: string, expected: string): InputError =>
  new InputError([diagnostic(code, { file, line: 1, col: 1 }, message, { expected })], new Map());

const malformed = (file: string, why: string) =>
  fail(
    "RCH060",
    file,
    `${file} is not the output of a reach shard: ${why}`,
    "the JSON, JUnit or SARIF output of reach verify|matrix|exposure --shard I/N",
  );

type Json = Record<string, unknown>;

/** One shard's output, read: its manifest and its units in output order (with the group each is in). */
interface Read {
  readonly file: string;
  readonly format: Merged["format"];
  readonly manifest: Manifest;
  /** the document without the manifest */
  readonly doc: unknown;
  readonly units: readonly { readonly group: string; readonly unit: unknown }[];
}

function checkManifest(file: string, m: unknown, units: number): Manifest {
  const x = m as Partial<Manifest> | undefined;
  const int = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
  if (
    !x ||
    !["verify", "matrix", "exposure"].includes(x.command as string) ||
    !int(x.index) ||
    !int(x.count) ||
    !int(x.total) ||
    typeof x.inputs !== "string" ||
    !Array.isArray(x.ordinals) ||
    !x.ordinals.every(int)
  )
    throw malformed(file, "its shard manifest is missing or damaged");
  if (x.ordinals.length !== units) throw malformed(file, `its manifest lists ${x.ordinals.length} units, the output has ${units}`);
  return x as Manifest;
}

function parseJsonText(file: string, text: string): Json {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Json;
  } catch {
    // below
  }
  throw malformed(file, "it is neither XML nor a JSON object");
}

/** The units of a JSON output: verify's expectations (grouped by file), matrix's flows, exposure's services. */
function jsonUnits(file: string, doc: Json, command: string): Read["units"] {
  const list = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v)) throw malformed(file, `it has no ${what} list`);
    return v;
  };
  if (command === "verify")
    return list(doc.files, "files").flatMap((f) => {
      const g = (f as Json | null)?.file;
      if (typeof g !== "string") throw malformed(file, "a file entry has no name");
      return list((f as Json).expectations, "expectations").map((unit) => ({ group: g, unit }));
    });
  return list(doc[command === "matrix" ? "flows" : "services"], command === "matrix" ? "flows" : "services").map((unit) => ({
    group: "",
    unit,
  }));
}

function readJson(file: string, text: string): Read {
  const all = parseJsonText(file, text);
  const { [MANIFEST_KEY]: m, ...doc } = all;
  const command = (m as Partial<Manifest> | undefined)?.command ?? "";
  if ("runs" in doc) {
    const run = (doc.runs as Json[] | undefined)?.[0];
    const props = run?.properties as Json | undefined;
    const results = run?.results;
    if (!run || !Array.isArray(results)) throw malformed(file, "a SARIF log without a run's results");
    const { [MANIFEST_KEY]: sm, ...rest } = props ?? {};
    const manifest = checkManifest(file, sm, results.length);
    // the run as the unsharded one writes it: its keys in their order, properties only when there are some
    const cleanRun: Json = { ...run, properties: rest };
    if (!Object.keys(rest).length) delete cleanRun.properties;
    const clean = { ...doc, runs: [cleanRun] };
    return { file, format: "sarif", manifest, doc: clean, units: results.map((unit) => ({ group: "", unit })) };
  }
  const units = jsonUnits(file, doc, command);
  return { file, format: "json", manifest: checkManifest(file, m, units.length), doc, units };
}

interface Case {
  classname: string;
  name: string;
  failure?: { message: string; type: string };
  skipped: boolean;
  out?: string;
}

/** A JUnit report of renderJunit's shape: suites (one per file) of test cases, and the manifest comment. */
function readJunit(file: string, text: string): Read {
  const parser = new SaxesParser();
  let manifest: unknown;
  const suites: string[] = [];
  const units: { group: string; unit: Case }[] = [];
  let tc: Case | undefined;
  let inOut = false;
  parser.on("comment", (c) => {
    if (c.startsWith(JUNIT_MANIFEST)) manifest = JSON.parse(c.slice(JUNIT_MANIFEST.length));
  });
  parser.on("opentag", (t) => {
    const a = t.attributes as Record<string, string>;
    if (t.name === "testsuite") suites.push(a.name ?? "");
    else if (t.name === "testcase")
      units.push({ group: suites.at(-1) ?? "", unit: (tc = { classname: a.classname ?? "", name: a.name ?? "", skipped: false }) });
    else if (t.name === "failure" && tc) tc.failure = { message: a.message ?? "", type: a.type ?? "" };
    else if (t.name === "skipped" && tc) tc.skipped = true;
    else if (t.name === "system-out") inOut = true;
  });
  const text_ = (s: string) => {
    if (inOut && tc) tc.out = (tc.out ?? "") + s;
  };
  parser.on("text", text_);
  parser.on("cdata", text_);
  parser.on("closetag", (t) => {
    if (t.name === "system-out") inOut = false;
    if (t.name === "testcase") tc = undefined;
  });
  try {
    parser.write(text).close();
  } catch (e) {
    throw malformed(file, `its XML does not parse (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`);
  }
  return { file, format: "junit", manifest: checkManifest(file, manifest, units.length), doc: suites, units };
}

function read(f: ShardFile): Read {
  return f.text.trimStart().startsWith("<") ? readJunit(f.file, f.text) : readJson(f.file, f.text);
}

/** The shards fit together: one format, command, input and total; shards 1..N once each; no unit twice. */
function checkFit(reads: readonly Read[]): void {
  const [a] = reads;
  if (!a) throw fail("RCH059", "<arguments>", "no shard outputs to merge", "the output files of every shard");
  for (const r of reads) {
    const m = r.manifest;
    const differ = (what: string, x: unknown, y: unknown) =>
      fail(
        "RCH059",
        r.file,
        `${r.file} is not a shard of the same run as ${a.file}: ${what} ${String(y)} vs ${String(x)}`,
        "the outputs of one run's shards, same command, format and inputs",
      );
    if (r.format !== a.format) throw differ("format", a.format, r.format);
    if (m.command !== a.manifest.command) throw differ("command", a.manifest.command, m.command);
    if (m.inputs !== a.manifest.inputs) throw differ("inputs (the topologies differ): digest", a.manifest.inputs, m.inputs);
    if (m.count !== a.manifest.count) throw differ("shard count", a.manifest.count, m.count);
    if (m.total !== a.manifest.total) throw differ("total", a.manifest.total, m.total);
    if (m.index < 1 || m.index > m.count) throw malformed(r.file, `shard ${m.index} of ${m.count}`);
  }
  const byIndex = new Map<number, string>();
  for (const r of reads) {
    const other = byIndex.get(r.manifest.index);
    if (other !== undefined)
      throw fail(
        "RCH059",
        r.file,
        `shard ${r.manifest.index}/${r.manifest.count} is given twice (${other} and ${r.file})`,
        "each shard's output once",
      );
    byIndex.set(r.manifest.index, r.file);
  }
  const missing = Array.from({ length: a.manifest.count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length)
    throw fail(
      "RCH059",
      "<arguments>",
      `shard${missing.length === 1 ? "" : "s"} ${missing.join(", ")} of ${a.manifest.count} missing`,
      `the outputs of all ${a.manifest.count} shards`,
    );
  const seen = new Map<number, string>();
  for (const r of reads)
    for (const o of r.manifest.ordinals) {
      if (o >= r.manifest.total) throw malformed(r.file, `unit ${o} of ${r.manifest.total}`);
      const other = seen.get(o);
      if (other !== undefined)
        throw fail("RCH059", r.file, `${r.file} and ${other} both report unit ${o}: the shards overlap`, "shards of one run");
      seen.set(o, r.file);
    }
}

/** Every unit of every shard, in the unsharded order, grouped as the first shard groups them. */
function ordered(reads: readonly Read[]): Map<string, unknown[]> {
  const all = reads.flatMap((r) => r.units.map((u, i) => ({ ...u, ordinal: r.manifest.ordinals[i]! })));
  all.sort((x, y) => x.ordinal - y.ordinal);
  const groups = new Map<string, unknown[]>();
  for (const u of all) groups.set(u.group, [...(groups.get(u.group) ?? []), u.unit]);
  return groups;
}

const statusCode = (violated: boolean, unknown: boolean) => (violated ? 1 : unknown ? 3 : 0);

function mergeJson(reads: readonly Read[]): Merged {
  const groups = ordered(reads);
  const first = reads[0]!.doc as Json;
  const command = reads[0]!.manifest.command;
  if (command === "verify") {
    const files = (first.files as Json[]).map((f) => ({ ...f, expectations: groups.get(f.file as string) ?? [] }));
    const statuses = files.flatMap((f) => f.expectations.map((e) => (e as Json).status));
    const count = (s: string) => statuses.filter((x) => x === s).length;
    const summary = { holds: count("holds"), violated: count("violated"), unknown: count("unknown") };
    return {
      format: "json",
      text: JSON.stringify({ ...first, summary, files }, null, 2),
      exitCode: statusCode(summary.violated > 0, summary.unknown > 0),
    };
  }
  const key = command === "matrix" ? "flows" : "services";
  const units = groups.get("") ?? [];
  const unknown = units.some((u) => (u as Json).verdict === "unknown");
  return { format: "json", text: JSON.stringify({ ...first, [key]: units }, null, 2), exitCode: statusCode(false, unknown) };
}

function mergeSarif(reads: readonly Read[]): Merged {
  const results = ordered(reads).get("") ?? [];
  const doc = reads[0]!.doc as { runs: Json[] };
  const merged = { ...doc.runs[0]!, results };
  const level = (l: string) => results.some((r) => (r as Json).level === l);
  return {
    format: "sarif",
    text: JSON.stringify({ ...doc, runs: [merged] }, null, 2),
    exitCode: statusCode(level("error"), level("warning")),
  };
}

function mergeJunit(reads: readonly Read[]): Merged {
  const groups = ordered(reads);
  const m = junitModule as unknown as JunitBuilder & { default?: JunitBuilder };
  const b = (m.default ?? m).newBuilder();
  let violated = false;
  let unknown = false;
  for (const name of reads[0]!.doc as string[]) {
    const suite = b.testSuite().name(name);
    for (const c of (groups.get(name) ?? []) as Case[]) {
      const tc = suite.testCase().className(c.classname).name(c.name);
      if (c.failure) tc.failure(c.failure.message, c.failure.type);
      if (c.skipped) tc.skipped();
      if (c.out !== undefined) tc.standardOutput(c.out);
      violated ||= c.failure !== undefined;
      unknown ||= c.skipped;
    }
  }
  return { format: "junit", text: b.build(), exitCode: statusCode(violated, unknown) };
}

/** Merges the outputs of a run's shards (any order) into the unsharded run's output. */
export function mergeShards(files: readonly ShardFile[]): Merged {
  const reads = files.map(read);
  checkFit(reads);
  const f = reads[0]!.format;
  return f === "json" ? mergeJson(reads) : f === "sarif" ? mergeSarif(reads) : mergeJunit(reads);
}
