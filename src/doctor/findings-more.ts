/**
 * Findings added after the first five (docs/doctor.md): each proved on the model by a witness
 * (the dial that shows it) and a changed copy where the dial's verdict flips (the edit the fix
 * names), never by the shape of the file alone.
 */
import { contains, formatIP, parseCidr, prefixOf, type IP } from "../net/addr.js";
import type { TopologyDoc } from "../topology/schema.js";
import { hostOnlyDefault } from "../topology/vbox.js";
import { dialOf } from "../verify/flows.js";
import { FINDINGS, type Finding } from "./catalogue.js";
import { ask, quick, docEvidence, evidenceOr, esc, machineEvidence, outputEvidence, variant, type Ctx, type Evidence } from "./kit.js";

const TITLES = FINDINGS;

interface Prefix {
  readonly ip: IP;
  readonly len: number;
}

/** The address with `p`'s network bits and `a`'s host bits. */
function moveInto(a: IP, p: Prefix): IP {
  const bits = BigInt(a.v === 4 ? 32 : 128);
  const host = (1n << (bits - BigInt(p.len))) - 1n;
  return { v: a.v, n: (p.ip.n & ~host) | (a.n & host) };
}

/** The host-only network's prefix on `host`: as its hostonly: entry says, else VirtualBox's default for vboxnetN. */
function hostonlyPrefix(doc: TopologyDoc, host: string, network: string): Prefix | undefined {
  const declared = doc.machines[host]?.hostonly?.[network]?.addresses.map(parseCidr).find((p) => p?.ip.v === 4);
  return declared ?? hostOnlyDefault(network);
}

/**
 * NIC_OUTSIDE_SUBNET (seed 004): a VM's host-only adapter address outside the network's subnet.
 * Witness: the host's ping of that address fails; in a copy with the address moved into the
 * subnet (same host part) the ping gets through.
 */
export async function nicOutsideSubnet(c: Ctx, host: string): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [vm, m] of Object.entries(c.doc.machines)) {
    if (m.vm?.on !== host) continue;
    for (const [slot, a] of m.vm.adapters.entries()) {
      if (a.mode !== "hostonly") continue;
      const network = a.network ?? "vboxnet0";
      const p = hostonlyPrefix(c.doc, host, network);
      for (const [k, text] of (a.addresses ?? []).entries()) {
        const addr = parseCidr(text);
        if (!p || !addr || addr.ip.v !== 4 || contains(prefixOf(p.ip, p.len), addr.ip)) continue;
        let moved = moveInto(addr.ip, p);
        if (moved.n === p.ip.n) moved = { v: 4, n: moved.n + 1n }; // not the host's own address
        const query = `${host} -> ${formatIP(addr.ip)}/icmp`;
        const before = await ask(c.net, query, c.opts);
        if (before?.verdict !== "unreachable") continue;
        const fixed = variant(c.doc, (d) => {
          const ad = d.machines[vm]!.vm!.adapters[slot]!;
          if (ad.mode === "hostonly") ad.addresses![k] = `${formatIP(moved)}/${p.len}`;
        });
        const after = fixed && (await ask(fixed, `${host} -> ${formatIP(moved)}/icmp`, quick(c)));
        if (after?.verdict !== "reachable") continue;
        const subnet = `${formatIP(prefixOf(p.ip, p.len))}/${p.len}`;
        out.push({
          code: "NIC_OUTSIDE_SUBNET",
          machine: vm,
          title: TITLES.NIC_OUTSIDE_SUBNET,
          evidence: docEvidence(
            c,
            ["machines", vm, "vm", "adapters", slot, "addresses", k],
            `${vm} adapter ${slot + 1} on ${network}: ${text}`,
          ),
          consequence: `${network} is ${subnet} on ${host}; ${vm}'s address ${text} is not in it, so ${host} has no connected route to it and sends its packets elsewhere: ${query} is unreachable (${before.reason}); with ${formatIP(moved)}/${p.len} the same ping gets through`,
          fix: `inside ${vm}: give the adapter an address in ${subnet}, e.g. ip addr replace ${formatIP(moved)}/${p.len} dev <its second interface> (netplan/ifcfg for a lasting change), or let it take DHCP from ${network}`,
          query,
          verdict: "unreachable",
        });
      }
    }
  }
  return out;
}

