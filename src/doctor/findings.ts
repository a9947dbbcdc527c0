/**
 * The doctor's findings, each decided on the model by answering queries (the same engine as
 * `reach ask`) or simulating a concrete dial, never by matching text: the outputs are searched
 * only to show the evidence (the line that declares what the answer found). The catalogue is
 * FINDINGS, kept equal to docs/doctor.md by a test. The model is the doctor's live topology or,
 * for `reach verify --findings`, a topology file (kit.ts FindingsInput).
 */
import { formatIP, parseCidr, parseIP } from "../net/addr.js";
import type { Dial } from "../ir/dial.js";
import { attempt, machineIndex, meetsQuery } from "../sim/connect.js";
import { parseQuery } from "../ir/query.js";
import type { Answer } from "../query/dials.js";
import type { EngineOptions } from "../query/engine.js";
import type { MachineDoc } from "../topology/schema.js";
import { natLocalhostReachable } from "../topology/vbox.js";
import { dialOf } from "../verify/flows.js";
import { failureReason } from "../query/explain.js";
import type { Network } from "../ir/types.js";
import { formatEndpoint } from "../net/addr.js";
import { lanHits, type LanHit } from "./witness.js";
import type { Model } from "./model.js";
import { FINDINGS, NEEDS_LAN, type Finding } from "./catalogue.js";
import {
  ask,
  docEvidence,
  esc,
  evidenceOr,
  machineEvidence,
  outputEvidence,
  ownAddresses,
  variant,
  quick,
  plain,
  type Ctx,
  type Evidence,
  type FindingsInput,
} from "./kit.js";
import { hairpinMissing, hostNetworkExposed, nicOutsideSubnet, rootlessExposed, subnetShadowed } from "./findings-more.js";

export type { Evidence, FindingsInput } from "./kit.js";

export { FINDINGS, NEEDS_LAN, type Finding, type FindingCode } from "./catalogue.js";

const LOOPBACK = /^(127\.|::1$)/;

/** The kind of the thing that forwards to `machine` (what its fix is written for): the doctor's source, else its VM's engine, else Docker. */
function forwardKind(c: Ctx, machine: string): string {
  const o = c.origin?.get(machine)?.kind;
  if (o) return o;
  const vm = c.doc.machines[machine]?.vm;
  if (vm) return vm.adapters.some((a) => a.mode === "nat" && a.engine === "qemu") ? "qemu" : "virtualbox";
  return "docker";
}

/** Where the forward to `port` of `machine` is declared, in the outputs that described it (or the topology). */
function forwardEvidence(c: Ctx, machine: string, hostPort: string, host: string): Evidence[] {
  const o = c.origin?.get(machine);
  if (!o) return topologyForward(c, machine, hostPort, host);
  const p = esc(hostPort);
  const re = {
    qemu: new RegExp(`hostfwd=(tcp|udp)?:[^-,]*:${p}-`),
    docker: new RegExp(`"HostPort":\\s*"${p}"`),
    virtualbox: new RegExp(`(Forwarding\\(\\d+\\)=".*,${p},)|(:${p}:\\[)`),
    vagrant: new RegExp(`host:\\s*${p}\\b`),
    libvirt: new RegExp(p),
    compose: new RegExp(p),
    linux: new RegExp(`--dport ${p}\\b`),
  }[o.kind];
  return outputEvidence(o.sources, re);
}

/** The forward's place in a topology file: the VM adapter's forward, or the host's DNAT rule. */
function topologyForward(c: Ctx, machine: string, hostPort: string, host: string): Evidence[] {
  const adapters = c.doc.machines[machine]?.vm?.adapters ?? [];
  for (const [i, a] of adapters.entries()) {
    if (a.mode !== "nat") continue;
    const k = (a.forwards ?? []).findIndex((f) => String(f.hostPort) === hostPort);
    if (k >= 0)
      return docEvidence(c, ["machines", machine, "vm", "adapters", i, "forwards", k], `forward to ${machine}, host port ${hostPort}`);
  }
  const k = (c.doc.machines[host]?.nat ?? []).findIndex((r) => r.action === "dnat" && String(r.dport) === hostPort);
  return k >= 0 ? docEvidence(c, ["machines", host, "nat", k], `DNAT ${hostPort} on ${host}`) : [];
}

