/**
 * `nft -j list ruleset` (libnftables-json(5)) read into the netfilter tables of
 * netfilter.ts, which flattens them. The output is one object
 * `{"nftables": [metainfo, table..., chain..., set..., rule...]}`; a rule is a
 * list of expressions: `match` (op `==`, `!=`, `in`, `<`...; left a payload field,
 * a meta key, ct state or a fib lookup; right a value, prefix, range, set or
 * `@named_set`), verdicts (accept, drop, reject, jump, goto, return, continue),
 * statements (counter, log: no effect) and NAT (dnat, snat, masquerade).
 *
 * Tables iptables-nft manages (family ip/ip6, names filter/nat/mangle/raw/security
 * with the upper-case built-in chain names) are skipped when iptables-save of
 * that family is among the inputs: it shows the same rules without the opaque
 * `xt` placeholders (semantics.md section 8). Without it they are read here, and
 * each rule with an `xt` expression is reported.
 */
import { diagnostic } from "../diagnostics/diagnostic.js";
import { parseIP, prefixOf, type Family, type IP, type Prefix } from "../net/addr.js";
import type { CtState, PortRange, Proto, RejectWith } from "../ir/types.js";
import { items, member, num, plain, str, type JValue } from "./linux-json.js";
import { ALL, type Cond, type FMatch, rangeComplement, stateSet } from "./linux-match.js";
import {
  effectOf,
  rangePrefixes,
  type Atom,
  type BaseChain,
  type Hook,
  type NfChain,
  type NfTable,
  type Reporter,
  type Target,
  warn,
} from "./netfilter.js";
import { spanAt, type Source } from "./types.js";

const NFT_UNDERSTOOD =
  "tables ip, ip6, inet; filter chains at input/output/forward, nat chains at prerouting/output/postrouting; matches ip/ip6 saddr daddr, tcp/udp/th sport dport, meta l4proto nfproto iifname oifname, ct state, ct original proto-dst, fib daddr type local, with == != in < > and sets; accept drop reject jump goto return continue counter log dnat snat masquerade";

const IPTABLES_TABLES = new Set(["filter", "nat", "mangle", "raw", "security"]);
const IPTABLES_CHAINS = new Set(["INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"]);
const HOOKS = new Set<Hook>(["prerouting", "input", "forward", "output", "postrouting"]);
const STATES: Record<string, CtState> = { new: "new", established: "established", related: "related", invalid: "invalid" };

/** Thrown inside one rule: the construct is not understood; the rule is left out. */
class NotUnderstood {
  constructor(
    readonly what: string,
    readonly at: JValue,
  ) {}
}

