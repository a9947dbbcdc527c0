/**
 * The parts of the exhaustive enumeration (src/sim/exhaustive.ts) that the verdict tests cannot
 * see, found by mutation testing (docs/mutation.md): which fields a failed first packet leaves
 * free (`independentOf`, `portUseOf`: a wrong answer either skips a class that could succeed or
 * dials classes for nothing), the counts `exhaustive` reports, the representative of a dial's
 * class, the source ports tried with a destination port, the dial domain, and the deadline.
 * Each expectation comes from the file's own contract (its comments), not from its output.
 */
import { describe, expect, it } from "vitest";
import { ECHO_ID } from "../../src/ir/dial.js";
import {
  classCount,
  exhaustive,
  independentOf,
  inDialDomain,
  packetClasses,
  portUseOf,
  representative,
  representativeForAddress,
  sportsFor,
  type PacketClasses,
} from "../../src/sim/exhaustive.js";
import { build, dial, ip, q } from "./helpers.js";

/** A client, a router and a server; `router` and `server` add lines to those machines. */
const lab = (router = "", server = "", client = "") =>
  build(`
segments: { a: 192.168.1.0/24, b: 192.168.2.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.10/24] } }
    routes: [ { to: 192.168.2.0/24, via: 192.168.1.1 } ]
${client}
  r:
    ip_forward: true
    interfaces: { eth0: { segment: a, addresses: [192.168.1.1/24] }, eth1: { segment: b, addresses: [192.168.2.1/24] } }
${router}
  s:
    interfaces: { eth0: { segment: b, addresses: [192.168.2.20/24] } }
    routes: [ { to: 192.168.1.0/24, via: 192.168.2.1 } ]
    services: [ { name: web, port: 80 }, { name: dns, proto: udp, port: 53 } ]
${server}
`);

const free = (net: ReturnType<typeof build>, dst: string, dport: number, sport = 40000) =>
  independentOf(dial(net, "c", "tcp", dst, dport, sport), portUseOf(net));

