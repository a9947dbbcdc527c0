/**
 * `reach import vagrant Vagrantfile`: the networks a Vagrantfile gives its
 * machines, read with a real Ruby parser (tree-sitter-ruby) and never run.
 *
 * Understood (Vagrant's kernel_v2 `config/vm.rb` and the VirtualBox provider's
 * `action/network.rb`; developer.hashicorp.com/vagrant/docs/networking):
 * - `Vagrant.configure("2") do |config| ... end` (several blocks merge in order);
 * - `config.vm.define "name"` / `:name` blocks, with any block variable name; a
 *   Vagrantfile without them has one machine, `default`;
 * - `X.vm.network "forwarded_port" | :forwarded_port` with guest, host,
 *   host_ip, guest_ip, protocol, id, auto_correct, disabled (`key: v` and
 *   `:key => v`); `"private_network"` with ip (netmask) or type: "dhcp", or
 *   `virtualbox__intnet`; `"public_network"` with bridge and ip;
 * - `X.vm.hostname`, `X.vm.communicator`, `X.vm.usable_port_range`, and
 *   `X.vm.provider "virtualbox" do |vb, override|` (customize calls that touch
 *   networking are reported, other provider settings such as vb.memory are
 *   ignored).
 *
 * What Vagrant does that the file does not say (VirtualBox provider):
 * - adapter 1 is always NAT; the forwards live there; private and public
 *   networks take adapters 2, 3, ... in the order written (configs merge: the
 *   top-level networks first, then the machine's own);
 * - every machine gets Vagrant's ssh forward 127.0.0.1:2222 -> 22 (id "ssh",
 *   auto_correct), unless the Vagrantfile defines a forward with id "ssh";
 *   a forward without host_ip listens on every host address (the LAN sees it:
 *   hashicorp/vagrant#4768);
 * - colliding TCP host ports are moved by auto_correct to the first free port
 *   of usable_port_range (2200..2250) as the machines come up in order
 *   (`HandleForwardedPortCollisions`); without auto_correct `vagrant up` stops;
 * - a private_network is a host-only network: the vboxnetN whose network
 *   address matches (192.168.56.0 is vboxnet0), else a new one whose host
 *   address is the network's .1; type: "dhcp" without ip uses 172.28.128.0/24
 *   with Vagrant's DHCP server at .2 and leases from .3.
 *
 * Ruby is evaluated, never run (vagrant-eval.ts): constants, interpolation, loops
 * and conditionals on computed values, methods the file defines, format, data
 * files under the include rules (docs/security.md), version 1 files as Vagrant
 * upgrades them. Anything else that may configure networking is an RCH051
 * warning at that node, never guessed.
 */
import { createRequire } from "node:module";
import { basename } from "node:path";
import { Language, Parser, type Node } from "web-tree-sitter";
import { parse as parseYaml } from "yaml";
import { diagnostic, formatSpan, InputError, type Code, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import { readInclude } from "../topology/include.js";
import { tooLarge } from "../topology/load.js";
import { contains, formatIP, parseIP, prefixOf, type IP, type Prefix } from "../net/addr.js";
import type { AdapterDoc, ForwardDoc, MachineDoc, ServiceDoc } from "../topology/schema.js";
import { spanAt, type Importer, type ImportOptions, type ImportResult, type Source } from "./types.js";
import { bindParams, Evaluator, hashKey, LOOP_METHODS, MAX_DEPTH, Scope, toS, truthy, type Value } from "./vagrant-eval.js";

// ---------------------------------------------------------------------------
// The parser (one per process; tree-sitter's wasm runtime is loaded once)

let rubyParser: Promise<Parser> | undefined;

function ruby(): Promise<Parser> {
  rubyParser ??= (async () => {
    await Parser.init();
    const wasm = createRequire(import.meta.url).resolve("tree-sitter-ruby/tree-sitter-ruby.wasm");
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })();
  return rubyParser;
}

// ---------------------------------------------------------------------------
// Ruby literals

/** The literal a node is (no variables): for option keys. */
const LITERALS = new Evaluator({ assumeEnv: () => undefined });
const literal = (node: Node): Value | undefined => LITERALS.value(node, new Scope());

/** A value as the notes show it. */
const showValue = (v: Value): string => (v.kind === "string" ? JSON.stringify(v.text) : (toS(v) ?? v.kind));

/** Text of a string or symbol literal. */
const textOf = (v: Value | undefined): string | undefined => (v?.kind === "string" || v?.kind === "symbol" ? v.text : undefined);

/** Ruby's `to_i` of a port: an integer, or a string of digits. */
function portValue(v: Value): number | undefined {
  if (v.kind === "integer") return v.n;
  if (v.kind === "string" && /^\s*\d+\s*$/.test(v.text)) return Number(v.text);
  return undefined;
}

// ---------------------------------------------------------------------------
// The syntax tree: method-call chains

/** `config.vm.network` -> ["config", "vm", "network"]; undefined when any link is more than a name. */
function chainOf(node: Node): string[] | undefined {
  const names: string[] = [];
  let n: Node = node;
  while (n.type === "call") {
    const method = n.childForFieldName("method");
    const receiver = n.childForFieldName("receiver");
    if (!method || !receiver) return undefined;
    if (receiver.type === "call" && (receiver.childForFieldName("arguments") || receiver.childForFieldName("block"))) return undefined;
    names.push(method.text);
    n = receiver;
  }
  // `Vagrant::Config.run`: a scoped constant is one name
  return n.type === "identifier" || n.type === "constant" || n.type === "scope_resolution" ? [n.text, ...names.reverse()] : undefined;
}

/** Every node under `root`, depth first in document order (iteratively: generated Ruby can nest deeply). */
function* descendants(root: Node): Generator<Node> {
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    yield n;
    const c = n.children;
    for (let i = c.length - 1; i >= 0; i--) stack.push(c[i]!);
  }
}

/** The statements of a block body (`do ... end` or `{ ... }`), comments left out. */
function statements(body: Node | null): Node[] {
  return (body?.namedChildren ?? []).filter((c) => c.type !== "comment" && c.type !== "empty_statement");
}

/** A call's block: its body statements and parameter names. */
function blockOf(call: Node): { body: Node[]; params: string[]; node: Node } | undefined {
  const block = call.childForFieldName("block");
  if (!block) return undefined;
  const params = (block.childForFieldName("parameters")?.namedChildren ?? []).filter((p) => p.type === "identifier").map((p) => p.text);
  return { body: statements(block.childForFieldName("body")), params, node: block };
}

/** The arguments of a call, comments left out. */
function argumentsOf(call: Node): Node[] {
  return (call.childForFieldName("arguments")?.namedChildren ?? []).filter((c) => c.type !== "comment");
}

/** Identifiers a statement's code calls or names (to tell harmless Ruby from hidden networking). */
function mentions(node: Node, names: ReadonlySet<string>): boolean {
  for (const n of descendants(node)) if ((n.type === "identifier" || n.type === "constant") && names.has(n.text)) return true;
  return false;
}

/** True when a call in `node` takes one of `names` as an argument (a method of the file may configure it). */
function passes(node: Node, names: ReadonlySet<string>): boolean {
  for (const n of descendants(node))
    if (n.type === "argument_list" && n.namedChildren.some((a) => a.type === "identifier" && names.has(a.text))) return true;
  return false;
}

/** Words for the Ruby construct a statement is, for messages. */
function constructName(node: Node): string {
  switch (node.type) {
    case "if":
    case "unless":
    case "if_modifier":
    case "unless_modifier":
    case "case":
    case "conditional":
      return "a conditional";
    case "for":
    case "while":
    case "until":
    case "while_modifier":
    case "until_modifier":
      return "a loop";
    case "method":
    case "singleton_method":
      return "a method definition";
    case "assignment":
    case "operator_assignment":
      return "an assignment";
    case "call": {
      const method = node.childForFieldName("method")?.text ?? "";
      return ["each", "each_with_index", "times", "map", "upto", "step", "each_pair"].includes(method)
        ? `a loop (.${method})`
        : `a method call (${method || "?"})`;
    }
    default:
      return `a Ruby ${node.type.replaceAll("_", " ")}`;
  }
}

// ---------------------------------------------------------------------------
// What the Vagrantfile configures, before machines are built

type NetworkType = "forwarded_port" | "private_network" | "public_network";

/** One option of a network call: its literal value and where it was written. */
interface Opt {
  readonly value: Value;
  readonly node: Node;
}

interface NetworkCall {
  readonly type: NetworkType;
  readonly options: ReadonlyMap<string, Opt>;
  readonly node: Node;
  /** A public_network's `bridge:` that Ruby would compute (a method, a shell command): the interface on the LAN is assumed. */
  readonly computedBridge?: Node;
}

/** A config object: the top-level one, or a define block's (Vagrant merges the two per machine). */
interface Config {
  /** Keyed by "type-id" as Vagrant's VMConfig#network keys them. */
  readonly networks: Map<string, NetworkCall>;
  hostname?: string;
  communicator?: string;
  portRange?: { readonly lo: number; readonly hi: number };
  autostart?: { readonly value: boolean; readonly node: Node };
}

const newConfig = (): Config => ({ networks: new Map() });

