/**
 * The doctor's findings, each decided on the model by answering queries (the same engine as
 * `reach ask`), never by matching text: the outputs are searched only to show the evidence
 * (the line that declares what the answer found). The catalogue is FINDINGS, kept equal to
 * docs/doctor.md by a test.
 */
import { formatIP, parseCidr, parseIP } from "../net/addr.js";
import type { Dial } from "../ir/dial.js";
import { attempt, machineIndex } from "../sim/connect.js";
import { parseQuery } from "../ir/query.js";
import type { Network } from "../ir/types.js";
import { lower } from "../lower/lower.js";
import { answerQuery, type EngineOptions } from "../query/engine.js";
import type { Answer } from "../query/dials.js";
import { loadTopologyText } from "../topology/load.js";
import type { MachineDoc, TopologyDoc } from "../topology/schema.js";
import { natLocalhostReachable } from "../topology/vbox.js";
import { dialOf, exposure } from "../verify/flows.js";
import { renderTopology } from "../import/render.js";
import type { Source } from "../import/types.js";
import type { Model } from "./model.js";

export const FINDINGS = {
  LAN_EXPOSED_FORWARD: "a port forward or published port listens on every host address: the LAN reaches the guest's service",
  FORWARD_TO_LOOPBACK_SERVICE: "a forward leads to a service that listens on loopback only: the connection is refused",
  GUEST_REACHES_HOST_LOOPBACK: "a guest reaches a service on the host's loopback only because localhost-reachable is on",
  HOSTONLY_OUTSIDE_ALLOWED_RANGE: "a host-only network is outside the range VirtualBox 6.1.28+ allows (192.168.56.0/21)",
  DOCKER_BYPASSES_INPUT: "a Docker published port gets through although the host's INPUT firewall would drop it",
} as const;
export type FindingCode = keyof typeof FINDINGS;

export interface Evidence {
  /** file:line of a command's output (or /proc/PID/cmdline), or of the doctor's topology */
  readonly at: string;
  readonly text: string;
}

export interface Finding {
  readonly code: FindingCode;
  readonly machine: string;
  readonly title: string;
  readonly evidence: readonly Evidence[];
  /** What happens, as the answer says it. */
  readonly consequence: string;
  /** The edit or the command that removes it. */
  readonly fix: string;
  /** The query that decided it, and its verdict. */
  readonly query: string;
  readonly verdict: string;
  readonly dial?: string;
  readonly causes?: readonly string[];
}

interface Ctx {
  readonly model: Model & { readonly doc: TopologyDoc; readonly net: Network };
  readonly host: string;
  readonly opts: EngineOptions;
}

async function ask(net: Network, text: string, opts: EngineOptions): Promise<Answer | undefined> {
  const q = parseQuery(text);
  if (!q.ok) return undefined;
  return (await answerQuery(net, q.query, opts)).answer;
}

/** The network of a changed copy of the doctor's topology. */
function variant(doc: TopologyDoc, change: (d: TopologyDoc) => void): Network {
  const d = structuredClone(doc);
  change(d);
  const text = renderTopology({ doc: d, command: "reach doctor (variant)", notes: [], warnings: [] });
  return lower(loadTopologyText("doctor-variant.yaml", text).topology);
}

/** The lines of the outputs that match `re`, as evidence (file:line and the line). */
function evidence(sources: readonly Source[], re: RegExp): Evidence[] {
  return sources.flatMap((s) =>
    s.text.split("\n").flatMap((line, i) => (re.test(line) ? [{ at: `${s.file}:${i + 1}`, text: line.trim().slice(0, 200) }] : [])),
  );
}

