/**
 * The sources' outputs as one topology: each kind through its importer (the same ones
 * `reach import` uses), the fragments merged by `mergeParts`, rendered and loaded like any
 * topology file. An output an importer cannot read (garbage, an error with its position) is
 * left out with a warning and the others of its kind are imported without it: the answer is
 * partial and says so, never guessed.
 */
import { diagnostic, InputError, type Diagnostic } from "../diagnostics/diagnostic.js";
import { mergeParts, type Part } from "../import/merge.js";
import { renderTopology } from "../import/render.js";
import { IMPORTERS, type Kind } from "../import/run.js";
import type { Fragment, Source } from "../import/types.js";
import type { Network } from "../ir/types.js";
import { parseCidr } from "../net/addr.js";
import { lower } from "../lower/lower.js";
import { loadTopologyText, type Loaded } from "../topology/load.js";
import type { TopologyDoc } from "../topology/schema.js";
import type { SourceRead } from "./sources.js";
import { PodmanRead, type RootlessPort } from "./podman.js";

export interface Model {
  /** The topology, with what was read, assumed and not read at its top. */
  readonly text: string;
  readonly doc?: TopologyDoc;
  readonly loaded?: Loaded;
  readonly net?: Network;
  readonly notes: readonly string[];
  readonly warnings: readonly Diagnostic[];
  /** Errors: the merged topology did not load (then there is no net, and no findings). */
  readonly errors: readonly Diagnostic[];
  /** Which kind of source described each machine, and the outputs it came from. */
  readonly origin: ReadonlyMap<string, { readonly kind: Kind; readonly sources: readonly Source[] }>;
  readonly sources: ReadonlyMap<string, string>;
  /** Containers in network mode host (docker inspect), with the ports they listen on as the host. */
  readonly hostMode: readonly HostMode[];
  /** Rootless Podman's published ports: listeners of the host that lead into a container (podman.ts). */
  readonly rootless: readonly RootlessPort[];
}

export interface HostMode {
  readonly container: string;
  readonly proto: "tcp" | "udp";
  readonly port: number;
}

export const MODEL_FILE = "doctor.yaml";

/** One kind's outputs through its importer, leaving out (with a warning) each output it reports an error in. */
async function importKind(kind: Kind, list: readonly Source[], host: string, warnings: Diagnostic[]) {
  let left = [...list];
  for (;;) {
    if (!left.length) return undefined;
    const r = await IMPORTERS[kind](left, { host });
    const bad = new Set(r.diagnostics.filter((d) => d.severity === "error").map((d) => d.span.file));
    if (!bad.size || ![...bad].some((f) => left.some((s) => s.file === f))) {
      warnings.push(...r.diagnostics.map((d) => (d.severity === "error" ? { ...d, severity: "warning" as const } : d)));
      return r.fragment;
    }
    for (const d of r.diagnostics.filter((x) => x.severity === "error" && bad.has(x.span.file)))
      warnings.push({ ...d, severity: "warning", message: `${d.message} (this output is left out of the topology)` });
    left = left.filter((s) => !bad.has(s.file));
  }
}

/**
 * With the host's own firewall read (iptables-save), Docker's rules are already there: only the
 * containers come from docker inspect, on the segment of the host's interface with their subnet.
 */
function containersOnly(f: Fragment, host: string, hostFragment: Fragment | undefined): Fragment {
  const { [host]: _host, ...machines } = f.machines;
  const mine = Object.values(hostFragment?.machines[host]?.interfaces ?? {});
  const rename = new Map<string, string>();
  for (const [seg, subnet] of Object.entries(f.segments ?? {})) {
    if (typeof subnet !== "string") continue;
    const same = mine.find((i) => (i.addresses ?? []).some((a) => sameSubnet(a, subnet)));
    if (same) rename.set(seg, same.segment);
  }
  const segments = Object.fromEntries(Object.entries(f.segments ?? {}).filter(([k]) => !rename.has(k)));
  for (const [name, m] of Object.entries(machines)) {
    if (!m.interfaces) continue;
    const interfaces = Object.fromEntries(
      Object.entries(m.interfaces).map(([k, i]) => [k, { ...i, segment: rename.get(i.segment) ?? i.segment }]),
    );
    machines[name] = { ...m, interfaces };
  }
  return { ...f, machines, segments, rulesFirst: false };
}

