/**
 * Regression of the generated-topology kernel test, seed 32000000 (2026-12-06): asymmetric routing
 * through a masquerading router. The client h3 reaches the LAN through h1; the servers answer
 * through their default routers, which never saw the request. There conntrack holds no entry: the
 * SYN-ACK is `invalid` (no NAT for it, so the client connects), but the server's first data packet
 * is picked up as a new connection (nf_conntrack_tcp_loose=1, the default), and a home router's
 * masquerade rewrites its source: the client never reads the banner (the kernel: accepted, then
 * hang). Measured with nft counters in gw's FORWARD: the SYN-ACK `invalid`, the data `new` and
 * counted by nat POSTROUTING; the client's reset to the masqueraded address went back through gw
 * as `established`. Both engines walked the SYN-ACK and the client's ACK, not the server's data,
 * and said reachable. Now the data gets its own walk where the reply crossed a machine without an
 * entry (sim `attempt`, smt `attemptS`). docs/semantics.md 4 and 10.
 *
 * The variants: a UDP answer is `new` there too and is masqueraded (both engines had that
 * already); a server with a route back through h1 (symmetric); a plain router without NAT (the
 * data passes un-NATed); a router dropping `invalid` in FORWARD (the SYN-ACK dies: a timeout); a
 * router dropping `new` from its LAN (the data dies: connected, then hang).
 */
import { enginesAgree, kernelAgrees, lowered, q } from "./support.js";
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { answerQuery } from "../../src/query/engine.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { parseIP } from "../../src/net/addr.js";

afterAll(() => shutdown());

const net = lowered(
  "asymmetric-nat.yaml",
  `segments: { lan: 192.168.10.0/24, wan: 203.0.113.0/24 }
machines:
  gw:
    description: home router, masquerade out of its WAN
    interfaces:
      lan0: { segment: lan, addresses: [192.168.10.1/24] }
      wan0: { segment: wan, addresses: [203.0.113.1/24] }
    router: { wan: wan0 }
  r2:
    description: plain router, no NAT, no firewall
    ip_forward: true
    interfaces:
      lan0: { segment: lan, addresses: [192.168.10.3/24] }
      wan0: { segment: wan, addresses: [203.0.113.4/24] }
  r3:
    description: drops what conntrack calls invalid (ICMP passes)
    ip_forward: true
    interfaces:
      lan0: { segment: lan, addresses: [192.168.10.4/24] }
      wan0: { segment: wan, addresses: [203.0.113.5/24] }
    firewall:
      forward: { rules: [ { action: accept, proto: icmp }, { action: drop, state: [invalid] } ] }
  r4:
    description: lets no new connection out of its LAN, accepts the rest
    ip_forward: true
    interfaces:
      lan0: { segment: lan, addresses: [192.168.10.5/24] }
      wan0: { segment: wan, addresses: [203.0.113.6/24] }
    firewall:
      forward: { rules: [ { action: drop, state: [new], in: lan0 } ] }
  h1:
    description: the way in
    ip_forward: true
    interfaces:
      eth0: { segment: lan, addresses: [192.168.10.2/24] }
      eth1: { segment: wan, addresses: [203.0.113.2/24] }
  h0:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.10/24] } }
    routes: [ { to: default, via: 192.168.10.1 } ]
    services: [ { name: pg, proto: tcp, port: 5432 }, { name: dns, proto: udp, port: 5433 } ]
  h2:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.12/24] } }
    routes: [ { to: default, via: 192.168.10.1 }, { to: 203.0.113.0/24, via: 192.168.10.2 } ]
    services: [ { name: pg, proto: tcp, port: 5432 } ]
  h4:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.14/24] } }
    routes: [ { to: default, via: 192.168.10.3 } ]
    services: [ { name: pg, proto: tcp, port: 5432 }, { name: dns, proto: udp, port: 5433 } ]
  h5:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.15/24] } }
    routes: [ { to: default, via: 192.168.10.4 } ]
    services: [ { name: pg, proto: tcp, port: 5432 } ]
  h6:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.16/24] } }
    routes: [ { to: default, via: 192.168.10.5 } ]
    services: [ { name: pg, proto: tcp, port: 5432 } ]
  h3:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.3/24] } }
    routes: [ { to: 192.168.10.0/24, via: 203.0.113.2 } ]
`,
);

