/**
 * Which witness `decide()` (src/smt/decide.ts) shows when many dials work, and what it says
 * besides: the default source port (DEFAULT_SPORT) whenever the paths allow it, the addresses
 * and ports of `nice`, the hint's values when it is not certified (with `smt2`, which skips
 * certification), the cheapest path otherwise; for a ping, none of the port preferences. Then
 * the SMT-LIB text only when asked, an unreachable query with no path decided with no solver
 * call, the answer on a bound hit, the formula's size, an unknown client refused, and the query's
 * domain (a dialed IPv6 address is never ::). Every witness is replayed in the simulator. Found
 * by mutation testing (docs/mutation.md): the preferences were only ever seen through the
 * verdict, which they never change.
 */
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_SPORT, ECHO_ID, type Dial } from "../../src/ir/dial.js";
import type { Network } from "../../src/ir/types.js";
import { formatIP, type IP } from "../../src/net/addr.js";
import { attempt, machineIndex, meetsQuery } from "../../src/sim/connect.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { carries, decide, explore, pathsFormula, type DecideOptions } from "../../src/smt/decide.js";
import { shutdown, solverStats } from "../../src/smt/solver.js";
import { evaluate } from "../../src/smt/term.js";
import { build, ip, q } from "../sim/helpers.js";
import { twoAddresses } from "./decide-labs.js";

afterAll(() => shutdown());

const net = twoAddresses();

const nice = (addrs: string[], ports: number[]) => ({ addrs: addrs.map(ip), ports });

/** The witness as "address:port from sport", after checking that the simulator confirms it. */
async function witness(n: Network, text: string, opts: DecideOptions = {}): Promise<string> {
  const query = q(text);
  const r = await decide(n, query, opts);
  expect(r.verdict).toBe("reachable");
  expect(meetsQuery(query, attempt(n, machineIndex(n), r.dial!))).toBe(true);
  return `${formatIP(r.dial!.dst)}:${r.dial!.dport} from ${r.dial!.sport}`;
}

describe("the witness: the familiar dial among many that work", () => {
  it("the cheapest path with the default source port", async () => {
    expect(await witness(net, "c -> s:80/tcp")).toBe(`192.168.1.20:8080 from ${DEFAULT_SPORT}`);
  });

  it("the addresses and ports of `nice`, with the default source port, even off the cheapest path", async () => {
    expect(await witness(net, "c -> s:80/tcp", { nice: nice(["192.168.1.21"], [80]) })).toBe(`192.168.1.21:80 from ${DEFAULT_SPORT}`);
    expect(await witness(net, "c -> s:80/tcp", { nice: nice(["192.168.1.20"], [80]) })).toBe(`192.168.1.20:80 from ${DEFAULT_SPORT}`);
    expect(await witness(net, "c -> s:80/tcp", { nice: nice(["192.168.1.21"], [8080]) })).toBe(`192.168.1.21:8080 from ${DEFAULT_SPORT}`);
  });

  it("a ping: the nice address, with no port preference (a ping has no ports: an empty list does not spoil it)", async () => {
    const four = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  s: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, 192.168.1.21/24, 192.168.1.22/24, 192.168.1.23/24] } } }
