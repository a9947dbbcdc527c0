/**
 * Executing a build plan: namespaces, links, sysctls, nftables, slirp4netns and
 * one probe agent per machine; and taking all of it down again.
 *
 * Every command is spawned with an argument vector (never a shell); text handed
 * to `ip -b -` and `nft -f -` on stdin is made from the IR by plan.ts, whose names
 * have passed its sanitiser. Only namespaces named `reach-<pid>-<n>-...` are ever
 * touched, and a stale one is removed only when the process that made it is gone.
 *
 * Teardown is guaranteed: a failed build tears down what it made; `live` holds
 * every emulation until it is torn down, and a process exit (normal, uncaught
 * exception, or a signal the CLI turns into an exit) tears down what is left,
 * synchronously. A run killed outright (SIGKILL) is cleaned by the next run.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Network } from "../ir/types.js";
import type { Symptom } from "../query/symptom.js";
import type { IP } from "../net/addr.js";
import { renameSlirp6, renameSlirp6IP, slirp6Renaming } from "./slirp6.js";
import {
  assertKernelName,
  assertNamespaceName,
  planBuild,
  RUN_NAME,
  RUN_PREFIX,
  SYSCTL_SWITCH,
  unsupported,
  type BuildPlan,
  type SlirpPlan,
} from "./plan.js";

export class EmulateError extends Error {
  constructor(
    message: string,
    /** the IR element a failed command came from */
    readonly what?: string,
  ) {
    super(message);
  }
}

const AGENT = fileURLToPath(new URL("./agent.js", import.meta.url));
/** The agent is plain Node: no loader or test-runner options are inherited. */
const childEnv = () => {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
};

