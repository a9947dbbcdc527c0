/** Lowering stage: a declared machine's firewall chains and NAT rules, as the file writes them. */
import { parseMatchPrefix } from "../net/addr.js";
import { parsePortRange } from "../net/port.js";
import type { Chain, Match, NatRule, NegatableMatch, PortRange, Rule } from "../ir/types.js";
import type { Path } from "../topology/load.js";
import { LOCAL_NONLOOPBACK, type ChainDoc, type MachineDoc, type Negatable, type NatRuleDoc, type RuleDoc } from "../topology/schema.js";
import {
  acceptAll,
  ipOf,
  must,
  natTable,
  portOf,
  type DstLocal,
  type LowerCtx,
  type MatchTree,
  type MutableMachine,
  sub,
} from "./context.js";

/** The file's `firewall:` (chains it leaves out accept everything) and `nat:` rules, each DNAT in the chain it names. */
export function lowerRules(ctx: LowerCtx, m: MutableMachine, md: MachineDoc, mp: Path): void {
  if (md.firewall) {
    m.filter = {
      input: lowerChain(ctx, "input", md.firewall.input, mp),
      output: lowerChain(ctx, "output", md.firewall.output, mp),
      forward: lowerChain(ctx, "forward", md.firewall.forward, mp),
    };
  }
  (md.nat ?? []).forEach((r, k) => {
    const rule = lowerNatRule(ctx, r, ctx.o(sub(mp, "nat", k), natWhat(r, k)));
    natTable(m, r.action !== "dnat" ? "postrouting" : r.chain === "output" ? "output" : "prerouting").push(rule);
  });
}

type MatchDoc = Omit<RuleDoc, "action">;
type Lowered = { -readonly [K in keyof NegatableMatch]: NegatableMatch[K] };

const isNot = (v: unknown): v is { not: unknown } => typeof v === "object" && v !== null && "not" in v;
const bare = <V>(v: Negatable<V>): V => (isNot(v) ? (v.not as V) : (v as V));
const matchPrefix = (t: string) => must(parseMatchPrefix(t), t);

/** A port or range by its text, one value per text (ctx.ranges). */
function rangeOf(ctx: LowerCtx, what: string, v: number | string): PortRange {
  let p = ctx.ranges.get(v);
  if (!p) ctx.ranges.set(v, (p = must(parsePortRange(v), what)));
  return p;
}

/**
 * The negatable conditions of a rule, each in `yes` or, written `{ not: ... }`, in the record
 * `no` returns (undefined when there is none). No closure or record is made per rule: a large
 * file has 100,000 of them.
 */
function lowerNegatable(ctx: LowerCtx, r: MatchDoc, yes: Lowered): Lowered | undefined {
  let no: Lowered | undefined;
  const side = (v: unknown): Lowered => (isNot(v) ? (no ??= {}) : yes);
  if (r.src !== undefined) side(r.src).src = matchPrefix(bare(r.src));
  // `dst: local` and `local-nonloopback` are expanded later (finish.ts); the checker refuses them negated
  if (r.dst !== undefined && dstLocalOf(r.dst) === false) side(r.dst).dst = matchPrefix(bare(r.dst));
  if (r.sport !== undefined) side(r.sport).sport = rangeOf(ctx, "sport", bare(r.sport));
  if (r.dport !== undefined) side(r.dport).dport = rangeOf(ctx, "dport", bare(r.dport));
  if (r.in !== undefined) side(r.in).in = bare(r.in);
  if (r.out !== undefined) side(r.out).out = bare(r.out);
  if (r.origDst !== undefined) side(r.origDst).origDst = matchPrefix(bare(r.origDst));
  if (r.origDport !== undefined) side(r.origDport).origDport = rangeOf(ctx, "origDport", bare(r.origDport));
  return no;
}

/** `dst: local` and `dst: local-nonloopback`, expanded by finish() (see DstLocal). */
const dstLocalOf = (dst: Negatable<string> | undefined): DstLocal | false =>
  dst === "local" ? true : dst === LOCAL_NONLOOPBACK ? "nonloopback" : false;

/** `rule`, noted for finish() when it was written with `dst: local` (see DstLocal). */
function noteDstLocal<R extends Rule | NatRule>(ctx: LowerCtx, rule: R, dst: Negatable<string> | undefined): R {
  const local = dstLocalOf(dst);
  if (local) ctx.dstLocal.set(rule, local);
  return rule;
}