/** Options each network type uses; other provider-neutral options Vagrant ignores or we need not. */
const USED: Record<NetworkType, readonly string[]> = {
  forwarded_port: ["guest", "host", "host_ip", "guest_ip", "protocol", "id", "auto_correct", "disabled", "adapter"],
  private_network: ["ip", "netmask", "type", "name", "intnet", "auto_config", "dhcp_lower", "adapter", "id"],
  public_network: ["ip", "netmask", "bridge", "type", "auto_config", "adapter", "id"],
};
const IGNORED: Record<NetworkType, readonly string[]> = {
  forwarded_port: [],
  // bridge: the VirtualBox provider's hostonly_adapter does not read it (a host-only adapter has no bridge)
  private_network: ["mac", "nic_type", "dhcp_ip", "dhcp_upper", "bridge"],
  // dev, mode: vagrant-libvirt's public_network options (a macvtap device), which the VirtualBox provider does not read
  public_network: ["mac", "nic_type", "use_dhcp_assigned_default_route", "dev", "mode"],
};

/** The Vagrant version `Vagrant::VERSION` is taken as: this import models Vagrant 2 (the version that reads these files today). */
export const ASSUMED_VAGRANT_VERSION = "2.4.1";

/**
 * Methods whose call, in Ruby reach does not run, may hide networking: a provider block or a
 * customize call does only when it holds one of these or a networking customize (`customizes`).
 */
const NETWORKING = new Set(["network", "define", "configure", "forward_port", "ports"]);

/** VBoxManage commands a customize call may run that change a VM's networking. */
const CUSTOMIZE_COMMANDS = new Set(["modifyvm", "controlvm", "natnetwork", "hostonlyif", "hostonlynet", "dhcpserver"]);

/**
 * True when `node` holds a `customize [...]` call that may change networking: its VBoxManage
 * command is one that can (or is computed), and a flag of it is a networking one (or computed).
 */
function customizes(node: Node): boolean {
  for (const n of descendants(node)) {
    if (n.type !== "call" || n.childForFieldName("method")?.text !== "customize") continue;
    const [list] = argumentsOf(n);
    const items = list?.type === "array" ? list.namedChildren.filter((c) => c.type !== "comment") : undefined;
    if (!items?.length) return true;
    const plain = (c: Node) =>
      c.type === "string" && !c.namedChildren.some((x) => x.type === "interpolation") ? textOf(literal(c)) : undefined;
    const command = plain(items[0]!);
    if (command !== undefined && !CUSTOMIZE_COMMANDS.has(command)) continue;
    for (const c of items.slice(1)) {
      if (c.type === "simple_symbol" || c.type === "integer") continue;
      const t = plain(c);
      if (t === undefined || CUSTOMIZE_NET.some((f) => t.startsWith(f))) return true;
    }
  }
  return false;
}

/** VBoxManage modifyvm options that change a VM's networking (VirtualBox manual, VBoxManage modifyvm). */
const CUSTOMIZE_NET = [
  "--nic",
  "--natpf",
  "--natnet",
  "--nat-network",
  "--hostonlyadapter",
  "--host-only-adapter",
  "--hostonlynet",
  "--bridgeadapter",
  "--intnet",
  "--cableconnected",
  "--nat-localhostreachable",
  "--natbindip",
  "--macaddress",
];

/**
 * Statements the reader follows in one Vagrantfile, loops and method calls expanded: nested loops
 * multiply (64 items, 24 deep), so the total is bounded too; past it the rest is an omission.
 */
export const MAX_STEPS = 20_000;

/** Values one data file may hold (a machines list, not a database). */
const MAX_DATA_VALUES = 100_000;

/** A data file's value as Ruby's YAML/JSON loaders give it: string keys (symbols with symbolize_names), integers, floats opaque. */
function fromData(x: unknown, symbolize: boolean, budget: { left: number }): Value | undefined {
  if (--budget.left < 0) return undefined;
  if (x === null || x === undefined) return { kind: "nil" };
  if (typeof x === "string") return { kind: "string", text: x };
  if (typeof x === "boolean") return { kind: "boolean", b: x };
  if (typeof x === "number") return Number.isSafeInteger(x) ? { kind: "integer", n: x } : { kind: "other", text: String(x) };
  if (Array.isArray(x)) {
    const items: Value[] = [];
    for (const i of x) {
      const v = fromData(i, symbolize, budget);
      if (!v) return undefined;
      items.push(v);
    }
    return { kind: "array", items };
  }
  if (typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    const entries = new Map<string, { key: Value; value: Value }>();
    for (const [k, i] of Object.entries(x as Record<string, unknown>)) {
      const value = fromData(i, symbolize, budget);
      if (!value) return undefined;
      const key: Value = { kind: symbolize ? "symbol" : "string", text: k };
      entries.set(hashKey(key), { key, value });
    }
    return { kind: "hash", entries };
  }
  return { kind: "other", text: String(x) };
}

const EXPECTED_LITERAL =
  "a literal value (a string, a symbol, an integer, true or false): reach reads the Vagrantfile without running Ruby";

class Reader {
  readonly diagnostics: Diagnostic[] = [];
  readonly notes: string[] = [];
  readonly root = newConfig();
  readonly machines = new Map<string, { config: Config; node: Node }>();
  readonly providers = new Set<string>();
  private anonymous = 0;
  /** Whether a version 2 configure block was read. */
  read = false;
  /** The file's top-level variables and constants, as far as they can be computed without running Ruby. */
  readonly top = new Scope();
  /** A config.vm.define sits in Ruby that is not run: no machine `default` is invented then. */
  hiddenDefine = false;
  /** Loops being expanded and methods being run, one inside another. */
  private depth = 0;
  /** The methods the file defines at its top level (`def name(params) ... end`), run where a config block calls them. */
  private readonly methods = new Map<string, Node>();
  /** The methods being run, innermost last (a method that calls itself is not followed). */
  private readonly calling: string[] = [];
  /** Reading a version 1 block (`Vagrant::Config.run`), which Vagrant upgrades to version 2. */
  private v1 = false;
  /** Statements followed so far (MAX_STEPS). */
  private steps = 0;
  readonly eval = new Evaluator({
    assumeEnv: (node, name, dflt) =>
      this.note(
        `ENV["${name}"] is taken as unset, so its default ${showValue(dflt)} is used (${basename(this.source.file)}:${this.at(node)}); if you set ${name} when you run vagrant, edit the topology to match.`,
      ),
    readData: (node, path, format, symbolize) => this.data(node, path, format, symbolize),
    exists: (node, path) => this.exists(node, path),
    vagrantVersion: (node) => {
      this.note(
        `Vagrant::VERSION (${basename(this.source.file)}:${this.at(node)}) is taken as ${ASSUMED_VAGRANT_VERSION}: this import models Vagrant 2.`,
      );
      return ASSUMED_VAGRANT_VERSION;
    },
  });

  constructor(readonly source: Source) {}

