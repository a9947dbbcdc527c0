/**
 * The emulator's second look (probe.ts retryUnanswered): a dial reach says fails at once but that
 * timed out is sent again with a long bound. Dials that had waited for a source port (a class of
 * one port: a rule on `sport: 40000`, so every dial from that port queues for it) were never sent
 * again, because the phase's keys were read after sending had emptied its waiting list (the
 * generated kernel test's "refused, the kernel timed out" dials from port 40000, seed 32000070).
 * The kernel fact they met: an IPv6 TCP SYN that the client's own OUTPUT chain rejects is refused
 * only when the SYN is sent again, about a second later (IPv4: at once); measured in namespaces,
 * docs/semantics.md 4.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, kernelAgrees, lowered } from "./support.js";

afterAll(() => shutdown());

const net = lowered(
  "probe-retry.yaml",
  `segments: { lan: 192.168.10.0/24 }
machines:
  h:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.12/24, "fd01::12/64"] } }
    services: [ { name: web, proto: tcp, port: 8080, bind: 192.168.10.12 } ]
    firewall: { output: { policy: accept, rules: [ { action: reject, proto: tcp, sport: "40000" } ] } }
`,
);
const cases = [["h -> h:53/tcp", "unreachable"]] as const;

describe("a dial that waited for its source port is also looked at again", () => {
  it("reach: refused", async () => {
    expect((await causesOf(net, cases[0][0]))[0]![1]).toBe("refused");
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, symptom by symptom, on every dial from port 40000 (IPv6 ones refused after a second)",
    async () => {
      const r = await kernelAgrees(net, cases);
      const from40000 = r.probes[0]!.dials.filter((d) => d.dial.sport === 40000);
      expect(from40000.length).toBeGreaterThan(2);
      expect(from40000.some((d) => d.dial.dst.v === 6)).toBe(true);
      expect(from40000.map((d) => d.symptom?.agree)).toEqual(from40000.map(() => true));
    },
    120_000,
  );
});
