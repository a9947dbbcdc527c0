/** Output of `reach exposure`, `reach matrix` and `reach diff`: aligned text, JSON, CSV (csv-stringify). */
import { stringify } from "csv-stringify/sync";
import type { Machine } from "../ir/types.js";
import { answerJson, renderAnswer } from "../query/render.js";
import { dialDescription } from "../query/render.js";
import type { Change, FlowAnswer } from "./flows.js";
import { dialOf } from "./flows.js";
import type { CellResult } from "./matrix.js";

function align(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

// ---- exposure

const exposureRows = (flows: readonly FlowAnswer[], machines: readonly Machine[]) =>
  flows.map((f) => ({
    machine: f.service.machine,
    proto: f.service.proto,
    port: f.service.port,
    verdict: f.answer.verdict,
    dial: dialOf(f.answer),
    via: f.answer.attempt && f.answer.verdict === "reachable" ? dialDescription(f.answer.attempt, machines) : f.answer.reason,
  }));

export function exposureText(from: string, flows: readonly FlowAnswer[], machines: readonly Machine[]): string {
  const rows = exposureRows(flows, machines);
  if (!rows.length) return `${from} can connect to no service of another machine`;
  const table = align([
    ["MACHINE", "PORT", "DIAL", "VIA"],
    ...rows.map((r) => [r.machine, `${r.port}/${r.proto}${r.verdict === "unknown" ? " (unknown)" : ""}`, r.dial, r.via]),
  ]);
  const n = rows.filter((r) => r.verdict === "reachable").length;
  return `${table}\n${n} service${n === 1 ? "" : "s"} reachable from ${from}`;
}

export const exposureJson = (from: string, flows: readonly FlowAnswer[], machines: readonly Machine[]): string =>
  JSON.stringify(
    {
      from,
      services: exposureRows(flows, machines).map((r, i) => ({ ...r, answer: answerJson(flows[i]!.answer, machines, flows[i]!.report) })),
    },
    null,
    2,
  );

export const exposureCsv = (flows: readonly FlowAnswer[], machines: readonly Machine[]): string =>
  stringify(exposureRows(flows, machines), { header: true, columns: ["machine", "proto", "port", "verdict", "dial", "via"] }).trimEnd();

// ---- matrix

const MARK = { reachable: "yes", unreachable: "-", unknown: "?" } as const;

export function matrixText(cells: readonly CellResult[]): string {
  const sources = [...new Set(cells.map((c) => c.from))];
  const services = [...new Set(cells.map((c) => c.service))];
  const at = new Map(cells.map((c) => [`${c.from} ${c.service}`, c]));
  const rows = [
    ["FROM \\ TO", ...services],
    ...sources.map((s) => [s, ...services.map((t) => (at.has(`${s} ${t}`) ? MARK[at.get(`${s} ${t}`)!.verdict] : ""))]),
  ];
  const yes = cells.filter((c) => c.verdict === "reachable").length;
  const unknown = cells.filter((c) => c.verdict === "unknown").length;
  return `${align(rows)}\n${yes} of ${cells.length} flows reachable${unknown ? `, ${unknown} unknown` : ""}`;
}

export const matrixJson = (cells: readonly CellResult[]): string => JSON.stringify({ flows: cells }, null, 2);

export const matrixCsv = (cells: readonly CellResult[]): string =>
  stringify(
    cells.map((c) => ({ ...c })),
    { header: true, columns: ["from", "service", "verdict", "dial"] },
  ).trimEnd();

// ---- diff

export function diffText(changes: readonly Change[], before: readonly Machine[], after: readonly Machine[]): string {
  if (!changes.length) return "no flow changed";
  const lines: string[] = [];
  for (const c of changes) {
    lines.push(`${c.what}: ${c.query}`);
    if (c.detail) lines.push(`  ${c.detail}`);
    if (c.before)
      lines.push(
        "  before:",
        ...renderAnswer(c.before.answer, before, c.before.report)
          .split("\n")
          .map((l) => `    ${l}`),
      );
    if (c.after)
      lines.push(
        "  after:",
        ...renderAnswer(c.after.answer, after, c.after.report)
          .split("\n")
          .map((l) => `    ${l}`),
      );
  }
  lines.push(`${changes.length} flow${changes.length === 1 ? "" : "s"} changed`);
  return lines.join("\n");
}

export const diffJson = (changes: readonly Change[], before: readonly Machine[], after: readonly Machine[]): string =>
  JSON.stringify(
    {
      changes: changes.map((c) => ({
        query: c.query,
        change: c.what,
        ...(c.detail ? { detail: c.detail } : {}),
        before: c.before ? answerJson(c.before.answer, before, c.before.report) : null,
        after: c.after ? answerJson(c.after.answer, after, c.after.report) : null,
      })),
    },
    null,
    2,
  );
