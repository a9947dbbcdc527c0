/**
 * Lowering facts that no bundled model pins, each written after a mutant of src/lower survived
 * the other tests (`npm run mutate -- --mutate 'src/lower/**\/*.ts'`, docs/mutation.md): socket
 * options, route devices resolved through on-link static routes, SNAT, negated and source-port
 * matches, declared host-only networks, the internal network's default name, Docker 28 over
 * IPv6, and the `reach show` text of each. Every test lowers its own topology inside the test, so
 * that StrykerJS's per-test coverage sees which test reaches which mutant.
 */
import { describe, expect, it } from "vitest";
import { lower } from "../../src/lower/lower.js";
import { showNetwork } from "../../src/lower/show.js";
import { formatIP, formatPrefix } from "../../src/net/addr.js";
import type { Machine, Network, Route } from "../../src/ir/types.js";
import { loadTopologyText } from "../../src/topology/load.js";

const lowerText = (text: string): Network => lower(loadTopologyText("inline.yaml", text).topology);
const machine = (net: Network, name: string): Machine => {
  const m = net.machines.find((x) => x.name === name);
  if (!m) throw new Error(`no machine ${name} in ${net.machines.map((x) => x.name).join(", ")}`);
  return m;
};
const routeText = (r: Route) =>
  `${formatPrefix(r.dst)}${r.via ? ` via ${formatIP(r.via)}` : ""} dev ${r.dev || "?"} ${r.type}${r.metric !== undefined ? ` metric ${r.metric}` : ""}`;
/** The lines of `reach show` for one machine's block (from its header to the next blank line). */
const showBlock = (net: Network, name: string): string[] => {
  const lines = showNetwork(net).split("\n");
  const start = lines.findIndex((l) => l.startsWith(`${name} (`));
  const end = lines.indexOf("", start);
  return lines.slice(start, end < 0 ? undefined : end);
};

const HOST = `
segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    routes:
      - { to: 10.50.0.0/16, dev: eth0 }
      - { to: 10.60.0.0/16, via: 10.50.0.1 }
      - { to: 10.70.0.0/16, via: 192.168.1.1, metric: 50 }
    services:
      - { proto: tcp, port: 8080, device: eth0 }
      - { name: dns, proto: udp, port: 53, pktinfo: false, v6only: true, bind: "::" }
      - { port: 22 }
    relays:
      - { port: 9000, to: 192.168.1.20, toPort: 80 }
      - { name: fwd6, proto: udp, port: 9001, bind: 127.0.0.1, to: "::ffff:192.168.1.21", toPort: 81, from: "::ffff:192.168.1.10" }
    nat:
      - { action: snat, out: eth0, to: 192.168.1.10, proto: udp, sport: 1000-2000 }
      - { action: dnat, chain: output, dst: 10.1.1.1, to: 192.168.1.20, comment: "to the web" }
      - { action: dnat, chain: prerouting, dst: 10.1.1.2, to: 192.168.1.20, toPort: 8443, proto: tcp, dport: 443 }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, proto: tcp, src: { not: 10.0.0.0/8 }, sport: { not: 1-1023 }, in: { not: eth0 } }
          - { action: accept, proto: udp, sport: 53, in: eth0, comment: dns answers }
          - { action: reject, with: tcp-reset, proto: tcp, dport: 22, origDst: { not: 10.2.0.0/16 } }
`;