  span(node: Node): Span {
    return spanAt(this.source, node.startIndex);
  }
  report(code: Code, node: Node, message: string, expected: string, severity: "error" | "warning" = "error"): void {
    this.diagnostics.push(diagnostic(code, this.span(node), message, { expected, severity }));
  }
  warn(node: Node, message: string, expected: string): void {
    this.report("RCH051", node, message, expected, "warning");
  }
  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }
  at(node: Node): string {
    const s = this.span(node);
    return `${s.line}:${s.col}`;
  }

  /**
   * A data file the Vagrantfile reads (`YAML.load_file`, `JSON.parse(File.read(...))`): read under
   * the include rules of docs/security.md (relative, inside the Vagrantfile's folder after links are
   * followed, a regular text file), else a warning at the call and the value unknown.
   */
  data(node: Node, path: string, format: "yaml" | "json", symbolize: boolean): Value | undefined {
    let text: string;
    try {
      text = readInclude(this.source.file, path, this.span(node), new Map()).text;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const d = e.diagnostics[0]!;
      const why = d.message.replace(/^include '.*?' refused: /, "").replace(/^cannot read the included file '.*?' /, "cannot be read ");
      this.diagnostics.push(
        diagnostic(
          d.code,
          d.span,
          `the data file '${path.slice(0, 200)}' is not read: ${why}; what the Vagrantfile takes from it is not known`,
          {
            expected: "a file inside the Vagrantfile's folder (relative path, no symbolic link out, a regular text file)",
            severity: "warning",
          },
        ),
      );
      return undefined;
    }
    let data: unknown;
    try {
      data = format === "json" ? JSON.parse(text) : parseYaml(text, { version: "1.1" });
    } catch (e) {
      this.warn(
        node,
        `the data file '${path.slice(0, 200)}' is not valid ${format.toUpperCase()} (${String((e as Error).message).split("\n")[0]})`,
        `a ${format.toUpperCase()} file`,
      );
      return undefined;
    }
    const v = fromData(data, symbolize, { left: MAX_DATA_VALUES });
    if (!v)
      this.warn(node, `the data file '${path.slice(0, 200)}' holds more than ${MAX_DATA_VALUES} values: not read`, "a smaller data file");
    else if (!path.startsWith("./"))
      this.note(
        `${basename(this.source.file)}:${this.at(node)} reads ${path} relative to the Vagrantfile's folder: vagrant is assumed to be run there.`,
      );
    return v;
  }

  /** `File.exist?(path)` for a path the include rules allow: whether it is there; undefined when they refuse it. */
  exists(node: Node, path: string): boolean | undefined {
    if (!path.startsWith("./"))
      this.note(
        `${basename(this.source.file)}:${this.at(node)} looks for ${path} relative to the Vagrantfile's folder: vagrant is assumed to be run there.`,
      );
    try {
      readInclude(this.source.file, path, this.span(node), new Map());
      return true;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return e.diagnostics[0]?.code === "RCH001" ? false : undefined;
    }
  }

  /** A statement reach does not follow: reported when it may hide networking or uses a config variable. */
  unknown(stmt: Node, vars: readonly string[]): void {
    // a statement that names no networking method, runs no networking customize and hands no config
    // variable to a method of its own (e.g. `if needsDisk then vb.customize ["createhd", ...] end`)
    // cannot configure networks
    if (!mentions(stmt, NETWORKING) && !customizes(stmt) && !passes(stmt, new Set(vars))) return;
    if (mentions(stmt, new Set(["define"]))) this.hiddenDefine = true;
    this.warn(
      stmt,
      `${constructName(stmt)} is not run (reach reads the Vagrantfile without running Ruby): the networks it may configure are not imported`,
      "literal config.vm.define and config.vm.network calls directly inside the Vagrant.configure block",
    );
  }

  // --- the top level

  program(root: Node): void {
    const stmts = statements(root);
    let configured = false;
    const blocks: Node[] = [];
    // Ruby defines the file's methods as it loads it; Vagrant runs the configure blocks after that
    for (const s of stmts) if (s.type === "method" && s.childForFieldName("name")) this.methods.set(s.childForFieldName("name")!.text, s);
    for (const s of stmts) {
      const chain = s.type === "call" ? chainOf(s)?.join(".") : undefined;
      if (chain === "Vagrant.configure" || chain === "Vagrant::Config.run") {
        configured = true;
        blocks.push(s);
      } else if (this.guarded(s)) {
        // `Vagrant::VERSION >= "1.1.0" and Vagrant.configure("2") do ... end`: the block, when the guard holds
        configured = true;
        const v = this.eval.value(s.childForFieldName("left")!, this.top);
        if (v === undefined) this.unknown(s, []);
        else if (truthy(v)) blocks.push(s.childForFieldName("right")!);
      } else if (s.type === "method" && this.methods.get(s.childForFieldName("name")?.text ?? "") === s) {
        continue; // run where a config block calls it
      } else if (!this.assign(s, this.top, [])) {
        this.unknown(s, []);
        // Vagrant.configure inside Ruby that is not run: reported above, still a Vagrantfile
        configured ||= mentions(s, new Set(["configure"]));
      }
    }
    // Vagrant keeps the configure blocks and runs them once the whole file is loaded
    for (const s of blocks)
      if (chainOf(s)?.join(".") === "Vagrant::Config.run") this.configure1(s);
      else this.configure(s);
    if (!configured) {
      this.diagnostics.push(
        diagnostic("RCH050", { file: this.source.file, line: 1, col: 1 }, "not a Vagrantfile: no Vagrant.configure block", {
          expected: 'a Vagrantfile: Vagrant.configure("2") do |config| ... end',
        }),
      );
    }
  }

  private configure(call: Node): void {
    const [version] = argumentsOf(call);
    const v = version && this.eval.value(version, this.top);
    const block = blockOf(call);
    if (!block || block.params.length !== 1) {
      this.warn(
        call,
        "Vagrant.configure without a block taking one config variable: not imported",
        'Vagrant.configure("2") do |config| ... end',
      );
      return;
    }
    const text = v?.kind === "integer" ? String(v.n) : textOf(v);
    if (version && text === "1") {
      this.warn(version, 'Vagrant.configure("1") is the version 1 configuration format: not imported', 'Vagrant.configure("2")');
      return;
    }
    if (!version || text !== "2") {
      this.warn(
        version ?? call,
        `the configuration version is ${version ? `'${version.text}', not a literal "2"` : "missing"}: the block is read as version 2`,
        'Vagrant.configure("2")',
      );
    }
    this.read = true;
    this.body(block.body, block.params[0]!, this.root, "root", new Scope(this.top));
  }

  /** `GUARD and Vagrant.configure(...)` / `GUARD && ...`: a configure block run only when its guard is true. */
  private guarded(s: Node): boolean {
    const op = s.type === "binary" ? s.childForFieldName("operator")?.text : undefined;
    const right = s.childForFieldName("right");
    return (op === "and" || op === "&&") && right?.type === "call" && chainOf(right)?.join(".") === "Vagrant.configure";
  }

  /**
   * `Vagrant::Config.run do |config| ... end`, the version 1 format: Vagrant still loads it and
   * upgrades it to version 2 (plugins/kernel_v1/config/vm.rb#upgrade): forward_port becomes a
   * forwarded_port network, `network :hostonly, ip` a private_network, `network :bridged` a
   * public_network, host_name the hostname, vm.customize the VirtualBox provider's customize.
   */
  private configure1(call: Node): void {
    const block = blockOf(call);
    if (!block || block.params.length !== 1) {
      this.warn(
        call,
        "Vagrant::Config.run without a block taking one config variable: not imported",
        "Vagrant::Config.run do |config| ... end",
      );
      return;
    }
    this.read = true;
    this.v1 = true;
    this.body(block.body, block.params[0]!, this.root, "root", new Scope(this.top));
    this.v1 = false;
  }

  /** A version 1 `config.vm.X ...` call: true when it is one the upgrade to version 2 turns into networking. */
  private statement1(s: Node, method: string, cfg: Config, scope: Scope): boolean {
    const args = argumentsOf(s);
    if (method === "customize") this.customize(s, scope);
    else if (method === "forward_port") {
      // the upgrade keeps the guest and host ports, :adapter and :protocol; :auto and :name are dropped
      const options = new Map<string, Opt>();
      const [guest, host, ...rest] = args;
      for (const [name, n] of [
        ["guest", guest],
        ["host", host],
      ] as const) {
        const v = n && this.eval.value(n, scope);
        if (!n || !v) {
          this.warn(
            n ?? s,
            `the ${name} port of config.vm.forward_port is not a literal (${n?.text ?? "missing"}): this forward is not imported`,
            EXPECTED_LITERAL,
          );
          return true;
        }
        options.set(name, { value: v, node: n });
      }
      const kept = rest.flatMap((a) => this.pairs(a)).filter((p) => p.key === "adapter" || p.key === "protocol");
      if (!this.options("forwarded_port", kept, scope, options)) return true;
      this.record("forwarded_port", options, s, cfg);
    } else if (method === "network") {
      const [typeNode, ...rest] = args;
      const kind = typeNode && textOf(this.eval.value(typeNode, scope));
      const type = kind === "hostonly" ? "private_network" : kind === "bridged" ? "public_network" : undefined;
      if (!type) {
        this.warn(
          typeNode ?? s,
          `version 1 network type ${typeNode?.text ?? "(missing)"} is not :hostonly or :bridged: Vagrant ignores it`,
          ":hostonly or :bridged",
        );
        return true;
      }
      const options = new Map<string, Opt>();
      const [ip, ...more] =
        type === "private_network" && rest[0] && rest[0].type !== "pair" && rest[0].type !== "hash" ? rest : [undefined, ...rest];
      if (ip) {
        const v = this.eval.value(ip, scope);
        if (!v) {
          this.warn(
            ip,
            `the address of config.vm.network :hostonly is not a literal (${ip.text}): this network is not imported`,
            EXPECTED_LITERAL,
          );
          return true;
        }
        options.set("ip", { value: v, node: ip });
      }
      if (
        !this.options(
          type,
          more.flatMap((a) => (a ? this.pairs(a) : [])),
          scope,
          options,
        )
      )
        return true;
      this.record(type, options, s, cfg);
    } else return false;
    return true;
  }

  /**
   * A call of a method the file defines (`setup_dns node`): its body runs as part of the block
   * that calls it, with its parameters bound to the arguments (the config object passed in becomes
   * the body's config variable). Ruby's `def` sees no outer locals, only constants and globals.
   */
  private invoke(s: Node, def: Node, args: readonly Node[], v: string, cfg: Config, level: "root" | "machine", scope: Scope): void {
    const name = def.childForFieldName("name")!.text;
    if (this.calling.includes(name) || this.depth >= MAX_DEPTH) return this.unknown(s, [v]);
    const params = (def.childForFieldName("parameters")?.namedChildren ?? []).filter((c) => c.type !== "comment");
    const inner = new Scope(this.top, true);
    let own: string | undefined;
    if (args.length > params.length) return this.unknown(s, [v]);
    for (const [i, p] of params.entries()) {
      const pname = p.type === "identifier" ? p.text : p.type === "optional_parameter" ? p.childForFieldName("name")?.text : undefined;
      const dflt = p.type === "optional_parameter" ? p.childForFieldName("value") : null;
      const a = args[i];
      if (pname === undefined || (!a && !dflt)) return this.unknown(s, [v]);
      if (a?.type === "identifier" && a.text === v) own = pname;
      else inner.set(pname, a ? this.eval.value(a, scope) : this.eval.value(dflt!, inner));
    }
    this.calling.push(name);
    this.depth++;
    // a body whose config variable is not passed in configures nothing of this block's (`own` unset)
    this.body(statements(def.childForFieldName("body")), own ?? "\u0000", cfg, level, inner);
    this.depth--;
    this.calling.pop();
  }

  /** The file's method a statement calls (`name arg, ...` or a bare `name`), with its arguments. */
  private methodCall(s: Node): { def: Node; args: Node[] } | undefined {
    if (s.type === "identifier") {
      const def = this.methods.get(s.text);
      return def ? { def, args: [] } : undefined;
    }
    if (s.type !== "call" || s.childForFieldName("receiver") || s.childForFieldName("block")) return undefined;
    const def = this.methods.get(s.childForFieldName("method")?.text ?? "");
    return def ? { def, args: argumentsOf(s) } : undefined;
  }

  // --- config blocks

  /** The statements of a config block whose config variable is `v`. */
  private body(stmts: readonly Node[], v: string, cfg: Config, level: "root" | "machine", scope: Scope): void {
    for (const s of stmts) this.statement(s, v, cfg, level, scope);
  }

  private statement(s: Node, v: string, cfg: Config, level: "root" | "machine", scope: Scope): void {
    if (++this.steps > MAX_STEPS) {
      if (this.steps === MAX_STEPS + 1)
        this.warn(
          s,
          `the Vagrantfile's loops and methods run more than ${MAX_STEPS} statements: from here on nothing is imported`,
          "fewer machines, or loops over smaller lists",
        );
      return;
    }
    const called = this.methodCall(s);
    if (called) return this.invoke(s, called.def, called.args, v, cfg, level, scope);
    if (s.type === "call") {
      const chain = chainOf(s);
      if (this.v1 && chain?.[0] === v && chain[1] === "vm" && chain.length === 3 && this.statement1(s, chain[2]!, cfg, scope)) return;
      // another config object's provision, box, hostname...: nothing of this machine's networking
      const networking = chain?.[2] === "network" || chain?.[2] === "define" || mentions(s, new Set(["customize", "network"]));
      if (chain && chain[0] !== v && chain[1] === "vm" && chain.length === 3 && level === "machine" && networking) {
        this.warn(
          s,
          `${chain.join(".")} inside a block whose config variable is '${v}': it configures another config object than this machine's, not imported`,
          `${v}.vm.${chain[2]} ...`,
        );
        return;
      }
      if (chain?.[0] === v && chain.length >= 2) {
        if (chain[1] !== "vm" || chain.length !== 3) return; // config.ssh, config.vagrant, plugins: not networking
        switch (chain[2]) {
          case "network":
            this.network(s, cfg, scope);
            return;
          case "define":
            if (level === "root") this.define(s, scope);
            else
              this.warn(
                s,
                "config.vm.define inside a define block: Vagrant ignores machines defined there",
                "config.vm.define directly inside the Vagrant.configure block",
              );
            return;
          case "provider":
            this.provider(s, cfg, scope);
            return;
          default:
            return; // box, synced_folder, provision, ...: not networking
        }
      }
    } else if (s.type === "assignment") {
      const chain = chainOf(s.childForFieldName("left") ?? s);
      const right = s.childForFieldName("right");
      if (chain?.[0] === v && chain.length >= 2 && right) {
        const upgraded = this.v1
          ? ({ host_name: "hostname", auto_port_range: "usable_port_range" } as Record<string, string>)[chain[2]!]
          : undefined;
        if (chain[1] === "vm" && chain.length === 3) this.setting(upgraded ?? chain[2]!, right, cfg, scope);
        return;
      }
      if (this.assign(s, scope, [v])) return;
    }
    if (this.loop(s, v, cfg, level, scope) || this.conditional(s, v, cfg, level, scope)) return;
    this.unknown(s, [v]);
  }

  /** `name = expr` (a local, a constant or a global): its value when it can be computed; true when it is such an assignment. */
  private assign(s: Node, scope: Scope, vars: readonly string[]): boolean {
    const left = s.type === "assignment" ? s.childForFieldName("left") : null;
    if (!left || !["identifier", "constant", "global_variable"].includes(left.type)) return false;
    if (this.eval.value(s, scope) === undefined) this.unknown(s, vars);
    return true;
  }

  /** `xs.each do |x| ... end` and the like over values the file computes: the body once per item. */
  private loop(s: Node, v: string, cfg: Config, level: "root" | "machine", scope: Scope): boolean {
    const method = s.type === "call" ? s.childForFieldName("method")?.text : undefined;
    const block = s.type === "call" ? blockOf(s) : undefined;
    if (!block || !method || !LOOP_METHODS.has(method) || this.depth >= MAX_DEPTH) return false;
    const params = block.node.childForFieldName("parameters")?.namedChildren ?? [];
    if (params.some((p) => p.type !== "identifier")) return false;
    const runs = this.eval.iterations(s, scope);
    if (!runs) return false;
    this.depth++;
    for (const args of runs) {
      const inner = new Scope(scope);
      bindParams(inner, block.params, args);
      this.body(block.body, v, cfg, level, inner);
    }
    this.depth--;
    return true;
  }

  /** `if`/`unless` (and their modifier forms, `elsif`, `else`) whose conditions the file computes: the branch taken. */
  private conditional(s: Node, v: string, cfg: Config, level: "root" | "machine", scope: Scope): boolean {
    if (s.type === "if_modifier" || s.type === "unless_modifier") {
      const c = s.childForFieldName("condition");
      const cv = c && this.eval.value(c, scope);
      const body = s.childForFieldName("body");
      if (!cv || !body) return false;
      if (truthy(cv) === (s.type === "if_modifier")) this.statement(body, v, cfg, level, scope);
      return true;
    }
    if (s.type !== "if" && s.type !== "unless") return false;
    let negate = s.type === "unless";
    for (let n: Node | null = s; n; n = n.childForFieldName("alternative")) {
      if (n.type === "else") {
        this.body(statements(n), v, cfg, level, scope);
        return true;
      }
      const c = n.childForFieldName("condition");
      const cv = c && this.eval.value(c, scope);
      if (!cv) return false;
      if (truthy(cv) !== negate) {
        this.body(statements(n.childForFieldName("consequence")), v, cfg, level, scope);
        return true;
      }
      negate = false;
    }
    return true;
  }

  /** `config.vm.X = value` for the settings that matter to networking. */
  private setting(name: string, right: Node, cfg: Config, scope: Scope): void {
    if (!["hostname", "communicator", "usable_port_range"].includes(name)) return;
    const v = this.eval.value(right, scope);
    if (name === "usable_port_range") {
      if (v?.kind === "range" && v.lo >= 1 && v.hi <= 65535 && v.lo <= v.hi) cfg.portRange = { lo: v.lo, hi: v.hi };
      else
        this.warn(right, `config.vm.usable_port_range is not a literal port range (${right.text})`, "a literal range such as 2200..2250");
      return;
    }
    const text = textOf(v);
    // the hostname only describes the machine (its description); the communicator decides the ssh forward
    if (text === undefined && name === "hostname") return;
    if (text === undefined) {
      this.warn(right, `config.vm.${name} is not a literal (${right.text})`, EXPECTED_LITERAL);
      return;
    }
    if (name === "hostname") cfg.hostname = text;
    else cfg.communicator = text;
  }

  private define(call: Node, scope: Scope): void {
    const [nameNode, ...opts] = argumentsOf(call);
    const name = nameNode && textOf(this.eval.value(nameNode, scope));
    if (!nameNode || name === undefined || name === "") {
      this.warn(
        nameNode ?? call,
        `the machine name of config.vm.define is not a literal (${nameNode?.text ?? "missing"}): the machine is not imported`,
        'a literal name such as config.vm.define "web" or config.vm.define :web',
      );
      return;
    }
    const had = this.machines.get(name);
    const cfg = had?.config ?? newConfig();
    if (!had) this.machines.set(name, { config: cfg, node: call });
    for (const opt of opts) {
      for (const pair of this.pairs(opt)) {
        if (pair.key !== "autostart") continue;
        const v = this.eval.value(pair.value, scope);
        if (v?.kind === "boolean") cfg.autostart = { value: v.b, node: pair.value };
        else this.warn(pair.value, `autostart is not a literal (${pair.value.text})`, "autostart: true or false");
      }
    }
    const block = blockOf(call);
    if (!block) return;
    const v = block.params[0];
    if (v === undefined) {
      this.warn(
        block.node,
        `config.vm.define "${name}" has a block without a config variable: its settings are not imported`,
        `config.vm.define "${name}" do |${name.replaceAll(/\W/g, "") || "m"}| ... end`,
      );
      return;
    }
    this.body(block.body, v, cfg, "machine", new Scope(scope));
  }

  /** `config.vm.provider "virtualbox" do |vb, override| ... end`. */
  private provider(call: Node, cfg: Config, scope: Scope): void {
    const [nameNode] = argumentsOf(call);
    const name = nameNode && textOf(this.eval.value(nameNode, scope));
    if (name === undefined) {
      this.unknown(call, []);
      return;
    }
    this.providers.add(name);
    const block = blockOf(call);
    if (name === "docker" && block) return this.dockerProvider(block);
    if (name !== "virtualbox") return; // another provider's settings: not what this import models
    if (!block) return;
    const [vb, override] = block.params;
    for (const s of block.body) {
      const target = s.type === "assignment" ? s.childForFieldName("left") : s;
      const chain = target && chainOf(target);
      if (override !== undefined && chain?.[0] === override) this.statement(s, override, cfg, "machine", scope);
      else if (vb !== undefined && chain?.[0] === vb) {
        if (chain[1] === "customize" && s.type === "call") this.customize(s, scope);
      } else
        this.unknown(
          s,
          [vb, override].filter((x): x is string => x !== undefined),
        );
    }
  }

  /**
   * `config.vm.provider "docker" do |d| d.ports = [...] end`: the docker provider publishes
   * container ports on the host, which this import (of the VirtualBox provider) does not model;
   * said, never silently nothing (found in the corpus, issue 17).
   */
  private dockerProvider(block: NonNullable<ReturnType<typeof blockOf>>): void {
    const [d] = block.params;
    for (const s of block.body) {
      const chain = s.type === "assignment" ? chainOf(s.childForFieldName("left")!) : undefined;
      if (d !== undefined && chain?.[0] === d && chain[1] === "ports")
        this.warn(
          s,
          "the docker provider's ports (published on the host) are not imported: this import models the VirtualBox provider",
          "import the running containers with kind docker (docker inspect), or a Compose file with kind compose",
        );
    }
  }

  /** `vb.customize ["modifyvm", :id, "--natpf1", ...]`: networking changes are not followed. */
  private customize(call: Node, scope: Scope): void {
    const strings: string[] = [];
    const collect = (n: Node) => {
      const t = textOf(this.eval.value(n, scope));
      if (t !== undefined) strings.push(t);
      else for (const c of n.namedChildren) collect(c);
    };
    for (const a of argumentsOf(call)) collect(a);
    // a new random MAC (--macaddressN auto) changes nothing reachability depends on
    // nor does connecting a cable, VirtualBox's default (--cableconnectedN on)
    const flag = strings.find(
      (t, i) =>
        CUSTOMIZE_NET.some((f) => t.startsWith(f)) &&
        !(t.startsWith("--macaddress") && strings[i + 1] === "auto") &&
        !(t.startsWith("--cableconnected") && strings[i + 1] === "on"),
    );
    if (flag)
      this.warn(
        call,
        `vb.customize with ${flag} changes the VM's networking behind Vagrant's back: not imported`,
        "config.vm.network calls (forwarded_port, private_network, public_network)",
      );
  }

  /** The `key: value` / `:key => value` pairs of an argument (a hash literal or keyword arguments). */
  private pairs(node: Node): { key: string; value: Node; node: Node }[] {
    const list = node.type === "hash" ? node.namedChildren.filter((c) => c.type !== "comment") : [node];
    const out: { key: string; value: Node; node: Node }[] = [];
    for (const p of list) {
      const key = p.type === "pair" ? p.childForFieldName("key") : null;
      const value = p.type === "pair" ? p.childForFieldName("value") : null;
      if (!key || !value) {
        this.warn(p, `'${p.text}' is not a key: value option`, "options written as key: value or :key => value");
        continue;
      }
      // `"key" => v` is a String key, which Vagrant's options[:key] does not read; `"key": v` is a Symbol.
      const arrow = p.children.some((c) => c.type === "=>");
      const name =
        key.type === "hash_key_symbol"
          ? key.text
          : key.type === "simple_symbol" || key.type === "delimited_symbol" || (key.type === "string" && !arrow)
            ? textOf(literal(key))
            : undefined;
      if (name === undefined) {
        this.warn(
          key,
          `option key ${key.text} is not a symbol: Vagrant reads options by symbol`,
          "keys written as key: value or :key => value",
        );
        continue;
      }
      out.push({ key: name, value, node: p });
    }
    return out;
  }

  /** `X.vm.network TYPE, options`: recorded in the config as Vagrant's VMConfig#network does. */
  private network(call: Node, cfg: Config, scope: Scope): void {
    const [typeNode, ...rest] = argumentsOf(call);
    const type = typeNode && textOf(this.eval.value(typeNode, scope));
    if (!typeNode || type === undefined) {
      this.warn(
        typeNode ?? call,
        `the network type is not a literal (${typeNode?.text ?? "missing"}): this network is not imported`,
        '"forwarded_port", "private_network" or "public_network"',
      );
      return;
    }
    if (type !== "forwarded_port" && type !== "private_network" && type !== "public_network") {
      this.warn(
        typeNode,
        `network type '${type}' is not one Vagrant 2 knows: not imported`,
        '"forwarded_port", "private_network" or "public_network"',
      );
      return;
    }
    const options = new Map<string, Opt>();
    let ok = true;
    const pairs: { key: string; value: Node; node: Node }[] = [];
    for (const a of rest) {
      if (a.type !== "pair" && a.type !== "hash") {
        this.warn(
          a,
          `argument '${a.text}' of config.vm.network is not a key: value option: this network is not imported`,
          `${type} options written as key: value`,
        );
        ok = false;
      } else pairs.push(...this.pairs(a));
    }
    const computed: { bridge?: Node } = {};
    if (!this.options(type, pairs, scope, options, computed) || !ok) return;
    this.record(type, options, call, cfg, computed.bridge);
  }

  /** A network call's `key: value` options, into `options`; false when one that matters is not computed (reported). */
  private options(
    type: NetworkType,
    pairs: readonly { key: string; value: Node; node: Node }[],
    scope: Scope,
    options: Map<string, Opt>,
    computed: { bridge?: Node } = {},
  ): boolean {
    let ok = true;
    for (const { key, value, node } of pairs) {
      const scoped = /^(\w+?)__(\w+)$/.exec(key);
      if (scoped && scoped[1] !== "virtualbox") continue; // another provider's option
      const name = scoped ? scoped[2]! : key;
      if (IGNORED[type].includes(name)) continue;
      if (!USED[type].includes(name)) {
        this.warn(node, `option '${key}' of ${type} is not understood: left out`, `one of ${USED[type].join(", ")}`);
        continue;
      }
      const v = this.eval.value(value, scope);
      if (!v && name === "bridge" && type === "public_network") {
        // which host interface is bridged: Ruby would ask the host; the LAN it joins is the same (assumed)
        computed.bridge = value;
        continue;
      }
      if (!v) {
        this.warn(value, `the value of ${key} is not a literal (${value.text}): this network is not imported`, EXPECTED_LITERAL);
        ok = false;
        continue;
      }
      // a virtualbox__ option overrides the plain one (Vagrant's ScopedHashOverride)
      if (scoped || !options.has(name)) options.set(name, { value: v, node: value });
    }
    return ok;
  }

  /** A network recorded in the config as Vagrant's VMConfig#network does (keyed by id: a later one of the same id replaces it). */
  private record(type: NetworkType, options: Map<string, Opt>, call: Node, cfg: Config, computedBridge?: Node): void {
    const id = options.get("id");
    let key: string;
    if (id) key = `${type}-${id.value.kind === "integer" ? id.value.n : (textOf(id.value) ?? id.node.text)}`;
    else if (type === "forwarded_port") {
      // Vagrant's default id is "#{protocol}#{host}": a second forward of the same host port replaces the first
      const protocol = options.get("protocol");
      const host = options.get("host");
      key = `${type}-${(protocol && textOf(protocol.value)) ?? "tcp"}${host ? (host.value.kind === "integer" ? host.value.n : (textOf(host.value) ?? "")) : ""}`;
    } else key = `${type}-#${++this.anonymous}`;
    const had = cfg.networks.get(key);
    cfg.networks.set(key, {
      type,
      options: had ? new Map([...had.options, ...options]) : options,
      node: had?.node ?? call,
      ...(computedBridge ? { computedBridge } : {}),
    });
  }
}

