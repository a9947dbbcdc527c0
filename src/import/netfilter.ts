/**
 * Netfilter rulesets (iptables-save, ip6tables-save; nftables via linux-nft.ts)
 * flattened EXACTLY into the topology language's firewall: three first-match
 * chains (input, output, forward) of positive matches, and a `nat:` list.
 *
 * The parsers produce tables of chains of rules whose conditions are atoms
 * (possibly negated); `flatten` walks each base chain from its hook:
 * - a rule's condition is the conjunction of its atoms, each brought to a union
 *   of positive matches (linux-match.ts), intersected with the guard (what can
 *   still reach the rule); a union of k matches becomes k rules with one action;
 * - `-j CHAIN` inlines the chain under the guard ∩ the jump's match; `-g CHAIN`
 *   likewise, and the rest of the calling chain then only sees the guard ∩ ¬match;
 * - RETURN (conditional) leaves the rest of its chain to the guard ∩ ¬match; in a
 *   built-in chain that means the policy, as in the kernel;
 * - in the nat table ACCEPT ends the traversal with no translation: the language
 *   has no such NAT rule, so the rest of the traversal sees the guard ∩ ¬match
 *   (a "stop" carried back to the callers);
 * - LOG, NFLOG, counters and comments change nothing.
 * Whatever the language cannot say (modules such as recent, limit, set, mark;
 * ICMP types; other tables) is an RCH051 warning naming the option, the chain
 * and the rule, and the rule is left out.
 *
 * Several base chains on one hook (iptables and nftables, or IPv4 and IPv6
 * tables) are composed in priority order: for filtering a packet must pass each
 * of them (an accept goes on to the next base chain, a drop is final), so each
 * accept rule of the first is replaced by the second's rules under its match,
 * followed by the second's policy; for NAT the lists are concatenated.
 * iptables-save rules carry their family: a rule without addresses is pinned
 * to IPv4 (or IPv6) with `src: 0.0.0.0/0` (`::/0`), since the language's rules
 * match both families when they name no address.
 */
import { basename } from "node:path";
import { diagnostic, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import { bits, formatIP, mask, parseIP, type Family, type IP, type Prefix } from "../net/addr.js";
import type { CtState, PortRange, Proto, RejectWith } from "../ir/types.js";
import type { ChainDoc, NatRuleDoc, RuleDoc } from "../topology/schema.js";
import { spanLine, type Source } from "./types.js";
import {
  ALL,
  absorb,
  and,
  intersect,
  type Cond,
  type FMatch,
  minus,
  NeedsInterfaces,
  not,
  NOTHING,
  prefixSetComplement,
  prefixText,
  rangeComplement,
  rangeText,
  stateSet,
  TooLarge,
  type Universe,
} from "./linux-match.js";

/** Rules one chain may flatten to before it is reported and left out. */
export const FLAT_CAP = 10_000;

export type Hook = "prerouting" | "input" | "forward" | "output" | "postrouting";
export type Verdict = "accept" | "drop" | "reject";
export type NatTarget =
  | { readonly kind: "dnat"; readonly to: IP; readonly toPort?: number }
  | { readonly kind: "snat"; readonly to: IP }
  | { readonly kind: "masquerade" };
export type Target =
  /** `with`: a reject's type (--reject-with, nft reject with); absent = port-unreachable */
  | { readonly kind: Verdict; readonly with?: RejectWith }
  /** RETURN */
  | { readonly kind: "return" }
  /** no verdict: LOG, NFLOG, counters, no target */
  | { readonly kind: "continue" }
  | { readonly kind: "jump" | "goto"; readonly chain: string }
  | NatTarget;

/** One constraint of a rule, possibly negated; interface and local-address atoms need the machine. */
export type Atom =
  | { readonly kind: "m"; readonly neg: boolean; readonly cond: Cond }
  /** `name` may end in `+` (any interface whose name starts with the rest) */
  | { readonly kind: "if"; readonly dir: "in" | "out"; readonly neg: boolean; readonly name: string }
  /** addrtype LOCAL / fib type local: one of the machine's own addresses (incl. 127/8, ::1) */
  | { readonly kind: "local"; readonly dir: "src" | "dst"; readonly neg: boolean };

export interface NfRule {
  readonly atoms: readonly Atom[];
  readonly target: Target;
  readonly span: Span;
  /** e.g. `rule 3 of chain INPUT (iptables-save table filter)` */
  readonly label: string;
  /** what the flattened rules' comments say, e.g. `iptables-save:12` */
  readonly text: string;
  /** already reported with RCH051 by the parser: the rule is left out */
  readonly unsupported?: boolean;
}

export interface BaseChain {
  readonly hook: Hook;
  /** the hook as the input names it, when the language has no such hook (nft ingress, egress) */
  readonly hookName?: string;
  readonly type: "filter" | "nat" | "other";
  readonly priority: number;
  readonly policy: "accept" | "drop";
  readonly policySpan: Span;
}

export interface NfChain {
  readonly name: string;
  readonly rules: NfRule[];
  readonly span: Span;
  readonly base?: BaseChain;
}

export interface NfTable {
  readonly family: Family | "inet";
  /** e.g. `iptables-save table filter`, `nft table inet filter` */
  readonly what: string;
  readonly chains: ReadonlyMap<string, NfChain>;
}

/** What the flattening knows about the machine. */
export interface Machine {
  /** every interface name incl. lo (from `ip -j addr`); undefined when not among the inputs */
  readonly ifaces?: readonly string[];
  /** the machine's local addresses as host prefixes plus 127.0.0.0/8 and ::1/128; undefined when unknown */
  readonly local?: readonly Prefix[];
}

export interface Reporter {
  readonly diagnostics: Diagnostic[];
  readonly notes: Set<string>;
}

export function warn(r: Reporter, span: Span, message: string, expected: string): void {
  if (
    !r.diagnostics.some((d) => d.span.file === span.file && d.span.line === span.line && d.span.col === span.col && d.message === message)
  ) {
    r.diagnostics.push(diagnostic("RCH051", span, message, { expected, severity: "warning" }));
  }
}

export const UNDERSTOOD =
  "filter and nat tables; matches -s -d -p (tcp, udp, icmp) -i -o (with + and !), tcp/udp/multiport ports, conntrack/state NEW,ESTABLISHED,RELATED,INVALID, conntrack --ctorigdstport (with -p tcp or udp), addrtype LOCAL, iprange; targets ACCEPT DROP REJECT RETURN LOG NFLOG, user chains (-j, -g), DNAT to one address[:port], SNAT to one address, MASQUERADE";

/** What leaving a rule out does, for the warning. */
export function effectOf(t: Target): string {
  switch (t.kind) {
    case "accept":
      return "it would ACCEPT: the imported firewall refuses more than the real one";
    case "drop":
    case "reject":
      return `it would ${t.kind.toUpperCase()}: the imported firewall lets more through than the real one`;
    case "jump":
    case "goto":
      return `its ${t.kind} to ${t.chain} is not followed: the imported firewall may differ either way`;
    case "return":
      return "its RETURN is not taken: later rules of its chain apply to more packets than they really do";
    case "continue":
      return "it has no verdict, so leaving it out changes nothing";
    default:
      return `its ${t.kind.toUpperCase()} is not imported`;
  }
}

// ---------------------------------------------------------------------------
// iptables-save

/** Built-in chains of the tables the language can express: hook, type and netfilter priority. */
const BUILTINS: Record<string, Record<string, { hook: Hook; type: BaseChain["type"]; priority: number }>> = {
  filter: {
    INPUT: { hook: "input", type: "filter", priority: 0 },
    FORWARD: { hook: "forward", type: "filter", priority: 0 },
    OUTPUT: { hook: "output", type: "filter", priority: 0 },
  },
  nat: {
    PREROUTING: { hook: "prerouting", type: "nat", priority: -100 },
    INPUT: { hook: "input", type: "nat", priority: 100 },
    OUTPUT: { hook: "output", type: "nat", priority: -100 },
    POSTROUTING: { hook: "postrouting", type: "nat", priority: 100 },
  },
};
const OTHER_TABLES: Record<string, readonly string[]> = {
  mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
  raw: ["PREROUTING", "OUTPUT"],
  security: ["INPUT", "FORWARD", "OUTPUT"],
};

interface Token {
  readonly text: string;
  /** 1-based column */
  readonly col: number;
}

/** Splits an iptables-save line into words; double quotes group, backslash escapes inside them. */
export function tokenize(line: string): Token[] | { col: number } {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
    if (i >= line.length) break;
    const col = i + 1;
    let text = "";
    while (i < line.length && line[i] !== " " && line[i] !== "\t") {
      if (line[i] === '"') {
        const open = i;
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === "\\" && i + 1 < line.length) i++;
          text += line[i];
          i++;
        }
        if (i >= line.length) return { col: open + 1 };
        i++;
      } else text += line[i++];
    }
    out.push({ text, col });
  }
  return out;
}

