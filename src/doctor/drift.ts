/**
 * `reach drift lab.yaml`: the declared topology against what this machine's tools report (the
 * doctor's live model). Two kinds of difference, each with both sides:
 *
 * - what the files say: machines, listeners and their binds, VM port forwards, firewall chains
 *   and NAT rules of the machines both describe (matched by name);
 * - what the model decides: every service the LAN vantage (`lan`, or --from) reaches on the live
 *   machine is asked again of the declared topology; where the declared file does not make it
 *   reachable, the live machine exposes something the file does not say (EXPOSED_NOT_DECLARED).
 *
 * The exit status is 1 when the live machine exposes something the file does not say (an
 * exposure decided so, a listener on a non-loopback address, or a forward, the file lacks), 0
 * when what differs only narrows what is exposed, 2 when either side did not load.
 */
import type { Span } from "../diagnostics/diagnostic.js";
import { formatSpan } from "../diagnostics/diagnostic.js";
import { parseQuery } from "../ir/query.js";
import type { Network } from "../ir/types.js";
import { answerQuery, type EngineOptions } from "../query/engine.js";
import type { Loaded } from "../topology/load.js";
import type { ChainDoc, ForwardDoc, MachineDoc, ServiceDoc, TopologyDoc } from "../topology/schema.js";
import { dialOf, exposure } from "../verify/flows.js";

export const DRIFT = {
  EXPOSED_NOT_DECLARED: "the LAN reaches a service on the live machine that the declared topology does not let it reach",
  MACHINE_NOT_DECLARED: "a machine runs that the declared topology does not have",
  MACHINE_NOT_RUNNING: "a declared machine is not seen on the live machine",
  LISTENER_NOT_DECLARED: "a socket listens that the declared machine does not have",
  LISTENER_NOT_RUNNING: "a declared service does not listen",
  BIND_DIFFERS: "a service listens on another address than declared",
  FORWARD_NOT_DECLARED: "a port forward is live that the declared VM does not have",
  FORWARD_NOT_LIVE: "a declared port forward is not live",
  FORWARD_DIFFERS: "a port forward listens on another host address or leads to another guest port than declared",
  FIREWALL_DIFFERS: "a firewall chain's policy or rules differ",
  NAT_DIFFERS: "a machine's NAT rules differ",
} as const;
export type DriftCode = keyof typeof DRIFT;

export interface Difference {
  readonly code: DriftCode;
  readonly machine: string;
  /** The element, e.g. `tcp/8080`, `input chain`. */
  readonly what: string;
  readonly declared: string;
  readonly live: string;
  /** Where the declared side is written (file:line:col), when it is. */
  readonly at?: Span;
  /** Whether the live side exposes more than the declared one (decides the exit status). */
  readonly exposes: boolean;
}

