/**
 * Found by the mutation testing of src/sim/elements.ts (2026-12-07), then measured in a namespace:
 * an IPv6 masquerade out of lo (a machine's connection to itself, when the rule names no other
 * interface) is applied, so the rules after it in nat POSTROUTING are not (both engines went on to
 * them). nf_nat_masquerade_ipv6 asks ipv6_dev_get_saddr for a source to the destination over
 * every device: a destination of the machine's own is its own best source (RFC 6724 rule 1), so
 * the source becomes the destination (a socket bound to another address of the machine is
 * rewritten too: measured), and a link-local destination finds none through lo and the packet is
 * dropped (the dial times out; without the rule it connects). Both engines, and as root the kernel
 * (the link-local dials by hand only: nft counters in a namespace, 2026-12-07).
 */
import { causesOf, enginesAgree, kernelAgrees, kernelSymptoms, lowered, type Cases } from "./support.js";
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";

afterAll(() => shutdown());

/** a, with `nat` and an INPUT chain that drops its own second address coming in on lo. */
const lab = (nat: string) =>
  lowered(
    "masquerade-lo6.yaml",
    `segments: { lan: { subnets: ["2001:db8::/64", "fe80::/64"] } }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: ["2001:db8::10/64", "2001:db8::11/64", "fe80::10/64"] } }
    nat: ${nat}
    firewall: { input: { rules: [ { action: drop, in: lo, src: "2001:db8::11" } ] } }
    services: [ { name: own, proto: tcp, port: 8080, bind: "::" } ]
`,
  );

const masquerade = `[ { action: masquerade, out: lo }, { action: snat, out: lo, to: "2001:db8::11" } ]`;
const snatOnly = `[ { action: snat, out: lo, to: "2001:db8::11" } ]`;
const variants: readonly (readonly [string, Cases])[] = [
  [
    masquerade,
    [
      // the masquerade keeps the dialed address as the source, and the SNAT after it never runs
      ["a -> [2001:db8::10]:8080/tcp", "reachable"],
      ["a -> [::1]:8080/tcp", "reachable"],
      // no source for a link-local destination through lo: dropped
      ["a -> [fe80::10]:8080/tcp", "unreachable"],
    ],
  ],
  [
    // the SNAT alone gives the source the INPUT chain drops
    snatOnly,
    [
      ["a -> [2001:db8::10]:8080/tcp", "unreachable"],
      ["a -> [fe80::10]:8080/tcp", "unreachable"],
    ],
  ],
  ["[]", [["a -> [fe80::10]:8080/tcp", "reachable"]]],
];

describe("IPv6 masquerade out of lo", () => {
  it("both engines: applied, the destination as the source; a link-local destination dropped", async () => {
    for (const [nat, cases] of variants) await enginesAgree(lab(nat), cases);
    // the dropped link-local dial: the masquerade found no address, and the client waits
    expect((await causesOf(lab(masquerade), "a -> [fe80::10]:8080/tcp"))[0]).toEqual(["MASQUERADE_NO_ADDRESS", "timeout"]);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial and symptom by symptom",
    async () => {
      // the emulator does not dial link-local addresses (they need the interface named): those were measured by hand
      for (const [nat, all] of variants) {
        const cases = all.filter(([t]) => !t.includes("fe80"));
        if (!cases.length) continue;
        const r = await kernelAgrees(lab(nat), cases);
        expect(
          kernelSymptoms(r)
            .flat()
            .every((s) => s.split(" ")[0] === s.split(" ")[1]),
        ).toBe(true);
      }
    },
    300_000,
  );
});
