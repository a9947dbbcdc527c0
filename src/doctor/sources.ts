/**
 * What the doctor reads, one source at a time, each only when its tool is there: the host
 * (the commands of `reach snapshot`), VirtualBox, Docker, libvirt, and running QEMU processes
 * (their command lines in /proc). Every command is an argument vector with a timeout; what
 * came of it is logged (for the evidence and the timings). A missing tool is a note, a refused,
 * failing or hung command a warning (RCH056), and the rest of the source is still read.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { diagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { SNAPSHOT_COMMANDS } from "../import/snapshot.js";
import type { Source } from "../import/types.js";
import type { Kind } from "../import/run.js";
import { runCommand, type RunOptions } from "./exec.js";

/** One command the doctor ran and what came of it. */
export interface Ran {
  readonly source: string;
  readonly command: string;
  readonly outcome: "ok" | "missing" | "refused" | "failed" | "hung";
  readonly ms: number;
}

/** What one source read: its outputs by importer kind, and what it could not read. */
export class SourceRead {
  readonly inputs: { kind: Kind; source: Source }[] = [];
  readonly notes: string[] = [];
  readonly warnings: Diagnostic[] = [];
  readonly ran: Ran[] = [];
  /** Commands (or files) whose contents are not in the topology, with why. */
  readonly unread: string[] = [];
  /** Outputs kept for the evidence only (no importer reads them). */
  readonly extra: Source[] = [];

  constructor(
    readonly name: string,
    readonly opts: RunOptions,
  ) {}

  /** Runs one command; its output, or undefined (with the note or warning said). */
  async run(argv: readonly string[], what: string): Promise<string | undefined> {
    const command = argv.join(" ");
    const r = await runCommand(argv, this.opts);
    this.ran.push({ source: this.name, command, outcome: r.kind, ms: r.ms });
    if (r.kind === "ok") return r.out;
    if (r.kind === "missing" && this.opts.replay !== undefined) {
      this.notes.push(`${this.name}: no recorded output of \`${command}\` in ${this.opts.replay}: ${what} not read.`);
      this.unread.push(`${command} (not recorded)`);
      return undefined;
    }
    if (r.kind === "missing") {
      this.notes.push(`${this.name}: \`${argv[0]}\` is not installed here: ${what} not read.`);
      this.unread.push(`${command} (not installed)`);
      return undefined;
    }
    const words = { refused: "was refused", failed: "failed", hung: "hung" }[r.kind];
    this.unread.push(`${command} (${words}: ${r.why})`);
    this.warn(command, `\`${command}\` ${words}: ${r.why}; ${what} not in the topology`);
    return undefined;
  }

  warn(file: string, message: string, line = 1): void {
    this.warnings.push(
      diagnostic("RCH056", { file, line, col: 1 }, message, {
        expected: "the command to answer (VBoxManage, docker, virsh and iptables-save may need root or the tool's group)",
        severity: "warning",
      }),
    );
  }

  add(kind: Kind, file: string, text: string): void {
    this.inputs.push({ kind, source: { file, text } });
  }
}

/** The host itself: the commands of `reach snapshot` (read-only), in parallel. */
export async function readHost(opts: RunOptions): Promise<SourceRead> {
  const s = new SourceRead("host", opts);
  const outs = await Promise.all(SNAPSHOT_COMMANDS.map((c) => s.run(c.argv, `what \`${c.name}\` shows is`)));
  SNAPSHOT_COMMANDS.forEach((c, i) => {
    const out = outs[i];
    if (out !== undefined) s.add("linux", c.name, out);
  });
  return s;
}

/** Lines of a listing that match `re`; the others are warnings (garbage is never guessed at). */
function listed(s: SourceRead, file: string, text: string, re: RegExp, what: string): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const m = re.exec(line.trim());
    if (m) out.push(m);
    else s.warn(file, `line ${i + 1} not understood: '${line.trim().slice(0, 80)}' (expected ${what}); left out`, i + 1);
  });
  return out;
}

/** VirtualBox: the running VMs' settings, the host-only interfaces and the NAT networks. */
export async function readVirtualbox(opts: RunOptions): Promise<SourceRead> {
  const s = new SourceRead("virtualbox", opts);
  const V = "VBoxManage";
  const [running, hostonly, natnets] = await Promise.all([
    s.run([V, "list", "runningvms"], "the running VMs are"),
    s.run([V, "list", "hostonlyifs"], "the host-only networks are"),
    s.run([V, "natnetwork", "list"], "the NAT networks are"),
  ]);
  if (hostonly !== undefined) s.add("virtualbox", `${V} list hostonlyifs`, hostonly);
  // with no NAT network VBoxManage prints only a count, which the importer does not take as its format
  if (natnets !== undefined && !/^\s*(NAT Networks:\s*)?0 networks found\s*$/.test(natnets))
    s.add("virtualbox", `${V} natnetwork list`, natnets);
  if (running === undefined) return s;
  const vms = listed(s, `${V} list runningvms`, running, /^"(.*)" \{([0-9a-fA-F-]+)\}$/, '"NAME" {UUID}');
  const infos = await Promise.all(vms.map((m) => s.run([V, "showvminfo", m[2]!, "--machinereadable"], `VM ${m[1]}'s settings are`)));
  vms.forEach((m, i) => {
    const info = infos[i];
    if (info !== undefined) s.add("virtualbox", `${V} showvminfo ${m[1]} --machinereadable`, info);
  });
  return s;
}

