/**
 * `docker inspect CONTAINER...` JSON: the networks, addresses and port bindings
 * Docker really assigned to running containers. The host's side in docker-host.ts.
 */
import { isMap, isSeq } from "yaml";
import { diagnostic } from "../diagnostics/diagnostic.js";
import { contains, parseIP, prefixOf, type IP, type Prefix } from "../net/addr.js";
import { gatewayAttach, type DockerHost } from "./docker-host.js";
import type { Reader } from "./docker-reader.js";
import type { Attach, Entry, Mapping, Net, Proto } from "./docker-types.js";

/** `"80/tcp"` (a key of Config.ExposedPorts and NetworkSettings.Ports). */
function portKey(text: string): { port: number; proto: string } | undefined {
  const m = /^(\d{1,5})\/(tcp|udp|sctp)$/.exec(text);
  const port = m ? Number(m[1]) : 0;
  return m && port >= 1 && port <= 65535 ? { port, proto: m[2]! } : undefined;
}

/** What one container of `docker inspect` says about one network it is on. */
interface Endpoint {
  readonly name: string;
  readonly node: unknown;
  readonly subnet?: Prefix;
  readonly addr?: IP;
  readonly gateway?: IP;
  readonly subnet6?: Prefix;
  readonly addr6?: IP;
  readonly gateway6?: IP;
  readonly id?: string;
  readonly gwPriority: number;
}

function readEndpoint(r: Reader, container: string, name: string, node: unknown): Endpoint | undefined {
  const str = (k: string) => r.string(r.get(node, k)) ?? "";
  const num = (k: string) => {
    const v = r.scalar(r.get(node, k));
    return typeof v === "number" ? v : undefined;
  };
  const ip = (k: string, v: 4 | 6) => {
    const text = str(k);
    if (text === "") return undefined;
    const a = parseIP(text);
    if (!a || a.v !== v) {
      r.error(
        "RCH010",
        r.get(node, k),
        `${k} '${text}' of ${container} on network '${name}' is not an IPv${v} address`,
        `an IPv${v} address`,
      );
      return undefined;
    }
    return a;
  };
  const pfx = (a: IP | undefined, k: string) => {
    if (!a) return undefined;
    const len = num(k);
    if (len === undefined || !Number.isInteger(len) || len < 1 || len > (a.v === 4 ? 32 : 128)) {
      r.error(
        "RCH011",
        r.get(node, k) ?? node,
        `${k} of ${container} on network '${name}' is not a prefix length`,
        `a length 1-${a.v === 4 ? 32 : 128}`,
      );
      return undefined;
    }
    return prefixOf(a, len);
  };
  const addr = ip("IPAddress", 4);
  const addr6 = ip("GlobalIPv6Address", 6);
  const subnet = pfx(addr, "IPPrefixLen");
  const subnet6 = pfx(addr6, "GlobalIPv6PrefixLen");
  const gateway = ip("Gateway", 4);
  const gateway6 = ip("IPv6Gateway", 6);
  if (!subnet && !subnet6) {
    // a bad address or length is reported already
    if (str("IPAddress") === "" && str("GlobalIPv6Address") === "")
      r.warn(
        node,
        `${container} has no address on network '${name}'; that network is not imported for it`,
        "IPAddress and IPPrefixLen (a running container on a bridge network)",
      );
    return undefined;
  }
  const id = str("NetworkID");
  return {
    name,
    node,
    gwPriority: num("GwPriority") ?? 0,
    ...(subnet && addr ? { subnet, addr } : {}),
    ...(subnet6 && addr6 ? { subnet6, addr6 } : {}),
    ...(gateway && subnet && contains(subnet, gateway) ? { gateway } : {}),
    ...(gateway6 && subnet6 && contains(subnet6, gateway6) ? { gateway6 } : {}),
    ...(id ? { id } : {}),
  };
}

const samePrefix = (a?: Prefix, b?: Prefix) =>
  (a === undefined && b === undefined) || (a !== undefined && b !== undefined && a.v === b.v && a.n === b.n && a.len === b.len);
const sameAddr = (a?: IP, b?: IP) =>
  (a === undefined && b === undefined) || (a !== undefined && b !== undefined && a.v === b.v && a.n === b.n);

