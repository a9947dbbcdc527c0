/**
 * IPv6 source selection among several addresses of one interface (found reading the mutation
 * run's survivors of src/sim/elements.ts, 2026-12-07, then measured with `ip route get` in a
 * namespace on this kernel, 6.18). Linux scores RFC 6724 rule 8 as the prefix shared with the
 * destination counted at most up to the address's own prefix length, so two addresses of one /64
 * tie for every destination in it, and a tie goes to the address added last (an interface's IPv6
 * addresses are kept newest first and the first best wins). Both engines took the first address
 * on the next hop's subnet (the IPv4 rule), and ranked by the whole shared prefix. The server
 * drops one of the client's addresses, so the source decides the verdict. Engines and kernel.
 */
import { enginesAgree, kernelAgrees, lowered, type Cases } from "./support.js";
import { afterAll, describe, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";

afterAll(() => shutdown());

/** The client's addresses in the order they are added; the server drops `dropped`. */
const lab = (addresses: string, dropped: string) =>
  lowered(
    "source6.yaml",
    `segments: { lan: "2001:db8::/64" }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: ${addresses} } }
  s:
    interfaces: { eth0: { segment: lan, addresses: ["2001:db8::1/64", "2001:db8::1:1/64"] } }
    services: [ { name: web, proto: tcp, port: 80, bind: "::" } ]
    firewall: { input: { rules: [ { action: drop, src: "${dropped}" } ] } }
`,
  );

const variants: readonly (readonly [string, string, Cases])[] = [
  // a tie (both /64): the address added last is the source
  [`["2001:db8::10/64", "2001:db8::20/64"]`, "2001:db8::20", [["c -> [2001:db8::1]:80/tcp", "unreachable"]]],
  [`["2001:db8::10/64", "2001:db8::20/64"]`, "2001:db8::10", [["c -> [2001:db8::1]:80/tcp", "reachable"]]],
  // the whole shared prefix would prefer ::10 for ::1:1 (111 bits against 108); both count 64: the last again
  [`["2001:db8::10/64", "2001:db8::1000/64"]`, "2001:db8::1000", [["c -> [2001:db8::1:1]:80/tcp", "unreachable"]]],
  // an address with a longer prefix length scores more than 64 for every destination of the /64
  // (::1 shares 111 bits with ::1:10/112, 126 with ::10/64, which counts 64), listed first or not
  [
    `["2001:db8::1:10/112", "2001:db8::10/64"]`,
    "2001:db8::1:10",
    [
      ["c -> [2001:db8::1:1]:80/tcp", "unreachable"],
      ["c -> [2001:db8::1]:80/tcp", "unreachable"],
    ],
  ],
  [`["2001:db8::1:10/112", "2001:db8::10/64"]`, "2001:db8::10", [["c -> [2001:db8::1]:80/tcp", "reachable"]]],
];

describe("IPv6 source selection among one interface's addresses", () => {
  it("both engines: rule 8 up to each address's length, a tie to the newest", async () => {
    for (const [addresses, dropped, cases] of variants) await enginesAgree(lab(addresses, dropped), cases);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial",
    async () => {
      for (const [addresses, dropped, cases] of variants) await kernelAgrees(lab(addresses, dropped), cases);
    },
    300_000,
  );
});
