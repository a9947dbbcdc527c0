/**
 * The state one lowering builds, passed explicitly to each stage of lower.ts: the machines and
 * segments made so far (in the order the IR lists them), and the machines' parts still open to
 * later stages (interfaces, routes and rules that finish.ts turns into the final Machine).
 */
import { LOOPBACK_NET4, parseCidr, parseIP, prefixOf, type IfAddr, type IP, type Prefix } from "../net/addr.js";
import { parsePort } from "../net/port.js";
import type { Span } from "../diagnostics/diagnostic.js";
import type { Chain, Iface, Machine, Match, NatRule, Origin, PortRange, Route, Rule, Segment, Socket } from "../ir/types.js";
import type { Topology } from "../topology/check.js";
import type { Locator, Path } from "../topology/load.js";
import type { MachineDoc, TopologyDoc } from "../topology/schema.js";

export const must = <T>(v: T | undefined, what: string): T => {
  if (v === undefined) throw new Error(`internal: unchecked ${what}`);
  return v;
};
export const ipOf = (t: string) => must(parseIP(t), `address ${t}`);
export const cidrOf = (t: string): IfAddr => must(parseCidr(t), `cidr ${t}`);
export const portOf = (v: number | string) => must(parsePort(v), `port ${v}`);

/**
 * A rule written `dst: local` (any address of this machine: iptables `-m addrtype --dst-type
 * LOCAL`, nft `fib daddr type local`) has no dst in its match until finish() replaces it by one
 * copy per local prefix, once every interface of the machine is known (host-only interfaces arrive
 * with the VMs' adapters). "nonloopback": written `dst: local-nonloopback`, the same without the
 * loopback prefixes (iptables `! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL`, Docker's nat OUTPUT
 * jump). Kept beside the rules (LowerCtx.dstLocal), not in a wrapper of each: a large file has
 * 100,000 rules and a handful of these.
 */
export type DstLocal = true | "nonloopback";

export interface MutableMachine {
  name: string;
  kind: Machine["kind"];
  origin: Origin;
  interfaces: Iface[];
  staticRoutes: Route[];
  /** Default routes a DHCP lease would give (VM adapters); finish() keeps one per family. */
  implicitDefaults: Route[];
  ipForward: boolean;
  rpFilter: 0 | 1 | 2;
  routeLocalnet: boolean;
  filter: { readonly input: Chain; readonly output: Chain; readonly forward: Chain };
  /** NO_NAT until a rule is added (natTable): most machines have none. */
  nat: Machine["nat"];
  sockets: Socket[];
  engine?: Machine["engine"];
  docker?: Machine["docker"];
}

export interface LowerCtx {
  readonly doc: TopologyDoc;
  /** The file's machines, name and value, in file order (each stage walks them; Object.entries of 10,000 takes milliseconds). */
  readonly machineDocs: readonly (readonly [string, MachineDoc])[];
  readonly file: string;
  /** The origin of the element at `path` of the file (the array is kept: not to be changed after). */
  readonly o: (path: Path, what: string) => Origin;
  /** The origin of item `k` of the list at `path` (the array is kept: not to be changed after). */
  readonly item: (path: Path, k: number, what: string) => Origin;
  /** Every machine, declared ones first, then NAT engines as adapters create them. */
  readonly machines: Map<string, MutableMachine>;
  readonly segments: Map<string, Segment>;
  /** Next host-only DHCP lease offset, per `host/vboxnetN`. */
  readonly dhcpNext: Map<string, number>;
  /** NAT Network engines made so far (one per network, or per network and host). */
  readonly natNetEngines: Map<string, MutableMachine>;
  /** Rule matches' port ranges by their text, one value each (a large file repeats a few thousand times; IR values are never changed; prefixes: net/addr.ts parseMatchPrefix) */
  readonly ranges: Map<number | string, PortRange>;
  /** Filter rules' matches by their plain conditions, one value each (rules.ts sharedMatch) */
  readonly matches: MatchTree;
  /** The rules written `dst: local` or `local-nonloopback`, for finish() to expand (see DstLocal). */
  readonly dstLocal: Map<Rule | NatRule, DstLocal>;
}

/** Filter rules' matches by their plain conditions: one level of Maps a condition, in rules.ts sharedMatch's order, the match at the last. */
export type MatchTree = Map<unknown, MatchTree | Match>;

/**
 * The origin of an element of the file, its line:col found when first read (issue 19): a lowering
 * makes one for every rule, socket and route (150,000 on a 10,000-machine LAN), and an answer
 * prints a handful. The path is walked then; the span is the one `loc.at` gives, the same object
 * on every read. It serialises as `{span, what}` (toJSON), and spreading it would lose the span:
 * reworded() copies it. Tests compare it by span and what (test/setup.ts).
 */
export class FileOrigin implements Origin {
  readonly #loc: Locator;
  readonly #path: Path;
  readonly #item: number;
  #span: Span | undefined;

