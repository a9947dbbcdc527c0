/**
 * `reach import qemu FILE...`: QEMU command lines as a shell sees them (a
 * script, a README snippet, `ps` output): one or more `qemu-system-*`
 * commands, continued over lines with backslash-newline, tokenised like a
 * shell does (shell-quote).
 *
 * Understood (qemu-options.hx, net/slirp.c): user-mode networking (libslirp)
 * from `-netdev user,id=ID,...` plus `-device MODEL,netdev=ID`, `-nic user,...`,
 * and the legacy hub form `-net nic -net user,...`; its `net`, `host`,
 * `dhcpstart`, `dns`, `restrict` and repeatable
 * `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport` options;
 * `-name`; `-nodefaults`, `-nic none`, `-net none`; QEMU's default NIC (user
 * networking) when a command has no network option at all.
 *
 * Each user-mode NIC becomes a NAT adapter of the VM: libslirp's network
 * (10.0.2.0/24 unless `net=`), guest .15 by DHCP, host alias .2, which reaches
 * the host's loopback (libslirp's default; semantics.md section 6). Other
 * backends (tap, bridge, socket, vde, ...) are RCH051 warnings.
 */
import { basename, extname } from "node:path";
import { parse as shellParse, type ParseEntry } from "shell-quote";
import { diagnostic, type Code, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import { formatIP, parseCidr, parseIP, prefixOf } from "../net/addr.js";
import type { AdapterDoc, ForwardDoc, MachineDoc, ServiceDoc } from "../topology/schema.js";

type NatAdapterDoc = Extract<AdapterDoc, { mode: "nat" }>;
import { ShellVars } from "./qemu-shell.js";
import { Findings, spanAt, type Importer, type ImportOptions, type ImportResult, type Source } from "./types.js";

const FORMATS =
  "shell command lines running qemu-system-* (e.g. qemu-system-x86_64 -netdev user,id=n0,hostfwd=tcp::2222-:22 -device virtio-net-pci,netdev=n0)";

/** A shell word of a command line, with where each of its characters is in the file. */
interface Word {
  readonly text: string;
  /** offsets[i]: the file offset of text[i] (all the word's start when the word could not be mapped). */
  readonly offsets: readonly number[];
  readonly offset: number;
}

class Reader extends Findings {
  readonly machines: Record<string, MachineDoc> = {};

  constructor(
    readonly src: Source,
    readonly options: ImportOptions,
  ) {
    super();
  }

  /** Where character `i` of `word` is in the file. */
  at(word: Word, i = 0): Span {
    return spanAt(this.src, word.offsets[Math.min(i, word.offsets.length - 1)] ?? word.offset);
  }
}

// ---------------------------------------------------------------------------
// Shell: logical lines, words, commands

/** A line after joining backslash-newline continuations; map[i] is the file offset of text[i]. */
interface Logical {
  readonly text: string;
  readonly map: readonly number[];
}

function logicalLines(text: string): Logical[] {
  const out: Logical[] = [];
  let line = "";
  let map: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && text[i + 1] === "\n") i += 1;
    else if (c === "\\" && text[i + 1] === "\r" && text[i + 2] === "\n") i += 2;
    else if (c === "\\" && i + 1 < text.length) {
      line += c + text[i + 1]!;
      map.push(i, i + 1);
      i += 1;
    } else if (c === "\n") {
      out.push({ text: line.replace(/\r$/, ""), map });
      line = "";
      map = [];
    } else {
      line += c;
      map.push(i);
    }
  }
  out.push({ text: line, map });
  return out;
}

/**
 * The shell word starting at `start`: its text after quote removal and, for
 * each character, its index in `text`. It ends at an unquoted blank or
 * operator character. `$VAR` stays as written (as tokens() keeps it).
 */
