/**
 * The topology picture: each physical machine a frame (a Graphviz cluster, a Mermaid subgraph)
 * holding itself, its VMs and the NAT engines it runs; segments as bus nodes (their kind as a
 * line style and a tint); interfaces as links labelled with their addresses; port forwards
 * (VirtualBox relays) and router forwards (DNAT rules) as labelled arrows; listening services
 * with their bind address, and a firewall badge with the policy of each filtered chain.
 */
import { formatEndpoint, formatIP, formatPrefix, isLoopback, sameIP, type IP } from "../net/addr.js";
import type { Machine, Network, Segment } from "../ir/types.js";
import type { Topology } from "../topology/check.js";
import { FONT, GLYPH, graphHead, html, mermaidId, mermaidText, OKABE_ITO, quote, TINT } from "./style.js";

type SegmentKind = NonNullable<Segment["kind"]>;

export interface DrawnMachine {
  readonly name: string;
  readonly kind: Machine["kind"];
  /** `sshd tcp 127.0.0.1:22` */
  readonly services: readonly string[];
  /** `INPUT drop, 3 rules` per filtered chain; empty without a firewall */
  readonly firewall: readonly string[];
}

export interface DrawnSegment {
  readonly name: string;
  readonly kind: SegmentKind;
  /** the kind's word when the segment says more (a NAT run by QEMU, not VirtualBox) */
  readonly word?: string;
  readonly subnets: string;
}

export interface Frame {
  /** the physical machine */
  readonly host: string;
  /** machines drawn inside: the host first, then its VMs and NAT engines in file order */
  readonly machines: readonly string[];
  /** segments every member of which is inside this frame */
  readonly segments: readonly string[];
}

export interface Link {
  readonly machine: string;
  readonly segment: string;
  /** `eth0 10.0.2.15/24` */
  readonly label: string;
}

export interface Forward {
  readonly kind: "port-forward" | "router-forward";
  readonly from: string;
  /** the machine owning the forward's destination (undefined: nobody has that address) */
  readonly to: string | undefined;
  /** `ssh tcp 0.0.0.0:2222 -> 10.0.2.15:22` */
  readonly label: string;
  /** the forward listens on its host's loopback only */
  readonly loopback: boolean;
}

export interface TopologyPicture {
  readonly title: string;
  readonly machines: readonly DrawnMachine[];
  readonly segments: readonly DrawnSegment[];
  readonly frames: readonly Frame[];
  readonly links: readonly Link[];
  readonly forwards: readonly Forward[];
}

/** Which physical machine each VM runs on (from the topology's `vm.on`) and each NAT engine belongs to. */
export function hostsOf(net: Network, topo: Topology): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, m] of Object.entries(topo.doc.machines)) if (m.vm) out.set(name, m.vm.on);
  for (const m of net.machines) if (m.engine) out.set(m.name, m.engine.host);
  return out;
}

const kindWord: Record<Machine["kind"], string> = { host: "machine", vm: "VM", router: "router", "nat-engine": "NAT engine" };

function firewallOf(m: Machine): string[] {
  if (m.kind === "nat-engine") return [];
  const chains = [m.filter.input, m.filter.output, m.filter.forward];
  return chains
    .filter((c) => c.policy === "drop" || c.rules.length > 0)
    .map((c) => `${c.name.toUpperCase()} ${c.policy}${c.rules.length ? `, ${c.rules.length} rule${c.rules.length === 1 ? "" : "s"}` : ""}`);
}

function drawnMachine(m: Machine): DrawnMachine {
  const services = m.sockets
    .filter((s) => s.role.kind === "service")
    .map((s) => `${s.owner} ${s.proto} ${formatEndpoint(s.bind, s.port)}${s.device ? ` dev ${s.device}` : ""}`);
  return { name: m.name, kind: m.kind, services, firewall: firewallOf(m) };
}