  /** The element at `path`, or with `item` (>= 0) at `[...path, item]`: a list's items share their list's path. */
  constructor(
    loc: Locator,
    path: Path,
    readonly what: string,
    item = -1,
  ) {
    this.#loc = loc;
    this.#path = path;
    this.#item = item;
  }

  get span(): Span {
    return (this.#span ??= this.#loc.at(this.#item < 0 ? this.#path : [...this.#path, this.#item]));
  }

  toJSON(): Origin {
    return { span: this.span, what: this.what };
  }

  reworded(what: string): FileOrigin {
    return new FileOrigin(this.#loc, this.#path, what, this.#item);
  }
}

/**
 * `path` with more steps, in an array of exactly that many: origins keep their paths as long as
 * the IR lives, and a spread (`[...path, step]`) leaves its array room for 17 (measured: 127 bytes
 * more a path, 7.6 MB on the 10,000-machine LAN).
 */
export const sub = (path: Path, ...steps: (string | number)[]): Path => path.concat(steps);

/** The same origin in other words (a hairpin rule of a forward, the engine's side of an adapter). */
export const reworded = (o: Origin, what: string): Origin => (o instanceof FileOrigin ? o.reworded(what) : { span: o.span, what });

export function newContext(topo: Topology): LowerCtx {
  const { doc, loc } = topo;
  return {
    doc,
    machineDocs: Object.entries(doc.machines),
    file: loc.file,
    o: (path, what) => new FileOrigin(loc, path, what),
    item: (path, k, what) => new FileOrigin(loc, path, what, k),
    machines: new Map(),
    segments: new Map(),
    dhcpNext: new Map(),
    natNetEngines: new Map(),
    ranges: new Map(),
    matches: new Map(),
    dstLocal: new Map(),
  };
}

/** The first declaration of a segment name wins. */
export function addSegment(ctx: LowerCtx, name: string, subnets: Prefix[], origin: Origin, kind: NonNullable<Segment["kind"]>): void {
  if (!ctx.segments.has(name)) ctx.segments.set(name, { name, subnets, origin, kind });
}

/** A service's role, one object for every socket (IR values are never changed). */
export const SERVICE_ROLE: Socket["role"] = Object.freeze({ kind: "service" });

/** 0.0.0.0, the bind of a service or relay that names none, one object for every socket. */
export const ANY4: IP = Object.freeze({ v: 4, n: 0n });

/** lo's addresses, one array for every machine (IR values are never changed). */
const LO_ADDRS: readonly IfAddr[] = [
  { ip: { v: 4, n: LOOPBACK_NET4.n + 1n }, len: 8 },
  { ip: { v: 6, n: 1n }, len: 128 },
];

/** The prefix of each address of lo (127.0.0.0/8, ::1/128), for every machine's local routes. */
const LO_PREFIXES: ReadonlyMap<IfAddr, Prefix> = new Map(LO_ADDRS.map((a) => [a, Object.freeze(prefixOf(a.ip, a.len))]));

/** The prefix an interface address is on (lo's are made once). */
export const onPrefix = (a: IfAddr): Prefix => LO_PREFIXES.get(a) ?? prefixOf(a.ip, a.len);

const LO: (origin: Origin) => Iface = (origin) => ({ name: "lo", segment: null, addrs: LO_ADDRS, origin });

/** A chain the file leaves out, one object per name for every machine (IR values are never changed). */
const ACCEPT_ALL: { readonly [N in Chain["name"]]: Chain } = {
  input: Object.freeze({ name: "input", policy: "accept", rules: Object.freeze([]) }),
  output: Object.freeze({ name: "output", policy: "accept", rules: Object.freeze([]) }),
  forward: Object.freeze({ name: "forward", policy: "accept", rules: Object.freeze([]) }),
};
export const acceptAll = (name: Chain["name"]): Chain => ACCEPT_ALL[name];

/** The NAT tables of a machine without NAT rules, shared (a 10,000-machine LAN has a few with rules). */
export const NO_NAT: Machine["nat"] = Object.freeze({
  prerouting: Object.freeze([]),
  output: Object.freeze([]),
  postrouting: Object.freeze([]),
});

/** `m`'s NAT table `t`, to add rules to (a machine's own tables are made at its first rule). */
export function natTable(m: MutableMachine, t: keyof Machine["nat"]): NatRule[] {
  if (m.nat === NO_NAT) m.nat = { prerouting: [], output: [], postrouting: [] };
  return m.nat[t] as NatRule[];
}

/** A machine with only `lo`, no routes or rules, everything accepted. */
export function newMachine(ctx: LowerCtx, name: string, kind: Machine["kind"], origin: Origin): MutableMachine {
  const m: MutableMachine = {
    name,
    kind,
    origin,
    interfaces: [LO(origin)],
    staticRoutes: [],
    implicitDefaults: [],
    ipForward: false,
    rpFilter: 0,
    routeLocalnet: false,
    filter: ACCEPT_ALL,
    nat: NO_NAT,
    sockets: [],
  };
  ctx.machines.set(name, m);
  return m;
}

export const machineOf = (ctx: LowerCtx, name: string): MutableMachine => must(ctx.machines.get(name), name);
