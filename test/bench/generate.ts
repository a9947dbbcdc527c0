/**
 * Generated topologies for benchmarks: a LAN of `machines` hosts behind a home
 * router (forwarding port 80 to m0:8080), each with a service on 8080 and
 * `rulesPerMachine` input rules (some of them source-port bands on 8080), plus
 * one VirtualBox NAT guest with a forward. Returned as YAML text so the whole
 * pipeline (parse, check, lower) is measured.
 */
import YAML from "yaml";

export function lanTopology(machines: number, rulesPerMachine: number, format: "yaml" | "json" = "yaml"): string {
  const doc = lanDoc(machines, rulesPerMachine);
  return format === "json" ? JSON.stringify(doc, null, 1) : YAML.stringify(doc);
}

/** The LAN of lanTopology as a value (machines up to 62,000: addresses 10.0.0.11-10.0.248.250). */
export function lanDoc(machines: number, rulesPerMachine: number): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    segments: { lan: "10.0.0.0/16", internet: "203.0.113.0/24" },
    machines: {} as Record<string, unknown>,
  };
  const ms = doc.machines as Record<string, unknown>;
  ms.router = {
    interfaces: { lan0: { segment: "lan", addresses: ["10.0.0.1/16"] }, wan0: { segment: "internet", addresses: ["203.0.113.2/24"] } },
    // to m0 (10.0.0.11)
    router: { wan: "wan0", forwards: [{ name: "web", proto: "tcp", port: 80, to: "10.0.0.11", toPort: 8080 }] },
  };
  ms.outside = { interfaces: { eth0: { segment: "internet", addresses: ["203.0.113.9/24"] } } };
  for (let i = 0; i < machines; i++) {
    const a = 10 + i;
    // every third rule drops a band of source ports to the service, so the solver has ranges to
    // reason about (the bands leave gaps: the service stays reachable from some source ports)
    const rules = Array.from({ length: rulesPerMachine }, (_, k) =>
      k % 3 === 2
        ? { action: "drop", proto: "tcp", dport: 8080, sport: `${1024 + k * 2000}-${1024 + k * 2000 + 1499}` }
        : { action: k % 3 === 0 ? "drop" : "accept", proto: "tcp", src: `10.0.${(k % 250) + 1}.0/24`, dport: 1000 + k },
    );
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
  return doc;
}

/**
 * The LAN with `expectations` expect: entries for `reach verify` (issue 19): machine i to machine
 * (i * 7919) mod n, on 8080 (reachable) or, every fourth, on 9999 (unreachable: nothing listens).
 */
export function lanWithExpectations(machines: number, rulesPerMachine: number, expectations: number): string {
  const doc = lanDoc(machines, rulesPerMachine);
  doc.expect = Array.from({ length: expectations }, (_, i) => {
    const from = i % machines;
    const to = (from * 7919 + 1 + Math.floor(i / machines)) % machines;
    return i % 4 === 3
      ? { query: `m${from} -> m${to}:9999/tcp`, verdict: "unreachable" }
      : { query: `m${from} -> m${to === from ? (to + 1) % machines : to}:8080/tcp`, verdict: "reachable" };
  });
  return YAML.stringify(doc);
}

/**
 * For `reach matrix`: `machines` clients and servers on four LAN segments
 * joined by a router, `servers` of them with two services each and a firewall
 * that admits one segment only. Every client against every service:
 * machines x 2*servers flows.
 */
export function matrixLab(machines: number, servers: number): string {
  const segs = [0, 1, 2, 3];
  const doc: Record<string, unknown> = { segments: Object.fromEntries(segs.map((s) => [`lan${s}`, `10.${s}.0.0/16`])), machines: {} };
  const ms = doc.machines as Record<string, unknown>;
  ms.router = {
    interfaces: Object.fromEntries(segs.map((s) => [`eth${s}`, { segment: `lan${s}`, addresses: [`10.${s}.0.1/16`] }])),
    ip_forward: true,
  };
  for (let i = 0; i < machines; i++) {
    const s = i % 4;
    const host = 10 + Math.floor(i / 4);
    const server = i < servers;
    ms[`m${i}`] = {
      interfaces: { eth0: { segment: `lan${s}`, addresses: [`10.${s}.${Math.floor(host / 250)}.${(host % 250) + 1}/16`] } },
      routes: [{ to: "default", via: `10.${s}.0.1` }],
      ...(server
        ? {
            services: [
              { name: "web", proto: "tcp", port: 80 },
              { name: "db", proto: "tcp", port: 5432, bind: i % 3 === 0 ? "127.0.0.1" : "0.0.0.0" },
            ],
            firewall: {
              input: {
                policy: "drop",
                rules: [
                  { action: "accept", state: ["established"] },
                  { action: "accept", src: `10.${(i + 1) % 4}.0.0/16` },
                ],
              },
            },
          }
        : {}),
    };
  }
  return YAML.stringify(doc);
}