// ---------------------------------------------------------------------------
// Machines

/** A forward as Vagrant hands it to VirtualBox, with what collision handling needs. */
interface Forward {
  readonly doc: ForwardDoc;
  readonly autoCorrect: boolean;
  readonly node: Node;
}

/** A host-only network the import places on the host. */
interface HostOnlyNet {
  readonly name: string;
  readonly subnet: Prefix;
  readonly hostAddress: string;
  /** Declared on the host (vboxnet0 with VirtualBox's default address is not). */
  readonly declared: boolean;
  nextLease: number;
}

const VBOXNET0: Prefix = { v: 4, n: (192n << 24n) | (168n << 16n) | (56n << 8n), len: 24 };
/** VirtualBox 6.1.28+ on Linux and macOS allows host-only addresses only here unless /etc/vbox/networks.conf says more. */
const HOSTONLY_ALLOWED: Prefix = { v: 4, n: (192n << 24n) | (168n << 16n) | (56n << 8n), len: 21 };
const VAGRANT_DHCP_NET = "172.28.128.1";
const DEFAULT_PORT_RANGE = { lo: 2200, hi: 2250 };

/** Prefix length of a netmask ("255.255.255.0", 24 or "24"). */
function prefixLength(v: Value, family: 4 | 6): number | undefined {
  const max = family === 4 ? 32 : 128;
  const text = v.kind === "integer" ? String(v.n) : textOf(v);
  if (text === undefined) return undefined;
  if (/^\d{1,3}$/.test(text)) return Number(text) <= max ? Number(text) : undefined;
  const m = parseIP(text);
  if (!m || m.v !== 4 || family !== 4) return undefined;
  const bits = m.n.toString(2).padStart(32, "0");
  return /^1*0*$/.test(bits) ? (bits.indexOf("0") === -1 ? 32 : bits.indexOf("0")) : undefined;
}