describe("independentOf: which fields cannot turn a failed first packet into a working one", () => {
  it("dropped by a rule that looks at no port: no other port can succeed", () => {
    const net = lab("    firewall: { forward: { rules: [ { action: drop, dst: 192.168.2.20 } ] } }");
    expect(free(net, "192.168.2.20", 80)).toBe("ports");
  });
  it("dropped where a rule looks at the destination port: another source port cannot help, another destination port may", () => {
    const net = lab("    firewall: { forward: { rules: [ { action: drop, proto: tcp, dport: 80 } ] } }");
    expect(free(net, "192.168.2.20", 80)).toBe("sport");
  });
  it("a negated or original-port match looks at the port too", () => {
    const negated = lab("    firewall: { forward: { rules: [ { action: drop, proto: tcp, dport: { not: 22 } } ] } }");
    expect(free(negated, "192.168.2.20", 80)).toBe("sport");
    const sportNot = lab("    firewall: { forward: { rules: [ { action: drop, proto: tcp, sport: { not: 1 } } ] } }");
    expect(free(sportNot, "192.168.2.20", 80)).toBeUndefined();
  });
  it("dropped where a rule looks at the source port: neither field is free", () => {
    const net = lab("    firewall: { forward: { rules: [ { action: drop, proto: tcp, sport: 1024-65535 } ] } }");
    expect(free(net, "192.168.2.20", 80)).toBeUndefined();
  });
  it("a port rule on another machine of the path does not bind the one that dropped", () => {
    // the client's output rule looks at dports (and passes the packet); the router drops by address
    const net = lab(
      "    firewall: { forward: { rules: [ { action: drop, dst: 192.168.2.20 } ] } }",
      "",
      "    firewall: { output: { rules: [ { action: accept, proto: tcp, dport: 1-65535, sport: 1-65535 } ] } }",
    );
    expect(free(net, "192.168.2.20", 80)).toBe("ports");
  });
  it("refused (no socket on that port): the destination port decided, the source port did not", () => {
    const net = lab();
    expect(free(net, "192.168.2.20", 81)).toBe("sport");
  });
  it("a NAT rule on the way that matches a port binds that port, wherever on the path it is", () => {
    // the packet is dropped at s by address; r's prerouting NAT looks at ports (it does not match this dial)
    const drop = "    firewall: { input: { rules: [ { action: drop, src: 192.168.1.0/24 } ] } }";
    const dportNat = lab("    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: 8080, to: 192.168.2.20 } ]", drop);
    expect(free(dportNat, "192.168.2.20", 80)).toBe("sport");
    const sportNat = lab("    nat: [ { chain: prerouting, action: dnat, proto: tcp, sport: 7, to: 192.168.2.20 } ]", drop);
    expect(free(sportNat, "192.168.2.20", 80)).toBeUndefined();
    // and on the client itself
    const clientNat = lab("", drop, "    nat: [ { chain: output, action: dnat, proto: tcp, sport: 7, to: 192.168.2.20 } ]");
    expect(free(clientNat, "192.168.2.20", 80)).toBeUndefined();
  });
  it("a refusal where the filter looks at source ports (by a rule that passed): the source port is still free", () => {
    const net = lab("", "    firewall: { input: { rules: [ { action: accept, proto: tcp, sport: 1-5 } ] } }");
    expect(free(net, "192.168.2.20", 81)).toBe("sport");
  });
  it("a rejection by a rule on the source port binds the source port (a rejection cuts the path like a drop)", () => {
    const net = lab("", "    firewall: { input: { rules: [ { action: reject, proto: tcp, sport: 1024-65535 } ] } }");
    expect(free(net, "192.168.2.20", 80)).toBeUndefined();
  });
  it("a failure of a relay's own connection (a later leg) leaves nothing free", () => {
    // r relays 8080 to s:80; s drops r's connection by address: leg 1 fails, forward
    const net = lab(
      "    relays: [ { port: 8080, to: 192.168.2.20, toPort: 80 } ]",
      "    firewall: { input: { rules: [ { action: drop, src: 192.168.2.1 } ] } }",
    );
    const a = dial(net, "c", "tcp", "192.168.1.1", 8080);
    expect(a.outcome.kind === "failed" && [a.outcome.leg, a.outcome.direction]).toEqual([1, "forward"]);
    expect(independentOf(a, portUseOf(net))).toBeUndefined();
  });
  it("connect() that fails before any packet (no route): only the destination decided", () => {
    const net = lab();
    expect(free(net, "10.9.9.9", 80)).toBe("ports");
    // even from a client whose own NAT rules look at both ports: no packet left, so no rule saw one
    const natClient = lab(
      "",
      "",
      "    nat: [ { action: dnat, chain: output, proto: tcp, sport: 7, dport: 9, to: 192.168.2.20, toPort: 80 } ]",
    );
    expect(portUseOf(natClient).get("c")).toMatchObject({ natSport: true, natDport: true });
    const a = dial(natClient, "c", "tcp", "10.9.9.9", 80);
    expect(a.outcome.kind === "failed" && a.legs[0]!.forward.steps.length).toBe(0);
    expect(independentOf(a, portUseOf(natClient))).toBe("ports");
  });
  it("a success, or a failure of a later packet, leaves nothing free", () => {
    const net = lab();
    expect(free(net, "192.168.2.20", 80)).toBeUndefined();
    // the SYN-ACK is dropped on its way back, by a rule on the address only: a reply, not the first packet
    const back = lab("", "    firewall: { output: { rules: [ { action: drop, dst: 192.168.1.10 } ] } }");
    const a = dial(back, "c", "tcp", "192.168.2.20", 80);
    expect(a.outcome.kind === "failed" && a.outcome.direction).toBe("reply");
    expect(independentOf(a, portUseOf(back))).toBeUndefined();
  });
});

describe("portUseOf: which kinds of rule of a machine look at ports", () => {
  it("each field from the chains that hold it, plain or negated", () => {
    const net = lab(
      `    firewall: { input: { rules: [ { action: drop, proto: tcp, sport: { not: 9 } } ] }, forward: { rules: [ { action: drop, proto: udp, origDport: 53 } ] } }
    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: { not: 80 }, to: 192.168.2.20 }, { chain: postrouting, action: masquerade, src: 192.168.1.0/24 } ]`,
      "    nat: [ { chain: postrouting, action: snat, proto: udp, sport: 5000, to: 192.168.2.20 } ]",
    );
    const use = portUseOf(net);
    expect(use.get("r")).toEqual({ filterSport: true, filterDport: true, natSport: false, natDport: true });
    expect(use.get("s")).toEqual({ filterSport: false, filterDport: false, natSport: true, natDport: false });
    expect(use.get("c")).toEqual({ filterSport: false, filterDport: false, natSport: false, natDport: false });
  });
});

