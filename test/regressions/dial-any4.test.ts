/**
 * Regression of the differential fuzz, `npm run fuzz -- --count 20000 --seed 20261206`, topology
 * 11,441 (2026-12-06): a machine query's dialed IPv4 address is a variable, and Z3 took 0.0.0.0 as
 * an address like any other (routed by the default route, source the interface's address). The
 * kernel connects a socket dialing 0.0.0.0 to 127.0.0.1 (ip_route_output_key_hash_rcu: a zero
 * destination becomes the loopback address, source too), so nat OUTPUT sees 127.0.0.1 and a DNAT
 * there reroutes a packet whose source is 127.0.0.1, which may not leave by eth0 (martian). The
 * simulator did so already (sim/connect.ts); the symbolic domain now leaves 0.0.0.0 out of the
 * variable, as it leaves :: out of the IPv6 one (dialing it is dialing the loopback address,
 * which the domain holds). Engines, the witness replayed, and, as root, the kernel.
 */
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered, q } from "./support.js";
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { machineIndex, attempt, meetsQuery } from "../../src/sim/connect.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";

afterAll(() => shutdown());

/** pc, with a nat OUTPUT DNAT of udp port 9000 (and `extra` keys), and srv answering udp 80. */
const dnatTo = (file: string, match: string, extra = "") =>
  lowered(
    file,
    `segments: { lan: 192.168.10.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
    routes: [ { to: default, via: 192.168.10.1 } ]
    nat: [ { action: dnat, chain: output, proto: ${match === "tcp" ? "tcp" : "udp"}, ${match === "zero" ? "dst: 0.0.0.0/32, " : ""}dport: 9000, to: 192.168.10.13, toPort: 80 } ]
${extra}  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.13/24] } }
    services: [ { name: web, proto: ${match === "tcp" ? "tcp" : "udp"}, port: 80 } ]
`,
  );
// A DNAT that only a packet still addressed to 0.0.0.0 would match: the kernel has rewritten the
// destination to 127.0.0.1 before the hook, so nothing matches it.
const onlyZero = dnatTo("dial-any4.yaml", "zero");
// The fuzz's shape: a DNAT of any destination on port 9000; dialing 0.0.0.0 makes the source
// 127.0.0.1, which the rerouted packet may not carry out of eth0, but other dials work.
const anyDst = dnatTo("dial-any4-dnat.yaml", "any");
const anyDstTcp = dnatTo("dial-any4-tcp.yaml", "tcp");

// kernel seed 20261123 (`v0 -> h3:9000/tcp`): a nat OUTPUT DNAT to an address the machine has no route to
const unroutable = lowered(
  "dial-any4-unroutable.yaml",
  `segments: { lan: 192.168.10.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
    nat:
      - { action: dnat, chain: output, proto: tcp, dport: 3389, to: 192.168.56.1 }
      - { action: dnat, chain: output, proto: udp, dport: 3389, to: 192.168.56.1 }
`,
);

const zeroCases = [
  ["pc -> srv:80/udp", "reachable"],
  ["pc -> 0.0.0.0:9000/udp", "unreachable"],
  ["pc -> 127.0.0.1:9000/udp", "unreachable"],
] as const;

describe("dialing 0.0.0.0 is dialing 127.0.0.1 in both engines (fuzz seed 20261206)", () => {
  it("a DNAT matching destination 0.0.0.0 never applies: Z3 finds no way through it", async () => {
    // the only dial that matches the rule is 0.0.0.0:9000, which the kernel sends to 127.0.0.1
    const net = dnatTo(
      "dial-any4-only.yaml",
      "zero",
      `    firewall: { output: { policy: drop, rules: [ { action: accept, dst: 192.168.10.13, proto: udp, sport: "1024-65535", dport: 80, origDst: 0.0.0.0/32 } ] } }\n`,
    );
    await enginesAgree(net, [["pc -> srv:80/udp", "unreachable"]]);
  });
  it("both engines, and Z3's witness replays", async () => {
    await enginesAgree(onlyZero, zeroCases);
    await enginesAgree(anyDst, [
      ["pc -> srv:80/udp", "reachable"],
      ["pc -> 0.0.0.0:9000/udp", "unreachable"],
      ["pc -> 192.168.10.99:9000/udp", "reachable"],
    ]);
    for (const net of [onlyZero, anyDst]) {
      const query = q("pc -> srv:80/udp");
      const smt = await decide(net, query, { timeoutMs: 60_000, witness: "any" });
      expect(smt.dial).toBeDefined();
      expect(meetsQuery(query, attempt(net, machineIndex(net), smt.dial!))).toBe(true);
    }
  });
  it("the cause and what the client sees: EINVAL at send for UDP, a timeout for TCP", async () => {
    await enginesAgree(anyDstTcp, [["pc -> 127.0.0.1:9000/tcp", "unreachable"]]);
    expect(await causesOf(anyDst, "pc -> 0.0.0.0:9000/udp")).toEqual([["MARTIAN", "invalid-argument"]]);
    expect(await causesOf(anyDst, "pc -> 127.0.0.1:9000/udp")).toEqual([["MARTIAN", "invalid-argument"]]);
    expect(await causesOf(anyDstTcp, "pc -> 127.0.0.1:9000/tcp")).toEqual([["MARTIAN", "timeout"]]);
  });
  it("no route after the DNAT: a TCP client times out (its SYN is dropped and retried), a UDP send() fails with ENETUNREACH", async () => {
    expect(await causesOf(unroutable, "pc -> 127.0.0.1:3389/tcp")).toEqual([["NO_ROUTE", "timeout"]]);
    expect(await causesOf(unroutable, "pc -> 127.0.0.1:3389/udp")).toEqual([["NO_ROUTE", "net-unreachable"]]);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial",
    async () => {
      await kernelAgrees(onlyZero, zeroCases);
      const r = await kernelAgrees(anyDst, [
        ["pc -> 0.0.0.0:9000/udp", "unreachable"],
        ["pc -> 127.0.0.1:9000/udp", "unreachable"],
      ]);
      // what the probe saw, dial by dial: send() failed with EINVAL, as reach says
      expect(kernelSymptoms(r)).toEqual([["invalid-argument invalid-argument"], ["invalid-argument invalid-argument"]]);
      const r2 = await kernelAgrees(unroutable, [
        ["pc -> 127.0.0.1:3389/tcp", "unreachable"],
        ["pc -> 127.0.0.1:3389/udp", "unreachable"],
      ]);
      expect(kernelSymptoms(r2)).toEqual([["timeout timeout"], ["net-unreachable net-unreachable"]]);
      await kernelAgrees(anyDstTcp, [
        ["pc -> 0.0.0.0:9000/tcp", "unreachable"],
        ["pc -> srv:80/tcp", "reachable"],
      ]);
    },
    120_000,
  );
});
