/**
 * Compose files (compose-spec): services, their networks and network_mode, the
 * top-level networks with their driver options and IPAM, and which networks and
 * addresses Compose and Docker's IPAM give the containers. Ports are read in
 * docker-compose-ports.ts; the host's side in docker-host.ts.
 */
import { basename, resolve } from "node:path";
import { diagnostic } from "../diagnostics/diagnostic.js";
import { contains, formatIP, formatPrefix, isAny, parseCidr, parseIP, prefixOf, type IP, type Prefix } from "../net/addr.js";
import { interpolates, readExpose, readPorts, substituted } from "./docker-compose-ports.js";
import { gatewayAttach, hostAddr, IFNAME, type DockerHost } from "./docker-host.js";
import { Extends, mergeFiles, readIncludes } from "./docker-compose-merge.js";
import type { Reader } from "./docker-reader.js";
import type { Attach, Container, Entry, Mapping, Net } from "./docker-types.js";

/** Top-level keys without network meaning here. */
const COMPOSE_IGNORED = new Set(["version", "name", "volumes", "configs", "secrets", "models"]);

interface NetDecl {
  readonly key: string;
  readonly node: unknown;
  /** Created by Compose as a bridge network reach can model. */
  readonly modelled: boolean;
  readonly internal: boolean;
  readonly subnet?: Prefix;
  readonly gateway?: IP;
  /** ipam ip_range: Docker allocates inside it; where exactly is not modelled. */
  readonly ipRange: boolean;
  readonly reserved: readonly IP[];
  readonly bridge?: string;
  readonly masquerade: boolean;
  readonly hostBinding?: IP;
  /** Its ipam subnet uses a variable that is not set: the services on it are left out. */
  readonly unresolved?: boolean;
  /** Made outside the project (`external: true`): its subnet is assumed. */
  readonly external?: boolean;
}

interface SvcNet {
  readonly key: string;
  readonly node: unknown;
  readonly ipv4?: IP;
  /** Where ipv4_address is written. */
  readonly ipv4Node?: unknown;
  readonly gwPriority: number;
  readonly ifname?: string;
  /** Its ipv4_address uses a variable that is not set: the service is left out (said where). */
  readonly unresolved?: boolean;
}

interface SvcDecl {
  /** The service's key under services: (depends_on names these). */
  readonly key: string;
  /** The machine name: container_name, or the key. */
  readonly name: string;
  readonly deps: readonly string[];
  readonly mode: "networks" | "bridge" | "host";
  readonly nets: readonly SvcNet[];
  readonly ports: readonly Mapping[];
  /** Containers Compose runs for it (deploy.replicas / scale), and where that is written. */
  readonly replicas?: number;
  readonly countNode?: unknown;
}

/** Bridge driver options (Docker docs, bridge network driver "Options"). */
const BRIDGE_OPTS = {
  name: "com.docker.network.bridge.name",
  masquerade: "com.docker.network.bridge.enable_ip_masquerade",
  binding: "com.docker.network.bridge.host_binding_ipv4",
  mtu: "com.docker.network.driver.mtu",
  gatewayMode: "com.docker.network.bridge.gateway_mode_ipv4",
} as const;

/** A bridge network's `driver_opts`: its bridge's name, masquerade, default host binding (mtu and gateway mode nat change nothing here). */
function readDriverOpts(r: Reader, key: string, node: unknown): { bridge?: string; masquerade: boolean; hostBinding?: IP } {
  let bridge: string | undefined;
  let masquerade = true;
  let hostBinding: IP | undefined;
  for (const o of r.entries(node) ?? []) {
    const v = r.string(o.value);
    if (o.key === BRIDGE_OPTS.name && v !== undefined && IFNAME.test(v)) bridge = v;
    else if (o.key === BRIDGE_OPTS.masquerade && (v === "true" || v === "false")) masquerade = v === "true";
    // 0.0.0.0 as the default binding means every IPv4 and IPv6 address, as without the option
    else if (o.key === BRIDGE_OPTS.binding && v !== undefined && parseIP(v))
      hostBinding = isAny(parseIP(v)!) && parseIP(v)!.v === 4 ? undefined : parseIP(v);
    else if (o.key === BRIDGE_OPTS.mtu) continue;
    else if (o.key === BRIDGE_OPTS.gatewayMode && v === "nat") continue;
    else
      r.warn(
        o.keyNode,
        `driver option ${o.key}${v !== undefined ? `=${v}` : ""} of network '${key}'`,
        `${BRIDGE_OPTS.name}, ${BRIDGE_OPTS.masquerade}, ${BRIDGE_OPTS.binding} (an address), ${BRIDGE_OPTS.mtu}, ${BRIDGE_OPTS.gatewayMode}=nat`,
      );
  }
  return { masquerade, ...(bridge !== undefined ? { bridge } : {}), ...(hostBinding ? { hostBinding } : {}) };
}

