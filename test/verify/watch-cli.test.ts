/**
 * `reach verify --watch` as a user runs it (dist/: `npm run build` first): the CLI is spawned on
 * a temporary copy of a model, the copy is edited, and the output read. Bad input while watching
 * prints its diagnostic and the watch goes on; the watched files are never written; Ctrl-C
 * (SIGINT) ends it with exit 0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const CLI = resolve("dist/bin/main.js");
const dir = mkdtempSync(join(tmpdir(), "reach-watch-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A spawned `reach verify --watch`, with its output so far and a wait for the n-th match of a pattern. */
function watching(args: string[]) {
  const child = spawn(process.execPath, [CLI, "verify", "--watch", ...args], { cwd: dir });
  children.push(child);
  const io = { out: "", err: "" };
  child.stdout.on("data", (b: Buffer) => (io.out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (io.err += b.toString()));
  const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, "gm")) ?? []).length;
  const until = (what: () => boolean, label: string, ms = 60_000) =>
    new Promise<void>((done, fail) => {
      const t0 = Date.now();
      const tick = setInterval(() => {
        if (what()) {
          clearInterval(tick);
          done();
        } else if (Date.now() - t0 > ms || child.exitCode !== null) {
          clearInterval(tick);
          fail(new Error(`waiting for ${label}; exit ${child.exitCode}\nstdout:\n${io.out}\nstderr:\n${io.err}`));
        }
      }, 25);
    });
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  return {
    io,
    child,
    exited,
    /** resolves once stdout holds `n` lines "watching ..." (one per finished run) */
    runs: (n: number) => until(() => count(io.out, /^watching \d+ files? \(Ctrl-C to stop\)$/m) >= n, `run ${n}`),
    stderrHas: (re: RegExp) => until(() => re.test(io.err), String(re)),
  };
}

/** The part of stdout after the `n`-th run's end. */
/** A pause between saves long enough for the reads to be recorded on a loaded machine. */
const quiet = () => new Promise((done) => setTimeout(done, 3000));

const after = (out: string, n: number) => out.split(/^watching .*$/m)[n] ?? "";

describe("reach verify --watch", () => {
  it("re-verifies on save, says what changed and what was reused, survives bad input, stops on Ctrl-C", async () => {
    const file = join(dir, "nat.yaml");
    copyFileSync("models/virtualbox-nat.yaml", file);
    const original = readFileSync(file, "utf8");
    const w = watching(["nat.yaml"]);
    await w.runs(1);
    expect(w.io.out).toMatch(/^changed: first run$/m);
    expect(w.io.out).toMatch(/^re-decided \(8\): /m);
    expect(w.io.out).toMatch(/^8 hold, 0 violated, 0 unknown$/m);
    // what each decision read is recorded after the results, and a save meanwhile ends the recording
    // (those not recorded are decided again when next asked): give it time, as a person between saves
    await quiet();

    // web's httpd moves to port 81: the expectation that it is reachable on 80 fails
    const edited = original.replace("{ name: httpd, proto: tcp, port: 80 }", "{ name: httpd, proto: tcp, port: 81 }");
    expect(edited).not.toBe(original);
    writeFileSync(file, edited);
    await w.runs(2);
    const second = after(w.io.out, 1);
    expect(second).toMatch(/^changed: machine web \(sockets\)$/m);
    expect(second).toMatch(/^ {2}because guest -> web:80\/tcp: machine web: sockets\[0\]\.port$/m);
    expect(second).toMatch(/^FAIL nat\.yaml:33 {2}guest -> web:80\/tcp is reachable: unreachable: NOTHING_LISTENS/m);
    const [, re, reused] = /^(\d+) re-decided, (\d+) reused in \d+ ms$/m.exec(second)!;
    expect(Number(re) + Number(reused)).toBe(8);
    expect(Number(reused)).toBeGreaterThan(0);
    await quiet();

    // half-way through an edit: a syntax error is reported, the watch goes on
    writeFileSync(file, edited.replace("machines:", "machines: [").replace("segments:", "segments: {"));
    await w.runs(3);
    expect(w.io.err).toMatch(/error RCH\d{3}/);
    expect(w.io.err).toMatch(/not verified; still watching \(the last good results stand\)/);
    expect(after(w.io.out, 2)).not.toMatch(/re-decided/);
    expect(w.child.exitCode).toBeNull();

    // the edit undone: every decision of the first run is reused
    writeFileSync(file, original);
    await w.runs(4);
    const third = after(w.io.out, 3);
    expect(third).toMatch(/^0 re-decided, 8 reused in \d+ ms$/m);
    expect(third).toMatch(/^8 hold, 0 violated, 0 unknown$/m);
    expect(readFileSync(file, "utf8")).toBe(original);

    w.child.kill("SIGINT");
    expect(await w.exited).toBe(0);
    expect(w.io.out).toMatch(/stopped watching\n$/);
  }, 180_000);

  it("a spec file: an edit of the topology it includes re-verifies it", async () => {
    copyFileSync("models/lab-multi-vm.yaml", join(dir, "lab-multi-vm.yaml"));
    copyFileSync("models/lab-multi-vm.spec.yaml", join(dir, "lab.spec.yaml"));
    const w = watching(["lab.spec.yaml"]);
    await w.runs(1);
    expect(w.io.out).toMatch(/^watching 2 files \(Ctrl-C to stop\)$/m);
    const topo = join(dir, "lab-multi-vm.yaml");
    writeFileSync(
      topo,
      readFileSync(topo, "utf8").replace("{ name: ci-agent, proto: tcp, port: 9000 }", "{ name: ci-agent, proto: tcp, port: 9001 }"),
    );
    await w.runs(2);
    expect(after(w.io.out, 1)).toMatch(/^changed: machine build \(sockets\)$/m);
    w.child.kill("SIGINT");
    expect(await w.exited).toBe(0);
  }, 180_000);

  it("--watch takes text output only", async () => {
    const w = watching(["nat.yaml", "--format", "json"]);
    expect(await w.exited).toBe(2);
    expect(w.io.err).toContain("RCH042");
  }, 60_000);
});
