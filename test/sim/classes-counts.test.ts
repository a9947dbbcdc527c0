/**
 * The simulator's all-services enumeration (src/sim/classes.ts) reports more than the cells: for
 * each service the dials made up to its witness, and the dials made and skipped in all. Its
 * contract (the file's comment): one enumeration is, for every service, exactly the per-flow
 * exhaustive() decision, so the witness and the count up to it are exhaustive()'s own, and every
 * class is either dialed or skipped. Found by mutation testing (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import { reachedServices, serviceKeyOf } from "../../src/sim/classes.js";
import { classCount, exhaustive, packetClasses } from "../../src/sim/exhaustive.js";
import { build, q } from "./helpers.js";

// c reaches s's web directly; s's 8443 only from source ports 2000-3000 (its input drops the others);
// s's ssh is dropped by r; r relays 8080 to s:80 (a relay is not a service); u's dns is UDP
const net = build(`
segments: { a: 192.168.1.0/24, b: 192.168.2.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.10/24] } }
    routes: [ { to: 192.168.2.0/24, via: 192.168.1.1 } ]
  r:
    ip_forward: true
    interfaces: { eth0: { segment: a, addresses: [192.168.1.1/24] }, eth1: { segment: b, addresses: [192.168.2.1/24] } }
    firewall: { forward: { rules: [ { action: drop, proto: tcp, dport: 22 } ] } }
    relays: [ { port: 8080, to: 192.168.2.20, toPort: 80 } ]
  s:
    interfaces: { eth0: { segment: b, addresses: [192.168.2.20/24] } }
    routes: [ { to: 192.168.1.0/24, via: 192.168.2.1 } ]
    services: [ { name: web, port: 80 }, { name: alt, port: 8443 }, { name: ssh, port: 22 } ]
    firewall: { input: { rules: [ { action: drop, proto: tcp, dport: 8443, sport: { not: 2000-3000 } } ] } }
  u:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.30/24] } }
    services: [ { name: dns, proto: udp, port: 53 } ]
`);
const classes = packetClasses(net);

describe("one enumeration from a source machine, service by service", () => {
  for (const proto of ["tcp", "udp"] as const) {
    it(`${proto}: each reached service has exhaustive()'s witness and count; every class is dialed or skipped`, () => {
      const got = reachedServices(net, "c", proto, classes);
      const services = net.machines.flatMap((m) =>
        m.sockets.filter((s) => s.role.kind === "service" && s.proto === proto).map((s) => ({ m: m.name, port: s.port })),
      );
      expect(services.length).toBeGreaterThan(0);
      for (const { m, port } of services) {
        const per = exhaustive(net, q(`c -> ${m}:${port}/${proto}`), classes);
        const key = serviceKeyOf(m, port);
        expect({ key, verdict: got.reached.has(key) ? "reachable" : "unreachable" }).toEqual({ key, verdict: per.verdict });
        if (per.verdict === "reachable") {
          expect(got.reached.get(key)!.dial).toEqual(per.dial);
          expect(got.triedAt.get(key)).toBe(per.tried);
        } else expect(got.triedAt.has(key)).toBe(false);
      }
      // only services are keys: r's relay on 8080 leads to s:80 and is recorded there
      expect([...got.reached.keys()].every((k) => services.some((s) => serviceKeyOf(s.m, s.port) === k))).toBe(true);
      expect(got.tried + got.skipped).toBe(classCount(net, q(`c -> s:80/${proto}`), classes));
      expect(got.skipped).toBeGreaterThan(0);
    });
  }
  it("tcp: what this lab makes of it (the services each way reaches)", () => {
    const got = reachedServices(net, "c", "tcp", classes);
    expect([...got.reached.keys()].sort()).toEqual(["s:80", "s:8443"]);
    const alt = got.reached.get("s:8443")!.dial.sport;
    expect(alt >= 2000 && alt <= 3000).toBe(true);
  });
  it("a skip decided by a later source port of a destination port still counts every class once", () => {
    // r drops source ports 1024-1999 (a rule on the source port: nothing is free); from 2000 on the SYN
    // passes r, and t drops it by address alone (the rest of that destination is skipped), s by
    // address and dport 80 (the rest of that destination port is)
    const lab = build(`
segments: { a: 192.168.1.0/24, b: 192.168.2.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.10/24] } }
    routes: [ { to: 192.168.2.0/24, via: 192.168.1.1 } ]
  r:
    ip_forward: true
    interfaces: { eth0: { segment: a, addresses: [192.168.1.1/24] }, eth1: { segment: b, addresses: [192.168.2.1/24] } }
    firewall: { forward: { rules: [ { action: drop, proto: tcp, sport: 1024-1999 } ] } }
  s:
    interfaces: { eth0: { segment: b, addresses: [192.168.2.20/24] } }
    routes: [ { to: 192.168.1.0/24, via: 192.168.2.1 } ]
    services: [ { name: web, port: 80 }, { name: api, port: 9000 } ]
    firewall: { input: { rules: [ { action: drop, proto: tcp, src: 192.168.1.10, dport: 80 } ] } }
  t:
    interfaces: { eth0: { segment: b, addresses: [192.168.2.30/24] } }
    routes: [ { to: 192.168.1.0/24, via: 192.168.2.1 } ]
    services: [ { name: web, port: 80 } ]
    firewall: { input: { rules: [ { action: drop, src: 192.168.1.10 } ] } }
`);
    const labClasses = packetClasses(lab);
    const got = reachedServices(lab, "c", "tcp", labClasses);
    expect(got.tried + got.skipped).toBe(classCount(lab, q("c -> s:80/tcp"), labClasses));
    expect([...got.reached.keys()]).toEqual(["s:9000"]);
    expect(got.triedAt.get("s:9000")).toBe(exhaustive(lab, q("c -> s:9000/tcp"), labClasses).tried);
  });
  it("an unknown source machine is an internal error", () => {
    expect(() => reachedServices(net, "nobody", "tcp", classes)).toThrow("internal: unknown machine nobody");
  });
});
