/**
 * Every class of bad input yields a diagnostic with its stable code, a useful
 * message, what was expected, and the exact 1-based line:col of the offending
 * node. Fixtures are written flush-left so that line and column can be read off
 * the test source; the expectations were counted by hand.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError, type Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";

const FILE = "t.yaml";

/** A fixture: the text after the opening backtick's newline, verbatim. */
const y = (s: TemplateStringsArray, ...v: unknown[]) => String.raw(s, ...v).replace(/^\n/, "");

/** All diagnostics of a file that must be rejected. */
function diags(source: string, file = FILE): Diagnostic[] {
  try {
    loadTopologyText(file, source);
  } catch (e) {
    if (e instanceof InputError) return [...e.diagnostics];
    throw e;
  }
  throw new Error("expected the file to be rejected, but it loaded");
}

/** The one error of a file that must be rejected for exactly one reason. */
function one(source: string): Diagnostic {
  const ds = diags(source).filter((d) => d.severity === "error");
  expect(ds.map((d) => `${d.span.line}:${d.span.col} ${d.code} ${d.message}`)).toHaveLength(1);
  return ds[0]!;
}

const at = (d: Diagnostic) => [d.span.line, d.span.col];

describe("syntax", () => {
  it("RCH002: an unterminated quoted string, positioned on its opening quote", () => {
    const d = one(y`
machines:
  host:
    description: "a laptop
`);
    expect(d.code).toBe("RCH002");
    expect(d.message).toMatch(/quot|clos/i);
    expect(d.expected).toBe("valid YAML or JSON");
    expect(at(d)).toEqual([3, 18]);
    expect(d.span.file).toBe(FILE);
  });

  it("accepts valid JSON", () => {
    const src = y`
{
  "segments": { "lan": "192.168.1.0/24" },
  "machines": {
    "host": { "interfaces": { "eth0": { "segment": "lan", "addresses": ["192.168.1.10/24"] } } }
  }
}
`;
    const loaded = loadTopologyText("t.json", src);
    expect(Object.keys(loaded.topology.doc.machines)).toEqual(["host"]);
    expect(loaded.warnings).toEqual([]);
  });

  it("RCH002: JSON with a missing comma, positioned on the item after the gap", () => {
    const ds = diags(
      y`
{
  "machines": {
    "host": {}
    "guest": {}
  }
}
`,
      "t.json",
    );
    expect(ds.length).toBeGreaterThanOrEqual(1);
    const d = ds[0]!;
    expect(d.code).toBe("RCH002");
    expect(d.message).toMatch(/,|comma/i);
    expect(d.expected).toBe("valid YAML or JSON");
    expect(d.span.file).toBe("t.json");
    expect(at(d)).toEqual([4, 5]);
  });

  it("RCH030: a duplicate mapping key, positioned on the second key and naming it", () => {
    const d = one(y`
machines:
  host: {}
  host: {}
`);
    expect(d.code).toBe("RCH030");
    expect(d.message).toMatch(/duplicate key/);
    expect(d.message).toContain("host");
    expect(d.expected).toBe("each key once");
    expect(at(d)).toEqual([3, 3]);
  });

  it("RCH030: a duplicate key inside a flow mapping", () => {
    const d = one(y`
machines:
  host:
    services:
      - { name: a, port: 1, name: b }
`);
    expect(d.code).toBe("RCH030");
    expect(d.message).toContain("name");
    expect(at(d)).toEqual([4, 29]);
  });

  it("RCH030: every duplicate key of a file is reported, in line order", () => {
    const ds = diags(y`
machines:
  a: {}
  a: {}
segments: {}
segments: {}
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH030", 3, 3],
      ["RCH030", 5, 1],
    ]);
  });

  it("RCH002: a tab used as indentation", () => {
    const d = one("machines:\n\thost: {}\n");
    expect(d.code).toBe("RCH002");
    expect(d.message).toMatch(/tab/i);
    expect(at(d)).toEqual([2, 1]);
  });

  it("RCH002: two YAML documents in one file, with a message for users, not for programmers", () => {
    const d = one(y`
machines: {}
---
machines: {}
`);
    expect(d.code).toBe("RCH002");
    expect(d.message).toMatch(/multiple documents/);
    expect(d.message).not.toMatch(/parseAllDocuments|YAML\./);
    expect(at(d)).toEqual([2, 1]);
  });

  it("an empty file says that 'machines:' is needed", () => {
    for (const src of ["", "# only a comment\n"]) {
      const d = one(src);
      expect(["RCH004", "RCH005"]).toContain(d.code);
      expect(`${d.message} / ${d.expected}`).toMatch(/machines/);
      expect(at(d)).toEqual([1, 1]);
    }
  });

  it("CRLF line endings do not shift positions", () => {
    const src = y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    services:
      - { name: web, port: 80, bind: 192.168.1.300 }
`.replace(/\n/g, "\r\n");
    const d = one(src);
    expect(d.code).toBe("RCH010");
    expect(at(d)).toEqual([8, 38]);
  });

  it("a UTF-8 byte order mark does not shift columns on line 1", () => {
    const d = one("\uFEFFsegmnts: {}\nmachines: {}\n");
    expect(d.code).toBe("RCH003");
    expect(at(d)).toEqual([1, 1]);
  });
});

describe("shape (RCH003 unknown key, RCH004 wrong type or value, RCH005 missing key)", () => {
  it("RCH003: unknown top-level key, on the key, listing the allowed keys", () => {
    const d = one(y`
machines:
  host: {}
segmnts:
  lan: 10.0.0.0/24
`);
    expect(d.code).toBe("RCH003");
    expect(d.message).toContain("'segmnts'");
    expect(d.expected).toMatch(/^allowed keys: /);
    for (const k of ["description", "segments", "natnetworks", "machines", "expect"]) expect(d.expected).toContain(k);
    expect(at(d)).toEqual([3, 1]);
  });

  it("RCH003: unknown key in a machine", () => {
    const d = one(y`
segments:
  lan: 10.0.0.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [10.0.0.1/24] }
    servces: []
`);
    expect(d.code).toBe("RCH003");
    expect(d.message).toContain("'servces'");
    expect(d.message).toContain("machines.host");
    expect(d.expected).toContain("services");
    expect(d.expected).toContain("interfaces");
    expect(at(d)).toEqual([7, 5]);
  });

  it("RCH003: unknown key in a firewall rule (flow mapping)", () => {
    const d = one(y`
segments:
  lan: 10.0.0.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [10.0.0.1/24] }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, proto: tcp, port: 22 }
`);
    expect(d.code).toBe("RCH003");
    expect(d.message).toContain("'port'");
    expect(d.expected).toContain("dport");
    expect(d.expected).toContain("action");
    expect(at(d)).toEqual([11, 43]);
  });

  it("RCH003: unknown key in a VM adapter", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forward: []
`);
    expect(d.code).toBe("RCH003");
    expect(d.message).toContain("'forward'");
    expect(d.expected).toContain("forwards");
    expect(at(d)).toEqual([8, 11]);
  });

  it("RCH004: a string where a boolean belongs", () => {
    const d = one(y`
machines:
  router:
    ip_forward: yes
`);
    expect(d.code).toBe("RCH004");
    expect(d.message).toContain("machines.router.ip_forward");
    expect(d.message).toContain('"yes"');
    expect(d.expected).toBe("true or false");
    expect(at(d)).toEqual([3, 17]);
  });

  it("RCH004: a list where a mapping belongs", () => {
    const d = one(y`
machines:
  host:
    interfaces: [eth0]
`);
    expect(d.code).toBe("RCH004");
    expect(d.message).toContain("a list");
    // the user wrote YAML: "a mapping", not zod's "record" / "object"
    expect(d.expected).toMatch(/mapping/);
    expect(at(d)).toEqual([3, 17]);
  });

  it("RCH004: a boolean port says a port was expected", () => {
    const d = one(y`
machines:
  host:
    services:
      - { name: web, port: true }
`);
    expect(d.code).toBe("RCH004");
    expect(d.message).toContain("port");
    expect(d.expected).toMatch(/port|number/i);
    expect(d.expected).not.toMatch(/invalid input/i);
    expect(at(d)).toEqual([4, 28]);
  });

  it("RCH005: missing required top-level key 'machines'", () => {
    const d = one(y`
segments:
  lan: 10.0.0.0/24
`);
    expect(d.code).toBe("RCH005");
    expect(d.message).toContain("'machines'");
    expect(d.expected).toMatch(/^machines: /);
    expect(at(d)).toEqual([1, 1]);
  });

  it("RCH005: a service without a port, positioned on the service", () => {
    const d = one(y`
machines:
  host:
    services:
      - { name: web, proto: tcp }
`);
    expect(d.code).toBe("RCH005");
    expect(d.message).toContain("'port'");
    expect(d.expected ?? "(no expected)").toMatch(/^port: /);
    expect(at(d)).toEqual([4, 9]);
  });

  it("RCH005: a VM without 'on', positioned on the vm mapping", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      adapters: []
`);
    expect(d.code).toBe("RCH005");
    expect(d.message).toContain("'on'");
    expect(d.expected).toMatch(/^on: /);
    expect(at(d)).toEqual([5, 7]);
  });

  it("RCH005: an adapter without 'mode' lists the modes", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - { forwards: [] }
`);
    expect(d.code).toBe("RCH005");
    expect(d.message).toContain("'mode'");
    for (const m of ["nat", "natnetwork", "bridged", "hostonly", "internal", "none"]) expect(d.expected ?? "(no expected)").toContain(m);
    expect(at(d)).toEqual([7, 11]);
  });

  it("RCH004: adapter mode 'natt' lists the modes", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - mode: natt
`);
    expect(d.code).toBe("RCH004");
    expect(d.message).toContain('"natt"');
    for (const m of ["nat", "natnetwork", "bridged", "hostonly", "internal", "none"]) expect(d.expected).toContain(m);
    expect(at(d)).toEqual([7, 17]);
  });

  it("RCH004: firewall action 'allow' lists accept, drop, reject", () => {
    const d = one(y`
machines:
  host:
    firewall:
      input:
        rules:
          - { action: allow, proto: tcp, dport: 22 }
`);
    expect(d.code).toBe("RCH004");
    expect(d.message).toContain('"allow"');
    expect(d.expected).toBe('one of "accept", "drop", "reject"');
    expect(at(d)).toEqual([6, 23]);
  });

  it("RCH004: NAT rule action 'dnatt' lists dnat, snat, masquerade", () => {
    const d = one(y`
machines:
  router:
    nat:
      - { action: dnatt, chain: prerouting, to: 10.0.0.2 }
`);
    expect(d.code).toBe("RCH004");
    expect(d.message).toContain('"dnatt"');
    for (const a of ["dnat", "snat", "masquerade"]) expect(d.expected).toContain(a);
    expect(at(d)).toEqual([4, 19]);
  });
});

