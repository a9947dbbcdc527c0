/**
 * Each refutation of a proof family is written as a concrete topology (never over an existing
 * file), then answered again from that file: what the file says must be what the proof says.
 */
import { existsSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { Family } from "./family.js";
import { explainCounterexample, ProofDisagreement, type FamilyResult, type TheoremResult } from "./prove.js";
import { counterexampleYaml, type Written } from "./report.js";

/** A free name in `folder` for theorem i of the family's file: STEM.i.yaml, STEM.i-2.yaml, ... */
function freeName(folder: string, file: string, i: number): string {
  const stem = basename(file).replace(/\.(ya?ml|json)$/, "");
  let out = join(folder, `${stem}.${i + 1}.yaml`);
  for (let k = 2; existsSync(out); k++) out = join(folder, `${stem}.${i + 1}-${k}.yaml`);
  return out;
}

/**
 * Writes every counterexample of `r` into `folder` (created when there is one) with `write`
 * (the caller's atomic writer), and checks each written file against its theorem: a file whose
 * answer is the theorem's own verdict is a ProofDisagreement.
 */
export async function recordCounterexamples(
  fam: Family,
  r: FamilyResult,
  folder: string,
  timeoutMs: number,
  write: (path: string, text: string) => void,
): Promise<Map<TheoremResult, Written>> {
  const written = new Map<TheoremResult, Written>();
  for (const [i, t] of r.theorems.entries()) {
    if (!t.counterexample) continue;
    mkdirSync(folder, { recursive: true });
    const out = freeName(folder, fam.file, i);
    write(out, counterexampleYaml(fam, t, t.counterexample));
    const { decided, net } = await explainCounterexample(out, t.theorem, timeoutMs);
    // the file must say what the proof says: its answer is the opposite of the theorem's
    if ((decided.answer.verdict === "reachable") === t.counterexample.claimed)
      throw new ProofDisagreement(`${out}: reach answers ${decided.answer.verdict} on the written counterexample, as the theorem says`);
    written.set(t, { file: out, decided, net });
  }
  return written;
}