describe("a host's own elements", () => {
  it("routes without dev take the device of the connected or on-link static route holding the gateway", () => {
    const host = machine(lowerText(HOST), "host");
    expect(host.routes.filter((r) => r.type === "static").map(routeText)).toEqual([
      "10.50.0.0/16 dev eth0 static",
      "10.60.0.0/16 via 10.50.0.1 dev eth0 static",
      "10.70.0.0/16 via 192.168.1.1 dev eth0 static metric 50",
    ]);
    expect(host.routes.filter((r) => r.type !== "static").map(routeText)).toEqual([
      "127.0.0.0/8 dev lo local",
      "::1/128 dev lo local",
      "192.168.1.0/24 dev eth0 connected",
      "fd00::/64 dev eth0 connected",
    ]);
  });

  it("services keep their device, pktinfo, v6only and name; an unnamed one is called after its port", () => {
    const host = machine(lowerText(HOST), "host");
    const services = host.sockets.filter((s) => s.role.kind === "service");
    expect(
      services.map((s) => ({
        owner: s.owner,
        proto: s.proto,
        bind: formatIP(s.bind),
        port: s.port,
        v6only: s.v6only,
        device: s.device,
        pktinfo: s.pktinfo,
      })),
    ).toEqual([
      { owner: "tcp/8080 listener", proto: "tcp", bind: "0.0.0.0", port: 8080, v6only: false, device: "eth0", pktinfo: undefined },
      { owner: "dns", proto: "udp", bind: "::", port: 53, v6only: true, device: undefined, pktinfo: false },
      { owner: "tcp/22 listener", proto: "tcp", bind: "0.0.0.0", port: 22, v6only: false, device: undefined, pktinfo: undefined },
    ]);
    expect(services.map((s) => ("device" in s ? 1 : 0) + ("pktinfo" in s ? 2 : 0) + ("exposed" in s ? 4 : 0))).toEqual([1, 2, 0]);
    expect(services.map((s) => s.origin.what)).toEqual(["service #1", "service dns", "service #3"]);
  });

  it("relays name themselves after what they relay, unmap IPv4-mapped targets and keep their source", () => {
    const host = machine(lowerText(HOST), "host");
    const relays = host.sockets.filter((s) => s.role.kind === "relay");
    expect(
      relays.map((s) =>
        s.role.kind === "relay"
          ? {
              owner: s.owner,
              proto: s.proto,
              bind: formatIP(s.bind),
              port: s.port,
              engine: s.role.engine,
              to: `${s.role.to.v}:${formatIP(s.role.to)}`,
              toPort: s.role.toPort,
              from: s.role.from && `${s.role.from.v}:${formatIP(s.role.from)}`,
              what: s.origin.what,
            }
          : undefined,
      ),
    ).toEqual([
      {
        owner: "relay tcp/9000 -> 192.168.1.20:80",
        proto: "tcp",
        bind: "0.0.0.0",
        port: 9000,
        engine: "host",
        to: "4:192.168.1.20",
        toPort: 80,
        from: undefined,
        what: "relay #1",
      },
      {
        owner: "fwd6",
        proto: "udp",
        bind: "127.0.0.1",
        port: 9001,
        engine: "host",
        to: "4:192.168.1.21",
        toPort: 81,
        from: "4:192.168.1.10",
        what: "relay fwd6",
      },
    ]);
    expect(relays.map((s) => s.role.kind === "relay" && "from" in s.role)).toEqual([false, true]);
  });

  it("SNAT goes to postrouting, a DNAT to the chain it names, with negated and source-port matches kept apart", () => {
    const host = machine(lowerText(HOST), "host");
    expect(showBlock(lowerText(HOST), "host").filter((l) => /^\s+(\d+\. |nat )/.test(l))).toEqual([
      "      1. tcp not src 10.0.0.0/8 not sport 1-1023 not in eth0 -> accept   # input rule 1, inline.yaml:25:13",
      '      2. udp sport 53 in eth0 -> accept   # input rule 2 "dns answers", inline.yaml:26:13',
      "      3. tcp dport 22 not ct original dst 10.2.0.0/16 -> reject   # input rule 3, inline.yaml:27:13",
      "    nat prerouting: tcp dst 10.1.1.2/32 dport 443 -> dnat to 192.168.1.20:8443   # nat rule 3 (dnat), inline.yaml:20:9",
      '    nat output: dst 10.1.1.1/32 -> dnat to 192.168.1.20   # nat rule 2 (dnat "to the web"), inline.yaml:19:9',
      "    nat postrouting: udp sport 1000-2000 out eth0 -> snat to 192.168.1.10   # nat rule 1 (snat), inline.yaml:18:9",
    ]);
    const [r1, r2, r3] = host.filter.input.rules;
    expect(r1?.match.not && Object.keys(r1.match.not).sort()).toEqual(["in", "sport", "src"]);
    expect(r2?.match.not).toBeUndefined();
    expect(r3 && { with: r3.with, not: Object.keys(r3.match.not ?? {}) }).toEqual({ with: "tcp-reset", not: ["origDst"] });
    expect(host.filter.input.policyOrigin?.what).toBe("input policy");
    expect(host.filter.output).toEqual({ name: "output", policy: "accept", rules: [] });
    expect(host.nat.postrouting[0]?.action).toEqual({ kind: "snat", to: { v: 4, n: 0xc0a8010an } });
    expect(host.nat.output[0]?.action).toEqual({ kind: "dnat", to: { v: 4, n: 0xc0a80114n } });
  });

  it("reach show prints sysctls, sockets with their options, and routes with their metric", () => {
    const net = lowerText(HOST.replace("  host:\n", "  host:\n    ip_forward: true\n    rp_filter: 2\n    route_localnet: true\n"));
    const block = showBlock(net, "host");
    expect(block).toContain("  sysctl: ip_forward=1 rp_filter=2 route_localnet=1");
    expect(block.filter((l) => l.startsWith("    tcp ") || l.startsWith("    udp "))).toEqual([
      "    tcp 0.0.0.0:8080 dev eth0  tcp/8080 listener   # inline.yaml:14:9",
      "    udp [::]:53 v6only  dns   # inline.yaml:15:9",
      "    tcp 0.0.0.0:22  tcp/22 listener   # inline.yaml:16:9",
      "    tcp 0.0.0.0:9000  relay tcp/9000 -> 192.168.1.20:80 relay via host to 192.168.1.20:80   # inline.yaml:18:9",
      "    udp 127.0.0.1:9001  fwd6 relay via host to 192.168.1.21:81   # inline.yaml:19:9",
    ]);
    expect(block).toContain("    10.70.0.0/16 via 192.168.1.1 dev eth0 static metric 50");
    expect(block).toContain("    eth0       192.168.1.10/24 fd00::10/64  on lan");
    const m = machine(net, "host");
    expect({ fwd: m.ipForward, rp: m.rpFilter, localnet: m.routeLocalnet }).toEqual({ fwd: true, rp: 2, localnet: true });
  });
});