describe("addresses, prefixes and ports", () => {
  it("RCH010: bad bind address", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    services:
      - { name: web, port: 80, bind: 192.168.1.300 }
`);
    expect(d.code).toBe("RCH010");
    expect(d.message).toContain("'192.168.1.300' is not an IP address");
    expect(d.expected).toContain("IPv4 or IPv6 address");
    expect(at(d)).toEqual([8, 38]);
  });

  it("RCH010: hostIp 'localhost' of a port forward", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards:
            - { hostIp: localhost, hostPort: 2222, guestPort: 22 }
`);
    expect(d.code).toBe("RCH010");
    expect(d.message).toContain("hostIp 'localhost'");
    expect(d.expected).toContain("IPv4 or IPv6 address");
    expect(at(d)).toEqual([9, 25]);
  });

  it("RCH010: a three-part route gateway (not an address, even though inet_aton takes it)", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    routes:
      - { to: default, via: 192.168.1 }
`);
    expect(d.code).toBe("RCH010");
    expect(d.message).toContain("'192.168.1'");
    expect(d.expected).toContain("IPv4 or IPv6 address");
    expect(at(d)).toEqual([8, 29]);
  });

  it("RCH011: an interface address without /len", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10] }
`);
    expect(d.code).toBe("RCH011");
    expect(d.message).toContain("'192.168.1.10'");
    expect(d.expected).toContain("ADDRESS/LEN");
    expect(at(d)).toEqual([6, 41]);
  });

  it("RCH011: a firewall src prefix with host bits set suggests the network", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    firewall:
      input:
        rules:
          - action: accept
            src: 192.168.1.10/24
`);
    expect(d.code).toBe("RCH011");
    expect(d.message).toContain("'192.168.1.10/24' is not a CIDR prefix");
    expect(d.message).toContain("192.168.1.0/24");
    expect(d.expected).toContain("zero host bits");
    expect(at(d)).toEqual([11, 18]);
  });

  it("RCH011: a garbage segment subnet (scalar and list forms)", () => {
    const ds = diags(y`
segments:
  lan: not-a-subnet
  dmz:
    subnets: [10.0.0.0/24, 10.1.0.0/33]
machines:
  host: {}
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH011", 2, 8],
      ["RCH011", 4, 28],
    ]);
    expect(ds[0]!.message).toContain("'not-a-subnet'");
    expect(ds[1]!.message).toContain("'10.1.0.0/33'");
    expect(ds[0]!.expected).toContain("NETWORK/LEN");
  });

  it.each([["0"], ["70000"], ["abc"], ["-1"], ["22.5"]])("RCH012: service port %s", (p) => {
    const d = one(y`
machines:
  host:
    services:
      - { name: a, port: ${p} }
`);
    expect(d.code).toBe("RCH012");
    expect(d.message).toContain("is not a port");
    expect(d.message).toContain(p);
    expect(d.expected).toBe("an integer from 1 to 65535");
    expect(at(d)).toEqual([4, 26]);
  });

  it.each([['"22-10"'], ['"1-70000"'], ['"abc"'], ['"10-"']])("RCH012: rule dport range %s", (r) => {
    const d = one(y`
machines:
  host:
    firewall:
      input:
        rules:
          - { action: accept, proto: tcp, dport: ${r} }
`);
    expect(d.code).toBe("RCH012");
    expect(d.message).toContain(`dport ${r} is not a port or port range`);
    expect(d.expected).toContain("LO <= HI");
    expect(at(d)).toEqual([6, 50]);
  });

  it("RCH012: forward hostPort 70000", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards:
            - { hostPort: 70000, guestPort: 22 }
`);
    expect(d.code).toBe("RCH012");
    expect(d.message).toContain("hostPort 70000");
    expect(at(d)).toEqual([9, 27]);
  });
});

describe("names (RCH021 segment, RCH022 interface, RCH023 VM host, RCH040/041 expect queries)", () => {
  it("RCH021: unknown segment, listing the declared ones", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lna, addresses: [192.168.1.10/24] }
`);
    expect(d.code).toBe("RCH021");
    expect(d.message).toContain("'lna'");
    expect(d.expected).toContain("lan");
    expect(at(d)).toEqual([6, 24]);
  });

  it("RCH022: unknown interface in a rule's in and out", () => {
    const ds = diags(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    firewall:
      forward:
        rules:
          - { action: accept, in: eth1, out: eth0 }
          - { action: accept, in: eth0, out: wlan0 }
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH022", 10, 35],
      ["RCH022", 11, 46],
    ]);
    expect(ds[0]!.message).toContain("no interface 'eth1'");
    expect(ds[1]!.message).toContain("no interface 'wlan0'");
    expect(ds[0]!.expected).toContain("eth0");
    expect(ds[0]!.expected).toContain("lo");
  });

  it("RCH022: unknown route dev", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    routes:
      - { to: 10.0.0.0/8, dev: tun0 }
`);
    expect(d.code).toBe("RCH022");
    expect(d.message).toContain("'tun0'");
    expect(d.expected).toContain("eth0");
    expect(at(d)).toEqual([8, 32]);
  });

  it("RCH023: a VM placed on a machine that does not exist", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: hots
      adapters:
        - mode: nat
`);
    expect(d.code).toBe("RCH023");
    expect(d.message).toContain("'hots'");
    expect(d.expected).toContain("host");
    expect(at(d)).toEqual([5, 11]);
  });

  it("RCH041: an expect query naming an unknown machine", () => {
    const d = one(y`
machines:
  host: {}
expect:
  - { query: "host -> gust:22/tcp", verdict: reachable }
`);
    expect(d.code).toBe("RCH041");
    expect(d.message).toContain("'gust'");
    expect(d.expected).toContain("host");
    expect(at(d)).toEqual([4, 14]);
  });

  it("RCH040: an expect query with bad syntax", () => {
    const d = one(y`
machines:
  host: {}
  guest: {}
expect:
  - { query: "host => guest:22/tcp", verdict: reachable }
`);
    expect(d.code).toBe("RCH040");
    expect(d.message).toContain('no "->"');
    expect(d.expected).toContain("A -> B:PORT/tcp");
    expect(at(d)).toEqual([5, 14]);
  });
});