/** `en0` of VirtualBox's "en0: Wi-Fi (AirPort)"; the first word of other names. */
function bridgeInterface(text: string): string | undefined {
  const first = text.split(":")[0]!.trim().split(/\s+/)[0] ?? "";
  return /^[^\s/:]{1,15}$/.test(first) ? first : undefined;
}

class Builder {
  readonly hostonly: HostOnlyNet[] = [];
  readonly machines: Record<string, MachineDoc> = {};
  /** Host TCP ports earlier machines' forwards hold: what `vagrant up` of the next machine sees. */
  readonly taken: { port: number; ip?: string; machine: string; node: Node }[] = [];
  /** Static addresses of public networks (on the host's LAN), with where each is written. */
  readonly lanAddresses: { address: string; at: string }[] = [];

  /** The reader of the Vagrantfile being built (one builder serves every file of one host). */
  r!: Reader;
  /** Addresses private networks set statically: DHCP leases skip them. */
  readonly statics = new Set<string>();

  constructor(readonly options: ImportOptions) {}

  /** Takes the next file: its reader, and the static private addresses its configs write. */
  use(reader: Reader): void {
    this.r = reader;
    for (const cfg of [reader.root, ...[...reader.machines.values()].map((m) => m.config)]) {
      for (const n of cfg.networks.values()) {
        const ip = n.type === "private_network" ? parseIP(textOf(n.options.get("ip")?.value) ?? "") : undefined;
        if (ip) this.statics.add(formatIP(ip));
      }
    }
  }

