/**
 * The repair space of `reach fix`: the edits of the user's topology that can
 * change a query's verdict, grouped into slots. A slot is one place in the file
 * (a service's bind address, a forward, a firewall chain, an adapter's mode, a
 * route, ip_forward) with its alternatives; a candidate repair picks at most
 * one alternative per slot. The space is sliced to the query: only the machines
 * the connection involves (the client, the target, the target's host, the
 * machines that forward) get slots.
 *
 * Edits are paths into the document with an operation, so that the same edit
 * applies to the parsed data (to check a candidate) and to the user's YAML
 * (`--write`, which keeps comments and formatting).
 */
import { isSeq, type Document } from "yaml";
import { formatIP, isLoopback, nextFree, parseCidr, prefixOf, type IP } from "../net/addr.js";
import type { Network } from "../ir/types.js";
import type { Query } from "../ir/query.js";
import type { AdapterDoc, MachineDoc, TopologyDoc } from "../topology/schema.js";

export type Path = readonly (string | number)[];

export type Edit =
  | { readonly op: "set"; readonly path: Path; readonly value: unknown; readonly was?: unknown }
  | { readonly op: "delete"; readonly path: Path; readonly was: unknown }
  /** Insert at the top of a list (a firewall rule that must come first), creating the list if needed. */
  | { readonly op: "prepend"; readonly path: Path; readonly value: unknown }
  /** Append to a list, creating it if needed. */
  | { readonly op: "append"; readonly path: Path; readonly value: unknown };

export interface Alternative {
  readonly edit: Edit;
  /** e.g. "bind 127.0.0.1 -> 0.0.0.0" */
  readonly text: string;
}

export interface Slot {
  /** e.g. "machines.guest.services[0] (nginx)" */
  readonly where: string;
  readonly alternatives: readonly Alternative[];
}

export const pathText = (p: Path): string => p.map((x, i) => (typeof x === "number" ? `[${x}]` : i ? `.${x}` : x)).join("");

const show = (v: unknown): string => (v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v));

function addressesOf(net: Network, machine: string): IP[] {
  return (net.machines.find((m) => m.name === machine)?.interfaces ?? [])
    .flatMap((i) => i.addrs.map((a) => a.ip))
    .filter((ip) => !isLoopback(ip));
}

/** A host port for a new forward: the guest port when unprivileged, else 8000 + port; the next free one. */
function freeHostPort(doc: TopologyDoc, host: string, guestPort: number): number {
  const used = new Set<number>();
  for (const m of Object.values(doc.machines)) {
    if (m.vm?.on !== host) continue;
    for (const a of m.vm.adapters) if (a.mode === "nat") for (const f of a.forwards ?? []) used.add(Number(f.hostPort));
  }
  for (const s of doc.machines[host]?.services ?? []) used.add(Number(s.port));
  let p = guestPort >= 1024 ? guestPort : 8000 + guestPort;
  while (used.has(p)) p++;
  return p;
}

/** The query as the repair space sees it: the target machine (by name or by address), its document, and the port asked for. */
interface Sliced {
  readonly doc: TopologyDoc;
  readonly net: Network;
  readonly q: Query;
  readonly target: string | undefined;
  readonly tm: MachineDoc | undefined;
  readonly port: number | undefined;
  /** undefined for ICMP */
  readonly proto: "tcp" | "udp" | undefined;
  readonly reachable: boolean;
}

/** Every slot for making `q` reachable or unreachable in `doc` (lowered as `net`). */
export function repairSpace(doc: TopologyDoc, net: Network, q: Query, want: "reachable" | "unreachable"): Slot[] {
  const target =
    q.target.kind === "machine"
      ? q.target.machine
      : net.machines.find(
          (m) =>
            q.target.kind === "address" &&
            m.interfaces.some((i) =>
              i.addrs.some((a) => a.ip.v === (q.target as { ip: IP }).ip.v && a.ip.n === (q.target as { ip: IP }).ip.n),
            ),
        )?.name;
  const s: Sliced = {
    doc,
    net,
    q,
    target,
    tm: target ? doc.machines[target] : undefined,
    port: q.port,
    proto: q.proto === "icmp" ? undefined : q.proto,
    reachable: want === "reachable",
  };
  const slots = [...bindSlots(s), ...forwardSlots(s), ...adapterModeSlots(s), ...firewallSlots(s)];
  if (s.reachable) slots.push(...ipForwardSlots(s), ...defaultRouteSlots(s));
  return slots.filter((x) => x.alternatives.length);
}

