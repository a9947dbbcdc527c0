/**
 * Lowering's own logic, on small inline topologies: each test names one IR fact that lower()
 * must produce (VirtualBox NAT engines and relays, `dst: local` expansion, router defaults,
 * route order, host-only DHCP) and fails when lowering stops producing it.
 */
import { describe, expect, it } from "vitest";
import { lower } from "../../src/lower/lower.js";
import { formatIP, formatPrefix, type IP, type Prefix } from "../../src/net/addr.js";
import type { Machine, Match, Network, Route } from "../../src/ir/types.js";
import { loadTopologyText } from "../../src/topology/load.js";

const lowerText = (text: string): Network => lower(loadTopologyText("inline.yaml", text).topology);
const machine = (net: Network, name: string): Machine => {
  const m = net.machines.find((x) => x.name === name);
  if (!m) throw new Error(`no machine ${name} in ${net.machines.map((x) => x.name).join(", ")}`);
  return m;
};
const ip = (a: IP) => formatIP(a);
const pfx = (p: Prefix | undefined) => (p ? formatPrefix(p) : "-");
const routeText = (r: Route) => `${formatPrefix(r.dst)}${r.via ? ` via ${formatIP(r.via)}` : ""} dev ${r.dev || "?"} ${r.type}`;
const matchDst = (m: Match) => pfx(m.dst);

const NAT_VM = `
segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards:
            - { name: ssh, proto: tcp, hostPort: 2222, guestPort: 22 }
            - { name: admin, proto: tcp, hostIp: 127.0.0.1, hostPort: 9000, guestPort: 9000 }
            - { name: dns, proto: udp, hostPort: 5353, guestPort: 53 }
            - { name: low, proto: tcp, hostPort: 80, guestPort: 80 }
`;

describe("VirtualBox NAT adapter", () => {
  const net = lowerText(NAT_VM);

  it("creates a nat-engine machine with the gateway 10.0.2.2 and DNS 10.0.2.3 on the VM's private segment", () => {
    const engine = machine(net, "guest-nat");
    expect(engine.kind).toBe("nat-engine");
    const nat = engine.interfaces.find((i) => i.name === "nat");
    expect(nat?.segment).toBe("guest/nat1");
    expect(nat?.addrs.map((a) => `${ip(a.ip)}/${a.len}`)).toEqual(["10.0.2.2/24", "10.0.2.3/24"]);
    expect(engine.engine && { host: engine.engine.host, gw: ip(engine.engine.gateway), loop: ip(engine.engine.loopbackAddress) }).toEqual({
      host: "host",
      gw: "10.0.2.2",
      loop: "10.0.2.2",
    });
    expect(engine.engine?.loopbackReachable).toBe(false);
    expect(engine.sockets.map((s) => `${s.proto} ${ip(s.bind)}:${s.port}`)).toEqual(["udp 10.0.2.3:53", "tcp 10.0.2.3:53"]);
    expect(net.segments.find((s) => s.name === "guest/nat1")?.subnets.map(pfx)).toEqual(["10.0.2.0/24"]);
  });

  it("puts the guest at 10.0.2.15 with a DHCP default route via 10.0.2.2", () => {
    const guest = machine(net, "guest");
    const eth0 = guest.interfaces.find((i) => i.name !== "lo");
    expect(eth0?.segment).toBe("guest/nat1");
    expect(eth0?.addrs.map((a) => `${ip(a.ip)}/${a.len}`)).toEqual(["10.0.2.15/24"]);
    expect(guest.routes.filter((r) => r.dst.len === 0).map(routeText)).toEqual([`0.0.0.0/0 via 10.0.2.2 dev ${eth0?.name} static`]);
  });

  it("gives the host one relay socket per forward it can bind (none below 1024 unless asRoot)", () => {
    const relays = machine(net, "host").sockets.filter((s) => s.role.kind === "relay");
    expect(relays.map((s) => `${s.proto} ${ip(s.bind)}:${s.port}`)).toEqual(["tcp 0.0.0.0:2222", "tcp 127.0.0.1:9000", "udp 0.0.0.0:5353"]);
    for (const s of relays) {
      expect(s.role.kind === "relay" && { engine: s.role.engine, to: ip(s.role.to), gateway: ip(s.role.gateway!) }).toEqual({
        engine: "guest-nat",
        to: "10.0.2.15",
        gateway: "10.0.2.2",
      });
    }
    expect(relays.map((s) => (s.role.kind === "relay" ? s.role.toPort : 0))).toEqual([22, 9000, 53]);
    expect(relays.map((s) => s.owner)).toEqual([
      'VirtualBox NAT forward "ssh"',
      'VirtualBox NAT forward "admin"',
      'VirtualBox NAT forward "dns"',
    ]);
  });

  it("binds a forward below 1024 when VirtualBox runs as root", () => {
    const root = lowerText(NAT_VM.replace("on: host", "on: host\n      asRoot: true"));
    expect(
      machine(root, "host")
        .sockets.filter((s) => s.role.kind === "relay")
        .map((s) => s.port),
    ).toEqual([2222, 9000, 5353, 80]);
  });

  it("names a second NAT adapter's engine and segment after its slot", () => {
    const two = lowerText(NAT_VM.replace("        - mode: nat\n", "        - mode: nat\n          forwards: []\n        - mode: nat\n"));
    expect(two.machines.filter((m) => m.kind === "nat-engine").map((m) => m.name)).toEqual(["guest-nat", "guest-nat2"]);
    expect(machine(two, "guest-nat2").interfaces.find((i) => i.name === "nat")?.segment).toBe("guest/nat2");
    // VirtualBox numbers the NAT network of slot N 10.0.(N+1).0/24
    expect(machine(two, "guest-nat2").engine && ip(machine(two, "guest-nat2").engine!.gateway)).toBe("10.0.3.2");
    // DHCP: one default route per family, the first adapter's.
    expect(machine(two, "guest").routes.filter((r) => r.dst.len === 0).length).toBe(1);
  });
});

