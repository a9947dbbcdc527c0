/**
 * Reporters for `reach verify`: text for people (colour on a terminal, unless
 * NO_COLOR), JSON for tools, GitHub Actions workflow commands so that each
 * violation shows on its expectation's line in the pull request, JUnit XML for
 * CI test tabs (junit-report-builder) and SARIF 2.1.0 for code scanning
 * (node-sarif-builder).
 */
import junitModule, { type Builder as JunitBuilder } from "junit-report-builder";
import { SarifBuilder, SarifResultBuilder, SarifRuleBuilder, SarifRunBuilder } from "node-sarif-builder";
import type { Machine, Network } from "../ir/types.js";
import { answerJson, assumptionLines, incompleteLine, renderAnswer } from "../query/render.js";
import type { VerifyResult } from "./verify.js";
import { lintCount, lintJson, lintSpan, lintText, type FileLint } from "./lint.js";

/** The root-cause codes of a result's counterexamples, in order, each once (docs/causes.md). */
export function causeCodes(r: VerifyResult): string[] {
  return [...new Set(r.findings.flatMap((x) => (x.answer.causes ?? []).map((c) => c.code)))];
}

export type Format = "text" | "json" | "github" | "junit" | "sarif";

export interface FileResults {
  readonly file: string;
  readonly machines: readonly Machine[];
  readonly results: readonly VerifyResult[];
  /** Parts of the inputs the topology was imported without (its `incomplete:`). */
  readonly incomplete?: Network["incomplete"];
  /** What its import assumed (its `assumed:`): every answer over the file depends on it. */
  readonly assumed?: Network["assumed"];
  /** With --findings: the named findings of the topology (lint.ts). */
  readonly lint?: FileLint;
}

/** The summary line's findings part, when --findings asked for them. */
function lintSummary(files: readonly FileResults[]): string {
  if (!files.some((f) => f.lint)) return "";
  const n = lintCount(files.map((f) => f.lint)).findings;
  return `, ${n} finding${n === 1 ? "" : "s"}`;
}

const MARK = { holds: "ok  ", violated: "FAIL", unknown: "????" } as const;

