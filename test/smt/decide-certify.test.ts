/**
 * The simulator's hint in `decide()` (src/smt/decide.ts `certify`): a known dial is the witness,
 * with no solver call, only when it is a dial of the query itself (the same client, protocol and
 * family, the fixed address and ports the query names) and satisfies one of the symbolic paths
 * under the query's domain. Every other hint is not certified (`stats.certified` absent) and the
 * witness comes from Z3, a dial of the query that the simulator confirms. Found by mutation
 * testing (docs/mutation.md): no test gave a hint that must be refused.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Dial } from "../../src/ir/dial.js";
import { ECHO_ID } from "../../src/ir/dial.js";
import type { Network } from "../../src/ir/types.js";
import { formatIP } from "../../src/net/addr.js";
import { attempt, machineIndex, meetsQuery } from "../../src/sim/connect.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown, solverStats } from "../../src/smt/solver.js";
import { build, ip, q } from "../sim/helpers.js";

afterAll(() => shutdown());

// c drops its own TCP from source ports 1024-2000; s and t both serve port 80
const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    firewall: { output: { rules: [ { action: drop, proto: tcp, sport: 1024-2000 } ] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: web, port: 80 } ]
  t:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    services: [ { name: web, port: 80 } ]
`);

// c reaches everything off its LAN through s, which DNATs TCP port 80 to itself: a dial of any
// address but c's LAN's (and of no IPv6 address: c has none) reaches s's service
const gateway = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.20 } ]
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: 80, to: 192.168.1.20 } ]
    services: [ { name: web, port: 80 } ]
`);

const works: Dial = { from: "c", proto: "tcp", dst: ip("192.168.1.20"), dport: 80, sport: 40000 };

/** The decision with this hint, and whether the simulator confirms its witness. */
async function decideWith(n: Network, text: string, hint: Dial) {
  const query = q(text);
  const calls = solverStats().calls;
  const r = await decide(n, query, { hint });
  const confirmed = r.dial !== undefined && meetsQuery(query, attempt(n, machineIndex(n), r.dial));
  return { r, confirmed, solverCalls: solverStats().calls - calls };
}

describe("a hint that is a working dial of the query is the witness, with no solver call", () => {
  it.each([
    ["c -> s:80/tcp", "192.168.1.20:80 from 40000", works],
    ["c -> 192.168.1.20:80/tcp", "192.168.1.20:80 from 40000", works],
    // the source port the hint gives is the one checked against c's rule (not the domain's lowest)
    ["c -> s:80/tcp", "192.168.1.20:80 from 2001", { ...works, sport: 2001 }],
    [
      "c -> 192.168.1.20/icmp",
      "an echo to 192.168.1.20",
      { from: "c", proto: "icmp", dst: ip("192.168.1.20"), dport: 0, sport: ECHO_ID } as Dial,
    ],
  ])("%s with the hint %s", async (text, _, hint) => {
    const { r, confirmed, solverCalls } = await decideWith(net, text, hint);
    expect(r).toMatchObject({ verdict: "reachable", dial: hint, stats: { certified: true, solveMs: 0 } });
    expect(confirmed).toBe(true);
    expect(solverCalls).toBe(0);
  });
});

describe("a hint that is not a dial of the query (or fails its paths) is not certified: Z3 finds the witness", () => {
  const refused = async (n: Network, text: string, hint: Dial) => {
    const { r, confirmed } = await decideWith(n, text, hint);
    expect(r.verdict).toBe("reachable");
    expect(r.stats.certified).toBeUndefined();
    expect(confirmed).toBe(true);
    return r.dial!;
  };

  it("a source port c's own rule drops", async () => {
    const d = await refused(net, "c -> s:80/tcp", { ...works, sport: 1500 });
    expect(d.sport < 1024 || d.sport > 2000).toBe(true);
  });

  it("another client (t dialing s works, but the query is c's)", async () => {
    expect((await refused(net, "c -> s:80/tcp", { ...works, from: "t" })).from).toBe("c");
  });

  it("another protocol", async () => {
    expect((await refused(net, "c -> s:80/tcp", { ...works, proto: "udp" })).proto).toBe("tcp");
  });

  it("another address than the one the query names (t's, which answers too)", async () => {
    expect(formatIP((await refused(net, "c -> 192.168.1.20:80/tcp", { ...works, dst: ip("192.168.1.30") })).dst)).toBe("192.168.1.20");
  });

  it("an IPv6 address with the same 32 low bits as the IPv4 address the query names", async () => {
    const d = await refused(net, "c -> 192.168.1.20:80/tcp", { ...works, dst: ip("::c0a8:114") });
    expect(formatIP(d.dst)).toBe("192.168.1.20");
  });

  it("another port than the one the query names", async () => {
    expect((await refused(net, "c -> 192.168.1.20:80/tcp", { ...works, dport: 81 })).dport).toBe(80);
  });

  it("a ping with another identifier than the echo's", async () => {
    const hint: Dial = { from: "c", proto: "icmp", dst: ip("192.168.1.20"), dport: 0, sport: 40000 };
    expect((await refused(net, "c -> 192.168.1.20/icmp", hint)).sport).toBe(ECHO_ID);
  });

  it("an address of the other family than every path's (the IPv4 paths' conditions only exclude prefixes)", async () => {
    const d = await refused(gateway, "c -> s:80/tcp", { ...works, dst: ip("2001:db8::1") });
    expect(d.dst.v).toBe(4);
  });

  it("0.0.0.0, which the paths' prefixes allow but the query's domain excludes", async () => {
    // the same hint with a dialable address is certified
    const ok = await decideWith(gateway, "c -> s:80/tcp", { ...works, dst: ip("10.1.2.3") });
    expect(ok.r.stats.certified).toBe(true);
    const d = await refused(gateway, "c -> s:80/tcp", { ...works, dst: ip("0.0.0.0") });
    expect(formatIP(d.dst)).not.toBe("0.0.0.0");
  });
});
