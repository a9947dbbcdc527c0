/**
 * Compose's port syntaxes: `ports:` (short "[IP:]HOST:CONTAINER[/PROTO]" strings and
 * long `{ target, published, ... }` mappings) and `expose:`, read into mappings.
 */
import type { Code } from "../diagnostics/diagnostic.js";
import { parseIP } from "../net/addr.js";
import type { Reader } from "./docker-reader.js";
import type { Entry, Mapping, PortSpec, Proto } from "./docker-types.js";

/** Compose interpolates `$VAR` and `${VAR}` from the environment; `$$` is a literal `$` (compose-spec "Interpolation"). */
export function interpolates(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "$") continue;
    if (text[i + 1] === "$") i++;
    else return true;
  }
  return false;
}

/** A default Compose used for an unset variable (said in the notes). */
export interface DefaultUsed {
  readonly name: string;
  readonly value: string;
}

/** A text with its variables substituted, or the first variable it needs that is not set. */
export type Resolved =
  { readonly text: string; readonly defaults: readonly DefaultUsed[] } | { readonly missing: string; readonly why: string };

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Compose's interpolation (compose-spec "Interpolation"): `$$` is `$`; `$VAR` and `${VAR}` are
 * the variable; `${VAR:-d}` is d when VAR is unset or empty, `${VAR-d}` when unset;
 * `${VAR:?err}` / `${VAR?err}` stop Compose when VAR is unset (or empty); `${VAR:+a}` / `${VAR+a}`
 * are a when VAR is set (and not empty), else empty. Defaults may themselves interpolate.
 */
export function resolveVars(text: string, env: ReadonlyMap<string, string>, depth = 0): Resolved {
  let out = "";
  const defaults: DefaultUsed[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "$") {
      out += c;
      continue;
    }
    if (text[i + 1] === "$") {
      out += "$";
      i++;
      continue;
    }
    if (text[i + 1] !== "{") {
      const name = VAR_NAME.exec(text.slice(i + 1))?.[0];
      if (!name) {
        out += "$";
        continue;
      }
      const v = env.get(name);
      if (v === undefined) return { missing: name, why: "is not set" };
      out += v;
      i += name.length;
      continue;
    }
    // ${...}: find the matching brace (defaults may nest ${...})
    let level = 0;
    let end = -1;
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === "{") level++;
      else if (text[j] === "}" && --level === 0) {
        end = j;
        break;
      }
    }
    const inner = end < 0 ? "" : text.slice(i + 2, end);
    const name = VAR_NAME.exec(inner)?.[0];
    if (end < 0 || !name || depth > 8) return { missing: inner || text.slice(i), why: "is not a variable Compose can substitute" };
    const op = /^(:-|-|:\?|\?|:\+|\+)?/.exec(inner.slice(name.length))![0];
    const rest = inner.slice(name.length + op.length);
    if (!op && rest) return { missing: inner, why: "is not a variable Compose can substitute" };
    const v = env.get(name);
    const set = v !== undefined;
    const full = set && v !== "";
    let piece: string;
    if (op === ":-" || op === "-") {
      if (op === ":-" ? full : set) piece = v!;
      else {
        const d = resolveVars(rest, env, depth + 1);
        if ("missing" in d) return d;
        defaults.push({ name, value: d.text }, ...d.defaults);
        piece = d.text;
      }
    } else if (op === ":?" || op === "?") {
      if (!(op === ":?" ? full : set))
        return { missing: name, why: `is not set, and Compose refuses to start without it (${rest || "required"})` };
      piece = v!;
    } else if (op === ":+" || op === "+") {
      if (op === ":+" ? full : set) {
        const a = resolveVars(rest, env, depth + 1);
        if ("missing" in a) return a;
        piece = a.text;
      } else piece = "";
    } else {
      if (!set) return { missing: name, why: "is not set" };
      piece = v;
    }
    out += piece;
    i = end;
  }
  return { text: out, defaults };
}

/** A value after interpolation, with the defaults it used said once each; undefined (and a warning) when a variable is missing. */
export function substituted(r: Reader, node: unknown, text: string, what: string): string | undefined {
  const res = resolveVars(text, r.env);
  if ("missing" in res) {
    r.warn(
      node,
      `${what} uses \${${res.missing}}, which ${res.why}`,
      "literal values, or name the file that sets the variable with --env-file (reach does not read the environment)",
    );
    return undefined;
  }
  for (const d of res.defaults)
    r.note(`${d.name} is not set by the env files named (--env-file), so Compose uses its default '${d.value}' (${r.where(node)}).`);
  return res.text;
}