const VMS = `
segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    hostonly: { vboxnet3: { addresses: ["fd99::1/64", 192.168.99.1/24] } }
  vm1:
    vm:
      on: host
      adapters:
        - { mode: hostonly, network: vboxnet3 }
        - { mode: internal, addresses: [10.77.0.5/24] }
        - { mode: bridged, bridge: eth0, addresses: [192.168.1.30/24], gateway: 192.168.1.1 }
        - { mode: none }
        - { mode: internal, network: lab, addresses: [10.78.0.5/24] }
`;

describe("VirtualBox adapters the models leave out", () => {
  it("a declared host-only network gives the host its addresses and the VM a lease from .101 of the first IPv4 one", () => {
    const net = lowerText(VMS);
    const host = machine(net, "host");
    expect(host.interfaces.find((i) => i.name === "vboxnet3")).toMatchObject({
      segment: "host/vboxnet3",
      origin: { what: "host-only network vboxnet3" },
    });
    expect(net.segments.find((s) => s.name === "host/vboxnet3")).toMatchObject({ kind: "vbox-hostonly" });
    expect(net.segments.find((s) => s.name === "host/vboxnet3")?.subnets.map(formatPrefix)).toEqual(["fd99::/64", "192.168.99.0/24"]);
    expect(host.interfaces.find((i) => i.name === "vboxnet3")?.origin.span.line).toBe(6);
    expect(showBlock(net, "vm1").filter((l) => l.startsWith("    eth"))).toEqual([
      "    eth0       192.168.99.101/24  on host/vboxnet3",
      "    eth1       10.77.0.5/24  on host/intnet:intnet",
      "    eth2       192.168.1.30/24  on lan",
      "    eth4       10.78.0.5/24  on host/intnet:lab",
    ]);
  });

  it("an internal network without a name is 'intnet', declared once per name with no subnet", () => {
    const net = lowerText(VMS);
    const internal = net.segments.filter((s) => s.kind === "vbox-internal");
    expect(internal.map((s) => ({ name: s.name, subnets: s.subnets.length, what: s.origin.what }))).toEqual([
      { name: "host/intnet:intnet", subnets: 0, what: "internal network 'intnet'" },
      { name: "host/intnet:lab", subnets: 0, what: "internal network 'lab'" },
    ]);
    expect(showNetwork(net)).toContain("  host/intnet:intnet  (no subnet declared)   # internal network 'intnet', inline.yaml:12:11");
  });

  it("a bridged adapter's gateway is the VM's default route, named after the adapter", () => {
    const vm = machine(lowerText(VMS), "vm1");
    const defaults = vm.routes.filter((r) => r.dst.len === 0);
    expect(defaults.map(routeText)).toEqual(["0.0.0.0/0 via 192.168.1.1 dev eth2 static"]);
    expect(defaults[0]?.origin.what).toBe("gateway of vm1's bridged adapter 3");
    expect(vm.interfaces.map((i) => i.origin.what)).toEqual([
      vm.origin.what,
      "vm1's hostonly adapter 1",
      "vm1's internal adapter 2",
      "vm1's bridged adapter 3",
      "vm1's internal adapter 5",
    ]);
  });
});