const show = (v: JValue): string => {
  const s = JSON.stringify(plain(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

interface Sets {
  get(table: string, name: string): readonly JValue[] | undefined;
}

/** A right-hand side as a list of plain values (sets and named sets unfolded, elem wrappers removed). */
function values(v: JValue, sets: Sets, table: string): JValue[] {
  if (v.t === "obj" && member(v, "set")) return items(member(v, "set")).flatMap((x) => values(x, sets, table));
  if (v.t === "arr") return v.items.flatMap((x) => values(x, sets, table));
  if (v.t === "obj" && member(v, "elem")) {
    const val = member(member(v, "elem"), "val");
    if (!val) throw new NotUnderstood("a set element without a value", v);
    return values(val, sets, table);
  }
  const s = str(v);
  if (s?.startsWith("@")) {
    const elems = sets.get(table, s.slice(1));
    if (!elems) throw new NotUnderstood(`set ${s} (not in this ruleset, or a map)`, v);
    return elems.flatMap((x) => values(x, sets, table));
  }
  return [v];
}

function addressValue(v: JValue, family: Family): Prefix[] {
  const s = str(v);
  if (s !== undefined) {
    const ip = parseIP(s);
    if (ip && ip.v === family) return [{ v: family, n: ip.n, len: family === 4 ? 32 : 128 }];
  }
  const pre = member(v, "prefix");
  if (pre) {
    const ip = parseIP(str(member(pre, "addr")) ?? "");
    const len = num(member(pre, "len"));
    if (ip && ip.v === family && len !== undefined && Number.isInteger(len) && len >= 0 && len <= (family === 4 ? 32 : 128)) {
      return [prefixOf(ip, len)];
    }
  }
  const range = items(member(v, "range"));
  if (range.length === 2) {
    const lo = parseIP(str(range[0]) ?? "");
    const hi = parseIP(str(range[1]) ?? "");
    if (lo && hi && lo.v === family && hi.v === family && lo.n <= hi.n) return rangePrefixes(lo, hi);
  }
  throw new NotUnderstood(`address ${show(v)}`, v);
}

function portValue(v: JValue): PortRange {
  const n = num(v) ?? (str(v) !== undefined && /^\d+$/.test(str(v)!) ? Number(str(v)) : undefined);
  if (n !== undefined && Number.isInteger(n) && n >= 0 && n <= 65535) return { lo: n, hi: n };
  const range = items(member(v, "range"));
  if (range.length === 2) {
    const lo = portValue(range[0]!);
    const hi = portValue(range[1]!);
    if (lo.lo <= hi.hi) return { lo: lo.lo, hi: hi.hi };
  }
  throw new NotUnderstood(`port ${show(v)}`, v);
}

/** A protocol value: the language's name (with the family it implies), null for one not modelled. */
function protoValue(v: JValue): { proto: Proto; family?: Family } | null {
  const s = str(v) ?? String(num(v) ?? "");
  switch (s) {
    case "tcp":
    case "6":
      return { proto: "tcp" };
    case "udp":
    case "17":
      return { proto: "udp" };
    case "icmp":
    case "1":
      return { proto: "icmp", family: 4 };
    case "ipv6-icmp":
    case "icmpv6":
    case "58":
      return { proto: "icmp", family: 6 };
    case "":
      throw new NotUnderstood(`protocol ${show(v)}`, v);
    default:
      return null;
  }
}

/** A comparison on ports as a range: `< 1024` is 0-1023. */
function comparePorts(op: string, r: PortRange, at: JValue): PortRange[] {
  switch (op) {
    case "<":
      return r.lo > 0 ? [{ lo: 0, hi: r.lo - 1 }] : [];
    case "<=":
      return [{ lo: 0, hi: r.hi }];
    case ">":
      return r.hi < 65535 ? [{ lo: r.hi + 1, hi: 65535 }] : [];
    case ">=":
      return [{ lo: r.lo, hi: 65535 }];
    default:
      throw new NotUnderstood(`operator ${op}`, at);
  }
}

/** One `match` expression as atoms (a port match is also a positive protocol match). */
/** The ports in none of the ranges. */
function portComplement(ranges: readonly PortRange[]): PortRange[] {
  let rest: PortRange[] = [{ lo: 0, hi: 65535 }];
  for (const r of ranges)
    rest = rest.flatMap((x) =>
      rangeComplement(r).flatMap((c) => {
        const lo = Math.max(x.lo, c.lo);
        const hi = Math.min(x.hi, c.hi);
        return lo <= hi ? [{ lo, hi }] : [];
      }),
    );
  return rest;
}

// Long: one dispatch over what a match compares (payload, meta, ct state, fib), whose cases share op, neg and the right-hand values; it reads best whole.
function matchAtoms(e: JValue, family: Family | "inet", sets: Sets, table: string): Atom[] {
  const op = str(member(e, "op")) ?? "==";
  const left = member(e, "left");
  const right = member(e, "right");
  if (!left || !right) throw new NotUnderstood("a match without left or right", e);
  const neg = op === "!=";
  const eq = op === "==" || op === "in" || op === "!=";
  const payload = member(left, "payload");
  const meta = member(left, "meta");
  const ct = member(left, "ct");
  const fib = member(left, "fib");
  const positive = (cond: Cond): Atom[] => [{ kind: "m", neg, cond }];
  if (payload) {
    const protocol = str(member(payload, "protocol"));
    const field = str(member(payload, "field"));
    const fam: Family | undefined = protocol === "ip" ? 4 : protocol === "ip6" ? 6 : undefined;
    if (fam !== undefined && (field === "saddr" || field === "daddr")) {
      if (!eq) throw new NotUnderstood(`operator ${op} on an address`, e);
      if (family !== "inet" && family !== fam) return [{ kind: "m", neg: false, cond: [] }];
      const dir = field === "saddr" ? "src" : "dst";
      return positive(
        values(right, sets, table)
          .flatMap((x) => addressValue(x, fam))
          .map((p) => ({ family: fam, [dir]: p })),
      );
    }
    if (fam !== undefined && (field === "protocol" || field === "nexthdr")) {
      if (!eq) throw new NotUnderstood(`operator ${op} on a protocol`, e);
      return positive(
        values(right, sets, table).flatMap((x) => {
          const p = protoValue(x);
          return p && (p.family === undefined || p.family === fam) ? [{ family: fam, proto: p.proto }] : [];
        }),
      );
    }
    if ((protocol === "tcp" || protocol === "udp" || protocol === "th") && (field === "sport" || field === "dport")) {
      const protos: ("tcp" | "udp")[] = protocol === "th" ? ["tcp", "udp"] : [protocol];
      const ranges = eq ? values(right, sets, table).map(portValue) : comparePorts(op, portValue(right), e);
      const cond: FMatch[] = protos.flatMap((proto) => ranges.map((r) => ({ proto, [field]: r })));
      // the implied `meta l4proto` dependency is positive even when the port comparison is negated
      return [{ kind: "m", neg: false, cond: protos.map((proto) => ({ proto })) }, ...positive(cond)];
    }
    throw new NotUnderstood(`payload ${protocol ?? "?"} ${field ?? "?"}`, left);
  }
  if (meta) {
    const key = str(member(meta, "key"));
    if (!eq) throw new NotUnderstood(`operator ${op} on meta ${key ?? "?"}`, e);
    if (key === "iifname" || key === "oifname" || key === "iif" || key === "oif") {
      const names = values(right, sets, table).map((x) => {
        const s = str(x);
        if (s === undefined) throw new NotUnderstood(`interface ${show(x)}`, x);
        return s.endsWith("*") ? `${s.slice(0, -1)}+` : s;
      });
      if (names.length !== 1) throw new NotUnderstood(`a set of interfaces ${show(right)}`, right);
      return [{ kind: "if", dir: key.startsWith("i") ? "in" : "out", neg, name: names[0]! }];
    }
    if (key === "l4proto") {
      return positive(
        values(right, sets, table).flatMap((x) => {
          const p = protoValue(x);
          return p ? [p.family !== undefined ? { family: p.family, proto: p.proto } : { proto: p.proto }] : [];
        }),
      );
    }
    if (key === "nfproto") {
      return positive(
        values(right, sets, table).map((x) => {
          const s = str(x);
          if (s === "ipv4") return { family: 4 as const };
          if (s === "ipv6") return { family: 6 as const };
          throw new NotUnderstood(`meta nfproto ${show(x)}`, x);
        }),
      );
    }
    throw new NotUnderstood(`meta ${key ?? "?"}`, left);
  }
  if (ct && str(member(ct, "key")) === "proto-dst" && str(member(ct, "dir")) === "original") {
    // conntrack's original destination port; negated: another port, still with an entry (none matches neither form)
    const given = () => values(right, sets, table).map(portValue);
    const list = op === "==" || op === "in" ? given() : op === "!=" ? portComplement(given()) : comparePorts(op, portValue(right), e);
    return [{ kind: "m", neg: false, cond: (["tcp", "udp"] as const).flatMap((proto) => list.map((origDport) => ({ proto, origDport }))) }];
  }
  if (ct && str(member(ct, "key")) === "state") {
    if (!eq) throw new NotUnderstood(`operator ${op} on ct state`, e);
    const states = values(right, sets, table).map((x) => {
      const s = STATES[str(x) ?? ""];
      if (!s) throw new NotUnderstood(`ct state ${show(x)}`, x);
      return s;
    });
    const set = stateSet(states);
    return positive(set ? [{ state: set }] : ALL);
  }
  if (fib) {
    const flags = items(member(fib, "flags")).map(str);
    if (str(member(fib, "result")) === "type" && flags.length === 1 && (flags[0] === "daddr" || flags[0] === "saddr") && eq) {
      const vals = values(right, sets, table).map(str);
      if (vals.length === 1 && vals[0] === "local") return [{ kind: "local", dir: flags[0] === "daddr" ? "dst" : "src", neg }];
    }
    throw new NotUnderstood(`fib ${show(left)} ${op} ${show(right)}`, e);
  }
  throw new NotUnderstood(`match on ${show(left)}`, left);
}

const IGNORED = new Set(["counter", "log"]);

/** The atoms and the target of one rule's expression list. */
/** nft's reject types (`reject with icmpx|icmp|icmpv6 type X`, `with tcp reset`) in the language's names; others are not modelled. */
const NFT_REJECT: Record<"icmpx" | "icmp" | "icmpv6", Record<string, RejectWith>> = {
  icmpx: {
    "port-unreachable": "port-unreachable",
    "admin-prohibited": "admin-prohibited",
    "no-route": "net-unreachable",
    "host-unreachable": "host-unreachable",
  },
  icmp: {
    "port-unreachable": "port-unreachable",
    "host-unreachable": "host-unreachable",
    "net-unreachable": "net-unreachable",
    "admin-prohibited": "admin-prohibited",
    "host-prohibited": "host-prohibited",
    "net-prohibited": "net-prohibited",
  },
  icmpv6: {
    "port-unreachable": "port-unreachable",
    "addr-unreachable": "host-unreachable",
    "no-route": "net-unreachable",
    "admin-prohibited": "admin-prohibited",
  },
};

/**
 * A reject statement: its type, and the dependency nft adds to the rule (libnftables-json(5);
 * nft 1.0.6 checked in a namespace): `tcp reset` matches TCP only, `icmp type` IPv4 only and
 * `icmpv6 type` IPv6 only in an inet table (an IPv6 packet passes a rule that rejects with an ICMP
 * type). `{"reject": null}` is nft's default, port-unreachable.
 */
function rejectOf(body: JValue, family: Family | "inet", e: JValue): { with: RejectWith; atoms: Atom[] } {
  if (body.t === "null") return { with: "port-unreachable", atoms: [] };
  const type = str(member(body, "type"));
  if (type === "tcp reset") return { with: "tcp-reset", atoms: [{ kind: "m", neg: false, cond: [{ proto: "tcp" }] }] };
  const expr = str(member(body, "expr")) ?? "port-unreachable";
  const w = type === "icmpx" || type === "icmp" || type === "icmpv6" ? NFT_REJECT[type][expr] : undefined;
  if (!w) throw new NotUnderstood(`reject with ${type ?? "?"} ${expr}`, e);
  const only: Family | undefined = type === "icmp" ? 4 : type === "icmpv6" ? 6 : undefined;
  if (only !== undefined && family !== "inet" && family !== only) return { with: w, atoms: [{ kind: "m", neg: false, cond: [] }] };
  return { with: w, atoms: only !== undefined && family === "inet" ? [{ kind: "m", neg: false, cond: [{ family: only }] }] : [] };
}

function ruleOf(exprs: readonly JValue[], family: Family | "inet", sets: Sets, table: string): { atoms: Atom[]; target: Target } {
  const atoms: Atom[] = [];
  let target: Target = { kind: "continue" };
  for (const e of exprs) {
    if (e.t !== "obj" || e.entries.size !== 1) throw new NotUnderstood(`expression ${show(e)}`, e);
    const [key, body] = [...e.entries][0]!;
    if (target.kind !== "continue" && !IGNORED.has(key)) throw new NotUnderstood(`${key} after the rule's verdict`, e);
    switch (key) {
      case "match":
        atoms.push(...matchAtoms(body, family, sets, table));
        break;
      case "accept":
      case "drop":
        target = { kind: key };
        break;
      case "reject": {
        const r = rejectOf(body, family, e);
        atoms.push(...r.atoms);
        target = { kind: "reject", ...(r.with !== "port-unreachable" ? { with: r.with } : {}) };
        break;
      }
      case "return":
        target = { kind: "return" };
        break;
      case "continue":
        break;
      case "jump":
      case "goto": {
        const chain = str(member(body, "target"));
        if (!chain) throw new NotUnderstood(`${key} without a target chain`, e);
        target = { kind: key, chain };
        break;
      }
      case "dnat":
      case "snat": {
        const addr = str(member(body, "addr"));
        const ip: IP | undefined = addr !== undefined ? parseIP(addr) : undefined;
        if (!ip) throw new NotUnderstood(`${key} to ${show(member(body, "addr") ?? body)} (only one address is understood)`, e);
        const port = member(body, "port");
        const p = port ? num(port) : undefined;
        if (port && (key === "snat" || p === undefined || !Number.isInteger(p) || p < 1 || p > 65535))
          throw new NotUnderstood(`${key} port ${show(port)}`, port);
        target = key === "dnat" ? { kind: "dnat", to: ip, ...(p !== undefined ? { toPort: p } : {}) } : { kind: "snat", to: ip };
        break;
      }
      case "masquerade":
        if (member(body, "port")) throw new NotUnderstood(`masquerade to ports ${show(member(body, "port")!)}`, e);
        target = { kind: "masquerade" };
        break;
      default:
        if (IGNORED.has(key)) break;
        throw new NotUnderstood(
          key === "xt" ? `an iptables-nft placeholder (xt ${str(member(body, "name")) ?? ""})` : `statement ${key}`,
          e,
        );
    }
  }
  return { atoms, target };
}

/** An nft table being read; `skip`: left out (dormant, or iptables-nft's with iptables-save among the inputs). */
interface NftTable {
  readonly family: Family | "inet";
  readonly name: string;
  readonly chains: Map<string, NfChain>;
  skip: boolean;
}

const tableKey = (family: string, table: string) => `${family} ${table}`;
const famOf = (s: string | undefined): Family | "inet" | undefined =>
  s === "ip" ? 4 : s === "ip6" ? 6 : s === "inet" ? "inet" : undefined;

/** The tables (of the families the model has) and the named sets, wherever the listing puts them. */
function nftTablesAndSets(list: readonly JValue[], rep: Reporter): { tables: Map<string, NftTable>; sets: Map<string, readonly JValue[]> } {
  const tables = new Map<string, NftTable>();
  const sets = new Map<string, readonly JValue[]>();
  for (const obj of list) {
    const t = member(obj, "table");
    if (t) {
      const family = str(member(t, "family")) ?? "";
      const name = str(member(t, "name")) ?? "";
      const fam = famOf(family);
      if (fam === undefined) continue;
      // a dormant table is loaded but not run (nft(8) TABLES: flags dormant)
      const dormant = items(member(t, "flags")).some((f) => str(f) === "dormant") || str(member(t, "flags")) === "dormant";
      if (dormant) rep.notes.add(`nft table ${family} ${name} is dormant (not run): left out.`);
      tables.set(tableKey(family, name), { family: fam, name, chains: new Map(), skip: dormant });
    }
    const s = member(obj, "set");
    if (s) sets.set(`${str(member(s, "family"))} ${str(member(s, "table"))} ${str(member(s, "name"))}`, items(member(s, "elem")));
  }
  return { tables, sets };
}

/** Each chain into its table; a base chain with its hook, type, priority and policy. */
function nftChains(source: Source, list: readonly JValue[], tables: ReadonlyMap<string, NftTable>, rep: Reporter): void {
  const at = (v: JValue) => spanAt(source, v.off);
  for (const obj of list) {
    const c = member(obj, "chain");
    if (!c) continue;
    const family = str(member(c, "family")) ?? "";
    const tname = str(member(c, "table")) ?? "";
    const name = str(member(c, "name")) ?? "";
    const t = tables.get(tableKey(family, tname));
    const hook = str(member(c, "hook"));
    if (!t) {
      if (hook) rep.notes.add(`nftables family ${family} (table ${tname}) is not modelled; its chains are reported rule by rule.`);
      continue;
    }
    let base: BaseChain | undefined;
    if (hook !== undefined) {
      const type = str(member(c, "type"));
      const policy = str(member(c, "policy")) ?? "accept";
      const prio = num(member(c, "prio")) ?? 0;
      if (policy !== "accept" && policy !== "drop") {
        rep.diagnostics.push(diagnostic("RCH055", at(c), `chain ${name} has policy '${policy}'`, { expected: "accept or drop" }));
        continue;
      }
      const known = HOOKS.has(hook as Hook);
      base = {
        hook: known ? (hook as Hook) : "input",
        ...(known ? {} : { hookName: hook }),
        type: known && (type === "filter" || type === "nat") ? type : "other",
        priority: prio,
        policy,
        policySpan: at(member(c, "policy") ?? c),
      };
    }
    t.chains.set(name, { name, rules: [], span: at(c), ...(base ? { base } : {}) });
  }
}

/** iptables-nft's own tables are left out when iptables-save of their family is among the inputs: it shows them better. */
function skipIptablesNft(tables: ReadonlyMap<string, NftTable>, iptablesFamilies: ReadonlySet<Family>, rep: Reporter): void {
  for (const t of tables.values()) {
    if (t.family === "inet" || !IPTABLES_TABLES.has(t.name) || ![...t.chains.keys()].some((c) => IPTABLES_CHAINS.has(c))) continue;
    if (iptablesFamilies.has(t.family)) {
      t.skip = true;
      rep.notes.add(
        `nft table ${t.family === 4 ? "ip" : "ip6"} ${t.name} is iptables-nft's: read from ${t.family === 4 ? "iptables-save" : "ip6tables-save"} instead of nft's JSON.`,
      );
    }
  }
}

/** Each rule into its chain (left out, with a warning, when it is not understood); true when an iptables-nft xt placeholder was seen. */
function nftRules(
  source: Source,
  list: readonly JValue[],
  tables: ReadonlyMap<string, NftTable>,
  sets: ReadonlyMap<string, readonly JValue[]>,
  rep: Reporter,
): boolean {
  const at = (v: JValue) => spanAt(source, v.off);
  let xtSeen = false;
  const counters = new Map<NfChain, number>();
  for (const obj of list) {
    const r = member(obj, "rule");
    if (!r) continue;
    const family = str(member(r, "family")) ?? "";
    const tname = str(member(r, "table")) ?? "";
    const cname = str(member(r, "chain")) ?? "";
    const t = tables.get(tableKey(family, tname));
    const handle = num(member(r, "handle"));
    const label = `rule${handle !== undefined ? ` handle ${handle}` : ""} of chain ${cname} (nft table ${family} ${tname})`;
    if (!t) {
      if (famOf(family) === undefined) warn(rep, at(r), `nftables family ${family} is not modelled: ${label} is left out`, NFT_UNDERSTOOD);
      continue;
    }
    if (t.skip) continue;
    const chain = t.chains.get(cname);
    if (!chain) {
      rep.diagnostics.push(
        diagnostic("RCH055", at(r), `${label}: the chain is not in the ruleset`, { expected: "each rule's chain listed before it" }),
      );
      continue;
    }
    const index = (counters.get(chain) ?? 0) + 1;
    counters.set(chain, index);
    const comment = str(member(r, "comment"));
    const text = `nft ${family} ${tname} ${cname}${handle !== undefined ? ` #${handle}` : ""}${comment ? ` "${comment}"` : ""}`;
    const exprs = items(member(r, "expr"));
    try {
      const { atoms, target } = ruleOf(exprs, t.family, { get: (tb, n) => sets.get(`${family} ${tb} ${n}`) }, tname);
      if ((target.kind === "jump" || target.kind === "goto") && !t.chains.has(target.chain))
        throw new NotUnderstood(`${target.kind} to ${target.chain}, which is not in the table`, r);
      chain.rules.push({ atoms, target, span: at(r), label, text });
    } catch (x) {
      if (!(x instanceof NotUnderstood)) throw x;
      if (x.what.startsWith("an iptables-nft placeholder")) xtSeen = true;
      warn(rep, at(x.at), `${x.what} is not modelled: ${label} is left out; ${effectOfExprs(exprs)}`, NFT_UNDERSTOOD);
      chain.rules.push({ atoms: [], target: { kind: "continue" }, span: at(r), label, text, unsupported: true });
    }
  }
  return xtSeen;
}

/**
 * Reads the nftables tables of `nft -j list ruleset`. `iptablesFamilies` are the
 * families whose iptables-save output is also among the inputs. Tables and sets are
 * read first, then chains, then rules (nft lists them in that order, but this does
 * not rely on it).
 */
export function parseNftRuleset(source: Source, root: JValue, iptablesFamilies: ReadonlySet<Family>, rep: Reporter): NfTable[] {
  const list = items(member(root, "nftables"));
  const { tables, sets } = nftTablesAndSets(list, rep);
  nftChains(source, list, tables, rep);
  skipIptablesNft(tables, iptablesFamilies, rep);
  if (nftRules(source, list, tables, sets, rep))
    rep.notes.add(
      "The nft ruleset holds iptables-nft rules as opaque xt placeholders, which lose matches and NAT targets: add the output of iptables-save (and ip6tables-save) to read those tables exactly.",
    );
  return [...tables.values()]
    .filter((t) => !t.skip)
    .map((t) => ({
      family: t.family,
      what: `nft table ${t.family === "inet" ? "inet" : t.family === 4 ? "ip" : "ip6"} ${t.name}`,
      chains: t.chains,
    }));
}

/** What leaving out a rule with these expressions changes, from its verdict. */
function effectOfExprs(exprs: readonly JValue[]): string {
  for (const e of exprs) {
    if (e.t !== "obj") continue;
    for (const k of ["accept", "drop", "reject", "return"] as const) if (e.entries.has(k)) return effectOf({ kind: k });
    for (const k of ["jump", "goto"] as const)
      if (e.entries.has(k)) return effectOf({ kind: k, chain: str(member(e.entries.get(k), "target")) ?? "?" });
    for (const k of ["dnat", "snat", "masquerade", "redirect"]) if (e.entries.has(k)) return `its ${k} is not imported`;
  }
  return "it has no verdict the model knows";
}