/** One network under the top-level `networks:` (compose-spec "networks"). */
function readNetworkDecl(r: Reader, key: string, node: unknown): NetDecl {
  const entries = r.scalar(node) === null ? [] : r.entries(node);
  const base = { key, node, ipRange: false, reserved: [] as IP[], masquerade: true, internal: false };
  if (!entries) {
    r.warn(node, `network '${key}' is not a mapping`, "a mapping of network options, or nothing");
    return { ...base, modelled: false };
  }
  let modelled = true;
  let internal = false;
  let external = false;
  let ipam: ReturnType<typeof readIpam> = { ipRange: false, reserved: [], unresolved: false };
  let opts: ReturnType<typeof readDriverOpts> = { masquerade: true };
  for (const e of entries) {
    switch (e.key) {
      case "driver": {
        const d = r.string(e.value);
        if (d !== "bridge") {
          r.warn(e.value, `network '${key}' uses driver '${d ?? "?"}', which is not modelled`, "driver: bridge (the default)");
          modelled = false;
        }
        break;
      }
      case "external": {
        if (r.scalar(e.value) === false) break;
        // made before the project by `docker network create NAME`: a bridge network on the next default pool
        const named = r.string(r.get(e.value, "name")) ?? r.string(r.get(node, "name")) ?? key;
        r.note(
          `Network '${key}' is external (${named}): Compose does not create it; assumed a network as \`docker network create ${named}\` makes it, a bridge with a subnet from Docker's default pools and masquerade on. If it is another driver or subnet, check with \`docker network inspect ${named}\` (or import that output with kind docker).`,
        );
        external = true;
        break;
      }
      case "internal":
        internal = r.scalar(e.value) === true;
        break;
      case "enable_ipv6":
        if (r.scalar(e.value) === true)
          r.warn(
            e.value,
            `network '${key}' enables IPv6: IPv6 addresses and NAT of Compose networks are not imported (IPv4 is)`,
            "IPv4 networks (import `docker inspect` output for the addresses Docker assigned)",
          );
        break;
      case "driver_opts":
        opts = readDriverOpts(r, key, e.value);
        break;
      case "ipam":
        ipam = readIpam(r, key, e.value);
        break;
      case "name":
      case "labels":
      case "attachable":
        break;
      default:
        if (!e.key.startsWith("x-"))
          r.warn(
            e.keyNode,
            `network key '${e.key}' of network '${key}'`,
            "driver, driver_opts, ipam, internal, external, enable_ipv6, name, labels, attachable",
          );
    }
  }
  return { ...base, modelled, internal, ...ipam, ...opts, ...(external ? { external } : {}) };
}

/** `ipam: { driver, config: [{ subnet, gateway, ip_range, aux_addresses }] }` (compose-spec "ipam"). */
function readIpam(
  r: Reader,
  key: string,
  node: unknown,
): { subnet?: Prefix; gateway?: IP; ipRange: boolean; reserved: IP[]; unresolved: boolean } {
  let unresolved = false;
  let subnet: Prefix | undefined;
  let gateway: IP | undefined;
  let ipRange = false;
  const reserved: IP[] = [];
  for (const e of r.entries(node) ?? []) {
    if (e.key === "driver") {
      if (r.string(e.value) !== "default")
        r.warn(e.value, `IPAM driver '${r.string(e.value) ?? "?"}' of network '${key}' is not modelled`, "driver: default");
      continue;
    }
    if (e.key === "options") {
      r.warn(e.keyNode, `IPAM options of network '${key}'`, "ipam: { config: [{ subnet, gateway, aux_addresses }] }");
      continue;
    }
    if (e.key !== "config") continue;
    for (const c of r.items(e.value) ?? []) {
      const raw = r.string(r.get(c, "subnet"));
      const sText =
        raw !== undefined ? substituted(r, r.get(c, "subnet"), raw, `subnet of network '${key}' (its services are left out)`) : undefined;
      if (raw !== undefined && sText === undefined) {
        unresolved = true;
        continue;
      }
      const parsed = sText !== undefined ? parseCidr(sText) : undefined;
      const p = parsed ? prefixOf(parsed.ip, parsed.len) : undefined;
      if (sText === undefined || !parsed || !p || p.n !== parsed.ip.n) {
        r.error(
          "RCH011",
          r.get(c, "subnet") ?? c,
          `subnet '${sText ?? ""}' of network '${key}' is not a CIDR prefix`,
          "subnet: NETWORK/LEN with zero host bits, e.g. 172.28.0.0/16",
        );
        continue;
      }
      if (p.v === 6) {
        r.warn(r.get(c, "subnet"), `IPv6 subnet ${sText} of network '${key}' is not imported`, "IPv4 subnets");
        continue;
      }
      if (subnet) {
        r.warn(
          r.get(c, "subnet"),
          `a second IPv4 subnet ${sText} of network '${key}' is not imported`,
          "one IPv4 subnet per bridge network",
        );
        continue;
      }
      subnet = p;
      const extras = readIpamConfig(r, key, c, p, sText);
      gateway = extras.gateway;
      ipRange = extras.ipRange;
      reserved.push(...extras.reserved);
    }
  }
  return { ipRange, reserved, unresolved, ...(subnet ? { subnet } : {}), ...(gateway ? { gateway } : {}) };
}

