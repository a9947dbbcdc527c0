/**
 * Generated topologies for benchmarks: a LAN of `machines` hosts behind a home
 * router, each with a service and `rulesPerMachine` input rules, plus one
 * VirtualBox NAT guest with a forward. Returned as YAML text so the whole
 * pipeline (parse, check, lower) is measured.
 */
import YAML from "yaml";

export function lanTopology(machines: number, rulesPerMachine: number): string {
  const doc: Record<string, unknown> = {
    segments: { lan: "10.0.0.0/16", internet: "203.0.113.0/24" },
    machines: {} as Record<string, unknown>,
  };
  const ms = doc.machines as Record<string, unknown>;
  ms.router = {
    interfaces: { lan0: { segment: "lan", addresses: ["10.0.0.1/16"] }, wan0: { segment: "internet", addresses: ["203.0.113.2/24"] } },
    router: { wan: "wan0", forwards: [{ name: "web", proto: "tcp", port: 80, to: "10.0.0.10", toPort: 8080 }] },
  };
  ms.outside = { interfaces: { eth0: { segment: "internet", addresses: ["203.0.113.9/24"] } } };
  for (let i = 0; i < machines; i++) {
    const a = 10 + i;
    const rules = Array.from({ length: rulesPerMachine }, (_, k) => ({
      action: k % 3 === 0 ? "drop" : "accept",
      proto: "tcp",
      src: `10.0.${(k % 250) + 1}.0/24`,
      dport: 1000 + k,
    }));
    ms[`m${i}`] = {
      interfaces: { eth0: { segment: "lan", addresses: [`10.0.${Math.floor(a / 250)}.${(a % 250) + 1}/16`] } },
      routes: [{ to: "default", via: "10.0.0.1" }],
      services: [{ name: "app", proto: "tcp", port: 8080 }],
      firewall: { input: { policy: "accept", rules } },
    };
  }
  ms.m0 = {
    ...(ms.m0 as object),
  };
  ms.guest = {
    vm: { on: "m0", adapters: [{ mode: "nat", forwards: [{ name: "ssh", proto: "tcp", hostPort: 2222, guestPort: 22 }] }] },
    services: [{ name: "sshd", proto: "tcp", port: 22 }],
  };
  return YAML.stringify(doc);
}