function portRange(text: string): { lo: number; hi: number } | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? { lo, hi } : undefined;
}

/**
 * Compose's short syntax `[[IP:](HOSTPORT|RANGE):](PORT|RANGE)[/PROTO]`, split the
 * way Docker's own parser does (go-connections `nat.ParsePortSpec`): the last
 * field is the container port, the one before it the host port, everything before
 * that the host IP, so "::1:6000:6000" and "[::1]:6000:6000" both bind ::1. An
 * empty host port ("127.0.0.1::80") and a host range for one container port
 * ("8000-9000:80") leave the choice of the host port to Docker.
 */
export function parseShortPort(text: string): PortSpec | { error: string } {
  const parts = text.split(":");
  const n = parts.length;
  const container = parts[n - 1]!;
  const hostPort = n >= 2 ? parts[n - 2]! : "";
  let ip = n >= 3 ? parts.slice(0, n - 2).join(":") : "";
  const slash = container.indexOf("/");
  const cport = slash < 0 ? container : container.slice(0, slash);
  const proto = slash < 0 ? "tcp" : container.slice(slash + 1).toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(proto)) return { error: `protocol '${proto}' is not tcp, udp or sctp` };
  if (ip.startsWith("[")) {
    if (!ip.endsWith("]")) return { error: `host IP '${ip}' has no closing bracket` };
    ip = ip.slice(1, -1);
  }
  if (ip !== "" && !parseIP(ip)) return { error: `host IP '${ip}' is not an IP address` };
  const c = portRange(cport);
  if (!c) return { error: `container port '${cport}' is not a port 1-65535 or a range LO-HI` };
  if (hostPort === "") return { proto, container: c, ...(ip !== "" ? { hostIp: ip } : {}) };
  const h = portRange(hostPort);
  if (!h) return { error: `host port '${hostPort}' is not a port 1-65535 or a range LO-HI` };
  if (h.hi - h.lo !== c.hi - c.lo && c.lo !== c.hi)
    return { error: `host range ${hostPort} and container range ${cport} differ in length` };
  return { proto, container: c, host: h, ...(ip !== "" ? { hostIp: ip } : {}) };
}

/** More ports than this in one range are not expanded (each becomes a listener and rules). */
const MAX_RANGE = 100;

/** Spec -> mappings (one per port of a range); problems become diagnostics at `node`. */
function specMappings(r: Reader, node: unknown, spec: PortSpec, published: boolean, what: string): Mapping[] {
  if (spec.proto === "sctp") {
    r.warn(node, `${what}: SCTP ports are not modelled`, "tcp or udp ports");
    return [];
  }
  const count = spec.container.hi - spec.container.lo + 1;
  if (count > MAX_RANGE) {
    r.warn(node, `${what}: a range of ${count} ports is not imported`, `ranges of at most ${MAX_RANGE} ports`);
    return [];
  }
  const proto = spec.proto as Proto;
  const hostIp = spec.hostIp !== undefined ? parseIP(spec.hostIp) : undefined;
  const fixedHost = spec.host !== undefined && spec.host.hi - spec.host.lo === spec.container.hi - spec.container.lo;
  if (published && !fixedHost) {
    const where = spec.host ? `a free port of ${spec.host.lo}-${spec.host.hi}` : "a free port";
    r.warn(
      node,
      `${what}: Docker publishes it on ${where} it picks when the container starts; that host port is not imported (the container port is)`,
      'a fixed host port, e.g. "8080:80"',
    );
  }
  const span = r.span(node);
  const out: Mapping[] = [];
  for (let i = 0; i < count; i++) {
    const containerPort = spec.container.lo + i;
    const hostPort = published && fixedHost ? spec.host!.lo + i : undefined;
    out.push({ proto, containerPort, published, span, ...(hostIp ? { hostIp } : {}), ...(hostPort !== undefined ? { hostPort } : {}) });
  }
  return out;
}

/** Compose `ports:` entries, short and long syntax (compose-spec "ports"). */
export function readPorts(r: Reader, list: unknown, service: string): Mapping[] {
  const items = r.items(list);
  if (!items) {
    r.warn(
      list,
      `ports of service '${service}' is not a list`,
      'ports: a list of "HOST:CONTAINER" strings or { target, published } mappings',
    );
    return [];
  }
  return items.flatMap((item) => {
    const v = r.scalar(item);
    if (typeof v === "number" || typeof v === "string") return shortPort(r, item, String(v), true, `port "${v}" of service '${service}'`);
    const entries = r.entries(item);
    if (entries) return longPort(r, item, entries, service);
    r.warn(
      item,
      `a port entry of service '${service}' that is neither a string nor a mapping`,
      'a "HOST:CONTAINER" string or a { target, published } mapping',
    );
    return [];
  });
}