function rawWord(text: string, start: number): { text: string; at: number[]; end: number } {
  let out = "";
  const at: number[] = [];
  const take = (j: number) => {
    out += text[j]!;
    at.push(j);
  };
  let quote = "";
  let i = start;
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = "";
      else take(i);
    } else if (quote === '"') {
      if (c === '"') quote = "";
      else take(c === "\\" && /["\\$`]/.test(text[i + 1] ?? "") ? ++i : i);
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\" && i + 1 < text.length) take(++i);
    else if (/[\s|&;<>()]/.test(c) && i > start) break;
    else take(i);
  }
  return { text: out, at, end: i };
}

type Token = Word | { readonly op: string; readonly offset: number };

/**
 * The words and operators of one logical line: shell-quote does the shell's
 * quoting and escapes; each word is located in the file by reading the raw
 * word where the previous token ended. `$VAR` is kept as written.
 */
function tokens(r: Reader, line: Logical, vars: ShellVars): Token[] | undefined {
  let parsed: ParseEntry[];
  try {
    parsed = shellParse(line.text, (key: string) => vars.expand(key, spanAt(r.src, line.map[0] ?? 0))) as ParseEntry[];
  } catch (e) {
    r.report(
      "RCH055",
      spanAt(r.src, line.map[0] ?? r.src.text.length),
      `cannot split this line into shell words: ${e instanceof Error ? e.message : String(e)}`,
      FORMATS,
    );
    return undefined;
  }
  const out: Token[] = [];
  let cursor = 0;
  const fileOffset = (i: number) => line.map[Math.min(i, line.map.length - 1)] ?? r.src.text.length;
  for (const p of parsed) {
    if (typeof p === "object" && "comment" in p) break;
    const skip = line.text.slice(cursor).search(/\S/);
    const from = skip < 0 ? line.text.length : cursor + skip;
    if (typeof p === "object" && p.op !== "glob") {
      const i = line.text.indexOf(p.op, from);
      const at = i < 0 ? from : i;
      out.push({ op: p.op, offset: fileOffset(at) });
      cursor = at + p.op.length;
      continue;
    }
    const text = typeof p === "string" ? p : p.pattern;
    const raw = rawWord(line.text, from);
    // an unquoted $VAR alone is split into words by the shell (e.g. ARGS="-netdev user,id=n0 -device e1000,netdev=n0")
    if (/^\$(\{\w+\}|\w+)$/.test(line.text.slice(from, raw.end)) && /\s/.test(text.trim())) {
      for (const w of text.trim().split(/\s+/)) out.push({ text: w, offsets: [], offset: fileOffset(from) });
      cursor = raw.end;
      continue;
    }
    if (raw.text.startsWith(text) && text) {
      out.push({ text, offsets: raw.at.slice(0, text.length).map(fileOffset), offset: fileOffset(from) });
      cursor = raw.text === text ? raw.end : raw.at[text.length]!;
    } else {
      out.push({ text, offsets: [], offset: fileOffset(from) });
      cursor = Math.max(from + 1, raw.end);
    }
  }
  return out;
}

/** QEMU's binaries: qemu-system-ARCH (and qemu-kvm, the name some distributions install it under). */
const QEMU_BINARY = /^qemu-(system-[A-Za-z0-9_]+|kvm)(\.exe)?$/;

/** Operators that end a command; redirections take the next word and do not. */
const REDIRECTS = new Set([">", ">>", "<", ">&", "<("]);

/** A QEMU command's arguments, and which branch of which `if` it is in (commands in two branches of one `if` are alternatives). */
interface Command {
  readonly args: Word[];
  readonly ifId?: number;
  readonly branch?: number;
}

/** The `if`/`elif`/`else`/`fi` a script's commands are in (the innermost). */
class Branches {
  private readonly stack: { id: number; branch: number }[] = [];
  private next = 0;

  command(words: readonly Word[]): void {
    const first = words[0]?.text;
    if (first === "if") this.stack.push({ id: this.next++, branch: 0 });
    else if ((first === "elif" || first === "else") && this.stack.length) this.stack.at(-1)!.branch++;
    else if (first === "fi") this.stack.pop();
  }

  where(): { ifId?: number; branch?: number } {
    const top = this.stack.at(-1);
    return top ? { ifId: top.id, branch: top.branch } : {};
  }
}

/** The argument words of every QEMU command in the file. */
function commands(r: Reader): Command[] {
  const out: Command[] = [];
  const vars = new ShellVars(r);
  const branches = new Branches();
  for (const line of logicalLines(r.src.text)) {
    if (!line.text.trim() || line.text.trimStart().startsWith("#")) continue;
    const toks = tokens(r, line, vars);
    if (!toks) continue;
    let cmd: Word[] = [];
    const flush = () => {
      vars.command(cmd);
      branches.command(cmd);
      const i = cmd.findIndex((w) => QEMU_BINARY.test(basename(w.text)));
      const net = cmd.find((w) => /^--?(netdev|nic|net)$/.test(w.text));
      // `qemu-system-x86_64 -device X -help` (a script probing what QEMU supports) prints and exits: no VM
      const probe = cmd.slice(i + 1).some((w) => /^--?(help|version|h)$/.test(w.text));
      if (i >= 0 && !probe) out.push({ args: cmd.slice(i + 1), ...branches.where() });
      else if (net)
        r.warn(
          r.at(cmd[0]!),
          `'${cmd[0]!.text}' has QEMU network options but is not a qemu-system-* command; ignored`,
          "a command starting with qemu-system-ARCH (not a variable or wrapper)",
        );
      cmd = [];
    };
    for (let k = 0; k < toks.length; k++) {
      const t = toks[k]!;
      if (!("op" in t)) cmd.push(t);
      else if (REDIRECTS.has(t.op)) k++;
      else flush();
    }
    flush();
  }
  return out;
}

// ---------------------------------------------------------------------------
// QEMU option strings

/** One `key=value` of a QEMU option string, with its position in the word. */
interface Opt {
  readonly key: string;
  readonly value: string;
  readonly index: number;
  readonly valueIndex: number;
}

/**
 * `type,key=value,flag,...` (QemuOpts): ",," is a literal comma; a bare
 * first element is the implied key (`implied`), a bare later one is `key=on`.
 */
function splitOpts(text: string, implied: string): Opt[] {
  const out: Opt[] = [];
  let part = "";
  let at: number[] = [];
  const push = (end: number) => {
    const eq = part.indexOf("=");
    const index = at[0] ?? end;
    if (eq >= 0) out.push({ key: part.slice(0, eq), value: part.slice(eq + 1), index, valueIndex: at[eq + 1] ?? end });
    else out.push({ key: out.length ? part : implied, value: out.length ? "on" : part, index, valueIndex: index });
    part = "";
    at = [];
  };
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "," && text[i + 1] !== ",") push(i);
    else {
      part += text[i];
      at.push(i);
      if (text[i] === ",") i++;
    }
  }
  push(text.length);
  return out;
}