/** "1000:2000", ":1023", "1024:", "22" (iptables port syntax). */
function portRange(text: string): PortRange | undefined {
  const port = (s: string) => (/^\d{1,5}$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined);
  const i = text.indexOf(":");
  if (i < 0) {
    const p = port(text);
    return p === undefined ? undefined : { lo: p, hi: p };
  }
  const lo = text.slice(0, i) === "" ? 0 : port(text.slice(0, i));
  const hi = text.slice(i + 1) === "" ? 65535 : port(text.slice(i + 1));
  return lo !== undefined && hi !== undefined && lo <= hi ? { lo, hi } : undefined;
}

/** "10.0.0.0/8", "10.0.0.1", "10.0.0.0/255.0.0.0"; host bits are masked off as iptables does. */
export function addressPrefix(text: string, family: Family): Prefix | undefined {
  const slash = text.indexOf("/");
  const ip = parseIP(slash < 0 ? text : text.slice(0, slash));
  if (!ip || ip.v !== family) return undefined;
  let len = bits(family);
  if (slash >= 0) {
    const m = text.slice(slash + 1);
    if (/^\d{1,3}$/.test(m)) len = Number(m);
    else {
      const mk = parseIP(m);
      if (!mk || mk.v !== family) return undefined;
      const ones = mk.n.toString(2).replace(/0+$/, "");
      if (mk.n !== 0n && (ones.includes("0") || mk.n.toString(2).length !== bits(family))) return undefined;
      len = mk.n === 0n ? 0 : ones.length;
    }
    if (len > bits(family)) return undefined;
  }
  return { v: family, n: ip.n & mask(family, len), len };
}

/** The prefixes exactly covering an address range lo..hi. */
export function rangePrefixes(lo: IP, hi: IP): Prefix[] {
  const out: Prefix[] = [];
  const width = bits(lo.v);
  let n = lo.n;
  while (n <= hi.n) {
    let len = width;
    while (len > 0) {
      const size = 1n << BigInt(width - len + 1);
      if (n % size !== 0n || n + size - 1n > hi.n) break;
      len--;
    }
    out.push({ v: lo.v, n, len });
    n += 1n << BigInt(width - len);
  }
  return out;
}