describe("Docker 28 over IPv6", () => {
  const DOCKER = `
segments: { lan: 192.168.1.0/24, br: 172.17.0.0/16, other: 172.18.0.0/16 }
machines:
  dhost:
    docker: { bridges: [docker0] }
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      docker0: { segment: br, addresses: [172.17.0.1/16, "fd17::1/64", "fe80::1/64"] }
  c1:
    interfaces: { eth0: { segment: br, addresses: [172.17.0.2/16, "fd17::2/64", "fe80::2/64"] } }
  c2:
    interfaces: { eth0: { segment: other, addresses: [172.18.0.2/16] } }
`;
  it("drops direct routing to each container address on the bridge, IPv6 too, but never to link-local ones", () => {
    const net = lowerText(DOCKER);
    const d = machine(net, "dhost");
    const drops = d.filter.forward.rules.filter((r) => r.action === "drop");
    expect(drops.map((r) => r.match.dst && formatPrefix(r.match.dst))).toEqual(["172.17.0.2/32", "fd17::2/128"]);
    expect(drops.every((r) => r.match.ctDnat === false && r.match.state?.join(",") === "new,invalid")).toBe(true);
    expect(drops[0]?.origin.what).toBe("Docker 28's raw drop of direct routing to containers on docker0");
    expect(d.docker).toMatchObject({ version: 28, origin: { what: "docker (Docker Engine 28)" } });
  });

  it("Docker 27 has no such drop", () => {
    const d = machine(lowerText(DOCKER.replace("docker: { bridges: [docker0] }", "docker: { version: 27, bridges: [docker0] }")), "dhost");
    expect(d.filter.forward.rules).toEqual([]);
    expect(d.docker).toMatchObject({ version: 27, origin: { what: "docker (Docker Engine 27)" } });
  });
});