/** The target's listening sockets on the port: bind address, or a new service. */
function bindSlots({ net, target, tm, port, proto, reachable }: Sliced): Slot[] {
  if (!target || !tm || port === undefined || !proto) return [];
  const slots: Slot[] = [];
  const mine = (tm.services ?? []).map((s, i) => ({ s, i })).filter(({ s }) => (s.proto ?? "tcp") === proto && Number(s.port) === port);
  const binds = reachable ? ["0.0.0.0", "::", ...addressesOf(net, target).map(formatIP)] : ["127.0.0.1"];
  for (const { s, i } of mine) {
    const path = ["machines", target, "services", i, "bind"];
    const now = s.bind ?? "0.0.0.0";
    slots.push({
      where: `${pathText(["machines", target, "services", i])}${s.name ? ` (${s.name})` : ""}`,
      alternatives: [...new Set(binds)]
        .filter((b) => b !== now)
        .map((b) => ({ edit: { op: "set", path, value: b, was: s.bind }, text: `bind: ${show(s.bind ?? "0.0.0.0")} -> ${b}` })),
    });
  }
  if (!mine.length && reachable) {
    const value = { name: `${proto}-${port}`, proto, port };
    slots.push({
      where: pathText(["machines", target, "services"]),
      alternatives: [
        {
          edit: { op: "append", path: ["machines", target, "services"], value },
          text: `add a service listening on ${port}/${proto} (all addresses)`,
        },
      ],
    });
  }
  return slots;
}

/** The target VM's NAT forwards to that port: open, narrow or remove them, or add one. */
function forwardSlots({ doc, target, tm, port, proto, reachable }: Sliced): Slot[] {
  if (!target || !tm?.vm || port === undefined || !proto) return [];
  const vm = tm.vm;
  const slots: Slot[] = [];
  vm.adapters.forEach((a: AdapterDoc, k) => {
    if (a.mode !== "nat") return;
    const base = ["machines", target, "vm", "adapters", k];
    const forwards = (a.forwards ?? [])
      .map((f, j) => ({ f, j }))
      .filter(({ f }) => (f.proto ?? "tcp") === proto && Number(f.guestPort) === port);
    for (const { f, j } of forwards) {
      const path = [...base, "forwards", j];
      const alts: Alternative[] = [];
      if (reachable && f.hostIp !== undefined && f.hostIp !== "" && f.hostIp !== "0.0.0.0")
        alts.push({
          edit: { op: "delete", path: [...path, "hostIp"], was: f.hostIp },
          text: `hostIp: ${f.hostIp} -> (empty: every host address)`,
        });
      if (!reachable && f.hostIp !== "127.0.0.1")
        alts.push({
          edit: { op: "set", path: [...path, "hostIp"], value: "127.0.0.1", was: f.hostIp },
          text: `hostIp: ${show(f.hostIp ?? "(empty)")} -> 127.0.0.1 (the host only)`,
        });
      if (!reachable)
        alts.push({ edit: { op: "delete", path, was: f }, text: `remove forward ${f.name ?? `${f.hostPort} -> ${f.guestPort}`}` });
      if (alts.length) slots.push({ where: `${pathText(path)}${f.name ? ` (forward ${f.name})` : ""}`, alternatives: alts });
    }
    if (!forwards.length && reachable) {
      const value = { name: `${proto}-${port}`, proto, hostPort: freeHostPort(doc, vm.on, port), guestPort: port };
      slots.push({
        where: pathText([...base, "forwards"]),
        alternatives: [
          {
            edit: { op: "append", path: [...base, "forwards"], value },
            text: `add forward ${proto} host ${value.hostPort} -> guest ${port}`,
          },
        ],
      });
    }
  });
  return slots;
}

