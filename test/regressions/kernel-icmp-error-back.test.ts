/**
 * Regression of the generated kernel test's symptom tally (seeds 20261123: `h3 -> gw:5432/udp`,
 * `h0 -> h3:5432/tcp`): the ICMP error a refused or rejected packet draws is walked back to the
 * client like a reset. conntrack counts it as related to the connection (so it is un-NATed on the
 * way, and a machine that never saw the connection calls it invalid), and filters see it as ICMP.
 * - A server whose OUTPUT policy drops what it does not accept drops its own ICMP port-unreachable:
 *   a UDP client times out instead of being refused (an output rule accepting ICMP restores it).
 * - A DNAT to a machine on the client's own segment: the server's ICMP error goes straight back to
 *   the client, from the server's address, without the router's translation, so the client's
 *   socket never hears it and times out (the same shape as a reset's, kernel-tested before).
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered } from "./support.js";

afterAll(() => shutdown());

const server = (output: string) =>
  lowered(
    "icmp-error-back.yaml",
    `segments: { lan: 192.168.10.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.30/24] } }
    services: [ { name: dns, proto: udp, port: 53 } ]
    firewall:
      input: { rules: [ { action: reject, proto: tcp, dport: 5432, with: host-unreachable } ] }
      output: { policy: drop, rules: [ { action: accept, proto: udp }, { action: accept, proto: tcp } ${output} ] }
`,
  );
const silent = server("");
const heard = server(", { action: accept, proto: icmp, state: [related] }");

const triangle = lowered(
  "icmp-error-triangle.yaml",
  `segments: { lan: 192.168.10.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
  fwd:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.10/24] } }
    ip_forward: true
    nat: [ { action: dnat, chain: prerouting, proto: tcp, dport: 8022, to: 192.168.10.30, toPort: 22 } ]
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.30/24] } }
    firewall:
      input: { rules: [ { action: reject, proto: tcp, dport: 22, with: host-unreachable } ] }
`,
);

const cases = [
  ["pc -> 192.168.10.30:5353/udp", "unreachable"],
  ["pc -> 192.168.10.30:5432/tcp", "unreachable"],
] as const;
const symptoms = async (net: ReturnType<typeof server>, texts: readonly string[]) =>
  Promise.all(texts.map(async (t) => (await causesOf(net, t))[0]?.[1]));

describe("ICMP errors are walked back to the client as related packets (kernel test seed 20261123)", () => {
  it("both engines: the verdicts do not change", async () => {
    await enginesAgree(silent, cases);
    await enginesAgree(heard, cases);
    await enginesAgree(triangle, [["pc -> 192.168.10.10:8022/tcp", "unreachable"]]);
  });
  it("what the client sees", async () => {
    const texts = cases.map(([t]) => t);
    expect(await symptoms(silent, texts)).toEqual(["timeout", "timeout"]);
    expect(await symptoms(heard, texts)).toEqual(["refused", "host-unreachable"]);
    expect(await symptoms(triangle, ["pc -> 192.168.10.10:8022/tcp", "pc -> 192.168.10.30:22/tcp"])).toEqual([
      "timeout",
      "host-unreachable",
    ]);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial and symptom by symptom",
    async () => {
      for (const [net, queries, seen] of [
        [silent, cases, ["timeout", "timeout"]],
        [heard, cases, ["refused", "host-unreachable"]],
        [
          triangle,
          [
            ["pc -> 192.168.10.10:8022/tcp", "unreachable"],
            ["pc -> 192.168.10.30:22/tcp", "unreachable"],
          ],
          ["timeout", "host-unreachable"],
        ],
      ] as const) {
        const r = await kernelAgrees(net, queries);
        expect(kernelSymptoms(r)).toEqual(seen.map((s) => [`${s} ${s}`]));
      }
    },
    120_000,
  );
});