/** The rest of the IPAM config entry whose subnet is `p`: gateway, ip_range, aux_addresses. */
function readIpamConfig(r: Reader, key: string, c: unknown, p: Prefix, sText: string): { gateway?: IP; ipRange: boolean; reserved: IP[] } {
  let gateway: IP | undefined;
  let ipRange = false;
  const reserved: IP[] = [];
  for (const x of r.entries(c) ?? []) {
    if (x.key === "gateway") {
      const gText = substituted(r, x.value, r.string(x.value) ?? "", `gateway of network '${key}' (the first address is assumed)`);
      if (gText === undefined) continue;
      const g = parseIP(gText);
      if (!g || !contains(p, g))
        r.error(
          "RCH010",
          x.value,
          `gateway '${r.string(x.value) ?? ""}' of network '${key}' is not an address in ${sText}`,
          `an address inside ${sText}`,
        );
      else gateway = g;
    } else if (x.key === "ip_range") {
      r.warn(
        x.value,
        `ip_range of network '${key}': where Docker allocates inside it is not modelled; its containers without ipv4_address get no address here`,
        "ipv4_address on each service, or no ip_range",
      );
      ipRange = true;
    } else if (x.key === "aux_addresses") {
      for (const a of r.entries(x.value) ?? []) {
        const ip = parseIP(r.string(a.value) ?? "");
        if (ip) reserved.push(ip);
        else
          r.error(
            "RCH010",
            a.value,
            `aux address '${r.string(a.value) ?? ""}' of network '${key}' is not an IP address`,
            "an IPv4 address",
          );
      }
    } else if (x.key !== "subnet" && !x.key.startsWith("x-")) {
      r.warn(x.keyNode, `IPAM config key '${x.key}' of network '${key}'`, "subnet, gateway, ip_range, aux_addresses");
    }
  }
  return { ipRange, reserved, ...(gateway ? { gateway } : {}) };
}

/** A service's `networks:` (a list of names, or a mapping of names to attachment options). */
function readServiceNetworks(r: Reader, service: string, node: unknown): SvcNet[] {
  const list = r.items(node);
  if (list) {
    return list.flatMap((item) => {
      const k = r.string(item);
      if (k === undefined) {
        r.warn(item, `a network of service '${service}' that is not a name`, "a network name");
        return [];
      }
      return [{ key: k, node: item, gwPriority: 0 }];
    });
  }
  const entries = r.entries(node);
  if (!entries) {
    r.warn(
      node,
      `networks of service '${service}' is neither a list nor a mapping`,
      "networks: [name, ...] or networks: { name: { ipv4_address } }",
    );
    return [];
  }
  return entries.map((e) => readServiceAttach(r, service, e));
}