/** The user machine that has `ip` on one of its interfaces (NAT engines excluded, they all share 10.0.2.2). */
function ownerOf(net: Network, ip: IP, segments?: ReadonlySet<string>): string | undefined {
  for (const m of net.machines) {
    if (m.kind === "nat-engine") continue;
    for (const i of m.interfaces)
      if ((!segments || (i.segment && segments.has(i.segment))) && i.addrs.some((a) => sameIP(a.ip, ip))) return m.name;
  }
  return undefined;
}

const segmentsOfMachine = (m: Machine | undefined): Set<string> =>
  new Set((m?.interfaces ?? []).flatMap((i) => (i.segment ? [i.segment] : [])));

function portForwards(net: Network): Forward[] {
  const out: Forward[] = [];
  for (const m of net.machines)
    for (const s of m.sockets) {
      if (s.role.kind !== "relay") continue;
      const engine = net.machines.find((e) => e.name === (s.role as { engine: string }).engine);
      const name = /"([^"]+)"/.exec(s.owner)?.[1] ?? s.owner;
      out.push({
        kind: "port-forward",
        from: m.name,
        to: ownerOf(net, s.role.to, segmentsOfMachine(engine)) ?? ownerOf(net, s.role.to),
        label: `${name} ${s.proto} ${formatEndpoint(s.bind, s.port)} -> ${formatEndpoint(s.role.to, s.role.toPort)}`,
        loopback: isLoopback(s.bind),
      });
    }
  return out;
}

function routerForwards(net: Network): Forward[] {
  const out: Forward[] = [];
  for (const m of net.machines) {
    const seen = new Set<string>();
    for (const r of [...m.nat.prerouting, ...m.nat.output]) {
      if (r.action.kind !== "dnat" || r.origin.what.endsWith("(hairpin)")) continue;
      const { match } = r;
      const dport = match.dport ? (match.dport.lo === match.dport.hi ? `${match.dport.lo}` : `${match.dport.lo}-${match.dport.hi}`) : "*";
      const dst = match.dst ? (match.dst.len === (match.dst.v === 4 ? 32 : 128) ? formatIP(match.dst) : formatPrefix(match.dst)) : "*";
      const to = r.action.toPort !== undefined ? formatEndpoint(r.action.to, r.action.toPort) : formatIP(r.action.to);
      const name = /"([^"]+)"/.exec(r.origin.what)?.[1];
      const label = `${name ? `${name} ` : ""}${match.proto ?? "any"} ${dst}:${dport}${match.in ? ` in ${match.in}` : ""} -> ${to}`;
      if (seen.has(label)) continue;
      seen.add(label);
      out.push({ kind: "router-forward", from: m.name, to: ownerOf(net, r.action.to), label, loopback: false });
    }
  }
  return out;
}

/** Frames: one per physical machine, with the VMs and engines it runs, and the segments wholly inside it. */
function framesOf(net: Network, hosts: ReadonlyMap<string, string>, links: readonly Link[]): Frame[] {
  const physical = net.machines.filter((m) => !hosts.has(m.name)).map((m) => m.name);
  const frameOf = (name: string): string | undefined => {
    let at = name;
    for (let i = 0; i < 8 && hosts.has(at); i++) at = hosts.get(at)!;
    return physical.includes(at) ? at : undefined;
  };
  const segFrame = new Map<string, string | null>();
  for (const l of links) {
    const f = frameOf(l.machine) ?? null;
    const prev = segFrame.get(l.segment);
    segFrame.set(l.segment, prev === undefined || prev === f ? f : null);
  }
  return physical.map((host) => ({
    host,
    machines: net.machines.filter((m) => frameOf(m.name) === host).map((m) => m.name),
    segments: net.segments.filter((s) => segFrame.get(s.name) === host).map((s) => s.name),
  }));
}

