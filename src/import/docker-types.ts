/**
 * Types the Docker importers share (docker.ts and the docker-*.ts modules): what the
 * readers of Compose files and `docker inspect` produce (ports, networks, containers)
 * and what the host model (docker-host.ts) turns into machines and rules.
 */
import type { Diagnostic, Span } from "../diagnostics/diagnostic.js";
import type { IP, Prefix } from "../net/addr.js";

/** The protocols published ports are modelled for (SCTP is reported and left out). */
export type Proto = "tcp" | "udp";

/** Where the readers of one import put diagnostics and notes. */
export interface Out {
  readonly diags: Diagnostic[];
  readonly notes: string[];
}

/** One key of a YAML mapping, with the nodes of key and value (for positions). */
export interface Entry {
  readonly key: string;
  readonly keyNode: unknown;
  readonly value: unknown;
}

/** One published or exposed container port. `hostPort` undefined: Docker picks the host port when the container starts. */
export interface Mapping {
  readonly proto: Proto;
  readonly containerPort: number;
  readonly published: boolean;
  readonly hostIp?: IP;
  readonly hostPort?: number;
  readonly span: Span;
}

/** What Compose's short port syntax says (parseShortPort), before it becomes mappings. */
export interface PortSpec {
  readonly proto: string;
  /** undefined: every host address (0.0.0.0 and ::, or the network's default binding) */
  readonly hostIp?: string;
  /** undefined: not published, or published on a port Docker picks */
  readonly host?: { readonly lo: number; readonly hi: number };
  readonly container: { readonly lo: number; readonly hi: number };
}

/** A Docker network on the host: a segment, and a bridge interface of the host when its host side is known. */
export interface Net {
  /** The network's name as the input calls it (compose key, docker network name). */
  readonly name: string;
  readonly segment: string;
  /** The host's interface on the bridge; undefined when the host side is not known. */
  readonly bridge?: string;
  readonly subnet?: Prefix;
  readonly gateway?: IP;
  readonly subnet6?: Prefix;
  readonly gateway6?: IP;
  /** No forwarding in or out, no masquerade, no default route for its containers. */
  readonly internal: boolean;
  readonly masquerade: boolean;
  /** Default host address of published ports (driver option host_binding_ipv4). */
  readonly hostBinding?: IP;
  /**
   * Compose ipam `ip_range` is set: Docker allocates container addresses inside that
   * sub-range, and where exactly is not modelled, so a container without ipv4_address
   * gets no address on this network (instead of the first free one of the subnet).
   */
  readonly ipRange?: boolean;
}

/** A container's interface on a network. */
export interface Attach {
  readonly net: Net;
  readonly ifname: string;
  readonly addr?: IP;
  readonly addr6?: IP;
  readonly gwPriority: number;
}

/** A container: a machine on the networks it is attached to. */
export interface Container {
  readonly name: string;
  readonly attaches: readonly Attach[];
  readonly ports: readonly Mapping[];
}