function run(cmd: string, args: readonly string[], input?: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args as string[], { timeout: timeoutMs, maxBuffer: 16 << 20, env: childEnv() }, (err, stdout, stderr) => {
      if (err) reject(new EmulateError(`${cmd} ${args.join(" ")}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    child.stdin?.on("error", () => {});
    child.stdin?.end(input ?? "");
  });
}

/**
 * Empties every machine's IPv6 neighbour table (INCOMPLETE and STALE entries too): the dials
 * after it start from no entries, as the simulator's exchanges do (probe.ts, neighbour discovery).
 * libslirp's own table cannot be emptied from outside.
 */
export async function flushNeighbours6(emu: Emulation): Promise<void> {
  await Promise.all(
    [...emu.namespaceOf.values()].map((ns) => run("ip", ["-n", assertNamespaceName(ns), "-6", "neigh", "flush", "all"]).catch(() => "")),
  );
}

/** Runs `f` over `xs` with at most `n` at a time. */
export async function pool<T, R>(xs: readonly T[], n: number, f: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await f(xs[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
  return out;
}

/** Is this Linux machine able to emulate: root, and `ip`, `nft`, `slirp4netns`, `ping` present? */
export function emulationSupport(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== "linux") return { ok: false, why: "network namespaces need Linux" };
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { ok: false, why: "building network namespaces needs root" };
  // python3: the agent's helper for device-bound listeners (SO_BINDTODEVICE, which Node cannot set)
  for (const tool of ["ip", "nft", "slirp4netns", "ping", "sysctl", "python3"]) {
    try {
      execFileSync("sh", ["-c", 'command -v "$1"', "sh", tool], { stdio: "ignore" });
    } catch {
      return { ok: false, why: `${tool} is not installed (apt-get install -y iproute2 nftables slirp4netns iputils-ping procps python3)` };
    }
  }
  return { ok: true };
}

// ------------------------------------------------------------------ agents

export interface AgentProbe {
  readonly key: string;
  readonly proto: "tcp" | "udp" | "icmp";
  readonly dst: string;
  readonly dport: number;
  readonly sport: number;
  readonly timeoutMs: number;
}
export type KernelSymptom = "answered" | "error" | Exclude<Symptom, "no-route" | "connected-then-hang" | "other-peer">;
export interface AgentResult {
  readonly key: string;
  readonly outcome: "answered" | "refused" | "unreachable" | "timeout" | "closed" | "error";
  /** What the client saw, in the classes of src/query/symptom.ts ("answered" when answered; "error" for the probe's own trouble). */
  readonly symptom: KernelSymptom;
  readonly banner?: string;
  readonly code?: string;
  readonly connected: boolean;
  readonly ms: number;
}

class Agent {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private buffer = "";
  private stderr = "";
  readonly ready: Promise<void>;

  constructor(
    readonly machine: string,
    readonly proc: ChildProcess,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve: () => resolve(), reject });
    });
    proc.stdout!.on("data", (d: Buffer) => {
      this.buffer += d.toString("utf8");
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        let msg: { id: number; ok: boolean; result?: unknown; error?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new EmulateError(`agent of ${machine}: ${msg.error}`));
      }
    });
    proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    proc.on("exit", (code) => {
      for (const p of this.pending.values())
        p.reject(new EmulateError(`agent of ${machine} exited (${code}): ${this.stderr.trim().slice(0, 500)}`));
      this.pending.clear();
    });
    proc.stdin!.on("error", () => {});
  }

  request<T>(op: string, body: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(JSON.stringify({ id, op, ...body }) + "\n");
    });
  }
}

// ------------------------------------------------------------------ the emulation

export interface Emulation {
  readonly name: string;
  /** the network as built: a NAT engine's IPv6 network renamed to slirp4netns's fd00::/64 (slirp6.ts) */
  readonly net: Network;
  /** an address of the network given to `build`, as built */
  readonly rename: (ip: IP) => IP;
  readonly plan: BuildPlan;
  /** names the agent's banners carry, so that no stray answer is taken for ours */
  readonly token: string;
  /** machine name -> namespace */
  readonly namespaceOf: ReadonlyMap<string, string>;
  readonly namespaces: readonly string[];
  readonly agents: ReadonlyMap<string, Agent>;
  /** socket tags that failed to listen (EADDRNOTAVAIL ...), with the error */
  readonly listenErrors: ReadonlyMap<string, string>;
  /** relay sockets (host machine, socket index) whose forward slirp4netns refused */
  readonly forwardErrors: readonly string[];
  readonly buildMs: number;
}

interface State {
  name: string;
  namespaces: string[];
  procs: ChildProcess[];
  dirs: string[];
  done: boolean;
}

const live = new Set<State>();
/** Runs handed to the caller with --keep: never cleaned as stale (their namespaces are the user's now). */
const KEPT_MARK = "kept";
/** Where a run keeps its slirp4netns API sockets (and the --keep mark). */
const runDir = (name: string) => join(tmpdir(), `reach-emulate-${name}`);
let exitHook = false;
let counter = 0;

function ensureExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const s of live) teardownSync(s);
  });
}

const nsExists = (ns: string) => {
  try {
    return readdirSync("/run/netns").includes(ns);
  } catch {
    return false;
  }
};

function killProc(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
    try {
      process.kill(p.pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function teardownSync(s: State): void {
  if (s.done) return;
  for (const p of s.procs) killProc(p, "SIGKILL");
  for (const ns of s.namespaces) {
    killNamespacePidsSync(ns);
    if (nsExists(ns)) {
      try {
        execFileSync("ip", ["netns", "del", assertNamespaceName(ns)], { stdio: "ignore" });
      } catch {
        /* reported by the next run's stale check */
      }
    }
  }
  for (const d of s.dirs) rmSync(d, { recursive: true, force: true });
  s.done = true;
  live.delete(s);
}

function killNamespacePidsSync(ns: string): void {
  if (!nsExists(ns)) return;
  let pids: string[] = [];
  try {
    pids = execFileSync("ip", ["netns", "pids", assertNamespaceName(ns)], { encoding: "utf8" })
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

async function teardownState(s: State): Promise<void> {
  if (s.done) return;
  // agents end when their stdin closes; anything still running after a moment is killed
  for (const p of s.procs) p.stdin?.end();
  for (const p of s.procs) killProc(p, "SIGTERM");
  await Promise.all(
    s.procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            killProc(p, "SIGKILL");
            resolve();
          }, 1000);
          p.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
        }),
    ),
  );
  for (const ns of s.namespaces) {
    if (!nsExists(ns)) continue;
    killNamespacePidsSync(ns);
    await run("ip", ["netns", "del", assertNamespaceName(ns)]).catch(() => undefined);
  }
  for (const d of s.dirs) rmSync(d, { recursive: true, force: true });
  s.done = true;
  live.delete(s);
}

/**
 * Our namespaces (`reach-<pid>-<n>-...`) whose process is gone, and their run
 * folders: removed before a new run builds. A run kept with --keep is the
 * user's and is left alone.
 */
export async function cleanStale(): Promise<string[]> {
  let names: string[] = [];
  try {
    names = readdirSync("/run/netns");
  } catch {
    names = [];
  }
  const runOf = (n: string) => {
    const m = RUN_NAME.exec(n);
    return m ? `${RUN_PREFIX}${m[1]}-${m[2]}` : undefined;
  };
  const staleRun = (run: string): boolean => {
    const pid = Number(run.split("-")[1]);
    if (existsSync(join(runDir(run), KEPT_MARK))) return false;
    if (pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ESRCH";
    }
  };
  const stale = names.filter((n) => {
    const run = runOf(n);
    return run !== undefined && staleRun(run);
  });
  for (const ns of stale) {
    killNamespacePidsSync(ns);
    await run("ip", ["netns", "del", assertNamespaceName(ns)]).catch(() => undefined);
  }
  // run folders whose process is gone (and that were not kept, or whose kept namespaces the user removed)
  const left = new Set(names.flatMap((n) => runOf(n) ?? []));
  for (const d of readdirSync(tmpdir())) {
    const m = /^reach-emulate-(reach-\d+-\d+)$/.exec(d);
    if (!m) continue;
    const keptGone = existsSync(join(runDir(m[1]!), KEPT_MARK)) && !left.has(m[1]!);
    if (staleRun(m[1]!) || keptGone) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  return stale;
}

/** Namespaces of ours that exist now (for tests and `--keep`). */
export function ourNamespaces(): string[] {
  try {
    return readdirSync("/run/netns").filter((n) => n.startsWith(RUN_PREFIX) && RUN_NAME.test(n));
  } catch {
    return [];
  }
}

function batchError(stderr: string, lines: readonly { line: string; what: string }[], where: string): EmulateError {
  const m = /Command failed -:(\d+)/.exec(stderr);
  const at = m ? lines[Number(m[1]) - 1] : undefined;
  return new EmulateError(`${where}: ${stderr.trim().split("\n")[0]}${at ? ` (while building ${at.what}: ${at.line})` : ""}`, at?.what);
}

async function ipBatch(ns: string, lines: readonly { line: string; what: string }[]): Promise<void> {
  if (!lines.length) return;
  try {
    await run("ip", ["-n", assertNamespaceName(ns), "-b", "-"], lines.map((l) => l.line).join("\n") + "\n");
  } catch (e) {
    throw batchError((e as Error).message, lines, `ip -n ${ns}`);
  }
}

export interface BuildOptions {
  /** test hook: throw after this build step, to prove a failed build leaves nothing behind */
  readonly failAfter?: "namespaces" | "links" | "nft" | "slirp" | "agents";
}

/** The network as it will be built (a NAT engine's IPv6 network as fd00::/64, slirp6.ts), or EmulateError when it cannot be. */
function asBuilt(given: Network): { net: Network; rename: (ip: IP) => IP } {
  const refused = unsupported(given);
  if (refused.length)
    throw new EmulateError(`cannot emulate faithfully: ${refused.map((u) => (u.machine ? `${u.machine}: ${u.what}` : u.what)).join("; ")}`);
  const from = slirp6Renaming(given).from;
  return { net: from ? renameSlirp6(given, from) : given, rename: (ip: IP) => renameSlirp6IP(ip, from) };
}

/**
 * Builds `net` for real. Throws EmulateError when the network cannot be built
 * (after tearing down everything it made).
 */
export async function build(given: Network, opts: BuildOptions = {}): Promise<Emulation> {
  const { net, rename } = asBuilt(given);
  ensureExitHook();
  const started = performance.now();
  await cleanStale();
  const name = `${RUN_PREFIX}${process.pid}-${counter++}`;
  const nsName = (k: number | "sw") => assertNamespaceName(`${name}-${k}`);
  const plan = planBuild(net, nsName);
  const state: State = { name, namespaces: [], procs: [], dirs: [], done: false };
  live.add(state);
  const hook = (step: NonNullable<BuildOptions["failAfter"]>) => {
    if (opts.failAfter === step) throw new EmulateError(`test: failing after ${step}`);
  };
  try {
    const sw = nsName("sw");
    const machineNs = plan.machines.map((m) => nsName(m.index));
    // the first `ip netns add` mounts /run/netns: one alone, then the rest in parallel
    state.namespaces.push(sw);
    await run("ip", ["netns", "add", sw]);
    state.namespaces.push(...machineNs);
    await pool(machineNs, 8, (ns) => run("ip", ["netns", "add", ns]));
    await Promise.all(
      [sw, ...machineNs].map((ns, i) =>
        run("ip", ["netns", "exec", ns, "sysctl", "-q", "-e", "-w", ...(i === 0 ? SYSCTL_SWITCH : plan.machines[i - 1]!.sysctls)]),
      ),
    );
    hook("namespaces");
    await ipBatch(sw, [{ line: "link set dev lo up", what: "switch" }, ...plan.switchBatch]);
    await pool(plan.machines, 8, (m) => ipBatch(machineNs[m.index]!, m.ipBatch));
    hook("links");
    await pool(plan.machines, 8, async (m) => {
      if (!m.nft) return;
      await run("ip", ["netns", "exec", machineNs[m.index]!, "nft", "-f", "-"], m.nft).catch((e: Error) => {
        throw new EmulateError(`nftables ruleset of ${m.name}: ${e.message}`, `firewall of ${m.name}`);
      });
    });
    hook("nft");
    const dir = runDir(name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    state.dirs.push(dir);
    const forwardErrors: string[] = [];
    await Promise.all(
      plan.slirps.map((s, i) => startSlirp(s, machineNs[s.hostNs]!, sw, join(dir, `slirp${i}.sock`), state, forwardErrors)),
    );
    hook("slirp");
    const token = randomBytes(6).toString("hex");
    const agents = new Map<string, Agent>();
    const listenErrors = new Map<string, string>();
    await pool(plan.machines, 4, async (m) => {
      const ns = machineNs[m.index]!;
      const proc = spawn("ip", ["netns", "exec", ns, process.execPath, AGENT], { stdio: ["pipe", "pipe", "pipe"], env: childEnv() });
      state.procs.push(proc);
      const agent = new Agent(m.name, proc);
      await agent.ready;
      agents.set(m.name, agent);
      if (m.listeners.length) {
        const res = await agent.request<{ tag: string; error?: string }[]>("listen", { token, sockets: m.listeners });
        for (const r of res) if (r.error && !listenErrors.has(r.tag)) listenErrors.set(r.tag, r.error);
      }
    });
    hook("agents");
    return {
      name,
      net,
      rename,
      plan,
      token,
      namespaceOf: new Map(plan.machines.map((m) => [m.name, machineNs[m.index]!])),
      namespaces: [...state.namespaces],
      agents,
      listenErrors,
      forwardErrors,
      buildMs: performance.now() - started,
    };
  } catch (e) {
    await teardownState(state);
    throw e instanceof EmulateError ? e : new EmulateError(String((e as Error).message ?? e));
  }
}

/** Takes an emulation down: agents and slirp4netns by PID, then its namespaces. Returns the milliseconds it took. */
export async function teardown(emu: Emulation): Promise<number> {
  const started = performance.now();
  const s = [...live].find((x) => x.name === emu.name);
  if (s) await teardownState(s);
  return performance.now() - started;
}

/** Forget an emulation without taking it down (`--keep`): the caller owns its namespaces now. */
export function release(emu: Emulation): void {
  const s = [...live].find((x) => x.name === emu.name);
  if (!s) return;
  s.procs.length = 0;
  s.done = true;
  live.delete(s);
  mkdirSync(runDir(emu.name), { recursive: true, mode: 0o700 });
  writeFileSync(join(runDir(emu.name), KEPT_MARK), `${emu.namespaces.join("\n")}\n`);
}

/** Sends probes from one machine's agent. */
export function probeFrom(emu: Emulation, machine: string, probes: readonly AgentProbe[]): Promise<AgentResult[]> {
  const agent = emu.agents.get(machine);
  if (!agent) throw new EmulateError(`internal: no agent for ${machine}`);
  return agent.request<AgentResult[]>("probe", { token: emu.token, probes });
}

async function startSlirp(s: SlirpPlan, hostNs: string, sw: string, sock: string, state: State, forwardErrors: string[]): Promise<void> {
  const args = [
    "netns",
    "exec",
    hostNs,
    "slirp4netns",
    "--netns-type=path",
    `--api-socket=${sock}`,
    `--cidr=${s.cidr}`,
    "--disable-dns",
    ...(s.hostLoopback ? [] : ["--disable-host-loopback"]),
    ...(s.ipv6 ? ["--enable-ipv6"] : []),
    "--ready-fd=3",
    `/run/netns/${assertNamespaceName(sw)}`,
    assertKernelName(s.tap),
  ];
  const proc = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe", "pipe"], env: childEnv() });
  state.procs.push(proc);
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  proc.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new EmulateError(`slirp4netns for ${s.engine} did not start: ${stderr.trim()}`)), 10_000);
    (proc.stdio[3] as NodeJS.ReadableStream).once("data", () => {
      clearTimeout(t);
      resolve();
    });
    proc.once("exit", (code) => {
      clearTimeout(t);
      reject(new EmulateError(`slirp4netns for ${s.engine} exited (${code}): ${stderr.trim()}`, s.engine));
    });
  });
  await ipBatch(sw, [{ line: `link set dev ${s.tap} addrgenmode none master ${s.bridge} up`, what: `NAT engine ${s.engine}` }]);
  for (const f of s.forwards) {
    const res = await slirpApi(sock, {
      execute: "add_hostfwd",
      arguments: { proto: f.proto, host_addr: f.hostAddr, host_port: f.hostPort, guest_addr: f.guestAddr, guest_port: f.guestPort },
    });
    if (res.error)
      forwardErrors.push(
        `${s.engine} forward ${f.proto} ${f.hostAddr}:${f.hostPort} -> ${f.guestAddr}:${f.guestPort}: ${JSON.stringify(res.error)}`,
      );
  }
}

function slirpApi(path: string, req: unknown): Promise<{ return?: unknown; error?: unknown }> {
  return new Promise((resolve, reject) => {
    const c = connect(path);
    let data = "";
    c.on("connect", () => c.end(JSON.stringify(req)));
    c.on("data", (d) => (data += d.toString("utf8")));
    c.on("error", (e) => reject(new EmulateError(`slirp4netns API: ${e.message}`)));
    c.on("close", () => {
      try {
        resolve(JSON.parse(data));
      } catch {
        reject(new EmulateError(`slirp4netns API: unreadable answer ${JSON.stringify(data)}`));
      }
    });
  });
}
