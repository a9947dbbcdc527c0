/**
 * The report's matrices, as HTML tables: rows are the vantage machines, columns the services
 * (machine:port/proto), one cell per flow.
 *
 * - The heatmap of one topology: reachable, unknown or unreachable, from the exposure the report
 *   already computed (exposure lists every flow that is not unreachable, so nothing is asked twice).
 * - With `reach report NEW --diff OLD`, the diff of two versions (diffFlows): added (now
 *   reachable), removed (no longer reachable), changed (reachable by other packets), undecided,
 *   and unchanged, with a legend.
 *
 * Each state has a glyph and a colour of the Okabe-Ito palette, so no state is told by colour
 * alone; the cell's title says it in words.
 */
import { html } from "../draw/style.js";
import type { Change, FlowAnswer, Service } from "../verify/flows.js";

export interface MatrixInput {
  readonly from: readonly string[];
  readonly services: readonly Service[];
}

type Cell = keyof typeof STATES;

const STATES = {
  reachable: { glyph: "●", words: "reachable" },
  unknown: { glyph: "?", words: "unknown (undecided within --timeout)" },
  unreachable: { glyph: "·", words: "unreachable" },
  self: { glyph: "", words: "the machine itself" },
  added: { glyph: "+", words: "added: now reachable" },
  removed: { glyph: "−", words: "removed: no longer reachable" },
  changed: { glyph: "~", words: "changed: reachable, by other packets" },
  undecided: { glyph: "?", words: "undecided in one of the versions" },
  unchanged: { glyph: "=", words: "unchanged" },
} as const;

export const MATRIX_CSS = `
.matrix{width:auto;border-collapse:collapse;font-size:12px}
.matrix th.col{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:400;padding:.3rem .1rem}
.matrix td.c{width:1.4rem;height:1.4rem;text-align:center;padding:0;border:1px solid var(--line);font-weight:700}
.c.reachable,.c.added{background:#009E73;color:#fff}
.c.removed{background:#D55E00;color:#fff}
.c.changed{background:#CC79A7;color:#111}
.c.unknown,.c.undecided{background:#E69F00;color:#111}
.c.unreachable{color:var(--muted)}
.c.unchanged{background:#999;color:#fff}
.c.self{background:var(--card)}
.legend span{display:inline-flex;align-items:center;margin-right:1rem}
.legend .c{display:inline-block;width:1.2rem;height:1.2rem;text-align:center;margin-right:.3rem;border:1px solid var(--line);font-weight:700}
`;

const label = (s: Service) => `${s.machine}:${s.port}/${s.proto}`;

function table(m: MatrixInput, state: (from: string, s: Service) => Cell): string {
  const head = `<tr><th></th>${m.services.map((s) => `<th class="col mono">${html(label(s))}</th>`).join("")}</tr>`;
  const rows = m.from.map((from) => {
    const cells = m.services.map((s) => {
      const c = state(from, s);
      return `<td class="c ${c}" title="${html(`${from} -> ${label(s)}: ${STATES[c].words}`)}">${STATES[c].glyph}</td>`;
    });
    return `<tr><th class="mono">${html(from)}</th>${cells.join("")}</tr>`;
  });
  return `<table class="matrix">${head}${rows.join("")}</table>`;
}

function legend(cells: readonly Cell[]): string {
  return `<p class="legend">${cells.map((c) => `<span><span class="c ${c}">${STATES[c].glyph}</span>${html(STATES[c].words)}</span>`).join("")}</p>`;
}

/** The heatmap of one topology, from its exposure per vantage machine. */
export function heatmapHtml(m: MatrixInput, exposure: readonly { readonly from: string; readonly flows: readonly FlowAnswer[] }[]): string {
  const seen = new Map<string, "reachable" | "unknown">();
  for (const { from, flows } of exposure)
    for (const f of flows) seen.set(`${from} ${label(f.service)}`, f.answer.verdict === "reachable" ? "reachable" : "unknown");
  const state = (from: string, s: Service): Cell => (s.machine === from ? "self" : (seen.get(`${from} ${label(s)}`) ?? "unreachable"));
  return legend(["reachable", "unknown", "unreachable"]) + table(m, state);
}

/** The diff of two versions: the rows and columns of both, each cell what happened to its flow. */
export function diffMatrixHtml(m: MatrixInput, changes: readonly Change[]): string {
  const byQuery = new Map(changes.map((c) => [c.query, c]));
  const state = (from: string, s: Service): Cell => {
    if (s.machine === from) return "self";
    const c = byQuery.get(`${from} -> ${label(s)}`);
    if (!c) return "unchanged";
    if (c.what === "undecided") return "undecided";
    if (c.what === "now reachable" || c.what === "new, reachable") return "added";
    if (c.what === "no longer reachable" || c.what === "gone (was reachable)") return "removed";
    return "changed";
  };
  return legend(["added", "removed", "changed", "undecided", "unchanged"]) + table(m, state);
}