/** The IPv4 address of a router's WAN interface. */
function wanAddress(doc: TopologyDoc, router: string): string | undefined {
  const r = doc.machines[router]!;
  return r.interfaces?.[r.router!.wan]?.addresses?.map((a) => a.split("/")[0]!).find((a) => !a.includes(":"));
}

/** Machines with an interface on one of the router's LAN segments (the vantage first), other than `not`. */
function lanClients(c: Ctx, router: string, not: string): string[] {
  const r = c.doc.machines[router]!;
  const segs = new Set(
    Object.entries(r.interfaces ?? {})
      .filter(([n]) => n !== r.router!.wan)
      .map(([, i]) => i.segment),
  );
  const on = Object.entries(c.doc.machines)
    .filter(([n, m]) => n !== router && n !== not && Object.values(m.interfaces ?? {}).some((i) => segs.has(i.segment)))
    .map(([n]) => n);
  return [...on.filter((n) => n === c.lan), ...on.filter((n) => n !== c.lan)];
}

/** The machine a forward's `to` address belongs to. */
const ownerOf = (doc: TopologyDoc, addr: string) =>
  Object.entries(doc.machines).find(([, m]) =>
    Object.values(m.interfaces ?? {}).some((i) => (i.addresses ?? []).some((a) => a.split("/")[0] === addr)),
  )?.[0];

/**
 * HAIRPIN_MISSING: a LAN client's dial at the router's public address and forwarded port fails,
 * and succeeds in a copy with `hairpin: true` (the router's NAT loopback).
 */
export async function hairpinMissing(c: Ctx): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [router, m] of Object.entries(c.doc.machines)) {
    if (!m.router || m.router.hairpin) continue;
    const wan = wanAddress(c.doc, router);
    const on = variant(c.doc, (d) => void (d.machines[router]!.router!.hairpin = true));
    for (const [k, f] of (wan && on ? m.router.forwards : undefined)?.entries() ?? []) {
      const client = lanClients(c, router, ownerOf(c.doc, f.to) ?? f.to)[0];
      if (!client) continue;
      const query = `${client} -> ${wan}:${f.port}/${f.proto ?? "tcp"}`;
      const before = await ask(c.net, query, c.opts);
      if (before?.verdict !== "unreachable") continue;
      const after = await ask(on!, query, quick(c));
      if (after?.verdict !== "reachable") continue;
      out.push({
        code: "HAIRPIN_MISSING",
        machine: router,
        title: TITLES.HAIRPIN_MISSING,
        evidence: docEvidence(
          c,
          ["machines", router, "router", "forwards", k],
          `${router} forwards ${f.port}/${f.proto ?? "tcp"} to ${f.to}`,
        ),
        consequence: `${client} (on ${router}'s LAN) dials ${wan}:${f.port}, the public address a DNS name gives it: unreachable (${before.reason}); with hairpin NAT the same dial reaches ${f.to} (dial ${dialOf(after)})`,
        fix: `turn on NAT loopback (hairpin, "NAT reflection") on ${router} (topology: router: { hairpin: true }); or give LAN clients the server's own address for the name (split DNS: ${f.to})`,
        query,
        verdict: "unreachable",
      });
    }
  }
  return out;
}

/**
 * HOST_NETWORK_EXPOSED: a container in network mode host (docker inspect says so) listens on a
 * port of the host, and the LAN's dial at the host reaches it (the witness).
 */
