/**
 * VirtualBox defaults (VirtualBox manual, "Virtual Networking"; semantics.md section 5),
 * shared by the checker and the lowering so that both see the same addresses.
 */
import { parseCidr, prefixOf, type IP, type Prefix } from "../net/addr.js";
import type { AdapterDoc } from "./schema.js";

/** Adapter slot is 0-based: "Adapter 1" in the GUI is slot 0 and uses 10.0.2.0/24. */
export function adapterInterfaceName(adapter: AdapterDoc, slot: number): string {
  return adapter.interface ?? `eth${slot}`;
}

/** Who runs a NAT adapter: VirtualBox's NAT engine or QEMU's user network (libslirp). */
export type NatEngineKind = "virtualbox" | "qemu";

/** The words an answer uses for each engine's parts, so that it names the engine the user has. */
export const NAT_ENGINE_WORDS: Readonly<Record<NatEngineKind, { engine: string; forward: string; dns: string }>> = {
  virtualbox: { engine: "VirtualBox NAT engine", forward: "VirtualBox NAT forward", dns: "VirtualBox NAT DNS proxy" },
  qemu: { engine: "QEMU user network (libslirp)", forward: "QEMU hostfwd", dns: "QEMU user-network DNS proxy" },
};

/**
 * The private network of a NAT adapter: `--natnetN` or, for VirtualBox, 10.0.(slot+2).0/24; every
 * QEMU `-netdev user` is its own libslirp with `net=10.0.2.0/24` by default (qemu-options.hx).
 */
export function natAdapterNetwork(network: string | undefined, slot: number, engine: NatEngineKind = "virtualbox"): Prefix | undefined {
  if (network === undefined) return { v: 4, n: (10n << 24n) | (BigInt(engine === "qemu" ? 2 : slot + 2) << 8n), len: 24 };
  const c = parseCidr(network);
  return c && c.ip.v === 4 && c.len <= 27 && prefixOf(c.ip, c.len).n === c.ip.n ? prefixOf(c.ip, c.len) : undefined;
}

/** QEMU's user network: `ipv6-prefix=fec0::`, `ipv6-prefixlen=64` unless given (qemu-options.hx). */
export const QEMU_IPV6_NETWORK = "fec0::/64";

/** Does the NAT gateway reach the host's loopback: VirtualBox 7 only with localhost-reachable on; libslirp (QEMU) by default. */
export const natLocalhostReachable = (a: { engine?: NatEngineKind; localhostReachable?: boolean }): boolean =>
  a.localhostReachable ?? a.engine === "qemu";

/** Is IPv6 on for this NAT adapter: QEMU unless `ipv6=off`; VirtualBox's NAT mode has no IPv6 (the checker refuses `ipv6: true`). */
export const natIpv6On = (a: { engine?: NatEngineKind; ipv6?: boolean }): boolean => a.ipv6 ?? a.engine === "qemu";

/** The IPv6 network of a NAT adapter with IPv6 on: a /64 (SLAAC), `ipv6Network` or fec0::/64; undefined when it does not parse. */
export function natIpv6Network(ipv6Network: string | undefined): Prefix | undefined {
  const c = parseCidr(ipv6Network ?? QEMU_IPV6_NETWORK);
  return c && c.ip.v === 6 && c.len === 64 && prefixOf(c.ip, c.len).n === c.ip.n ? prefixOf(c.ip, c.len) : undefined;
}

/**
 * The guest's IPv6 address: SLAAC on the advertised /64 with the EUI-64 interface identifier of
 * QEMU's default MAC, 52:54:00:12:34:56 for the first NIC and one more per NIC (a modelling choice:
 * a guest with another MAC or privacy addresses has another address on the same /64).
 */
export function natGuest6(p: Prefix, slot: number): IP {
  return { v: 6, n: p.n | (0x505400fffe123456n + BigInt(slot)) };
}

export const hostInNet = (p: Prefix, host: number): IP => ({ v: p.v, n: p.n + BigInt(host) });

/** NAT: guest .15 (DHCP), gateway .2, DNS .3. NAT Network: gateway .1. */
export const NAT_GUEST = 15;
export const NAT_GATEWAY = 2;
export const NAT_DNS = 3;
export const NATNET_GATEWAY = 1;
/** Default NAT Network loopback mapping 127.0.0.1=2. */
export const NATNET_LOOPBACK_OFFSET = 2;
export const DEFAULT_NATNETWORK = "10.0.2.0/24";

/** vboxnetN defaults to 192.168.(56+N).1/24 (vboxnet0: 192.168.56.1/24). */
export function hostOnlyDefault(name: string): { ip: IP; len: number } | undefined {
  const m = /^vboxnet(\d+)$/.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n > 199) return undefined;
  return { ip: { v: 4, n: (192n << 24n) | (168n << 16n) | (BigInt(56 + n) << 8n) | 1n }, len: 24 };
}

/** First address of the host-only DHCP pool (.101), then .102, ... in declaration order. */
export const HOSTONLY_DHCP_FIRST = 101;

export const segmentNames = {
  nat: (vm: string, slot: number) => `${vm}/nat${slot + 1}`,
  hostonly: (host: string, net: string) => `${host}/${net}`,
  internal: (host: string, net: string) => `${host}/intnet:${net}`,
  /** A NAT Network is a service of one VirtualBox installation: per host when VMs on several hosts name it. */
  natnetwork: (net: string, host?: string) => (host ? `${host}/natnetwork:${net}` : `natnetwork:${net}`),
};

export const engineNames = {
  nat: (vm: string, slot: number) => (slot === 0 ? `${vm}-nat` : `${vm}-nat${slot + 1}`),
  natnetwork: (net: string, host?: string) => (host ? `natnetwork-${net}-${host}` : `natnetwork-${net}`),
};

/** Unix hosts: an unprivileged VirtualBox cannot bind host ports below this (VBox `nat-limitations`). */
export const FIRST_UNPRIVILEGED_PORT = 1024;