/** Docker: `docker inspect` of the running containers. */
export async function readDocker(opts: RunOptions): Promise<SourceRead> {
  const s = new SourceRead("docker", opts);
  const ps = await s.run(["docker", "ps", "-q"], "the running containers are");
  if (ps === undefined) return s;
  const ids = listed(s, "docker ps -q", ps, /^([0-9a-f]{12,64})$/, "container IDs").map((m) => m[1]!);
  if (!ids.length) {
    s.notes.push("docker: no container is running.");
    return s;
  }
  const inspect = await s.run(["docker", "inspect", ...ids], "the containers' networks and published ports are");
  if (inspect !== undefined) s.add("docker", "docker inspect", inspect);
  return s;
}

/** libvirt: every network's XML and every running domain's XML. */
export async function readLibvirt(opts: RunOptions): Promise<SourceRead> {
  const s = new SourceRead("libvirt", opts);
  const [nets, doms] = await Promise.all([
    s.run(["virsh", "net-list", "--all"], "libvirt's networks are"),
    s.run(["virsh", "list", "--name"], "libvirt's running domains are"),
  ]);
  const names: string[] = [];
  if (nets !== undefined) {
    const lines = nets.split("\n");
    const rule = lines.findIndex((l) => /^-{5,}/.test(l.trim()));
    if (rule < 0) s.warn("virsh net-list --all", "not the table virsh prints (no '-----' line under the header); left out");
    else for (const l of lines.slice(rule + 1)) if (l.trim()) names.push(l.trim().split(/\s+/)[0]!);
  }
  const domains = doms === undefined ? [] : listed(s, "virsh list --name", doms, /^([A-Za-z0-9_.+-]+)$/, "domain names").map((m) => m[1]!);
  const xmls = await Promise.all([
    ...names.map((n) => s.run(["virsh", "net-dumpxml", n], `network ${n} is`)),
    ...domains.map((d) => s.run(["virsh", "dumpxml", d], `domain ${d} is`)),
  ]);
  [...names.map((n) => `virsh net-dumpxml ${n}`), ...domains.map((d) => `virsh dumpxml ${d}`)].forEach((file, i) => {
    const x = xmls[i];
    if (x !== undefined) s.add("libvirt", file, x);
  });
  return s;
}

export interface ProcOptions {
  /** Where /proc is (tests point it at a recorded tree). */
  readonly procRoot: string;
  /** Only processes in this network namespace (`ip netns` name). */
  readonly netns?: string | undefined;
}

/** The inode of a namespace file, or undefined when it cannot be read. */
function nsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** One argument as a shell word: as it is when it is plain, single-quoted otherwise. */
const shellWord = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** Running QEMU processes: their command lines from /proc, for the qemu importer. */
export function readQemu(opts: RunOptions, p: ProcOptions): SourceRead {
  const s = new SourceRead("qemu", opts);
  const want = p.netns !== undefined ? nsInode(join("/run/netns", p.netns)) : nsInode("/proc/self/ns/net");
  let pids: string[];
  try {
    pids = readdirSync(p.procRoot).filter((d) => /^\d+$/.test(d));
  } catch (e) {
    s.warn(p.procRoot, `cannot list ${p.procRoot}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; QEMU processes not read`);
    s.unread.push(`${p.procRoot} (unreadable)`);
    return s;
  }
  for (const pid of pids) {
    let argv: string[];
    try {
      argv = readFileSync(join(p.procRoot, pid, "cmdline"), "utf8").split("\0");
    } catch {
      continue; // gone, or not ours to read
    }
    if (argv.at(-1) === "") argv.pop();
    if (!argv.length || !basename(argv[0]!).startsWith("qemu-system-")) continue;
    const ns = nsInode(join(p.procRoot, pid, "ns", "net"));
    if (ns !== undefined && want !== undefined && ns !== want) continue; // another namespace's QEMU
    if (ns === undefined && p.netns !== undefined) {
      s.notes.push(`qemu: process ${pid}'s network namespace cannot be read: left out (it may be another namespace's).`);
      continue;
    }
    s.add("qemu", join(p.procRoot, pid, "cmdline"), argv.map(shellWord).join(" ") + "\n");
    s.ran.push({ source: "qemu", command: `read ${join(p.procRoot, pid, "cmdline")}`, outcome: "ok", ms: 0 });
  }
  return s;
}
