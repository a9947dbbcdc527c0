/**
 * The emulator leaves nothing behind (root on Linux only; skipped elsewhere, saying why).
 *
 *  - a topology whose machine, segment, interface, service, forward and rule names
 *    are as hostile as the checker accepts is built, probed (the kernel agrees with
 *    reach) and torn down: no namespace of this run, no new root-namespace link, no
 *    helper process, and the `$(touch ...)` in a machine name never ran;
 *  - build(net, { failAfter }) at every step on models/virtualbox-nat.yaml rejects
 *    with EmulateError and leaves no namespace, no slirp4netns or agent process and
 *    no root-namespace link of ours;
 *  - the CLI (`node dist/bin/main.js emulate`): Ctrl-C during the build and once it is
 *    built exits 130 with nothing left; SIGKILL leaves its namespaces (stale), which
 *    cleanStale() then removes together with the processes in them; --keep leaves
 *    them up and lists them (this test removes them);
 *  - the root namespace's nftables ruleset is the same after the whole file as before.
 *
 * Other emulations (other test files, other sessions) may run at the same time: every
 * check is about namespaces named after this process or a child it started, and
 * about processes descended from those; nothing else is touched or counted. Traffic
 * goes only where the emulator sends it (inside its namespaces).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, cleanStale, EmulateError, emulationSupport, ourNamespaces, type BuildOptions } from "../../src/emulate/build.js";
import { emulate } from "../../src/emulate/emulate.js";
import { planBuild } from "../../src/emulate/plan.js";
import type { Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import type { Query } from "../../src/ir/query.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";

const support = emulationSupport();
const root = support.ok;
if (!support.ok) {
  console.warn(
    `test/kernel/teardown.kernel.test.ts SKIPPED: ${support.why}. These tests build network namespaces; run them as root on Linux with iproute2, nftables, slirp4netns, iputils-ping and procps.`,
  );
}

const REPO = join(import.meta.dirname, "..", "..");
const NAT = "models/virtualbox-nat.yaml";
const NATNET = "models/natnetwork.yaml";
const KERNEL_TIMEOUT = 60_000;

const netOf = (file: string): Network => lower(loadTopologyFile(join(REPO, file)).topology);
/** How many namespaces the emulator makes for a network: one per emulated machine and the switch. */
const namespaceCount = (net: Network) => planBuild(net, (k) => `reach-1-0-${k}`).machines.length + 1;

// ------------------------------------------------------------------ looking at the system

const sh = (cmd: string, args: readonly string[]) => execFileSync(cmd, args as string[], { encoding: "utf8" });

function netnsList(): string[] {
  try {
    return readdirSync("/run/netns").sort();
  } catch {
    return [];
  }
}
/** `ip netns list`, names only. */
const ipNetnsList = () =>
  sh("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter(Boolean)
    .sort();
/** Namespaces of the emulator run by process `pid`. */
const runOf = (pid: number) => netnsList().filter((n) => n.startsWith(`reach-${pid}-`));
/** `ip netns list` without the namespaces of other processes' emulations and tests, which come and go on their own. */
const netnsOfNobodyElse = () =>
  ipNetnsList().filter(
    (n) => !(/^reach(test)?-(\d+)-/.exec(n) && !n.startsWith(`reach-${process.pid}-`) && !n.startsWith(`reachtest-${process.pid}-`)),
  );

/** Root-namespace links: "index: name", from `ip -o link`. */
const rootLinks = () =>
  sh("ip", ["-o", "link"])
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(":").slice(0, 2).join(":").trim())
    .sort();

const rootRuleset = () => sh("nft", ["list", "ruleset"]);