describe("dst: local", () => {
  const net = lowerText(`
segments: { lan: 192.168.1.0/24, dmz: 10.9.0.0/24 }
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24, "2001:db8::10/64"] }
      eth1: { segment: dmz, addresses: [10.9.0.1/24, 10.9.0.2/24] }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, proto: tcp, dport: 22 }
          - { action: accept, dst: local, proto: tcp, dport: 80 }
          - { action: drop, dst: local, src: 192.168.1.0/24 }
          - { action: accept, dst: 10.9.0.1 }
    nat:
      - { action: dnat, chain: prerouting, dst: local, proto: tcp, dport: 8080, to: 10.9.0.5, toPort: 80 }
      - { action: dnat, chain: output, dst: 192.0.2.1, to: 10.9.0.5 }
  vm:
    vm: { on: host, adapters: [ { mode: hostonly } ] }
`);
  const host = machine(net, "host");

  it("expands to one rule per local prefix, consecutive, in interface order, including interfaces added later (host-only)", () => {
    const rules = host.filter.input.rules;
    expect(rules.map((r) => `${r.action} ${matchDst(r.match)}`)).toEqual([
      "accept -",
      "accept 127.0.0.0/8",
      "accept ::1/128",
      "accept 192.168.1.10/32",
      "accept 2001:db8::10/128",
      "accept 10.9.0.1/32",
      "accept 10.9.0.2/32",
      "accept 192.168.56.1/32",
      "drop 127.0.0.0/8",
      "drop 192.168.1.10/32",
      "drop 10.9.0.1/32",
      "drop 10.9.0.2/32",
      "drop 192.168.56.1/32",
      "accept 10.9.0.1/32",
    ]);
    // every copy keeps the rest of the match and the origin of the one rule written
    for (const r of rules.slice(1, 8)) {
      expect(r.match.dport).toEqual({ lo: 80, hi: 80 });
      expect(r.origin.what).toBe("input rule 2");
    }
  });

  it("expands NAT rules too, in the chain the file names", () => {
    expect(host.nat.output.map((r) => matchDst(r.match))).toEqual(["192.0.2.1/32"]);
    expect(host.nat.prerouting.map((r) => matchDst(r.match))).toEqual([
      "127.0.0.0/8",
      "::1/128",
      "192.168.1.10/32",
      "2001:db8::10/128",
      "10.9.0.1/32",
      "10.9.0.2/32",
      "192.168.56.1/32",
    ]);
  });

  it("leaves machines without such rules untouched", () => {
    expect(machine(net, "vm").filter.input.rules).toEqual([]);
  });
});