/** QAPI booleans (qapi_bool_parse). */
function bool(text: string): boolean | undefined {
  if (["on", "yes", "true", "y"].includes(text)) return true;
  if (["off", "no", "false", "n"].includes(text)) return false;
  return undefined;
}

/** A NIC device model (hw/net): the devices a `-device` line attaches a network backend to. */
const NIC_MODEL =
  /net|^(e1000|e1000e|e1000-82544gc|e1000-82545em|rtl8139|ne2k_pci|ne2k_isa|pcnet|i8255[0-9a-z]*|igb|vmxnet3|eepro100|tulip|sungem|lan9118|smc91c111)$/;

// ---------------------------------------------------------------------------
// User-mode networking (libslirp)

const V4 = (n: bigint) => formatIP({ v: 4, n });

/**
 * `net=addr[/mask]`: a mask is a length (4-32) or dotted; without one the
 * address's class decides (net/slirp.c net_slirp_init).
 */
function slirpNet(text: string): { n: bigint; len: number } | undefined {
  const [addr, mask, ...more] = text.split("/");
  const ip = parseIP(addr ?? "");
  if (!ip || ip.v !== 4 || more.length) return undefined;
  let len: number | undefined;
  if (mask === undefined) {
    const a = ip.n;
    len = !(a & 0x80000000n)
      ? 8
      : (a & 0xfff00000n) === 0xac100000n
        ? 12
        : (a & 0xc0000000n) === 0x80000000n
          ? 16
          : (a & 0xffff0000n) === 0xc0a80000n
            ? 16
            : (a & 0xffff0000n) === 0xc6120000n
              ? 15
              : (a & 0xe0000000n) === 0xe0000000n
                ? 24
                : 28;
  } else if (/^\d+$/.test(mask)) {
    len = Number(mask);
    if (len < 4 || len > 32) return undefined;
  } else {
    const m = parseIP(mask);
    if (m?.v !== 4) return undefined;
    const ones = m.n.toString(2).replace(/0+$/, "").length;
    if (m.n !== ((1n << BigInt(ones)) - 1n) << BigInt(32 - ones)) return undefined;
    len = ones;
  }
  return { n: ip.n & (((1n << BigInt(len)) - 1n) << BigInt(32 - len)), len };
}

/** Options of a user-mode backend that change nothing the topology language describes. */
const SLIRP_IGNORED = new Set(["id", "type", "hostname", "bootfile", "dnssearch", "domainname", "model", "mac", "macaddr", "vlan", "name"]);

/** Options of a user-mode backend that add something for the guest the language does not model. */
const SLIRP_UNMODELLED: Record<string, string> = {
  guestfwd: "a guest forward (connections from the guest to a host program) is not modelled",
  smb: "the built-in SMB server is not modelled",
  smbserver: "the built-in SMB server is not modelled",
  tftp: "the built-in TFTP server is not modelled",
  "tftp-server-name": "the built-in TFTP server is not modelled",
};

/**
 * `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`
 * (net/slirp.c slirp_hostfwd): an empty host address is 0.0.0.0, an empty
 * guest address the guest's DHCP address.
 */