/** The picture's data: everything drawn, in the IR's (the file's) order. */
export function topologyPicture(net: Network, hosts: ReadonlyMap<string, string>): TopologyPicture {
  const links: Link[] = net.machines.flatMap((m) =>
    m.interfaces.flatMap((i) =>
      i.segment && i.name !== "lo"
        ? [{ machine: m.name, segment: i.segment, label: [i.name, ...i.addrs.map((a) => `${formatIP(a.ip)}/${a.len}`)].join(" ") }]
        : [],
    ),
  );
  return {
    title: net.file,
    machines: net.machines.map(drawnMachine),
    segments: net.segments.map((s) => ({
      name: s.name,
      kind: s.kind ?? "declared",
      ...(qemuSegment(net, s.name) ? { word: "QEMU user network" } : {}),
      subnets: s.subnets.map(formatPrefix).join(" "),
    })),
    frames: framesOf(net, hosts, links),
    links,
    forwards: [...portForwards(net), ...routerForwards(net)],
  };
}

/** Is the segment a NAT adapter's network run by QEMU's user network (libslirp)? */
const qemuSegment = (net: Network, seg: string): boolean =>
  net.machines.some((m) => m.engine?.kind === "qemu" && m.interfaces.some((i) => i.segment === seg));

/** Each segment kind: a word, a tint and a line style (so the kind reads without colour). */
export const SEGMENT_STYLE: Record<SegmentKind, { word: string; fill: string; style: string }> = {
  declared: { word: "LAN", fill: "#FFFFFF", style: "filled,bold" },
  "vbox-nat": { word: "VirtualBox NAT", fill: "#FDF3DC", style: "filled,dashed" },
  "vbox-natnetwork": { word: "NAT Network", fill: "#FDF3DC", style: "filled,bold,dashed" },
  "vbox-hostonly": { word: "host-only", fill: "#E8F4FB", style: "filled,dotted" },
  "vbox-internal": { word: "internal", fill: "#F5E6EF", style: "filled,dashed,rounded" },
};

const MACHINE_STYLE: Record<Machine["kind"], { shape: string; fill: string; style: string }> = {
  host: { shape: "box", fill: TINT.host, style: "filled" },
  vm: { shape: "box", fill: TINT.vm, style: "filled,rounded" },
  router: { shape: "box", fill: TINT.router, style: "filled,diagonals" },
  "nat-engine": { shape: "component", fill: TINT.engine, style: "filled" },
};

const row = (content: string, extra = "") => `<TR><TD ALIGN="LEFT"${extra}>${content}</TD></TR>`;

function machineLabel(m: DrawnMachine): string {
  const rows = [
    row(`<B>${html(m.name)}</B>  <FONT POINT-SIZE="8">${kindWord[m.kind]}</FONT>`),
    ...m.services.map((s) => row(`<FONT POINT-SIZE="9">● ${html(s)}</FONT>`)),
    ...(m.firewall.length
      ? [row(`<FONT POINT-SIZE="9">${GLYPH.firewall} firewall: ${html(m.firewall.join("; "))}</FONT>`, ` BGCOLOR="${OKABE_ITO.yellow}"`)]
      : []),
  ];
  return `<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">${rows.join("")}</TABLE>>`;
}

const nodeId = (name: string) => quote(`m:${name}`);
const segId = (name: string) => quote(`s:${name}`);

function machineNode(m: DrawnMachine, indent: string): string {
  const st = MACHINE_STYLE[m.kind];
  return `${indent}${nodeId(m.name)} [shape=${st.shape}, style=${quote(st.style)}, fillcolor="${st.fill}", label=${machineLabel(m)}];`;
}

function segmentNode(s: DrawnSegment, indent: string): string {
  const st = SEGMENT_STYLE[s.kind];
  const label = `<<B>${html(s.name)}</B>  <FONT POINT-SIZE="9">${html(s.subnets)}  (${s.word ?? st.word})</FONT>>`;
  return `${indent}${segId(s.name)} [shape=box, height=0.25, margin="0.25,0.02", style=${quote(st.style)}, fillcolor="${st.fill}", color="${OKABE_ITO.blue}", penwidth=2, label=${label}];`;
}