/** The target VM's first adapter bridged instead of NAT, onto the host's first LAN interface. */
function adapterModeSlots({ doc, net, target, tm, port, proto, reachable }: Sliced): Slot[] {
  if (!target || !tm?.vm || port === undefined || !proto) return [];
  const host = doc.machines[tm.vm.on];
  const hostIf = Object.entries(host?.interfaces ?? {})[0];
  const first = tm.vm.adapters[0];
  if (!reachable || first?.mode !== "nat" || !hostIf) return [];
  const [ifName, iface] = hostIf;
  const cidr = iface.addresses?.find((x) => !x.includes(":"));
  const free = cidr ? freeAddress(cidr, net) : undefined;
  if (!free) return [];
  const value = { mode: "bridged", bridge: ifName, addresses: [free] };
  return [
    {
      where: pathText(["machines", target, "vm", "adapters", 0]),
      alternatives: [
        {
          edit: { op: "set", path: ["machines", target, "vm", "adapters", 0], value, was: first },
          text: `mode nat -> bridged on ${ifName} as ${free}`,
        },
      ],
    },
  ];
}

/** Firewalls of the machines involved: the target and its host (input), the client (output), forwarders (forward). */
function firewallSlots({ doc, net, q, target, tm, port, proto, reachable }: Sliced): Slot[] {
  const slots: Slot[] = [];
  const involved = new Set<string>([q.from, ...(target ? [target] : []), ...(tm?.vm ? [tm.vm.on] : [])]);
  const forwarders = net.machines.filter((m) => m.ipForward && m.kind !== "nat-engine").map((m) => m.name);
  for (const name of [...involved, ...forwarders]) {
    const m = doc.machines[name];
    if (!m) continue;
    const chains: ("input" | "output" | "forward")[] = [];
    if (name === target || name === tm?.vm?.on) chains.push("input");
    if (name === q.from) chains.push("output");
    if (forwarders.includes(name)) chains.push("forward");
    for (const c of chains) {
      const chain = m.firewall?.[c];
      const base = ["machines", name, "firewall", c];
      const alts: Alternative[] = [];
      if (reachable) {
        (chain?.rules ?? []).forEach((r, i) => {
          if (r.action === "accept") return;
          if (r.proto && proto && r.proto !== proto) return;
          alts.push({
            edit: { op: "delete", path: [...base, "rules", i], was: r },
            text: `remove ${c} rule ${i + 1} (${r.action}${r.proto ? ` ${r.proto}` : ""}${r.dport !== undefined ? ` dport ${r.dport}` : ""})`,
          });
        });
        if (chain?.policy === "drop")
          alts.push({ edit: { op: "set", path: [...base, "policy"], value: "accept", was: "drop" }, text: `${c} policy: drop -> accept` });
      } else if (name === target && c === "input" && proto && port !== undefined) {
        const value = { action: "drop", proto, dport: port };
        alts.push({
          edit: { op: "prepend", path: [...base, "rules"], value },
          text: `add an input rule first: drop ${proto} dport ${port}`,
        });
      }
      if (alts.length) slots.push({ where: pathText(base), alternatives: alts });
    }
  }
  return slots;
}

/** ip_forward on for every host with two networks that does not forward yet. */
function ipForwardSlots({ doc, net }: Sliced): Slot[] {
  const slots: Slot[] = [];
  for (const name of net.machines
    .filter((m) => m.kind === "host" && !m.ipForward && m.interfaces.filter((i) => i.segment).length > 1)
    .map((m) => m.name)) {
    if (doc.machines[name])
      slots.push({
        where: pathText(["machines", name, "ip_forward"]),
        alternatives: [
          {
            edit: { op: "set", path: ["machines", name, "ip_forward"], value: true, was: doc.machines[name]!.ip_forward },
            text: "ip_forward: false -> true",
          },
        ],
      });
  }
  return slots;
}