describe("duplicates and clashes", () => {
  it("RCH030: duplicate service names on one machine, on the second name", () => {
    const d = one(y`
machines:
  host:
    services:
      - { name: web, port: 80 }
      - { name: web, port: 8080 }
`);
    expect(d.code).toBe("RCH030");
    expect(d.message).toContain("service name 'web'");
    expect(d.expected).toContain("unique");
    expect(at(d)).toEqual([5, 17]);
  });

  it("RCH030: duplicate forward names on one adapter", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards:
            - { name: ssh, hostPort: 2222, guestPort: 22 }
            - { name: ssh, hostPort: 2223, guestPort: 22 }
`);
    expect(d.code).toBe("RCH030");
    expect(d.message).toContain("forward name 'ssh'");
    expect(d.expected).toContain("unique");
    expect(at(d)).toEqual([10, 23]);
  });

  it("RCH031: an interface address outside its segment's subnet", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.2.10/24] }
`);
    expect(d.code).toBe("RCH031");
    expect(d.message).toContain("192.168.2.10/24 is outside segment 'lan'");
    expect(d.expected).toBe("an address inside 192.168.1.0/24");
    expect(at(d)).toEqual([6, 41]);
  });

  it("RCH033: the same address twice on one segment, with a note on the first", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
  b:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
`);
    expect(d.code).toBe("RCH033");
    expect(d.message).toContain("192.168.1.10");
    expect(d.message).toContain("'lan'");
    expect(d.expected).toBe("each address once per segment");
    expect(at(d)).toEqual([9, 41]);
    expect(d.related?.map((r) => [r.span.line, r.span.col])).toEqual([[6, 41]]);
  });

  it("RCH032: two VMs on one host both forwarding host port 2222", () => {
    const d = one(y`
machines:
  host: {}
  vm1:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: ssh, hostPort: 2222, guestPort: 22 } ]
  vm2:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: ssh, hostPort: 2222, guestPort: 22 } ]