describe("exhaustive: what it reports besides the verdict", () => {
  it("a destination whose first packet fails by address alone is dialed once, its other port classes skipped", () => {
    const net = lab("    firewall: { forward: { rules: [ { action: drop, dst: 192.168.2.20 } ] } }");
    const classes = packetClasses(net);
    const withSkip = exhaustive(net, q("c -> s:80/tcp"), classes);
    const without = exhaustive(net, q("c -> s:80/tcp"), classes, false);
    expect([withSkip.verdict, without.verdict]).toEqual(["unreachable", "unreachable"]);
    expect(without.skipped).toBe(0);
    expect(without.tried).toBe(classCount(net, q("c -> s:80/tcp"), classes));
    expect(withSkip.skipped).toBeGreaterThan(0);
    expect(withSkip.tried + withSkip.skipped).toBe(without.tried);
    // every destination class is still dialed at least once
    expect(withSkip.tried).toBeGreaterThanOrEqual(classes.dst4.length + classes.dst6.length);
  });
  it("a client whose output drops every destination port dials each destination port class once, with one source port", () => {
    // c reaches every IPv4 class (a default route) and drops each connection by a rule on dports;
    // it has no IPv6 address but lo's, so any other IPv6 dial fails before any packet and is dialed once
    const net = build(`
segments: { a: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    firewall: { output: { rules: [ { action: drop, proto: tcp, dport: 1-65535 } ] } }
  s:
    interfaces: { eth0: { segment: a, addresses: [192.168.1.1/24] } }
    services: [ { name: web, port: 80 } ]
`);
    const classes = packetClasses(net);
    const r = exhaustive(net, q("c -> s:80/tcp"), classes);
    expect(r.verdict).toBe("unreachable");
    // ::1 is the one IPv6 class c reaches (lo's address): dropped in output like the IPv4 ones
    expect(r.tried).toBe((classes.dst4.length + 1) * classes.ports.length + classes.dst6.length - 1);
    expect(r.tried + r.skipped).toBe(classCount(net, q("c -> s:80/tcp"), classes));
  });
  it("a rejection by a rule on the destination port: some classes skipped, and every class either dialed or skipped", () => {
    const net = lab("", "    firewall: { input: { rules: [ { action: reject, with: tcp-reset, proto: tcp, dport: 80 } ] } }");
    const classes = packetClasses(net);
    const r = exhaustive(net, q("c -> s:80/tcp"), classes);
    expect(r.verdict).toBe("unreachable");
    expect(r.skipped).toBeGreaterThan(0);
    expect(r.tried + r.skipped).toBe(classCount(net, q("c -> s:80/tcp"), classes));
  });
  it("an ICMP query dials one packet per destination class (no ports)", () => {
    const net = lab();
    const classes = packetClasses(net);
    expect(classCount(net, q("c -> s/icmp"), classes)).toBe(classes.dst4.length + classes.dst6.length);
  });
  it("a TCP query dials every destination class with every destination port class, each with the source ports sportsFor gives", () => {
    const net = lab("", "    firewall: { input: { rules: [ { action: drop, proto: tcp, sport: 2000-3000, dport: 80-90 } ] } }");
    const classes = packetClasses(net);
    const perDst = classes.ports.reduce((n, d) => n + sportsFor(classes, d).length, 0);
    expect(classCount(net, q("c -> s:80/tcp"), classes)).toBe((classes.dst4.length + classes.dst6.length) * perDst);
  });
  it("past the deadline the verdict is unknown, and nothing more is dialed", () => {
    const net = lab();
    expect(exhaustive(net, q("c -> s:80/tcp"), packetClasses(net), true, Date.now() - 1)).toEqual({
      verdict: "unknown",
      tried: 0,
      skipped: 0,
    });
    expect(exhaustive(net, q("c -> s:80/tcp"), packetClasses(net), true, Date.now() + 60_000).verdict).toBe("reachable");
  });
  it("a machine the network does not have is an internal error, for the client and for the target", () => {
    const net = lab();
    expect(() => exhaustive(net, q("nobody -> s:80/tcp"))).toThrow("internal: unknown machine nobody");
    // before any class is dialed, even past the deadline
    expect(() => exhaustive(net, q("nobody -> s:80/tcp"), packetClasses(net), true, Date.now() - 1)).toThrow(
      "internal: unknown machine nobody",
    );
    expect(() => exhaustive(net, q("c -> nobody:80/tcp"))).toThrow("internal: unknown machine nobody");
  });
});

