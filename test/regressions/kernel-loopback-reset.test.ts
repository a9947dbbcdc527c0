/**
 * Regression of the generated kernel test's symptom tally (seed 20261124, `v2 -> localhost:53/tcp`,
 * 1,435 of the 1,556 symptom mismatches of every CI run since 2026-12-05): a machine dialing its own
 * closed port is answered by a reset that crosses its own OUTPUT and INPUT chains on `lo`, and an
 * INPUT rule that drops TCP from low source ports (the reset comes from port 53) drops it, so the
 * client times out instead of being refused. The simulator walked a reset back only between two
 * machines; it now walks it on the machine itself too. Verdict unchanged (unreachable); what the
 * client sees, and the kernel's dial by dial.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered } from "./support.js";

afterAll(() => shutdown());

const topo = (input: string) =>
  lowered(
    "loopback-reset.yaml",
    `segments: { lan: 192.168.10.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
    services: [ { name: ssh, proto: tcp, port: 22, bind: 192.168.10.20 } ]
    firewall: { input: { rules: [ ${input} ] } }
`,
  );
const dropsLowPorts = topo("{ action: drop, proto: tcp, sport: 1-1023 }");
const dropsNothing = topo("{ action: drop, proto: udp, dport: 9 }");
const cases = [
  ["pc -> localhost:53/tcp", "unreachable"],
  ["pc -> 192.168.10.20:53/tcp", "unreachable"],
] as const;

describe("a reset on the machine's own loopback crosses its INPUT chain (kernel test seed 20261124)", () => {
  it("both engines: unreachable either way", async () => {
    await enginesAgree(dropsLowPorts, cases);
    await enginesAgree(dropsNothing, cases);
  });
  it("the client times out where INPUT drops the reset, and is refused where it does not", async () => {
    expect(await causesOf(dropsLowPorts, "pc -> 192.168.10.20:53/tcp")).toEqual([["NOTHING_LISTENS", "timeout"]]);
    expect(await causesOf(dropsNothing, "pc -> 192.168.10.20:53/tcp")).toEqual([["NOTHING_LISTENS", "refused"]]);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial and symptom by symptom",
    async () => {
      for (const [net, symptom] of [
        [dropsLowPorts, "timeout"],
        [dropsNothing, "refused"],
      ] as const) {
        const r = await kernelAgrees(net, cases);
        expect(kernelSymptoms(r)).toEqual(cases.map(() => [`${symptom} ${symptom}`]));
      }
    },
    120_000,
  );
});
