/**
 * How the doctor runs a command: an argument vector (never a shell), found on PATH first
 * (a tool that is not there is a note, not a failure), inside a network namespace when one
 * is asked for (`ip netns exec NS ...`), killed after a timeout with its whole process group
 * (a stand-in script that sleeps must not keep the pipe open), and its outcome classified:
 * read, missing, refused (permission), failed, or hung.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";

export type Outcome =
  | { readonly kind: "ok"; readonly out: string; readonly ms: number }
  | { readonly kind: "missing"; readonly ms: number }
  | { readonly kind: "refused" | "failed" | "hung"; readonly why: string; readonly ms: number };

export interface RunOptions {
  /** Per command, in milliseconds. */
  readonly timeoutMs: number;
  /** Environment of the commands (PATH decides which tools are there). */
  readonly env: NodeJS.ProcessEnv;
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string | undefined;
  /**
   * Run nothing: answer each command with its recorded output in this folder (`reach doctor
   * --replay DIR`): the file named after the command line with spaces and slashes as `_`
   * (`ip_-j_addr`), else after the tool alone; neither is a tool that is not there.
   */
  readonly replay?: string | undefined;
}

/** The largest recorded output replayed (a real `iptables-save` of a busy Docker host is a few hundred kB). */
const MAX_REPLAYED = 16 * 1024 * 1024;

/** A recorded output of `argv` in `dir`, as if the tool had printed it; only regular files inside `dir` are read. */
function replayed(argv: readonly string[], dir: string): Outcome {
  for (const name of [argv.join(" ").replace(/[ /]/g, "_"), argv[0]!.replace(/\//g, "_")]) {
    const p = join(dir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isFile()) return { kind: "failed", why: `${p} is not a regular file`, ms: 0 };
    if (st.size > MAX_REPLAYED) return { kind: "failed", why: `${p} is larger than ${MAX_REPLAYED} bytes`, ms: 0 };
    return { kind: "ok", out: readFileSync(p, "utf8"), ms: 0 };
  }
  return { kind: "missing", ms: 0 };
}

/** The executable `tool` resolves to on the environment's PATH, or undefined. */
export function which(tool: string, env: NodeJS.ProcessEnv): string | undefined {
  if (tool.includes("/")) return canRun(tool) ? tool : undefined;
  for (const dir of (env.PATH ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, tool);
    if (canRun(p)) return p;
  }
  return undefined;
}

function canRun(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const DENIED = /permission denied|operation not permitted|access denied|not authori[sz]ed|EACCES|must be root|are you root/i;

/** The first line of stderr worth showing, or the exit status. */
function whyFailed(stderr: string, code: number | null, signal: string | null): string {
  const line = stderr
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  return line ?? (signal ? `killed by ${signal}` : `exit status ${String(code)}`);
}

/** Runs `argv` (after checking its tool is on PATH) and says what came of it. Never throws. */
export function runCommand(argv: readonly string[], o: RunOptions): Promise<Outcome> {
  const start = Date.now();
  const ms = () => Date.now() - start;
  if (o.replay !== undefined) return Promise.resolve(replayed(argv, o.replay));
  if (!which(argv[0]!, o.env)) return Promise.resolve({ kind: "missing", ms: 0 });
  const full = o.netns ? ["ip", "netns", "exec", o.netns, ...argv] : [...argv];
  if (o.netns && !which("ip", o.env)) return Promise.resolve({ kind: "missing", ms: 0 });
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    let timedOut = false;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(full[0]!, full.slice(1), { env: o.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    } catch (e) {
      resolve({ kind: "failed", why: e instanceof Error ? e.message : String(e), ms: ms() });
      return;
    }
    const pid = child.pid;
    const timer = setTimeout(() => {
      timedOut = true;
      // the whole group we started: a script's own children too
      if (pid !== undefined) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }
    }, o.timeoutMs);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code === "EACCES" ? { kind: "refused", why: e.message, ms: ms() } : { kind: "failed", why: e.message, ms: ms() });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ kind: "hung", why: `no answer within ${o.timeoutMs / 1000} s: killed`, ms: ms() });
      else if (code === 0) resolve({ kind: "ok", out, ms: ms() });
      else if (DENIED.test(err)) resolve({ kind: "refused", why: whyFailed(err, code, signal), ms: ms() });
      else resolve({ kind: "failed", why: whyFailed(err, code, signal), ms: ms() });
    });
  });
}