describe("the representative of a dial's class", () => {
  const classes: PacketClasses = {
    dst4: [ip("0.0.0.0"), ip("10.0.0.0"), ip("10.0.1.0")],
    dst6: [ip("::1"), ip("fd00::")],
    ports: [1, 80, 81, 1024, 5000, 5001],
    sports: [1024, 5000, 5001],
  };
  const d = (proto: "tcp" | "udp" | "icmp", dst: string, dport: number, sport: number) => ({
    from: "c",
    proto,
    dst: ip(dst),
    dport,
    sport,
  });
  it("ICMP: the address's class, no port, the echo identifier", () => {
    expect(representative(classes, d("icmp", "10.0.0.77", 0, 1))).toEqual(d("icmp", "10.0.0.0", 0, ECHO_ID));
    expect(representativeForAddress(classes, d("icmp", "10.0.0.77", 0, 1))).toEqual(d("icmp", "10.0.0.77", 0, ECHO_ID));
  });
  it("a source port equal to the destination port stays equal to the destination port's representative", () => {
    expect(representative(classes, d("tcp", "fd00::9", 3000, 3000))).toEqual(d("tcp", "fd00::", 1024, 1024));
  });
  it("a source port in the destination port's class but not equal to it: the representative plus one", () => {
    expect(representative(classes, d("tcp", "10.0.1.5", 3000, 4000))).toEqual(d("tcp", "10.0.1.0", 1024, 1025));
    // from the first unprivileged destination port on
    expect(representative(classes, d("tcp", "10.0.1.5", 1024, 1500))).toEqual(d("tcp", "10.0.1.0", 1024, 1025));
  });
  it("a source port in another class than a privileged destination port: the source port's own class", () => {
    expect(representative(classes, d("udp", "10.0.0.1", 80, 6000))).toEqual(d("udp", "10.0.0.0", 80, 5001));
    // a privileged dport is never a source port: sport 1024's class is its own
    expect(representative(classes, d("tcp", "10.0.0.1", 1000, 1500))).toEqual(d("tcp", "10.0.0.0", 81, 1024));
  });
  it("sportsFor adds the destination port and the next one, up to 65535 and not past it", () => {
    expect(sportsFor(classes, 65535)).toEqual([1024, 5000, 5001, 65535]);
    expect(sportsFor(classes, 65534)).toEqual([1024, 5000, 5001, 65534, 65535]);
    expect(sportsFor(classes, 5000)).toEqual([1024, 5000, 5001]);
    expect(sportsFor(classes, 1023)).toEqual([1024, 5000, 5001]);
    expect(sportsFor(classes, 80)).toEqual([1024, 5000, 5001]);
  });
  it("representativeForAddress: the class of the source port among those tried with that destination port", () => {
    expect(representativeForAddress(classes, d("tcp", "10.0.0.77", 7000, 7000))).toEqual(d("tcp", "10.0.0.77", 7000, 7000));
    expect(representativeForAddress(classes, d("tcp", "10.0.0.77", 7000, 9000))).toEqual(d("tcp", "10.0.0.77", 7000, 7001));
  });
});

describe("the dial domain", () => {
  it("every IPv4 address; IPv6 but :: and ::ffff:0:0/96", () => {
    expect(["0.0.0.0", "255.255.255.255", "::1", "fd00::1", "::1:0:0:0", "::fffe:ffff:ffff"].map((t) => inDialDomain(ip(t)))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["::", "::ffff:0:0", "::ffff:10.0.0.1", "::ffff:ffff:ffff"].map((t) => inDialDomain(ip(t)))).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});
