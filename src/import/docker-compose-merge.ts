/**
 * Compose files as Docker Compose reads several of them (compose-spec "Merge", Docker docs "Merge
 * Compose files"): `-f a.yml -f b.yml` merges b into a in order: mappings key by key (a later
 * file's value overrides a scalar), sequences appended with repeated entries dropped (ports are
 * unique by host IP, published port, target and protocol: the importer drops repeated mappings
 * after reading them), `command`, `entrypoint` and `healthcheck.test` overridden, and a value
 * that is a list in one file and a mapping in the other (a service's `networks`, `depends_on`)
 * merged in its mapping form.
 *
 * A service's `extends` (same file, or `file:`) takes the extended service as its base and merges
 * its own settings over it, with the same rules; `depends_on` and `volumes_from` of the base are
 * not inherited (Docker docs "Extend your Compose file"). A `file:` is read only when it is one of
 * the files the user named, or lies inside the named file's folder, under the rules of a spec's
 * `include:` (docs/security.md): relative, no escape by `..` or a symbolic link, a regular file of
 * bounded size. A refused or missing one is a warning naming the path (never its content), and
 * the service is imported without the extended settings.
 *
 * The merged nodes are built from the files' own nodes, so every diagnostic still points at the
 * file and line a value came from (docker-reader.ts `adopt`).
 */
import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import { diagnostic, InputError } from "../diagnostics/diagnostic.js";
import { readInclude } from "../topology/include.js";
import { adopt, Reader } from "./docker-reader.js";
import type { Entry } from "./docker-types.js";

/** Keys whose value a later file replaces even when it is a list (compose-spec "Merge", "Exceptions"). */
const OVERRIDDEN = new Set(["command", "entrypoint", "test"]);

/** Keys that may be written as a list of names or as a mapping of names to options. */
const LIST_OR_MAP = new Set(["networks", "depends_on"]);

/** A list of names as the mapping it stands for (each name to an empty value). */
function asMapping(r: Reader, seq: YAMLSeq): YAMLMap | undefined {
  const m = adopt(new YAMLMap(), seq);
  for (const item of seq.items) {
    const k = r.string(item);
    if (k === undefined) return undefined;
    m.items.push(new Pair(item, adopt(new Scalar(null), item)));
  }
  return m;
}

/** `over` merged into `base` (a later file into an earlier one, or a service into the one it extends). */
export function mergeNodes(r: Reader, base: unknown, over: unknown, key = ""): unknown {
  let a = r.deref(base);
  let b = r.deref(over);
  if (OVERRIDDEN.has(key)) return over;
  if (LIST_OR_MAP.has(key) && isSeq(a) !== isSeq(b) && (isMap(a) || isMap(b))) {
    a = isSeq(a) ? (asMapping(r, a) ?? a) : a;
    b = isSeq(b) ? (asMapping(r, b) ?? b) : b;
  }
  if (isMap(a) && isMap(b)) return mergeMaps(r, a, b);
  if (isSeq(a) && isSeq(b)) {
    const seq = adopt(new YAMLSeq(), a);
    const seen = new Set<string>();
    for (const item of [...a.items, ...b.items]) {
      const v = r.scalar(item);
      const id = v === undefined ? undefined : `${typeof v}:${String(v)}`;
      if (id !== undefined && seen.has(id)) continue;
      if (id !== undefined) seen.add(id);
      seq.items.push(item);
    }
    return seq;
  }
  return over;
}

function mergeMaps(r: Reader, a: YAMLMap, b: YAMLMap): YAMLMap {
  const over = new Map((r.entries(b) ?? []).map((e) => [e.key, e]));
  const m = adopt(new YAMLMap(), a);
  const keys = new Set<string>();
  for (const e of r.entries(a) ?? []) {
    keys.add(e.key);
    const o = over.get(e.key);
    m.items.push(new Pair(e.keyNode, o ? mergeNodes(r, e.value, o.value, e.key) : e.value));
  }
  for (const [k, e] of over) if (!keys.has(k)) m.items.push(new Pair(e.keyNode, e.value));
  return m;
}

