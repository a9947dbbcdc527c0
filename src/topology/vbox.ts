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

/** The private network of a NAT adapter: `--natnetN` or 10.0.(slot+2).0/24. */
export function natAdapterNetwork(network: string | undefined, slot: number): Prefix | undefined {
  if (network === undefined) return { v: 4, n: (10n << 24n) | (BigInt(slot + 2) << 8n), len: 24 };
  const c = parseCidr(network);
  return c && c.ip.v === 4 && c.len <= 27 && prefixOf(c.ip, c.len).n === c.ip.n ? prefixOf(c.ip, c.len) : undefined;
}

export const hostInNet = (p: Prefix, host: number): IP => ({ v: p.v, n: p.n + BigInt(host) });

/** NAT: guest .15 (DHCP), gateway .2, DNS .3. NAT Network: gateway .1. */
export const NAT_GUEST = 15;
export const NAT_GATEWAY = 2;
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
