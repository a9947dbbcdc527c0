/**
 * The generated topologies the differential test runs on cover every element
 * kind of the IR: counted over a fixed sample of lowered topologies, each kind
 * must occur. A kind the generator stopped producing fails here by name.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Match, Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import { isAny, isLoopback, isMapped, unmap } from "../../src/net/addr.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { topologyArb } from "./arbitraries.js";

const SAMPLE = 400;

function count(nets: readonly Network[]): Map<string, number> {
  const c = new Map<string, number>();
  const add = (k: string) => c.set(k, (c.get(k) ?? 0) + 1);
  const matchKinds = (m: Match, where: string) => {
    for (const k of ["proto", "src", "dst", "sport", "dport", "in", "out", "state", "ctDnat", "origDport"] as const)
      if (m[k] !== undefined) add(`${where} match ${k}`);
    for (const k of ["src", "dst", "dport", "in", "out", "origDport"] as const)
      if (m.not?.[k] !== undefined) add(`${where} match not ${k}`);
    if (m.src?.v === 6 || m.dst?.v === 6) add(`${where} match IPv6 prefix`);
  };
  for (const net of nets) {
    add(`segments ${net.segments.length > 0 ? "present" : "none"}`);
    for (const m of net.machines) {
      add(`machine ${m.kind}`);
      if (m.ipForward) add("ip_forward on");
      add(`rp_filter ${m.rpFilter}`);
      if (m.routeLocalnet) add("route_localnet on");
      if (m.engine) add(`NAT engine loopback ${m.engine.loopbackReachable ? "reachable" : "off"}`);
      if (m.engine) add(`NAT engine ${m.engine.kind}${m.engine.loopbackAddress6 ? " with IPv6" : ""}`);
      for (const i of m.interfaces) for (const a of i.addrs) add(`interface address IPv${a.ip.v}`);
      for (const r of m.routes) add(`route ${r.type}${r.via ? " via" : ""} IPv${r.dst.v}`);
      if (m.routes.some((r) => r.metric !== undefined)) add("route metric");
      for (const chain of [m.filter.input, m.filter.output, m.filter.forward]) {
        add(`${chain.name} policy ${chain.policy}`);
        for (const r of chain.rules) {
          add(`${chain.name} rule ${r.action}`);
          if (r.action === "reject") add(`reject with ${r.with ?? "default"}`);
          matchKinds(r.match, "filter");
          for (const s of r.match.state ?? []) add(`state ${s}`);
        }
      }
      for (const hook of ["prerouting", "output", "postrouting"] as const) {
        for (const r of m.nat[hook]) {
          add(`nat ${hook} ${r.action.kind}`);
          matchKinds(r.match, "nat");
          if (r.action.kind === "dnat" && r.action.toPort !== undefined) add("dnat with port");
        }
      }
      for (const s of m.sockets) {
        add(`socket ${s.role.kind} ${s.proto}`);
        if (s.role.kind === "relay" && s.role.gateway === undefined) add(`relay process ${s.proto}`);
        if (s.role.kind === "relay" && s.role.from) add("relay process bound source");
        const b = s.bind;
        const kind = isMapped(b)
          ? "mapped"
          : isAny(unmap(b))
            ? `any IPv${b.v}`
            : isLoopback(unmap(b))
              ? `loopback IPv${b.v}`
              : `address IPv${b.v}`;
        add(`bind ${kind}`);
        if (s.v6only) add("bind v6only");
        if (s.device !== undefined) add("bind to device");
        if (s.pktinfo) add("udp pktinfo");
      }
    }
  }
  return c;
}

const REQUIRED = [
  "machine host",
  "machine vm",
  "machine router",
  "machine nat-engine",
  "ip_forward on",
  "rp_filter 0",
  "rp_filter 1",
  "rp_filter 2",
  "route_localnet on",
  "NAT engine loopback reachable",
  "NAT engine loopback off",
  "NAT engine virtualbox",
  "NAT engine qemu",
  "NAT engine qemu with IPv6",
  "interface address IPv4",
  "interface address IPv6",
  "route connected IPv4",
  "route connected IPv6",
  "route static via IPv4",
  "route static via IPv6",
  "route local IPv4",
  "input policy accept",
  "input policy drop",
  "forward policy drop",
  "output policy drop",
  "input rule accept",
  "input rule drop",
  "input rule reject",
  "reject with default",
  "reject with tcp-reset",
  "reject with port-unreachable",
  "reject with host-unreachable",
  "reject with net-unreachable",
  "reject with admin-prohibited",
  "reject with host-prohibited",
  "reject with net-prohibited",
  "forward rule accept",
  "output rule drop",
  "filter match proto",
  "filter match src",
  "filter match dst",
  "filter match sport",
  "filter match dport",
  "filter match in",
  "filter match out",
  "filter match state",
  "filter match ctDnat",
  "filter match origDport",
  "filter match not src",
  "filter match not dport",
  "filter match not in",
  "filter match not origDport",
  "route metric",
  "filter match IPv6 prefix",
  "state new",
  "state established",
  "state invalid",
  "nat prerouting dnat",
  "nat output dnat",
  "nat postrouting snat",
  "nat postrouting masquerade",
  "dnat with port",
  "nat match dport",
  "nat match in",
  "nat match out",
  "socket service tcp",
  "socket service udp",
  "socket relay tcp",
  "socket relay udp",
  "relay process tcp",
  "relay process udp",
  "relay process bound source",
  "bind any IPv4",
  "bind any IPv6",
  "bind loopback IPv4",
  "bind loopback IPv6",
  "bind address IPv4",
  "bind address IPv6",
  "bind v6only",
  "bind to device",
  "udp pktinfo",
];

describe(`the generated topologies cover every IR element kind (${SAMPLE} sampled)`, () => {
  const nets = fc
    .sample(topologyArb, { seed: 20261123, numRuns: SAMPLE })
    .map((t) => lower(loadTopologyText("generated.yaml", t.yaml).topology));
  const counts = count(nets);
  it("prints the coverage counts", () => {
    console.log(
      [...counts.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `${k}: ${n}`)
        .join("\n"),
    );
    expect(counts.size).toBeGreaterThan(0);
  });
  for (const kind of REQUIRED) {
    it(kind, () => expect(counts.get(kind) ?? 0, `no generated topology has: ${kind}`).toBeGreaterThan(0));
  }
});
