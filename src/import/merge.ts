/**
 * Merging imported fragments (and optionally the user's own topology) into one
 * topology document, then completing what every importer leaves open:
 *
 * - the host scaffold: a hypervisor host whose interfaces no input described
 *   gets one on a LAN segment, plus a machine `lan` standing for another LAN
 *   machine, so that "is my VM exposed to the LAN?" can be asked at once;
 * - addresses the inputs do not know (`addresses: []`: a bridged adapter's DHCP
 *   lease, a NAT Network lease, an internal network configured inside the guest).
 *
 * Every completion is written down as a note (or, where nothing in the inputs
 * supports it, an RCH051 warning), never silently.
 */
import { isDeepStrictEqual } from "node:util";
import { diagnostic, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import { formatIP, formatPrefix, nextFree, parseCidr, prefixContains, prefixOf, type IP, type Prefix } from "../net/addr.js";
import type { AdapterDoc, ChainDoc, MachineDoc, TopologyDoc } from "../topology/schema.js";
import { DEFAULT_NATNETWORK } from "../topology/vbox.js";
import type { Fragment } from "./types.js";
import { MACHINE_NAME } from "../ir/query.js";

export interface Part {
  readonly fragment: Fragment;
  /** Where conflicts involving this part are reported (its first input file). */
  readonly span: Span;
}

export interface MergeOptions {
  readonly host: string;
  /** The LAN the scaffold puts the host on (default 192.168.1.0/24). */
  readonly lan: string;
}

export interface Merged {
  readonly doc: TopologyDoc;
  readonly notes: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

type Chains = NonNullable<MachineDoc["firewall"]>;
const CHAINS = ["input", "output", "forward"] as const;

/** Keys whose values must agree when two inputs both set them. */
const SCALARS = ["ip_forward", "rp_filter", "route_localnet", "vm", "router", "docker"] as const;

class Merger {
  readonly machines: Record<string, MachineDoc> = {};
  readonly segments: NonNullable<TopologyDoc["segments"]> = {};
  readonly natnetworks: NonNullable<TopologyDoc["natnetworks"]> = {};
  readonly diagnostics: Diagnostic[] = [];
  /** Hosts whose own interfaces an input described (a Linux snapshot, or the user's --into file). */
  readonly described = new Set<string>();
  readonly notes: string[] = [];

  private conflict(span: Span, what: string, kept: unknown, other: unknown): void {
    this.diagnostics.push(
      diagnostic("RCH053", span, `${what} differs between inputs: kept ${JSON.stringify(kept)}, not ${JSON.stringify(other)}`, {
        expected: "inputs that agree (or edit the result by hand)",
        severity: "warning",
      }),
    );
  }

  /** Adds `value` under `key` of a record, or checks that it agrees with what is there. */
  private put<T>(into: Record<string, T>, key: string, value: T, span: Span, what: string): void {
    const had = into[key];
    if (had === undefined) into[key] = value;
    else if (!isDeepStrictEqual(had, value)) this.conflict(span, `${what} ${key}`, had, value);
  }

  add(part: Part): void {
    const { fragment: f, span } = part;
    for (const [k, v] of Object.entries(f.segments ?? {})) this.put(this.segments, k, v, span, "segment");
    for (const [k, v] of Object.entries(f.natnetworks ?? {})) {
      const had = this.natnetworks[k];
      if (!had) this.natnetworks[k] = structuredClone(v);
      else {
        if ((had.network ?? DEFAULT_NATNETWORK) !== (v.network ?? DEFAULT_NATNETWORK))
          this.conflict(span, `NAT network ${k}'s network`, had.network, v.network);
        const forwards = [
          ...(had.forwards ?? []),
          ...(v.forwards ?? []).filter((x) => !(had.forwards ?? []).some((y) => isDeepStrictEqual(x, y))),
        ];
        this.natnetworks[k] = { ...had, ...(forwards.length ? { forwards } : {}) };
      }
    }
    for (const [name, m] of Object.entries(f.machines)) this.machine(name, m, span, f.rulesFirst === true);
    if (f.describesHost)
      for (const [name, m] of Object.entries(f.machines)) if (m.interfaces && Object.keys(m.interfaces).length) this.described.add(name);
  }

  private machine(name: string, m: MachineDoc, span: Span, first: boolean): void {
    const had = this.machines[name];
    if (!had) {
      this.machines[name] = structuredClone(m);
      return;
    }
    const out: MachineDoc = { ...had };
    if (m.description && m.description !== had.description)
      out.description = had.description ? `${had.description} ${m.description}` : m.description;
    for (const k of SCALARS) {
      if (m[k] === undefined) continue;
      if (had[k] === undefined) (out as Record<string, unknown>)[k] = structuredClone(m[k]);
      else if (!isDeepStrictEqual(had[k], m[k])) this.conflict(span, `${name}.${k}`, had[k], m[k]);
    }
    if (m.interfaces) {
      out.interfaces = { ...had.interfaces };
      for (const [k, v] of Object.entries(m.interfaces)) this.put(out.interfaces, k, v, span, `${name}: interface`);
    }
    if (m.hostonly) {
      out.hostonly = { ...had.hostonly };
      for (const [k, v] of Object.entries(m.hostonly)) this.put(out.hostonly, k, v, span, `${name}: host-only network`);
    }
    const union = <T>(a: readonly T[] | undefined, b: readonly T[] | undefined, same: (x: T, y: T) => boolean): T[] | undefined =>
      a || b ? [...(a ?? []), ...(b ?? []).filter((y) => !(a ?? []).some((x) => same(x, y)))] : undefined;
    const routes = union(had.routes, m.routes, isDeepStrictEqual);
    if (routes) out.routes = routes;
    // One listener per (proto, bind, port, device): the first input to name it wins.
    const services = union(
      had.services,
      m.services,
      (x, y) =>
        (x.proto ?? "tcp") === (y.proto ?? "tcp") &&
        String(x.port) === String(y.port) &&
        (x.bind ?? "") === (y.bind ?? "") &&
        x.device === y.device,
    );
    // A relay process (docker-proxy) is the listener a host's `ss` output shows on its port: the relay wins.
    const relays = union(had.relays, m.relays, isDeepStrictEqual);
    const listenKey = (x: { proto?: string; port: number | string; bind?: string }) =>
      `${x.proto ?? "tcp"} ${x.bind === undefined || x.bind === "*" ? "0.0.0.0" : x.bind} ${String(x.port)}`;
    const relayed = new Set((relays ?? []).map(listenKey));
    if (relays) out.relays = relays;
    if (services) out.services = services.filter((s) => !relayed.has(listenKey(s)));
    if (out.services && !out.services.length) delete out.services;
    // NAT and filter rules keep input order (earlier inputs' rules first), except Docker's, which it inserts at the top
    const nat = first ? union(m.nat, had.nat, () => false) : union(had.nat, m.nat, () => false);
    if (nat) out.nat = nat;
    if (m.firewall)
      out.firewall = first
        ? this.firewall(name, m.firewall, had.firewall ?? {}, span, true)
        : this.firewall(name, had.firewall ?? {}, m.firewall, span, false);
    this.machines[name] = out;
  }

  /** a's rules, then b's; the policy is a's, unless b is the one inserted first (`bWins`: Docker's policy is the one in force). */
  private firewall(name: string, a: Chains, b: Chains, span: Span, aInserted: boolean): Chains {
    const out: Chains = { ...a };
    for (const c of CHAINS) {
      const x = a[c];
      const y = b[c];
      if (!y) continue;
      if (!x) {
        out[c] = structuredClone(y);
        continue;
      }
      let policy = x.policy ?? y.policy;
      if (x.policy !== undefined && y.policy !== undefined && x.policy !== y.policy) {
        if (aInserted)
          this.notes.push(
            `${name}: the ${c} chain's policy is ${x.policy}, as Docker sets it when it starts (the other input said ${y.policy}).`,
          );
        else this.conflict(span, `${name}: the ${c} chain's policy`, x.policy, y.policy);
        policy = x.policy;
      }
      const chain: ChainDoc = { ...(policy ? { policy } : {}), rules: [...(x.rules ?? []), ...(y.rules ?? [])] };
      out[c] = chain;
    }
    // chains in the order people write them
    return Object.fromEntries(CHAINS.flatMap((c) => (out[c] ? [[c, out[c]]] : []))) as Chains;
  }
}

/** Every address written anywhere in the document, to keep completions from reusing one. */
function usedAddresses(doc: TopologyDoc): IP[] {
  const out: IP[] = [];
  const take = (s: string) => {
    const c = parseCidr(s);
    if (c) out.push(c.ip);
  };
  for (const m of Object.values(doc.machines)) {
    for (const i of Object.values(m.interfaces ?? {})) (i.addresses ?? []).forEach(take);
    for (const h of Object.values(m.hostonly ?? {})) h.addresses.forEach(take);
    for (const a of m.vm?.adapters ?? []) if ("addresses" in a) (a.addresses ?? []).forEach(take);
  }
  return out;
}

function subnetOf(text: string): Prefix | undefined {
  const c = parseCidr(text);
  return c ? prefixOf(c.ip, c.len) : undefined;
}

/**
 * The LAN the scaffold assumes: `--lan`, unless static addresses the inputs give machines on the
 * LAN (a Vagrant public_network's ip) lie outside it; then the LAN is the smallest prefix holding
 * all their subnets, stated as an assumption at the first address outside `--lan` (a prefix
 * shorter than /8 is not assumed: the addresses are then left to the topology check).
 */
function lanFor(
  given: string,
  statics: readonly { readonly address: string; readonly at: string }[],
  notes: string[],
  assumed: { at: string; what: string }[],
): string {
  const lan = subnetOf(given)!;
  const nets = statics.flatMap((s) => {
    const p = subnetOf(s.address);
    return p && p.v === 4 ? [{ ...s, p }] : [];
  });
  const outside = nets.find((s) => !prefixContains(lan, s.p));
  if (!outside) return given;
  let len = Math.min(...nets.map((s) => s.p.len));
  while (len >= 8 && !nets.every((s) => prefixOf({ v: 4, n: s.p.n }, len).n === prefixOf({ v: 4, n: outside.p.n }, len).n)) len--;
  if (len < 8) return given;
  const widened = formatPrefix(prefixOf({ v: 4, n: outside.p.n }, len));
  const what = `the LAN is assumed to be ${widened}, which holds the static address ${outside.address} (outside --lan ${given}); name the LAN with --lan if it is wider`;
  notes.push(`${outside.at}: ${what}.`);
  assumed.push({ at: outside.at, what });
  return widened;
}

/**
 * The host scaffold: a host that runs VMs (or has host-only networks) but whose
 * interfaces no input gave is put on a LAN, with one interface per bridged
 * adapter's host interface (or eth0), and a machine `lan` joins that LAN.
 */
function scaffold(doc: TopologyDoc, o: MergeOptions, notes: string[], used: IP[], described: ReadonlySet<string>): void {
  const hosts = new Set(Object.values(doc.machines).flatMap((m) => (m.vm ? [m.vm.on] : [])));
  if (doc.machines[o.host]) hosts.add(o.host);
  const lan = subnetOf(o.lan)!;
  for (const host of hosts) {
    const h = (doc.machines[host] ??= {});
    // interfaces the importers made for the host's own virtual networks (docker0, virbr0: segments named
    // "<host>/...") say nothing about where the host itself is
    if (described.has(host) || Object.values(h.interfaces ?? {}).some((i) => !i.segment.startsWith(`${host}/`))) {
      lanPeer(doc, host, notes, used);
      continue;
    }
    const bridges = [
      ...new Set(
        Object.values(doc.machines).flatMap((m) =>
          m.vm?.on === host ? m.vm.adapters.flatMap((a) => (a.mode === "bridged" ? [a.bridge] : [])) : [],
        ),
      ),
    ];
    const names = bridges.length ? bridges : ["eth0"];
    doc.segments ??= {};
    const segment =
      doc.segments["lan"] === undefined
        ? "lan"
        : typeof doc.segments["lan"] === "string" && subnetOf(doc.segments["lan"])?.n === lan.n
          ? "lan"
          : `${host}-lan`;
    doc.segments[segment] ??= o.lan;
    h.interfaces ??= {};
    const added = names.filter((n) => !h.interfaces![n]);
    for (const n of added) h.interfaces[n] = { segment, addresses: [nextFree(lan, 10, used)!] };
    const addrs = added.map((n) => `${n} ${h.interfaces![n]!.addresses![0]}`).join(", ");
    notes.push(
      `No input described ${host}'s own interfaces: assumed ${addrs} on segment ${segment} (${o.lan}; change it with --lan or edit the file).`,
    );
    const peer = doc.machines["lan"] ? undefined : "lan";
    if (peer) {
      const addr = nextFree(lan, 20, used)!;
      doc.machines[peer] = {
        description: "Another machine on the LAN (added by reach import), to ask what the LAN can reach.",
        interfaces: { eth0: { segment, addresses: [addr] } },
      };
      notes.push(
        `Added machine lan (${addr} on segment ${segment}) standing for any other machine on the LAN: ask e.g. \`reach exposure FILE --from lan\`.`,
      );
    }
  }
}

/**
 * A host whose own interfaces are known (a snapshot) and which is alone on segment `lan` gets
 * a machine `lan` beside it, standing for any other LAN machine.
 */
function lanPeer(doc: TopologyDoc, host: string, notes: string[], used: IP[]): void {
  if (doc.machines["lan"]) return;
  const mine = Object.values(doc.machines[host]?.interfaces ?? {}).find((i) => i.segment === "lan");
  const others = Object.entries(doc.machines).some(
    ([n, m]) => n !== host && Object.values(m.interfaces ?? {}).some((i) => i.segment === "lan"),
  );
  const p = mine?.addresses?.map(subnetOf).find((x) => x?.v === 4);
  if (!mine || others || !p) return;
  const addr = nextFree(p, 20, used);
  if (!addr) return;
  doc.machines["lan"] = {
    description: "Another machine on the LAN (added by reach import), to ask what the LAN can reach.",
    interfaces: { eth0: { segment: "lan", addresses: [addr] } },
  };
  notes.push(
    `Added machine lan (${addr} on segment lan) standing for any other machine on ${host}'s LAN: ask e.g. \`reach exposure FILE --from lan\`.`,
  );
}

/** Fills adapters whose addresses the inputs did not know (`addresses: []`). */
function assignAddresses(doc: TopologyDoc, notes: string[], diagnostics: Diagnostic[], used: IP[], span: Span): void {
  // which VMs of each NAT Network had no address in the inputs, before any is filled in
  const unknownOn = new Map<string, MachineDoc[]>();
  for (const m of Object.values(doc.machines))
    for (const a of m.vm?.adapters ?? [])
      if (a.mode === "natnetwork" && !a.addresses.length) unknownOn.set(a.network, [...(unknownOn.get(a.network) ?? []), m]);
  for (const [name, m] of Object.entries(doc.machines)) {
    m.vm?.adapters.forEach((a: AdapterDoc, slot) => {
      if (!("addresses" in a) || !a.addresses || a.addresses.length) return;
      const where = `${name}'s adapter ${slot + 1} (${a.mode})`;
      if (a.mode === "bridged") {
        const hostIf = doc.machines[m.vm!.on]?.interfaces?.[a.bridge];
        const p = hostIf?.addresses?.map(subnetOf).find((x) => x?.v === 4);
        const addr = p && nextFree(p, 100, used);
        if (addr) {
          a.addresses = [addr];
          notes.push(`${where}: its LAN address comes from the LAN's DHCP server and is not in the inputs: assumed ${addr}.`);
          return;
        }
      } else if (a.mode === "natnetwork") {
        const p = subnetOf(doc.natnetworks?.[a.network]?.network ?? DEFAULT_NATNETWORK);
        // a forward's guest IP names a VM of the network: the one VM whose address is unknown, if there is one
        const unknown = unknownOn.get(a.network) ?? [];
        const named = (doc.natnetworks?.[a.network]?.forwards ?? [])
          .map((f) => f.guestIp)
          .filter((g): g is string => !!g && !used.some((u) => formatIP(u) === g));
        const fromForward = unknown.length === 1 && p && named[0] ? `${named[0]}/${p.len}` : undefined;
        if (fromForward) used.push(parseCidr(fromForward)!.ip);
        const addr = fromForward ?? (p && nextFree(p, 4, used));
        if (addr) {
          a.addresses = [addr];
          notes.push(`${where}: its address comes from NAT Network ${a.network}'s DHCP server: assumed ${addr}.`);
          return;
        }
      } else if (a.mode === "internal") {
        // VirtualBox runs no DHCP server on internal networks: the guest configures the address.
        const net = a.network ?? "intnet";
        const peers = Object.values(doc.machines).flatMap(
          (x) => x.vm?.adapters.filter((y) => y.mode === "internal" && (y.network ?? "intnet") === net && y.addresses.length) ?? [],
        );
        const p = peers.length ? subnetOf((peers[0] as { addresses: string[] }).addresses[0]!) : subnetOf("10.254.0.0/24");
        const addr = p && nextFree(p, 10, used);
        if (addr) {
          a.addresses = [addr];
          diagnostics.push(
            diagnostic(
              "RCH051",
              span,
              `${where}: the inputs do not say which address the guest configures on internal network ${net}; assumed ${addr}`,
              {
                expected: "the guest's address on the internal network (edit the imported file)",
                severity: "warning",
              },
            ),
          );
          return;
        }
      }
      diagnostics.push(
        diagnostic("RCH051", span, `${where}: no address known and none could be assumed`, {
          expected: "an address for the adapter (edit the imported file)",
          severity: "warning",
        }),
      );
    });
  }
}

/** Renames machines a query could not name ("Ubuntu 22.04" -> "Ubuntu-22.04"), everywhere they are referred to. */
function queryableNames(doc: TopologyDoc, notes: string[], reserved: readonly string[]): void {
  const renames = new Map<string, string>();
  for (const name of Object.keys(doc.machines)) {
    if (MACHINE_NAME.test(name)) continue;
    let next = name.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "") || "machine";
    const base = next;
    for (let i = 2; doc.machines[next] !== undefined || reserved.includes(next) || [...renames.values()].includes(next); i++)
      next = `${base}-${i}`;
    renames.set(name, next);
  }
  if (!renames.size) return;
  doc.machines = Object.fromEntries(Object.entries(doc.machines).map(([k, v]) => [renames.get(k) ?? k, v]));
  for (const m of Object.values(doc.machines)) if (m.vm && renames.has(m.vm.on)) m.vm.on = renames.get(m.vm.on)!;
  for (const [from, to] of renames) notes.push(`Machine "${from}" is called ${to} here, a name queries can use (A -> ${to}:22/tcp).`);
}

export function mergeParts(parts: readonly Part[], options: MergeOptions, base?: TopologyDoc): Merged {
  const merger = new Merger();
  const notes: string[] = [];
  const baseSpan: Span = parts[0]?.span ?? { file: "(import)", line: 1, col: 1 };
  if (base)
    merger.add({
      fragment: { machines: base.machines, segments: base.segments, natnetworks: base.natnetworks, notes: [], describesHost: true },
      span: baseSpan,
    });
  for (const p of parts) {
    merger.add(p);
    for (const n of p.fragment.notes) if (!notes.includes(n)) notes.push(n);
  }
  notes.push(...merger.notes);
  const doc: TopologyDoc = {
    ...(base?.description ? { description: base.description } : {}),
    ...(Object.keys(merger.segments).length ? { segments: merger.segments } : {}),
    ...(Object.keys(merger.natnetworks).length ? { natnetworks: merger.natnetworks } : {}),
    machines: merger.machines,
    ...(base?.expect ? { expect: base.expect } : {}),
  };
  const assumed = [...(base?.assumed ?? []), ...parts.flatMap((p) => p.fragment.assumed ?? [])];
  queryableNames(doc, notes, [options.host, "lan"]);
  const used = usedAddresses(doc);
  const lan = lanFor(
    options.lan,
    parts.flatMap((p) => p.fragment.lanAddresses ?? []),
    notes,
    assumed,
  );
  scaffold(doc, { ...options, lan }, notes, used, merger.described);
  if (assumed.length) doc.assumed = assumed;
  assignAddresses(doc, notes, merger.diagnostics, used, baseSpan);
  return { doc, notes, diagnostics: merger.diagnostics };
}
