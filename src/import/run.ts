/**
 * `reach import KIND FILE...`: read the inputs, run the kind's importer on them,
 * merge the fragments (into the user's own topology with --into), complete the
 * host scaffold, render YAML, and check the result loads like any topology file.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { diagnostic, type Diagnostic, InputError } from "../diagnostics/diagnostic.js";
import { LIMITS, loadTopologyFile, loadTopologyText, readBounded } from "../topology/load.js";
import type { TopologyDoc } from "../topology/schema.js";
import { importCompose, importDocker } from "./docker.js";
import { importLibvirt } from "./libvirt.js";
import { importLinux } from "./linux.js";
import { mergeParts, type Part } from "./merge.js";
import { importQemu } from "./qemu.js";
import { renderTopology } from "./render.js";
import type { Importer, ImportOptions, Source } from "./types.js";
import { KINDS, type Kind } from "./kinds.js";
import { importVagrant } from "./vagrant.js";
import { importVirtualbox } from "./virtualbox.js";

export const IMPORTERS = {
  virtualbox: importVirtualbox,
  vagrant: importVagrant,
  qemu: importQemu,
  libvirt: importLibvirt,
  compose: importCompose,
  docker: importDocker,
  linux: importLinux,
} as const satisfies Record<Kind, Importer>;

export { KINDS, type Kind };

export const isKind = (s: string): s is Kind => Object.hasOwn(IMPORTERS, s);

export interface ImportRequest {
  readonly kind: Kind;
  /** Paths; `KIND:PATH` imports that one file with another kind (e.g. linux:iptables.txt). */
  readonly files: readonly string[];
  readonly options: ImportOptions & { readonly lan: string };
  /** The user's topology to merge the imports into. */
  readonly into?: string;
  /** Sources already in memory (reach snapshot), imported with `kind`. */
  readonly sources?: readonly Source[];
  /** How the header names the command (default: reach import KIND FILES). */
  readonly command?: string;
  /** Notes and warnings from before the import (reach snapshot's commands). */
  readonly notes?: readonly string[];
  readonly diagnostics?: readonly Diagnostic[];
}

export interface ImportOutcome {
  /** The topology text, when it could be produced and loads. */
  readonly text?: string;
  readonly doc?: TopologyDoc;
  readonly notes: readonly string[];
  /** Errors and warnings of the inputs, the merge, and the load of the result. */
  readonly diagnostics: readonly Diagnostic[];
  /** Source texts by file name, to show diagnostics with their lines. */
  readonly sources: ReadonlyMap<string, string>;
}

function splitKind(arg: string, kind: Kind): { kind: Kind; path: string } {
  // a file whose name really is "vagrant:lab" is that file
  if (existsSync(arg)) return { kind, path: arg };
  const i = arg.indexOf(":");
  const k = i > 0 ? arg.slice(0, i) : "";
  return isKind(k) ? { kind: k, path: arg.slice(i + 1) } : { kind, path: arg };
}

/** An input file, read no further than the topology text limit (a named /dev/zero or pipe is RCH006, not an out-of-memory). */
function readSource(path: string): Source | Diagnostic {
  try {
    return { file: path, text: readBounded(path, LIMITS.textChars, "a readable file") };
  } catch (e) {
    if (e instanceof InputError && e.diagnostics[0]) return e.diagnostics[0];
    throw e;
  }
}

/** The word of `text` at a 1-based line and column: what an error of the generated topology is about. */
function wordAt(text: string, line: number, col: number): string {
  const l = text.split("\n")[line - 1] ?? "";
  const m = /^[^\s,{}[\]]+/.exec(l.slice(Math.max(0, col - 1)));
  return (m?.[0] ?? "").replace(/:$/, "");
}

/**
 * An error of the generated topology, moved to the input line its value came from (the first
 * input holding that value, or the address without its length), else to the first input; the
 * flags that change what the importer assumes are named.
 */
function inInputs(d: Diagnostic, text: string, sources: ReadonlyMap<string, string>, req: ImportRequest): Diagnostic {
  const word = wordAt(text, d.span.line, d.span.col);
  const needles = [word, word.split("/")[0] ?? ""].filter((w) => w.length >= 2);
  let at: Diagnostic["span"] | undefined;
  for (const needle of needles) {
    for (const [file, src] of sources) {
      const i = src.indexOf(needle);
      if (i < 0) continue;
      const before = src.slice(0, i).split("\n");
      at = { file, line: before.length, col: before.at(-1)!.length + 1 };
      break;
    }
    if (at) break;
  }
  const first = splitKind(req.files[0] ?? "", req.kind).path;
  return diagnostic(d.code, at ?? { file: first || "(import)", line: 1, col: 1 }, `the imported topology would not load: ${d.message}`, {
    expected: `${d.expected ?? "a value the topology accepts"} (the importer's assumptions change with --lan CIDR and --host NAME; or merge into a topology of your own with --into FILE)`,
    ...(d.severity ? { severity: d.severity } : {}),
  });
}

export async function runImport(req: ImportRequest): Promise<ImportOutcome> {
  const diagnostics: Diagnostic[] = [...(req.diagnostics ?? [])];
  const sources = new Map<string, string>();
  const byKind = new Map<Kind, Source[]>();
  const add = (kind: Kind, s: Source) => {
    sources.set(s.file, s.text);
    byKind.set(kind, [...(byKind.get(kind) ?? []), s]);
  };
  for (const s of req.sources ?? []) add(req.kind, s);
  for (const arg of req.files) {
    const { kind, path } = splitKind(arg, req.kind);
    const s = readSource(path);
    if ("code" in s) diagnostics.push(s);
    else add(kind, s);
  }
  let base: TopologyDoc | undefined;
  if (req.into) {
    try {
      const loaded = loadTopologyFile(req.into);
      base = loaded.topology.doc;
      sources.set(req.into, loaded.source);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      diagnostics.push(...e.diagnostics);
      for (const [f, t] of e.sources) sources.set(f, t);
    }
  }
  const parts: Part[] = [];
  for (const [kind, list] of byKind) {
    const r = await IMPORTERS[kind](list, req.options);
    diagnostics.push(...r.diagnostics);
    parts.push({ fragment: r.fragment, span: { file: list[0]!.file, line: 1, col: 1 } });
  }
  if (diagnostics.some((d) => d.severity === "error")) return { notes: [], diagnostics, sources };
  const merged = mergeParts(parts, { host: req.options.host, lan: req.options.lan }, base);
  diagnostics.push(...merged.diagnostics);
  const shown = (f: string) => {
    const { kind, path } = splitKind(f, req.kind);
    return path === f ? basename(f) : `${kind}:${basename(path)}`;
  };
  const command =
    req.command ?? ["reach import", req.kind, ...(req.into ? ["--into", basename(req.into)] : []), ...req.files.map(shown)].join(" ");
  const notes = [...(req.notes ?? []), ...merged.notes];
  const text = renderTopology({ doc: merged.doc, command, notes, warnings: diagnostics.filter((d) => d.severity === "warning") });
  // The result must be a topology reach accepts; if it is not, say where in the inputs the value came from.
  const out = "(imported topology)";
  try {
    loadTopologyText(out, text);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { notes, diagnostics: [...diagnostics, ...e.diagnostics.map((d) => inInputs(d, text, sources, req))], sources };
  }
  return { text, doc: merged.doc, notes, diagnostics, sources };
}