/** The network an endpoint is on: created at its first container, checked against it at the others. */
function inspectNet(r: Reader, d: DockerHost, container: string, ep: Endpoint): Net | undefined {
  const found = d.nets.find((n) => n.name === ep.name);
  if (found) {
    if (
      samePrefix(found.subnet, ep.subnet) &&
      sameAddr(found.gateway, ep.gateway) &&
      samePrefix(found.subnet6, ep.subnet6) &&
      sameAddr(found.gateway6, ep.gateway6)
    )
      return found;
    r.warn(
      ep.node,
      `${container} sees network '${ep.name}' with another subnet or gateway than an earlier container; this attachment is left out`,
      "one subnet and gateway per network (inspect all containers at the same time)",
    );
    return undefined;
  }
  const hostSide = ep.gateway !== undefined || ep.gateway6 !== undefined;
  if (!hostSide)
    d.note(
      `Network '${ep.name}' has no gateway in docker inspect (an internal network, or not a bridge): the host's side of it is not imported, and its containers only reach each other.`,
    );
  // Docker names a user network's bridge br-<first 12 hex digits of the network ID>
  const bridge = !hostSide
    ? undefined
    : ep.name === "bridge"
      ? "docker0"
      : ep.id && /^[0-9a-f]{12}/.test(ep.id)
        ? `br-${ep.id.slice(0, 12)}`
        : `br-${ep.name}`;
  return d.addNet({
    name: ep.name,
    segment: d.segmentName(ep.name),
    ...(bridge ? { bridge: d.bridgeName(bridge) } : {}),
    ...(ep.subnet ? { subnet: ep.subnet } : {}),
    ...(ep.gateway ? { gateway: ep.gateway } : {}),
    ...(ep.subnet6 ? { subnet6: ep.subnet6 } : {}),
    ...(ep.gateway6 ? { gateway6: ep.gateway6 } : {}),
    internal: !hostSide,
    masquerade: hostSide,
  });
}

/**
 * NetworkSettings.Ports: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}] | null}`
 * (null: exposed, not published); `requested`: HostConfig.PortBindings instead, the
 * same shape, where an empty HostPort asks Docker to pick one.
 */
function inspectPorts(r: Reader, container: string, node: unknown, exposed: unknown, requested: boolean): Mapping[] {
  const out: Mapping[] = [];
  const add = (m: Mapping) => out.push(m);
  const key = (e: Entry) => {
    const k = portKey(e.key);
    if (!k) r.warn(e.keyNode, `port '${e.key}' of ${container}`, 'PORT/PROTO, e.g. "80/tcp"');
    else if (k.proto === "sctp") r.warn(e.keyNode, `${container}: SCTP port ${e.key} is not modelled`, "tcp or udp ports");
    return k && k.proto !== "sctp" ? { port: k.port, proto: k.proto as Proto } : undefined;
  };
  for (const e of r.entries(exposed) ?? []) {
    const k = key(e);
    if (k) add({ proto: k.proto, containerPort: k.port, published: false, span: r.span(e.keyNode) });
  }
  for (const e of r.entries(node) ?? []) {
    const k = key(e);
    if (!k) continue;
    add({ proto: k.proto, containerPort: k.port, published: false, span: r.span(e.keyNode) });
    for (const b of r.items(e.value) ?? []) {
      const hostIpText = r.string(r.get(b, "HostIp")) ?? "";
      const hostPortText = r.string(r.get(b, "HostPort")) ?? "";
      const hostIp = hostIpText === "" ? undefined : parseIP(hostIpText);
      if (hostIpText !== "" && !hostIp) {
        r.error("RCH010", r.get(b, "HostIp"), `HostIp '${hostIpText}' of ${container} is not an IP address`, "an IPv4 or IPv6 address");
        continue;
      }
      if (hostPortText === "") {
        const why = requested ? "Docker picks the host port when the container starts" : "routed gateway mode: reachable by direct routing";
        r.warn(
          b,
          `${container}: port ${e.key} has no host port on ${hostIpText || "every address"} (${why}), which is not imported`,
          "a HostPort",
        );
        continue;
      }
      const hostPort = /^\d{1,5}$/.test(hostPortText) ? Number(hostPortText) : 0;
      if (hostPort < 1 || hostPort > 65535) {
        r.error("RCH012", r.get(b, "HostPort"), `HostPort '${hostPortText}' of ${container} is not a port`, "a port 1-65535");
        continue;
      }
      add({ proto: k.proto, containerPort: k.port, published: true, hostPort, span: r.span(b), ...(hostIp ? { hostIp } : {}) });
    }
  }
  return out;
}