function hostfwd(r: Reader, word: Word, o: Opt): ForwardDoc | undefined {
  const at = (i: number) => r.at(word, o.valueIndex + i);
  const m = /^([^:]*):([^:]*):([^-]*)-([^:]*):(.*)$/.exec(o.value);
  if (!m) {
    if (o.value.startsWith("unix:"))
      r.warn(at(0), `hostfwd=${o.value}: a forward from a host unix socket is not modelled`, "a tcp or udp hostfwd");
    else
      r.report(
        "RCH055",
        at(0),
        `hostfwd=${o.value} is not a host forward rule (QEMU refuses it)`,
        "hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport",
      );
    return undefined;
  }
  const [, proto, hostAddr, hostPort, guestAddr, guestPort] = m as unknown as [string, string, string, string, string, string];
  // where each field starts in the rule: they are separated by one character each
  const starts = [proto, hostAddr, hostPort, guestAddr].reduce((acc, part) => [...acc, acc[acc.length - 1]! + part.length + 1], [0]);
  const [pProto, pHostAddr, pHostPort, pGuestAddr, pGuestPort] = starts as [number, number, number, number, number];
  if (proto === "unix") {
    r.warn(at(pProto), `hostfwd=${o.value}: a forward from a host unix socket is not modelled`, "a tcp or udp hostfwd");
    return undefined;
  }
  if (proto !== "" && proto !== "tcp" && proto !== "udp") {
    r.report("RCH055", at(pProto), `hostfwd protocol '${proto}' (QEMU refuses it)`, "tcp, udp or empty (tcp)");
    return undefined;
  }
  let bad = false;
  const addr = (text: string, p: number, what: string) => {
    if (text === "" || parseIP(text)?.v === 4) return text;
    r.report("RCH010", at(p), `${what} '${text}' is not an IPv4 address`, "an IPv4 address, or empty");
    bad = true;
    return "";
  };
  const num = (text: string, p: number, what: string, min: number) => {
    const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
    if (n >= min && n <= 65535) return n;
    r.report("RCH012", at(p), `${what} '${text}' is not a port`, `an integer from ${min} to 65535`);
    bad = true;
    return 0;
  };
  const hip = addr(hostAddr, pHostAddr, "host address");
  const hp = num(hostPort, pHostPort, "host port", 0);
  const gip = addr(guestAddr, pGuestAddr, "guest address");
  const gp = num(guestPort, pGuestPort, "guest port", 1);
  if (bad) return undefined;
  if (hp === 0) {
    r.warn(at(pHostPort), `hostfwd=${o.value} listens on a port the host picks (host port 0); not modelled`, "a host port from 1 to 65535");
    return undefined;
  }
  return {
    proto: proto === "udp" ? "udp" : "tcp",
    ...(hip && hip !== "0.0.0.0" ? { hostIp: hip } : {}),
    hostPort: hp,
    ...(gip ? { guestIp: gip } : {}),
    guestPort: gp,
  };
}

/** The network of a user-mode backend (net= or ip=; 10.0.2.0/24 by default); undefined (reported) when the model cannot hold it. */
function slirpNetwork(r: Reader, word: Word, netOpt: Opt | undefined): { n: bigint; len: number } | undefined {
  if (!netOpt) return { n: 0x0a000200n, len: 24 };
  const parsed = slirpNet(netOpt.key === "ip" ? `${netOpt.value}/24` : netOpt.value);
  if (!parsed) {
    r.report(
      "RCH011",
      r.at(word, netOpt.index),
      `${netOpt.key}=${netOpt.value} is not an IPv4 network (QEMU refuses it)`,
      "net=ADDRESS[/LEN or /MASK], e.g. net=10.0.5.0/24",
    );
    return undefined;
  }
  if (parsed.len > 27) {
    r.warn(
      r.at(word, netOpt.index),
      `${netOpt.key}=${netOpt.value} makes a network smaller than /27, which the topology language cannot hold a NAT guest in; the NIC is left out`,
      "a network of /27 or larger",
    );
    return undefined;
  }
  return parsed;
}

/**
 * The hostfwd= forwards of a user-mode backend, each with an assumed service on the
 * guest behind it; the other options the model has no place for are reported.
 */
function slirpForwards(r: Reader, word: Word, opts: readonly Opt[], guest: string, services: ServiceDoc[]): ForwardDoc[] {
  const forwards: ForwardDoc[] = [];
  for (const o of opts) {
    const at = r.at(word, o.index);
    if (o.key === "hostfwd") {
      const f = hostfwd(r, word, o);
      if (!f) continue;
      forwards.push(f);
      const proto = f.proto ?? "tcp";
      if ((!f.guestIp || f.guestIp === guest) && !services.some((s) => s.proto === proto && s.port === f.guestPort)) {
        services.push({ name: `hostfwd ${o.value} (assumed)`, proto, port: f.guestPort });
      }
    } else if (SLIRP_UNMODELLED[o.key])
      r.warn(
        at,
        `${o.key}=${o.value}: ${SLIRP_UNMODELLED[o.key]!}`,
        "user-mode networking options net, host, dhcpstart, dns, restrict, hostfwd",
      );
    else if (
      !SLIRP_IGNORED.has(o.key) &&
      !["net", "ip", "host", "dhcpstart", "dns", "ipv4", "restrict", ...SLIRP_IPV6_KEYS].includes(o.key)
    ) {
      r.warn(
        at,
        `'${o.key}' is not a user-mode networking option this importer knows; left out`,
        "net, host, dhcpstart, dns, restrict, hostfwd (qemu-options.hx, -netdev user)",
      );
    }
  }
  return forwards;
}

