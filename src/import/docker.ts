/**
 * Docker importers: Compose files (`importCompose`) and `docker inspect` output
 * of containers (`importDocker`).
 *
 * Containers are ordinary machines on a Linux bridge of the host that runs Docker
 * (`options.host`). What Docker sets up on that host for a bridge network, in the
 * topology language (Docker docs "Docker with iptables" and "Port publishing and
 * mapping", Docker Engine 28; semantics.md sections 4 and 6):
 * - the host has an interface on the bridge with the network's gateway address
 *   (`docker0` for the default bridge) and forwards (`ip_forward`);
 * - each published port is a DNAT rule in nat PREROUTING followed by an accept in
 *   the filter FORWARD chain: published ports never cross INPUT, so a host firewall
 *   that filters INPUT only (ufw) does not protect them (moby/moby#22054);
 * - FORWARD's policy is drop (Docker sets it when it enables forwarding); replies
 *   to containers, the containers' own traffic and published ports are accepted,
 *   anything else towards a bridge is dropped (other networks, direct routing);
 * - what a network sends out is masqueraded;
 * - docker-proxy (the userland proxy) listens on each published host port for the
 *   connections the DNAT does not catch (from the host itself to 127.0.0.1, and
 *   IPv6 relayed to an IPv4-only container).
 *
 * Layout: docker-compose.ts (services, networks, IPAM) with docker-compose-ports.ts
 * (the ports syntaxes), docker-inspect.ts (`docker inspect`), docker-host.ts
 * (Docker's host model above), docker-reader.ts (YAML/JSON with positions),
 * docker-types.ts (what they share). Both readers parse with the `yaml` package
 * (JSON is YAML 1.2), so every value has its position for diagnostics.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { diagnostic, InputError } from "../diagnostics/diagnostic.js";
import { LIMITS, readBounded } from "../topology/load.js";
import { readComposeFiles } from "./docker-compose.js";
import { DockerHost } from "./docker-host.js";
import { readInspect } from "./docker-inspect.js";
import { Reader } from "./docker-reader.js";
import type { Out } from "./docker-types.js";
import type { ImportOptions, ImportResult, Importer, Source } from "./types.js";

export { parseShortPort } from "./docker-compose-ports.js";
export type { PortSpec } from "./docker-types.js";

/** KEY=VALUE lines of an env file (Compose's .env format: `export`, comments, quotes). */
export function parseEnvFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, "");
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m || line.startsWith("#")) continue;
    let v = m[2]!;
    const q = v[0];
    if ((q === '"' || q === "'") && v.lastIndexOf(q) > 0) v = v.slice(1, v.lastIndexOf(q));
    else v = v.replace(/\s+#.*$/, "").trim();
    env.set(m[1]!, q === '"' ? v.replaceAll("\\n", "\n") : v);
  }
  return env;
}

/** The variables of the env files the user named, in order; an unreadable one is an error naming it. */
function envOf(options: ImportOptions, out: Out): Map<string, string> {
  const env = new Map<string, string>();
  for (const f of options.envFiles ?? []) {
    let text: string;
    try {
      text = readBounded(f, LIMITS.textChars, "a readable file named with --env-file");
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      out.diags.push(...e.diagnostics);
      continue;
    }
    for (const [k, v] of parseEnvFile(text)) env.set(k, v);
  }
  return env;
}

/** A .env beside a compose file that the user did not name: said, never read (docs/security.md). */
function unnamedDotEnv(src: Source, options: ImportOptions, out: Out): void {
  const dotenv = join(dirname(src.file), ".env");
  const named = (options.envFiles ?? []).some((f) => resolve(f) === resolve(dotenv));
  if (!named && existsSync(dotenv))
    out.notes.push(
      `A .env beside ${basename(src.file)} holds variables; name it with --env-file ${relative(process.cwd(), dotenv) || ".env"} to use it.`,
    );
}

/** Compose files are one project, merged in order; `docker inspect` outputs are read one by one. */
const readCompose = (readers: readonly Reader[], d: DockerHost) => readComposeFiles(readers, d);
const readInspects = (readers: readonly Reader[], d: DockerHost) => {
  for (const r of readers) readInspect(r, d);
};

function run(
  sources: readonly Source[],
  options: ImportOptions,
  read: (readers: readonly Reader[], d: DockerHost) => void,
  summary: string,
): ImportResult {
  const out: Out = { diags: [], notes: [] };
  const d = new DockerHost(options.host, out, options.userlandProxy ?? true, options.dockerVersion ?? 28);
  const compose = read === readCompose;
  const env = compose ? envOf(options, out) : new Map<string, string>();
  if (compose) for (const src of sources) unnamedDotEnv(src, options, out);
  read(
    sources.map((src) => new Reader(src, out, env, compose ? options.profiles : undefined)),
    d,
  );
  const published = d.containers.some((c) => c.ports.some((m) => m.published && m.hostPort !== undefined));
  const first = !published
    ? d.nets.length
      ? [summary]
      : []
    : [
        `${summary} Published ports are DNAT in nat PREROUTING on '${options.host}' and then cross the filter FORWARD chain, not INPUT: a host firewall that filters only INPUT (ufw's default) does not protect them.`,
        d.version >= 28
          ? "Docker Engine 28's rules (docker: {version: 28}; --docker-version 27 for older engines): packets routed straight to a container's address from outside its bridge are dropped (raw table), which matters only for machines with a route to the container subnets."
          : "Docker Engine 27's rules (docker: {version: 27}, --docker-version 27): packets routed straight to a container's published port from a machine with a route to the container subnets get through; Docker 28 drops them.",
      ];
  out.notes.unshift(...first);
  return { fragment: d.fragment(), diagnostics: out.diags };
}

/** `docker compose` files (compose-spec): services, networks, ports, expose, network_mode. */
export const importCompose: Importer = (sources, options) =>
  run(
    sources,
    options,
    readCompose,
    `Docker Compose: each container is a machine on a Linux bridge of '${options.host}', which forwards and masquerades for it (Docker Engine ${options.dockerVersion ?? 28} behaviour).`,
  );

/** `docker inspect CONTAINER...` JSON: the addresses, networks and port bindings Docker really assigned. */
export const importDocker: Importer = (sources, options) =>
  run(
    sources,
    options,
    readInspects,
    `docker inspect: each container is a machine on a Linux bridge of '${options.host}', which forwards and masquerades for it (Docker Engine ${options.dockerVersion ?? 28} behaviour).`,
  );