const cases = [
  // the SYN-ACK passes gw as invalid, the data is new there and masqueraded
  ["h3 -> h0:5432/tcp", "unreachable"],
  // the UDP answer is new at gw and masqueraded
  ["h3 -> h0:5433/udp", "unreachable"],
  // an echo reply without an entry is invalid: no NAT, and gw passes what comes from its LAN
  ["h3 -> h0/icmp", "reachable"],
  // h2 answers through h1, the way the request came
  ["h3 -> h2:5432/tcp", "reachable"],
  // asymmetric, but r2 translates nothing
  ["h3 -> h4:5432/tcp", "reachable"],
  ["h3 -> h4:5433/udp", "reachable"],
  // r3 drops the invalid SYN-ACK
  ["h3 -> h5:5432/tcp", "unreachable"],
  // r4 passes the invalid SYN-ACK and drops the new data
  ["h3 -> h6:5432/tcp", "unreachable"],
] as const;

const ip = (text: string) => {
  const r = parseIP(text);
  if (!r) throw new Error(text);
  return r;
};

describe("asymmetric routing through a masquerading router: the server's data is a new connection there (kernel test seed 32000000)", () => {
  it("both engines", () => enginesAgree(net, cases));

  it("the simulator walks the server's data, picked up as new by gw and masqueraded", () => {
    const a = attempt(net, machineIndex(net), { from: "h3", proto: "tcp", dst: ip("192.168.10.10"), dport: 5432, sport: 40000 });
    expect(a.outcome).toMatchObject({ kind: "failed", leg: 0, direction: "data", disposition: { kind: "reply-mismatch", machine: "h3" } });
    const leg = a.legs[0]!;
    // the SYN-ACK crossed gw as invalid, untranslated; the data crossed it as new and was masqueraded
    expect(leg.reply?.steps.filter((s) => s.kind === "filter" && s.machine === "gw").map((s) => s.kind === "filter" && s.state)).toEqual([
      "invalid",
    ]);
    expect(leg.data?.steps.filter((s) => s.machine === "gw").map((s) => (s.kind === "filter" ? s.state : s.kind))).toEqual([
      "receive",
      "route",
      "new",
      "nat",
      "transmit",
    ]);
  });

  it("a symmetric return path walks no data leg", () => {
    const a = attempt(net, machineIndex(net), { from: "h3", proto: "tcp", dst: ip("192.168.10.12"), dport: 5432, sport: 40000 });
    expect(a.ok).toBe(true);
    expect(a.legs[0]?.data).toBeUndefined();
  });

  it("each failure's cause, where it is and what the client sees", async () => {
    const causes = async (text: string) =>
      ((await answerQuery(net, q(text), { engine: "sim", timeoutMs: 30_000 })).answer.causes ?? []).map((c) => [
        c.code,
        c.machine,
        c.symptom,
      ]);
    expect(await causes("h3 -> h0:5432/tcp")).toEqual([["RETURN_PATH_NAT", "gw", "connected-then-hang"]]);
    expect(await causes("h3 -> h0:5433/udp")).toEqual([["RETURN_PATH_NAT", "gw", "timeout"]]);
    expect(await causes("h3 -> h5:5432/tcp")).toEqual([["RETURN_PATH", "r3", "timeout"]]);
    expect(await causes("h3 -> h6:5432/tcp")).toEqual([["RETURN_PATH", "r4", "connected-then-hang"]]);
    const text = (await answerQuery(net, q("h3 -> h0:5432/tcp"), { engine: "sim", timeoutMs: 30_000 })).answer.causes![0]!.text;
    // the text says where the data goes wrong and the way back to take
    expect(text).toContain("goes back through gw, which never saw the request (it came through h1)");
    expect(text).toContain("give h0 a route to 203.0.113.3 via 192.168.10.2");
  });

  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial and symptom by symptom",
    async () => {
      const r = await kernelAgrees(net, cases);
      expect(r.probes.flatMap((p) => p.dials.filter((d) => d.symptom && !d.symptom.agree))).toEqual([]);
      // the dial of h0's address: connected, then nothing (the probe's accepted-then-hang)
      const h0 = r.probes[0]!.dials.find((d) => d.dial.dst.n === ip("192.168.10.10").n);
      expect(h0?.symptom).toMatchObject({ reach: "connected-then-hang", kernel: "accepted-then-hang", agree: true });
    },
    120_000,
  );
});