  /** The host-only network for a subnet: by Vagrant's rule, the one whose network address matches. */
  private hostOnlyFor(subnet: Prefix, name: string | undefined, node: Node): HostOnlyNet | undefined {
    if (name !== undefined) {
      if (!/^vboxnet\d+$/.test(name)) {
        this.r.warn(
          node,
          `host-only network name '${name}' is not a vboxnetN interface: this network is not imported`,
          'name: "vboxnet0", "vboxnet1", ... (Linux and macOS host-only interfaces)',
        );
        return undefined;
      }
      const had = this.hostonly.find((h) => h.name === name);
      if (had) return had;
      const net: HostOnlyNet = {
        name,
        subnet,
        hostAddress: `${formatIP({ v: subnet.v, n: subnet.n + 1n })}/${subnet.len}`,
        declared: name !== "vboxnet0" || subnet.n !== VBOXNET0.n || subnet.len !== VBOXNET0.len,
        nextLease: 3,
      };
      this.hostonly.push(net);
      if (net.declared)
        this.r.note(
          `The Vagrantfile names host-only network ${name} but not its address on the host: assumed ${net.hostAddress}, the first address of the guest's network.`,
        );
      return net;
    }
    const had = this.hostonly.find((h) => h.subnet.v === subnet.v && h.subnet.n === subnet.n);
    if (had) return had;
    const vboxnet0 = subnet.v === 4 && subnet.n === VBOXNET0.n;
    let n = 0;
    if (!vboxnet0) while (n === 0 || this.hostonly.some((h) => h.name === `vboxnet${n}`)) n++;
    const net: HostOnlyNet = {
      name: `vboxnet${n}`,
      subnet: vboxnet0 ? VBOXNET0 : subnet,
      hostAddress: `${formatIP({ v: subnet.v, n: subnet.n + 1n })}/${vboxnet0 ? 24 : subnet.len}`,
      declared: !vboxnet0,
      nextLease: 3,
    };
    this.hostonly.push(net);
    if (vboxnet0)
      this.r.note(
        "192.168.56.0 is the network of vboxnet0, VirtualBox's default host-only network (192.168.56.1/24 on the host): assumed it exists with that address.",
      );
    else
      this.r.note(
        `Vagrant creates a host-only network for ${formatIP(subnet)}/${subnet.len} when none matches: assumed ${net.name} with the host at ${net.hostAddress} (the network's first address, as Vagrant sets it).`,
      );
    if (subnet.v === 4 && !contains(HOSTONLY_ALLOWED, { v: 4, n: subnet.n })) {
      this.r.note(
        `${formatIP(subnet)}/${subnet.len} is outside 192.168.56.0/21: VirtualBox 6.1.28+ on Linux and macOS refuses it unless /etc/vbox/networks.conf allows it.`,
      );
    }
    return net;
  }

  /** The merged config of a machine: top level first, the machine's own entries override per key. */
  private merged(own: Config | undefined): Config {
    const root = this.r.root;
    if (!own) return root;
    return {
      networks: new Map([...root.networks, ...own.networks]),
      ...((own.hostname ?? root.hostname) !== undefined ? { hostname: own.hostname ?? root.hostname } : {}),
      ...((own.communicator ?? root.communicator) !== undefined ? { communicator: own.communicator ?? root.communicator } : {}),
      ...((own.portRange ?? root.portRange) !== undefined ? { portRange: own.portRange ?? root.portRange } : {}),
      ...(own.autostart ? { autostart: own.autostart } : {}),
    };
  }

  machine(name: string, own: Config | undefined, at: Node): void {
    const r = this.r;
    if (name === this.options.host) {
      r.report(
        "RCH053",
        at,
        `Vagrant machine '${name}' has the name of the host machine`,
        "another --host name for the machine that runs VirtualBox",
      );
      return;
    }
    if (this.machines[name]) return; // a second Vagrantfile's machine of the same name (reported by the importer)
    const cfg = this.merged(own);
    if (cfg.autostart?.value === false)
      r.note(`${name} has autostart: false, so a plain \`vagrant up\` does not start it: imported as if started.`);
    const networks = [...cfg.networks.values()];
    const forwards: Forward[] = [];
    const defaultId = cfg.communicator === "winrm" ? "winrm" : "ssh";
    for (const n of networks) if (n.type === "forwarded_port") this.forward(n, forwards);
    if (!cfg.networks.has(`forwarded_port-${defaultId}`)) {
      const doc: ForwardDoc =
        defaultId === "ssh"
          ? { name: "ssh", proto: "tcp", hostIp: "127.0.0.1", hostPort: 2222, guestPort: 22 }
          : { name: "winrm", proto: "tcp", hostIp: "127.0.0.1", hostPort: 55985, guestPort: 5985 };
      forwards.push({ doc, autoCorrect: true, node: at });
      r.note(
        `Vagrant adds its own ${defaultId} forward to every machine: 127.0.0.1:${doc.hostPort} -> ${doc.guestPort} (host_ip 127.0.0.1: only the host itself reaches it).`,
      );
    }
    const placed = this.collisions(name, forwards, cfg.portRange ?? DEFAULT_PORT_RANGE);
    for (const f of placed) {
      if (!f.doc.hostIp)
        r.note(
          `${name}: the forward ${f.doc.name} (host ${f.doc.hostPort} -> guest ${f.doc.guestPort}) has no host_ip, so it listens on every host address: the LAN reaches it.`,
        );
    }
    const adapters: AdapterDoc[] = [{ mode: "nat", ...(placed.length ? { forwards: placed.map((f) => f.doc) } : {}) }];
    for (const n of networks) {
      if (n.type === "forwarded_port") continue;
      const slot = adapters.length + 1;
      const adapter = n.options.get("adapter");
      if (adapter && !(adapter.value.kind === "integer" && adapter.value.n === slot)) {
        r.warn(
          adapter.node,
          `adapter: ${adapter.node.text} puts this network on another adapter than Vagrant's next free one (${slot}): not imported`,
          `no adapter: option, or adapter: ${slot}`,
        );
        continue;
      }
      const a = n.type === "private_network" ? this.privateNetwork(name, n) : this.publicNetwork(name, n);
      if (a) adapters.push(a);
    }
    const services: ServiceDoc[] = [];
    for (const f of placed) {
      const proto = f.doc.proto ?? "tcp";
      if (services.some((s) => s.proto === proto && s.port === f.doc.guestPort)) continue;
      services.push({ name: `${f.doc.name ?? `${proto}${f.doc.hostPort}`} (assumed)`, proto, port: f.doc.guestPort });
    }
    if (services.length)
      r.note(
        "A Vagrantfile does not say what listens in the guest: a service is assumed on each forwarded guest port (named '... (assumed)', bound to every address).",
      );
    this.machines[name] = {
      ...(cfg.hostname !== undefined ? { description: `Vagrant machine (hostname ${cfg.hostname})` } : {}),
      vm: { on: this.options.host, adapters },
      ...(services.length ? { services } : {}),
    };
  }