function fixForward(kind: string | undefined, machine: string, hostPort: string, guestPort: number): string {
  switch (kind) {
    case "qemu":
      return `bind the forward to the host's loopback: hostfwd=tcp:127.0.0.1:${hostPort}-:${guestPort} in ${machine}'s -netdev user (then restart the VM)`;
    case "docker":
      return `publish on the loopback only: docker run -p 127.0.0.1:${hostPort}:${guestPort} ... (compose: ports: ["127.0.0.1:${hostPort}:${guestPort}"]), then recreate the container`;
    case "virtualbox":
      return `VBoxManage controlvm ${machine} natpf1 delete RULE; VBoxManage controlvm ${machine} natpf1 "RULE,tcp,127.0.0.1,${hostPort},,${guestPort}" (RULE: the forward's name in the evidence)`;
    default:
      return `make the forward listen on 127.0.0.1 only (host port ${hostPort})`;
  }
}

/** LAN_EXPOSED_FORWARD and DOCKER_BYPASSES_INPUT: what the LAN machine reaches at a host's address, on another machine. */
async function lanExposure(c: Ctx): Promise<Finding[]> {
  if (!c.hasLan) return [];
  const hostOf = new Map(c.hosts.flatMap((h) => [...ownAddresses(c.doc, h)].map((a): [string, string] => [a, h])));
  const out: Finding[] = [];
  for (const hit of await lanHits(c, c.solverOnly)) {
    const m = hit.service.machine;
    const host = hostOf.get(formatIP(hit.dst));
    if (!host) continue; // reached on its own address, not through a host
    const dial = formatEndpoint(hit.dst, hit.dport);
    const hostPort = String(hit.dport);
    const kind = forwardKind(c, m);
    const ev = forwardEvidence(c, m, hostPort, host);
    out.push({
      code: "LAN_EXPOSED_FORWARD",
      machine: m,
      title: FINDINGS.LAN_EXPOSED_FORWARD,
      evidence: ev,
      consequence: `any machine on the LAN reaches ${m}'s ${hit.service.port}/${hit.service.proto} by dialing ${dial}`,
      fix: fixForward(kind, m, hostPort, hit.service.port),
      query: hit.query,
      verdict: "reachable",
      dial,
    });
    if (kind === "docker") out.push(...(await dockerBypass(c, host, hit, dial, ev)));
  }
  return out;
}

/** The host's INPUT chain filters (a drop policy or rules), yet the published port stays reachable with INPUT dropping everything. */
async function dockerBypass(c: Ctx, host: string, hit: LanHit, dial: string, ev: readonly Evidence[]): Promise<Finding[]> {
  const input = c.doc.machines[host]?.firewall?.input;
  if (!input || (input.policy !== "drop" && !(input.rules ?? []).length)) return [];
  const strict = strictInput(c, host);
  if (!strict || !(await stillReaches(c, strict, hit))) return [];
  const { query, service } = hit;
  const m = service.machine;
  const hostPort = dial.slice(dial.lastIndexOf(":") + 1);
  return [
    {
      code: "DOCKER_BYPASSES_INPUT",
      machine: m,
      title: FINDINGS.DOCKER_BYPASSES_INPUT,
      evidence: [
        ...ev,
        ...evidenceOr(
          machineEvidence(c, host, /^:INPUT DROP|-A INPUT .*-j (DROP|REJECT)|ufw-/).slice(0, 3),
          c,
          ["machines", host, "firewall", "input"],
          `${host}'s INPUT chain (policy ${input.policy ?? "accept"})`,
        ),
      ],
      consequence: `published ports are DNAT in PREROUTING and cross FORWARD, not INPUT: even with INPUT dropping everything, ${query} stays reachable (dial ${dial})`,
      fix: `filter in DOCKER-USER, which Docker keeps before its own rules: iptables -I DOCKER-USER -i <LAN interface> -p tcp -m conntrack --ctorigdstport ${hostPort} -j DROP; or publish on 127.0.0.1 only (-p 127.0.0.1:${hostPort}:...)`,
      query,
      verdict: "reachable",
      dial,
    },
  ];
}

/** A copy of the topology whose host drops everything in INPUT (one per host). */
function strictInput(c: Ctx, host: string): Network | undefined {
  const k = `strict-input:${host}`;
  if (!c.memo.has(k))
    c.memo.set(
      k,
      variant(c.doc, (d) => {
        const h = d.machines[host]!;
        h.firewall = { ...h.firewall, input: { policy: "drop", rules: [] } };
      }),
    );
  return c.memo.get(k);
}