/** One network of a service's `networks:` mapping, with its attachment options (ipv4_address, gw_priority, interface_name). */
function readServiceAttach(r: Reader, service: string, e: Entry): SvcNet {
  let unresolved = false;
  let ipv4: IP | undefined;
  let ipv4Node: unknown;
  let gwPriority = 0;
  let ifname: string | undefined;
  for (const o of r.entries(e.value) ?? []) {
    const v = r.string(o.value);
    switch (o.key) {
      case "ipv4_address": {
        const text =
          v !== undefined ? substituted(r, o.value, v, `ipv4_address of service '${service}' (the service is left out)`) : undefined;
        if (v !== undefined && text === undefined) {
          unresolved = true;
          break;
        }
        const ip = text !== undefined ? parseIP(text) : undefined;
        if (!ip || ip.v !== 4)
          r.error(
            "RCH010",
            o.value,
            `ipv4_address '${v ?? ""}' of service '${service}' is not an IPv4 address`,
            "an IPv4 address inside the network's ipam subnet",
          );
        else {
          ipv4 = ip;
          ipv4Node = o.value;
        }
        break;
      }
      case "gw_priority": {
        const n = r.scalar(o.value);
        if (typeof n === "number" && Number.isInteger(n)) gwPriority = n;
        else r.warn(o.value, `gw_priority of service '${service}' is not an integer`, "gw_priority: an integer");
        break;
      }
      case "interface_name":
        if (v !== undefined && IFNAME.test(v) && v !== "lo") ifname = v;
        else
          r.warn(
            o.value,
            `interface_name '${v ?? ""}' of service '${service}' is not a Linux interface name`,
            "1 to 15 characters, no spaces, '/' or ':'",
          );
        break;
      case "aliases":
      case "priority":
      case "mac_address":
      case "driver_opts":
        // DNS names, interface order and link-layer details: no reachability meaning here
        break;
      case "ipv6_address":
      case "link_local_ips":
        r.warn(o.keyNode, `${o.key} of service '${service}' is not imported`, "ipv4_address");
        break;
      default:
        if (!o.key.startsWith("x-"))
          r.warn(
            o.keyNode,
            `network option '${o.key}' of service '${service}'`,
            "ipv4_address, gw_priority, interface_name, aliases, priority, mac_address",
          );
    }
  }
  if (e.value !== undefined && r.scalar(e.value) !== null && !r.entries(e.value))
    r.warn(
      e.value,
      `options of network '${e.key}' of service '${service}' are not a mapping`,
      "a mapping: { ipv4_address, gw_priority, interface_name }",
    );
  return {
    key: e.key,
    node: e.keyNode,
    gwPriority,
    ...(ipv4 ? { ipv4, ipv4Node } : {}),
    ...(ifname ? { ifname } : {}),
    ...(unresolved ? { unresolved } : {}),
  };
}

/**
 * The machine name of a service (container_name, or its key), after the checks that
 * leave a service out (profiles, a name already taken) or import it partly (extends,
 * more than one replica); undefined when it is left out.
 */
function serviceName(
  r: Reader,
  d: DockerHost,
  key: string,
  keyNode: unknown,
  entries: readonly Entry[],
): { name: string; replicas: number; countNode?: unknown } | undefined {
  const get = (k: string) => entries.find((e) => e.key === k);
  const profiles = get("profiles");
  const names = profiles ? (r.items(profiles.value) ?? []).map((n) => r.string(n) ?? "") : [];
  if (names.length && r.profiles && !names.some((p) => r.profiles!.includes(p))) {
    r.note(
      `Service '${key}' is left out: its profiles (${names.join(", ")}) are not among those enabled (--profile ${r.profiles.join(" --profile ")}).`,
    );
    return undefined;
  }
  if (names.length && !r.profiles)
    r.note(
      `Service '${key}' has profiles (${names.join(", ")}): imported, as every service is unless --profile chooses (Compose starts it only when one of them is enabled).`,
    );
  const cn = get("container_name");
  const named = cn ? r.string(cn.value) : undefined;
  if (cn && (named === undefined || interpolates(named)))
    r.warn(cn.value, `container_name of service '${key}' is not a literal name`, "a literal container name");
  const name = named !== undefined && !interpolates(named) ? named : key;
  if (d.names.has(name)) {
    r.warn(
      cn?.value ?? keyNode,
      `service '${key}' would be machine '${name}', a name already taken (another service's container_name, or a machine of an earlier import)`,
      "unique container names",
    );
    return undefined;
  }
  // deploy.replicas, or the older scale (compose-spec "deploy", "scale"): the later one written wins
  let replicas = 1;
  let countNode: unknown;
  for (const count of [get("scale")?.value, r.get(get("deploy")?.value, "replicas")]) {
    const n = r.scalar(count);
    if (typeof n === "number" && Number.isInteger(n) && n >= 0) {
      replicas = n;
      countNode = count;
    } else if (count !== undefined)
      r.warn(count, `the container count of service '${key}' is not a whole number: one is imported`, "replicas: N");
  }
  return { name, replicas, ...(countNode !== undefined ? { countNode } : {}) };
}

/** Most containers one service is imported as (a lab's replicas, not a cluster's). */
const MAX_REPLICAS = 16;

/**
 * A service with `deploy.replicas` / `scale` N: N containers, named SERVICE-1 .. SERVICE-N as
 * Compose numbers them. Containers that would publish the same host port or take the same
 * ipv4_address cannot all start (Docker: "port is already allocated", "Address already in use"):
 * the first is imported and the import says why the others are not.
 */
