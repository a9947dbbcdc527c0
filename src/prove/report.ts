/** How `reach prove` reports: one line per theorem, and for a refutation the member, its file and its trace. */
import YAML from "yaml";
import type { Network } from "../ir/types.js";
import type { Decided } from "../query/engine.js";
import { renderAnswer } from "../query/render.js";
import { formatQuery } from "../ir/query.js";
import { asRecorded, type Counterexample, type FamilyResult, type TheoremResult } from "./prove.js";
import { assignmentText, condText, type Family } from "./family.js";

const indent = (text: string, n: number) =>
  text
    .split("\n")
    .map((l) => " ".repeat(n) + l)
    .join("\n");

export function theoremText(f: Family, t: TheoremResult): string {
  return `${formatQuery(t.theorem.query)} is reachable iff ${condText(f, t.theorem.reachable)}`;
}

/** The concrete topology of a counterexample, with what it refutes on top. */
export function counterexampleYaml(f: Family, t: TheoremResult, c: Counterexample): string {
  const doc = new YAML.Document(c.member.doc);
  doc.commentBefore = [
    ` Counterexample from \`reach prove ${f.file}\``,
    ` claim: "${f.claim}"`,
    ` theorem: ${theoremText(f, t)}`,
    ` parameters: ${assignmentText(f, c.member.assignment)}`,
    ` the theorem says ${c.claimed ? "reachable" : "unreachable"}; reach answers ${c.claimed ? "unreachable" : "reachable"}:`,
    `   reach ask THIS_FILE "${formatQuery(t.theorem.query)}"`,
  ].join("\n");
  return doc.toString({ lineWidth: 0 });
}

/** Where a counterexample was written, and reach's answer on that file. */
export interface Written {
  readonly file: string;
  readonly decided: Decided;
  readonly net: Network;
}

export function renderFamily(r: FamilyResult, written: ReadonlyMap<TheoremResult, Written>): string {
  const f = r.family;
  const lines = [`${f.file}: ${r.members} topologies${f.origin ? ` (claim from ${f.origin})` : ""}`, `  claim: "${f.claim}"`];
  for (const t of r.theorems) {
    const how = `Z3: ${t.rounds} solver call${t.rounds === 1 ? "" : "s"} over all ${r.members}; simulator: ${t.enumerated} enumerated`;
    if (t.status === "proved") lines.push(`  PROVED   ${theoremText(f, t)}  (${how})`);
    else if (t.status === "unknown") lines.push(`  UNKNOWN  ${theoremText(f, t)}: ${t.reason}`);
    else {
      const c = t.counterexample!;
      lines.push(`  REFUTED  ${theoremText(f, t)}  (${how})`);
      lines.push(`    with ${assignmentText(f, c.member.assignment)} it is ${c.claimed ? "unreachable" : "reachable"}`);
      const w = written.get(t);
      if (w) {
        lines.push(`    counterexample: ${w.file}`);
        lines.push(indent(renderAnswer(w.decided.answer, w.net.machines, w.decided.report), 4));
      }
    }
  }
  const unknown = r.theorems.some((t) => t.status === "unknown");
  if (unknown) lines.push("  not decided: some theorems are unknown (a larger --timeout may decide them)");
  else if (!f.holds)
    lines.push(
      asRecorded(r)
        ? "  as recorded: the claim as stated is false (see the note)"
        : "  NOT as recorded: the file says the claim as stated is false, but every theorem is proved",
    );
  if (f.note) lines.push(indent(`note: ${f.note.trim()}`, 2));
  return lines.join("\n");
}