/** The LAN's dial still reaches the service in `net`: the same concrete dial (simulated), else the engine (verdict only). */
async function stillReaches(c: Ctx, net: Network, hit: LanHit): Promise<boolean> {
  const dial: Dial = { from: c.lan, proto: hit.service.proto, dst: hit.dst, dport: hit.dport, sport: 40000 };
  const a = attempt(net, machineIndex(net), dial);
  if (a.ok && a.outcome.kind === "ok" && a.outcome.machine === hit.service.machine) return true;
  if (!c.solverOnly) return false;
  return (await ask(net, hit.query, c.opts))?.verdict === "reachable";
}

const loopbackServices = (h: MachineDoc | undefined) => (h?.services ?? []).filter((s) => s.bind !== undefined && LOOPBACK.test(s.bind));

/** The host's DNAT rules that lead to its own address and a port where a service listens on loopback only. */
function dnatsToLoopback(c: Ctx, host: string) {
  const h = c.doc.machines[host];
  const own = ownAddresses(c.doc, host);
  return (h?.nat ?? []).flatMap((r, k) => {
    if (r.action !== "dnat" || r.chain !== "prerouting" || !own.has(r.to) || r.dport === undefined) return [];
    const port = r.toPort ?? Number(r.dport);
    const s = loopbackServices(h).find((x) => x.port === port && (x.proto ?? "tcp") === (r.proto ?? "tcp"));
    return s && /^\d+$/.test(String(r.dport)) ? [{ rule: r, k, service: s, dport: Number(r.dport), to: r.to }] : [];
  });
}

/** The `ss` line of a loopback listener, or the service in the topology. */
function listenerEvidence(
  c: Ctx,
  host: string,
  s: { bind?: string | undefined; port: number | string; name?: string | undefined },
): Evidence[] {
  const k = (c.doc.machines[host]?.services ?? []).findIndex((x) => x.port === s.port && x.bind === s.bind);
  return evidenceOr(
    machineEvidence(c, host, new RegExp(`${esc(s.bind!)}\\]?:${s.port}\\s`)),
    c,
    ["machines", host, "services", Math.max(k, 0)],
    `${s.name ?? "service"} on ${s.bind}:${s.port}`,
  );
}

/**
 * FORWARD_TO_LOOPBACK_SERVICE: the LAN's dial at the forward's port fails, and gets through once the
 * service's bind is widened (the removal that proves BIND_LOOPBACK is the blocker), decided by the
 * simulator on that concrete dial.
 */
async function forwardToLoopback(c: Ctx, host: string): Promise<Finding[]> {
  if (!c.hasLan) return [];
  const out: Finding[] = [];
  for (const { rule, k, service: s, dport, to } of dnatsToLoopback(c, host)) {
    const proto = s.proto ?? "tcp";
    const dial: Dial = { from: c.lan, proto, dst: parseIP(to)!, dport, sport: 40000 };
    if (attempt(c.net, machineIndex(c.net), dial).ok) continue;
    const wide = variant(c.doc, (d) => {
      for (const x of d.machines[host]!.services ?? []) if (x.port === s.port && x.bind === s.bind) x.bind = LOOPBACK_WIDE(x.bind);
    });
    const after = wide && attempt(wide, machineIndex(wide), dial);
    if (!after?.ok || after.outcome.kind !== "ok" || after.outcome.machine !== host) continue;
    const via = `${to}:${dport}`;
    out.push({
      code: "FORWARD_TO_LOOPBACK_SERVICE",
      machine: host,
      title: FINDINGS.FORWARD_TO_LOOPBACK_SERVICE,
      evidence: [
        ...evidenceOr(forwardEvidence(c, host, String(dport), host), c, ["machines", host, "nat", k], `DNAT ${dport} -> ${to}:${s.port}`),
        ...listenerEvidence(c, host, s),
      ],
      consequence: `the LAN dials ${via}; DNAT (${rule.comment ?? "nat rule"}) sends it to ${to}:${s.port}, where ${s.name ?? "the service"} listens on ${s.bind} only: connection refused (BIND_LOOPBACK); with the bind widened the same dial gets through`,
      fix: `bind ${s.name ?? "the service"} to ${to} or 0.0.0.0 (e.g. its listen address setting), or DNAT to ${s.bind} with net.ipv4.conf.<LAN interface>.route_localnet=1`,
      query: `${c.lan} dials ${proto} ${via}`,
      verdict: "refused",
      dial: via,
      causes: ["BIND_LOOPBACK"],
    });
  }
  return out;
}