const LOOPBACK = /^(127\.|::1$)/;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Where the forward to `port` of `machine` is declared, in the outputs that described it. */
function forwardEvidence(c: Ctx, machine: string, hostPort: string): Evidence[] {
  const o = c.model.origin.get(machine);
  if (!o) return [];
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
  return evidence(o.sources, re);
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

/** LAN_EXPOSED_FORWARD and DOCKER_BYPASSES_INPUT: what the LAN machine reaches through the host. */
async function lanExposure(c: Ctx): Promise<Finding[]> {
  const { net, doc } = c.model;
  if (!net.machines.some((m) => m.name === "lan")) return [];
  const hostAddrs = new Set(
    Object.values(doc.machines[c.host]?.interfaces ?? {}).flatMap((i) => (i.addresses ?? []).map((a) => a.split("/")[0]!)),
  );
  const out: Finding[] = [];
  for (const f of await exposure(net, "lan", c.opts)) {
    const m = f.service.machine;
    if (m === c.host || f.answer.verdict !== "reachable") continue;
    const dial = dialOf(f.answer);
    const dst = f.answer.attempt?.legs[0]?.packet.dst;
    if (!dst || !hostAddrs.has(formatIP(dst))) continue; // reached on its own address, not through the host
    const hostPort = dial.slice(dial.lastIndexOf(":") + 1);
    const kind = c.model.origin.get(m)?.kind;
    const ev = forwardEvidence(c, m, hostPort);
    out.push({
      code: "LAN_EXPOSED_FORWARD",
      machine: m,
      title: FINDINGS.LAN_EXPOSED_FORWARD,
      evidence: ev,
      consequence: `any machine on the LAN reaches ${m}'s ${f.service.port}/${f.service.proto} by dialing ${dial}`,
      fix: fixForward(kind, m, hostPort, f.service.port),
      query: f.query,
      verdict: f.answer.verdict,
      dial,
    });
    if (kind === "docker") out.push(...(await dockerBypass(c, f.query, m, dial, ev)));
  }
  return out;
}

/** The host's INPUT chain filters (a drop policy or rules), yet the published port stays reachable with INPUT dropping everything. */
async function dockerBypass(c: Ctx, query: string, m: string, dial: string, ev: readonly Evidence[]): Promise<Finding[]> {
  const input = c.model.doc.machines[c.host]?.firewall?.input;
  if (!input || (input.policy !== "drop" && !(input.rules ?? []).length)) return [];
  const strict = variant(c.model.doc, (d) => {
    const h = d.machines[c.host]!;
    h.firewall = { ...h.firewall, input: { policy: "drop", rules: [] } };
  });
  const a = await ask(strict, query, c.opts);
  if (a?.verdict !== "reachable") return [];
  const hostPort = dial.slice(dial.lastIndexOf(":") + 1);
  return [
    {
      code: "DOCKER_BYPASSES_INPUT",
      machine: m,
      title: FINDINGS.DOCKER_BYPASSES_INPUT,
      evidence: [
        ...ev,
        ...evidence(c.model.origin.get(c.host)?.sources ?? [], /^:INPUT DROP|-A INPUT .*-j (DROP|REJECT)|ufw-/).slice(0, 3),
      ],
      consequence: `published ports are DNAT in PREROUTING and cross FORWARD, not INPUT: even with INPUT dropping everything, ${query} stays reachable (dial ${dial})`,
      fix: `filter in DOCKER-USER, which Docker keeps before its own rules: iptables -I DOCKER-USER -i <LAN interface> -p tcp -m conntrack --ctorigdstport ${hostPort} -j DROP; or publish on 127.0.0.1 only (-p 127.0.0.1:${hostPort}:...)`,
      query,
      verdict: "reachable",
      dial,
    },
  ];
}

const loopbackServices = (h: MachineDoc | undefined) => (h?.services ?? []).filter((s) => s.bind !== undefined && LOOPBACK.test(s.bind));

/** The host's DNAT rules that lead to its own address and a port where a service listens on loopback only. */
function dnatsToLoopback(c: Ctx) {
  const h = c.model.doc.machines[c.host];
  const own = new Set(Object.values(h?.interfaces ?? {}).flatMap((i) => (i.addresses ?? []).map((a) => a.split("/")[0]!)));
  return (h?.nat ?? []).flatMap((r) => {
    if (r.action !== "dnat" || r.chain !== "prerouting" || !own.has(r.to) || r.dport === undefined) return [];
    const port = r.toPort ?? Number(r.dport);
    const s = loopbackServices(h).find((x) => x.port === port && (x.proto ?? "tcp") === (r.proto ?? "tcp"));
    return s && /^\d+$/.test(String(r.dport)) ? [{ rule: r, service: s, dport: Number(r.dport), to: r.to }] : [];
  });
}

/**
 * FORWARD_TO_LOOPBACK_SERVICE: the LAN's dial at the forward's port fails, and gets through once the
 * service's bind is widened (the removal that proves BIND_LOOPBACK is the blocker), decided by the
 * simulator on that concrete dial.
 */
async function forwardToLoopback(c: Ctx): Promise<Finding[]> {
  const { net } = c.model;
  if (!net.machines.some((m) => m.name === "lan")) return [];
  const out: Finding[] = [];
  for (const { rule, service: s, dport, to } of dnatsToLoopback(c)) {
    const proto = s.proto ?? "tcp";
    const dst = parseIP(to)!;
    const dial: Dial = { from: "lan", proto, dst, dport, sport: 40000 };
    const before = attempt(net, machineIndex(net), dial);
    if (before.ok) continue;
    const wide = variant(c.model.doc, (d) => {
      for (const x of d.machines[c.host]!.services ?? []) if (x.port === s.port && x.bind === s.bind) x.bind = LOOPBACK_WIDE(x.bind);
    });
    const after = attempt(wide, machineIndex(wide), dial);
    if (!after.ok || after.outcome.kind !== "ok" || after.outcome.machine !== c.host) continue;
    const via = `${to}:${dport}`;
    out.push({
      code: "FORWARD_TO_LOOPBACK_SERVICE",
      machine: c.host,
      title: FINDINGS.FORWARD_TO_LOOPBACK_SERVICE,
      evidence: [
        ...forwardEvidence(c, c.host, String(dport)),
        ...evidence(c.model.origin.get(c.host)?.sources ?? [], new RegExp(`${esc(s.bind!)}\\]?:${s.port}\\s`)),
      ],
      consequence: `the LAN dials ${via}; DNAT (${rule.comment ?? "nat rule"}) sends it to ${to}:${s.port}, where ${s.name ?? "the service"} listens on ${s.bind} only: connection refused (BIND_LOOPBACK); with the bind widened the same dial gets through`,
      fix: `bind ${s.name ?? "the service"} to ${to} or 0.0.0.0 (e.g. its listen address setting), or DNAT to ${s.bind} with net.ipv4.conf.<LAN interface>.route_localnet=1`,
      query: `lan dials ${proto} ${via}`,
      verdict: "refused",
      dial: via,
      causes: ["BIND_LOOPBACK"],
    });
  }
  return out;
}

const LOOPBACK_WIDE = (bind: string | undefined) => (bind?.includes(":") ? "::" : "0.0.0.0");

/** GUEST_REACHES_HOST_LOOPBACK: reachable as modelled, unreachable with localhost-reachable off. */
async function guestLoopback(c: Ctx): Promise<Finding[]> {
  const { doc, net } = c.model;
  const out: Finding[] = [];
  const services = loopbackServices(doc.machines[c.host]);
  const guests = Object.entries(doc.machines).filter(
    ([, m]) => m.vm?.on === c.host && m.vm.adapters.some((a) => a.mode === "nat" && natLocalhostReachable(a)),
  );
  for (const [g] of guests) {
    const off = variant(doc, (d) => {
      for (const a of d.machines[g]!.vm!.adapters) if (a.mode === "nat") a.localhostReachable = false;
    });
    for (const s of services) {
      const query = `${g} -> ${c.host}:${s.port}/${s.proto ?? "tcp"}`;
      const on = await ask(net, query, c.opts);
      if (on?.verdict !== "reachable") continue;
      const without = await ask(off, query, c.opts);
      if (without?.verdict !== "unreachable") continue;
      const kind = c.model.origin.get(g)?.kind;
      out.push({
        code: "GUEST_REACHES_HOST_LOOPBACK",
        machine: g,
        title: FINDINGS.GUEST_REACHES_HOST_LOOPBACK,
        evidence: [
          ...evidence(c.model.origin.get(g)?.sources ?? [], kind === "qemu" ? /user/ : /localhost|nat/i).slice(0, 1),
          ...evidence(c.model.origin.get(c.host)?.sources ?? [], new RegExp(`${esc(s.bind!)}\\]?:${s.port}\\s`)),
        ],
        consequence: `${g} reaches ${s.name ?? "the service"} on the host's ${s.bind}:${s.port} (dial ${dialOf(on)}), which the host meant for itself; with localhost-reachable off it would not (${without.reason})`,
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
function hostonlyRange(c: Ctx): Finding[] {
  const allowed = parseCidr("192.168.56.0/21");
  const out: Finding[] = [];
  for (const [name, h] of Object.entries(c.model.doc.machines[c.host]?.hostonly ?? {})) {
    for (const a of h.addresses) {
      const p = parseCidr(a);
      if (!p || !allowed || p.ip.v !== 4) continue;
      const mask = (1n << 32n) - (1n << BigInt(32 - 21));
      if ((p.ip.n & mask) === allowed.ip.n && p.len >= 21) continue;
      out.push({
        code: "HOSTONLY_OUTSIDE_ALLOWED_RANGE",
        machine: c.host,
        title: FINDINGS.HOSTONLY_OUTSIDE_ALLOWED_RANGE,
        evidence: evidence(
          c.model.sources.has("VBoxManage list hostonlyifs")
            ? [{ file: "VBoxManage list hostonlyifs", text: c.model.sources.get("VBoxManage list hostonlyifs")! }]
            : [],
          new RegExp(`^Name:\\s+${esc(name)}$|^IPAddress:\\s+${esc(a.split("/")[0]!)}$`),
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

/** Every finding of the model, in catalogue order. */
export async function findings(model: Model, host: string, opts: EngineOptions): Promise<Finding[]> {
  if (!model.doc || !model.net) return [];
  const c: Ctx = { model: model as Ctx["model"], host, opts };
  return [...(await lanExposure(c)), ...(await forwardToLoopback(c)), ...(await guestLoopback(c)), ...hostonlyRange(c)].sort(
    (a, b) => Object.keys(FINDINGS).indexOf(a.code) - Object.keys(FINDINGS).indexOf(b.code),
  );
}