describe("lowering's bookkeeping", () => {
  it("a connected route per interface and distinct prefix: a second address in the same subnet adds none", () => {
    const net = lowerText(`
segments: { lan: { subnets: [192.168.1.0/24, 192.168.2.0/24] } }
machines:
  m:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, 192.168.1.11/24, 192.168.1.12/25, "fd00::1/64", "fd00::2/64", 192.168.2.10/24] }
      eth1: { segment: lan, addresses: [192.168.1.20/24] }
`);
    expect(machine(net, "m").routes.map(routeText)).toEqual([
      "127.0.0.0/8 dev lo local",
      "::1/128 dev lo local",
      "192.168.1.0/24 dev eth0 connected",
      "192.168.1.0/25 dev eth0 connected",
      "fd00::/64 dev eth0 connected",
      "192.168.2.0/24 dev eth0 connected",
      "192.168.1.0/24 dev eth1 connected",
    ]);
  });

  it("dst: local-nonloopback leaves out 127.0.0.0/8 and ::1 only, and an address two interfaces share once", () => {
    const net = lowerText(`
segments: { lan: 192.168.1.0/24, b: 192.168.1.0/24 }
machines:
  m:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::1/64"] }
      eth1: { segment: b, addresses: [192.168.1.10/24] }
    firewall:
      input:
        rules:
          - { action: drop, dst: local-nonloopback }
          - { action: reject, dst: local }
`);
    const rules = machine(net, "m").filter.input.rules;
    expect(rules.map((r) => `${r.action} ${r.match.dst ? formatPrefix(r.match.dst) : "-"}`)).toEqual([
      "drop 192.168.1.10/32",
      "drop fd00::1/128",
      "reject 127.0.0.0/8",
      "reject ::1/128",
      "reject 192.168.1.10/32",
      "reject fd00::1/128",
    ]);
  });

  it("a host-only network two VMs share is made once; a DHCP lease skips only addresses set on that network of that host", () => {
    const net = lowerText(`
machines:
  host: {}
  other: {}
  a: { vm: { on: host, adapters: [ { mode: hostonly }, { mode: hostonly, network: vboxnet1, addresses: [192.168.56.101/24] } ] } }
  b: { vm: { on: other, adapters: [ { mode: hostonly, addresses: [192.168.56.102/24] } ] } }
  c: { vm: { on: host, adapters: [ { mode: hostonly, network: vboxnet0 } ] } }
`);
    const ifs = machine(net, "host").interfaces.map((i) => i.name);
    expect(ifs).toEqual(["lo", "vboxnet0", "vboxnet1"]);
    const addr = (name: string) =>
      machine(net, name)
        .interfaces.filter((i) => i.name !== "lo")
        .map((i) => i.addrs.map((x) => formatIP(x.ip)).join(","));
    expect([addr("a"), addr("c")]).toEqual([["192.168.56.101", "192.168.56.101"], ["192.168.56.102"]]);
    expect(net.segments.filter((s) => s.kind === "vbox-hostonly").map((s) => s.name)).toEqual([
      "host/vboxnet0",
      "host/vboxnet1",
      "other/vboxnet0",
    ]);
  });

  it("a NAT Network used from two hosts has one engine per host; its default network is 10.0.2.0/24", () => {
    const net = lowerText(`
natnetworks:
  shared: {}
machines:
  h1: {}
  h2: {}
  a: { vm: { on: h1, adapters: [ { mode: natnetwork, network: shared, addresses: [10.0.2.5/24] } ] } }
  b: { vm: { on: h2, adapters: [ { mode: hostonly }, { mode: natnetwork, network: shared, addresses: [10.0.2.6/24] } ] } }
`);
    const engines = net.machines.filter((m) => m.kind === "nat-engine");
    expect(engines.map((m) => `${m.name} ${m.engine?.host} ${m.interfaces.find((i) => i.name === "nat")?.segment}`)).toEqual([
      "natnetwork-shared-h1 h1 h1/natnetwork:shared",
      "natnetwork-shared-h2 h2 h2/natnetwork:shared",
    ]);
    expect(engines[0]?.interfaces.find((i) => i.name === "nat")?.addrs.map((a) => `${formatIP(a.ip)}/${a.len}`)).toEqual([
      "10.0.2.1/24",
      "10.0.2.2/24",
    ]);
    expect(engines[0]?.origin.what).toBe("VirtualBox NAT Network 'shared'");
  });

  it("a NAT forward from host port 1024 listens without root; 1023 does not", () => {
    const net = lowerText(`
machines:
  host: {}
  g:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { hostPort: 1024, guestPort: 22 }, { hostPort: 1023, guestPort: 23 } ]
`);
    const relays = machine(net, "host").sockets.filter((s) => s.role.kind === "relay");
    expect(relays.map((s) => `${s.port} ${s.owner} ${s.origin.what}`)).toEqual([
      "1024 VirtualBox NAT forward port forward of g's NAT adapter 1",
    ]);
  });

  it("a home router DNATs and hairpins on its IPv4 addresses only", () => {
    const net = lowerText(`
segments: { wan: 203.0.113.0/24, lan: 192.168.1.0/24 }
machines:
  r:
    router:
      wan: eth0
      hairpin: true
      forwards: [ { port: 443, to: 192.168.1.20 } ]
    interfaces:
      eth0: { segment: wan, addresses: [203.0.113.2/24, "2001:db8::2/64"] }
      eth1: { segment: lan, addresses: [192.168.1.1/24, "fd00::1/64"] }
`);
    const lines = showBlock(net, "r").filter((l) => l.startsWith("    nat "));
    expect(lines.map((l) => l.replace(/ {3}#.*/, ""))).toEqual([
      "    nat prerouting: tcp dst 203.0.113.2/32 dport 443 in eth0 -> dnat to 192.168.1.20:443",
      "    nat prerouting: tcp dst 203.0.113.2/32 dport 443 in eth1 -> dnat to 192.168.1.20:443",
      "    nat postrouting: tcp src 192.168.1.0/24 dst 192.168.1.20/32 dport 443 out eth1 -> masquerade",
      "    nat postrouting: src 0.0.0.0/0 out eth0 -> masquerade",
    ]);
    expect(lines.map((l) => l.replace(/.* {3}# /, "").replace(/, inline.*/, ""))).toEqual([
      "router forward tcp/443 -> 192.168.1.20:443",
      "router forward tcp/443 -> 192.168.1.20:443 (hairpin)",
      "router forward tcp/443 -> 192.168.1.20:443 (hairpin SNAT)",
      "masquerade IPv4 out of eth0 (home router)",
    ]);
    expect(showBlock(net, "r").filter((l) => /^ {4}(input|forward) \(policy drop, inline\.yaml:\d+:\d+\)$/.test(l))).toHaveLength(2);
  });
});

describe("Docker 28 with lo named as a bridge", () => {
  it("adds no drop: lo is on no segment, so no container sits behind it", () => {
    const net = lowerText(`
segments: { lan: 192.168.1.0/24 }
machines:
  dhost:
    docker: { bridges: [lo] }
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  other:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
`);
    expect(machine(net, "dhost").filter.forward.rules).toEqual([]);
  });
});

describe("more lowering the models leave out", () => {
  it("a NAT Network is per host only when VMs of two hosts use that very network", () => {
    const net = lowerText(`
natnetworks:
  shared: { network: 10.0.7.0/24 }
  other: { network: 10.0.8.0/24 }
machines:
  h1: {}
  h2: {}
  a: { vm: { on: h1, adapters: [ { mode: natnetwork, network: shared, addresses: [10.0.7.5/24] } ] } }
  b: { vm: { on: h2, adapters: [ { mode: natnetwork, network: other, addresses: [10.0.8.5/24] } ] } }
  c: { vm: { on: h2, adapters: [ { mode: hostonly } ] } }
`);
    expect(net.machines.filter((m) => m.kind === "nat-engine").map((m) => m.name)).toEqual(["natnetwork-shared", "natnetwork-other"]);
  });

  it("DHCP leases count per host-only network; only host-only addresses on that network are skipped", () => {
    const net = lowerText(`
machines:
  host: {}
  s: { vm: { on: host, adapters: [ { mode: internal, addresses: [192.168.56.101/24] } ] } }
  a: { vm: { on: host, adapters: [ { mode: hostonly } ] } }
  b: { vm: { on: host, adapters: [ { mode: hostonly, network: vboxnet1 } ] } }
`);
    const addr = (name: string) =>
      machine(net, name)
        .interfaces.filter((i) => i.name !== "lo")
        .map((i) => i.addrs.map((x) => formatIP(x.ip)).join(","));
    expect([addr("a"), addr("b")]).toEqual([["192.168.56.101"], ["192.168.57.101"]]);
  });

  it("a static default of the other family leaves the DHCP default in place", () => {
    const net = lowerText(`
segments: { lan: { subnets: ["192.168.1.0/24", "fd00::/64"] } }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
  g:
    routes: [ { to: "::/0", via: "fd00::1" } ]
    vm:
      on: host
      adapters:
        - { mode: nat }
        - { mode: bridged, bridge: eth0, addresses: ["fd00::5/64"] }
`);
    expect(
      machine(net, "g")
        .routes.filter((r) => r.dst.len === 0)
        .map(routeText),
    ).toEqual(["::/0 via fd00::1 dev eth1 static", "0.0.0.0/0 via 10.0.2.2 dev eth0 static"]);
  });

  it("bind '*' is the wildcard for services and relays; a rule's dnat condition and an empty match are kept and shown", () => {
    const net = lowerText(`
segments: { lan: 192.168.1.0/24 }
machines:
  m:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      eth1: { segment: lan }
    services: [ { port: 80, bind: "*" } ]
    relays: [ { port: 81, bind: "*", to: 192.168.1.20, toPort: 80 } ]
    firewall:
      forward:
        rules:
          - { action: drop, dnat: false }
          - { action: accept }
`);
    const m = machine(net, "m");
    expect(m.sockets.map((s) => `${s.port} ${formatIP(s.bind)}`)).toEqual(["80 0.0.0.0", "81 0.0.0.0"]);
    expect(m.filter.forward.rules.map((r) => r.match)).toEqual([{ ctDnat: false }, {}]);
    const block = showBlock(net, "m");
    expect(block.filter((l) => /^ {6}\d\. /.test(l)).map((l) => l.replace(/ {3}#.*/, ""))).toEqual([
      "      1. not ct status dnat -> drop",
      "      2. any -> accept",
    ]);
    expect(block).toContain("    eth1       -  on lan");
  });
});

describe("a gateway reached through an on-link static route", () => {
  it("takes the device of that route, never of an earlier route that has a gateway itself", () => {
    const net = lowerText(`
segments: { a: 192.168.1.0/24, b: 192.168.2.0/24 }
machines:
  m:
    interfaces:
      eth0: { segment: a, addresses: [192.168.1.10/24] }
      eth1: { segment: b, addresses: [192.168.2.10/24] }
    routes:
      - { to: 10.0.0.0/8, via: 192.168.1.1, dev: eth0 }
      - { to: 10.50.0.0/16, dev: eth1 }
      - { to: 10.60.0.0/16, via: 10.50.0.1 }
`);
    expect(
      machine(net, "m")
        .routes.filter((r) => r.type === "static")
        .map(routeText),
    ).toEqual(["10.0.0.0/8 via 192.168.1.1 dev eth0 static", "10.50.0.0/16 dev eth1 static", "10.60.0.0/16 via 10.50.0.1 dev eth1 static"]);
  });
});

describe("a gateway covered by two on-link routes (found by mutation testing)", () => {
  it("takes the device of the longest prefix, as the kernel's lookup of the gateway does", () => {
    const net = lowerText(`
segments: { a: 192.168.1.0/24, b: 192.168.2.0/24 }
machines:
  m:
    interfaces:
      eth0: { segment: a, addresses: [192.168.1.10/24] }
      eth1: { segment: b, addresses: [192.168.2.10/24] }
    routes:
      - { to: 10.0.0.0/8, dev: eth0 }
      - { to: 10.50.0.0/16, dev: eth1 }
      - { to: 10.60.0.0/16, via: 10.50.0.1 }
      - { to: 10.70.0.0/16, via: 10.9.0.1 }
`);
    const statics = machine(net, "m").routes.filter((r) => r.type === "static");
    expect(statics.map(routeText).slice(2)).toEqual([
      "10.60.0.0/16 via 10.50.0.1 dev eth1 static",
      "10.70.0.0/16 via 10.9.0.1 dev eth0 static",
    ]);
  });
});

describe("names and leftovers", () => {
  it("a route's origin names its gateway and metric only when it has them; a declared host-only network nobody uses is still made", () => {
    const net = lowerText(`
segments: { lan: 192.168.1.0/24 }
machines:
  m:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    hostonly: { vboxnet5: { addresses: [192.168.60.1/24] } }
    routes:
      - { to: 10.50.0.0/16, dev: eth0 }
      - { to: 10.60.0.0/16, via: 192.168.1.1, metric: 7 }
incomplete: [ { at: "m", what: "a firewall reach could not read" } ]
`);
    const m = machine(net, "m");
    expect(m.routes.filter((r) => r.type === "static").map((r) => r.origin.what)).toEqual([
      "route 10.50.0.0/16",
      "route 10.60.0.0/16 via 192.168.1.1 metric 7",
    ]);
    expect(m.interfaces.map((i) => i.name)).toEqual(["lo", "eth0", "vboxnet5"]);
    expect(net.incomplete).toEqual([{ at: "m", what: "a firewall reach could not read" }]);
  });

  it("a NAT Network forward without a name is named after its network", () => {
    const net = lowerText(`
natnetworks:
  lab: { network: 10.0.9.0/24, forwards: [ { hostPort: 8080, guestIp: 10.0.9.5, guestPort: 80 } ] }
machines:
  host: {}
  a: { vm: { on: host, adapters: [ { mode: natnetwork, network: lab, addresses: [10.0.9.5/24] } ] } }
`);
    expect(machine(net, "host").sockets.map((s) => `${s.owner} | ${s.origin.what}`)).toEqual([
      "VirtualBox NAT forward | port forward of NAT Network 'lab'",
    ]);
  });
});

describe("edge prefixes", () => {
  it("connected routes of two families never merge, even with equal network numbers and lengths (0.0.0.0/24 and ::/24)", () => {
    const net = lowerText(`
segments: { odd: { subnets: [0.0.0.0/24, "::/24"] } }
machines:
  m:
    interfaces: { eth0: { segment: odd, addresses: [0.0.0.5/24, "::5/24"] } }
`);
    expect(
      machine(net, "m")
        .routes.filter((r) => r.type === "connected")
        .map(routeText),
    ).toEqual(["0.0.0.0/24 dev eth0 connected", "::/24 dev eth0 connected"]);
  });

  it("a NAT Network counts only the hosts of VMs on it, not of VMs whose other kind of network shares its name", () => {
    const net = lowerText(`
natnetworks:
  shared: { network: 10.0.7.0/24 }
machines:
  h1: {}
  h2: {}
  a: { vm: { on: h1, adapters: [ { mode: natnetwork, network: shared, addresses: [10.0.7.5/24] } ] } }
  b: { vm: { on: h2, adapters: [ { mode: internal, network: shared, addresses: [10.0.7.6/24] } ] } }
`);
    expect(net.machines.filter((m) => m.kind === "nat-engine").map((m) => m.name)).toEqual(["natnetwork-shared"]);
  });
});