  /** One forwarded_port network as VirtualBox gets it (`--natpf1 id,proto,host_ip,host,guest_ip,guest`). */
  private forward(n: NetworkCall, out: Forward[]): void {
    const r = this.r;
    const o = n.options;
    const get = (k: string) => o.get(k);
    const disabled = get("disabled");
    // Vagrant tests the option as Ruby does: any value but nil and false disables it (disabled: "true" too)
    if (disabled && truthy(disabled.value)) return;
    const adapter = get("adapter");
    if (adapter && !(adapter.value.kind === "integer" && adapter.value.n === 1)) {
      r.warn(
        adapter.node,
        `a forward on adapter ${adapter.node.text}: only forwards on the NAT adapter 1 are modelled, not imported`,
        "no adapter: option (adapter 1)",
      );
      return;
    }
    const guest = get("guest");
    const host = get("host");
    if (!guest || !host) {
      r.warn(
        n.node,
        `forwarded_port without ${!guest ? "guest" : "host"}: Vagrant refuses it ("Forwarded port definitions require a 'host' and 'guest' value")`,
        "forwarded_port with guest: PORT, host: PORT",
      );
      return;
    }
    const port = (x: Opt, what: string) => {
      const p = portValue(x.value);
      if (p === undefined || p < 1 || p > 65535) {
        r.report("RCH012", x.node, `${what} ${x.node.text} is not a port`, "an integer from 1 to 65535");
        return undefined;
      }
      return p;
    };
    const guestPort = port(guest, "guest");
    const hostPort = port(host, "host");
    if (guestPort === undefined || hostPort === undefined) return;
    const protoOpt = get("protocol");
    const proto = protoOpt ? textOf(protoOpt.value) : "tcp";
    if (proto !== "tcp" && proto !== "udp") {
      r.warn(
        protoOpt?.node ?? n.node,
        `protocol ${protoOpt?.node.text} is neither tcp nor udp: this forward is not imported`,
        'protocol: "tcp" or "udp"',
      );
      return;
    }
    const address = (k: "host_ip" | "guest_ip"): string | null | undefined => {
      const x = get(k);
      if (!x || x.value.kind === "nil") return undefined;
      const text = textOf(x.value);
      if (text === "") return undefined;
      const ip = text === undefined ? undefined : parseIP(text);
      if (!ip || ip.v !== 4) {
        r.report(
          "RCH010",
          x.node,
          `${k} ${x.node.text} is not an IPv4 address${ip ? " (VirtualBox NAT forwards are IPv4 only: an IPv6 host_ip gives no IPv6 listener, hashicorp/vagrant#10782)" : ""}`,
          `an IPv4 address, or no ${k}`,
        );
        return null;
      }
      return formatIP(ip);
    };
    const hostIp = address("host_ip");
    const guestIp = address("guest_ip");
    if (hostIp === null || guestIp === null) return;
    const id = get("id");
    const name = id ? (id.value.kind === "integer" ? String(id.value.n) : (textOf(id.value) ?? id.node.text)) : `${proto}${hostPort}`;
    const auto = get("auto_correct");
    out.push({
      doc: { name, proto, ...(hostIp ? { hostIp } : {}), hostPort, ...(guestIp ? { guestIp } : {}), guestPort },
      autoCorrect: auto?.value.kind === "boolean" && auto.value.b,
      node: n.node,
    });
  }

  /**
   * Vagrant's HandleForwardedPortCollisions as `vagrant up` runs it machine after machine:
   * a TCP host port another machine already forwards (on the same or a wildcard address)
   * moves to the first free port of usable_port_range with auto_correct, else `vagrant up` fails.
   */
  private collisions(machine: string, forwards: readonly Forward[], range: { lo: number; hi: number }): Forward[] {
    const r = this.r;
    const overlaps = (a: string | undefined, b: string | undefined) =>
      a === undefined || b === undefined || a === b || a === "0.0.0.0" || b === "0.0.0.0";
    const inUse = (port: number, ip: string | undefined) => this.taken.find((t) => t.port === port && overlaps(t.ip, ip));
    const usable: number[] = [];
    for (let p = range.lo; p <= range.hi; p++)
      if (!this.taken.some((t) => t.port === p) && !forwards.some((f) => f.doc.hostPort === p)) usable.push(p);
    const placed: Forward[] = [];
    // Vagrant also leases each (host_ip, port) it checks while this machine comes up: the same pair twice collides
    const leased = (port: number, ip: string | undefined) =>
      placed.find((p) => (p.doc.proto ?? "tcp") === "tcp" && p.doc.hostPort === port && p.doc.hostIp === ip);
    for (const f of forwards) {
      const hostPort = Number(f.doc.hostPort);
      const own = (f.doc.proto ?? "tcp") === "tcp" ? leased(hostPort, f.doc.hostIp) : undefined;
      const clash = (f.doc.proto ?? "tcp") === "tcp" ? (inUse(hostPort, f.doc.hostIp) ?? (own && { machine, node: own.node })) : undefined;
      if (!clash) {
        placed.push(f);
        continue;
      }
      let moved: number | undefined;
      while (f.autoCorrect && usable.length) {
        const p = usable.shift()!;
        if (!inUse(p, f.doc.hostIp) && !leased(p, f.doc.hostIp)) {
          moved = p;
          break;
        }
      }
      if (moved !== undefined) {
        placed.push({ ...f, doc: { ...f.doc, hostPort: moved } });
        r.note(
          `${machine}: host port ${hostPort} of the ${f.doc.name} forward is already taken by ${clash.machine}, so Vagrant's auto_correct moves it to ${moved} (assumed: the machines come up in the order of the Vagrantfile and nothing else on the host holds these ports).`,
        );
      } else if (f.autoCorrect) {
        r.warn(
          f.node,
          `host port ${hostPort} of ${machine}'s ${f.doc.name} forward is taken by ${clash.machine} and usable_port_range has no free port left: not imported`,
          "a wider config.vm.usable_port_range",
        );
      } else {
        r.warn(
          f.node,
          `host port ${hostPort} of ${machine}'s ${f.doc.name} forward is already forwarded by ${clash.machine} (${r.at(clash.node)}): \`vagrant up\` stops with "Vagrant cannot forward the specified ports on this VM"; not imported`,
          "another host port, or auto_correct: true",
        );
      }
    }
    for (const f of placed)
      if ((f.doc.proto ?? "tcp") === "tcp")
        this.taken.push({ port: Number(f.doc.hostPort), ...(f.doc.hostIp ? { ip: f.doc.hostIp } : {}), machine, node: f.node });
    return placed;
  }

  /** The guest address of a private or public network: ip plus netmask (Vagrant's default /24, /64 for IPv6). */
  private guestAddress(n: NetworkCall): { ip: IP; len: number; text: string } | null | undefined {
    const ipOpt = n.options.get("ip");
    if (!ipOpt) return undefined;
    const text = textOf(ipOpt.value);
    const ip = text === undefined ? undefined : parseIP(text);
    if (!ip) {
      this.r.report("RCH010", ipOpt.node, `ip ${ipOpt.node.text} is not an IP address`, 'an address such as ip: "192.168.56.10"');
      return null;
    }
    const mask = n.options.get("netmask");
    const len = mask ? prefixLength(mask.value, ip.v) : ip.v === 4 ? 24 : 64;
    if (len === undefined) {
      this.r.report(
        "RCH011",
        mask!.node,
        `netmask ${mask!.node.text} is not a netmask or prefix length for ${text}`,
        ip.v === 4 ? 'a netmask such as "255.255.255.0" or a prefix length such as 24' : "a prefix length such as 64",
      );
      return null;
    }
    return { ip, len, text: `${formatIP(ip)}/${len}` };
  }

  private autoConfig(machine: string, n: NetworkCall): void {
    const a = n.options.get("auto_config");
    if (a?.value.kind === "boolean" && !a.value.b)
      this.r.note(
        `${machine}: a ${n.type} has auto_config: false, so Vagrant does not configure its address in the guest: assumed the guest uses the address written in the Vagrantfile.`,
      );
  }