/** A mapping without some keys (the merge keys `<<` already applied). */
function without(r: Reader, node: unknown, drop: readonly string[]): unknown {
  const entries = r.entries(node);
  if (!entries) return node;
  const m = adopt(new YAMLMap(), r.deref(node) as object);
  for (const e of entries) if (!drop.includes(e.key)) m.items.push(new Pair(e.keyNode, e.value));
  return m;
}

/** Several Compose files' top levels merged in order; the readers' syntax errors are reported first. */
export function mergeFiles(readers: readonly Reader[]): unknown {
  const first = readers[0]!;
  let root: unknown = first.root;
  for (const r of readers.slice(1)) root = mergeNodes(first, root, r.root);
  return root;
}

/** Where `extends` looks: the services of one file, and the file (for its own `extends: { file }`). */
interface Scope {
  readonly reader: Reader;
  readonly services: readonly Entry[];
}

/** State of the `extends` resolution of one import: the named files and the extended files read so far. */
export class Extends {
  private readonly files = new Map<string, Scope | undefined>();
  /** The folder each extended file's own `extends: { file }` must stay in. */
  private readonly roots = new Map<Reader, string>();

  constructor(
    private readonly r: Reader,
    /** The files the user named (their readers), by resolved path. */
    private readonly named: ReadonlyMap<string, Reader>,
  ) {}

  /** A service with what it extends merged in; the node itself when it extends nothing or the base cannot be read. */
  service(scope: Scope, key: string, node: unknown, chain: readonly string[] = []): unknown {
    const r = this.r;
    const ext = r.get(node, "extends");
    if (ext === undefined) return node;
    const own = without(r, node, ["extends"]);
    const target = r.string(ext) ?? r.string(r.get(ext, "service"));
    if (target === undefined) {
      r.warn(ext, `extends of service '${key}' names no service`, "extends: SERVICE, or extends: { service: SERVICE, file: FILE }");
      return own;
    }
    const fileNode = r.get(ext, "file");
    const from = fileNode === undefined ? scope : this.scopeOf(scope.reader, fileNode);
    if (!from) return own;
    const id = `${from.reader.src.file}#${target}`;
    if (chain.includes(id) || chain.length >= 8) {
      r.warn(ext, `extends of service '${key}' loops or nests more than 8 deep`, "extends chains without loops");
      return own;
    }
    const base = from.services.find((e) => e.key === target);
    if (!base) {
      r.warn(
        ext,
        `service '${key}' extends service '${target}', which ${fileNode === undefined ? "this file does not define" : "the extended file does not define"}`,
        "extends naming a service of the file",
      );
      return own;
    }
    const full = this.service(from, target, base.value, [...chain, id]);
    return mergeNodes(r, without(r, full, ["depends_on", "volumes_from"]), own);
  }

  /** The services of the file an `extends: { file }` names, read under the include rules; undefined (and a warning) when refused. */
  private scopeOf(from: Reader, fileNode: unknown): Scope | undefined {
    const r = this.r;
    const file = r.string(fileNode);
    if (file === undefined) {
      r.warn(fileNode, "extends file is not a path", "extends: { file: a relative path }");
      return undefined;
    }
    const path = resolve(dirname(from.src.file), file);
    if (this.files.has(path)) return this.files.get(path);
    const named = this.named.get(path);
    const reader = named ?? this.read(from, file, fileNode);
    const scope =
      reader && !reader.syntaxErrors("YAML") ? { reader, services: r.entries(reader.get(reader.root, "services")) ?? [] } : undefined;
    this.files.set(path, scope);
    return scope;
  }

  private read(from: Reader, file: string, fileNode: unknown): Reader | undefined {
    const r = this.r;
    const root = this.rootOf(from);
    try {
      const got = readInclude(from.src.file, file, r.span(fileNode), new Map(), { root });
      const reader = new Reader({ file: got.path, text: got.text }, r.out, r.env, r.profiles);
      this.roots.set(reader, root);
      return reader;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const d = e.diagnostics[0]!;
      const why = d.message.replace(/^include '.*?' refused: /, "").replace(/^cannot read the included file '.*?' /, "cannot be read ");
      r.out.diags.push(
        diagnostic(
          d.code,
          d.span,
          `extends file '${file.slice(0, 200)}' is not read: ${why}; the service is imported without what it extends`,
          {
            expected: `a file inside ${root} (the named Compose file's folder), or a file named on the command line`,
            severity: "warning",
          },
        ),
      );
      return undefined;
    }
  }