const SLIRP_IPV6_KEYS = ["ipv6", "ipv6-net", "ipv6-prefix", "ipv6-prefixlen", "ipv6-host", "ipv6-dns"];

/**
 * IPv6 of a user-mode backend (qemu-options.hx): on unless `ipv6=off`, on `ipv6-net=` or
 * `ipv6-prefix=`/`ipv6-prefixlen=` (default fec0::/64). The guest takes its address by SLAAC,
 * so a prefix that is not a /64 leaves it without one: imported as IPv6 off.
 */
function slirpIpv6(r: Reader, word: Word, get: (key: string) => Opt | undefined): Pick<NatAdapterDoc, "ipv6" | "ipv6Network"> {
  const at = (o: Opt) => r.at(word, o.index);
  const on = get("ipv6");
  if (on && bool(on.value) === false) return { ipv6: false };
  const netOpt = get("ipv6-net");
  const prefix = get("ipv6-prefix");
  const len = get("ipv6-prefixlen");
  const text = netOpt ? netOpt.value : prefix ? `${prefix.value}/${len?.value ?? "64"}` : len ? `fec0::/${len.value}` : undefined;
  const where = netOpt ?? prefix ?? len;
  for (const [key, host] of [
    ["ipv6-host", 2],
    ["ipv6-dns", 3],
  ] as const) {
    const o = get(key);
    if (o)
      r.warn(
        at(o),
        `${key}=${o.value}: the topology language puts it at ::${host} of the IPv6 network; this setting is left out`,
        `${key} left out`,
      );
  }
  if (text === undefined || !where) return {};
  const c = parseCidr(text);
  if (!c || c.ip.v !== 6 || c.len !== 64 || prefixOf(c.ip, 64).n !== c.ip.n) {
    r.warn(
      at(where),
      `IPv6 network ${text}: the guest takes its address by SLAAC, which needs a /64; imported with IPv6 off`,
      "a /64, e.g. ipv6-net=fd00::/64",
    );
    return { ipv6: false };
  }
  return { ipv6Network: `${formatIP(c.ip)}/64` };
}

/** A user-mode backend's options as one NAT adapter, or none (with the reason reported) when it cannot be one. */
function slirpAdapter(r: Reader, word: Word, opts: readonly Opt[], services: ServiceDoc[]): AdapterDoc {
  const at = (o: Opt) => r.at(word, o.index);
  const get = (key: string) => opts.filter((o) => o.key === key).at(-1);
  const netOpt = get("net") ?? get("ip");
  const net = slirpNetwork(r, word, netOpt);
  if (!net) return { mode: "none" };
  // libslirp puts the host alias, DNS and guest at .2, .3 and .15 of 10.0.2.0 masked into the network
  // (host = net | (0.0.2.2 & ~mask)); the topology language at network + 2, + 3 and + 15: the same from /23 up
  const hostMask = (1n << BigInt(32 - net.len)) - 1n;
  const network = `${V4(net.n)}/${net.len}`;
  if (net.len <= 22) {
    r.warn(
      at(netOpt!),
      `in ${network} QEMU puts the guest at ${V4(net.n | (0x020fn & hostMask))} and the host alias at ${V4(net.n | (0x0202n & hostMask))}; the topology language puts them at ${V4(net.n + 15n)} and ${V4(net.n + 2n)}, which are imported instead`,
      "a network of /23 or smaller, e.g. net=10.0.5.0/24",
    );
  }
  const expect = (key: string, k: bigint, what: string) => {
    const o = get(key);
    const want = V4(net.n + k);
    if (o && o.value !== want)
      r.warn(
        at(o),
        `${key}=${o.value}: the topology language puts the ${what} at ${want}; this setting is left out`,
        `${key}=${want} or none`,
      );
  };
  expect("host", 2n, "host alias");
  expect("dhcpstart", 15n, "guest's DHCP address");
  expect("dns", 3n, "DNS server");
  const ipv4 = get("ipv4");
  if (ipv4 && bool(ipv4.value) === false) {
    r.warn(at(ipv4), "ipv4=off: an IPv6-only user-mode network is not modelled; the NIC is left out", "ipv4=on");
    return { mode: "none" };
  }
  const restrict = get("restrict");
  if (restrict && bool(restrict.value) !== false) {
    r.warn(
      at(restrict),
      `restrict=${restrict.value} isolates the guest (no connections to the host or beyond, forwards still work), which the topology language cannot say: imported without the isolation`,
      "restrict=off",
    );
  }
  const forwards = slirpForwards(r, word, opts, V4(net.n + 15n), services);
  const v6 = slirpIpv6(r, word, get);
  r.note(
    `QEMU's user-mode networking (libslirp) lets the guest reach the host's loopback through the host alias (.2${v6.ipv6 === false ? "" : ", and ::2 the host's ::1"}): imported as engine: qemu, whose localhostReachable is true (semantics.md section 6).`,
  );
  return { mode: "nat", engine: "qemu", network, ...v6, ...(forwards.length ? { forwards } : {}) };
}

