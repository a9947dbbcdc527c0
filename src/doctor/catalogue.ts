/** The catalogue of findings (docs/doctor.md keeps the same table, checked by a test) and what one finding says. */
import type { Evidence } from "./kit.js";

export const FINDINGS = {
  LAN_EXPOSED_FORWARD: "a port forward or published port listens on every host address: the LAN reaches the guest's service",
  FORWARD_TO_LOOPBACK_SERVICE: "a forward leads to a service that listens on loopback only: the connection is refused",
  GUEST_REACHES_HOST_LOOPBACK: "a guest reaches a service on the host's loopback only because localhost-reachable is on",
  HOSTONLY_OUTSIDE_ALLOWED_RANGE: "a host-only network is outside the range VirtualBox 6.1.28+ allows (192.168.56.0/21)",
  DOCKER_BYPASSES_INPUT: "a Docker published port gets through although the host's INPUT firewall would drop it",
  NIC_OUTSIDE_SUBNET: "a VM's second NIC has an address outside its host-only network's subnet: the host cannot reach the VM over it",
  HAIRPIN_MISSING: "a router's port forward cannot be used from its own LAN at the public address (no hairpin NAT)",
  HOST_NETWORK_EXPOSED: "a container in network mode host listens on the host's own addresses: the LAN reaches it without any publish",
  SUBNET_SHADOWED: "a bridge's subnet on the host covers another machine's address: the host sends its traffic into the bridge",
} as const;
export type FindingCode = keyof typeof FINDINGS;

/** The findings that need the LAN vantage machine (a dial from the LAN is their witness). */
export const NEEDS_LAN: readonly FindingCode[] = [
  "LAN_EXPOSED_FORWARD",
  "FORWARD_TO_LOOPBACK_SERVICE",
  "DOCKER_BYPASSES_INPUT",
  "HOST_NETWORK_EXPOSED",
];

export interface Finding {
  readonly code: FindingCode;
  readonly machine: string;
  readonly title: string;
  readonly evidence: readonly Evidence[];
  /** What happens, as the answer says it. */
  readonly consequence: string;
  /** The edit or the command that removes it. */
  readonly fix: string;
  /** The query that decided it, and its verdict. */
  readonly query: string;
  readonly verdict: string;
  readonly dial?: string;
  readonly causes?: readonly string[];
}
