/**
 * Podman, read like Docker: `podman ps -q`, then `podman inspect ID...` (the same JSON shape as
 * `docker inspect`). A rootful container on a bridge network (netavark: a bridge and its own
 * iptables/nft rules, which the host's firewall read shows) goes through the docker importer. A
 * rootless container (network mode slirp4netns or pasta) has no bridge on the host and no rule
 * in its firewall: a user-space process of the user (rootlessport, or pasta itself) listens on
 * the published host address and port like any program and passes each connection into the
 * container's namespace, so the connection crosses the host's INPUT chain. Those ports are
 * modelled as listeners of the host (what `ss` shows: `rootlessport` or `pasta`), each with the
 * container it leads to.
 */
import type { RunOptions } from "./exec.js";
import { SourceRead } from "./sources.js";

/** A rootless container's published port: a listener of the host that leads into the container. */
export interface RootlessPort {
  readonly container: string;
  readonly mode: string;
  readonly proto: "tcp" | "udp";
  readonly hostIp: string;
  readonly hostPort: number;
  readonly port: number;
}

export class PodmanRead extends SourceRead {
  readonly rootless: RootlessPort[] = [];
}

const ROOTLESS = /^(slirp4netns|pasta)(:.*)?$/;

type Json = Record<string, unknown>;
const obj = (x: unknown): Json | undefined => (x && typeof x === "object" && !Array.isArray(x) ? (x as Json) : undefined);

/** The published ports of one rootless container (NetworkSettings.Ports, as docker inspect prints them). */
function rootlessPorts(c: Json, name: string, mode: string): RootlessPort[] {
  const ports = obj(obj(c.NetworkSettings)?.Ports) ?? {};
  return Object.entries(ports).flatMap(([key, binds]) => {
    const m = /^(\d+)\/(tcp|udp)$/.exec(key);
    if (!m || !Array.isArray(binds)) return [];
    return binds.flatMap((b) => {
      const hostPort = Number(obj(b)?.HostPort);
      const hostIp = String(obj(b)?.HostIp ?? "") || "0.0.0.0";
      return Number.isInteger(hostPort) && hostPort > 0
        ? [{ container: name, mode, proto: m[2] as "tcp" | "udp", hostIp, hostPort, port: Number(m[1]) }]
        : [];
    });
  });
}

/** Splits `podman inspect` into rootful containers (for the docker importer) and rootless published ports. */
function split(s: PodmanRead, text: string): void {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (e) {
    s.warn("podman inspect", `not JSON (${(e as Error).message}); left out`);
    return;
  }
  if (!Array.isArray(list)) {
    s.warn("podman inspect", "not the JSON array podman inspect prints; left out");
    return;
  }
  const rootful: unknown[] = [];
  for (const c of list.map(obj)) {
    if (!c) continue;
    const name = String(c.Name ?? "").replace(/^\//, "");
    const mode = String(obj(c.HostConfig)?.NetworkMode ?? "");
    if (ROOTLESS.test(mode)) s.rootless.push(...rootlessPorts(c, name, mode.split(":")[0]!));
    else rootful.push(c);
  }
  if (s.rootless.length)
    s.notes.push(
      `podman: rootless containers (${[...new Set(s.rootless.map((r) => `${r.container}: ${r.mode}`))].join(", ")}): their published ports are listeners of the host (rootlessport or pasta), which lead into the container; the host's INPUT chain filters them (no DNAT rule).`,
    );
  // the docker importer reads the rootful ones (the original text when all are: its lines are the evidence)
  if (rootful.length === list.length) s.add("docker", "podman inspect", text);
  else if (rootful.length) s.add("docker", "podman inspect (rootful)", JSON.stringify(rootful, null, 4));
  s.extra.push({ file: "podman inspect", text });
}

/** Podman: `podman inspect` of the running containers. */
export async function readPodman(opts: RunOptions): Promise<PodmanRead> {
  const s = new PodmanRead("podman", opts);
  const ps = await s.run(["podman", "ps", "-q"], "the running containers are");
  if (ps === undefined) return s;
  const ids = ps
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const bad = ids.filter((id) => !/^[0-9a-f]{12,64}$/.test(id));
  if (bad.length) s.warn("podman ps -q", `not container IDs: '${bad[0]!.slice(0, 80)}'; left out`);
  const good = ids.filter((id) => /^[0-9a-f]{12,64}$/.test(id));
  if (!good.length) {
    if (!bad.length) s.notes.push("podman: no container is running.");
    return s;
  }
  const inspect = await s.run(["podman", "inspect", ...good], "the containers' networks and published ports are");
  if (inspect !== undefined) split(s, inspect);
  return s;
}