`);
    expect(d.code).toBe("RCH032");
    expect(d.message).toContain("'vm2'");
    expect(d.message).toContain("0.0.0.0:2222");
    expect(d.message).toContain("'vm1'");
    expect(d.expected).toContain("EADDRINUSE");
    expect(at(d)).toEqual([14, 23]);
    expect(d.related?.map((r) => [r.span.line, r.span.col])).toEqual([[8, 23]]);
  });

  it("RCH032: two forwards of one adapter on the same host port", () => {
    const d = one(y`
machines:
  host: {}
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards:
            - { name: a, hostPort: 8080, guestPort: 80 }
            - { name: b, hostPort: 8080, guestPort: 81 }
`);
    expect(d.code).toBe("RCH032");
    expect(d.message).toContain('"b"');
    expect(d.message).toContain(":8080");
    expect(at(d)).toEqual([10, 15]);
  });

  it("RCH032: a forward on 127.0.0.1 clashing with a host service bound to 0.0.0.0", () => {
    const d = one(y`
machines:
  host:
    services:
      - { name: sshd, port: 2222, bind: 0.0.0.0 }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: ssh, hostIp: 127.0.0.1, hostPort: 2222, guestPort: 22 } ]
`);
    expect(d.code).toBe("RCH032");
    expect(d.message).toContain("127.0.0.1:2222");
    expect(d.message).toContain("'sshd'");
    expect(at(d)).toEqual([10, 23]);
    expect(d.related?.map((r) => [r.span.line, r.span.col])).toEqual([[4, 9]]);
  });

  it("no RCH032 when a host service and a forward share a port number but not the protocol", () => {
    const loaded = loadTopologyText(
      FILE,
      y`