// ---------------------------------------------------------------------------
// One QEMU command

/** A NIC in the order the guest sees them, and what drives it. */
type Nic =
  | { readonly kind: "netdev"; readonly id: string; readonly word: Word; readonly index: number }
  | { readonly kind: "inline"; readonly word: Word; readonly opts: readonly Opt[] }
  | { readonly kind: "hub"; readonly vlan: string; readonly word: Word }
  | { readonly kind: "other" };

interface Netdev {
  readonly type: string;
  readonly word: Word;
  readonly opts: readonly Opt[];
  used: boolean;
}

/** Options whose argument is the next word, whatever it looks like. */
const WITH_ARG = new Set(["netdev", "nic", "net", "device", "name", "readconfig"]);

/** Common options that take no argument (qemu-options.hx); any other option takes the next word unless it starts with '-'. */
const NO_ARG = new Set([
  "nodefaults",
  "enable-kvm",
  "nographic",
  "daemonize",
  "snapshot",
  "no-reboot",
  "no-shutdown",
  "S",
  "s",
  "full-screen",
  "no-user-config",
  "no-hpet",
  "no-acpi",
  "win2k-hack",
  "version",
  "help",
]);

/** A legacy `-net TYPE,vlan=N` backend on a hub. */
interface HubBackend {
  readonly vlan: string;
  readonly type: string;
  readonly word: Word;
  readonly opts: readonly Opt[];
}

/** What one command's options say about networking, before each NIC is matched to its backend. */
interface CommandScan {
  readonly netdevs: Map<string, Netdev>;
  readonly nics: Nic[];
  readonly hubBackends: HubBackend[];
  name?: string;
  /** a network option is present, so QEMU adds no default NIC */
  networkOption: boolean;
  noDefaults: boolean;
  /** a -netdev is given by a shell variable: a netdev id nothing declares may be that one */
  unresolved: boolean;
}

/** Every option of the command: -name, -device, and the network options (-netdev, -nic, -net). */
function scanOptions(r: Reader, args: readonly Word[]): CommandScan {
  const s: CommandScan = { netdevs: new Map(), nics: [], hubBackends: [], networkOption: false, noDefaults: false, unresolved: false };
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (!w.text.startsWith("-") || w.text === "-") continue;
    const opt = w.text.replace(/^--?/, "");
    const next = args[i + 1];
    const takes = WITH_ARG.has(opt) || (!NO_ARG.has(opt) && next !== undefined && !next.text.startsWith("-"));
    if (!takes) {
      if (opt === "nodefaults") s.noDefaults = true;
      continue;
    }
    i++;
    if (!WITH_ARG.has(opt)) continue;
    if (!next) {
      r.report("RCH055", r.at(w), `-${opt} has no argument (the command is cut off)`, `-${opt} ARGUMENT`);
      break;
    }
    if (opt === "readconfig") {
      r.warn(r.at(w), `-readconfig ${next.text}: options in another file are not read`, "the network options on the command line");
      continue;
    }
    if (next.text.includes("$")) {
      r.warn(
        r.at(next),
        `-${opt} ${next.text} uses a shell variable, whose value is not in the file; left out`,
        `-${opt} with literal values`,
      );
      if (opt !== "name" && opt !== "device") s.networkOption = true;
      if (opt === "netdev") s.unresolved = true;
      continue;
    }
    if (opt === "name") {
      s.name = splitOpts(next.text, "guest").find((o) => o.key === "guest")?.value || s.name;
      continue;
    }
    if (opt === "device") {
      const opts = splitOpts(next.text, "driver");
      const model = opts.find((o) => o.key === "driver")?.value ?? "";
      const netdev = opts.find((o) => o.key === "netdev");
      if (netdev) s.nics.push({ kind: "netdev", id: netdev.value, word: next, index: netdev.index });
      else if (NIC_MODEL.test(model))
        r.warn(
          r.at(next),
          `network device ${model} has no netdev=: it is connected to nothing`,
          `-device ${model},netdev=ID with a matching -netdev user,id=ID`,
        );
      continue;
    }
    s.networkOption = true;
    scanNetworkOption(r, s, opt, next);
  }
  return s;
}

