/**
 * A guest's connection that comes back into its own NAT engine (seed 32000074): the guest is its
 * host's gateway, so the engine's re-sent connection goes back out through the guest into the
 * engine. The model stops where the first reply cannot get back; libslirp makes the host's
 * connection before it answers, so the kernel's engine goes round and round, busy, and the dials
 * sent after it time out (every TCP dial of the guest to its host alias did, where reach said
 * refused). The emulator sends such dials last (probe.ts loopsThroughEngine). docs/semantics.md 10.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered } from "./support.js";

afterAll(() => shutdown());

const net = lowered(
  "engine-loop.yaml",
  `segments: { lan: 192.168.11.0/24, internet: 203.0.113.0/24 }
machines:
  h0:
    interfaces: { eth0: { segment: lan, addresses: [192.168.11.10/24] } }
    routes: [ { to: default, via: 192.168.11.101 } ]
  out:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.1/24] } }
    services: [ { name: web, proto: tcp, port: 80 } ]
  v0:
    vm:
      on: h0
      adapters:
        - { mode: natnetwork, network: nn1, addresses: [10.0.51.10/24] }
        - { mode: bridged, bridge: eth0, addresses: [192.168.11.101/24] }
    ip_forward: true
natnetworks:
  nn1: { network: 10.0.51.0/24 }
`,
);
// the looping dial first, so that without the order it would run beside the others
const cases = [
  ["v0 -> 203.0.113.1:80/tcp", "unreachable"],
  ["v0 -> 10.0.51.2:80/tcp", "unreachable"],
  ["v0 -> 10.0.51.2:81/tcp", "unreachable"],
] as const;

describe("a connection that loops through its own NAT engine is probed last (seed 32000074)", () => {
  it("both engines: unreachable; the host alias refuses", async () => {
    await enginesAgree(net, cases);
    expect((await causesOf(net, "v0 -> 10.0.51.2:80/tcp"))[0]![1]).toBe("refused");
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, symptom by symptom",
    async () => {
      const r = await kernelAgrees(net, cases);
      expect(kernelSymptoms(r).slice(1)).toEqual([["refused refused"], ["refused refused"]]);
    },
    120_000,
  );
});
