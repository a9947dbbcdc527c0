/**
 * Lowering's last stage, once every interface of every machine is known: the route table
 * (connected, static with its device resolved, DHCP defaults) and `dst: local` expanded.
 */
import { contains, prefixOf, type Prefix } from "../net/addr.js";
import { routeMetric, type Chain, type Machine, type NatRule, type Route, type Rule } from "../ir/types.js";
import { onPrefix, type DstLocal, type MutableMachine } from "./context.js";

/**
 * The final Machine. Its chains, tables and rules are the lowered ones themselves wherever no
 * `dst: local` rule is to be expanded (the usual case: a large file makes no copy of them).
 */
export function finish(m: MutableMachine, dstLocal: ReadonlyMap<Rule | NatRule, DstLocal>): Machine {
  let locals: Prefix[] | undefined;
  const expand = <R extends Rule | NatRule>(rules: readonly R[]): readonly R[] =>
    dstLocal.size === 0 || !rules.some((r) => dstLocal.has(r)) ? rules : expandLocal(rules, dstLocal, (locals ??= localPrefixes(m)));
  const chain = (c: Chain): Chain => {
    const rules = expand(c.rules);
    return rules === c.rules ? c : { ...c, rules };
  };
  const { filter, nat } = m;
  const input = chain(filter.input);
  const output = chain(filter.output);
  const forward = chain(filter.forward);
  const prerouting = expand(nat.prerouting);
  const natOutput = expand(nat.output);
  const postrouting = expand(nat.postrouting);
  return {
    name: m.name,
    kind: m.kind,
    origin: m.origin,
    interfaces: m.interfaces,
    routes: routeTable(m),
    ipForward: m.ipForward,
    rpFilter: m.rpFilter,
    routeLocalnet: m.routeLocalnet,
    filter: input === filter.input && output === filter.output && forward === filter.forward ? filter : { input, output, forward },
    nat:
      prerouting === nat.prerouting && natOutput === nat.output && postrouting === nat.postrouting
        ? nat
        : { prerouting, output: natOutput, postrouting },
    sockets: m.sockets,
    ...(m.engine ? { engine: m.engine } : {}),
    ...(m.docker ? { docker: m.docker } : {}),
  };
}

/** Connected routes first (most specific wins anyway), then static, then implicit DHCP defaults. */
function routeTable(m: MutableMachine): Route[] {
  const connected: Route[] = [];
  for (const i of m.interfaces) {
    for (const a of i.addrs) {
      const dst = onPrefix(a);
      if (!connected.some((r) => r.dev === i.name && r.dst.v === dst.v && r.dst.n === dst.n && r.dst.len === dst.len)) {
        connected.push({ dst, dev: i.name, type: i.name === "lo" ? "local" : "connected", origin: i.origin });
      }
    }
  }
  const resolveDev = (r: Route): Route => {
    if (r.dev) return r;
    const via = r.via;
    if (!via) return { ...r, dev: "" };
    // the kernel looks the gateway up among the link-scope routes (connected, then on-link static):
    // the longest prefix, then the lowest metric, then the route listed first
    let best: Route | undefined;
    const consider = (c: Route): void => {
      if (!contains(c.dst, via)) return;
      if (!best || c.dst.len > best.dst.len || (c.dst.len === best.dst.len && routeMetric(c) < routeMetric(best))) best = c;
    };
    for (const c of connected) if (c.type === "connected") consider(c);
    for (const x of m.staticRoutes) if (x.via === undefined && x.dev) consider(x);
    return { ...r, dev: best?.dev ?? "" };
  };
  const statics = m.staticRoutes.map(resolveDev);
  // DHCP leases give one default route per family: the first adapter's, unless the file has its own.
  const taken = { 4: false, 6: false };
  const defaults = m.implicitDefaults.filter((d) => {
    if (taken[d.dst.v] || statics.some((s) => s.dst.len === 0 && s.dst.v === d.dst.v)) return false;
    taken[d.dst.v] = true;
    return true;
  });
  // concat, not a spread: the list lives as long as the IR, exactly as long (context.ts sub)
  return connected.concat(statics, defaults);
}

/** 127.0.0.0/8 or ::1/128 (lo's own prefixes). */
const isLoopbackPrefix = (p: Prefix): boolean => (p.v === 4 ? p.len === 8 && p.n === 0x7f000000n : p.len === 128 && p.n === 1n);

/** This machine's local destinations: its addresses, 127.0.0.0/8 and ::1. */
function localPrefixes(m: MutableMachine): Prefix[] {
  const out: Prefix[] = [];
  for (const i of m.interfaces)
    for (const a of i.addrs) {
      const p = i.name === "lo" ? onPrefix(a) : prefixOf(a.ip, a.ip.v === 4 ? 32 : 128);
      if (!out.some((x) => x.v === p.v && x.n === p.n && x.len === p.len)) out.push(p);
    }
  return out;
}

/**
 * The rules as the IR holds them: a `dst: local` rule becomes one copy per local prefix (of
 * its src's family when it has a src). The copies are consecutive and share the action, so
 * together they match exactly the union.
 */
function expandLocal<R extends Rule | NatRule>(
  rules: readonly R[],
  local: ReadonlyMap<Rule | NatRule, DstLocal>,
  locals: readonly Prefix[],
): R[] {
  const out: R[] = [];
  for (const r of rules) {
    const dstLocal = local.get(r);
    if (!dstLocal) out.push(r);
    else
      for (const dst of locals)
        if ((!r.match.src || r.match.src.v === dst.v) && (dstLocal === true || !isLoopbackPrefix(dst)))
          out.push({ ...r, match: { ...r.match, dst } });
  }
  return out;
}