/** The match of a rule (its keys in the order the IR has always listed them); `dst: local` is left out here (see DstLocal). */
function lowerMatch(ctx: LowerCtx, r: MatchDoc): Match {
  const m: { -readonly [K in keyof Match]: Match[K] } = {};
  if (r.proto !== undefined) m.proto = r.proto;
  const no = lowerNegatable(ctx, r, m);
  if (r.state !== undefined) m.state = r.state;
  if (r.dnat !== undefined) m.ctDnat = r.dnat;
  if (no) m.not = no;
  return m;
}

/** A port or range as text (V8 keeps the texts of small numbers: no string made a rule). */
const text = (v: string | number | undefined): string | undefined => (typeof v === "number" ? String(v) : v);

/** One step down the matches' tree (LowerCtx.matches): the level under condition value `v`, made when first needed. */
function step(level: MatchTree, v: unknown): MatchTree {
  let next = level.get(v) as MatchTree | undefined;
  if (next === undefined) level.set(v, (next = new Map()));
  return next;
}

/**
 * A filter rule's match, one object for every rule written with the same plain conditions (a
 * fleet's machines repeat a few rule sets: 100,000 rules of a 10,000-machine LAN have ten
 * matches). A rule with a negation or a state list gets its own (rare, and not worth a key).
 * The tree is walked condition by condition by name, with no key text made (a key string a rule
 * was 450 bytes of garbage, 46 MB on that LAN).
 */
function sharedMatch(ctx: LowerCtx, r: MatchDoc): Match {
  const { proto, src, dst, sport, dport, in: i, out: o, origDst, origDport, dnat } = r;
  if (
    r.state !== undefined ||
    typeof src === "object" ||
    typeof dst === "object" ||
    typeof sport === "object" ||
    typeof dport === "object" ||
    typeof i === "object" ||
    typeof o === "object" ||
    typeof origDst === "object" ||
    typeof origDport === "object"
  )
    return lowerMatch(ctx, r);
  // one level a condition, keyed by its value; a port by its text, so that 80 and "80" (one range) share
  const last = step(
    step(step(step(step(step(step(step(step(ctx.matches, proto), src), dst), text(sport)), text(dport)), i), o), origDst),
    text(origDport),
  );
  let m = last.get(dnat) as Match | undefined;
  if (m === undefined) last.set(dnat, (m = lowerMatch(ctx, r)));
  return m;
}

/** "input rule 3": one string for every machine's third input rule (a large file has 100,000 rules, most without a comment). */
const RULE_WHAT = { input: [] as string[], output: [] as string[], forward: [] as string[] };
const ruleWhat = (chain: Chain["name"], k: number): string =>
  k < 1000 ? (RULE_WHAT[chain][k] ??= `${chain} rule ${k + 1}`) : `${chain} rule ${k + 1}`;

/** A chain of the file; `mp` is its machine's path (a chain the file leaves out makes no path). */
function lowerChain(ctx: LowerCtx, name: Chain["name"], c: ChainDoc | undefined, mp: Path): Chain {
  if (!c) return acceptAll(name);
  const rp: Path = sub(mp, "firewall", name, "rules");
  const rules = (c.rules ?? []).map((r, k): Rule => {
    const match = sharedMatch(ctx, r);
    const origin = ctx.item(rp, k, r.comment ? `${name} rule ${k + 1} "${r.comment}"` : ruleWhat(name, k));
    // keys in the order the IR has always listed them (a spread of an optional key is slow on 100,000 rules)
    const rule: Rule = r.with !== undefined ? { match, action: r.action, with: r.with, origin } : { match, action: r.action, origin };
    return noteDstLocal(ctx, rule, r.dst);
  });
  // keys in the IR's order; no spread of the optional one (10,000 chains)
  return c.policy !== undefined
    ? { name, policy: c.policy, policyOrigin: ctx.o(sub(mp, "firewall", name, "policy"), `${name} policy`), rules }
    : { name, policy: "accept", rules };
}

function natWhat(r: NatRuleDoc, k: number): string {
  return `nat rule ${k + 1} (${r.action}${r.comment ? ` "${r.comment}"` : ""})`;
}

function lowerNatRule(ctx: LowerCtx, r: NatRuleDoc, origin: NatRule["origin"]): NatRule {
  const match = lowerMatch(ctx, r);
  const rule = ((): NatRule => {
    switch (r.action) {
      case "dnat":
        return { match, action: { kind: "dnat", to: ipOf(r.to), ...(r.toPort !== undefined ? { toPort: portOf(r.toPort) } : {}) }, origin };
      case "snat":
        return { match, action: { kind: "snat", to: ipOf(r.to) }, origin };
      case "masquerade":
        return { match, action: { kind: "masquerade" }, origin };
    }
  })();
  return noteDstLocal(ctx, rule, r.dst);
}