function replicate(r: Reader, d: DockerHost, s: SvcDecl, replicas: number, countNode: unknown): SvcDecl[] {
  if (replicas === 1) return [s];
  if (replicas === 0) {
    r.note(`Service '${s.key}' has 0 replicas: Compose starts no container for it; none is imported.`);
    return [];
  }
  const fixed = s.ports.find((m) => m.published && m.hostPort !== undefined);
  const pinned = s.nets.find((n) => n.ipv4 !== undefined);
  if (fixed || pinned || s.mode === "host") {
    const why = fixed
      ? `they would all publish host port ${fixed.hostPort}/${fixed.proto}: Docker starts the first and refuses the others ("port is already allocated")`
      : pinned
        ? `they would all take ipv4_address ${formatIP(pinned.ipv4!)}: Docker starts the first and refuses the others`
        : "they all run in the host's own network, on the same ports: the first holds them";
    r.note(`Service '${s.key}' asks for ${replicas} containers, but ${why}; the first is imported.`);
    return [s];
  }
  if (replicas > MAX_REPLICAS) {
    r.warn(
      countNode,
      `service '${s.key}' runs ${replicas} containers: the first ${MAX_REPLICAS} are imported`,
      `at most ${MAX_REPLICAS} replicas`,
    );
    replicas = MAX_REPLICAS;
  }
  const out: SvcDecl[] = [];
  for (let i = 1; i <= replicas; i++) {
    const name = `${s.name}-${i}`;
    if (d.names.has(name) || out.some((x) => x.name === name)) {
      r.warn(countNode, `replica ${name} of service '${s.key}' would take a name already taken: left out`, "unique container names");
      continue;
    }
    out.push({ ...s, name });
  }
  r.note(`Service '${s.key}' runs ${replicas} containers (replicas), imported as ${out.map((x) => x.name).join(", ")}.`);
  return out;
}

/** One service; undefined when it is left out (with a warning saying why). */
function readService(r: Reader, d: DockerHost, key: string, keyNode: unknown, node: unknown): SvcDecl | undefined {
  const entries = r.entries(node);
  if (!entries) {
    r.warn(keyNode, `service '${key}' is not a mapping`, "a mapping of service options");
    return undefined;
  }
  const named = serviceName(r, d, key, keyNode, entries);
  if (named === undefined) return undefined;
  const { name } = named;
  const get = (k: string) => entries.find((e) => e.key === k);
  const ports = get("ports") ? readPorts(r, get("ports")!.value, key) : [];
  const exposed = get("expose") ? readExpose(r, get("expose")!.value, key) : [];
  // a port written in two merged files (or twice) is one mapping (compose-spec "Merge": ports are unique)
  const seen = new Set<string>();
  const all = [...ports, ...exposed].filter((m) => {
    const id = `${m.proto}/${m.containerPort}/${m.published}/${m.hostIp ? formatIP(m.hostIp) : ""}/${m.hostPort ?? ""}`;
    return !seen.has(id) && seen.add(id) !== undefined;
  });
  const dependsOn = get("depends_on")?.value;
  const deps = (r.items(dependsOn) ?? []).flatMap((x) => r.string(x) ?? []).concat((r.entries(dependsOn) ?? []).map((e) => e.key));
  const base = { key, name, deps, replicas: named.replicas, countNode: named.countNode };
  const nm = get("network_mode");
  const networks = get("networks");
  if (nm) {
    const mode = r.string(nm.value);
    if (mode === "host") {
      if (ports.length)
        r.warn(
          get("ports")!.keyNode,
          `ports of service '${key}' are ignored by Docker with network_mode: host (the service listens on the host's own ports); imported as listeners on ${d.host}`,
          "expose, or no ports, with network_mode: host",
        );
      if (networks)
        r.warn(
          networks.keyNode,
          `networks of service '${key}' cannot be combined with network_mode: host`,
          "network_mode or networks, not both",
        );
      if (!all.length)
        r.warn(
          nm.value,
          `service '${key}' runs in ${d.host}'s own network (network_mode: host) and says no port (no ports: or expose:): whatever it listens on is not imported`,
          "expose: [PORT, ...] listing the ports it listens on",
        );
      return { ...base, mode: "host", nets: [], ports: all };
    }
    if (mode === "bridge") {
      if (networks)
        r.warn(networks.keyNode, `networks of service '${key}' cannot be combined with network_mode`, "network_mode or networks, not both");
      return { ...base, mode: "bridge", nets: [], ports: all };
    }
    const why =
      mode === "none"
        ? "it has only a loopback interface"
        : mode?.startsWith("service:") || mode?.startsWith("container:")
          ? "it shares another container's network namespace"
          : "this mode is not modelled";
    r.warn(nm.value, `service '${key}' has network_mode: ${mode ?? "?"}: ${why}; left out`, "network_mode: host or bridge, or networks:");
    return undefined;
  }
  const nets = networks ? readServiceNetworks(r, key, networks.value) : [];
  return { ...base, mode: "networks", nets: nets.length ? nets : [{ key: "default", node: keyNode, gwPriority: 0 }], ports: all };
}

