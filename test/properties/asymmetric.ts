/**
 * Generated asymmetric return paths (docs/semantics.md 4, "the server's data is not its SYN-ACK"):
 * a client on the WAN reaches a LAN through a forwarding host, and each server answers through a
 * router of its own choice, which may never have seen the request. The routers vary in what
 * decides the outcome there: a home router (masquerade out of its WAN, its stateful default or a
 * firewall of its own), a plain router, a masquerade or SNAT rule, and FORWARD rules on
 * conntrack state (invalid, new, established) and protocol; servers may have the route back
 * through the forwarding host (symmetric), and their own INPUT rules on state. The main generator
 * (arbitraries.ts) makes this combination rarely (no TCP exchange in 1,000 of its topologies
 * walked the server's data), so the engines' walk of the server's data is checked here:
 * asymmetric.test.ts (Z3 against the exhaustive simulator) and, as root,
 * test/kernel/asymmetric.kernel.test.ts (the kernel).
 */
import fc from "fast-check";
import YAML from "yaml";
import type { MachineDoc, RuleDoc, TopologyDoc } from "../../src/topology/schema.js";
import type { GeneratedTopology, Scenario } from "./arbitraries.js";

/** What a router on the way back does: its kind and its FORWARD rules. */
export interface RawReturnRouter {
  kind: "home" | "plain" | "masquerade" | "masquerade-any" | "snat";
  /** FORWARD rules (none: the home router's stateful default, or accept everything) */
  rules: number[];
  policy: "accept" | "drop";
}

/** The FORWARD rules the routers draw from: each one a conntrack state or protocol case. */
const RULES: readonly RuleDoc[] = [
  { action: "drop", state: ["invalid"] },
  { action: "drop", state: ["new"], in: "lan0" },
  { action: "accept", state: ["established", "related"] },
  { action: "accept", proto: "icmp" },
  { action: "accept", in: "lan0" },
  { action: "drop", proto: "tcp", state: ["new"] },
  { action: "accept", proto: "udp" },
  { action: "reject", proto: "tcp", state: ["new"], with: "tcp-reset" },
  { action: "accept", state: ["invalid"] },
];

export interface RawServer {
  /** index of the router its default route goes through (modulo the routers) */
  via: number;
  /** its default route goes through the forwarding host instead */
  viaHost: boolean;
  /** a route to the WAN through the forwarding host (the way the request comes) */
  back: boolean;
  tcp: boolean;
  udp: boolean;
  /** INPUT: accept established, then drop new or invalid (or nothing) */
  input: "none" | "stateful" | "drop-invalid";
}

export interface RawAsymmetric {
  routers: RawReturnRouter[];
  servers: RawServer[];
  /** the forwarding host drops what it calls invalid (the client's ACK there is invalid when the SYN-ACK went another way) */
  hostDropsInvalid: boolean;
  /** the client routes the LAN through the first router instead of the forwarding host */
  clientViaRouter: boolean;
}

const routerArb: fc.Arbitrary<RawReturnRouter> = fc.record({
  kind: fc.constantFrom<RawReturnRouter["kind"]>("home", "plain", "masquerade", "masquerade-any", "snat"),
  rules: fc.array(fc.nat({ max: RULES.length - 1 }), { maxLength: 3 }),
  policy: fc.constantFrom<"accept" | "drop">("accept", "drop"),
});

const serverArb: fc.Arbitrary<RawServer> = fc.record({
  via: fc.nat({ max: 1 }),
  viaHost: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
  back: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
  tcp: fc.boolean(),
  udp: fc.boolean(),
  input: fc.constantFrom<RawServer["input"]>("none", "stateful", "drop-invalid"),
});

export const rawAsymmetricArb: fc.Arbitrary<RawAsymmetric> = fc.record({
  routers: fc.array(routerArb, { minLength: 1, maxLength: 2 }),
  servers: fc.array(serverArb, { minLength: 1, maxLength: 3 }),
  hostDropsInvalid: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
  clientViaRouter: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
});

const ifaces = (lan: string, wan: string): MachineDoc["interfaces"] => ({
  lan0: { segment: "lan", addresses: [`192.168.10.${lan}/24`] },
  wan0: { segment: "wan", addresses: [`203.0.113.${wan}/24`] },
});

