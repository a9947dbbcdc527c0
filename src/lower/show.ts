/** `reach show`: the IR as readable text, one block per machine, each element with its source line. */
import { formatSpan } from "../diagnostics/diagnostic.js";
import { formatEndpoint, formatIP, formatPrefix } from "../net/addr.js";
import {
  routeMetric,
  type Chain,
  type Machine,
  type Match,
  type NegatableMatch,
  type Network,
  type NatRule,
  type PortRange,
} from "../ir/types.js";

const rangeText = (r: PortRange) => `${r.lo}${r.hi !== r.lo ? `-${r.hi}` : ""}`;

/** The negatable conditions, each after " " and `neg` ("" or "not "). */
function conditionText(m: NegatableMatch, neg: string): string {
  let t = "";
  if (m.src) t += ` ${neg}src ${formatPrefix(m.src)}`;
  if (m.dst) t += ` ${neg}dst ${formatPrefix(m.dst)}`;
  if (m.sport) t += ` ${neg}sport ${rangeText(m.sport)}`;
  if (m.dport) t += ` ${neg}dport ${rangeText(m.dport)}`;
  if (m.in) t += ` ${neg}in ${m.in}`;
  if (m.out) t += ` ${neg}out ${m.out}`;
  if (m.origDst) t += ` ${neg}ct original dst ${formatPrefix(m.origDst)}`;
  if (m.origDport) t += ` ${neg}ct original dport ${rangeText(m.origDport)}`;
  return t;
}

function matchText(m: Match): string {
  let t = m.proto ? ` ${m.proto}` : "";
  t += conditionText(m, "");
  if (m.not) t += conditionText(m.not, "not ");
  if (m.state) t += ` ct state ${m.state.join(",")}`;
  if (m.ctDnat !== undefined) t += m.ctDnat ? " ct status dnat" : " not ct status dnat";
  return t ? t.slice(1) : "any";
}

/** A chain's lines, added to `out` (none for an empty chain that accepts). */
function chainText(out: string[], c: Chain): void {
  if (!c.rules.length && c.policy === "accept") return;
  out.push(`    ${c.name} (policy ${c.policy}${c.policyOrigin ? `, ${formatSpan(c.policyOrigin.span)}` : ""})`);
  for (let i = 0; i < c.rules.length; i++) {
    const r = c.rules[i]!;
    out.push(`      ${i + 1}. ${matchText(r.match)} -> ${r.action}   # ${r.origin.what}, ${formatSpan(r.origin.span)}`);
  }
}

function natText(hook: string, rules: readonly NatRule[]): string[] {
  return rules.map((r) => {
    const a = r.action;
    const act =
      a.kind === "dnat"
        ? `dnat to ${a.toPort !== undefined ? formatEndpoint(a.to, a.toPort) : formatIP(a.to)}`
        : a.kind === "snat"
          ? `snat to ${formatIP(a.to)}`
          : "masquerade";
    return `    nat ${hook}: ${matchText(r.match)} -> ${act}   # ${r.origin.what}, ${formatSpan(r.origin.span)}`;
  });
}

export function showNetwork(net: Network): string {
  const out: string[] = [`network from ${net.file}`, "", "segments:"];
  for (const s of net.segments)
    out.push(
      `  ${s.name}  ${s.subnets.map(formatPrefix).join(", ") || "(no subnet declared)"}   # ${s.origin.what}, ${formatSpan(s.origin.span)}`,
    );
  // one string per machine: its lines die young, which keeps the garbage collector's copying small on large networks
  for (const m of net.machines) out.push(machineText(m));
  return out.join("\n");
}

/** A machine's block, from the empty line before it. */
function machineText(m: Machine): string {
  const out: string[] = [];
  out.push("", `${m.name} (${m.kind})  # ${formatSpan(m.origin.span)}`);
  out.push(`  sysctl: ip_forward=${m.ipForward ? 1 : 0} rp_filter=${m.rpFilter} route_localnet=${m.routeLocalnet ? 1 : 0}`);
  if (m.engine)
    out.push(
      `  NAT engine of host ${m.engine.host}: gateway ${formatIP(m.engine.gateway)}; ${formatIP(m.engine.loopbackAddress)} -> host loopback ${m.engine.loopbackReachable ? "on" : "off"}; everything else re-sent by ${m.engine.host}`,
    );
  out.push("  interfaces:");
  for (const i of m.interfaces)
    out.push(
      `    ${i.name.padEnd(10)} ${i.addrs.map((a) => `${formatIP(a.ip)}/${a.len}`).join(" ") || "-"}${i.segment ? `  on ${i.segment}` : ""}`,
    );
  out.push("  routes:");
  for (const r of m.routes) {
    // the metric when the file gave one (the kernel's defaults: semantics.md 3)
    const metric = r.metric !== undefined ? ` metric ${routeMetric(r)}` : "";
    out.push(`    ${formatPrefix(r.dst)}${r.via ? ` via ${formatIP(r.via)}` : ""} dev ${r.dev || "?"} ${r.type}${metric}`);
  }
  const fw: string[] = [];
  chainText(fw, m.filter.input);
  chainText(fw, m.filter.output);
  chainText(fw, m.filter.forward);
  if (fw.length) out.push("  filter:", ...fw);
  const nat = [
    ...natText("prerouting", m.nat.prerouting),
    ...natText("output", m.nat.output),
    ...natText("postrouting", m.nat.postrouting),
  ];
  if (nat.length) out.push(...nat);
  if (m.sockets.length) out.push("  sockets:");
  for (const s of m.sockets) {
    const bind = s.bind.v === 6 ? `[${formatIP(s.bind)}]` : formatIP(s.bind);
    const role = s.role.kind === "relay" ? ` relay via ${s.role.engine} to ${formatEndpoint(s.role.to, s.role.toPort)}` : "";
    out.push(
      `    ${s.proto} ${bind}:${s.port}${s.v6only ? " v6only" : ""}${s.device ? ` dev ${s.device}` : ""}  ${s.owner}${role}   # ${formatSpan(s.origin.span)}`,
    );
  }
  return out.join("\n");
}