function shortPort(r: Reader, node: unknown, text: string, published: boolean, what: string): Mapping[] {
  const resolved = substituted(r, node, text, what);
  if (resolved === undefined) return [];
  text = resolved;
  if (!published && text.includes(":")) {
    r.error(
      "RCH012",
      node,
      `${what} is not a port: expose takes container ports only`,
      'a port or range with an optional protocol, e.g. "3000" or "8000-8010/udp"',
    );
    return [];
  }
  const spec = parseShortPort(text.trim());
  if ("error" in spec) {
    const code: Code = spec.error.startsWith("host IP") ? "RCH010" : "RCH012";
    r.error(code, node, `${what}: ${spec.error}`, '[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], e.g. "127.0.0.1:8080:80"');
    return [];
  }
  return specMappings(r, node, spec, published, what);
}

const LONG_PORT_KEYS = new Set(["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"]);

/**
 * Long syntax: `{ target, published, host_ip, protocol, mode, name, app_protocol }`.
 * `mode` (host or ingress) only matters in a Swarm; `name` and `app_protocol` are labels.
 */
function longPort(r: Reader, node: unknown, entries: Entry[], service: string): Mapping[] {
  const get = (k: string) => entries.find((e) => e.key === k)?.value;
  for (const e of entries) {
    if (!LONG_PORT_KEYS.has(e.key) && !e.key.startsWith("x-"))
      r.warn(e.keyNode, `port key '${e.key}' of service '${service}'`, `one of ${[...LONG_PORT_KEYS].join(", ")}`);
  }
  const what = `port of service '${service}'`;
  const literal = (k: string): string | undefined => {
    const n = get(k);
    if (n === undefined || r.scalar(n) === null) return undefined;
    const s = r.string(n);
    if (s === undefined) {
      r.error("RCH012", n, `${k} of a ${what} is not a value`, `${k}: a number or string`);
      return "\u0000";
    }
    return substituted(r, n, s, `${k} of a ${what}`) ?? "\u0000";
  };
  const target = literal("target");
  const published = literal("published");
  const hostIp = literal("host_ip");
  const protocol = literal("protocol");
  if ([target, published, hostIp, protocol].includes("\u0000")) return [];
  if (target === undefined) {
    r.error("RCH012", node, `a ${what} has no target`, "target: the container port");
    return [];
  }
  const c = /^\d+$/.test(target) ? portRange(target) : undefined;
  if (!c) {
    r.error("RCH012", get("target"), `target '${target}' of a ${what} is not a port`, "target: a port 1-65535");
    return [];
  }
  const h = published === undefined || published === "" ? undefined : portRange(published);
  if (published !== undefined && published !== "" && !h) {
    r.error(
      "RCH012",
      get("published"),
      `published '${published}' of a ${what} is not a port or range`,
      'published: a port 1-65535, or a range "LO-HI" for Docker to pick from',
    );
    return [];
  }
  const ip =
    hostIp === undefined || hostIp === "" ? undefined : hostIp.startsWith("[") && hostIp.endsWith("]") ? hostIp.slice(1, -1) : hostIp;
  if (ip !== undefined && !parseIP(ip)) {
    r.error("RCH010", get("host_ip"), `host_ip '${hostIp}' of a ${what} is not an IP address`, "host_ip: an IPv4 or IPv6 address");
    return [];
  }
  const proto = (protocol ?? "tcp").toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(proto)) {
    r.error("RCH004", get("protocol"), `protocol '${protocol}' of a ${what}`, "protocol: tcp or udp");
    return [];
  }
  const spec: PortSpec = { proto, container: c, ...(h ? { host: h } : {}), ...(ip !== undefined ? { hostIp: ip } : {}) };
  return specMappings(r, node, spec, true, `${what} (target ${target})`);
}

/** Compose `expose:` entries: container ports, not published. */
export function readExpose(r: Reader, list: unknown, service: string): Mapping[] {
  const items = r.items(list);
  if (!items) {
    r.warn(list, `expose of service '${service}' is not a list`, 'expose: a list of ports, e.g. ["3000", "8000-8010/udp"]');
    return [];
  }
  return items.flatMap((item) => {
    const v = r.scalar(item);
    if (typeof v === "number" || typeof v === "string")
      return shortPort(r, item, String(v), false, `exposed port "${v}" of service '${service}'`);
    r.warn(item, `an expose entry of service '${service}' that is not a port`, 'a port or range, e.g. "3000"');
    return [];
  });
}