function routerDoc(r: RawReturnRouter, k: number): MachineDoc {
  const wan = `203.0.113.${10 + k}`;
  const md: MachineDoc = { interfaces: ifaces(String(1 + k), String(10 + k)) };
  const rules = r.rules.map((i) => RULES[i]!);
  if (r.kind === "home") {
    md.router = { wan: "wan0" };
    // without rules the home router keeps its stateful default (LAN to anywhere, WAN only to forwards)
    if (rules.length) md.firewall = { forward: { policy: r.policy, rules } };
    return md;
  }
  md.ip_forward = true;
  if (rules.length || r.policy === "drop") md.firewall = { forward: { policy: r.policy, ...(rules.length ? { rules } : {}) } };
  if (r.kind === "masquerade") md.nat = [{ action: "masquerade", out: "wan0" }];
  if (r.kind === "masquerade-any") md.nat = [{ action: "masquerade" }];
  if (r.kind === "snat") md.nat = [{ action: "snat", out: "wan0", to: wan }];
  return md;
}

function serverDoc(s: RawServer, k: number, routers: number): MachineDoc {
  const gw = s.viaHost ? "192.168.10.200" : `192.168.10.${1 + (s.via % routers)}`;
  const md: MachineDoc = {
    interfaces: { eth0: { segment: "lan", addresses: [`192.168.10.${20 + k}/24`] } },
    routes: [{ to: "default", via: gw }, ...(s.back ? [{ to: "203.0.113.0/24", via: "192.168.10.200" }] : [])],
    services: [
      ...(s.tcp || !s.udp ? [{ name: "pg", proto: "tcp" as const, port: 5432 }] : []),
      ...(s.udp ? [{ name: "dns", proto: "udp" as const, port: 53 }] : []),
    ],
  };
  if (s.input !== "none") {
    const rules: RuleDoc[] =
      s.input === "stateful"
        ? [
            { action: "accept", state: ["established", "related"] },
            { action: "drop", state: ["invalid"] },
          ]
        : [{ action: "drop", state: ["invalid"] }];
    md.firewall = { input: { rules } };
  }
  return md;
}

/** The topology: routers r0.., the forwarding host h1 (.200 on the LAN, .2 on the WAN), servers s0.., the client c on the WAN. */
export function asymmetricTopology(raw: RawAsymmetric): Scenario {
  const machines: Record<string, MachineDoc> = {};
  raw.routers.forEach((r, k) => (machines[`r${k}`] = routerDoc(r, k)));
  machines["h1"] = {
    ip_forward: true,
    interfaces: ifaces("200", "2"),
    ...(raw.hostDropsInvalid ? { firewall: { forward: { rules: [{ action: "drop" as const, state: ["invalid" as const] }] } } } : {}),
  };
  raw.servers.forEach((s, k) => (machines[`s${k}`] = serverDoc(s, k, raw.routers.length)));
  machines["c"] = {
    interfaces: { eth0: { segment: "wan", addresses: ["203.0.113.3/24"] } },
    routes: [{ to: "192.168.10.0/24", via: raw.clientViaRouter ? "203.0.113.10" : "203.0.113.2" }],
  };
  const doc: TopologyDoc = { segments: { lan: "192.168.10.0/24", wan: "203.0.113.0/24" }, machines };
  const queries = raw.servers.flatMap((s, k) => [
    ...(s.tcp || !s.udp ? [`c -> s${k}:5432/tcp`] : []),
    ...(s.udp ? [`c -> s${k}:53/udp`] : []),
    ...(k === 0 ? [`c -> s${k}/icmp`] : []),
  ]);
  const servicePorts: Record<string, { tcp: number[]; udp: number[] }> = {};
  for (const name of Object.keys(machines)) servicePorts[name] = { tcp: [], udp: [] };
  raw.servers.forEach((s, k) => (servicePorts[`s${k}`] = { tcp: s.tcp || !s.udp ? [5432] : [], udp: s.udp ? [53] : [] }));
  const topology: GeneratedTopology = {
    doc,
    yaml: YAML.stringify(doc),
    machines: Object.keys(machines),
    servicePorts,
    ports: { tcp: [5432], udp: [53] },
    entries: [],
  };
  return { topology, queries };
}

export const asymmetricScenarioArb: fc.Arbitrary<Scenario> = rawAsymmetricArb.map(asymmetricTopology);