/** `-netdev TYPE,id=ID,...`, `-nic TYPE,...` or `-net TYPE,...` (the legacy hub form). */
function scanNetworkOption(r: Reader, s: CommandScan, opt: string, next: Word): void {
  const opts = splitOpts(next.text, "type");
  const type = opts.find((o) => o.key === "type")?.value ?? "";
  if (opt === "netdev") {
    if (next.text.startsWith("{")) return r.warn(r.at(next), "-netdev in JSON form is not read", "-netdev user,id=ID,...");
    const id = opts.find((o) => o.key === "id");
    if (!id?.value) r.warn(r.at(next), `-netdev ${type} has no id=, so no device can use it (QEMU refuses it)`, `-netdev ${type},id=ID`);
    else if (s.netdevs.has(id.value))
      r.warn(r.at(next, id.index), `a second -netdev with id=${id.value} (QEMU refuses it)`, "unique netdev ids");
    else s.netdevs.set(id.value, { type, word: next, opts, used: false });
  } else if (opt === "nic") {
    if (type === "none") s.noDefaults = true;
    else if (type === "user") s.nics.push({ kind: "inline", word: next, opts });
    else {
      r.warn(r.at(next), `-nic ${type}: a ${type || "typeless"} backend is not modelled; the NIC is left out`, "-nic user,...");
      s.nics.push({ kind: "other" });
    }
  } else {
    // -net: the legacy hub ("vlan") form; -net nic,netdev=ID attaches a netdev directly
    const vlan = opts.find((o) => o.key === "vlan")?.value ?? "0";
    const netdev = opts.find((o) => o.key === "netdev");
    if (type === "none") s.noDefaults = true;
    else if (type === "nic")
      s.nics.push(netdev ? { kind: "netdev", id: netdev.value, word: next, index: netdev.index } : { kind: "hub", vlan, word: next });
    else s.hubBackends.push({ vlan, type, word: next, opts });
  }
}

/** The adapter of a NIC attached to a -netdev by id (each netdev drives one NIC). */
function netdevAdapter(r: Reader, s: CommandScan, nic: Nic & { kind: "netdev" }, services: ServiceDoc[]): AdapterDoc {
  const nd = s.netdevs.get(nic.id);
  if (!nd) {
    const hint = s.unresolved ? " (unless the -netdev given by a shell variable has)" : "";
    r.warn(
      r.at(nic.word, nic.index),
      `netdev=${nic.id}: no -netdev has id=${nic.id}${hint}; the NIC is left out`,
      `-netdev user,id=${nic.id},...`,
    );
    return { mode: "none" };
  }
  if (nd.used) {
    r.warn(r.at(nic.word, nic.index), `netdev=${nic.id} is already used by another NIC (QEMU refuses it); left out`, "one NIC per netdev");
    return { mode: "none" };
  }
  nd.used = true;
  if (nd.type === "user") return slirpAdapter(r, nd.word, nd.opts, services);
  r.warn(r.at(nd.word), `-netdev ${nd.type}: a ${nd.type || "typeless"} backend is not modelled; its NIC is left out`, "-netdev user,...");
  return { mode: "none" };
}

/** The adapter of a `-net nic` on a hub: the hub's first user backend, for the hub's first NIC only. */
function hubAdapter(
  r: Reader,
  nic: Nic & { kind: "hub" },
  hubs: Map<string, HubBackend[]>,
  hubUsed: Set<string>,
  services: ServiceDoc[],
): AdapterDoc {
  const backends = hubs.get(nic.vlan) ?? [];
  const user = backends.find((b) => b.type === "user");
  if (hubUsed.has(nic.vlan) || !user) {
    if (!backends.length)
      r.warn(r.at(nic.word), "-net nic without a -net backend on its hub: it is connected to nothing", "-net nic -net user,...");
    else if (hubUsed.has(nic.vlan))
      r.warn(
        r.at(nic.word),
        "a second -net nic on the same hub (all -net options share one hub) is not modelled; left out",
        "one -net nic per -net user",
      );
    return { mode: "none" };
  }
  hubUsed.add(nic.vlan);
  return slirpAdapter(r, user.word, user.opts, services);
}

/** Backends no NIC uses, or that the model cannot attach (other hub backends, a second user backend). */
function reportUnused(r: Reader, s: CommandScan, hubs: Map<string, HubBackend[]>, hubUsed: Set<string>): void {
  for (const [vlan, backends] of hubs) {
    const users = backends.filter((b) => b.type === "user");
    for (const b of backends) {
      if (b.type !== "user")
        r.warn(r.at(b.word), `-net ${b.type}: a ${b.type || "typeless"} backend is not modelled; left out`, "-net user,...");
      else if (!hubUsed.has(vlan)) r.warn(r.at(b.word), "-net user without a -net nic: no guest NIC uses it", "-net nic -net user,...");
      else if (b !== users[0])
        r.warn(r.at(b.word), "a second -net user on the same hub is not modelled; left out", "one -net user per -net nic");
    }
  }
  for (const [id, nd] of s.netdevs) {
    if (!nd.used) r.warn(r.at(nd.word), `-netdev ${nd.type},id=${id} is not used by any -device or -net nic`, `-device MODEL,netdev=${id}`);
  }
}