export async function hostNetworkExposed(c: Ctx, host: string): Promise<Finding[]> {
  if (!c.hasLan) return [];
  const out: Finding[] = [];
  for (const hm of c.hostMode ?? []) {
    const query = `${c.lan} -> ${host}:${hm.port}/${hm.proto}`;
    const a = await ask(c.net, query, quick(c));
    if (a?.verdict !== "reachable") continue;
    const rules = c.doc.machines[host]?.firewall?.input?.rules ?? [];
    const k = rules.findIndex((r) => r.action === "accept" && String(r.dport) === String(hm.port) && (r.proto ?? hm.proto) === hm.proto);
    const opened = k >= 0 ? rules[k]! : undefined;
    const ev: Evidence[] = [
      ...inspectEvidence(c, hm.container),
      ...evidenceOr(
        machineEvidence(c, host, new RegExp(`:${hm.port}\\s`)).slice(0, 1),
        c,
        ["machines", host, "services"],
        `${host}'s listeners`,
      ),
      ...(opened
        ? evidenceOr(
            machineEvidence(c, host, new RegExp(`-A INPUT .*--dport ${hm.port}\\b.*-j ACCEPT`)),
            c,
            ["machines", host, "firewall", "input", "rules", k],
            `INPUT accepts ${hm.port}/${hm.proto}`,
          )
        : []),
    ];
    const why = opened
      ? `: the host's INPUT chain accepts it (${opened.comment ?? `rule ${k + 1}`})`
      : rules.length
        ? ": no rule of the host's INPUT chain stops it"
        : ": the host's INPUT chain is empty";
    out.push({
      code: "HOST_NETWORK_EXPOSED",
      machine: hm.container,
      title: TITLES.HOST_NETWORK_EXPOSED,
      evidence: ev,
      consequence: `${hm.container} shares ${host}'s network: its ${hm.port}/${hm.proto} is a port of ${host} itself, no -p applies (Docker ignores published ports in this mode), and the LAN reaches it (dial ${dialOf(a)})${why}`,
      fix: `run it on a bridge network and publish on the loopback: docker run -p 127.0.0.1:${hm.port}:${hm.port} ... without --network host (compose: drop network_mode: host, ports: ["127.0.0.1:${hm.port}:${hm.port}"]); or bind the service to 127.0.0.1 in its own settings; or drop it at the host: iptables -I INPUT -i <LAN interface> -p ${hm.proto} --dport ${hm.port} -j DROP`,
      query,
      verdict: "reachable",
      dial: dialOf(a),
    });
  }
  return out;
}

/** The `"NetworkMode": "host"` line of this container in the docker inspect output (the first after its `"Name"`). */
function inspectEvidence(c: Ctx, container: string): Evidence[] {
  for (const [file, text] of c.sources ?? []) {
    if (!file.startsWith("docker inspect") && !file.startsWith("podman inspect")) continue;
    const lines = text.split("\n");
    const at = lines.findIndex((l) => new RegExp(`"Name":\\s*"/?${esc(container)}"`).test(l));
    const mode = at < 0 ? -1 : lines.findIndex((l, i) => i > at && /"NetworkMode":\s*"host"/.test(l));
    if (mode >= 0) return [{ at: `${file}:${mode + 1}`, text: lines[mode]!.trim() }];
  }
  return [];
}