const PROTO_NUMBERS: Record<string, string> = { "6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "0": "all" };

/** A protocol name as the language has it, `all`, or undefined for protocols it does not model. */
function protoOf(text: string, family: Family): Proto | "all" | undefined {
  const t = PROTO_NUMBERS[text] ?? text.toLowerCase();
  if (t === "tcp" || t === "udp" || t === "all") return t;
  if (family === 4 && t === "icmp") return "icmp";
  if (family === 6 && (t === "ipv6-icmp" || t === "icmpv6")) return "icmp";
  return undefined;
}

const CT_STATES: Record<string, CtState> = { NEW: "new", ESTABLISHED: "established", RELATED: "related", INVALID: "invalid" };
/** Matches that change nothing on their own (their options are parsed separately). */
const NEUTRAL_MODULES = new Set([
  "tcp",
  "udp",
  "comment",
  "multiport",
  "conntrack",
  "state",
  "addrtype",
  "iprange",
  "icmp",
  "icmp6",
  "ipv6-icmp",
]);
const LOG_TARGETS = new Set(["LOG", "NFLOG", "ULOG"]);
const VERDICTS: Record<string, Verdict | "return"> = { ACCEPT: "accept", DROP: "drop", REJECT: "reject", RETURN: "return" };
/**
 * REJECT's --reject-with names (iptables-extensions(8), libxt_REJECT and libip6t_REJECT: the long
 * names iptables-save prints and their short aliases) in the language's reject types. Names not
 * here (proto-unreachable, policy-fail, reject-route) are not modelled: such a rule is left out.
 */
const REJECT_WITH_NAMES: Record<Family, Record<string, RejectWith>> = {
  4: {
    "icmp-net-unreachable": "net-unreachable",
    "net-unreach": "net-unreachable",
    "icmp-host-unreachable": "host-unreachable",
    "host-unreach": "host-unreachable",
    "icmp-port-unreachable": "port-unreachable",
    "port-unreach": "port-unreachable",
    "icmp-net-prohibited": "net-prohibited",
    "net-prohib": "net-prohibited",
    "icmp-host-prohibited": "host-prohibited",
    "host-prohib": "host-prohibited",
    "icmp-admin-prohibited": "admin-prohibited",
    "admin-prohib": "admin-prohibited",
    "tcp-reset": "tcp-reset",
    "tcp-rst": "tcp-reset",
  },
  6: {
    "icmp6-no-route": "net-unreachable",
    "no-route": "net-unreachable",
    "icmp6-adm-prohibited": "admin-prohibited",
    "adm-prohibited": "admin-prohibited",
    "icmp6-addr-unreachable": "host-unreachable",
    "addr-unreach": "host-unreachable",
    "icmp6-port-unreachable": "port-unreachable",
    "port-unreach": "port-unreachable",
    "tcp-reset": "tcp-reset",
    "tcp-rst": "tcp-reset",
  },
};
const TARGET_FLAGS = new Set([
  "--random",
  "--random-fully",
  "--persistent",
  "--log-uid",
  "--log-tcp-sequence",
  "--log-tcp-options",
  "--log-ip-options",
  "--log-macdecode",
]);
const TARGET_OPTIONS = new Set([
  "--reject-with",
  "--log-prefix",
  "--log-level",
  "--nflog-group",
  "--nflog-prefix",
  "--nflog-range",
  "--nflog-size",
  "--nflog-threshold",
  "--ulog-prefix",
  "--ulog-nlgroup",
  "--ulog-cprange",
  "--ulog-qthreshold",
]);

interface ParsedRule {
  atoms: Atom[];
  targetName?: string;
  targetCol: number;
  goto: boolean;
  to?: { text: string; col: number };
  /** the first thing not understood, and where */
  problem?: { what: string; col: number };
  /** the first option after -j not understood (the target's, reported as the target when that is unknown too) */
  targetOptionProblem?: { what: string; col: number };
  comment?: string;
  /** protocols named by -p that the model does not have */
  otherProtos: string[];
  /** REJECT's --reject-with */
  rejectWith?: { text: string; col: number };
}

/** One `-A CHAIN ...` line (tokens after the chain name). */
// Long: one flat switch over the iptables option names, with the small readers its cases share at its top; it reads best whole.
function parseRuleTokens(tokens: readonly Token[], family: Family): ParsedRule {
  const r: ParsedRule = { atoms: [], targetCol: 1, goto: false, otherProtos: [] };
  const problem = (what: string, col: number) => {
    r.problem ??= { what, col };
  };
  let proto: Proto | "all" | undefined;
  let module: string | undefined;
  let neg = false;
  let i = 0;
  const value = (t: Token): Token | undefined => {
    const v = tokens[i + 1];
    if (!v) problem(`${t.text} without a value`, t.col);
    else i++;
    return v;
  };
  const push = (atom: Atom) => r.atoms.push(atom);
  const addresses = (t: Token, v: Token, dir: "src" | "dst") => {
    const list = v.text.split(",").map((x) => addressPrefix(x, family));
    if (list.some((p) => !p)) return problem(`${t.text} ${v.text} (not an IPv${family} address or prefix)`, v.col);
    push({ kind: "m", neg, cond: list.map((p) => ({ family, [dir]: p! })) });
  };
  /** The protocol a port match needs: the module's (tcp, udp) or -p's. */
  const portProto = (t: Token): "tcp" | "udp" | undefined => {
    const p = module === "tcp" || module === "udp" ? module : proto;
    if (p === "tcp" || p === "udp") return p;
    problem(`${t.text} without -p tcp or -p udp`, t.col);
    return undefined;
  };
  const ports = (t: Token, v: Token, keys: readonly ("sport" | "dport")[], list: boolean) => {
    const p = portProto(t);
    if (!p) return;
    const ranges = (list ? v.text.split(",") : [v.text]).map(portRange);
    if (ranges.some((x) => !x)) return problem(`${t.text} ${v.text} (not a port or port range)`, v.col);
    push({ kind: "m", neg: false, cond: [{ proto: p }] });
    push({ kind: "m", neg, cond: keys.flatMap((k) => ranges.map((x) => ({ proto: p, [k]: x! }))) });
  };
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === "!") {
      neg = true;
      continue;
    }
    let v: Token | undefined;
    switch (t.text) {
      case "-s":
      case "--source":
      case "-d":
      case "--destination":
        if ((v = value(t))) addresses(t, v, t.text === "-s" || t.text === "--source" ? "src" : "dst");
        break;
      case "-p":
      case "--protocol":
        if ((v = value(t))) {
          const p = protoOf(v.text, family);
          if (!neg) proto = p;
          if (p === "all") push({ kind: "m", neg, cond: ALL });
          else if (p === undefined) {
            // not modelled: no modelled packet has it
            push({ kind: "m", neg, cond: NOTHING });
            if (!neg) r.otherProtos.push(v.text);
          } else push({ kind: "m", neg, cond: [{ proto: p }] });
        }
        break;
      case "-i":
      case "--in-interface":
      case "-o":
      case "--out-interface":
        if ((v = value(t))) push({ kind: "if", dir: t.text === "-i" || t.text === "--in-interface" ? "in" : "out", neg, name: v.text });
        break;
      case "-m":
      case "--match":
        if ((v = value(t))) {
          module = v.text;
          if (!NEUTRAL_MODULES.has(module)) problem(`-m ${module}`, t.col);
        }
        break;
      case "--sport":
      case "--source-port":
      case "--dport":
      case "--destination-port":
        if ((v = value(t))) ports(t, v, [t.text === "--sport" || t.text === "--source-port" ? "sport" : "dport"], false);
        break;
      case "--sports":
      case "--source-ports":
        if ((v = value(t))) ports(t, v, ["sport"], true);
        break;
      case "--dports":
      case "--destination-ports":
        if ((v = value(t))) ports(t, v, ["dport"], true);
        break;
      case "--ports":
        if ((v = value(t))) ports(t, v, ["sport", "dport"], true);
        break;
      case "--ctorigdstport":
        if ((v = value(t))) {
          const p = portProto(t);
          const range = portRange(v.text);
          if (!range) problem(`${t.text} ${v.text} (not a port or port range)`, v.col);
          else if (p) {
            // negated: another original port, still with a conntrack entry (no entry matches neither form)
            const ranges = neg ? rangeComplement(range) : [range];
            push({ kind: "m", neg: false, cond: ranges.map((x) => ({ proto: p, origDport: x })) });
          }
        }
        break;
      case "--state":
      case "--ctstate":
        if ((v = value(t))) {
          const names = v.text.split(",");
          const bad = names.find((s) => CT_STATES[s] === undefined);
          if (bad !== undefined) problem(`${t.text} ${bad}`, v.col);
          else {
            const state = stateSet(names.map((s) => CT_STATES[s]!));
            push({ kind: "m", neg, cond: state ? [{ state }] : ALL });
          }
        }
        break;
      case "--dst-type":
      case "--src-type":
        if ((v = value(t))) {
          if (v.text !== "LOCAL") problem(`${t.text} ${v.text}`, v.col);
          else push({ kind: "local", dir: t.text === "--dst-type" ? "dst" : "src", neg });
        }
        break;
      case "--src-range":
      case "--dst-range":
        if ((v = value(t))) {
          const [a, b, ...more] = v.text.split("-");
          const lo = a !== undefined ? parseIP(a) : undefined;
          const hi = b !== undefined ? parseIP(b) : undefined;
          if (!lo || !hi || more.length || lo.v !== family || hi.v !== family || lo.n > hi.n) problem(`${t.text} ${v.text}`, v.col);
          else {
            const dir = t.text === "--src-range" ? "src" : "dst";
            push({ kind: "m", neg, cond: rangePrefixes(lo, hi).map((p) => ({ family, [dir]: p })) });
          }
        }
        break;
      case "--comment":
        if ((v = value(t))) r.comment = v.text;
        break;
      case "-c":
      case "--set-counters":
        i += 2;
        break;
      case "-j":
      case "--jump":
      case "-g":
      case "--goto":
        if ((v = value(t))) {
          r.targetName = v.text;
          r.targetCol = t.col;
          r.goto = t.text === "-g" || t.text === "--goto";
        }
        break;
      case "--to-destination":
      case "--to-source":
        if ((v = value(t))) {
          if (r.to) problem(`a second ${t.text}`, t.col);
          r.to = { text: v.text, col: v.col };
        }
        break;
      default:
        if (TARGET_FLAGS.has(t.text)) break;
        if (TARGET_OPTIONS.has(t.text)) {
          const o = value(t);
          if (o && t.text === "--reject-with") r.rejectWith = { text: o.text, col: o.col };
          break;
        }
        if (r.targetName !== undefined) r.targetOptionProblem ??= { what: t.text, col: t.col };
        else problem(t.text, t.col);
        // skip the unknown option's value, if it has one, so that -j is still found
        if (tokens[i + 1] && !tokens[i + 1]!.text.startsWith("-") && tokens[i + 1]!.text !== "!") i++;
    }
    if (t.text !== "!") neg = false;
  }
  return r;
}

