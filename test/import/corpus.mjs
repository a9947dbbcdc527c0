#!/usr/bin/env node
/**
 * Import every file of a corpus of real configurations and count the outcomes per kind:
 * clean (no warning), omissions (RCH051 warnings: something left out and said), refused
 * (an error: nothing written), crashed (an exception: a bug), and silent drops (the input
 * has network lines, the output has none of them and no warning says why: a bug too).
 *
 *   npm run build && node test/import/corpus.mjs /tmp/corpus [--dist DIR] [--top N] [--list]
 *
 * The corpus folder holds `vagrant/`, `compose/`, `qemu/` and `libvirt/` (any depth); a file's
 * kind is the first of those folders on its path, else its name says (Vagrantfile*,
 * *compose*.yml, *.xml, else qemu). The corpus is other people's work: keep it outside the
 * repository. `--dist` imports with another build (e.g. one of the previous commit, to measure
 * before a change); `--list` prints every file's outcome.
 */
import { readdirSync, statSync, readFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const flag = (name) => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const dist = resolve(opt("--dist", join(import.meta.dirname, "..", "..", "dist")));
const top = Number(opt("--top", "12"));
const list = flag("--list");
const root = args[0];
if (!root) {
  console.error("usage: node test/import/corpus.mjs CORPUS_DIR [--dist DIR] [--top N] [--list]");
  process.exit(2);
}
const { runImport } = await import(pathToFileURL(join(dist, "import", "run.js")).href);

const KINDS = ["vagrant", "compose", "qemu", "libvirt"];

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

function kindOf(path) {
  const parts = relative(root, path).split(sep);
  const k = parts.find((p) => KINDS.includes(p));
  if (k) return k;
  const base = parts.at(-1);
  if (/^Vagrantfile/i.test(base)) return "vagrant";
  if (/compose.*\.ya?ml$/i.test(base)) return "compose";
  if (/\.xml$/i.test(base)) return "libvirt";
  return "qemu";
}

/**
 * Files the importer takes. Beside an input lie the files it names (a compose file's .env and
 * included files, a Vagrantfile's machines YAML): those are read through the input, not on their own.
 */
function isInput(kind, path) {
  const base = path.split(sep).at(-1);
  if (kind === "compose") return /compose.*\.ya?ml$/i.test(base);
  if (kind === "vagrant") return /Vagrantfile/i.test(base);
  return true;
}

/** How many network statements the input has (comments left out), by a plain reading of its text. */
function networkLines(kind, text) {
  const lines = text.split("\n").filter((l) => !/^\s*#/.test(l));
  const count = (re) => lines.filter((l) => re.test(l)).length;
  switch (kind) {
    case "vagrant":
      return count(/\.vm\.(network|forward_port)\b|\.ports\s*=/);
    case "compose":
      return count(/^\s*(ports|expose)\s*:/) + count(/^\s*network_mode\s*:\s*["']?host/);
    case "qemu":
      return count(/hostfwd=|-netdev\s|-nic\s|-net\s/);
    case "libvirt":
      return count(/<interface\b|<network\b/);
  }
  return 0;
}

/** How many network facts the output has: forwards, extra adapters, DNAT rules, services on the host. */
function outputFacts(text) {
  if (!text) return 0;
  const body = text.replace(/^#.*$/gm, "");
  return (
    (body.match(/hostPort:/g) ?? []).length +
    (body.match(/mode: (nat|hostonly|bridged|intnet|natnetwork|generic)\b/g) ?? []).length +
    (body.match(/action: dnat/g) ?? []).length +
    (body.match(/segment: (?!lan\b)/g) ?? []).length
  );
}

/** A warning's message with its particulars taken out, to group reasons. */
const reason = (message) =>
  message
    .replace(/'[^']*'|"[^"]*"|`[^`]*`/g, "'…'")
    .replace(/\([^)]*\)/g, "(…)")
    .replace(/\b\d+(\.\d+)*\b/g, "N")
    .replace(/^[\w.-]+(\[[^\]]*\])?: /, "")
    .slice(0, 110);

const stats = Object.fromEntries(KINDS.map((k) => [k, { files: 0, clean: 0, omissions: 0, refused: 0, crashed: 0, silent: 0 }]));
const reasons = Object.fromEntries(KINDS.map((k) => [k, new Map()]));
const rows = [];

for (const path of walk(root)) {
  const kind = kindOf(path);
  if (!isInput(kind, path)) continue;
  const s = stats[kind];
  s.files++;
  let outcome;
  let detail = "";
  try {
    const out = await runImport({ kind, files: [path], options: { host: "host", lan: "192.168.1.0/24" }, command: "corpus" });
    const errors = out.diagnostics.filter((d) => d.severity === "error");
    const warnings = out.diagnostics.filter((d) => d.severity === "warning");
    if (errors.length) {
      outcome = "refused";
      detail = errors.map((d) => `${d.code} ${d.message}`)[0];
    } else if (warnings.length) {
      outcome = "omissions";
      for (const w of warnings) {
        const r = reason(w.message);
        reasons[kind].set(r, (reasons[kind].get(r) ?? 0) + 1);
      }
      detail = `${warnings.length} warning(s)`;
    } else {
      outcome = "clean";
    }
    if (outcome !== "refused" && networkLines(kind, readFileSync(path, "utf8")) > 0 && outputFacts(out.text) === 0 && !warnings.length) {
      s.silent++;
      detail += " SILENT DROP: network lines in, none out, no warning";
    }
  } catch (e) {
    outcome = "crashed";
    detail = String(e?.stack ?? e)
      .split("\n")
      .slice(0, 3)
      .join(" | ");
  }
  s[outcome]++;
  rows.push(`${outcome.padEnd(9)} ${relative(root, path)}${detail ? `  ${detail}` : ""}`);
}

if (list) for (const r of rows) console.log(r);
const pct = (n, d) => (d ? `${Math.round((100 * n) / d)}%` : "-");
console.log(`KIND      FILES  CLEAN        OMISSIONS  REFUSED  CRASHED  SILENT`);
for (const k of KINDS) {
  const s = stats[k];
  if (!s.files) continue;
  console.log(
    `${k.padEnd(9)} ${String(s.files).padStart(5)}  ${`${s.clean} (${pct(s.clean, s.files)})`.padEnd(11)}  ${String(s.omissions).padStart(9)}  ${String(s.refused).padStart(7)}  ${String(s.crashed).padStart(7)}  ${String(s.silent).padStart(6)}`,
  );
}
for (const k of KINDS) {
  const r = [...reasons[k]].sort((a, b) => b[1] - a[1]).slice(0, top);
  if (!r.length) continue;
  console.log(`\ntop omission reasons, ${k}:`);
  for (const [text, n] of r) console.log(`${String(n).padStart(5)}  ${text}`);
}
