/**
 * Diagnostics are values: every problem a user can cause is a Diagnostic with a
 * stable code from the catalogue below, a position, and what was expected.
 * The catalogue holds each code's title (docs/topology.md lists them, checked by a
 * test); the message itself is written where the problem is found, because it
 * names that problem's facts (the address, the machine, the key).
 */

export interface Span {
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** 1-based */
  readonly col: number;
}

export type Severity = "error" | "warning";

export interface Diagnostic {
  readonly code: Code;
  readonly severity: Severity;
  readonly message: string;
  /** What the input should have been, when that can be said. */
  readonly expected?: string;
  readonly span: Span;
  readonly related?: readonly { readonly message: string; readonly span: Span }[];
}

/** The catalogue: code -> title. Codes are permanent; never renumber. */
export const CATALOGUE = {
  RCH001: "file cannot be read",
  RCH002: "YAML/JSON syntax error",
  RCH003: "unknown key",
  RCH004: "wrong type or value",
  RCH005: "missing required key",
  RCH006: "input too large",
  RCH010: "bad IP address",
  RCH011: "bad CIDR prefix",
  RCH012: "bad port or port range",
  RCH020: "unknown machine",
  RCH021: "unknown segment",
  RCH022: "unknown interface",
  RCH023: "VM placed on a machine that does not exist",
  RCH030: "duplicate name",
  RCH031: "address outside its segment's subnet",
  RCH032: "two listeners on the same host address and port",
  RCH033: "address used twice on one segment",
  RCH034: "gateway not on a connected subnet",
  RCH035: "invalid VM adapter configuration",
  RCH036: "bind address not on this machine",
  RCH037: "route via the machine's own address",
  RCH040: "bad query",
  RCH041: "query names an unknown machine",
  RCH042: "bad command-line option",
  RCH043: "cannot emulate here",
  RCH050: "input format not recognised",
  RCH051: "not understood, not imported",
  RCH052: "unsafe input refused",
  RCH053: "imported inputs conflict",
  RCH054: "output file already exists",
  RCH055: "malformed input",
  RCH056: "snapshot command failed",
  RCH057: "cannot write the output file",
  RCH058: "include refused",
  RCH059: "shard outputs do not fit together",
  RCH060: "not a shard's output",
} as const;

export type Code = keyof typeof CATALOGUE;

export function diagnostic(
  code: Code,
  span: Span,
  message: string,
  extra: { expected?: string; severity?: Severity; related?: Diagnostic["related"] } = {},
): Diagnostic {
  return {
    code,
    severity: extra.severity ?? "error",
    message,
    span,
    ...(extra.expected !== undefined ? { expected: extra.expected } : {}),
    ...(extra.related !== undefined ? { related: extra.related } : {}),
  };
}

export function formatSpan(s: Span): string {
  return `${s.file}:${s.line}:${s.col}`;
}

/**
 * Renders one diagnostic the way compilers do:
 *   file:line:col: error RCH031: message
 *     expected: ...
 *     12 |     addresses: [10.0.0.5/24]
 *        |                 ^
 */
export function renderDiagnostic(d: Diagnostic, source?: string): string {
  const lines = [`${formatSpan(d.span)}: ${d.severity} ${d.code}: ${d.message}`];
  if (d.expected) lines.push(`  expected: ${d.expected}`);
  // Never echo a file that is not text, and never more than EXCERPT_WIDTH characters of a line.
  if (source !== undefined && !source.includes("\0")) {
    const text = source.split(/\r?\n/)[d.span.line - 1];
    if (text !== undefined) {
      const { shown, caret } = excerpt(text, d.span.col - 1);
      const num = String(d.span.line);
      lines.push(`  ${num} | ${shown}`);
      lines.push(`  ${" ".repeat(num.length)} | ${" ".repeat(caret)}^`);
    }
  }
  for (const r of d.related ?? []) lines.push(`  note: ${r.message} (${formatSpan(r.span)})`);
  return lines.join("\n");
}

/** The most of one source line a diagnostic shows. */
export const EXCERPT_WIDTH = 120;

/** A window of at most EXCERPT_WIDTH characters of `line` around column `col` (0-based), control characters shown as '?'. */
function excerpt(line: string, col: number): { shown: string; caret: number } {
  const clean = line.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "?");
  if (clean.length <= EXCERPT_WIDTH) return { shown: clean, caret: Math.max(0, col) };
  const start = Math.max(0, Math.min(col - EXCERPT_WIDTH / 2, clean.length - EXCERPT_WIDTH));
  const body = clean.slice(start, start + EXCERPT_WIDTH);
  const head = start > 0 ? "..." : "";
  const tail = start + EXCERPT_WIDTH < clean.length ? "..." : "";
  return { shown: head + body + tail, caret: head.length + Math.max(0, col - start) };
}

/** Thrown only to carry diagnostics out of a loader; the CLI turns it into exit code 2. */
export class InputError extends Error {
  constructor(
    readonly diagnostics: readonly Diagnostic[],
    readonly sources: ReadonlyMap<string, string> = new Map(),
  ) {
    super(diagnostics.map((d) => `${formatSpan(d.span)}: ${d.code}: ${d.message}`).join("\n"));
  }
}