function readInspectContainer(r: Reader, d: DockerHost, node: unknown): void {
  const rawName = r.string(r.get(node, "Name"));
  if (!rawName) {
    r.warn(node, "a container without a Name", 'Name: "/web"');
    return;
  }
  const name = rawName.replace(/^\//, "");
  if (d.names.has(name)) {
    r.warn(r.get(node, "Name"), `container name '${name}' is already taken`, "each container once, and not named like the host");
    return;
  }
  const state = r.get(node, "State");
  if (r.scalar(r.get(state, "Running")) === false) {
    r.warn(r.get(state, "Running"), `${name} is not running: it has no network, so it is left out`, "running containers");
    return;
  }
  const settings = r.get(node, "NetworkSettings");
  const hostConfig = r.get(node, "HostConfig");
  const portsNode = r.get(settings, "Ports");
  const runtimePorts = r.entries(portsNode)?.length ? portsNode : undefined;
  if (!runtimePorts && r.entries(r.get(hostConfig, "PortBindings"))?.length)
    d.note(`${name}: NetworkSettings.Ports is empty, so the requested HostConfig.PortBindings are used.`);
  const ports = inspectPorts(
    r,
    name,
    runtimePorts ?? r.get(hostConfig, "PortBindings"),
    r.get(r.get(node, "Config"), "ExposedPorts"),
    !runtimePorts,
  );
  d.names.add(name);
  const mode = r.string(r.get(hostConfig, "NetworkMode")) ?? "default";
  if (mode === "host") {
    d.hostServices.push(...d.listeners(name, ports, d.host));
    return;
  }
  if (mode === "none" || mode.startsWith("container:")) {
    r.warn(
      r.get(hostConfig, "NetworkMode"),
      `${name} has network mode ${mode}: ${mode === "none" ? "it has only a loopback interface" : "it shares another container's network namespace"}; left out`,
      "bridge networks or host",
    );
    return;
  }
  const attaches: Attach[] = [];
  for (const e of r.entries(r.get(settings, "Networks")) ?? []) {
    const ep = readEndpoint(r, name, e.key, e.value);
    const net = ep ? inspectNet(r, d, name, ep) : undefined;
    if (!ep || !net) continue;
    attaches.push({
      net,
      ifname: `eth${attaches.length}`,
      gwPriority: ep.gwPriority,
      ...(ep.addr ? { addr: ep.addr } : {}),
      ...(ep.addr6 ? { addr6: ep.addr6 } : {}),
    });
  }
  d.containers.push({ name, attaches, ports });
  if (attaches.length > 1)
    d.note(
      `${name}: interfaces eth0, eth1, ... follow the order docker inspect lists its networks; its default route is assumed to go through '${gatewayAttach({ name, attaches, ports: [] })?.net.name ?? "?"}' (libnetwork: highest GwPriority, then network name).`,
    );
}

/** Reads one `docker inspect` output into the host `d`. */
export function readInspect(r: Reader, d: DockerHost): void {
  if (r.syntaxErrors("JSON")) return;
  const root = r.deref(r.doc.contents);
  const looksLike = (n: unknown) => r.get(n, "NetworkSettings") !== undefined || r.get(n, "HostConfig") !== undefined;
  const list = isSeq(root) ? root.items : isMap(root) && looksLike(root) ? [root] : undefined;
  if (!list || (list.length > 0 && !list.some(looksLike))) {
    const network = list?.some((n) => r.get(n, "IPAM") !== undefined) ?? false;
    const compose = isMap(root) && r.get(root, "services") !== undefined;
    const why = network
      ? "this is `docker network inspect` output"
      : compose
        ? "this is a Compose file (kind compose)"
        : "not `docker inspect` output of containers";
    r.out.diags.push(
      diagnostic("RCH050", r.span(root), why, {
        expected: "the JSON array `docker inspect CONTAINER...` prints (objects with Name, Config, HostConfig, NetworkSettings)",
      }),
    );
    return;
  }
  for (const c of list) {
    if (!looksLike(c)) r.warn(c, "an entry without NetworkSettings or HostConfig", "container objects as docker inspect prints them");
    else readInspectContainer(r, d, c);
  }
}