const DEFAULT_NET = "default";

/**
 * The subnet of an external network that holds the ipv4_address values its services give: the
 * /16 of 172.16.0.0/12, the /20 of 192.168.0.0/16 (Docker's default pool sizes), else the /24;
 * undefined when none is given or they do not share one.
 */
function pinnedSubnet(svcs: readonly SvcDecl[], key: string): Prefix | undefined {
  const ips = svcs.flatMap((s) => s.nets.filter((n) => n.key === key && n.ipv4?.v === 4).map((n) => n.ipv4!));
  if (!ips.length) return undefined;
  const first = ips[0]!;
  const inside = (p: Prefix, ip: IP) => contains(p, ip);
  const len = inside(prefixOf(parseIP("172.16.0.0")!, 12), first) ? 16 : inside(prefixOf(parseIP("192.168.0.0")!, 16), first) ? 20 : 24;
  const subnet = prefixOf(first, len);
  return ips.every((ip) => contains(subnet, ip)) ? subnet : undefined;
}

/** A service whose address is not known (a variable in its ipv4_address, or in its network's subnet): left out, and said. */
function unknownNetwork(r: Reader, s: SvcDecl, decls: ReadonlyMap<string, NetDecl>): boolean {
  if (s.nets.some((n) => n.unresolved)) return true;
  const n = s.nets.find((x) => decls.get(x.key)?.unresolved);
  if (!n) return false;
  r.warn(
    n.node,
    `service '${s.key}' is left out: the subnet of its network '${n.key}' uses a variable that is not set`,
    "a literal subnet, or name the file that sets the variable with --env-file",
  );
  return true;
}

/** A file's top level, when it is a Compose file; otherwise RCH050 (or its syntax errors) and undefined. */
function composeTop(r: Reader): Entry[] | undefined {
  if (r.syntaxErrors("YAML")) return undefined;
  const top = r.entries(r.doc.contents);
  const looksLikeCompose = top?.some(
    (e) => e.key === "services" || e.key === "networks" || e.key === "include" || e.key.startsWith("x-") || COMPOSE_IGNORED.has(e.key),
  );
  if (top && looksLikeCompose) return top;
  const inspect = r.items(r.doc.contents) !== undefined;
  r.out.diags.push(
    diagnostic(
      "RCH050",
      r.span(r.doc.contents),
      inspect
        ? "this is a list, not a Compose file (docker inspect output is kind docker)"
        : "not a Compose file: no services: or networks: at the top level",
      { expected: "a Compose file (compose.yaml, docker-compose.yml) with services:" },
    ),
  );
  return undefined;
}

/**
 * Reads the Compose files of one project into the host `d`: merged in order as `docker compose
 * -f a -f b` merges them, each service's `extends` resolved (docker-compose-merge.ts).
 */
export function readComposeFiles(readers: readonly Reader[], d: DockerHost): void {
  if (!readers.length || readers.map(composeTop).some((t) => t === undefined)) return;
  const r = readers[0]!;
  // included files first: their services and networks are the project's, the named files' merged over them
  const included = readers.flatMap((x) => readIncludes(x));
  r.root = mergeFiles([...included, ...readers]);
  if (included.length) r.note(`Included Compose files read (include:): ${included.map((x) => x.src.file).join(", ")}.`);
  if (readers.length > 1)
    r.note(
      `The Compose files are merged in the order given, as \`docker compose ${readers.map((x) => `-f ${basename(x.src.file)}`).join(" ")}\` merges them.`,
    );
  readCompose(r, d, new Extends(r, new Map(readers.map((x) => [resolve(x.src.file), x]))));
}

/** Reads the (merged) Compose model of `r.root` into the host `d`. */
function readCompose(r: Reader, d: DockerHost, ext: Extends): void {
  const top = r.entries(r.root) ?? [];
  for (const e of top) {
    // include: was read before the merge (readIncludes)
    if (e.key !== "include" && e.key !== "services" && e.key !== "networks" && !COMPOSE_IGNORED.has(e.key) && !e.key.startsWith("x-"))
      r.warn(e.keyNode, `top-level key '${e.key}'`, "services, networks, volumes, configs, secrets, name, version, x-*");
  }
  const decls = new Map<string, NetDecl>();
  const netsNode = top.find((e) => e.key === "networks")?.value;
  for (const e of r.entries(netsNode) ?? []) decls.set(e.key, readNetworkDecl(r, e.key, e.value));
  if (netsNode !== undefined && r.scalar(netsNode) !== null && !r.entries(netsNode))
    r.warn(netsNode, "networks is not a mapping", "networks: a mapping of network names to options");

  const svcs: SvcDecl[] = [];
  const svcNode = top.find((e) => e.key === "services")?.value;
  const svcEntries = r.entries(svcNode) ?? [];
  if (svcNode !== undefined && r.scalar(svcNode) !== null && !r.entries(svcNode))
    r.warn(svcNode, "services is not a mapping", "services: a mapping of service names to services");
  for (const e of svcEntries) {
    const s = readService(r, d, e.key, e.keyNode, ext.service({ reader: r, services: svcEntries }, e.key, e.value));
    if (!s || unknownNetwork(r, s, decls)) continue;
    for (const x of replicate(r, d, s, s.replicas ?? 1, s.countNode)) {
      d.names.add(x.name);
      svcs.push(x);
    }
  }

  const nets = createNetworks(r, d, decls, svcs);
  placeContainers(r, d, svcs, nets);
}

