/**
 * `reach verify --findings`: the named findings of docs/doctor.md (decided in src/doctor, which
 * the CLI calls) as they appear in verify's outputs. Each finding sits at its first evidence
 * position (file:line:col in the topology). They are warnings unless `--findings=error`, when
 * they count as violations (exit 1).
 */

export interface LintFinding {
  readonly code: string;
  readonly machine: string;
  readonly title: string;
  readonly evidence: readonly { readonly at: string; readonly text: string }[];
  readonly consequence: string;
  readonly fix: string;
  readonly query: string;
  readonly verdict: string;
  readonly dial?: string;
}

/** A file's findings, what could not be decided (with why), and how they count. */
export interface FileLint {
  readonly findings: readonly LintFinding[];
  readonly skipped: readonly string[];
  readonly level: "warning" | "error";
}

/** Where a finding is reported: its first evidence in `file` (file:line:col), else line 1. */
export function lintSpan(f: LintFinding, file: string): { line: number; col: number } {
  for (const e of f.evidence) {
    const m = /^(.*):(\d+):(\d+)$/.exec(e.at);
    if (m && m[1] === file) return { line: Number(m[2]), col: Number(m[3]) };
  }
  return { line: 1, col: 1 };
}

/** The text lines of a file's findings (after its expectations). */
export function lintText(file: string, lint: FileLint, paint: (s: string) => string = (s) => s): string[] {
  const mark = lint.level === "error" ? "FAIL" : "WARN";
  return [
    ...lint.skipped.map((s) => `${paint("NOTE")} ${file}: ${s}`),
    ...lint.findings.flatMap((f) => [
      `${paint(mark)} ${file}:${lintSpan(f, file).line}  ${f.code} ${f.machine}: ${f.title}`,
      ...f.evidence.map((e) => `       evidence: ${e.at}: ${e.text}`),
      `       consequence: ${f.consequence}`,
      `       fix: ${f.fix}`,
      `       decided: ${f.query} -> ${f.verdict}${f.dial ? ` (dial ${f.dial})` : ""}`,
    ]),
  ];
}

/** The counts for the summary line. */
export function lintCount(lints: readonly (FileLint | undefined)[]): { findings: number; errors: number } {
  const all = lints.flatMap((l) => (l ? l.findings.map(() => l.level) : []));
  return { findings: all.length, errors: all.filter((l) => l === "error").length };
}

/** The JSON of a file's findings. */
export const lintJson = (file: string, lint: FileLint) => ({
  level: lint.level,
  skipped: lint.skipped,
  items: lint.findings.map((f) => ({ ...f, ...lintSpan(f, file) })),
});