function sameSubnet(addr: string, subnet: string): boolean {
  const a = parseCidr(addr);
  const b = parseCidr(subnet);
  if (!a || !b || a.ip.v !== b.ip.v || a.len !== b.len) return false;
  const bits = BigInt(a.ip.v === 4 ? 32 : 128);
  const mask = ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(a.len))) - 1n);
  return (a.ip.n & mask) === (b.ip.n & mask);
}

/** Processes that listen for a VM's port forward or a published port: their ss line is the forward, not a host service. */
const FORWARDERS = /^(VBoxHeadless|VirtualBoxVM|VirtualBox|VBoxNetNAT|qemu-system-.*|docker-proxy)$/;

/** The host's listeners that are a forward another source describes, left out of the host's services (with a note). */
function withoutForwarders(f: Fragment, host: string, forwards: ReadonlySet<string>, notes: string[]): Fragment {
  const h = f.machines[host];
  if (!h?.services) return f;
  const keep = h.services.filter((s) => {
    const forwarder = FORWARDERS.test(s.name ?? "") && forwards.has(`${s.proto ?? "tcp"}/${s.port}`);
    if (forwarder)
      notes.push(
        `${s.name} listens on ${s.bind ?? "*"}:${s.port}/${s.proto ?? "tcp"} (ss): that is a VM's port forward, modelled as the forward, not as a service of ${host}.`,
      );
    return !forwarder;
  });
  return { ...f, machines: { ...f.machines, [host]: { ...h, services: keep } } };
}

/** tcp/PORT of every port forward of the VMs in `f`. */
function forwardPorts(f: Fragment): string[] {
  return Object.values(f.machines).flatMap((m) =>
    (m.vm?.adapters ?? []).flatMap((a) => (a.mode === "nat" ? (a.forwards ?? []).map((x) => `${x.proto ?? "tcp"}/${x.hostPort}`) : [])),
  );
}

/** The header the doctor adds above the importers' own: what it read and what it did not. */
function header(reads: readonly SourceRead[]): string {
  const read = reads.flatMap((r) => r.inputs.map((i) => i.source.file));
  const unread = reads.flatMap((r) => r.unread);
  const lines = [
    "# Made by `reach doctor` from what this machine's tools report (read-only).",
    `# Read: ${read.length ? read.join("; ") : "nothing"}.`,
    ...(unread.length ? ["# Not read (the topology lacks what these would show):", ...unread.map((u) => `#   - ${u}`)] : []),
  ];
  return lines.join("\n") + "\n";
}

export async function buildModel(reads: readonly SourceRead[], host: string, lan: string): Promise<Model> {
  const warnings: Diagnostic[] = reads.flatMap((r) => r.warnings);
  const notes: string[] = reads.flatMap((r) => r.notes);
  const sources = new Map<string, string>();
  const byKind = new Map<Kind, Source[]>();
  const rootless = reads.flatMap((r) => (r instanceof PodmanRead ? r.rootless : []));
  for (const r of reads) for (const x of r.extra) sources.set(x.file, x.text);
  for (const r of reads)
    for (const i of r.inputs) {
      sources.set(i.source.file, i.source.text);
      byKind.set(i.kind, [...(byKind.get(i.kind) ?? []), i.source]);
    }
  const parts: Part[] = [];
  const hostMode: HostMode[] = [];
  const origin = new Map<string, { kind: Kind; sources: readonly Source[] }>();
  // each QEMU process alone: its VM is named after its process, not after the file `cmdline`
  const groups: [Kind, Source[]][] = [...byKind].flatMap(([kind, list]): [Kind, Source[]][] =>
    kind === "qemu" ? list.map((s): [Kind, Source[]] => [kind, [s]]) : [[kind, list]],
  );
  const fragments: [Kind, Source[], Fragment][] = [];
  for (const [kind, list] of groups) {
    const f = await importKind(kind, list, host, warnings);
    if (f) fragments.push([kind, list, kind === "qemu" ? nameQemuVm(f, list[0]!.file) : f]);
  }
  const hostFragment = fragments.find(([k]) => k === "linux")?.[2];
  const forwards = new Set(fragments.flatMap(([, , f]) => forwardPorts(f)));
  for (const [kind, list, fragment] of fragments) {
    let f = fragment;
    if (kind === "linux") f = withRootless(withHostMode(withoutForwarders(f, host, forwards, notes), host, fragments), host, rootless);
    if (kind === "docker") hostMode.push(...hostModeOf(f, host));
    if (kind === "docker" && hostFragment) {
      f = containersOnly(f, host, hostFragment);
      notes.push(
        "docker: the host's own rules for the published ports come from iptables-save/nft (read); docker inspect gives the containers.",
      );
    }
    for (const m of Object.keys(f.machines))
      if (!origin.has(m) && !(m === host && kind !== "linux")) origin.set(m, { kind, sources: list });
    parts.push({ fragment: f, span: { file: list[0]!.file, line: 1, col: 1 } });
  }
  const merged = mergeParts(parts, { host, lan });
  warnings.push(...merged.diagnostics);
  notes.push(...merged.notes);
  const text =
    header(reads) +
    renderTopology({ doc: merged.doc, command: "reach doctor", notes, warnings: warnings.filter((d) => d.severity === "warning") });
  const base = { text, notes, warnings, origin, sources, hostMode, rootless };
  try {
    const loaded = loadTopologyText(MODEL_FILE, text);
    return { ...base, doc: merged.doc, loaded, net: lower(loaded.topology), errors: [] };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { ...base, errors: e.diagnostics };
  }
}