`);
    for (const a of ["192.168.1.22", "192.168.1.21", "192.168.1.23", "192.168.1.20"])
      expect(await witness(four, "c -> s/icmp", { nice: nice([a], []) })).toBe(`${a}:0 from ${ECHO_ID}`);
  });

  it("the hint's values when it is not certified (smt2 skips certification), before the cheapest path and `nice`", async () => {
    const hint = (dst: string, dport: number, sport: number): Dial => ({ from: "c", proto: "tcp", dst: ip(dst), dport, sport });
    const opts = (h: Dial) => ({ hint: h, smt2: true, nice: nice(["192.168.1.20"], [80]) });
    expect(await witness(net, "c -> s:80/tcp", opts(hint("192.168.1.21", 8080, 41234)))).toBe("192.168.1.21:8080 from 41234");
    expect(await witness(net, "c -> s:80/tcp", opts(hint("192.168.1.21", 80, 1024)))).toBe("192.168.1.21:80 from 1024");
    const r = await decide(net, q("c -> s:80/tcp"), opts(hint("192.168.1.21", 8080, 41234)));
    expect(r.stats.certified).toBeUndefined();
  });

  it("a ping's hint that is not certified: its address is the witness (a ping's ports are its dial's constants)", async () => {
    // each of s's two addresses asked for in turn, before `nice` names the other: Z3's own pick cannot match both
    for (const [a, other] of [
      ["192.168.1.21", "192.168.1.20"],
      ["192.168.1.20", "192.168.1.21"],
    ] as const) {
      const hint: Dial = { from: "c", proto: "icmp", dst: ip(a), dport: 0, sport: ECHO_ID };
      expect(await witness(net, "c -> s/icmp", { hint, smt2: true, nice: nice([other], []) })).toBe(`${a}:0 from ${ECHO_ID}`);
    }
  });
});

describe("what a decision says besides the witness", () => {
  it("the SMT-LIB text only when asked for", async () => {
    const plain = await decide(net, q("c -> s:80/tcp"));
    expect("smt2" in plain).toBe(false);
    const asked = await decide(net, q("c -> s:80/tcp"), { smt2: true });
    expect(asked.smt2).toMatch(/declare-fun dport/);
    expect(asked.smt2).toMatch(/check-sat/);
  });

  it("no path at all: unreachable with no solver call, unless the SMT-LIB text is asked for", async () => {
    const calls = solverStats().calls;
    const r = await decide(net, q("c -> s:81/tcp"));
    expect(solverStats().calls).toBe(calls);
    expect(r).toMatchObject({ verdict: "unreachable", stats: { paths: 0, nodes: 0, solveMs: 0 } });
    expect("smt2" in r).toBe(false);
    const asked = await decide(net, q("c -> s:81/tcp"), { smt2: true });
    expect(asked.verdict).toBe("unreachable");
    expect(asked.smt2).toMatch(/check-sat/);
  });

  it("a bound hit: unknown, with the bound, and the figures of the exploration so far", async () => {
    const t0 = performance.now();
    const r = await decide(net, q("c -> s:80/tcp"), { budget: 1 });
    const wall = performance.now() - t0;
    expect(r).toEqual({
      verdict: "unknown",
      reason: "bound hit: more than 1 symbolic branches",
      stats: { paths: 0, forks: 2, nodes: 0, exploreMs: expect.any(Number), solveMs: 0 },
    });
    expect(r.stats.exploreMs).toBeGreaterThanOrEqual(0);
    expect(r.stats.exploreMs).toBeLessThanOrEqual(wall);
    // the same query within the default budget
    expect((await decide(net, q("c -> s:80/tcp"))).verdict).toBe("reachable");
  });

  it("the formula's size: the same positive count whether the hint certifies or Z3 decides", async () => {
    const solved = await decide(net, q("c -> s:80/tcp"));
    const certified = await decide(net, q("c -> s:80/tcp"), { hint: solved.dial! });
    expect(certified.stats.certified).toBe(true);
    expect(solved.stats.nodes).toBeGreaterThan(solved.stats.paths);
    expect(certified.stats.nodes).toBe(solved.stats.nodes);
  });

  it("a query from a machine the network does not have is refused, not answered", async () => {
    await expect(decide(net, q("nobody -> s:80/tcp"))).rejects.toThrow(/unknown machine nobody/);
  });
});

describe("carries and pathsFormula: a packet the found paths deliver, and one they do not", () => {
  // explored in each test, not while vitest collects them: code that runs outside a test is a
  // "static" mutant to StrykerJS, which then runs every test of the scope for each such mutant
  // (this one exploration made half of src/smt/elements.ts static)
  const found = () => explore(net, q("c -> s:80/tcp"), 200_000, Date.now() + 60_000).found;
  const packet = (dst4: string, dport: number) => ({ dst4: ip(dst4), dst6: ip("fd00::1"), dport, sport: DEFAULT_SPORT });

  it.each([
    ["192.168.1.21", 8080, true],
    ["192.168.1.20", 80, true],
    ["192.168.1.21", 81, false],
    ["192.168.1.30", 80, false],
  ] as const)("%s:%d -> %s", (dst, dport, works) => {
    expect(carries(found(), packet(dst, dport))).toBe(works);
    expect(evaluate(pathsFormula(found()), { dst: ip(dst), dport, sport: DEFAULT_SPORT })).toBe(works);
  });
});

describe("the query's domain: a dialed IPv6 address is never ::", () => {
  it("where only a dial of :: would be DNATed past c's rule, c's own service is unreachable (the kernel dials ::1 instead)", async () => {
    // c's nat OUTPUT sends a dial of :: to c's own address; c's filter drops every connection
    // nat OUTPUT did not translate. Dialing :: is dialing ::1, which no rule translates.
    const v6 = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::10/64"] } }
    routes: [ { to: "::/0", via: "fd00::20" } ]
    nat: [ { chain: output, action: dnat, proto: tcp, dst: "::/128", to: "fd00::10" } ]
    firewall: { output: { rules: [ { action: drop, proto: tcp, dnat: false } ] } }
    services: [ { name: web, port: 80, bind: "::" } ]
  s:
    interfaces: { eth0: { segment: lan, addresses: ["fd00::20/64"] } }
`);
    const query = q("c -> c:80/tcp");
    expect(exhaustive(v6, query).verdict).toBe("unreachable");
    const r = await decide(v6, query);
    expect(r.verdict).toBe("unreachable");
    expect(r.stats.paths).toBe(0);
  });

  it("a witness is never the any address", async () => {
    const any: IP[] = [ip("0.0.0.0"), ip("::")];
    const r = await decide(net, q("c -> s:80/tcp"), { witness: "any" });
    expect(any.map(formatIP)).not.toContain(formatIP(r.dial!.dst));
  });
});
