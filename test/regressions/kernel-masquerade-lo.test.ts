/**
 * Regressions of the generated-topology kernel test, seeds 31000062 and 31000070 (2026-12-06):
 * UDP to 127.0.0.1 on a machine with a masquerade rule that does not name its interface.
 *
 * IPv4 masquerade asks the kernel for a universe-scope address of the outgoing device
 * (nf_nat_masquerade_ipv4, inet_select_addr); out of lo, whose 127.0.0.1 is host scope, it takes
 * the machine's first IPv4 address whatever the destination, and with none it drops the packet.
 * Both engines took masquerade to leave loopback traffic alone. Seed 31000062: a dial to
 * 127.0.0.1 leaves as 192.168.10.12 -> 127.0.0.1, a wildcard UDP server answers from the local
 * route's source for 192.168.10.12 (192.168.10.12, not 127.0.0.1), conntrack does not take that
 * for the reply, and the client drops it (a timeout where reach said reachable); a TCP server
 * sees the client as 192.168.10.12 (INPUT rules on the source see that too). Seed 31000070: a
 * VM with no IPv4 address but loopback, `masquerade out: lo`: every IPv4 dial to itself is
 * dropped (UDP: EPERM at send; TCP and ping: a timeout). docs/semantics.md 4 and 10.
 */
import { enginesAgree, kernelAgrees, lowered, q, type Cases } from "./support.js";
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { answerQuery } from "../../src/query/engine.js";
import type { Network } from "../../src/ir/types.js";
import { renderAnswer } from "../../src/query/render.js";

afterAll(() => shutdown());

const root = emulationSupport().ok;

async function kernel(net: Network, cases: Cases) {
  const r = await kernelAgrees(net, cases);
  // what each failed dial's client saw is what reach says
  expect(r.probes.flatMap((p) => p.dials.filter((d) => d.symptom && !d.symptom.agree))).toEqual([]);
  return r;
}

describe("masquerade out of lo takes the machine's first IPv4 address (kernel test seed 31000062)", () => {
  const net = lowered(
    "masquerade-lo.yaml",
    `segments: { lan0: 192.168.10.0/24, lan1: 10.0.0.0/24 }
machines:
  h2:
    interfaces:
      eth0: { segment: lan0, addresses: [192.168.10.12/24] }
      eth1: { segment: lan1, addresses: [10.0.0.5/24] }
    services:
      - { name: any, proto: udp, port: 8083, bind: 0.0.0.0 }
      - { name: lo1, proto: udp, port: 8081, bind: 127.0.0.1 }
      - { name: web, proto: tcp, port: 8082 }
      - { name: admin, proto: tcp, port: 8084 }
    firewall:
      input:
        rules:
          - { action: drop, proto: tcp, dport: 8084, src: 192.168.10.12 }
    nat:
      - action: masquerade
`,
  );
  const cases = [
    // the wildcard server answers from 192.168.10.12, which conntrack does not take for 127.0.0.1's reply
    ["h2 -> 127.0.0.1:8083/udp", "unreachable"],
    // likewise for its second address: the dial leaves as 192.168.10.12 -> 10.0.0.5
    ["h2 -> 10.0.0.5:8083/udp", "unreachable"],
    ["h2 -> 192.168.10.12:8083/udp", "reachable"],
    // a server bound to 127.0.0.1 answers from it: the reply is the connection's
    ["h2 -> 127.0.0.1:8081/udp", "reachable"],
    ["h2 -> 127.0.0.1:8082/tcp", "reachable"],
    // INPUT sees the client as 192.168.10.12
    ["h2 -> 127.0.0.1:8084/tcp", "unreachable"],
    ["h2 -> 10.0.0.5:8084/tcp", "unreachable"],
    ["h2 -> 10.0.0.5/icmp", "reachable"],
  ] as const;
  it("both engines", () => enginesAgree(net, cases));
  it("the answer shows the masquerade to 192.168.10.12 in the trace", async () => {
    const a = await answerQuery(net, q("h2 -> 127.0.0.1:8082/tcp"), { engine: "sim", timeoutMs: 30_000 });
    expect(renderAnswer(a.answer, net.machines)).toContain("=> tcp 192.168.10.12:40000 -> 127.0.0.1:8082 (nat rule 1 (masquerade)");
  });
  it.skipIf(!root)("the kernel agrees, dial by dial and symptom by symptom", () => kernel(net, cases), 60_000);
});

describe("masquerade with no IPv4 address to take drops the packet (kernel test seed 31000070)", () => {
  const net = lowered(
    "masquerade-none.yaml",
    `segments: { lan0: { subnets: [fd01::/64] } }
machines:
  h0: { interfaces: { eth0: { segment: lan0, addresses: [fd01::10/64] } } }
  v1:
    vm: { on: h0, adapters: [ { mode: none } ] }
    services:
      - { name: dns, proto: udp, port: 443 }
      - { name: web, proto: tcp, port: 8082 }
      - { name: dns6, proto: udp, port: 8083, bind: "::" }
    nat:
      - { action: masquerade, out: lo }
`,
  );
  const cases = [
    ["v1 -> 127.0.0.1:443/udp", "unreachable"],
    ["v1 -> 127.0.0.1:8082/tcp", "unreachable"],
    ["v1 -> 127.0.0.1/icmp", "unreachable"],
    // IPv6 keeps ::1 (the kernel picks the destination's own address)
    ["v1 -> [::1]:8083/udp", "reachable"],
  ] as const;
  it("both engines", () => enginesAgree(net, cases));
  it("the cause is the masquerade rule, and the UDP client sees EPERM", async () => {
    const a = await answerQuery(net, q("v1 -> 127.0.0.1:443/udp"), { engine: "sim", timeoutMs: 30_000 });
    expect((a.answer.causes ?? []).map((c) => [c.code, c.symptom])).toEqual([["MASQUERADE_NO_ADDRESS", "not-permitted"]]);
  });
  it.skipIf(!root)("the kernel agrees, dial by dial and symptom by symptom", () => kernel(net, cases), 60_000);
});