/** "ip[:port]" or "[v6][:port]" of --to-destination / --to-source; undefined when it is more (ranges). */
function natTo(text: string, family: Family): { to: IP; port?: number } | undefined {
  let host = text;
  let port: string | undefined;
  if (family === 6) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
    if (m) {
      host = m[1]!;
      port = m[2];
    }
  } else {
    const i = text.indexOf(":");
    if (i >= 0) {
      host = text.slice(0, i);
      port = text.slice(i + 1);
    }
  }
  const to = parseIP(host);
  if (!to || to.v !== family) return undefined;
  if (port === undefined) return { to };
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return undefined;
  return { to, port: Number(port) };
}

/** One iptables-save file being read: the input, its family and tool, where problems go. */
interface SaveFile {
  readonly source: Source;
  readonly family: Family;
  readonly rep: Reporter;
  /** iptables-save or ip6tables-save */
  readonly tool: string;
  /** the file's base name, for the rules' texts */
  readonly name: string;
}

/** A rule read before its table's COMMIT: targets are resolved then, once every user chain is declared. */
interface PendingRule {
  readonly chain: NfChain;
  readonly parsed: ParsedRule;
  readonly line: number;
  /** 1-based position in its chain */
  readonly index: number;
}

/** A table between `*table` and COMMIT. */
interface OpenTable {
  readonly name: string;
  readonly line: number;
  readonly chains: Map<string, NfChain>;
  readonly pending: PendingRule[];
}

type Problem = { what: string; col: number };

function saveError(
  f: SaveFile,
  line: number,
  col: number,
  message: string,
  expected = "iptables-save output: *table, :CHAIN POLICY [p:b], -A CHAIN ..., COMMIT",
): void {
  f.rep.diagnostics.push(diagnostic("RCH055", spanLine(f.source, line, col), message, { expected }));
}

/** A rule's target (-j, -g) once the table's chains are known, and the first thing about the rule not understood. */
function resolveTarget(f: SaveFile, table: OpenTable, p: PendingRule): { target?: Target; problem?: Problem } {
  const tname = p.parsed.targetName;
  let target: Target | undefined;
  let problem = p.parsed.problem;
  if (tname === undefined) target = { kind: "continue" };
  else if (table.chains.has(tname) && !table.chains.get(tname)!.base) target = { kind: p.parsed.goto ? "goto" : "jump", chain: tname };
  else if (p.parsed.goto) problem ??= { what: `-g ${tname} (not a user chain)`, col: p.parsed.targetCol };
  else if (tname === "REJECT") {
    const w = p.parsed.rejectWith;
    const type = w ? REJECT_WITH_NAMES[f.family][w.text] : undefined;
    if (w && !type) problem ??= { what: `-j REJECT --reject-with ${w.text}`, col: w.col };
    else target = { kind: "reject", ...(type && type !== "port-unreachable" ? { with: type } : {}) };
  } else if (VERDICTS[tname]) target = { kind: VERDICTS[tname]! };
  else if (LOG_TARGETS.has(tname)) target = { kind: "continue" };
  else if (tname === "MASQUERADE") target = { kind: "masquerade" };
  else if (tname === "DNAT" || tname === "SNAT") {
    const to = p.parsed.to ? natTo(p.parsed.to.text, f.family) : undefined;
    if (!to)
      problem ??= {
        what: `-j ${tname} ${p.parsed.to ? `--to-${tname === "DNAT" ? "destination" : "source"} ${p.parsed.to.text} (only one address${tname === "DNAT" ? "[:port]" : ""} is understood)` : "without a target address"}`,
        col: p.parsed.to?.col ?? p.parsed.targetCol,
      };
    else if (tname === "SNAT" && to.port !== undefined)
      problem ??= { what: `-j SNAT --to-source ${p.parsed.to!.text} (a source port is not modelled)`, col: p.parsed.to!.col };
    else
      target =
        tname === "DNAT" ? { kind: "dnat", to: to.to, ...(to.port !== undefined ? { toPort: to.port } : {}) } : { kind: "snat", to: to.to };
  } else problem ??= { what: `-j ${tname}`, col: p.parsed.targetCol };
  problem ??= p.parsed.targetOptionProblem;
  if (!BUILTINS[table.name]) problem ??= { what: `table ${table.name}`, col: 1 };
  return { ...(target ? { target } : {}), ...(problem ? { problem } : {}) };
}

/** The warning for a rule left out: what it would do, as far as it was understood, says what leaving it out changes. */
function warnLeftOut(f: SaveFile, table: OpenTable, p: PendingRule, target: Target | undefined, problem: Problem, label: string): void {
  const tname = p.parsed.targetName;
  const shown: Target | undefined =
    target ??
    (tname !== undefined && table.chains.has(tname)
      ? { kind: "jump", chain: tname }
      : tname !== undefined && VERDICTS[tname]
        ? { kind: VERDICTS[tname]! }
        : undefined);
  // a LOG (or no target) in a table the language does not have changes nothing
  const harmless = !BUILTINS[table.name] && target?.kind === "continue" && !p.parsed.problem;
  const effect = shown ? effectOf(shown) : `what -j ${tname} does is not modelled`;
  if (!harmless)
    warn(f.rep, spanLine(f.source, p.line, problem.col), `${problem.what} is not modelled: ${label} is left out; ${effect}`, UNDERSTOOD);
}

/** COMMIT: the table's rules with their targets resolved, into their chains. */
function commitTable(f: SaveFile, table: OpenTable): NfTable {
  for (const p of table.pending) {
    const label = `rule ${p.index} of chain ${p.chain.name} (${f.tool} table ${table.name})`;
    const { target, problem } = resolveTarget(f, table, p);
    const text = `${f.name}:${p.line}${p.parsed.comment ? ` "${p.parsed.comment}"` : ""}`;
    const rule: NfRule = {
      atoms: p.parsed.atoms,
      target: target ?? { kind: "continue" },
      span: spanLine(f.source, p.line, 1),
      label,
      text,
      ...(problem ? { unsupported: true } : {}),
    };
    if (problem) warnLeftOut(f, table, p, target, problem, label);
    for (const proto of p.parsed.otherProtos) {
      const what = f.family === 6 && /^(icmp|1)$/.test(proto) ? `${proto} (ICMP for IPv4) in ${f.tool}` : proto;
      f.rep.notes.add(
        `Firewall rules matching protocol ${what} match no packet the model has (it models tcp, udp and icmp), so they change nothing in the imported firewall.`,
      );
    }
    p.chain.rules.push(rule);
  }
  return { family: f.family, what: `${f.tool} table ${table.name}`, chains: table.chains };
}