const ROUTER = `
segments: { lan: 192.168.1.0/24, lan2: 192.168.7.0/24, internet: 203.0.113.0/24 }
machines:
  router:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      lan1: { segment: lan2, addresses: [192.168.7.1/24] }
      wan0: { segment: internet, addresses: [203.0.113.2/24] }
    router:
      wan: wan0
      forwards: [ { name: https, proto: tcp, port: 443, to: 192.168.1.50 }, { proto: udp, port: 5000, to: 192.168.7.9, toPort: 6000 } ]
`;

describe("home router", () => {
  it("gets forwarding, masquerade out of the WAN and a DNAT per forward on the WAN address", () => {
    const r = machine(lowerText(ROUTER), "router");
    expect(r.ipForward).toBe(true);
    expect(r.nat.postrouting.map((x) => `${x.action.kind} out ${x.match.out} src ${pfx(x.match.src)}`)).toEqual([
      "masquerade out wan0 src 0.0.0.0/0",
    ]);
    expect(
      r.nat.prerouting.map(
        (x) =>
          `${x.match.in} ${x.match.proto} ${pfx(x.match.dst)}:${x.match.dport?.lo} -> ${x.action.kind === "dnat" ? `${ip(x.action.to)}:${x.action.toPort}` : "?"}`,
      ),
    ).toEqual(["wan0 tcp 203.0.113.2/32:443 -> 192.168.1.50:443", "wan0 udp 203.0.113.2/32:5000 -> 192.168.7.9:6000"]);
  });

  it("without a firewall in the file gets the stateful default: LAN and lo in, WAN only port-forwarded", () => {
    const r = machine(lowerText(ROUTER), "router");
    const text = (rules: Machine["filter"]["input"]["rules"]) =>
      rules.map((x) => `${x.action} ${x.match.state?.join(",") ?? ""}${x.match.in ?? ""}${x.match.ctDnat ? " dnat" : ""}`);
    expect(r.filter.input.policy).toBe("drop");
    expect(text(r.filter.input.rules)).toEqual([
      "accept established,related",
      "accept lan0",
      "accept lan1",
      "accept lo",
      "accept wan0 dnat",
    ]);
    expect(r.filter.forward.policy).toBe("drop");
    expect(text(r.filter.forward.rules)).toEqual(["accept established,related", "accept lan0", "accept lan1", "accept wan0 dnat"]);
    expect(r.filter.output).toEqual({ name: "output", policy: "accept", rules: [] });
  });

  it("without forwards has no port-forwarded accept", () => {
    const r = machine(lowerText(ROUTER.replace(/forwards: .*\n/, "hairpin: false\n")), "router");
    expect(r.filter.input.rules.some((x) => x.match.ctDnat)).toBe(false);
    expect(r.nat.prerouting).toEqual([]);
  });

  it("keeps the file's firewall instead of the default", () => {
    const r = machine(lowerText(ROUTER.replace("    router:\n", "    firewall: { forward: { policy: accept } }\n    router:\n")), "router");
    expect(r.filter.input).toEqual({ name: "input", policy: "accept", rules: [] });
    expect(r.filter.forward.policy).toBe("accept");
    expect(r.filter.forward.rules).toEqual([]);
  });

  it("with hairpin DNATs from each LAN too and SNATs LAN -> server ahead of the masquerade", () => {
    const r = machine(lowerText(ROUTER.replace("wan: wan0", "wan: wan0\n      hairpin: true")), "router");
    expect(r.nat.prerouting.map((x) => `${x.match.in} ${x.match.dport?.lo}`)).toEqual([
      "wan0 443",
      "lan0 443",
      "lan1 443",
      "wan0 5000",
      "lan0 5000",
      "lan1 5000",
    ]);
    expect(r.nat.postrouting.map((x) => `${x.match.out ?? ""} ${pfx(x.match.src)} ${pfx(x.match.dst)} ${x.match.dport?.lo ?? ""}`)).toEqual(
      [
        "lan1 192.168.7.0/24 192.168.7.9/32 6000",
        "lan0 192.168.1.0/24 192.168.7.9/32 6000",
        "lan1 192.168.7.0/24 192.168.1.50/32 443",
        "lan0 192.168.1.0/24 192.168.1.50/32 443",
        "wan0 0.0.0.0/0 - ",
      ],
    );
  });
});