/**
 * The networks Compose creates: the ones services use (`default` for a service
 * without networks:), the default network first, then the declared ones in file
 * order; each takes the next free default pool unless ipam sets its subnet.
 */
function createNetworks(r: Reader, d: DockerHost, decls: ReadonlyMap<string, NetDecl>, svcs: readonly SvcDecl[]): Map<string, Net> {
  const used = new Set<string>();
  for (const s of svcs) {
    for (const n of s.nets) {
      if (n.key !== DEFAULT_NET && !decls.has(n.key))
        r.warn(
          n.node,
          `service network '${n.key}' is not declared under networks:`,
          `one of ${[...decls.keys()].join(", ") || "the declared networks"}`,
        );
      else used.add(n.key);
    }
  }
  const order = [...(used.has(DEFAULT_NET) ? [DEFAULT_NET] : []), ...[...decls.keys()].filter((k) => k !== DEFAULT_NET && used.has(k))];
  const explicit = [...decls.values()].flatMap((x) => (x.subnet ? [x.subnet] : []));
  const nets = new Map<string, Net>();
  const assumed: string[] = [];
  let namedHere = false;
  for (const key of order) {
    const decl: NetDecl = decls.get(key) ?? {
      key,
      node: undefined,
      modelled: true,
      internal: false,
      ipRange: false,
      reserved: [],
      masquerade: true,
    };
    if (!decl.modelled) continue;
    const pinned = decl.external && !decl.subnet ? pinnedSubnet(svcs, key) : undefined;
    if (pinned)
      d.note(
        `Network '${key}' is external and its services give addresses on it: its subnet is assumed to be ${formatPrefix(pinned)}, the one of Docker's default pool sizes that holds them.`,
      );
    const subnet = decl.subnet ?? pinned ?? d.nextPool(explicit);
    if (!subnet) {
      r.warn(decl.node, `network '${key}': Docker's default address pools are used up`, "ipam: { config: [{ subnet }] }");
      continue;
    }
    if (decl.subnet || pinned) d.takePool(subnet);
    else assumed.push(`'${key}' ${formatPrefix(subnet)}`);
    namedHere ||= decl.bridge === undefined;
    const net = d.addNet(
      {
        name: key,
        segment: d.segmentName(key),
        bridge: d.bridgeName(decl.bridge ?? `br-${key}`),
        subnet,
        gateway: decl.gateway ?? hostAddr(subnet, 1n),
        internal: decl.internal,
        masquerade: decl.masquerade,
        ...(decl.hostBinding ? { hostBinding: decl.hostBinding } : {}),
        ...(decl.ipRange ? { ipRange: true } : {}),
      },
      decl.reserved,
    );
    nets.set(key, net);
    if (decl.internal)
      d.note(
        `Network '${key}' is internal: its containers have no default route and nothing is forwarded in or out of it; the host keeps the gateway address on ${net.bridge} (Docker gives an internal bridge an address), and ports published only there have no effect.`,
      );
  }
  if (assumed.length) {
    d.note(
      `Subnets assumed from Docker's default address pools (the Compose file does not set them): ${assumed.join(", ")}. Docker hands out 172.18.0.0/16, 172.19.0.0/16, ... in the order networks are created; assumed: the default network first, then the declared networks in file order, and no other Docker network on the host. Check with \`docker network inspect\`.`,
    );
  }
  if (namedHere)
    d.note(
      `Bridge interfaces are named br-<network> here; Docker names them br-<first 12 hex digits of the network ID> unless driver option ${BRIDGE_OPTS.name} is set.`,
    );
  return nets;
}

/**
 * Containers and their addresses: every ipv4_address first (Docker needs an ipam
 * subnet for it), then the first free address for the others, in file order.
 * Services with network_mode: host become listeners of the host.
 */
