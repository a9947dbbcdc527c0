/**
 * Shell variables of a QEMU script, as far as the script itself says them (issue 17): literal
 * assignments (`NET="user,hostfwd=tcp::2222-:22"`, `export PORT=8080`) earlier in the same
 * file, and the expansions `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:=default}`, `${VAR:+alt}` (POSIX "Parameter Expansion"). Nothing is run and no
 * environment is read: a variable the script does not set is taken at the default it writes (an
 * assumption, said in the notes) or stays `$VAR`, which the importer reports (RCH051) where it
 * is used. An assignment inside `if`/`case`/a loop, or one that is not literal (a command
 * substitution), makes the variable unknown from there on, since which value holds depends on
 * the run.
 */
import { basename } from "node:path";
import type { Span } from "../diagnostics/diagnostic.js";

/** What a reader of the script offers: notes, and where a position is. */
interface Sayer {
  note(text: string): void;
}

interface WordLike {
  readonly text: string;
}

const ASSIGN = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;
const OPENERS = new Set(["if", "case", "for", "while", "until", "select"]);
const CLOSERS = new Set(["fi", "esac", "done"]);
const DECLARE = new Set(["export", "readonly", "local", "declare", "typeset"]);

export class ShellVars {
  private readonly vars = new Map<string, string>();
  /** Variables whose value depends on the run (set in a branch or loop, or from a command). */
  private readonly unknown = new Set<string>();
  private depth = 0;

  constructor(private readonly say: Sayer) {}

  /** The text of the expansion `${key}` or `$key` (shell-quote hands over what is inside the braces). */
  expand(key: string, at: Span): string {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(:?[-=+?])?(.*)$/s.exec(key);
    if (!m) return `\${${key}}`;
    const [, name, op, word] = m as unknown as [string, string, string | undefined, string];
    const v = this.unknown.has(name) ? undefined : this.vars.get(name);
    const set = v !== undefined && (op?.startsWith(":") ? v !== "" : true);
    if (!op) return v ?? `\${${name}}`;
    if (op.endsWith("+")) return set ? word : v === undefined && this.unknown.has(name) ? `\${${key}}` : "";
    if (op.endsWith("?")) return set ? v! : `\${${key}}`;
    if (set) return v!;
    if (this.unknown.has(name) || word.includes("$")) return `\${${key}}`;
    this.say.note(
      `${name} is not set by the script before ${basename(at.file)}:${at.line}, so its default '${word}' is used (the shell takes it when the variable is not in the environment).`,
    );
    if (op.endsWith("=")) this.vars.set(name, word);
    return word;
  }

  /** A command of the script (its words already expanded): its assignments, and the nesting of compound commands. */
  command(words: readonly WordLike[]): void {
    const first = words[0]?.text;
    if (first !== undefined && OPENERS.has(first)) this.depth++;
    if (first !== undefined && CLOSERS.has(first)) this.depth = Math.max(0, this.depth - 1);
    const start = first !== undefined && (DECLARE.has(first) || first === "then" || first === "else" || first === "do") ? 1 : 0;
    const inBranch = this.depth > 0 || (start === 1 && (first === "then" || first === "else" || first === "do"));
    for (const w of words.slice(start)) {
      const m = ASSIGN.exec(w.text);
      if (!m) break;
      const [, name, value] = m as unknown as [string, string, string];
      if (inBranch || value.includes("$")) {
        this.unknown.add(name);
        this.vars.delete(name);
      } else {
        this.unknown.delete(name);
        this.vars.set(name, value);
      }
    }
  }
}
