/**
 * The walk of a query to a machine does not visit hosts that cannot pass a packet on
 * (smt/connect.ts `passesOn`): the exploration of a LAN query is the same size at 20 and at
 * 400 hosts, and hosts that do pass packets on (a forwarding host with a DNAT, a relay process)
 * are still explored, with both engines agreeing.
 */
import { afterAll, expect, it } from "vitest";
import { parseQuery } from "../../src/ir/query.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decide, explore } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { build } from "../sim/helpers.js";

afterAll(() => shutdown());

const query = (text: string) => {
  const p = parseQuery(text);
  if (!p.ok) throw new Error(p.message);
  return p.query;
};

/** `n` plain hosts on one LAN, h0 and h1 with a service on 8080; `extra` adds machines. */
function lan(n: number, extra = ""): string {
  const hosts = Array.from({ length: n }, (_, i) => {
    const svc = i < 2 ? "\n    services: [ { name: app, port: 8080 } ]" : "";
    return `  h${i}:\n    interfaces: { eth0: { segment: lan, addresses: [10.0.${Math.floor(i / 200)}.${(i % 200) + 10}/16] } }${svc}`;
  });
  return `segments: { lan: 10.0.0.0/16 }\nmachines:\n${hosts.join("\n")}\n${extra}`;
}

it("a LAN query explores as many branches at 400 hosts as at 20", () => {
  const forks = [20, 400].map((n) => explore(build(lan(n)), query("h0 -> h1:8080/tcp"), 200_000, Date.now() + 60_000).forks);
  expect(forks[1]).toBe(forks[0]);
  expect(forks[0]).toBeLessThan(100);
});

it("a forwarding host with a DNAT and a relay process on a plain host are still walked through", async () => {
  const extra = `  gw:
    interfaces: { eth0: { segment: lan, addresses: [10.0.9.1/16] } }
    ip_forward: true
    nat:
      - { action: dnat, chain: prerouting, proto: tcp, dport: 9000, to: 10.0.0.11, toPort: 8080 }
      - { action: masquerade, chain: postrouting, out: eth0 }
  proxy:
    interfaces: { eth0: { segment: lan, addresses: [10.0.9.2/16] } }
    relays: [ { name: fwd, proto: tcp, port: 7000, to: 10.0.0.11, toPort: 8080 } ]
`;
  const net = build(lan(30, extra));
  const q = query("h0 -> h1:8080/tcp");
  const found = explore(net, q, 200_000, Date.now() + 60_000).found;
  // straight to h1, through gw's DNAT (gw answers for its address, then forwards) and through the relay
  expect(new Set(found.map((f) => f.path.machine))).toEqual(new Set(["h1"]));
  expect(found.length).toBeGreaterThanOrEqual(3);
  const smt = await decide(net, q);
  expect({ smt: smt.verdict, sim: exhaustive(net, q).verdict }).toEqual({ smt: "reachable", sim: "reachable" });
  // only the relay reaches h1 on 7000, only the DNAT on 9000
  for (const t of ["h0 -> 10.0.9.2:7000/tcp", "h0 -> 10.0.9.1:9000/tcp"]) {
    const r = await decide(net, query(t));
    expect({ t, smt: r.verdict, sim: exhaustive(net, query(t)).verdict }).toEqual({ t, smt: "reachable", sim: "reachable" });
  }
});

it("a hint dial that satisfies a symbolic path is the witness without a solver call; one that does not is ignored", async () => {
  const net = build(lan(20));
  const q = query("h0 -> h1:8080/tcp");
  const good = { from: "h0", proto: "tcp" as const, dst: { v: 4 as const, n: 0x0a00000bn }, dport: 8080, sport: 40000 };
  const r1 = await decide(net, q, { hint: good });
  expect({ verdict: r1.verdict, dial: r1.dial, solveMs: r1.stats.solveMs }).toEqual({ verdict: "reachable", dial: good, solveMs: 0 });
  // a hint to a port nobody listens on satisfies no path: Z3 finds the real witness
  const r2 = await decide(net, q, { hint: { ...good, dport: 9999 } });
  expect({ verdict: r2.verdict, dport: r2.dial?.dport }).toEqual({ verdict: "reachable", dport: 8080 });
  // and a hint never turns an unreachable query reachable
  const r3 = await decide(net, query("h0 -> h1:9999/tcp"), { hint: { ...good, dport: 9999 } });
  expect(r3.verdict).toBe("unreachable");
});

it("an ICMP echo, which has no ports, is certified by the simulator's dial too; a firewall that drops it still is not", async () => {
  const net = build(lan(5));
  const q = query("h0 -> h1/icmp");
  const echo = { from: "h0", proto: "icmp" as const, dst: { v: 4 as const, n: 0x0a00000bn }, dport: 0, sport: 1 };
  const r = await decide(net, q, { hint: echo });
  expect({ verdict: r.verdict, dial: r.dial, certified: r.stats.certified }).toEqual({ verdict: "reachable", dial: echo, certified: true });
  const walled = build(
    lan(5).replace("h1:\n", "h1:\n    firewall: { input: { policy: drop, rules: [ { action: accept, proto: tcp, dport: 8080 } ] } }\n"),
  );
  const d = await decide(walled, q, { hint: echo });
  expect({ verdict: d.verdict, certified: d.stats.certified }).toEqual({ verdict: "unreachable", certified: undefined });
});