/** The dial that started an attempt's first leg. */
const dialFromLeg = (l: { from: string; packet: { proto: Dial["proto"]; dst: Dial["dst"]; dport: number; sport: number } }): Dial => ({
  from: l.from,
  proto: l.packet.proto,
  dst: l.packet.dst,
  dport: l.packet.dport,
  sport: l.packet.sport,
});

const LOOPBACK_WIDE = (bind: string | undefined) => (bind?.includes(":") ? "::" : "0.0.0.0");

/**
 * The guest's dial at its NAT engine's host-loopback address (10.0.2.2) and the service's port,
 * simulated: an answer with that attempt when it reaches the host's service (a concrete witness).
 */
function loopbackWitness(
  c: Ctx,
  guest: string,
  host: string,
  s: { port: number | string; proto?: "tcp" | "udp" | undefined },
): Answer | undefined {
  if (c.solverOnly) return undefined;
  const proto = s.proto ?? "tcp";
  const port = Number(s.port);
  const q = parseQuery(`${guest} -> ${host}:${port}/${proto}`);
  if (!q.ok) return undefined;
  const index = machineIndex(c.net);
  for (const e of c.net.machines.flatMap((m) => (m.engine?.host === host ? [m.engine] : []))) {
    const a = attempt(c.net, index, { from: guest, proto, dst: e.loopbackAddress, dport: port, sport: 40000 });
    if (meetsQuery(q.query, a)) return { query: q.query, verdict: "reachable", attempt: a, closest: [], reason: "", tried: 1 };
  }
  return undefined;
}

/** GUEST_REACHES_HOST_LOOPBACK: reachable as modelled, unreachable with localhost-reachable off. */
async function guestLoopback(c: Ctx, host: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const services = loopbackServices(c.doc.machines[host]);
  const guests = Object.entries(c.doc.machines).filter(
    ([, m]) => m.vm?.on === host && m.vm.adapters.some((a) => a.mode === "nat" && natLocalhostReachable(a)),
  );
  for (const [g] of services.length ? guests : []) {
    const off = variant(c.doc, (d) => {
      for (const a of d.machines[g]!.vm!.adapters) if (a.mode === "nat") a.localhostReachable = false;
    });
    for (const s of off ? services : []) {
      const query = `${g} -> ${host}:${s.port}/${s.proto ?? "tcp"}`;
      const on = loopbackWitness(c, g, host, s) ?? (await ask(c.net, query, quick(c)));
      if (on?.verdict !== "reachable") continue;
      const without = await ask(off!, query, quick(c));
      if (without?.verdict !== "unreachable") continue;
      // why it fails without: the same dial, simulated in the copy
      const d = on.attempt?.legs[0];
      const reason = plain(d ? failureReason(attempt(off!, machineIndex(off!), dialFromLeg(d))) : without.reason);
      const kind = forwardKind(c, g);
      const slot = c.doc.machines[g]!.vm!.adapters.findIndex((a) => a.mode === "nat");
      out.push({
        code: "GUEST_REACHES_HOST_LOOPBACK",
        machine: g,
        title: FINDINGS.GUEST_REACHES_HOST_LOOPBACK,
        evidence: [
          ...evidenceOr(
            machineEvidence(c, g, kind === "qemu" ? /user/ : /localhost|nat/i).slice(0, 1),
            c,
            ["machines", g, "vm", "adapters", slot],
            `${g}'s NAT adapter`,
          ),
          ...listenerEvidence(c, host, s),
        ],
        consequence: `${g} reaches ${s.name ?? "the service"} on the host's ${s.bind}:${s.port} (dial ${dialOf(on)}), which the host meant for itself; with localhost-reachable off it would not (${reason})`,
        fix:
          kind === "qemu"
            ? `QEMU's user networking always maps the host alias to the host's loopback: add restrict=on to ${g}'s -netdev user (forwards keep working), or use -netdev tap/bridge`
            : `VBoxManage modifyvm ${g} --nat-localhostreachable1 off (VirtualBox 7: off is the default)`,
        query,
        verdict: on.verdict,
        dial: dialOf(on),
      });
    }
  }
  return out;
}