interface Proc {
  pid: number;
  ppid: number;
  stat: string;
  args: string;
}
function processes(): Proc[] {
  return sh("ps", ["-eo", "pid=,ppid=,stat=,args="])
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l)!;
      return { pid: Number(m[1]), ppid: Number(m[2]), stat: m[3]!, args: m[4]! };
    });
}
/** Running (not zombie) processes descended from `pid`. */
function descendants(pid: number, ps = processes()): Proc[] {
  const kids = new Map<number, Proc[]>();
  for (const p of ps) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const walk = (x: number) => {
    for (const k of kids.get(x) ?? []) {
      out.push(k);
      walk(k.pid);
    }
  };
  walk(pid);
  return out.filter((p) => !p.stat.startsWith("Z"));
}
const isHelper = (p: Proc) => /\bslirp4netns\b|agent\.js/.test(p.args);
/** Running slirp4netns processes attached to an emulation of process `pid` (its switch namespace is in their arguments), wherever they were reparented to. */
const slirpsOf = (pid: number) =>
  processes().filter((p) => !p.stat.startsWith("Z") && /\bslirp4netns\b/.test(p.args) && p.args.includes(`/run/netns/reach-${pid}-`));
/** The temporary directories (slirp4netns API sockets) of an emulation of process `pid`, from its slirp4netns arguments. */
const apiDirsOf = (pid: number) => [
  ...new Set(slirpsOf(pid).flatMap((p) => /--api-socket=(\/\S+)\/[^/\s]+\.sock/.exec(p.args)?.[1] ?? [])),
];