/** `:CHAIN POLICY [packets:bytes]`: a built-in chain with its policy, or a user chain (policy `-`). */
function declareChain(f: SaveFile, table: OpenTable, trimmed: string, ln: number): void {
  const m = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?$/.exec(trimmed);
  if (!m) return saveError(f, ln, 1, `'${trimmed}' is not a chain declaration`, ":CHAIN POLICY [packets:bytes]");
  const [, cname, policy] = m as unknown as [string, string, string];
  const b = BUILTINS[table.name]?.[cname];
  const builtin =
    b ??
    (OTHER_TABLES[table.name]?.includes(cname) || (!BUILTINS[table.name] && policy !== "-")
      ? { hook: "input" as Hook, type: "other" as const, priority: 0 }
      : undefined);
  const span = spanLine(f.source, ln, 1);
  if (!builtin) {
    if (policy !== "-")
      saveError(f, ln, cname.length + 3, `user chain ${cname} has a policy '${policy}'`, "- (user chains have no policy)");
    table.chains.set(cname, { name: cname, rules: [], span });
    return;
  }
  if (policy !== "ACCEPT" && policy !== "DROP")
    return saveError(f, ln, cname.length + 3, `built-in chain ${cname} has policy '${policy}'`, "ACCEPT or DROP");
  if (builtin.type === "other" && policy === "DROP")
    warn(
      f.rep,
      span,
      `the policy DROP of chain ${cname} in table ${table.name} is not modelled: left out (the imported firewall lets more through than the real one)`,
      UNDERSTOOD,
    );
  const base: BaseChain = { ...builtin, policy: policy === "DROP" ? "drop" : "accept", policySpan: span };
  table.chains.set(cname, { name: cname, rules: [], span, base });
}

/** `[p:b] -A CHAIN match... -j TARGET`: parsed now, its target resolved at COMMIT. */
function appendRule(f: SaveFile, table: OpenTable, line: string, trimmed: string, ln: number): void {
  const body = line.replace(/^\s*\[\d+:\d+\]\s*/, (s) => " ".repeat(s.length));
  const tokens = tokenize(body);
  if (!Array.isArray(tokens)) return saveError(f, ln, tokens.col, "unterminated quoted string");
  const [a, c, ...rest] = tokens;
  if (!a || (a.text !== "-A" && a.text !== "--append") || !c)
    return saveError(f, ln, a?.col ?? 1, `'${trimmed.slice(0, 40)}' is not an iptables-save line`);
  const chain = table.chains.get(c.text);
  if (!chain)
    return saveError(f, ln, c.col, `chain ${c.text} is not declared in table ${table.name}`, `a :${c.text} line before the rules`);
  const parsed = parseRuleTokens(rest, f.family);
  table.pending.push({ chain, parsed, line: ln, index: table.pending.filter((x) => x.chain === chain).length + 1 });
}

/**
 * Parses iptables-save (or ip6tables-save) output: `*table`, `:CHAIN POLICY [p:b]`,
 * `-A CHAIN match... -j TARGET`, `COMMIT` (iptables-save(8), iptables(8),
 * iptables-extensions(8)). Tables other than filter and nat are reported rule by rule.
 */
export function parseIptablesSave(source: Source, family: Family, rep: Reporter): NfTable[] {
  const f: SaveFile = { source, family, rep, tool: family === 4 ? "iptables-save" : "ip6tables-save", name: basename(source.file) };
  const tables: NfTable[] = [];
  let cur: OpenTable | undefined;
  const lines = source.text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!.replace(/\r$/, "");
    const ln = li + 1;
    const trimmed = line.trim();
    if (!trimmed) continue;
    if (trimmed.startsWith("#")) {
      if (/^#\s*Warning:/i.test(trimmed))
        warn(
          rep,
          spanLine(source, ln, 1),
          `${f.tool} warns: "${trimmed.replace(/^#\s*/, "")}"; those rules are not in this output`,
          "the output of the tool the warning names, as another input",
        );
      continue;
    }
    if (trimmed.startsWith("*")) {
      if (cur) saveError(f, cur.line, 1, `table ${cur.name} has no COMMIT before the next table: the output looks cut short`);
      cur = undefined;
      const tname = trimmed.slice(1).trim();
      if (!/^[a-z_]+$/.test(tname)) saveError(f, ln, 2, `'${trimmed}' is not a table name`);
      else cur = { name: tname, line: ln, chains: new Map(), pending: [] };
      continue;
    }
    if (trimmed === "COMMIT") {
      if (!cur) saveError(f, ln, 1, "COMMIT outside a table");
      else tables.push(commitTable(f, cur));
      cur = undefined;
    } else if (!cur) saveError(f, ln, 1, `'${trimmed.slice(0, 40)}' is outside a table (no *filter or *nat line before it)`);
    else if (trimmed.startsWith(":")) declareChain(f, cur, trimmed, ln);
    else appendRule(f, cur, line, trimmed, ln);
  }
  if (cur) saveError(f, cur.line, 1, `table ${cur.name} has no COMMIT: the output looks cut short`);
  return tables;
}

// ---------------------------------------------------------------------------
// Flattening

export interface FlatRule {
  readonly m: FMatch;
  readonly action: Verdict | NatTarget;
  /** a reject's type (absent: port-unreachable) */
  readonly with?: RejectWith;
  readonly comment: string;
}

/** One base chain, flattened: what it does at its hook. */
export interface Contribution {
  readonly hook: Hook;
  readonly type: "filter" | "nat";
  readonly priority: number;
  /** the family of the table (undefined: inet, both) */
  readonly scope?: Family;
  readonly policy: "accept" | "drop";
  readonly policyComment: string;
  readonly rules: readonly FlatRule[];
  readonly what: string;
  readonly span: Span;
}

interface FlatCtx {
  readonly table: NfTable;
  readonly type: "filter" | "nat";
  readonly hook: Hook;
  readonly u: Universe & { local?: readonly Prefix[]; hasIn: boolean; hasOut: boolean };
  readonly rep: Reporter;
  /** interfaces named by rules that the machine does not have */
  readonly missing: Set<string>;
  count: number;
}

type Expanded = Cond | { readonly why: string };

