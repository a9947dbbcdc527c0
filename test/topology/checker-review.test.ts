/**
 * Regressions from the review of the checker (2026-11-23): inputs that crashed the
 * lowering, valid setups that were refused, and clashes that silently changed the answer.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { ask } from "../../src/query/dials.js";

function codes(yaml: string): string[] {
  try {
    lower(loadTopologyText("checker.yaml", yaml).topology);
    return [];
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.filter((d) => d.severity === "error").map((d) => d.code);
    throw e;
  }
}

describe("checker review (2026-11-23)", () => {
  it("a NAT Network given as a bare address is RCH011, not a crash", () => {
    expect(
      codes(`natnetworks:
  nn: { network: 10.0.2.5 }
machines:
  host: {}
  vm1:
    vm: { on: host, adapters: [ { mode: natnetwork, network: nn, addresses: [10.0.2.5/32] } ] }
`),
    ).toContain("RCH011");
  });

  it("a host-only network without an IPv4 host address cannot serve DHCP: RCH035, not a crash", () => {
    expect(
      codes(`machines:
  host:
    hostonly: { vboxnet0: { addresses: ["fd00::1/64"] } }
  vm1:
    vm: { on: host, adapters: [ { mode: hostonly } ] }
`),
    ).toEqual(["RCH035"]);
  });

  it("a machine named like a NAT engine is a name clash (RCH030)", () => {
    expect(
      codes(`segments: { lan: 192.168.1.0/24 }
machines:
  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  vm1: { vm: { on: host, adapters: [ { mode: nat } ] } }
  vm1-nat:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`),
    ).toEqual(["RCH030"]);
  });

  it("a declared interface named like the host's host-only network is a clash (RCH030)", () => {
    expect(
      codes(`segments: { lan: 192.168.1.0/24 }
machines:
  host: { interfaces: { vboxnet0: { segment: lan, addresses: [192.168.1.10/24] } } }
  vm1:
    vm: { on: host, adapters: [ { mode: hostonly } ] }
  vm2:
    vm: { on: host, adapters: [ { mode: hostonly } ] }
`),
    ).toEqual(["RCH030"]);
  });

  it.each([
    ["internal", "{ mode: internal, addresses: [10.9.0.1/24] }"],
    ["host-only", "{ mode: hostonly, addresses: [192.168.56.10/24] }"],
    ["NAT Network", "{ mode: natnetwork, network: nn, addresses: [10.0.2.5/24] }"],
  ])("the same %s address on two hosts is fine (separate networks)", (_, adapter) => {
    expect(
      codes(`natnetworks: { nn: {} }
machines:
  h1: {}
  h2: {}
  a: { vm: { on: h1, adapters: [ ${adapter} ] } }
  b: { vm: { on: h2, adapters: [ ${adapter} ] } }
`),
    ).toEqual([]);
  });

  it("an IPv6 link-local gateway with its dev is accepted", () => {
    expect(
      codes(`segments: { lan: { subnets: [192.168.1.0/24, "2001:db8:1::/64"] } }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "2001:db8:1::10/64"] } }
    routes: [ { to: default6, via: "fe80::1", dev: eth0 } ]
`),
    ).toEqual([]);
  });

  it("port 0 is valid in firewall port ranges", () => {
    expect(
      codes(`machines:
  a:
    firewall: { input: { rules: [ { action: drop, proto: tcp, dport: "0-1023" }, { action: drop, proto: udp, sport: 0 } ] } }
`),
    ).toEqual([]);
  });

  it("a NAT Network forward clashing with a host service is RCH032", () => {
    expect(
      codes(`natnetworks:
  nn: { forwards: [ { name: web, hostPort: 8080, guestIp: 10.0.2.5, guestPort: 80 } ] }
machines:
  host: { services: [ { name: proxy, port: 8080 } ] }
  vm1:
    vm: { on: host, adapters: [ { mode: natnetwork, network: nn, addresses: [10.0.2.5/24] } ] }
`),
    ).toEqual(["RCH032"]);
  });

  it("a NAT adapter network too small to hold the guest's .15 is RCH011", () => {
    expect(
      codes(`machines:
  host: {}
  vm1: { vm: { on: host, adapters: [ { mode: nat, network: 10.0.2.0/30 } ] } }
`),
    ).toEqual(["RCH011"]);
  });

  it("a bridged VM cannot take a LAN machine's address (RCH033)", () => {
    expect(
      codes(`segments: { lan: 192.168.1.0/24 }
machines:
  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
  vm: { vm: { on: host, adapters: [ { mode: bridged, bridge: eth0, addresses: [192.168.1.20/24] } ] } }
`),
    ).toEqual(["RCH033"]);
  });

  it("a query still answers after these checks (smoke)", () => {
    const net = lower(
      loadTopologyText(
        "ok.yaml",
        `machines:
  a: { services: [ { name: s, port: 80 } ] }
`,
      ).topology,
    );
    const q = parseQuery("a -> a:80/tcp");
    if (!q.ok) throw new Error(q.message);
    expect(ask(net, q.query).verdict).toBe("reachable");
  });

  it("two routes to one destination are refused (RTNETLINK: File exists)", () => {
    expect(
      codes(`segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 }, { to: default, via: 192.168.1.2 } ]
`),
    ).toEqual(["RCH030"]);
  });

  it("interface names longer than 15 characters, and an adapter named lo, are refused", () => {
    expect(
      codes(`segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces: { this-name-is-too-long: { segment: lan, addresses: [192.168.1.10/24] } }
  host: {}
  vm1: { vm: { on: host, adapters: [ { mode: internal, interface: lo, addresses: [10.9.0.1/24] } ] } }
`).sort(),
    ).toEqual(["RCH004", "RCH030"]);
  });

  it("a service bound to an address its machine does not have is RCH036 (EADDRNOTAVAIL)", () => {
    expect(
      codes(`segments: { lan: 192.168.1.0/24 }
machines:
  b:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: web, port: 80, bind: 192.168.1.99 }, { name: ok, port: 81, bind: 192.168.1.20 }, { name: lo2, port: 82, bind: 127.0.0.2 } ]
`),
    ).toEqual(["RCH036"]);
  });

  it("interface addresses the kernel refuses (unspecified, multicast, ::1) are RCH010", () => {
    expect(
      codes(`segments: { lan: "fd00::/64" }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: ["::1/128", "ff02::1/64", "::/0", "fd00::5/64"] } }
`),
    ).toEqual(["RCH010", "RCH010", "RCH010"]);
  });
});