export interface DriftInput {
  readonly declared: Loaded;
  readonly declaredNet: Network;
  readonly liveNet: Network;
  /** The LAN vantage both topologies have (default `lan`). */
  readonly from: string;
  readonly engine: EngineOptions;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;
const svcKey = (s: ServiceDoc) => `${s.proto ?? "tcp"}/${s.port}`;
const fwdKey = (f: ForwardDoc) => `${f.proto ?? "tcp"}/${f.hostPort}`;
const bindOf = (s: ServiceDoc) => s.bind ?? "0.0.0.0 and ::";
const fwdText = (f: ForwardDoc) => `${f.hostIp ?? "0.0.0.0"}:${f.hostPort} -> ${f.guestIp ?? "guest"}:${f.guestPort}`;

/** Two keyed lists side by side: (declared only, live only, both). */
function pair<T>(declared: readonly T[], live: readonly T[], key: (t: T) => string) {
  const d = new Map(declared.map((x, i) => [key(x), { x, i }]));
  const l = new Map(live.map((x) => [key(x), x]));
  return {
    declaredOnly: [...d].filter(([k]) => !l.has(k)).map(([k, v]) => ({ key: k, ...v })),
    liveOnly: [...l].filter(([k]) => !d.has(k)).map(([k, x]) => ({ key: k, x })),
    both: [...d].flatMap(([k, v]) => (l.has(k) ? [{ key: k, ...v, live: l.get(k)! }] : [])),
  };
}

function serviceDrift(name: string, d: MachineDoc, l: MachineDoc, at: (p: (string | number)[]) => Span): Difference[] {
  const p = pair(d.services ?? [], l.services ?? [], svcKey);
  return [
    ...p.liveOnly.map(({ key, x }) => ({
      code: "LISTENER_NOT_DECLARED" as const,
      machine: name,
      what: key,
      declared: "no such service",
      live: `${x.name ?? "a process"} listens on ${bindOf(x)}:${x.port}`,
      at: at(["machines", name]),
      exposes: !LOOPBACK.test(x.bind ?? ""),
    })),
    ...p.declaredOnly.map(({ key, x, i }) => ({
      code: "LISTENER_NOT_RUNNING" as const,
      machine: name,
      what: key,
      declared: `${x.name ?? "a service"} on ${bindOf(x)}:${x.port}`,
      live: "nothing listens",
      at: at(["machines", name, "services", i]),
      exposes: false,
    })),
    ...p.both
      .filter((b) => (b.x.bind ?? "") !== (b.live.bind ?? ""))
      .map((b) => ({
        code: "BIND_DIFFERS" as const,
        machine: name,
        what: b.key,
        declared: `bind ${bindOf(b.x)}`,
        live: `bind ${bindOf(b.live)} (${b.live.name ?? "a process"})`,
        at: at(["machines", name, "services", b.i, ...(b.x.bind === undefined ? [] : ["bind"])]),
        exposes: LOOPBACK.test(b.x.bind ?? "") && !LOOPBACK.test(b.live.bind ?? ""),
      })),
  ];
}

const forwardsOf = (m: MachineDoc) =>
  (m.vm?.adapters ?? []).flatMap((a, ai) => (a.mode === "nat" ? (a.forwards ?? []).map((f, fi) => ({ f, path: [ai, fi] })) : []));

function forwardDrift(name: string, d: MachineDoc, l: MachineDoc, at: (p: (string | number)[]) => Span): Difference[] {
  const p = pair(forwardsOf(d), forwardsOf(l), (x) => fwdKey(x.f));
  const path = (x: { path: number[] }) => ["machines", name, "vm", "adapters", x.path[0]!, "forwards", x.path[1]!];
  return [
    ...p.liveOnly.map(({ key, x }) => ({
      code: "FORWARD_NOT_DECLARED" as const,
      machine: name,
      what: key,
      declared: "no such forward",
      live: fwdText(x.f),
      at: at(["machines", name]),
      exposes: !LOOPBACK.test(x.f.hostIp ?? ""),
    })),
    ...p.declaredOnly.map(({ key, x }) => ({
      code: "FORWARD_NOT_LIVE" as const,
      machine: name,
      what: key,
      declared: fwdText(x.f),
      live: "no such forward",
      at: at(path(x)),
      exposes: false,
    })),
    ...p.both
      .filter((b) => (b.x.f.hostIp ?? "") !== (b.live.f.hostIp ?? "") || String(b.x.f.guestPort) !== String(b.live.f.guestPort))
      .map((b) => ({
        code: "FORWARD_DIFFERS" as const,
        machine: name,
        what: b.key,
        declared: fwdText(b.x.f),
        live: fwdText(b.live.f),
        at: at(path(b.x)),
        exposes: LOOPBACK.test(b.x.f.hostIp ?? "") && !LOOPBACK.test(b.live.f.hostIp ?? ""),
      })),
  ];
}

/** A chain as the kernel applies it: the policy and the rules without their comments. */
function chainText(c: ChainDoc | undefined): string {
  if (!c) return "no rules, policy accept";
  const rules = (c.rules ?? []).map(({ comment: _c, ...r }) => JSON.stringify(r));
  return `${rules.length} rule${rules.length === 1 ? "" : "s"}, policy ${c.policy ?? "accept"}${rules.length ? `: ${rules.join(" ")}` : ""}`;
}

function firewallDrift(name: string, d: MachineDoc, l: MachineDoc, at: (p: (string | number)[]) => Span): Difference[] {
  const out: Difference[] = [];
  for (const chain of ["input", "forward", "output"] as const) {
    const a = chainText(d.firewall?.[chain]);
    const b = chainText(l.firewall?.[chain]);
    if (a !== b)
      out.push({
        code: "FIREWALL_DIFFERS",
        machine: name,
        what: `${chain} chain`,
        declared: a,
        live: b,
        at: at(["machines", name, "firewall", chain]),
        exposes: false,
      });
  }
  const nat = (m: MachineDoc) => (m.nat ?? []).map(({ comment: _c, ...r }) => JSON.stringify(r));
  const [dn, ln] = [nat(d), nat(l)];
  if (dn.join("\n") !== ln.join("\n"))
    out.push({
      code: "NAT_DIFFERS",
      machine: name,
      what: "nat rules",
      declared: `${dn.length} rule${dn.length === 1 ? "" : "s"}${dn.length ? `: ${dn.join(" ")}` : ""}`,
      live: `${ln.length} rule${ln.length === 1 ? "" : "s"}${ln.length ? `: ${ln.join(" ")}` : ""}`,
      at: at(["machines", name, "nat"]),
      exposes: false,
    });
  return out;
}

/** What the files say, machine by machine (the `lan` stand-in the doctor adds is not a machine of the host). */
export function fileDrift(declared: Loaded, live: TopologyDoc, from: string): Difference[] {
  const d = declared.topology.doc.machines;
  const at = (p: (string | number)[]) => declared.topology.loc.at(p);
  const out: Difference[] = [];
  for (const name of Object.keys(live.machines).filter((n) => n !== from && !Object.hasOwn(d, n)))
    out.push({
      code: "MACHINE_NOT_DECLARED",
      machine: name,
      what: live.machines[name]!.vm ? `VM on ${live.machines[name]!.vm!.on}` : "machine",
      declared: "no such machine",
      live: describe(live.machines[name]!),
      at: at(["machines"]),
      exposes:
        (live.machines[name]!.services ?? []).some((s) => !LOOPBACK.test(s.bind ?? "")) || forwardsOf(live.machines[name]!).length > 0,
    });
  for (const name of Object.keys(d).filter((n) => n !== from && !Object.hasOwn(live.machines, n)))
    out.push({
      code: "MACHINE_NOT_RUNNING",
      machine: name,
      what: "machine",
      declared: describe(d[name]!),
      live: "not seen by any source",
      at: at(["machines", name]),
      exposes: false,
    });
  for (const name of Object.keys(d).filter((n) => n !== from && Object.hasOwn(live.machines, n))) {
    const [dm, lm] = [d[name]!, live.machines[name]!];
    out.push(...serviceDrift(name, dm, lm, at), ...forwardDrift(name, dm, lm, at), ...firewallDrift(name, dm, lm, at));
  }
  return out;
}

function describe(m: MachineDoc): string {
  const s = (m.services ?? []).map((x) => `${svcKey(x)} on ${bindOf(x)}`);
  const f = forwardsOf(m).map((x) => `forward ${fwdText(x.f)}`);
  return [...s, ...f].join(", ") || "no services";
}

/**
 * What the model decides: each service the vantage reaches live, asked of the declared
 * topology. Undecided answers (unknown) on either side are not a difference; they are listed
 * by the caller as not compared.
 */
export async function exposureDrift(i: DriftInput): Promise<{ differences: Difference[]; undecided: string[] }> {
  const differences: Difference[] = [];
  const undecided: string[] = [];
  for (const f of await exposure(i.liveNet, i.from, i.engine)) {
    if (f.answer.verdict !== "reachable") {
      undecided.push(`${f.query}: ${f.answer.verdict} on the live machine`);
      continue;
    }
    const known = i.declaredNet.machines.some((m) => m.name === f.service.machine);
    const q = parseQuery(f.query);
    const d = known && q.ok ? (await answerQuery(i.declaredNet, q.query, i.engine)).answer : undefined;
    if (d?.verdict === "reachable") continue;
    if (d && d.verdict !== "unreachable") {
      undecided.push(`${f.query}: ${d.verdict} in the declared topology`);
      continue;
    }
    differences.push({
      code: "EXPOSED_NOT_DECLARED",
      machine: f.service.machine,
      what: `${f.service.port}/${f.service.proto}`,
      declared: d ? `unreachable: ${d.reason}` : `no machine ${f.service.machine}`,
      live: `${f.query} -> reachable (dial ${dialOf(f.answer)})`,
      at: known ? i.declared.topology.loc.at(["machines", f.service.machine]) : undefined,
      exposes: true,
    });
  }
  return { differences, undecided };
}

export function renderDifference(x: Difference, n: number): string[] {
  return [
    `${n}. ${x.code} ${x.machine} ${x.what}${x.exposes ? " (exposes more than declared)" : ""}`,
    `   declared: ${x.declared}${x.at ? ` (${formatSpan(x.at)})` : ""}`,
    `   live:     ${x.live}`,
  ];
}
