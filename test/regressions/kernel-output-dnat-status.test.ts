/**
 * Found by the mutation testing of src/sim/elements.ts (2026-12-07): both engines matched a
 * filter rule's `dnat:` (nft `ct status dnat`) in OUTPUT, and in INPUT of a connection looped
 * back on the machine, as if nothing had translated the connection. nat OUTPUT (priority -100)
 * runs before filter OUTPUT (priority 0), so a connection the machine's own nat OUTPUT rule
 * DNATed already has the status there, and keeps it when it comes back in on lo (measured by hand
 * in a namespace: `ct status dnat counter reject` in OUTPUT counted the SYNs of the DNATed dial and
 * not of the direct one). Both engines, and as root the kernel, dial by dial.
 */
import { enginesAgree, kernelAgrees, lowered, type Cases } from "./support.js";
import { afterAll, describe, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";

afterAll(() => shutdown());

/**
 * a translates 10.0.0.99:80 to b's 8080 and 10.0.0.98:80 to its own 8080, in nat OUTPUT; `firewall`
 * is a's. Nothing listens on port 80 (the emulator dials only addresses of its namespaces: b holds
 * .99, a .98).
 */
const lab = (firewall: string) =>
  lowered(
    "output-dnat.yaml",
    `segments: { lan: 10.0.0.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [10.0.0.10/24, 10.0.0.98/24] } }
    nat:
      - { action: dnat, chain: output, proto: tcp, dst: 10.0.0.99, dport: 80, to: 10.0.0.20, toPort: 8080 }
      - { action: dnat, chain: output, proto: tcp, dst: 10.0.0.98, dport: 80, to: 10.0.0.10, toPort: 8080 }
    firewall: ${firewall}
    services: [ { name: own, proto: tcp, port: 8080 } ]
  b:
    interfaces: { eth0: { segment: lan, addresses: [10.0.0.20/24, 10.0.0.99/24] } }
    services: [ { name: web, proto: tcp, port: 8080 } ]
`,
  );

const variants: readonly (readonly [string, string, Cases])[] = [
  [
    "filter OUTPUT drops what nat OUTPUT translated",
    "{ output: { rules: [ { action: drop, dnat: true } ] } }",
    [
      ["a -> 10.0.0.99:80/tcp", "unreachable"],
      ["a -> 10.0.0.98:80/tcp", "unreachable"],
      // dialed directly, nothing is translated
      ["a -> 10.0.0.20:8080/tcp", "reachable"],
      ["a -> 10.0.0.10:8080/tcp", "reachable"],
    ],
  ],
  [
    "filter OUTPUT drops what nat OUTPUT did not translate",
    "{ output: { rules: [ { action: drop, dnat: false, proto: tcp, dport: 8080 } ] } }",
    [
      ["a -> 10.0.0.99:80/tcp", "reachable"],
      ["a -> 10.0.0.98:80/tcp", "reachable"],
      ["a -> 10.0.0.20:8080/tcp", "unreachable"],
      ["a -> 10.0.0.10:8080/tcp", "unreachable"],
    ],
  ],
  [
    "INPUT on lo drops what nat OUTPUT translated (b's answer comes in on eth0)",
    "{ input: { rules: [ { action: drop, dnat: true, in: lo } ] } }",
    [
      ["a -> 10.0.0.98:80/tcp", "unreachable"],
      ["a -> 10.0.0.99:80/tcp", "reachable"],
      ["a -> 10.0.0.10:8080/tcp", "reachable"],
    ],
  ],
];

describe("ct status dnat after the machine's own nat OUTPUT rule", () => {
  it("both engines: OUTPUT and INPUT on lo see the status", async () => {
    for (const [, firewall, cases] of variants) await enginesAgree(lab(firewall), cases);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial",
    async () => {
      for (const [, firewall, cases] of variants) await kernelAgrees(lab(firewall), cases);
    },
    300_000,
  );
});