  /** The folder an extended file must lie in: that of the named file the chain started from. */
  private rootOf(from: Reader): string {
    return this.named.has(resolve(from.src.file))
      ? dirname(resolve(from.src.file))
      : (this.roots.get(from) ?? dirname(resolve(this.r.src.file)));
  }
}

/** How deep included files may include others (a lab's split, not a generated tree). */
const MAX_INCLUDE_DEPTH = 4;

/**
 * Compose's top-level `include:` (compose-spec "include", Docker docs "Include"): each entry a
 * path, a list of paths, or a mapping with `path:`, read under the include rules of
 * docs/security.md with the including named file's folder as the root, its services and networks
 * brought into the project. A refused or missing file is a warning naming the path, never its
 * content; a service or network two files define is Compose's error (said; the including file's is
 * kept). Returns the included files in order, an included file's own includes before it.
 */
export function readIncludes(r: Reader, root = dirname(resolve(r.src.file)), depth = 0): Reader[] {
  const entry = (r.entries(r.root) ?? []).find((e) => e.key === "include");
  if (!entry) return [];
  if (depth >= MAX_INCLUDE_DEPTH) {
    r.warn(entry.keyNode, `include: nested more than ${MAX_INCLUDE_DEPTH} files deep: not read`, "fewer levels of include:");
    return [];
  }
  const out: Reader[] = [];
  for (const item of r.items(entry.value) ?? [entry.value]) {
    const pathNode = r.string(item) !== undefined ? item : r.get(item, "path");
    const paths = r.items(pathNode) ?? [pathNode];
    for (const node of paths) {
      const file = r.string(node);
      if (file === undefined || file === "") {
        r.warn(node ?? item, "an include: entry without a path is not read", "include: [path, ...] or include: [{ path: ... }]");
        continue;
      }
      const got = readIncluded(r, file, node, root);
      if (!got) continue;
      if (got.syntaxErrors("YAML")) continue;
      if (!(got.entries(got.root) ?? []).some((e) => ["services", "networks", "include"].includes(e.key))) {
        r.warn(node, `included file '${file.slice(0, 200)}' has no services: or networks:: nothing of it is imported`, "a Compose file");
        continue;
      }
      out.push(...readIncludes(got, root, depth + 1), got);
    }
  }
  conflicts(r, out);
  return out;
}

/** One included file, read under the include rules; undefined (and a warning) when refused or missing. */
function readIncluded(r: Reader, file: string, node: unknown, root: string): Reader | undefined {
  try {
    const got = readInclude(r.src.file, file, r.span(node), new Map(), { root });
    return new Reader({ file: got.path, text: got.text }, r.out, r.env, r.profiles);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const d = e.diagnostics[0]!;
    const why = d.message.replace(/^include '.*?' refused: /, "").replace(/^cannot read the included file '.*?' /, "cannot be read ");
    r.out.diags.push(
      diagnostic(d.code, d.span, `included file '${file.slice(0, 200)}' is not read: ${why}; its services are not imported`, {
        expected: `a file inside ${root} (the named Compose file's folder)`,
        severity: "warning",
      }),
    );
    return undefined;
  }
}

/** Services and networks that two files of an include define: Compose refuses such a project. */
function conflicts(r: Reader, included: readonly Reader[]): void {
  const seen = new Map<string, Reader>();
  for (const x of [...included, r]) {
    for (const section of ["services", "networks"]) {
      for (const e of x.entries(x.get(x.root, section)) ?? []) {
        const id = `${section}/${e.key}`;
        const first = seen.get(id);
        if (first && first !== x)
          x.warn(
            e.keyNode,
            `${section === "services" ? "service" : "network"} '${e.key}' is also defined by ${first.src.file}: Compose refuses a project whose included files conflict; this definition is kept`,
            "each service and network defined once across the included files",
          );
        seen.set(id, x);
      }
    }
  }
}
