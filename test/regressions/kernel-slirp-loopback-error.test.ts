/**
 * What a NAT engine's guest sees when its UDP to the host's loopback draws an ICMP error (the
 * generated kernel test's "refused, the kernel timed out" dials through 10.0.x.2, e.g. seed
 * 32000060's `udp 10.0.2.2:53`). Measured with slirp4netns (libslirp 4.7), a guest's connected UDP
 * socket, 2026-12-06: through the host alias (the engine re-sends to 127.0.0.1) no ICMP error of
 * any type reaches the guest, a closed port and a reject alike; the same errors about the host's
 * own address or another machine do (port-unreachable as ECONNREFUSED, admin-prohibited as
 * EHOSTUNREACH; host- and net-unreachable are soft errors a UDP socket never reports). Its TCP
 * passes a reset on (the guest is refused) and no ICMP error of any type: the guest's SYN goes
 * unanswered (the generated kernel test's "refused", "host-unreachable", "net-unreachable" and
 * "permission-denied" guest dials that timed out, seeds 32000074..77). Symptom only: every dial
 * fails either way. docs/semantics.md 5 and 10.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered } from "./support.js";

afterAll(() => shutdown());

const net = lowered(
  "slirp-loopback-error.yaml",
  `segments: { internet: 203.0.113.0/24 }
machines:
  h3:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.13/24] } }
    firewall:
      input:
        policy: accept
        rules:
          - { action: reject, proto: udp, dport: 63, with: admin-prohibited }
          - { action: reject, proto: tcp, dport: 61 }
          - { action: reject, proto: tcp, dport: 63, with: admin-prohibited }
          - { action: reject, proto: tcp, dport: 65, with: tcp-reset }
  other:
    interfaces: { eth0: { segment: internet, addresses: [203.0.113.20/24] } }
  v0:
    vm: { on: h3, adapters: [ { mode: natnetwork, network: nn0, addresses: [10.0.2.11/24] } ] }
natnetworks:
  nn0: {}
`,
);
const cases = [
  ["v0 -> 10.0.2.2:53/udp", "timeout"],
  ["v0 -> 10.0.2.2:63/udp", "timeout"],
  ["v0 -> 203.0.113.13:53/udp", "refused"],
  ["v0 -> 203.0.113.13:63/udp", "host-unreachable"],
  ["v0 -> 203.0.113.20:53/udp", "refused"],
  // TCP: libslirp passes a reset on (nothing listens, a tcp-reset reject), and no ICMP error
  ["v0 -> 10.0.2.2:53/tcp", "refused"],
  ["v0 -> 203.0.113.13:61/tcp", "timeout"],
  ["v0 -> 203.0.113.13:63/tcp", "timeout"],
  ["v0 -> 203.0.113.13:65/tcp", "refused"],
  ["v0 -> 203.0.113.20:53/tcp", "refused"],
] as const;
const root = emulationSupport().ok;

describe("libslirp passes no ICMP error of its UDP to the host's loopback, and none of its TCP, on to the guest", () => {
  it("both engines: unreachable; the simulator's symptom for each", async () => {
    await enginesAgree(
      net,
      cases.map(([t]) => [t, "unreachable"] as const),
    );
    for (const [t, seen] of cases) expect((await causesOf(net, t))[0]![1], t).toBe(seen);
  });
  it.skipIf(!root)(
    "the kernel agrees, symptom by symptom",
    async () => {
      const r = await kernelAgrees(
        net,
        cases.map(([t]) => [t, "unreachable"] as const),
      );
      expect(kernelSymptoms(r)).toEqual(cases.map(([, s]) => [`${s} ${s}`]));
    },
    120_000,
  );
});

// Seed 32000076 (`v0 -> h0:22/tcp`): QEMU's user network with the host's loopback closed answers the
// guest's SYN to its gateway with net-unreachable, an ICMP error the guest's own INPUT chain sees as
// `related`; a chain that accepts only established TCP drops it, and the guest waits.
const closed = (input: string) =>
  lowered(
    "slirp-loopback-closed.yaml",
    `segments: { lan: 192.168.11.0/24 }
machines:
  h0:
    interfaces: { eth0: { segment: lan, addresses: [192.168.11.10/24] } }
  v0:
    vm: { on: h0, adapters: [ { mode: nat, engine: qemu, localhostReachable: false, ipv6: false } ] }
    firewall: { input: ${input} }
`,
  );
const closedCases = [
  ["{ policy: accept }", "net-unreachable"],
  ["{ policy: drop, rules: [ { action: accept, proto: tcp, state: [established] } ] }", "timeout"],
  ["{ policy: drop, rules: [ { action: accept, state: [established, related] } ] }", "net-unreachable"],
] as const;

// The CI seeds' "refused, the kernel timed out" guest dials to fd00::2 (seed 20261124, `v0 -> h3:8080/udp`):
// through QEMU's IPv6 host alias (fec0::2, built as fd00::2) the host's ::1 answers no error to the guest either.
const v6 = lowered(
  "slirp-loopback-error6.yaml",
  `segments: { lan: 192.168.11.0/24 }
machines:
  h0:
    interfaces: { eth0: { segment: lan, addresses: [192.168.11.10/24, "fd02::10/64"] } }
  v1:
    vm: { on: h0, adapters: [ { mode: nat, engine: qemu, localhostReachable: true } ] }
`,
);
const v6Cases = [
  ["v1 -> [fec0::2]:53/udp", "timeout"],
  ["v1 -> [fec0::2]:53/tcp", "refused"],
] as const;

describe("the same through QEMU's IPv6 host alias", () => {
  it("the simulator's symptom for each", async () => {
    for (const [t, seen] of v6Cases) expect([t, (await causesOf(v6, t))[0]![1]]).toEqual([t, seen]);
  });
  it.skipIf(!root)(
    "the kernel agrees, symptom by symptom",
    async () => {
      const r = await kernelAgrees(
        v6,
        v6Cases.map(([t]) => [t, "unreachable"] as const),
      );
      expect(kernelSymptoms(r)).toEqual(v6Cases.map(([, s]) => [`${s} ${s}`]));
    },
    120_000,
  );
});

describe("the net-unreachable of an engine with the host's loopback closed crosses the guest's INPUT (seed 32000076)", () => {
  it("the simulator's symptom for each", async () => {
    for (const [input, seen] of closedCases)
      expect([input, (await causesOf(closed(input), "v0 -> 10.0.2.2:22/tcp"))[0]![1]]).toEqual([input, seen]);
  });
  it.skipIf(!root)(
    "the kernel agrees, symptom by symptom",
    async () => {
      for (const [input, seen] of closedCases) {
        const r = await kernelAgrees(closed(input), [["v0 -> 10.0.2.2:22/tcp", "unreachable"]]);
        expect([input, kernelSymptoms(r)]).toEqual([input, [[`${seen} ${seen}`]]]);
      }
    },
    120_000,
  );
});