export function useColour(stream: { isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && process.env.NO_COLOR === undefined;
}

export function summary(files: readonly FileResults[]): { holds: number; violated: number; unknown: number } {
  const all = files.flatMap((f) => f.results);
  return {
    holds: all.filter((r) => r.status === "holds").length,
    violated: all.filter((r) => r.status === "violated").length,
    unknown: all.filter((r) => r.status === "unknown").length,
  };
}

export function renderText(files: readonly FileResults[], colour = false): string {
  const paint = (status: VerifyResult["status"], s: string) =>
    !colour ? s : `\x1b[${status === "holds" ? 32 : status === "violated" ? 31 : 33}m${s}\x1b[0m`;
  const lines: string[] = [];
  for (const f of files) {
    const caveat = incompleteLine(f);
    for (const a of assumptionLines(f)) lines.push(`${paint("unknown", "NOTE")} ${f.file}: ${a}`);
    if (caveat) lines.push(`${paint("unknown", "NOTE")} ${f.file}: ${caveat}`);
    for (const r of f.results) {
      lines.push(`${paint(r.status, MARK[r.status])} ${f.file}:${r.span.line}  ${r.text}: ${r.message}`);
      if (r.because !== undefined && r.status !== "holds") lines.push(`       because: ${r.because}`);
      for (const x of r.status === "holds" ? [] : r.findings) {
        if (r.kind !== "query") lines.push(`       ${x.title}`);
        lines.push(
          ...renderAnswer(x.answer, f.machines, x.report)
            .split("\n")
            .map((l) => `         ${l}`),
        );
      }
    }
    if (f.lint) lines.push(...lintText(f.file, f.lint, (m) => paint(f.lint!.level === "error" ? "violated" : "unknown", m)));
  }
  const s = summary(files);
  lines.push(`${s.holds} hold, ${s.violated} violated, ${s.unknown} unknown${lintSummary(files)}`);
  return lines.join("\n");
}

export function renderJson(files: readonly FileResults[]): string {
  const out = {
    summary: summary(files),
    files: files.map((f) => ({
      file: f.file,
      ...(f.incomplete?.length ? { incomplete: f.incomplete } : {}),
      ...(f.assumed?.length ? { assumed: f.assumed } : {}),
      expectations: f.results.map((r) => ({
        kind: r.kind,
        expectation: r.text,
        status: r.status,
        message: r.message,
        ...(r.because !== undefined ? { because: r.because } : {}),
        line: r.span.line,
        col: r.span.col,
        questions: r.questions,
        causes: causeCodes(r),
        findings: r.findings.map((x) => ({ title: x.title, answer: answerJson(x.answer, f.machines, x.report) })),
      })),
      ...(f.lint ? { findings: lintJson(f.file, f.lint) } : {}),
    })),
  };
  return JSON.stringify(out, null, 2);
}

/** GitHub Actions workflow commands: the message's newlines and the properties' commas are escaped as the runner expects. */
export function renderGithub(files: readonly FileResults[]): string {
  const data = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  const prop = (s: string) => data(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
  const lines: string[] = [];
  for (const f of files) {
    for (const r of f.results) {
      if (r.status === "holds") continue;
      const level = r.status === "violated" ? "error" : "warning";
      const detail = [r.message, ...(r.because !== undefined ? [`because: ${r.because}`] : []), ...r.findings.map((x) => x.title)].join(
        "\n",
      );
      lines.push(
        `::${level} file=${prop(f.file)},line=${r.span.line},col=${r.span.col},title=${prop(`reach: ${r.text}`)}::${data(detail)}`,
      );
    }
    for (const x of f.lint?.findings ?? []) {
      const at = lintSpan(x, f.file);
      lines.push(
        `::${f.lint!.level} file=${prop(f.file)},line=${at.line},col=${at.col},title=${prop(`reach: ${x.code} ${x.machine}`)}::${data(`${x.title}\n${x.consequence}\nfix: ${x.fix}`)}`,
      );
    }
  }
  const s = summary(files);
  lines.push(`${s.holds} hold, ${s.violated} violated, ${s.unknown} unknown${lintSummary(files)}`);
  return lines.join("\n");
}

/** Counterexample text of a result, for reporters that carry a plain-text body. */
function evidence(r: VerifyResult, machines: readonly Machine[]): string {
  return r.findings.map((x) => `${x.title}\n${renderAnswer(x.answer, machines, x.report)}`).join("\n\n");
}

/** JUnit XML: a test suite per file, a test case per expectation; violated = failure, unknown = skipped. */
export function renderJunit(files: readonly FileResults[]): string {
  // a CommonJS module: its default export is the builder, whichever way the loader wraps it
  const m = junitModule as unknown as JunitBuilder & { default?: JunitBuilder };
  const b = (m.default ?? m).newBuilder();
  for (const f of files) {
    const suite = b.testSuite().name(f.file);
    // what the answers rest on: the import's assumptions and the parts it did not read, as suite properties
    (f.assumed ?? []).forEach((a, i) => suite.property(`assumed.${i + 1}`, `${a.at}: ${a.what}`));
    (f.incomplete ?? []).forEach((a, i) => suite.property(`incomplete.${i + 1}`, `${a.at}: ${a.what}`));
    for (const r of f.results) {
      const tc = suite.testCase().className(f.file).name(`line ${r.span.line}: ${r.text}`);
      const codes = causeCodes(r);
      if (r.status === "violated")
        tc.failure(
          `${r.message}${r.because !== undefined ? ` (because: ${r.because})` : ""}${codes.length ? ` [${codes.join(", ")}]` : ""}`,
          codes[0] ?? r.kind,
        ).standardOutput(evidence(r, f.machines));
      else if (r.status === "unknown") tc.skipped().standardOutput(`unknown: ${r.message}`);
    }
    for (const x of f.lint?.findings ?? []) {
      const tc = suite
        .testCase()
        .className(f.file)
        .name(`line ${lintSpan(x, f.file).line}: finding ${x.code} ${x.machine}`);
      const body = lintText(f.file, { ...f.lint!, findings: [x], skipped: [] }).join("\n");
      // a warning has no JUnit kind of its own: skipped (shown apart from passing tests), an error a failure
      if (f.lint!.level === "error") tc.failure(`${x.title}: ${x.consequence}`, x.code).standardOutput(body);
      else tc.skipped().standardOutput(`warning: ${body}`);
    }
  }
  return b.build();
}

const RULES = {
  query: "a query expectation (reachable or unreachable) does not hold",
  isolated: "machines expected to be isolated can connect",
  exposes: "a machine's exposed ports differ from the expected list",
} as const;

/** SARIF 2.1.0: one result per expectation that does not hold (error) or is undecided (warning), at its line. */
export function renderSarif(files: readonly FileResults[], version: string): string {
  const sarif = new SarifBuilder();
  const run = new SarifRunBuilder().initSimple({ toolDriverName: "reach", toolDriverVersion: version });
  for (const [id, text] of Object.entries(RULES))
    run.addRule(new SarifRuleBuilder().initSimple({ ruleId: `reach/${id}`, shortDescriptionText: text }));
  const codes = new Map(files.flatMap((f) => (f.lint?.findings ?? []).map((x): [string, string] => [x.code, x.title])));
  for (const [code, title] of codes)
    run.addRule(new SarifRuleBuilder().initSimple({ ruleId: `reach/finding/${code}`, shortDescriptionText: title }));
  for (const f of files) {
    for (const r of f.results) {
      if (r.status === "holds") continue;
      const result = new SarifResultBuilder().initSimple({
        level: r.status === "violated" ? "error" : "warning",
        messageText: `${r.text}: ${r.message}${r.because !== undefined ? ` (because: ${r.because})` : ""}`,
        ruleId: `reach/${r.kind}`,
        fileUri: f.file,
        startLine: r.span.line,
        startColumn: r.span.col,
        // the builder would otherwise end the region at column 1, before it starts
        endLine: r.span.line,
        endColumn: r.span.col + 1,
      });
      const codes = causeCodes(r);
      result.result.properties = {
        ...(codes.length ? { causes: codes } : {}),
        ...(f.incomplete?.length ? { incomplete: f.incomplete } : {}),
        ...(f.assumed?.length ? { assumed: f.assumed } : {}),
      };
      if (!Object.keys(result.result.properties).length) delete result.result.properties;
      run.addResult(result);
    }
    for (const x of f.lint?.findings ?? []) run.addResult(lintSarif(x, f.file, f.lint!.level));
  }
  sarif.addRun(run);
  return sarif.buildSarifJsonString({ indent: true });
}

/** One finding as a SARIF result at its evidence position. */
function lintSarif(x: FileLint["findings"][number], file: string, level: FileLint["level"]) {
  const at = lintSpan(x, file);
  const result = new SarifResultBuilder().initSimple({
    level,
    messageText: `${x.code} ${x.machine}: ${x.title}. ${x.consequence}. Fix: ${x.fix}`,
    ruleId: `reach/finding/${x.code}`,
    fileUri: file,
    startLine: at.line,
    startColumn: at.col,
    endLine: at.line,
    endColumn: at.col + 1,
  });
  result.result.properties = { query: x.query, verdict: x.verdict, ...(x.dial ? { dial: x.dial } : {}) };
  return result;
}