function expandAtom(a: Atom, ctx: FlatCtx): Expanded {
  const u = ctx.u;
  switch (a.kind) {
    case "m":
      return a.neg ? not(a.cond, u, FLAT_CAP) : a.cond;
    case "if": {
      const flag = `${a.neg ? "! " : ""}${a.dir === "in" ? "-i" : "-o"} ${a.name}`;
      const has = a.dir === "in" ? u.hasIn : u.hasOut;
      // at this hook the packet has no such interface: a positive match never holds
      if (!has) return a.neg ? ALL : NOTHING;
      const wildcard = a.name.endsWith("+");
      const stem = wildcard ? a.name.slice(0, -1) : a.name;
      if (wildcard && !stem) return a.neg ? NOTHING : ALL;
      if (!u.ifaces) {
        if (!a.neg && !wildcard && a.name === "lo") return [{ [a.dir]: "lo" }];
        return { why: `${flag} needs the machine's interfaces (add the output of \`ip -j addr\` to the inputs)` };
      }
      const hits = u.ifaces.filter((i) => (wildcard ? i.startsWith(stem) : i === stem));
      if (!hits.length && !wildcard) ctx.missing.add(a.name);
      const chosen = a.neg ? u.ifaces.filter((i) => !hits.includes(i)) : hits;
      return chosen.map((i) => ({ [a.dir]: i }));
    }
    case "local": {
      if (!u.local)
        return {
          why: `${a.dir === "dst" ? "--dst-type" : "--src-type"} LOCAL needs the machine's addresses (add the output of \`ip -j addr\` to the inputs)`,
        };
      const set = a.neg ? ([4, 6] as const).flatMap((v) => prefixSetComplement(v, u.local!)) : u.local;
      return set.map((p) => ({ family: p.v, [a.dir]: p }));
    }
  }
}

/**
 * guard ∩ ¬(a₁ ∧ … ∧ aₙ) = ∪ᵢ (guard ∩ ¬aᵢ): each atom negated on its own (¬ of a
 * negated atom is its small positive form), never the rule's expanded union.
 */
function subtractRule(guard: Cond, hit: Cond, rule: NfRule, ctx: FlatCtx): Expanded {
  if (!hit.length) return guard;
  const out: FMatch[] = [];
  for (const a of rule.atoms) {
    const na = expandAtom({ ...a, neg: !a.neg }, ctx);
    if ("why" in na) return na;
    // an atom that never fails within the guard leaves the guard whole
    if (na.length === 1 && Object.keys(na[0]!).length === 0) return guard;
    out.push(...and(guard, na, FLAT_CAP));
    if (out.length > FLAT_CAP) throw new TooLarge();
  }
  return absorb(out);
}

function expandRule(rule: NfRule, ctx: FlatCtx): Expanded {
  let c: Cond = ALL;
  for (const a of rule.atoms) {
    const e = expandAtom(a, ctx);
    if ("why" in e) return e;
    c = and(c, e, FLAT_CAP);
    if (!c.length) return c;
  }
  return c;
}

/** The flat action of a terminal target at this hook, "stop" (nat ACCEPT: no translation), or why not. */
function actionOf(t: Target, ctx: FlatCtx): Verdict | NatTarget | "stop" | { why: string } {
  if (ctx.type === "filter") {
    if (t.kind === "accept" || t.kind === "drop" || t.kind === "reject") return t.kind;
    return { why: `${t.kind.toUpperCase()} in a filter chain` };
  }
  switch (t.kind) {
    case "accept":
      return "stop";
    case "dnat":
      return ctx.hook === "prerouting" || ctx.hook === "output" ? t : { why: `DNAT at hook ${ctx.hook}` };
    case "snat":
    case "masquerade":
      return ctx.hook === "postrouting"
        ? t
        : { why: `${t.kind.toUpperCase()} at hook ${ctx.hook} (only postrouting source NAT is modelled)` };
    default:
      return { why: `${t.kind.toUpperCase()} in a nat chain` };
  }
}

function commentOf(rule: NfRule, chain: NfChain, base: NfChain): string {
  return chain === base ? rule.text : `${rule.text} (chain ${chain.name})`;
}

function flattenChain(
  ctx: FlatCtx,
  chain: NfChain,
  base: NfChain,
  guardIn: Cond,
  stack: readonly string[],
): { rules: FlatRule[]; stop: Cond } {
  let guard = guardIn;
  const out: FlatRule[] = [];
  let stop: Cond = NOTHING;
  const leftOut = (rule: NfRule, why: string) =>
    warn(ctx.rep, rule.span, `${why} is not modelled: ${rule.label} is left out; ${effectOf(rule.target)}`, UNDERSTOOD);
  const effective = (r: NfRule) => !r.unsupported && r.target.kind !== "continue";
  // later[i]: a rule after i can still act, so what passes rule i matters
  const later = chain.rules.map((_, i) => chain.rules.slice(i + 1).some(effective));
  for (const [i, rule] of chain.rules.entries()) {
    if (!guard.length) break;
    if (!effective(rule)) continue;
    const cond = expandRule(rule, ctx);
    if ("why" in cond) {
      leftOut(rule, cond.why);
      continue;
    }
    const hit = and(guard, cond, FLAT_CAP);
    // what goes on past the rule when it matches and its chain does not: RETURN, goto, nat ACCEPT
    const passes = rule.target.kind === "return" || rule.target.kind === "goto" || (ctx.type === "nat" && rule.target.kind === "accept");
    const rest = !later[i] ? NOTHING : passes ? subtractRule(guard, hit, rule, ctx) : guard;
    if ("why" in rest) {
      leftOut(rule, rest.why);
      continue;
    }
    const t = rule.target;
    if (t.kind === "return") {
      guard = rest;
      continue;
    }
    if (t.kind === "jump" || t.kind === "goto") {
      const target = ctx.table.chains.get(t.chain);
      if (!target || target.base) {
        leftOut(rule, `a ${t.kind} to ${t.chain}, which is not a user chain,`);
        continue;
      }
      if (stack.includes(t.chain)) {
        leftOut(rule, `a loop of jumps (${[...stack, t.chain].join(" -> ")})`);
        continue;
      }
      if (hit.length) {
        const r = flattenChain(ctx, target, base, hit, [...stack, t.chain]);
        out.push(...r.rules);
        if (r.stop.length) {
          stop = [...stop, ...r.stop];
          if (later[i]) guard = minus(guard, r.stop, ctx.u, FLAT_CAP);
        }
      }
      if (t.kind === "goto") guard = rest;
      continue;
    }
    const action = actionOf(t, ctx);
    if (typeof action === "object" && "why" in action) {
      leftOut(rule, action.why);
      continue;
    }
    if (action === "stop") {
      stop = [...stop, ...hit];
      guard = rest;
      continue;
    }
    const comment = commentOf(rule, chain, base);
    const type = t.kind === "reject" && t.with ? { with: t.with } : {};
    for (const m of hit) out.push({ m, action, ...type, comment });
    ctx.count += hit.length;
    if (ctx.count > FLAT_CAP) throw new TooLarge();
  }
  return { rules: out, stop };
}

const HAS_IN: Record<Hook, boolean> = { prerouting: true, input: true, forward: true, output: false, postrouting: false };
const HAS_OUT: Record<Hook, boolean> = { prerouting: false, input: false, forward: true, output: true, postrouting: true };

