/**
 * A spec file's include: is confined to its folder (or --root): hostile specs from a pull request
 * must not make reach read, or print into a CI log, any other file of the machine (issue 13).
 * Each case checks the diagnostic's code and position and that nothing of the target's content
 * reaches stdout or stderr.
 */
import { spawnSync } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { expandInputs } from "../../src/topology/include.js";
import { InputError, renderDiagnostic, EXCERPT_WIDTH, diagnostic } from "../../src/diagnostics/diagnostic.js";

const dir = mkdtempSync(join(tmpdir(), "reach-include-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A secret outside the spec's folder, with a line that would be echoed as an unknown key. */
const SECRET = "TOKEN_d41d8cd98f00b204e9800998ecf8427e";
const outside = join(dir, "outside");
mkdirSync(outside);
writeFileSync(join(outside, "secret.yaml"), `${SECRET}: 1\n`);
const lab = `segments: { lan: 192.168.1.0/24 }
machines:
  a: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  b: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }, services: [ { name: web, port: 80 } ] }
`;
const repo = join(dir, "repo");
mkdirSync(join(repo, "specs"), { recursive: true });
writeFileSync(join(repo, "lab.yaml"), lab);

function write(name: string, text: string): string {
  const p = join(repo, name);
  writeFileSync(p, text);
  return p;
}

function codesOf(file: string, root?: string): string[] {
  try {
    loadTopologyFile(file, root !== undefined ? { root } : {});
    return [];
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return e.diagnostics.map((d) => `${d.code}@${relative(dir, d.span.file)}:${d.span.line}:${d.span.col}`);
  }
}

function reach(args: string[]) {
  const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("include: stays inside the spec's folder or --root", () => {
  it("an absolute include is refused at the include, naming the path, not the content", () => {
    const spec = write("abs.spec.yaml", `include: ${join(outside, "secret.yaml")}\nexpect: []\n`);
    expect(codesOf(spec)).toEqual(["RCH058@repo/abs.spec.yaml:1:10"]);
    for (const format of ["text", "sarif", "junit", "json"]) {
      const r = reach(["verify", spec, "--format", format]);
      expect(r.code).toBe(2);
      expect(r.out + r.err).not.toContain(SECRET);
      expect(r.err).toMatch(/RCH058: include '.*secret\.yaml' refused: an absolute path/);
    }
  });

  it("/etc/shadow-style and /proc paths are refused without reading them", () => {
    expect(codesOf(write("shadow.spec.yaml", "include: /etc/shadow\nexpect: []\n"))).toEqual(["RCH058@repo/shadow.spec.yaml:1:10"]);
    // ../ as far as the file system's root, then into /proc: relative, but out of the folder
    const up = "../".repeat(40);
    const r = reach(["verify", write("environ.spec.yaml", `include: ${up}proc/self/environ\nexpect: []\n`)]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH058");
    expect(r.err).toMatch(/it (lies|leads) outside the include root/);
    expect(r.err).not.toMatch(/PATH=|HOME=/);
  });

  it("../ out of the folder is refused by default and allowed inside --root", () => {
    writeFileSync(
      join(repo, "specs", "up.spec.yaml"),
      'include: ../lab.yaml\nexpect:\n  - { query: "a -> b:80/tcp", verdict: reachable }\n',
    );
    const spec = join(repo, "specs", "up.spec.yaml");
    expect(codesOf(spec)).toEqual(["RCH058@repo/specs/up.spec.yaml:1:10"]);
    expect(codesOf(spec, repo)).toEqual([]);
    const r = reach(["verify", spec, "--root", repo]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    // and --root does not widen past itself
    expect(codesOf(write("escape.spec.yaml", "include: ../outside/secret.yaml\nexpect: []\n"), repo)).toEqual([
      "RCH058@repo/escape.spec.yaml:1:10",
    ]);
  });

  it("a symbolic link inside the folder that leads out of it is refused", () => {
    symlinkSync(join(outside, "secret.yaml"), join(repo, "link.yaml"));
    const spec = write("link.spec.yaml", "include: link.yaml\nexpect: []\n");
    expect(codesOf(spec)).toEqual(["RCH058@repo/link.spec.yaml:1:10"]);
    const r = reach(["verify", spec]);
    expect(r.err).toContain("through a symbolic link");
    expect(r.out + r.err).not.toContain(SECRET);
    // a link that stays inside is followed as usual
    symlinkSync(join(repo, "lab.yaml"), join(repo, "inner-link.yaml"));
    expect(codesOf(write("inner.spec.yaml", "include: inner-link.yaml\nexpect: []\n"))).toEqual([]);
  });

  it("special files and binary files are refused, their bytes never echoed", () => {
    execFileSync("mkfifo", [join(repo, "fifo.yaml")]);
    // a FIFO would block a plain read forever; it is refused at once
    expect(codesOf(write("fifo.spec.yaml", "include: fifo.yaml\nexpect: []\n"))).toEqual(["RCH058@repo/fifo.spec.yaml:1:10"]);
    writeFileSync(join(repo, "bin.yaml"), Buffer.from(`${SECRET}\u0000: 1\n`));
    const spec = write("bin.spec.yaml", "include: bin.yaml\nexpect: []\n");
    expect(codesOf(spec)).toEqual(["RCH058@repo/bin.spec.yaml:1:10"]);
    expect(reach(["verify", spec]).err).not.toContain(SECRET);
    mkdirSync(join(repo, "adir.yaml"));
    expect(codesOf(write("dir.spec.yaml", "include: adir.yaml\nexpect: []\n"))).toEqual(["RCH058@repo/dir.spec.yaml:1:10"]);
  });

  it("a missing include is reported at the spec's include:, a spec including itself is refused once", () => {
    expect(codesOf(write("none.spec.yaml", "include: nowhere.yaml\nexpect: []\n"))).toEqual(["RCH001@repo/none.spec.yaml:1:10"]);
    expect(codesOf(write("self.spec.yaml", "include: self.spec.yaml\nexpect: []\n"))).toEqual(["RCH004@repo/self.spec.yaml:1:10"]);
  });

  it("a NUL character or a home-relative path in the include is refused", () => {
    expect(codesOf(write("nul.spec.yaml", 'include: "lab.yaml\\0x"\nexpect: []\n'))).toEqual(["RCH058@repo/nul.spec.yaml:1:10"]);
    expect(codesOf(write("home.spec.yaml", "include: ~/lab.yaml\nexpect: []\n"))).toEqual(["RCH058@repo/home.spec.yaml:1:10"]);
  });
});

describe("a folder named on the command line", () => {
  it("refuses an entry that is a symbolic link out of it, naming the entry", () => {
    const f = join(dir, "folder");
    mkdirSync(f);
    writeFileSync(join(f, "ok.yaml"), lab);
    symlinkSync(join(outside, "secret.yaml"), join(f, "evil.yaml"));
    expect(() => expandInputs(f)).toThrow(InputError);
    const r = reach(["verify", f]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/evil\.yaml:1:1: error RCH058: .*evil\.yaml refused: it is a symbolic link leading outside/);
    expect(r.out + r.err).not.toContain(SECRET);
    rmSync(join(f, "evil.yaml"));
    expect(expandInputs(f)).toEqual([join(f, "ok.yaml")]);
  });
});

describe("diagnostic excerpts", () => {
  const d = diagnostic("RCH003", { file: "x.yaml", line: 1, col: 300 }, "unknown key");
  it("never echo a source with NUL bytes", () => {
    expect(renderDiagnostic(d, `abc\u0000${SECRET}`)).not.toContain(SECRET);
  });
  it("show at most EXCERPT_WIDTH characters of a line, around the column, with the caret under it", () => {
    const line = "x".repeat(299) + "K" + "y".repeat(5000);
    const out = renderDiagnostic(d, line).split("\n");
    const shown = out[1]!.replace(/^ {2}1 \| /, "");
    expect(shown.length).toBeLessThanOrEqual(EXCERPT_WIDTH + 6);
    const caret = out[2]!.replace(/^ {2} {1} \| /, "").indexOf("^");
    expect(shown[caret]).toBe("K");
  });
  it("show control characters as '?'", () => {
    expect(renderDiagnostic({ ...d, span: { ...d.span, col: 1 } }, "a\u001b[2Jb")).toContain("a?[2Jb");
  });
});