function placeContainers(r: Reader, d: DockerHost, svcs: readonly SvcDecl[], nets: ReadonlyMap<string, Net>): void {
  const fixed = new Map<SvcNet, IP>();
  for (const s of svcs) {
    for (const sn of s.nets) {
      const n = nets.get(sn.key);
      if (!n || !sn.ipv4) continue;
      if (d.poolAssumed(n))
        r.warn(
          sn.ipv4Node,
          `ipv4_address of service '${s.name}' needs a subnet under ipam.config of network '${sn.key}' (Docker refuses it otherwise); the address is left out`,
          "ipam: { config: [{ subnet }] } on the network",
        );
      else if (!contains(n.subnet!, sn.ipv4))
        r.error(
          "RCH010",
          sn.ipv4Node,
          `ipv4_address ${formatIP(sn.ipv4)} of service '${s.name}' is outside network '${sn.key}' (${formatPrefix(n.subnet!)})`,
          `an address inside ${formatPrefix(n.subnet!)}`,
        );
      else if (!d.reserve(n, sn.ipv4))
        r.error(
          "RCH010",
          sn.ipv4Node,
          `ipv4_address ${formatIP(sn.ipv4)} of service '${s.name}' is already taken on network '${sn.key}'`,
          "a free address of the network",
        );
      else fixed.set(sn, sn.ipv4);
    }
  }
  // Addresses are handed out as containers start: dependencies first (depends_on), otherwise file order.
  const addrs = new Map<SvcDecl, Map<Net, IP | undefined>>();
  const assigned = new Map<Net, string[]>();
  for (const s of startOrder(svcs)) {
    const m = new Map<Net, IP | undefined>();
    addrs.set(s, m);
    const joined =
      s.mode === "bridge"
        ? [{ n: d.defaultBridge(), sn: undefined }]
        : s.nets.flatMap((sn) => (nets.get(sn.key) ? [{ n: nets.get(sn.key)!, sn }] : []));
    for (const { n, sn } of joined) {
      if (sn && fixed.has(sn)) {
        m.set(n, fixed.get(sn));
        continue;
      }
      const addr = sn?.ipv4 || n.ipRange ? undefined : d.allocate(n);
      m.set(n, addr);
      (assigned.get(n) ?? assigned.set(n, []).get(n)!).push(`${s.name} ${addr ? formatIP(addr) : "unknown"}`);
    }
  }
  for (const s of svcs) {
    if (s.mode === "host") {
      d.hostServices.push(...d.listeners(s.name, s.ports, d.host));
      continue;
    }
    const attaches: Attach[] = [];
    for (const [n, addr] of addrs.get(s)!) {
      const sn = s.nets.find((x) => nets.get(x.key) === n);
      const ifname = sn?.ifname ?? `eth${attaches.length}`;
      if (attaches.some((a) => a.ifname === ifname))
        r.warn(sn?.node, `interface ${ifname} of service '${s.name}' is used twice`, "unique interface_name per service");
      else attaches.push({ net: n, ifname, gwPriority: sn?.gwPriority ?? 0, ...(addr ? { addr } : {}) });
    }
    const c: Container = { name: s.name, attaches, ports: s.ports };
    d.containers.push(c);
    if (attaches.filter((a) => !a.net.internal).length > 1)
      d.note(
        `${s.name}'s default route is assumed to go through '${gatewayAttach(c)?.net.name ?? "?"}' (libnetwork: highest gw_priority, then network name); its published ports are translated to its address there.`,
      );
  }
  for (const [n, list] of assigned) {
    d.note(
      `Container addresses on '${n.name}' are assumed: Docker gives the first free address (.2, .3, ...) in the order containers start; assumed: dependencies (depends_on) first, otherwise file order (${list.join(", ")}).`,
    );
  }
  if (d.containers.some((c) => c.attaches.some((a) => a.addr === undefined)))
    d.note("Containers whose address is not known have `addresses: []` on that network.");
}

/** Services in the order Compose starts them: each after what it depends_on, otherwise in file order (a cycle keeps file order). */
function startOrder(svcs: readonly SvcDecl[]): SvcDecl[] {
  const keys = new Set(svcs.map((s) => s.key));
  const placed = new Set<SvcDecl>();
  // a service has started when all its containers (replicas) have
  const started = (k: string) => svcs.every((s) => s.key !== k || placed.has(s));
  const out: SvcDecl[] = [];
  while (out.length < svcs.length) {
    const left = svcs.filter((s) => !placed.has(s));
    const next = left.find((s) => s.deps.every((x) => x === s.key || !keys.has(x) || started(x))) ?? left[0]!;
    placed.add(next);
    out.push(next);
  }
  return out;
}