/** A base chain at a hook (or of a type) the language has no chain for: each rule with an effect, and a drop policy, is reported. */
function reportUnmodelledChain(table: NfTable, chain: NfChain, b: BaseChain, rep: Reporter): void {
  for (const rule of chain.rules) {
    if (!rule.unsupported && rule.target.kind !== "continue") {
      warn(
        rep,
        rule.span,
        `a ${b.type === "other" ? "" : `${b.type} `}chain at hook ${b.hookName ?? b.hook} is not modelled: ${rule.label} is left out; ${effectOf(rule.target)}`,
        UNDERSTOOD,
      );
    }
  }
  if (b.policy === "drop" && (b.type !== "other" || b.hookName !== undefined))
    warn(
      rep,
      b.policySpan,
      `the policy drop of ${chain.name} (${table.what}, at hook ${b.hookName ?? b.hook}) is not modelled: left out (the imported firewall lets more through than the real one)`,
      UNDERSTOOD,
    );
}

/** Every base chain of `tables`, flattened (those the language cannot hold are reported rule by rule). */
export function flattenTables(tables: readonly NfTable[], machine: Machine, rep: Reporter): Contribution[] {
  const out: Contribution[] = [];
  const missing = new Set<string>();
  for (const table of tables) {
    for (const chain of table.chains.values()) {
      const b = chain.base;
      if (!b) continue;
      const filterHook = b.type === "filter" && (b.hook === "input" || b.hook === "output" || b.hook === "forward");
      const natHook = b.type === "nat" && (b.hook === "prerouting" || b.hook === "output" || b.hook === "postrouting");
      if (!filterHook && !natHook) {
        reportUnmodelledChain(table, chain, b, rep);
        continue;
      }
      const type = filterHook ? "filter" : "nat";
      if (type === "nat" && b.policy === "drop") {
        warn(rep, b.policySpan, `the policy drop of nat chain ${chain.name} (${table.what}) is not modelled: left out`, UNDERSTOOD);
      }
      const ctx: FlatCtx = {
        table,
        type,
        hook: b.hook,
        u: {
          ...(machine.ifaces ? { ifaces: machine.ifaces } : {}),
          ...(machine.local ? { local: machine.local } : {}),
          hasIn: HAS_IN[b.hook],
          hasOut: HAS_OUT[b.hook],
        },
        rep,
        missing,
        count: 0,
      };
      const guard: FMatch = {
        ...(table.family !== "inet" ? { family: table.family } : {}),
        ...(type === "nat" ? { state: ["new"] as const } : {}),
      };
      try {
        const r = flattenChain(ctx, chain, chain, [guard], [chain.name]);
        const scope = table.family === "inet" ? {} : { scope: table.family };
        out.push({
          hook: b.hook,
          type,
          priority: b.priority,
          ...scope,
          policy: type === "nat" ? "accept" : b.policy,
          policyComment: `${basename(b.policySpan.file)}:${b.policySpan.line} policy of ${chain.name}`,
          rules: r.rules,
          what: `${chain.name} (${table.what})`,
          span: chain.span,
        });
      } catch (x) {
        if (x instanceof TooLarge) {
          warn(
            rep,
            chain.span,
            `chain ${chain.name} (${table.what}) flattens to more than ${FLAT_CAP} rules: left out (the imported firewall may differ either way)`,
            `rulesets whose jumps and negations expand to at most ${FLAT_CAP} rules`,
          );
        } else if (x instanceof NeedsInterfaces) {
          // a nat ACCEPT on an interface, inside a user chain, must be subtracted from what follows
          warn(
            rep,
            chain.span,
            `chain ${chain.name} (${table.what}) needs the machine's interfaces to be flattened: left out`,
            "the output of `ip -j addr` among the inputs",
          );
        } else throw x;
      }
    }
  }
  for (const name of missing)
    rep.notes.add(
      `Firewall rules naming interface ${name}, which is not among the imported interfaces (absent from \`ip -j addr\`, or a bridge port), never match and are left out.`,
    );
  return out;
}

// ---------------------------------------------------------------------------
// Composition of several base chains on one hook, and the language's chains

interface Chain {
  readonly rules: FlatRule[];
  readonly policy: "accept" | "drop";
  readonly policyComment: string;
}

/** A family-scoped base chain as one that sees every packet: the other family passes untouched. */
function widen(c: Contribution): Chain {
  if (c.scope === undefined || c.policy === "accept")
    return { rules: [...c.rules], policy: c.scope === undefined ? c.policy : "accept", policyComment: c.policyComment };
  return {
    rules: [...c.rules, { m: { family: c.scope }, action: c.policy, comment: `${c.policyComment} (IPv${c.scope})` }],
    policy: "accept",
    policyComment: c.policyComment,
  };
}

/** a then b at one hook: a packet must pass both (an accept of `a` goes on to `b`). */
function compose(a: Chain, b: Chain): Chain {
  const rules: FlatRule[] = [];
  const room = () => {
    if (rules.length > FLAT_CAP) throw new TooLarge();
  };
  for (const r of a.rules) {
    if (r.action !== "accept") {
      rules.push(r);
      continue;
    }
    for (const s of b.rules) {
      const m = and([r.m], [s.m], FLAT_CAP)[0];
      if (m) rules.push({ ...s, m });
      room();
    }
    rules.push({ m: r.m, action: b.policy, comment: b.policy === "accept" ? r.comment : b.policyComment });
    room();
  }
  if (a.policy === "drop") return { rules, policy: "drop", policyComment: a.policyComment };
  rules.push(...b.rules);
  room();
  return { rules, policy: b.policy, policyComment: b.policyComment };
}

const isFamilyOnly = (m: FMatch): Family | undefined => (Object.keys(m).length === 1 && m.family !== undefined ? m.family : undefined);

/** Intersection tests the redundancy pass may spend (it is an optimisation: stopping early is exact). */
const SIMPLIFY_BUDGET = 2_000_000;

/**
 * Removes rules that cannot change any packet's outcome: a last rule catching all
 * of one family when an earlier one caught all of the other becomes the policy;
 * a rule whose action is the policy's goes when no later rule with another action
 * overlaps it (its packets end with the same action either way).
 */
function simplify(c: Chain): Chain {
  const rules = [...c.rules];
  let policy = c.policy;
  let policyComment = c.policyComment;
  for (;;) {
    const last = rules[rules.length - 1];
    const fam = last ? isFamilyOnly(last.m) : undefined;
    if (
      !last ||
      fam === undefined ||
      (last.action !== "accept" && last.action !== "drop") ||
      !rules.slice(0, -1).some((r) => isFamilyOnly(r.m) === (fam === 4 ? 6 : 4))
    )
      break;
    rules.pop();
    policy = last.action;
    policyComment = last.comment;
  }
  const kept: FlatRule[] = [];
  const others: FlatRule[] = [];
  let budget = SIMPLIFY_BUDGET;
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    if (r.action === policy && budget > others.length) {
      budget -= others.length;
      if (others.every((o) => !intersect(r.m, o.m))) continue;
    }
    kept.push(r);
    if (r.action !== policy) others.push(r);
  }
  return { rules: kept.reverse(), policy, policyComment };
}