/** One QEMU command: its options, then each NIC with its backend as an adapter, then the VM. */
function readCommand(r: Reader, args: readonly Word[], fallbackName: () => string): void {
  const s = scanOptions(r, args);
  const vm = s.name ?? fallbackName();
  const services: ServiceDoc[] = [];
  const adapters: AdapterDoc[] = [];
  if (!s.networkOption && !s.noDefaults) {
    r.note(`${vm}: its command has no network option, so QEMU gives it the default NIC with user-mode networking (qemu-options.hx, -nic).`);
    adapters.push(slirpAdapter(r, { text: "user", offsets: [], offset: 0 }, [], services));
  }
  const hubs = new Map<string, HubBackend[]>();
  for (const b of s.hubBackends) hubs.set(b.vlan, [...(hubs.get(b.vlan) ?? []), b]);
  const hubUsed = new Set<string>();
  for (const nic of s.nics) {
    if (nic.kind === "other") adapters.push({ mode: "none" });
    else if (nic.kind === "inline") adapters.push(slirpAdapter(r, nic.word, nic.opts, services));
    else if (nic.kind === "netdev") adapters.push(netdevAdapter(r, s, nic, services));
    else adapters.push(hubAdapter(r, nic, hubs, hubUsed, services));
  }
  reportUnused(r, s, hubs, hubUsed);
  while (adapters.length && adapters[adapters.length - 1]!.mode === "none") adapters.pop();
  if (services.length)
    r.note(
      `${vm}: the command does not say what listens behind its host forwards; assumed a service on ${services.map((svc) => `${String(svc.port)}/${svc.proto ?? "tcp"}`).join(", ")} bound to every address.`,
    );
  if (r.machines[vm]) {
    r.warn(
      r.at(args[0] ?? { text: "", offsets: [], offset: 0 }),
      `a second QEMU command names its VM '${vm}'; left out`,
      "-name NAME, different for each VM",
    );
    return;
  }
  r.machines[vm] = { vm: { on: r.options.host, adapters }, ...(services.length ? { services } : {}) };
}

export const importQemu: Importer = (sources: readonly Source[], options: ImportOptions): ImportResult => {
  const machines: Record<string, MachineDoc> = {};
  const diagnostics: Diagnostic[] = [];
  const notes: string[] = [];
  for (const src of sources) {
    const r = new Reader(src, options);
    try {
      const cmds = commands(r);
      if (!cmds.length) r.report("RCH050", spanAt(src, 0), "no qemu-system-* command in this file", FORMATS);
      const stem = basename(src.file, extname(src.file)) || "qemu-vm";
      let unnamed = 0;
      const taken = new Map<number, Command>();
      for (const c of cmds) {
        const first = c.ifId !== undefined ? taken.get(c.ifId) : undefined;
        if (first && first.branch !== c.branch) {
          alternative(r, first, c);
          continue;
        }
        if (c.ifId !== undefined) taken.set(c.ifId, c);
        readCommand(r, c.args, () => (unnamed++ ? `${stem}-${unnamed}` : stem));
      }
    } catch (e) {
      r.report("RCH055", spanAt(src, 0), `cannot read this file: ${e instanceof Error ? e.message : String(e)}`, FORMATS);
    }
    diagnostics.push(...r.diagnostics);
    for (const n of r.notes) if (!notes.includes(n)) notes.push(n);
    for (const [name, m] of Object.entries(r.machines)) {
      if (machines[name])
        diagnostics.push(
          diagnostic("RCH053", spanAt(src, 0), `VM '${name}' is also described by another file; kept the first`, {
            expected: "different VM names (-name)",
            severity: "warning",
          }),
        );
      else machines[name] = m;
    }
  }
  return { fragment: { machines, notes }, diagnostics: byPosition(sources, diagnostics) };
};

/** The network options of a command, as written, to compare alternatives. */
const networkWords = (args: readonly Word[]): string =>
  args.flatMap((w, i) => (/^--?(netdev|nic|net|device|name)$/.test(w.text) ? [`${w.text} ${args[i + 1]?.text ?? ""}`] : [])).join(" ");

/**
 * A QEMU command in another branch of the same `if` as one already read: only one of them runs.
 * With the same network options it changes nothing (a note); with others, which one runs depends
 * on the run, so it is left out and said (RCH051).
 */
function alternative(r: Reader, first: Command, c: Command): void {
  const where = r.at(c.args[0] ?? { text: "", offsets: [], offset: 0 });
  if (networkWords(first.args) === networkWords(c.args))
    r.note(`The QEMU command at line ${where.line} is another branch of an if with the same network options: imported once.`);
  else
    r.warn(
      where,
      "a QEMU command in another branch of the same if, with other network options: which branch runs is not known; the first branch's command is imported",
      "one QEMU command, or branches with the same network options",
    );
}

/** Diagnostics in file order, then line and column. */
function byPosition(sources: readonly Source[], ds: readonly Diagnostic[]): Diagnostic[] {
  const file = (d: Diagnostic) => sources.findIndex((s) => s.file === d.span.file);
  return [...ds].sort((a, b) => file(a) - file(b) || a.span.line - b.span.line || a.span.col - b.span.col);
}