/** Candidates for SUBNET_SHADOWED: a host's interface prefix that covers an address of a machine not on that interface's segment. */
function shadowCandidates(c: Ctx) {
  const out: { host: string; iface: string; prefix: string; victim: string; addr: string }[] = [];
  for (const host of c.hosts) {
    for (const [iface, i] of Object.entries(c.doc.machines[host]?.interfaces ?? {})) {
      for (const a of i.addresses ?? []) {
        const p = parseCidr(a);
        if (!p || p.ip.v !== 4) continue;
        for (const [victim, m] of Object.entries(c.doc.machines)) {
          if (victim === host) continue;
          for (const vi of Object.values(m.interfaces ?? {})) {
            if (vi.segment === i.segment) continue;
            for (const va of vi.addresses ?? []) {
              const v = parseCidr(va);
              if (v && v.ip.v === 4 && contains(prefixOf(p.ip, p.len), v.ip))
                out.push({ host, iface, prefix: a, victim, addr: va.split("/")[0]! });
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * SUBNET_SHADOWED: the host's ping of a machine elsewhere fails while a bridge's connected prefix
 * covers its address, and gets through in a copy where that interface has no address.
 */
export async function subnetShadowed(c: Ctx): Promise<Finding[]> {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const s of shadowCandidates(c)) {
    if (seen.has(`${s.host}/${s.iface}/${s.victim}`)) continue;
    seen.add(`${s.host}/${s.iface}/${s.victim}`);
    const query = `${s.host} -> ${s.addr}/icmp`;
    const before = await ask(c.net, query, c.opts);
    if (before?.verdict !== "unreachable") continue;
    const without = variant(c.doc, (d) => void (d.machines[s.host]!.interfaces![s.iface]!.addresses = []));
    const after = without && (await ask(without, query, quick(c)));
    if (after?.verdict !== "reachable") continue;
    const seg = c.doc.machines[s.host]!.interfaces![s.iface]!.segment;
    out.push({
      code: "SUBNET_SHADOWED",
      machine: s.host,
      title: TITLES.SUBNET_SHADOWED,
      evidence: evidenceOr(
        machineEvidence(c, s.host, new RegExp(`"ifname":\\s*"${esc(s.iface)}"`)).slice(0, 1),
        c,
        ["machines", s.host, "interfaces", s.iface, "addresses"],
        `${s.iface} (${seg}): ${s.prefix}`,
      ),
      consequence: `${s.iface}'s ${s.prefix} covers ${s.victim}'s ${s.addr}, which is not on ${seg}: ${s.host} routes it into ${s.iface} (connected route), so ${query} is unreachable (${before.reason}); without that prefix the ping gets through`,
      fix: `move the bridge to a free range: for Docker, "bip" and "default-address-pools" in /etc/docker/daemon.json (then recreate the networks; compose: networks.<name>.ipam.config subnet); for libvirt, virsh net-edit NET; for VirtualBox, VBoxManage hostonlyif ipconfig`,
      query,
      verdict: "unreachable",
    });
  }
  return out;
}

/**
 * LAN_EXPOSED_FORWARD for rootless Podman: the published port is a listener of the host
 * (rootlessport or pasta) that leads into the container; the LAN's dial at the host reaches it
 * (the witness), through the host's INPUT chain.
 */
export async function rootlessExposed(c: Ctx, host: string): Promise<Finding[]> {
  if (!c.hasLan) return [];
  const out: Finding[] = [];
  for (const r of c.rootless ?? []) {
    const query = `${c.lan} -> ${host}:${r.hostPort}/${r.proto}`;
    const a = await ask(c.net, query, quick(c));
    if (a?.verdict !== "reachable") continue;
    const inspect = outputEvidence(
      [{ file: "podman inspect", text: c.sources?.get("podman inspect") ?? "" }],
      new RegExp(`"HostPort":\\s*"${r.hostPort}"`),
    );
    out.push({
      code: "LAN_EXPOSED_FORWARD",
      machine: r.container,
      title: FINDINGS.LAN_EXPOSED_FORWARD,
      evidence: [...inspect, ...machineEvidence(c, host, new RegExp(`:${r.hostPort}\\s`)).slice(0, 1)],
      consequence: `any machine on the LAN reaches ${r.container}'s ${r.port}/${r.proto} by dialing ${dialOf(a)}: rootless Podman (${r.mode}) publishes it as a listener of ${host} on ${r.hostIp}:${r.hostPort}, which passes the connection into the container`,
      fix: `publish on the loopback only: podman run -p 127.0.0.1:${r.hostPort}:${r.port} ... (then recreate the container); or drop it at the host: iptables -I INPUT -i <LAN interface> -p ${r.proto} --dport ${r.hostPort} -j DROP (rootless ports cross INPUT)`,
      query,
      verdict: "reachable",
      dial: dialOf(a),
    });
  }
  return out;
}