/** The host with the listeners of containers in network mode host that ss did not show (or was not read). */
function withHostMode(f: Fragment, host: string, fragments: readonly [Kind, Source[], Fragment][]): Fragment {
  const own = f.machines[host];
  if (!own) return f;
  const heard = new Set((own.services ?? []).map((s) => `${s.proto ?? "tcp"}/${s.port}`));
  const extra = fragments
    .filter(([k]) => k === "docker")
    .flatMap(([, , d]) => d.machines[host]?.services ?? [])
    .filter((s) => !heard.has(`${s.proto ?? "tcp"}/${s.port}`));
  return extra.length ? { ...f, machines: { ...f.machines, [host]: { ...own, services: [...(own.services ?? []), ...extra] } } } : f;
}

/** The host with rootless Podman's published ports as its listeners, where ss did not show them (or was not read). */
function withRootless(f: Fragment, host: string, rootless: readonly RootlessPort[]): Fragment {
  const own = f.machines[host];
  if (!own || !rootless.length) return f;
  const heard = new Set((own.services ?? []).map((s) => `${s.proto ?? "tcp"}/${s.port}`));
  const extra = rootless
    .filter((r) => !heard.has(`${r.proto}/${r.hostPort}`))
    .map((r) => ({ name: `${r.mode} for podman ${r.container} ${r.port}/${r.proto}`, proto: r.proto, port: r.hostPort, bind: r.hostIp }));
  return extra.length ? { ...f, machines: { ...f.machines, [host]: { ...own, services: [...(own.services ?? []), ...extra] } } } : f;
}

/** The docker importer's listeners of the host: the containers in network mode host (named "NAME PORT/PROTO (assumed)"). */
function hostModeOf(f: Fragment, host: string): HostMode[] {
  return (f.machines[host]?.services ?? []).flatMap((s) => {
    const m = /^(.+) \d+\/(tcp|udp) \(assumed\)$/.exec(s.name ?? "");
    return m && typeof s.port === "number" ? [{ container: m[1]!, proto: s.proto ?? "tcp", port: s.port }] : [];
  });
}

/** The qemu importer names a VM without -name after its file (`cmdline`): name it after its process (qemu-PID) instead. */
function nameQemuVm(f: Fragment, file: string): Fragment {
  const pid = /(\d+)\/cmdline$/.exec(file)?.[1] ?? "vm";
  const machines: Record<string, Fragment["machines"][string]> = {};
  for (const [name, m] of Object.entries(f.machines)) machines[/^cmdline(-\d+)?$/.test(name) ? `qemu-${pid}${name.slice(7)}` : name] = m;
  return { ...f, machines };
}

/** A diagnostic for a topology that did not come out (kept for the report). */
export const notLoaded = (why: string): Diagnostic =>
  diagnostic("RCH056", { file: MODEL_FILE, line: 1, col: 1 }, why, { severity: "error" });
