/**
 * A TCP SYN that the client's own OUTPUT chain rejects with an ICMP type: the error is a local
 * packet to the client itself, so it crosses that same OUTPUT chain (and INPUT on lo) before the
 * socket hears it. A chain that rejects everything drops it (a reject sends nothing back for an
 * error), and the client times out where reach said refused (generated kernel test, seed
 * 32000073: `h3 -> h4:10080/tcp`, an OUTPUT chain `policy: drop` with a bare `reject` first).
 * docs/semantics.md 4 and 10.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { causesOf, enginesAgree, kernelAgrees, lowered } from "./support.js";

afterAll(() => shutdown());

const lab = (output: string) =>
  lowered(
    "own-reject.yaml",
    `segments: { lan: 192.168.10.0/24 }
machines:
  h:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.13/24, "fd01::13/64"] } }
    firewall: { output: ${output} }
  peer:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.14/24, "fd01::14/64"] } }
    services: [ { name: web, proto: tcp, port: 10080 } ]
`,
  );
/**
 * Each variant of h's OUTPUT chain: both engines say every query is unreachable, the simulator's
 * symptom is `seen` for each, and the kernel agrees dial by dial and symptom by symptom.
 */
function ownChain(title: string, queries: readonly string[], variants: readonly (readonly [string, string])[]): void {
  describe(title, () => {
    it("both engines: unreachable; the symptom follows the error", async () => {
      for (const [output, seen] of variants) {
        const net = lab(output);
        await enginesAgree(
          net,
          queries.map((t) => [t, "unreachable"] as const),
        );
        const got = await Promise.all(queries.map(async (t) => (await causesOf(net, t))[0]![1]));
        expect([output, got]).toEqual([output, queries.map(() => seen)]);
      }
    });
    it.skipIf(!emulationSupport().ok)(
      "the kernel agrees, dial by dial and symptom by symptom",
      async () => {
        for (const [output] of variants) {
          const r = await kernelAgrees(
            lab(output),
            queries.map((t) => [t, "unreachable"] as const),
          );
          const off = r.probes.flatMap((p) =>
            p.dials.filter((d) => d.symptom && !d.symptom.agree).map((d) => `${p.query.text} ${d.symptom!.reach}/${d.symptom!.kernel}`),
          );
          expect([output, off]).toEqual([output, []]);
        }
      },
      180_000,
    );
  });
}

// [h's OUTPUT chain, what h sees]
ownChain(
  "the ICMP error of a reject in the client's own OUTPUT chain crosses that chain",
  ["h -> 127.0.0.1:10080/tcp", "h -> [::1]:10080/tcp", "h -> peer:10080/tcp"],
  [
    ["{ policy: drop, rules: [ { action: reject } ] }", "timeout"],
    ["{ policy: accept, rules: [ { action: reject, proto: tcp, dport: 10080 } ] }", "refused"],
    ["{ policy: drop, rules: [ { action: accept, proto: icmp }, { action: reject } ] }", "refused"],
  ],
);

// ping rejected by its own OUTPUT chain: the error shows ("Destination Port Unreachable") only if it
// gets back through that chain (seeds 32000074..77: `h2 -> gw/icmp`, reach said icmp-error, ping saw none)
ownChain(
  "a ping its own OUTPUT chain rejects",
  ["h -> 127.0.0.1/icmp", "h -> peer/icmp"],
  [
    ["{ policy: accept, rules: [ { action: reject, proto: icmp } ] }", "timeout"],
    ["{ policy: accept, rules: [ { action: accept, state: [related] }, { action: reject, proto: icmp } ] }", "icmp-error"],
  ],
);