/** Gone: no such process, or a zombie nobody reaped (an orphan's parent here is an init that does not reap). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until `f()` holds; fails early (with what it saw) if `child` exits first. Not a timed assertion: the ceiling only turns a hang into a message. */
async function waitFor(what: string, f: () => boolean, child?: ChildProcess, ceilingMs = 45_000): Promise<void> {
  const start = Date.now();
  while (!f()) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`the CLI exited (${child.exitCode ?? child.signalCode}) before ${what}`);
    if (Date.now() - start > ceilingMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Removes namespaces this test made or a child of it made: the processes in them first (ip netns pids), then the namespace. */
function removeNamespaces(names: readonly string[], owner: number): void {
  for (const ns of names) {
    if (!ns.startsWith(`reach-${owner}-`)) throw new Error(`refusing to remove ${ns}: not a namespace of ${owner}`);
    let pids: string[] = [];
    try {
      pids = sh("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean);
    } catch {
      /* gone */
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* gone */
      }
    }
    spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
}

// ------------------------------------------------------------------ the CLI

/** dist/ is what the CLI runs; rebuilt when some src/ file is newer than its output (as test/cli/engine.test.ts does). */
function distIsStale(): boolean {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  // the command is the bundle (dist/bin) made from tsc's dist/ after it
  const bin = join(REPO, "dist", "bin", "main.js");
  const cli = join(REPO, "dist", "cli", "main.js");
  if (!existsSync(bin) || !existsSync(cli) || statSync(bin).mtimeMs < statSync(cli).mtimeMs) return true;
  return walk(join(REPO, "src")).some((src) => {
    const out = join(REPO, "dist", relative(join(REPO, "src"), src).replace(/\.ts$/, ".js"));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
  });
}

interface Cli {
  child: ChildProcess;
  /** temporary directories its emulation made, removed by cleanupCli when the CLI could not */
  dirs: Set<string>;
  pid: number;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const children: Cli[] = [];

function startCli(args: readonly string[]): Cli {
  const child = spawn(process.execPath, ["dist/bin/main.js", ...args], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: undefined },
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const cli = { child, dirs: new Set<string>(), pid: child.pid!, out: () => out, err: () => err, exited };
  children.push(cli);
  return cli;
}

/** Whatever a CLI child of this test left: the child itself, its namespaces and the processes in them. */
function cleanupCli(c: Cli): void {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
  for (const d of apiDirsOf(c.pid)) c.dirs.add(d);
  removeNamespaces(runOf(c.pid), c.pid);
  for (const d of c.dirs) if (/^\/.+\/reach-emulate-[A-Za-z0-9]{6}$/.test(d)) rmSync(d, { recursive: true, force: true });
}

// ------------------------------------------------------------------ a hostile topology

const PWN = `/tmp/reach-pwn-${process.pid}`;
const SRV = `srv"; $(touch ${PWN}) \`touch ${PWN}\` #`;
const CLI = "cli\nent ; rm -rf / ; ' \" \\";
const VM = "vm 💥 $(reboot)";
const SEG_A = "lan; ip netns del $(x)";
const SEG_B = 'w`a`n\n"';
const HOSTILE_DOC = {
  segments: { [SEG_A]: "192.168.150.0/24", [SEG_B]: "192.168.160.0/24" },
  machines: {
    [SRV]: {
      interfaces: {
        'e"$(id)': { segment: SEG_A, addresses: ["192.168.150.10/24"] },
        ünïcödé: { segment: SEG_B, addresses: ["192.168.160.10/24"] },
      },
      services: [
        { name: 'ssh"; $(reboot) `id`', proto: "tcp", port: 22, bind: "0.0.0.0" },
        { name: "web\n{ flush ruleset }", proto: "tcp", port: 8080, bind: "0.0.0.0" },
      ],
      firewall: {
        input: {
          policy: "drop",
          rules: [
            { action: "accept", in: "lo", comment: '"; flush ruleset; $(reboot)' },
            { action: "accept", state: ["established", "related"] },
            { action: "accept", proto: "tcp", dport: 22, in: 'e"$(id)', comment: '"; flush ruleset; $(reboot)' },
            { action: "accept", proto: "tcp", dport: 22, in: "ünïcödé" },
          ],
        },
      },
    },
    [CLI]: {
      interfaces: {
        "x;rm`id`": { segment: SEG_A, addresses: ["192.168.150.20/24"] },
        "-rf": { segment: SEG_B, addresses: ["192.168.160.20/24"] },
      },
    },
    [VM]: {
      vm: {
        on: SRV,
        adapters: [
          { mode: "nat", interface: "abcdefghijklmno", forwards: [{ name: 'fw"; $(halt)', proto: "tcp", hostPort: 2222, guestPort: 22 }] },
        ],
      },
      services: [{ name: "sshd`id`", proto: "tcp", port: 22, bind: "0.0.0.0" }],
    },
  },
};
/** Queries name machines the query parser would not accept, so they are made by hand. */
const q = (from: string, to: string, port: number): Query => ({
  text: `${JSON.stringify(from)} -> ${JSON.stringify(to)}:${port}/tcp`,
  from,
  target: { kind: "machine", machine: to },
  proto: "tcp",
  port,
});

// ------------------------------------------------------------------ the tests

describe.skipIf(!root)("teardown: nothing is left behind", () => {
  let rulesetBefore = "";
  let linksBefore: string[] = [];

  beforeAll(() => {
    rulesetBefore = rootRuleset();
    linksBefore = rootLinks();
    if (distIsStale()) {
      const r = spawnSync("npm", ["run", "build"], { cwd: REPO, encoding: "utf8" });
      // tsc writes its output even when it reports type errors; what matters is that dist/ is current
      if (r.status !== 0 && distIsStale()) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
    }
  }, 180_000);

  afterAll(() => {
    for (const c of children) cleanupCli(c);
    removeNamespaces(runOf(process.pid), process.pid);
    expect(rootRuleset()).toBe(rulesetBefore);
    expect(rootLinks()).toEqual(linksBefore);
  }, KERNEL_TIMEOUT);

  it(
    "a topology with hostile (but accepted) names builds, the kernel agrees with reach, and nothing is left",
    async () => {
      const net = lower(loadTopologyText("hostile.json", JSON.stringify(HOSTILE_DOC, null, 2)).topology);
      const links = rootLinks();
      const before = netnsOfNobodyElse();
      expect(runOf(process.pid)).toEqual([]);
      try {
        const r = await emulate(net, [q(CLI, SRV, 22), q(CLI, SRV, 8080), q(SRV, VM, 22)]);
        expect(r.namespaces).toHaveLength(namespaceCount(net));
        expect(r.slirps).toBe(1);
        expect(r.rulesets).toBe(1);
        expect(r.listenErrors).toEqual([]);
        expect(r.forwardErrors).toEqual([]);
        expect(r.probes.map((p) => ({ q: p.query.text, reach: p.reach, kernel: p.kernel, agree: p.agree }))).toEqual([
          { q: q(CLI, SRV, 22).text, reach: "reachable", kernel: "reachable", agree: true },
          { q: q(CLI, SRV, 8080).text, reach: "unreachable", kernel: "unreachable", agree: true },
          { q: q(SRV, VM, 22).text, reach: "reachable", kernel: "reachable", agree: true },
        ]);
        expect(r.leftBehind).toEqual([]);
      } finally {
        expect(ourNamespaces().filter((n) => n.startsWith(`reach-${process.pid}-`))).toEqual([]);
        expect(netnsOfNobodyElse()).toEqual(before);
        expect(rootLinks()).toEqual(links);
        expect(descendants(process.pid).filter(isHelper)).toEqual([]);
        expect(slirpsOf(process.pid)).toEqual([]);
        expect(existsSync(PWN)).toBe(false);
      }
    },
    KERNEL_TIMEOUT,
  );

  describe(`build(net, { failAfter }) on ${NAT}: rejects with EmulateError and leaves nothing`, () => {
    const steps: NonNullable<BuildOptions["failAfter"]>[] = ["namespaces", "links", "nft", "slirp", "agents"];
    for (const step of steps) {
      it(
        `failAfter: ${step}`,
        async () => {
          const net = netOf(NAT);
          const before = { netns: netnsOfNobodyElse(), links: rootLinks(), helpers: descendants(process.pid).filter(isHelper) };
          expect(before.helpers).toEqual([]);
          expect(runOf(process.pid)).toEqual([]);
          const made = build(net, { failAfter: step });
          await expect(made).rejects.toBeInstanceOf(EmulateError);
          await expect(made).rejects.toThrow(`test: failing after ${step}`);
          expect(runOf(process.pid)).toEqual([]);
          expect(netnsOfNobodyElse()).toEqual(before.netns);
          expect(descendants(process.pid).filter(isHelper)).toEqual([]);
          expect(slirpsOf(process.pid)).toEqual([]);
          expect(rootLinks()).toEqual(before.links);
        },
        KERNEL_TIMEOUT,
      );
    }
  });

  describe("the CLI", () => {
    it(
      `Ctrl-C during the build (first namespace up) exits 130 and leaves nothing (${NATNET})`,
      async () => {
        const links = rootLinks();
        const c = startCli(["emulate", NATNET]);
        try {
          await waitFor("a namespace of the CLI exists", () => runOf(c.pid).length > 0, c.child);
          const helpers = descendants(c.pid);
          c.child.kill("SIGINT");
          const e = await c.exited;
          expect({ ...e, err: c.err() }).toEqual({ code: 130, signal: null, err: "" });
          expect(runOf(c.pid)).toEqual([]);
          expect(slirpsOf(c.pid)).toEqual([]);
          for (const p of helpers) expect({ p, alive: alive(p.pid) }).toEqual({ p, alive: false });
          expect(rootLinks()).toEqual(links);
        } finally {
          cleanupCli(c);
        }
      },
      KERNEL_TIMEOUT,
    );

    it(
      `Ctrl-C once built (every agent and slirp4netns up) exits 130 and leaves nothing (${NATNET})`,
      async () => {
        const net = netOf(NATNET);
        const links = rootLinks();
        const c = startCli(["emulate", NATNET]);
        try {
          const agents = planBuild(net, (k) => `reach-1-0-${k}`).machines.length;
          await waitFor(
            `${agents} agents and slirp4netns`,
            () => {
              const d = descendants(c.pid);
              return d.filter((p) => /agent\.js/.test(p.args)).length === agents && d.some((p) => /\bslirp4netns\b/.test(p.args));
            },
            c.child,
          );
          expect(runOf(c.pid)).toHaveLength(namespaceCount(net));
          const helpers = descendants(c.pid).filter(isHelper);
          expect(slirpsOf(c.pid).length).toBeGreaterThan(0);
          for (const d of apiDirsOf(c.pid)) c.dirs.add(d);
          expect(c.dirs.size).toBeGreaterThan(0);
          c.child.kill("SIGINT");
          const e = await c.exited;
          expect({ ...e, err: c.err() }).toEqual({ code: 130, signal: null, err: "" });
          expect(runOf(c.pid)).toEqual([]);
          expect(slirpsOf(c.pid)).toEqual([]);
          for (const d of c.dirs) expect({ d, exists: existsSync(d) }).toEqual({ d, exists: false });
          for (const p of helpers) expect({ p, alive: alive(p.pid) }).toEqual({ p, alive: false });
          expect(rootLinks()).toEqual(links);
        } finally {
          cleanupCli(c);
        }
      },
      KERNEL_TIMEOUT,
    );

    it(
      `SIGKILL leaves the namespaces (stale); cleanStale() removes them and the processes in them (${NATNET})`,
      async () => {
        const net = netOf(NATNET);
        const c = startCli(["emulate", NATNET]);
        try {
          const want = namespaceCount(net);
          const engines = planBuild(net, (k) => `reach-1-0-${k}`).slirps.length;
          // `ip netns exec` enters the namespace before it executes slirp4netns: until then the
          // process is named `ip` and `ip netns pids` does not list it (CI run of stop 31)
          const entered = () => slirpsOf(c.pid).filter((p) => /^slirp4netns\b/.test(p.args));
          await waitFor(
            `every namespace and ${engines} slirp4netns`,
            () => runOf(c.pid).length === want && entered().length === engines,
            c.child,
          );
          const inside = runOf(c.pid).flatMap((ns) => sh("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean).map(Number));
          const slirps = slirpsOf(c.pid).map((p) => p.pid);
          expect(inside).toEqual(expect.arrayContaining(slirps));
          for (const d of apiDirsOf(c.pid)) c.dirs.add(d); // cleanStale() does not remove these (see cleanupCli)
          c.child.kill("SIGKILL");
          const e = await c.exited;
          // Stale: the process that made them is gone, they are not. (Read at once: another
          // process's build() runs cleanStale() too and may remove them from here on.)
          const stale = runOf(c.pid);
          expect(e).toEqual({ code: null, signal: "SIGKILL" });
          expect(stale).toHaveLength(want);
          // slirp4netns outlives a killed CLI (the agents end when their stdin closes)
          for (const pid of slirps) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: true });
          const cleaned = await cleanStale();
          // what this call removed of them (the rest, if any, another emulation's cleanStale() removed first)
          for (const n of cleaned.filter((x) => x.startsWith(`reach-${c.pid}-`))) expect(stale).toContain(n);
          expect(runOf(c.pid)).toEqual([]);
          for (const pid of inside) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
          expect(slirpsOf(c.pid)).toEqual([]);
        } finally {
          cleanupCli(c);
        }
      },
      KERNEL_TIMEOUT,
    );

    it(
      `--keep leaves the namespaces up and lists them (${NAT}; removed by this test)`,
      async () => {
        const net = netOf(NAT);
        const c = startCli(["emulate", NAT, "--keep", "--probe", "host -> guest:22/tcp"]);
        try {
          const e = await c.exited;
          expect({ ...e, err: c.err() }).toEqual({ code: 0, signal: null, err: "" });
          const kept = runOf(c.pid);
          expect(kept).toHaveLength(namespaceCount(net));
          expect(c.out()).toMatch(/^1 query: 1 agree, 0 disagree; .*kept: /m);
          const listed = /kept: (.*) \(remove with/.exec(c.out())?.[1]?.split(" ") ?? [];
          expect([...listed].sort()).toEqual(kept);
          // they are live: the NAT engine still runs in the host's namespace
          expect(slirpsOf(c.pid).length).toBeGreaterThan(0);
        } finally {
          cleanupCli(c);
        }
        expect(runOf(c.pid)).toEqual([]);
        expect(slirpsOf(c.pid)).toEqual([]);
      },
      KERNEL_TIMEOUT,
    );
  });
});
