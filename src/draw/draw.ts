/**
 * `reach draw`: the topology, or one query's path, as SVG, DOT, Mermaid or a page of HTML.
 * Deterministic: the same input gives the same bytes (no timestamps; the IR's order is the
 * file's order, and every map is iterated in it).
 */
import { formatSpan } from "../diagnostics/diagnostic.js";
import { formatQuery, type Query } from "../ir/query.js";
import type { Network } from "../ir/types.js";
import type { Loaded } from "../topology/load.js";
import { answerQuery, type EngineOptions } from "../query/engine.js";
import type { Answer } from "../query/dials.js";
import { changeText, fix, type FixResult } from "../fix/fix.js";
import { hostsOf, topologyDot, topologyMermaid, topologyPicture } from "./topology.js";
import { pathDot, pathMermaid, pathPicture, type RepairNote } from "./path.js";
import { dotToSvg, inlineSvg } from "./svg.js";
import { html } from "./style.js";

export { DRAW_FORMATS, type DrawFormat } from "./formats.js";
import type { DrawFormat } from "./formats.js";

/** The time `reach draw --query` gives its repair search (as `reach ask` does). */
export const DRAW_FIX_SECONDS = 5;

/** The repair note of a fix search: the best repair, or the smallest candidate the file's other expectations reject, or why none. */
export function repairNote(r: FixResult): RepairNote {
  const lines = (cs: FixResult["repairs"][number]["changes"]) => cs.map((c) => `${formatSpan(c.span)}  ${changeText(c)}`);
  const best = r.repairs[0];
  if (best) {
    const n = best.expectations.length;
    return {
      title: `repair (reach fix, ${best.changes.length} edit${best.changes.length === 1 ? "" : "s"}, checked${n ? `; the file's ${n} other expectations still hold` : ""})`,
      changes: lines(best.changes),
    };
  }
  const rejected = r.rejected[0];
  if (rejected)
    return {
      title: `repair (reach fix): this makes it reachable, but breaks ${rejected.broken.length} of the file's other expectations (first: ${rejected.broken[0]?.text ?? "?"})`,
      changes: lines(rejected.changes),
    };
  return {
    title: r.unknown
      ? `no repair found within ${DRAW_FIX_SECONDS} s (${r.unknown})`
      : `no repair of at most ${r.maxEdits} edits makes ${formatQuery(r.query)} ${r.want}`,
    changes: [],
  };
}

/** A page of HTML holding one picture (no network: the SVG is inline). */
export function svgPage(title: string, svg: string): string {
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${html(title)}</title>`,
    "<style>body{margin:1rem;background:#fff;color:#000;font-family:Helvetica,Arial,sans-serif}svg{max-width:100%;height:auto}</style>",
    "</head><body>",
    `<h1 style="font-size:1.1rem">${html(title)}</h1>`,
    inlineSvg(svg),
    "</body></html>",
    "",
  ].join("\n");
}

async function render(dot: string, mermaid: () => string, format: DrawFormat, title: string): Promise<string> {
  if (format === "dot") return dot;
  if (format === "mermaid") return mermaid();
  const svg = await dotToSvg(dot);
  return format === "svg" ? svg : svgPage(title, svg);
}

/** The topology picture of a loaded file. */
export async function drawTopology(loaded: Loaded, net: Network, format: DrawFormat): Promise<string> {
  const p = topologyPicture(net, hostsOf(net, loaded.topology));
  return render(topologyDot(p), () => topologyMermaid(p), format, `${net.file}: topology`);
}

/** One answer's path picture (the repair, when given, as a note). */
export async function drawAnswer(a: Answer, format: DrawFormat, repair?: RepairNote): Promise<string> {
  const p = pathPicture(a, repair);
  return render(pathDot(p), () => pathMermaid(p), format, `${p.verdict}: ${p.query}`);
}

/** `reach draw --query`: answers the query, searches a repair when it is unreachable, draws the path. */
export async function drawQuery(
  loaded: Loaded,
  net: Network,
  q: Query,
  opts: EngineOptions,
  format: DrawFormat,
): Promise<{ text: string; answer: Answer }> {
  const { answer } = await answerQuery(net, q, opts);
  const r =
    answer.verdict === "unreachable" && !loaded.spec
      ? await fix(loaded, q, "reachable", { maxEdits: 2, count: 1, timeoutMs: DRAW_FIX_SECONDS * 1000 })
      : undefined;
  return { text: await drawAnswer(answer, format, r ? repairNote(r) : undefined), answer };
}