/** The client and the target without a default route: one through a neighbour that forwards (or could: a host with two networks). */
function defaultRouteSlots({ doc, net, q, target }: Sliced): Slot[] {
  const slots: Slot[] = [];
  for (const name of new Set([q.from, ...(target ? [target] : [])])) {
    const md = doc.machines[name];
    const m = net.machines.find((x) => x.name === name);
    if (!md?.interfaces || !m || m.routes.some((r) => r.dst.len === 0 && r.dst.v === 4)) continue;
    const mine = m.interfaces.filter((i) => i.segment);
    const gateways = net.machines
      .filter((x) => x.name !== name && x.kind !== "nat-engine" && (x.ipForward || x.interfaces.filter((i) => i.segment).length > 1))
      .flatMap((x) =>
        x.interfaces
          .filter((i) => i.segment && mine.some((j) => j.segment === i.segment))
          .flatMap((i) => i.addrs.filter((a) => a.ip.v === 4).map((a) => ({ via: formatIP(a.ip), owner: x.name }))),
      )
      .slice(0, 4);
    if (gateways.length)
      slots.push({
        where: pathText(["machines", name, "routes"]),
        alternatives: gateways.map((g) => ({
          edit: { op: "append", path: ["machines", name, "routes"], value: { to: "default", via: g.via } },
          text: `add route default via ${g.via} (${g.owner})`,
        })),
      });
  }
  return slots;
}

/** An address of `cidr`'s subnet (IPv4, /24 or wider) that no machine uses, from .100 up, as CIDR text. */
function freeAddress(cidr: string, net: Network): string | undefined {
  const c = parseCidr(cidr);
  if (!c || c.ip.v !== 4 || c.len > 24) return undefined;
  const used = net.machines.flatMap((m) => m.interfaces.flatMap((i) => i.addrs.map((a) => a.ip)));
  return nextFree(prefixOf(c.ip, c.len), 100, used);
}

/**
 * The document with the edits applied, the given one untouched: the mappings and lists on an
 * edit's path are copied (once each), everything else is shared with `doc`, so a candidate of a
 * 10,000-machine file costs its edits, not a copy of the file. The result is for reading only
 * (serialising, comparing): writing into a shared part would write into `doc`.
 */
export function applyToData(doc: TopologyDoc, edits: readonly Edit[]): TopologyDoc {
  const copied = new Set<object>();
  const own = <T extends object>(node: T): T => {
    const c = (Array.isArray(node) ? [...node] : { ...node }) as T;
    copied.add(c);
    return c;
  };
  const out = own(doc as unknown as Record<string | number, unknown>);
  for (const e of ordered(edits)) {
    const last = e.path[e.path.length - 1]!;
    let node = out;
    for (const k of e.path.slice(0, -1)) {
      const child = node[k];
      const mine = child !== null && typeof child === "object" ? (copied.has(child) ? child : own(child)) : own({});
      node = node[k] = mine as Record<string | number, unknown>;
    }
    if (e.op === "set") node[last] = structuredClone(e.value);
    else if (e.op === "delete") {
      if (Array.isArray(node)) node.splice(last as number, 1);
      else delete node[last];
    } else {
      const list = Array.isArray(node[last]) ? (node[last] as unknown[]) : [];
      node[last] = e.op === "prepend" ? [structuredClone(e.value), ...list] : [...list, structuredClone(e.value)];
    }
  }
  return out as unknown as TopologyDoc;
}

/** Applies edits to the user's YAML document in place, keeping its comments and layout. */
export function applyToYaml(doc: Document, edits: readonly Edit[]): void {
  for (const e of ordered(edits)) {
    if (e.op === "set") doc.setIn(e.path, doc.createNode(e.value));
    else if (e.op === "delete") doc.deleteIn(e.path);
    else {
      const list = doc.getIn(e.path, true);
      if (isSeq(list)) {
        if (e.op === "prepend") list.items.unshift(doc.createNode(e.value));
        else list.items.push(doc.createNode(e.value));
      } else doc.setIn(e.path, doc.createNode([e.value]));
    }
  }
}

/** Sets and list inserts first, then deletions from the highest index down, so that no edit moves another's target. */
export function ordered(edits: readonly Edit[]): Edit[] {
  const del = edits
    .filter((e) => e.op === "delete")
    .sort((a, b) => {
      const x = a.path[a.path.length - 1];
      const y = b.path[b.path.length - 1];
      return typeof x === "number" && typeof y === "number" ? y - x : 0;
    });
  return [...edits.filter((e) => e.op === "set"), ...edits.filter((e) => e.op === "append" || e.op === "prepend"), ...del];
}
