/**
 * Regression of the generated kernel test's symptom tally (seed 20261123, `h3 -> h0:22/tcp` through
 * `relay0` on h2; 36 of the symptom mismatches of every CI run): a relay process (socat,
 * docker-proxy: a relay without a NAT engine's gateway) whose own connect() hears an error (an ICMP
 * unreachable from a router with no route, a reject, no route of its own) fails at once and closes
 * the client it accepted, which reads end of file. reach said the client hangs, as it does behind a
 * libslirp forward, which ignores ICMP errors. Silence (a drop) still leaves it hanging.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered } from "./support.js";

afterAll(() => shutdown());

const net = lowered(
  "relay-error.yaml",
  `segments: { lan: 192.168.10.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
  proxy:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.10/24] } }
    relays:
      - { name: nowhere, proto: tcp, port: 8001, to: 10.9.9.9, toPort: 22 }
      - { name: rejected, proto: tcp, port: 8002, to: 192.168.10.30, toPort: 22 }
      - { name: dropped, proto: tcp, port: 8003, to: 192.168.10.30, toPort: 23 }
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.30/24] } }
    services: [ { name: ssh, proto: tcp, port: 22 }, { name: telnet, proto: tcp, port: 23 } ]
    firewall:
      input:
        rules:
          - { action: reject, proto: tcp, dport: 22, with: host-unreachable }
          - { action: drop, proto: tcp, dport: 23 }
`,
);
const cases = [
  ["pc -> 192.168.10.10:8001/tcp", "unreachable"],
  ["pc -> 192.168.10.10:8002/tcp", "unreachable"],
  ["pc -> 192.168.10.10:8003/tcp", "unreachable"],
] as const;
const seen = ["accepted-then-eof", "accepted-then-eof", "accepted-then-hang"] as const;

describe("a relay process closes its client when its own connect() hears an error (kernel test seed 20261123)", () => {
  it("both engines", async () => {
    await enginesAgree(net, cases);
  });
  it("what the client sees: end of file on an error, a hang on silence", async () => {
    const got = await Promise.all(cases.map(async ([text]) => (await causesOf(net, text))[0]?.[1]));
    expect(got).toEqual([...seen]);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial and symptom by symptom",
    async () => {
      const r = await kernelAgrees(net, cases);
      expect(kernelSymptoms(r)).toEqual(seen.map((s) => [`${s} ${s}`]));
    },
    120_000,
  );
});
