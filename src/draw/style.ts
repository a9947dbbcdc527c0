/**
 * The pictures' look, in one place: the Okabe-Ito palette (distinguishable with every common
 * colour-vision deficiency), and shapes and line styles that carry the same meaning without
 * colour. Every picture has an opaque white background, so it reads the same on a light or a
 * dark page.
 */

/** Okabe & Ito (2008), "Color Universal Design". */
export const OKABE_ITO = {
  black: "#000000",
  orange: "#E69F00",
  skyBlue: "#56B4E9",
  green: "#009E73",
  yellow: "#F0E442",
  blue: "#0072B2",
  vermillion: "#D55E00",
  purple: "#CC79A7",
} as const;

export const FONT = "Helvetica";
export const MONO = "Courier";

/** Light tints of the palette for fills (text on them stays black). */
export const TINT = {
  host: "#FFFFFF",
  vm: "#E8F4FB",
  router: "#FDF3DC",
  engine: "#F2F2F2",
  frame: "#FAFAFA",
  failed: "#FBE5D6",
  ok: "#DDF2EA",
  note: "#FFFBE0",
  repair: "#DDF2EA",
} as const;

/** Glyphs that say what colour also says. */
export const GLYPH = { ok: "✔", blocked: "✖", unknown: "?", firewall: "⛨", forward: "⇢" } as const;

/** Escapes text for a Graphviz HTML-like label. */
export const html = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A quoted Graphviz ID or string attribute. */
export const quote = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

export { wrap } from "../diagnostics/text.js";

/** The attributes every graph starts with. */
export function graphHead(name: string, rankdir: "LR" | "TB"): string[] {
  return [
    `digraph ${quote(name)} {`,
    `  graph [rankdir=${rankdir}, bgcolor="#FFFFFF", fontname=${quote(FONT)}, fontsize=11, nodesep=0.3, ranksep=0.45, pad=0.2];`,
    `  node [fontname=${quote(FONT)}, fontsize=10, color="${OKABE_ITO.black}", fontcolor="${OKABE_ITO.black}", penwidth=1.2];`,
    `  edge [fontname=${quote(FONT)}, fontsize=9, color="#333333", fontcolor="${OKABE_ITO.black}", penwidth=1.2];`,
  ];
}

/** A Mermaid node or edge text: quotes and markup characters replaced by their entity codes. */
export const mermaidText = (s: string): string =>
  s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;").replace(/\[/g, "#91;").replace(/\]/g, "#93;");

/** A Mermaid identifier for any name. */
export const mermaidId = (prefix: string, s: string): string =>
  `${prefix}_${s.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16)}_`)}`;