describe("routes", () => {
  it("are connected (lo first), then static in file order with dev resolved, then the DHCP default", () => {
    const net = lowerText(`
segments: { lan: 192.168.1.0/24, far: 10.1.0.0/16, lab: 172.16.0.0/24 }
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      eth1: { segment: lab, addresses: [172.16.0.10/24] }
    routes:
      - { to: 10.1.0.0/16, via: 192.168.1.254 }
      - { to: 10.2.0.0/16, dev: eth1 }
      - { to: 10.3.0.0/16, via: 10.2.0.1 }
  vm:
    vm:
      on: host
      adapters: [ { mode: bridged, bridge: eth0, addresses: [192.168.1.30/24], gateway: 192.168.1.1 }, { mode: nat } ]
    routes: [ { to: 10.1.0.0/16, via: 192.168.1.254 } ]
`);
    expect(machine(net, "host").routes.map(routeText)).toEqual([
      "127.0.0.0/8 dev lo local",
      "::1/128 dev lo local",
      "192.168.1.0/24 dev eth0 connected",
      "172.16.0.0/24 dev eth1 connected",
      "10.1.0.0/16 via 192.168.1.254 dev eth0 static",
      "10.2.0.0/16 dev eth1 static",
      "10.3.0.0/16 via 10.2.0.1 dev eth1 static",
    ]);
    const vm = machine(net, "vm");
    const [a1, a2] = vm.interfaces.filter((i) => i.name !== "lo").map((i) => i.name);
    expect(vm.routes.map(routeText)).toEqual([
      "127.0.0.0/8 dev lo local",
      "::1/128 dev lo local",
      `192.168.1.0/24 dev ${a1} connected`,
      `10.0.3.0/24 dev ${a2} connected`,
      `10.1.0.0/16 via 192.168.1.254 dev ${a1} static`,
      `0.0.0.0/0 via 192.168.1.1 dev ${a1} static`,
    ]);
  });

  it("drop the DHCP default when the file has its own default for that family", () => {
    const net = lowerText(`
machines:
  host: {}
  vm:
    vm: { on: host, adapters: [ { mode: nat } ] }
    routes: [ { to: default, via: 10.0.2.99 } ]
`);
    expect(
      machine(net, "vm")
        .routes.filter((r) => r.dst.len === 0)
        .map(routeText),
    ).toEqual(["0.0.0.0/0 via 10.0.2.99 dev eth0 static"]);
  });
});

describe("host-only adapters", () => {
  it("give the host vboxnet0 192.168.56.1/24 and DHCP leases from .101, skipping static addresses", () => {
    const net = lowerText(`
machines:
  host: {}
  a: { vm: { on: host, adapters: [ { mode: hostonly } ] } }
  b: { vm: { on: host, adapters: [ { mode: hostonly, addresses: [192.168.56.102/24] } ] } }
  c: { vm: { on: host, adapters: [ { mode: hostonly } ] } }
`);
    const vbox = machine(net, "host").interfaces.find((i) => i.name === "vboxnet0");
    expect(vbox && { seg: vbox.segment, addrs: vbox.addrs.map((x) => `${ip(x.ip)}/${x.len}`) }).toEqual({
      seg: "host/vboxnet0",
      addrs: ["192.168.56.1/24"],
    });
    const addr = (name: string) =>
      machine(net, name)
        .interfaces.filter((i) => i.name !== "lo")
        .flatMap((i) => i.addrs.map((x) => ip(x.ip)));
    expect([addr("a"), addr("b"), addr("c")]).toEqual([["192.168.56.101"], ["192.168.56.102"], ["192.168.56.103"]]);
  });
});

