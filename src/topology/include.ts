/**
 * The one way a file reach reads can lead it to another file: a spec's `include:`.
 *
 * Spec files arrive in pull requests written by people the CI job does not trust, and the
 * diagnostics of an included file quote its lines into the log and the SARIF/JUnit artefacts.
 * So an include is confined (docs/security.md):
 *   - it is a relative path, resolved against the spec file's folder;
 *   - after every symlink is followed, it lies inside the include root: the spec file's own
 *     folder, or the folder given with --root;
 *   - it is a regular file (no device, FIFO or /proc entry), at most MAX_INPUT_BYTES long, and
 *     text (no NUL byte).
 * A refused include is RCH058 at the spec's `include:` value, naming the path as written and
 * never anything of the file's content.
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { diagnostic, type Diagnostic, InputError, type Span } from "../diagnostics/diagnostic.js";

/** The largest included file reach reads: the loader's own limit (LIMITS.textChars in load.ts, 64 Mi characters). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

export interface IncludeOptions {
  /** The folder includes must stay inside; default: the including spec file's folder. */
  readonly root?: string;
}

/** True when `path` is `root` or inside it (both already real paths). */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Resolves and reads the file a spec includes, or throws RCH058/RCH001 located at `at`
 * (the spec's include value). `sources` are the spec's own texts, for the excerpt.
 */
export function readInclude(
  specFile: string,
  include: string,
  at: Span,
  sources: ReadonlyMap<string, string>,
  opts: IncludeOptions = {},
): { path: string; text: string } {
  const refuse = (why: string, expected: string): never => {
    throw new InputError([diagnostic("RCH058", at, `include '${printable(include)}' refused: ${why}`, { expected })], sources);
  };
  const rootHint =
    opts.root === undefined
      ? "a path inside the spec file's folder (or name a wider folder with --root)"
      : `a path inside --root ${opts.root}`;
  if (include.includes("\0")) refuse("the path holds a NUL character", "a relative file path");
  if (isAbsolute(include) || /^[A-Za-z]:[\\/]/.test(include) || include.startsWith("~"))
    refuse("an absolute path", `a path relative to the spec file, ${rootHint}`);
  let root: string;
  try {
    root = realpathSync(resolve(opts.root ?? dirname(specFile)));
  } catch (e) {
    return refuse(
      `the include root ${opts.root ?? dirname(specFile)} cannot be read (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`,
      "--root naming an existing folder",
    );
  }
  const target = resolve(dirname(specFile), include);
  let real: string;
  try {
    real = realpathSync(target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "unreadable";
    throw new InputError(
      [
        diagnostic("RCH001", at, `cannot read the included file '${printable(include)}' (${code})`, {
          expected: "include: an existing topology file",
        }),
      ],
      sources,
    );
  }
  if (!inside(root, real))
    refuse(target === real ? "it lies outside the include root" : "it leads outside the include root (through a symbolic link)", rootHint);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below, as not a regular file)
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(
      [
        diagnostic(
          "RCH001",
          at,
          `cannot read the included file '${printable(include)}' (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`,
          { expected: "include: a readable topology file" },
        ),
      ],
      sources,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) refuse("it is not a regular file", "include: a topology file (YAML or JSON)");
    if (st.size > MAX_INPUT_BYTES)
      refuse(`it is ${st.size} bytes, more than the ${MAX_INPUT_BYTES} reach reads`, "a smaller topology file");
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    const bytes = buf.subarray(0, got);
    if (bytes.includes(0)) refuse("it is not a text file (it holds NUL bytes)", "include: a topology file (YAML or JSON)");
    return { path: target, text: bytes.toString("utf8") };
  } finally {
    closeSync(fd);
  }
}

/** A path as written, safe to print: control characters escaped, at most 200 characters. */
function printable(s: string): string {
  const escaped = JSON.stringify(s).slice(1, -1);
  return escaped.length > 200 ? `${escaped.slice(0, 200)}...` : escaped;
}

/**
 * A folder named on the command line stands for the topology files in it (not JSON Schemas), in
 * name order; a file stands for itself. An entry of the folder is one of its regular files: an
 * entry that is a symbolic link leading out of the folder, or not a regular file, is refused
 * (RCH058, naming the entry), since a folder's contents come from whoever wrote the repository.
 */
export function expandInputs(path: string): string[] {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    return [path]; // loading reports it (RCH001)
  }
  if (!isDir) return [path];
  const folder = realpathSync(path);
  const refused: Diagnostic[] = [];
  const files = readdirSync(path)
    .filter((f) => /\.(ya?ml|json)$/.test(f) && !f.endsWith(".schema.json"))
    .sort()
    .map((f) => join(path, f))
    .filter((entry) => {
      const at = { file: entry, line: 1, col: 1 };
      try {
        const real = realpathSync(entry);
        if (!inside(folder, real))
          refused.push(
            diagnostic("RCH058", at, `${printable(entry)} refused: it is a symbolic link leading outside ${printable(path)}`, {
              expected: "the folder's own files (name the target on the command line to read it)",
            }),
          );
        else if (!statSync(real).isFile())
          refused.push(
            diagnostic("RCH058", at, `${printable(entry)} refused: it is not a regular file`, {
              expected: "topology files (YAML or JSON)",
            }),
          );
        else return true;
      } catch (e) {
        refused.push(
          diagnostic("RCH001", at, `cannot read ${printable(entry)} (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`, {
            expected: "a readable topology file",
          }),
        );
      }
      return false;
    });
  if (refused.length) throw new InputError(refused);
  return files;
}