/** The picture as Graphviz DOT. */
export function topologyDot(p: TopologyPicture): string {
  const machines = new Map(p.machines.map((m) => [m.name, m]));
  const segments = new Map(p.segments.map((s) => [s.name, s]));
  const framed = new Set(p.frames.flatMap((f) => f.segments));
  const lines = [...graphHead(`topology ${p.title}`, "TB"), `  label=${quote(`${p.title}: topology`)}; labelloc=t;`];
  p.frames.forEach((f, k) => {
    lines.push(
      `  subgraph "cluster_${k}" {`,
      `    label=<<B>${html(f.host)}</B>  <FONT POINT-SIZE="9">physical machine</FONT>>; labeljust=l;`,
      `    style="rounded"; color="#555555"; bgcolor="${TINT.frame}"; fontname=${quote(FONT)};`,
    );
    for (const name of f.machines) lines.push(machineNode(machines.get(name)!, "    "));
    for (const name of f.segments) lines.push(segmentNode(segments.get(name)!, "    "));
    lines.push("  }");
  });
  for (const s of p.segments) if (!framed.has(s.name)) lines.push(segmentNode(s, "  "));
  for (const l of p.links)
    lines.push(`  ${nodeId(l.machine)} -> ${segId(l.segment)} [dir=none, label=${quote(l.label)}, color="${OKABE_ITO.blue}"];`);
  for (const f of p.forwards) {
    if (!f.to) continue;
    const colour = f.kind === "port-forward" ? OKABE_ITO.vermillion : OKABE_ITO.purple;
    const style = f.loopback ? "bold,dotted" : f.kind === "port-forward" ? "bold" : "bold,dashed";
    const label = `${GLYPH.forward} ${f.label}${f.loopback ? " (host loopback only)" : ""}`;
    lines.push(
      `  ${nodeId(f.from)} -> ${nodeId(f.to)} [style=${quote(style)}, color="${colour}", fontcolor="${colour}", constraint=false, label=${quote(label)}];`,
    );
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** The picture as a Mermaid flowchart (GitHub renders it in issues and pull requests). */
export function topologyMermaid(p: TopologyPicture): string {
  const machines = new Map(p.machines.map((m) => [m.name, m]));
  const segments = new Map(p.segments.map((s) => [s.name, s]));
  const framed = new Set(p.frames.flatMap((f) => f.segments));
  const mNode = (m: DrawnMachine) => {
    const body = [`<b>${mermaidText(m.name)}</b> ${kindWord[m.kind]}`, ...m.services.map((s) => `● ${mermaidText(s)}`)];
    if (m.firewall.length) body.push(`${GLYPH.firewall} firewall: ${mermaidText(m.firewall.join("; "))}`);
    const text = `"${body.join("<br/>")}"`;
    const id = mermaidId("m", m.name);
    return m.kind === "vm" ? `${id}(${text})` : m.kind === "router" ? `${id}{{${text}}}` : `${id}[${text}]`;
  };
  const sNode = (s: DrawnSegment) =>
    `${mermaidId("s", s.name)}[/"${mermaidText(`${s.name} ${s.subnets} (${s.word ?? SEGMENT_STYLE[s.kind].word})`)}"/]`;
  const lines = ["flowchart TB"];
  p.frames.forEach((f, k) => {
    lines.push(`  subgraph F${k}["${mermaidText(f.host)} (physical machine)"]`);
    for (const name of f.machines) lines.push(`    ${mNode(machines.get(name)!)}`);
    for (const name of f.segments) lines.push(`    ${sNode(segments.get(name)!)}`);
    lines.push("  end");
  });
  for (const s of p.segments) if (!framed.has(s.name)) lines.push(`  ${sNode(s)}`);
  for (const l of p.links) lines.push(`  ${mermaidId("m", l.machine)} ---|"${mermaidText(l.label)}"| ${mermaidId("s", l.segment)}`);
  for (const f of p.forwards) {
    if (!f.to) continue;
    const arrow = f.loopback || f.kind === "router-forward" ? "-.->" : "==>";
    lines.push(
      `  ${mermaidId("m", f.from)} ${arrow}|"${mermaidText(`${f.label}${f.loopback ? " (host loopback only)" : ""}`)}"| ${mermaidId("m", f.to)}`,
    );
  }
  return lines.join("\n") + "\n";
}
