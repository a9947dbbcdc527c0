/** How `reach fix` reports: the repair as file:line edits and a diff of the user's file, the new answer, the next best. */
import { createTwoFilesPatch } from "diff";
import { formatSpan } from "../diagnostics/diagnostic.js";
import { formatQuery } from "../ir/query.js";
import { renderAnswer } from "../query/render.js";
import { changeText, type FixResult, type Repair } from "./fix.js";

const indent = (text: string, n: number) =>
  text
    .split("\n")
    .map((l) => (l ? " ".repeat(n) + l : l))
    .join("\n");
const edits = (n: number) => `${n} edit${n === 1 ? "" : "s"}`;

/** A unified diff of the user's file, without the patch header lines. */
export function fileDiff(file: string, before: string, after: string): string {
  return createTwoFilesPatch(file, file, before, after, "", "", { context: 1 }).split("\n").slice(2).join("\n").trimEnd();
}

export function renderFix(r: FixResult, file: string, source: string): string {
  const q = formatQuery(r.query);
  if (r.before.answer.verdict === r.want) return `${q} is already ${r.want}: nothing to fix`;
  const lines = [`${q} is ${r.before.answer.verdict}; wanted ${r.want}.`];
  const best = r.repairs[0];
  const how = `Z3: MaxSMT over ${r.candidates} candidate topologies (${r.slots} places to edit, up to ${edits(r.maxEdits)}), ${r.rounds} round${r.rounds === 1 ? "" : "s"}`;
  if (!best) {
    if (r.unknown) {
      lines.push(`unknown: the search did not finish (${r.unknown}); try a larger --timeout`, how);
      return lines.join("\n");
    }
    lines.push(`no repair with at most ${edits(r.maxEdits)} in the repair space keeps every other expectation holding`);
    for (const x of r.rejected) {
      lines.push(`  ${x.changes.map((c) => `${formatSpan(c.span)} ${changeText(c)}`).join("; ")}`);
      for (const b of x.broken) lines.push(`    would break ${formatSpan(b.span)}: ${b.text} (now ${b.message.split(":")[0]})`);
    }
    if (r.rejected.length) lines.push("  (change or remove those expectations if the new behaviour is what you want)");
    else if (r.maxEdits < 3) lines.push(`  (try --max-edits ${r.maxEdits + 1})`);
    lines.push(how);
    return lines.join("\n");
  }
  const changes = (x: Repair) => x.changes.map((c) => `${formatSpan(c.span)}  ${changeText(c)}`);
  lines.push(`fix (${edits(best.changes.length)}):`, ...changes(best).map((l) => `  ${l}`));
  lines.push(indent(fileDiff(file, source, best.text), 2));
  lines.push("then:", indent(renderAnswer(best.decided.answer, best.net.machines, best.decided.report), 2));
  const n = best.expectations.length;
  lines.push(
    n
      ? `  the file's ${n} other expectation${n === 1 ? "" : "s"} still hold${n === 1 ? "s" : ""}`
      : "  (the file has no other expectations to keep)",
  );
  if (r.repairs.length > 1) {
    lines.push("next best:");
    r.repairs.slice(1).forEach((x, i) => {
      const [first, ...rest] = changes(x);
      lines.push(`  ${i + 2}. (${edits(x.changes.length)}) ${first}`, ...rest.map((l) => `     ${" ".repeat(String(i + 2).length)}${l}`));
    });
  }
  if (r.unknown) lines.push(`  (the search did not finish: ${r.unknown}; a smaller repair may exist)`);
  lines.push(how);
  return lines.join("\n");
}

/** The repair an unreachable `reach ask` ends with: the best repair's edits at file:line, or why there is none. */
export function inlineFix(r: FixResult, file: string, timeoutS: number): string[] {
  const best = r.repairs[0];
  const full = `reach fix ${file} "${formatQuery(r.query)}" --want ${r.want}`;
  if (best) {
    const n = best.expectations.length;
    return [
      `  fix (${edits(best.changes.length)}, checked with both engines${n ? `; the file's ${n} other expectation${n === 1 ? "" : "s"} still hold` : ""}):`,
      ...best.changes.map((c) => `    ${formatSpan(c.span)}  ${changeText(c)}`),
      `    (${full} --write applies it)`,
    ];
  }
  // the time to suggest: two minutes, or twice what the search said it needs on this file
  const timeout = Math.max(120, Math.ceil((2 * (r.neededMs ?? 0)) / 1000));
  if (r.unknown) return [`  fix: none found within ${timeoutS} s (${r.unknown}); run ${full} --timeout ${timeout}`];
  return [`  fix: no repair of at most ${edits(r.maxEdits)} keeps the file's other expectations; ${full} shows which they break`];
}

/** The same as JSON. */
export function inlineFixJson(r: FixResult): unknown {
  const best = r.repairs[0];
  if (best)
    return {
      status: "found",
      changes: best.changes.map((c) => ({ location: formatSpan(c.span), where: c.slot.where, change: c.alternative.text })),
      otherExpectationsHold: best.expectations.length,
    };
  return r.unknown ? { status: "unknown", reason: r.unknown } : { status: "none", maxEdits: r.maxEdits };
}