  private privateNetwork(machine: string, n: NetworkCall): AdapterDoc | undefined {
    const r = this.r;
    const o = n.options;
    this.autoConfig(machine, n);
    const typeOpt = o.get("type");
    const typeText = typeOpt ? textOf(typeOpt.value) : "static";
    if (typeText === undefined) {
      r.warn(
        typeOpt!.node,
        `private_network type ${typeOpt!.node.text} is not understood: not imported`,
        'type: "dhcp" or an ip: without type',
      );
      return undefined;
    }
    // the VirtualBox provider's hostonly_config: options[:type].to_sym, and only :dhcp is not static
    const type = typeText === "dhcp" ? "dhcp" : "static";
    if (typeText !== "dhcp" && typeText !== "static")
      r.note(`${machine}: private_network type ${typeOpt!.node.text} is static to Vagrant (only "dhcp" is not): read as a static address.`);
    const addr = this.guestAddress(n);
    if (addr === null) return undefined;
    const intnet = o.get("intnet");
    if (intnet && !(intnet.value.kind === "boolean" && !intnet.value.b)) {
      const network = intnet.value.kind === "boolean" ? "intnet" : textOf(intnet.value);
      if (!network) {
        r.warn(
          intnet.node,
          `virtualbox__intnet ${intnet.node.text} is neither true nor a network name: not imported`,
          'virtualbox__intnet: true or "name"',
        );
        return undefined;
      }
      if (!addr)
        r.note(
          `${machine}: its internal network ${network} has no ip in the Vagrantfile and VirtualBox runs no DHCP server there: the guest's address is not known.`,
        );
      return { mode: "internal", network, addresses: addr ? [addr.text] : [] };
    }
    if (!addr && type !== "dhcp") {
      r.warn(
        n.node,
        'private_network without ip: Vagrant needs an ip or type: "dhcp"',
        'private_network with ip: "192.168.56.10" or type: "dhcp"',
      );
      return undefined;
    }
    const base = addr ?? { ip: parseIP(VAGRANT_DHCP_NET)!, len: 24, text: `${VAGRANT_DHCP_NET}/24` };
    const nameOpt = o.get("name");
    const name = nameOpt ? textOf(nameOpt.value) : undefined;
    const net = this.hostOnlyFor(prefixOf(base.ip, base.len), name, nameOpt?.node ?? n.node);
    if (!net) return undefined;
    if (type === "static") {
      if (base.ip.v === 4 && (base.ip.n & 0xffn) === 1n)
        r.note(
          `${machine}: ip ${formatIP(base.ip)} ends in .1, the address Vagrant gives the host on ${net.name} ("network_ip_ends_in_one"): the two clash.`,
        );
      return { mode: "hostonly", network: net.name, addresses: [addr!.text] };
    }
    // Vagrant's DHCP server for the network: at .2, leases from dhcp_lower (default .3) up
    const lowerOpt = o.get("dhcp_lower");
    const lower = lowerOpt ? parseIP(textOf(lowerOpt.value) ?? "") : undefined;
    if (lower && contains(net.subnet, lower)) net.nextLease = Math.max(net.nextLease, Number(lower.n - net.subnet.n));
    let lease: IP = { v: net.subnet.v, n: net.subnet.n + BigInt(net.nextLease++) };
    while (this.statics.has(formatIP(lease))) lease = { v: net.subnet.v, n: net.subnet.n + BigInt(net.nextLease++) };
    const text = `${formatIP(lease)}/${net.subnet.len}`;
    r.note(
      `${machine}: its private_network uses DHCP: assumed the lease ${text} from Vagrant's DHCP server on ${net.name} (the first free address of its pool, machines in Vagrantfile order).`,
    );
    return { mode: "hostonly", network: net.name, addresses: [text] };
  }

  private publicNetwork(machine: string, n: NetworkCall): AdapterDoc | undefined {
    const r = this.r;
    this.autoConfig(machine, n);
    const addr = this.guestAddress(n);
    if (addr === null) return undefined;
    const bridgeOpt = n.options.get("bridge");
    let bridge = "eth0";
    if (!bridgeOpt && n.computedBridge)
      r.note(
        `${machine}: its public_network's bridge is computed by Ruby reach does not run (${n.computedBridge.text.slice(0, 80)}, ${basename(r.source.file)}:${r.at(n.computedBridge)}): assumed eth0, the host's interface on the LAN.`,
      );
    else if (!bridgeOpt)
      r.note(`${machine}: its public_network names no bridge, so Vagrant uses the host's only interface or asks which one: assumed eth0.`);
    else {
      const names = bridgeOpt.value.kind === "array" ? bridgeOpt.value.items.map(textOf) : [textOf(bridgeOpt.value)];
      const first = names[0];
      const iface = first === undefined ? undefined : bridgeInterface(first);
      if (names.some((x) => x === undefined) || iface === undefined) {
        r.warn(
          bridgeOpt.node,
          `bridge ${bridgeOpt.node.text} gives no host interface name: this network is not imported`,
          'bridge: "en0: Wi-Fi (AirPort)" or bridge: "eth0"',
        );
        return undefined;
      }
      if (names.length > 1)
        r.note(`${machine}: Vagrant bridges to the first of ${names.join(", ")} that exists on the host: assumed ${iface}.`);
      else if (iface !== first) r.note(`${machine}: bridge "${first}" is host interface ${iface}.`);
      bridge = iface;
    }
    if (!addr) r.note(`${machine}: its public_network gets its address from the LAN's DHCP server, which the Vagrantfile does not give.`);
    else this.lanAddresses.push({ address: addr.text, at: formatSpan(r.span(n.options.get("ip")!.node)) });
    return { mode: "bridged", bridge, addresses: addr ? [addr.text] : [] };
  }

  /** The host's host-only networks that are not VirtualBox's default vboxnet0. */
  hostDoc(): MachineDoc | undefined {
    const declared = this.hostonly.filter((h) => h.declared);
    if (!declared.length) return undefined;
    return { hostonly: Object.fromEntries(declared.map((h) => [h.name, { addresses: [h.hostAddress] }])) };
  }
}

// ---------------------------------------------------------------------------
// The importer

/**
 * The first syntax error tree-sitter recovered from, in document order: the innermost ERROR
 * node or MISSING token (an ERROR node can wrap a whole block whose only fault is deep inside).
 */
function firstError(root: Node): Node | undefined {
  let innermost = root.type === "ERROR" ? root : undefined;
  // down the path of first erroneous children (a loop, not recursion: generated Ruby can nest deeply)
  for (let n: Node | undefined = root; n;) {
    if (n.isMissing) return n;
    n = n.children.find((c) => c.isMissing || c.type === "ERROR" || c.hasError);
    if (n?.type === "ERROR") innermost = n;
  }
  return innermost;
}

/** Words for a syntax error node. */
function syntaxError(error: Node, text: string): string {
  if (error.isMissing) return `missing ${/^\w+$/.test(error.type) && error.type !== "end" ? error.type : `'${error.type}'`}`;
  const first = error.text.split("\n")[0]!.slice(0, 30);
  // an ERROR that runs to the end of the file is a construct the file never closes
  return text.slice(error.endIndex).trim() === ""
    ? `'${first}' is not closed before the end of the file (truncated, or a missing 'end')`
    : `unexpected '${first}'`;
}

/**
 * The longest Vagrantfile handed to the Ruby parser: its WebAssembly heap aborts the process
 * (std::bad_alloc) somewhere past 8 MB; a real Vagrantfile is a few kilobytes.
 */
export const MAX_VAGRANTFILE_CHARS = 4 * 1024 * 1024;

async function importOne(source: Source, builder: Builder): Promise<Reader> {
  const reader = new Reader(source);
  if (source.text.length > MAX_VAGRANTFILE_CHARS) {
    reader.diagnostics.push(
      tooLarge(
        { file: source.file, line: 1, col: 1 },
        `the file has ${source.text.length} characters, more than the ${MAX_VAGRANTFILE_CHARS} reach gives the Ruby parser`,
        `a Vagrantfile of at most ${MAX_VAGRANTFILE_CHARS} characters`,
      ),
    );
    return reader;
  }
  const parser = await ruby();
  const tree = parser.parse(source.text);
  if (!tree) {
    reader.diagnostics.push(
      diagnostic("RCH055", { file: source.file, line: 1, col: 1 }, "the Ruby parser could not read this file", {
        expected: "a Vagrantfile (Ruby)",
      }),
    );
    return reader;
  }
  try {
    const error = tree.rootNode.hasError ? (firstError(tree.rootNode) ?? tree.rootNode) : undefined;
    if (error) {
      reader.report("RCH055", error, `Ruby syntax error: ${syntaxError(error, source.text)}`, "a Vagrantfile Ruby can load");
      return reader;
    }
    reader.program(tree.rootNode);
    builder.use(reader);
    const defined = [...reader.machines.entries()];
    if (defined.length) for (const [name, m] of defined) builder.machine(name, m.config, m.node);
    else if (reader.read && !reader.hiddenDefine) builder.machine("default", undefined, tree.rootNode);
    else if (reader.read)
      reader.note(
        "No machine is imported from this Vagrantfile: its config.vm.define calls are inside Ruby reach does not run (the warnings say where); Vagrant would not make a machine named default.",
      );
    const others = [...reader.providers].filter((p) => p !== "virtualbox");
    if (others.length)
      reader.note(
        `The Vagrantfile also configures provider ${others.join(", ")}: this import models the VirtualBox provider, Vagrant's default.`,
      );
  } finally {
    tree.delete();
  }
  return reader;
}

/** Diagnostics once each (top-level networks are checked once per machine), in file order. */
function unique(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds
    .filter((d) => {
      const key = `${d.code} ${d.span.file}:${d.span.line}:${d.span.col} ${d.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.span.line - b.span.line || a.span.col - b.span.col);
}

export const importVagrant: Importer = async (sources, options): Promise<ImportResult> => {
  const notes: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const builder = new Builder(options);
  for (const source of sources) {
    const before = new Set(Object.keys(builder.machines));
    const reader = await importOne(source, builder);
    diagnostics.push(...unique(reader.diagnostics));
    for (const name of before) {
      if (reader.machines.has(name) || (name === "default" && reader.read && !reader.machines.size)) {
        diagnostics.push(
          diagnostic(
            "RCH053",
            { file: source.file, line: 1, col: 1 },
            `machine '${name}' is defined by two Vagrantfiles of this import: the first is kept`,
            { expected: "machine names unique across the Vagrantfiles" },
          ),
        );
      }
    }
    for (const n of reader.notes) if (!notes.includes(n)) notes.push(n);
  }
  const machines: Record<string, MachineDoc> = { ...builder.machines };
  const host = builder.hostDoc();
  if (host) machines[options.host] = host;
  const lanAddresses = builder.lanAddresses;
  return { fragment: { machines, notes, ...(lanAddresses.length ? { lanAddresses } : {}) }, diagnostics };
};