machines:
  host:
    services:
      - { name: dns, proto: udp, port: 5353 }
  guest:
    vm:
      on: host
      adapters:
        - mode: nat
          forwards: [ { name: web, proto: tcp, hostPort: 5353, guestPort: 80 } ]
`,
    );
    expect(loaded.warnings).toEqual([]);
  });

  it("RCH034: a route gateway not on a connected subnet", () => {
    const d = one(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    routes:
      - { to: default, via: 192.168.2.1 }
`);
    expect(d.code).toBe("RCH034");
    expect(d.message).toContain("gateway 192.168.2.1");
    expect(d.message).toContain("'host'");
    expect(d.expected).toContain("192.168.1.0/24");
    expect(at(d)).toEqual([8, 29]);
  });
});

describe("all problems at once", () => {
  it("three semantic errors of different classes, in line order (not check order)", () => {
    const ds = diags(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lna, addresses: [192.168.1.10/24] }
    services:
      - { name: web, port: 0 }
    routes:
      - { to: default, via: 192.168.1.x }
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH021", 6, 24],
      ["RCH012", 8, 28],
      ["RCH010", 10, 29],
    ]);
  });

  it("three shape errors of different classes, in line order", () => {
    const ds = diags(y`
machines:
  host:
    ip_forward: yes
    services:
      - { name: web }
    firewall:
      input:
        polcy: drop
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH004", 3, 17],
      ["RCH005", 5, 9],
      ["RCH003", 8, 9],
    ]);
  });

  it("shape errors and semantic errors of one file are reported together", () => {
    const ds = diags(y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10] }
    servces: []
    routes:
      - { to: default, via: 10.0.0.1 }
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH011", 6, 41],
      ["RCH003", 7, 5],
      ["RCH034", 9, 29],
    ]);
  });
});

describe("files", () => {
  it("RCH001: a missing file, via loadTopologyFile", () => {
    const file = join(tmpdir(), "reach-no-such-dir", "missing.yaml");
    let caught: unknown;
    try {
      loadTopologyFile(file);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    const ds = (caught as InputError).diagnostics;
    expect(ds).toHaveLength(1);
    expect(ds[0]!.code).toBe("RCH001");
    expect(ds[0]!.message).toContain(file);
    expect(ds[0]!.message).toContain("ENOENT");
    expect(ds[0]!.expected).toContain("readable topology file");
    expect(ds[0]!.span).toEqual({ file, line: 1, col: 1 });
  });
});

describe("CLI (dist/, built by npm ci)", () => {
  const reach = (...args: string[]) => {
    const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const noStack = (err: string) => {
    expect(err).not.toMatch(/\n\s+at /);
    expect(err).not.toContain("internal error");
  };
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  it("a bad file: exit 2, file:line:col: error RCHxxx on stderr, no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "reach-diag-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      y`
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
    services:
      - { name: web, port: 80, bind: 192.168.1.300 }
`,
    );
    const r = reach("ask", file, "a -> b:22/tcp");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(new RegExp(`^${esc(file)}:8:38: error RCH010: bind address '192\\.168\\.1\\.300' is not an IP address$`, "m"));
    noStack(r.err);
  });

  it("a missing file: exit 2 with RCH001", () => {
    const file = join(tmpdir(), "reach-no-such-dir", "missing.yaml");
    const r = reach("ask", file, "a -> b:22/tcp");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${esc(file)}:1:1: error RCH001: `, "m"));
    noStack(r.err);
  });

  it("a bad query: exit 2 with RCH040 positioned on the bad protocol", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host -> guest:22/tpc");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^<query>:1:18: error RCH040: unknown protocol 'tpc'$/m);
    noStack(r.err);
  });

  it("a query without an arrow: exit 2 with RCH040", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host => guest:22/tcp");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^<query>:1:1: error RCH040: /m);
    noStack(r.err);
  });

  it("an unknown machine in the query: exit 2 with RCH041 on the name", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host -> gust:22/tcp");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^<query>:1:9: error RCH041: query names machine 'gust'/m);
    expect(r.err).toContain("expected: one of host, guest");
    noStack(r.err);
  });

  it("RCH041 points at the unknown target even when its name is a prefix of the source", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host -> hos:22/tcp");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^<query>:1:9: error RCH041: query names machine 'hos'/m);
    noStack(r.err);
  });
});
