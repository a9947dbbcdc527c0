/**
 * The NAT adapter's engine (VirtualBox or QEMU's user network) and IPv6 (issue 20): the
 * checker's refusals, the defaults each engine brings, the words answers use, and the causes
 * that name the engine's settings.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { formatIP } from "../../src/net/addr.js";
import { diagnose } from "../../src/query/causes.js";
import type { Network } from "../../src/ir/types.js";

function codes(yaml: string): string[] {
  try {
    lower(loadTopologyText("nat.yaml", yaml).topology);
    return [];
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.span.line}`);
    throw e;
  }
}

const guest = (adapters: string) => `machines:
  host: {}
  guest:
    vm: { on: host, adapters: [ ${adapters} ] }
`;

const build = (yaml: string): Network => lower(loadTopologyText("nat.yaml", yaml).topology);

describe("checker", () => {
  it("VirtualBox's NAT mode has no IPv6: ipv6: true and ipv6Network are RCH035", () => {
    expect(codes(guest("{ mode: nat, ipv6: true }"))).toEqual(["RCH035 4"]);
    expect(codes(guest("{ mode: nat, engine: virtualbox, ipv6Network: fd00::/64 }"))).toEqual(["RCH035 4"]);
    expect(codes(guest("{ mode: nat, ipv6: false }"))).toEqual([]);
  });
  it("QEMU's IPv6 network must be an IPv6 /64 (SLAAC): RCH011 otherwise", () => {
    for (const bad of ["fd00::/48", "10.0.2.0/24", "fd00::1/64", "nope"])
      expect(codes(guest(`{ mode: nat, engine: qemu, ipv6Network: "${bad}" }`))).toEqual(["RCH011 4"]);
    expect(codes(guest(`{ mode: nat, engine: qemu, ipv6: false, ipv6Network: "fd00::/48" }`))).toEqual([]);
  });
  it("a service may bind the guest's SLAAC address", () => {
    expect(codes(`${guest("{ mode: nat, engine: qemu }")}    services: [ { port: 22, bind: "fec0::5054:ff:fe12:3456" } ]\n`)).toEqual([]);
    expect(
      codes(`${guest("{ mode: nat, engine: qemu, ipv6: false }")}    services: [ { port: 22, bind: "fec0::5054:ff:fe12:3456" } ]\n`),
    ).toEqual(["RCH036 5"]);
  });
});

describe("lowering", () => {
  it("QEMU: every adapter 10.0.2.0/24, IPv6 on fec0::/64 with the MAC's SLAAC address, loopback reachable, named QEMU", () => {
    const net = build(`machines:
  host: {}
  guest:
    vm: { on: host, adapters: [ { mode: nat, engine: qemu }, { mode: nat, engine: qemu, forwards: [ { name: web, hostPort: 8080, guestPort: 80 } ] } ] }
`);
    const g = net.machines.find((m) => m.name === "guest")!;
    expect(g.interfaces.filter((i) => i.name !== "lo").map((i) => i.addrs.map((a) => `${formatIP(a.ip)}/${a.len}`))).toEqual([
      ["10.0.2.15/24", "fec0::5054:ff:fe12:3456/64"],
      ["10.0.2.15/24", "fec0::5054:ff:fe12:3457/64"],
    ]);
    const e = net.machines.find((m) => m.name === "guest-nat2")!;
    expect(e.engine).toMatchObject({ kind: "qemu", loopbackReachable: true });
    expect(formatIP(e.engine!.loopbackAddress6!)).toBe("fec0::2");
    expect(e.origin.what).toBe("QEMU user network (libslirp) of guest's nat adapter 2");
    expect(net.machines.find((m) => m.name === "host")!.sockets.map((s) => s.owner)).toEqual(['QEMU hostfwd "web"']);
  });
  it("VirtualBox: no IPv6, 10.0.(slot+2).0/24, loopback not reachable, named VirtualBox", () => {
    const net = build(guest("{ mode: nat }, { mode: nat }"));
    const g = net.machines.find((m) => m.name === "guest")!;
    expect(g.interfaces.filter((i) => i.name !== "lo").map((i) => i.addrs.map((a) => formatIP(a.ip)))).toEqual([
      ["10.0.2.15"],
      ["10.0.3.15"],
    ]);
    const e = net.machines.find((m) => m.name === "guest-nat")!;
    expect(e.engine).toMatchObject({ kind: "virtualbox", loopbackReachable: false });
    expect(e.engine!.loopbackAddress6).toBeUndefined();
  });
});

describe("causes", () => {
  const q = (text: string) => {
    const p = parseQuery(text);
    if (!p.ok) throw new Error(p.message);
    return p.query;
  };
  it("ipv6=off and a host service on [::1] only: NAT_IPV6_OFF at the adapter", () => {
    const net = build(
      `segments: { lan: 192.168.1.0/24 }\n${guest("{ mode: nat, engine: qemu, ipv6: false }").replace(
        "host: {}",
        'host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }, services: [ { name: vite, port: 5173, bind: "::1" } ] }',
      )}`,
    );
    const d = diagnose(net, q("guest -> host:5173/tcp"), []);
    expect(d.causes.map((c) => [c.code, c.at.line])).toEqual([["NAT_IPV6_OFF", 5]]);
    expect(d.causes[0]!.text).toContain("ipv6=off");
  });
  it("a reply leaving by the NAT NIC with the LAN source: REPLY_OTHER_INTERFACE at the guest's default route, naming the reject", () => {
    const net = build(`segments: { nat: 192.168.122.0/24, lan: 192.168.1.0/24, far: 10.1.0.0/24 }
machines:
  kvm:
    interfaces: { eth0: { segment: nat, addresses: [192.168.122.3/24] }, eth1: { segment: lan, addresses: [192.168.1.50/24] } }
    routes: [ { to: default, via: 192.168.122.1 } ]
    services: [ { port: 80 } ]
  host:
    interfaces: { virbr0: { segment: nat, addresses: [192.168.122.1/24] }, eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    ip_forward: true
    firewall: { forward: { rules: [ { action: accept, in: virbr0, src: 192.168.122.0/24 }, { action: reject, in: virbr0 } ] } }
  gw:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] }, eth1: { segment: far, addresses: [10.1.0.1/24] } }
    ip_forward: true
  pc:
    interfaces: { eth0: { segment: far, addresses: [10.1.0.20/24] } }
    routes: [ { to: default, via: 10.1.0.1 } ]
`);
    const d = diagnose(net, q("pc -> 192.168.1.50:80/tcp"), []);
    expect(d.causes.map((c) => [c.code, c.machine, c.at.line, c.symptom])).toEqual([["REPLY_OTHER_INTERFACE", "kvm", 5, "timeout"]]);
    expect(d.causes[0]!.text).toContain("host's forward rule 2");
  });
});