/** The rule without its family pin, when it names no address (so an IPv4 and an IPv6 rule can be one). */
function unpinned(r: FlatRule): string | undefined {
  if (r.m.family === undefined || r.m.src || r.m.dst) return undefined;
  const { family: _, ...rest } = r.m;
  return JSON.stringify([r.action, r.with, rest.proto, rest.sport, rest.dport, rest.in, rest.out, rest.state]);
}

/**
 * Rules of different families never match the same packet, so within a run of
 * family-pinned rules the IPv4 and IPv6 rules may be interleaved in any order
 * that keeps each family's own order. The longest common subsequence of the two
 * (rules equal but for the family) becomes single rules without a pin.
 */
function mergeFamilies(rules: readonly FlatRule[]): FlatRule[] {
  const out: FlatRule[] = [];
  let run: FlatRule[] = [];
  const flush = () => {
    const v4 = run.filter((r) => r.m.family === 4);
    const v6 = run.filter((r) => r.m.family === 6);
    run = [];
    if (!v4.length || !v6.length || v4.length * v6.length > 4_000_000) {
      out.push(...v4, ...v6);
      return;
    }
    const k4 = v4.map(unpinned);
    const k6 = v6.map(unpinned);
    const w = v6.length + 1;
    const lcs = new Uint32Array((v4.length + 1) * w);
    for (let i = v4.length - 1; i >= 0; i--) {
      for (let j = v6.length - 1; j >= 0; j--) {
        lcs[i * w + j] =
          k4[i] !== undefined && k4[i] === k6[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < v4.length || j < v6.length) {
      if (i < v4.length && j < v6.length && k4[i] !== undefined && k4[i] === k6[j]) {
        const { family: _, ...m } = v4[i]!.m;
        const type = v4[i]!.with ? { with: v4[i]!.with } : {};
        out.push({ m, action: v4[i]!.action, ...type, comment: `${v4[i]!.comment}; ${v6[j]!.comment}` });
        i++;
        j++;
      } else if (j >= v6.length || (i < v4.length && lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) out.push(v4[i++]!);
      else out.push(v6[j++]!);
    }
  };
  for (const r of rules) {
    if (r.m.family === undefined) {
      flush();
      out.push(r);
    } else run.push(r);
  }
  flush();
  return out;
}

function matchFields(m: FMatch): Omit<RuleDoc, "action"> {
  const pin = m.family !== undefined && !m.src && !m.dst ? { src: m.family === 4 ? "0.0.0.0/0" : "::/0" } : {};
  return {
    ...(m.proto ? { proto: m.proto } : {}),
    ...pin,
    ...(m.src ? { src: prefixText(m.src) } : {}),
    ...(m.dst ? { dst: prefixText(m.dst) } : {}),
    ...(m.sport ? { sport: rangeText(m.sport) } : {}),
    ...(m.dport ? { dport: rangeText(m.dport) } : {}),
    ...(m.origDport ? { origDport: rangeText(m.origDport) } : {}),
    ...(m.in !== undefined ? { in: m.in } : {}),
    ...(m.out !== undefined ? { out: m.out } : {}),
  };
}

/** A NAT rule at prerouting or output sees a connection's untranslated first packet: origDport is dport there. */
function firstPacket(m: FMatch): FMatch {
  const { origDport, ...rest } = m;
  if (!origDport) return m;
  const lo = Math.max(origDport.lo, m.dport?.lo ?? 0);
  const hi = Math.min(origDport.hi, m.dport?.hi ?? 65535);
  return { ...rest, dport: { lo, hi } };
}

function ruleDoc(r: FlatRule): RuleDoc {
  return {
    action: r.action as Verdict,
    ...(r.with ? { with: r.with } : {}),
    ...matchFields(r.m),
    ...(r.m.state ? { state: [...r.m.state] } : {}),
    comment: r.comment,
  };
}

function natDoc(r: FlatRule, hook: Hook): NatRuleDoc {
  const a = r.action as NatTarget;
  // a connection's first packet before any DNAT: its original destination port is its destination port
  const m = hook !== "postrouting" && r.m.origDport ? firstPacket(r.m) : r.m;
  const fields = { ...matchFields(m), comment: r.comment };
  switch (a.kind) {
    case "dnat":
      return {
        action: "dnat",
        chain: hook === "output" ? "output" : "prerouting",
        to: formatIP(a.to),
        ...(a.toPort !== undefined ? { toPort: a.toPort } : {}),
        ...fields,
      };
    case "snat":
      return { action: "snat", to: formatIP(a.to), ...fields };
    case "masquerade":
      return { action: "masquerade", ...fields };
  }
}

export interface FirewallOut {
  readonly firewall?: { input?: ChainDoc; output?: ChainDoc; forward?: ChainDoc };
  readonly nat?: NatRuleDoc[];
}

/** The language's chains and NAT list from every base chain's contribution. */
export function assemble(contributions: readonly Contribution[], rep: Reporter): FirewallOut {
  const firewall: { input?: ChainDoc; output?: ChainDoc; forward?: ChainDoc } = {};
  for (const hook of ["input", "forward", "output"] as const) {
    const list = contributions.filter((c) => c.type === "filter" && c.hook === hook).sort((a, b) => a.priority - b.priority);
    if (!list.length) continue;
    for (let i = 1; i < list.length; i++) {
      const [x, y] = [list[i - 1]!, list[i]!];
      if (x.priority === y.priority && (x.scope === undefined || y.scope === undefined || x.scope === y.scope)) {
        rep.notes.add(
          `${x.what} and ${y.what} filter hook ${hook} at the same priority (${x.priority}); the kernel runs them in registration order, which the inputs do not show. A packet must pass both either way; only whether a refused packet is dropped or rejected may differ.`,
        );
      }
    }
    try {
      const chain = simplify(list.map(widen).reduce((a, b) => compose(a, b)));
      const rules = mergeFamilies(chain.rules);
      if (!rules.length && chain.policy === "accept") continue;
      firewall[hook] = { policy: chain.policy, ...(rules.length ? { rules: rules.map(ruleDoc) } : {}) };
    } catch (x) {
      if (!(x instanceof TooLarge)) throw x;
      warn(
        rep,
        list[0]!.span,
        `the ${hook} chains (${list.map((c) => c.what).join(", ")}) compose to more than ${FLAT_CAP} rules: left out`,
        `at most ${FLAT_CAP} rules`,
      );
    }
  }
  const nat: NatRuleDoc[] = [];
  for (const hook of ["prerouting", "output", "postrouting"] as const) {
    const list = contributions.filter((c) => c.type === "nat" && c.hook === hook && c.rules.length).sort((a, b) => a.priority - b.priority);
    for (let i = 1; i < list.length; i++) {
      const [x, y] = [list[i - 1]!, list[i]!];
      if (x.priority === y.priority)
        rep.notes.add(
          `${x.what} and ${y.what} translate at hook ${hook} at the same priority (${x.priority}); the kernel runs them in registration order, which the inputs do not show: ${x.what} is put first.`,
        );
    }
    for (const c of list) for (const r of c.rules) nat.push(natDoc(r, hook));
  }
  return { ...(Object.keys(firewall).length ? { firewall } : {}), ...(nat.length ? { nat } : {}) };
}