/** HOSTONLY_OUTSIDE_ALLOWED_RANGE: the host-only networks of the model outside 192.168.56.0/21. */
function hostonlyRange(c: Ctx, host: string): Finding[] {
  const allowed = parseCidr("192.168.56.0/21")!;
  const out: Finding[] = [];
  for (const [name, h] of Object.entries(c.doc.machines[host]?.hostonly ?? {})) {
    for (const [k, a] of h.addresses.entries()) {
      const p = parseCidr(a);
      if (!p || p.ip.v !== 4) continue;
      const mask = (1n << 32n) - (1n << BigInt(32 - 21));
      if ((p.ip.n & mask) === allowed.ip.n && p.len >= 21) continue;
      const listing = c.sources?.get("VBoxManage list hostonlyifs");
      out.push({
        code: "HOSTONLY_OUTSIDE_ALLOWED_RANGE",
        machine: host,
        title: FINDINGS.HOSTONLY_OUTSIDE_ALLOWED_RANGE,
        evidence: evidenceOr(
          outputEvidence(
            listing !== undefined ? [{ file: "VBoxManage list hostonlyifs", text: listing }] : [],
            new RegExp(`^Name:\\s+${esc(name)}$|^IPAddress:\\s+${esc(a.split("/")[0]!)}$`),
          ),
          c,
          ["machines", host, "hostonly", name, "addresses", k],
          `${name}: ${a}`,
        ),
        consequence: `${name} (${a}): VirtualBox 6.1.28 and later refuse to configure or start a host-only adapter there (E_ACCESSDENIED) unless /etc/vbox/networks.conf allows it`,
        fix: `move it into the range: VBoxManage hostonlyif ipconfig ${name} --ip 192.168.56.1 --netmask 255.255.255.0; or allow it: echo "* ${formatIP({ v: 4, n: p.ip.n & ((1n << 32n) - (1n << BigInt(32 - p.len))) })}/${p.len}" | sudo tee -a /etc/vbox/networks.conf`,
        query: `host-only network ${name} ${a} within 192.168.56.0/21`,
        verdict: "outside",
      });
    }
  }
  return out;
}

/** What findings() decided, and which findings it could not decide (with why). */
export interface FindingsResult {
  readonly findings: Finding[];
  readonly skipped: readonly string[];
}

/** Every finding of the model, in catalogue order; the LAN findings are skipped (and said so) without the LAN vantage. */
export async function decideFindings(input: FindingsInput, opts: EngineOptions): Promise<FindingsResult> {
  const lan = input.lan ?? "lan";
  const c: Ctx = { ...input, lan, opts, hasLan: input.net.machines.some((m) => m.name === lan), memo: new Map() };
  const all: Finding[] = [...(await lanExposure(c)), ...(await hairpinMissing(c)), ...(await subnetShadowed(c))];
  for (const h of c.hosts) {
    all.push(...(await forwardToLoopback(c, h)), ...(await guestLoopback(c, h)), ...hostonlyRange(c, h));
    all.push(...(await nicOutsideSubnet(c, h)), ...(await hostNetworkExposed(c, h)), ...(await rootlessExposed(c, h)));
  }
  const order = Object.keys(FINDINGS);
  const skipped = [
    ...(c.hasLan ? [] : [`${NEEDS_LAN.join(", ")}: not decided: no machine '${lan}' (the LAN vantage their witness dial starts from)`]),
    ...(input.hostMode
      ? []
      : [
          "HOST_NETWORK_EXPOSED: not decided: a topology does not say which listeners are containers in network mode host (reach doctor reads it from docker inspect)",
        ]),
  ];
  return { findings: all.sort((a, b) => order.indexOf(a.code) - order.indexOf(b.code)), skipped };
}

/** The doctor's findings on its live model. */
export async function findings(model: Model, host: string, opts: EngineOptions, solverOnly = false): Promise<Finding[]> {
  if (!model.doc || !model.net) return [];
  const input: FindingsInput = {
    doc: model.doc,
    net: model.net,
    origin: model.origin,
    sources: model.sources,
    hosts: [host],
    hostMode: model.hostMode,
    rootless: model.rootless,
    solverOnly,
    ...(model.loaded ? { loc: model.loaded.topology.loc } : {}),
  };
  return (await decideFindings(input, opts)).findings;
}