describe("NAT Network", () => {
  it("is one shared engine at .1 with the host's loopback at .2 and the network's forwards relayed from the host", () => {
    const net = lowerText(`
natnetworks:
  labnet:
    network: 10.0.5.0/24
    forwards: [ { name: web, hostPort: 8080, guestIp: 10.0.5.6, guestPort: 80 } ]
machines:
  host: {}
  a: { vm: { on: host, adapters: [ { mode: natnetwork, network: labnet, addresses: [10.0.5.5/24] } ] } }
  b: { vm: { on: host, adapters: [ { mode: natnetwork, network: labnet, addresses: [10.0.5.6/24] } ] } }
`);
    const engines = net.machines.filter((m) => m.kind === "nat-engine");
    expect(engines.map((m) => m.name)).toEqual(["natnetwork-labnet"]);
    expect(engines[0]!.interfaces.find((i) => i.name === "nat")?.addrs.map((a) => ip(a.ip))).toEqual(["10.0.5.1", "10.0.5.2"]);
    expect(engines[0]!.engine?.loopbackReachable).toBe(true);
    const relays = machine(net, "host").sockets.filter((s) => s.role.kind === "relay");
    expect(
      relays.map((s) => (s.role.kind === "relay" ? `${s.port} -> ${ip(s.role.to)}:${s.role.toPort} via ${s.role.engine}` : "")),
    ).toEqual(["8080 -> 10.0.5.6:80 via natnetwork-labnet"]);
    expect(
      machine(net, "b")
        .routes.filter((r) => r.dst.len === 0)
        .map(routeText),
    ).toEqual(["0.0.0.0/0 via 10.0.5.1 dev eth0 static"]);
  });
});

// Filter rules written with the same plain conditions share one match object (rules.ts
// sharedMatch, issue 19): the key must never make two different rules' conditions one.
describe("shared matches", () => {
  const RULES = `
segments: { lan: 10.0.0.0/24 }
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: [10.0.0.1/24] }
      "undefined": { segment: lan }
    firewall:
      input:
        rules:
          - { action: drop, proto: tcp, dport: 80 }
          - { action: drop, in: "undefined" }
          - { action: drop }
          - { action: drop, proto: udp, sport: 1, dport: 22 }
          - { action: drop, proto: udp, sport: 12, dport: 2 }
          - { action: drop, proto: tcp, dport: 22, sport: 1000-2000 }
          - { action: drop, proto: tcp, sport: 22, dport: 1000-2000 }
          - { action: drop, proto: tcp, dport: "80" }
  b:
    interfaces: { eth0: { segment: lan, addresses: [10.0.0.2/24] } }
    firewall:
      input:
        rules:
          - { action: accept, proto: tcp, dport: 80, comment: "same conditions, other action" }
          - { action: drop, dst: local }
          - { action: drop, state: [new], proto: tcp, dport: 80 }
`;
  const net = lowerText(RULES);
  const rules = (m: string) => machine(net, m).filter.input.rules;
  const [http, undef, none, colon, split, d22, s22, httpText] = rules("a");

  it("keeps apart conditions whose texts a naive key would join", () => {
    expect(undef!.match).toEqual({ in: "undefined" });
    expect(none!.match).toEqual({});
    expect(colon!.match).toEqual({ proto: "udp", sport: { lo: 1, hi: 1 }, dport: { lo: 22, hi: 22 } });
    expect(split!.match).toEqual({ proto: "udp", sport: { lo: 12, hi: 12 }, dport: { lo: 2, hi: 2 } });
    expect(d22!.match.dport).toEqual({ lo: 22, hi: 22 });
    expect(d22!.match.sport).toEqual({ lo: 1000, hi: 2000 });
    expect(s22!.match.sport).toEqual({ lo: 22, hi: 22 });
    expect(
      new Set(
        rules("a")
          .slice(0, 7)
          .map((r) => r.match),
      ).size,
    ).toBe(7);
  });

  it("shares one match between rules with the same conditions, on any machine, whatever their action", () => {
    expect(httpText!.match).toBe(http!.match);
    expect(rules("b")[0]!.match).toBe(http!.match);
    expect(rules("b")[0]!.action).toBe("accept");
  });

  it("gives a rule with a state list or dst: local its own", () => {
    const [, ...rest] = rules("b");
    const stated = rest.pop();
    expect(stated!.match).not.toBe(http!.match);
    expect(stated!.match).toEqual({ proto: "tcp", dport: { lo: 80, hi: 80 }, state: ["new"] });
    // one copy of the dst: local rule per local prefix, each its own match
    expect(rest.map((r) => pfx(r.match.dst))).toEqual(["127.0.0.0/8", "::1/128", "10.0.0.2/32"]);
    expect(new Set(rest.map((r) => r.match)).size).toBe(3);
  });
});
