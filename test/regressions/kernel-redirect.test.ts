/**
 * Regression of the generated-topology kernel test, seed 31000030 (2026-12-06): a machine whose
 * route to a far network goes via a router on its own segment, which forwards the packet back out
 * of that same interface to the next router. Linux then sends an ICMP redirect; ping -c 1 counted
 * it as an error and gave up before the echo reply (the kernel "timed out" where the simulator
 * said the ping works), and a host that accepts redirects would take the shorter way for later
 * dials, which the model does not have. The emulator turns redirects off in every namespace
 * (plan.ts SYSCTL_COMMON; docs/semantics.md 10). Engines and, as root, the kernel.
 */
import { enginesAgree, kernelAgrees, lowered, q } from "./support.js";
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyText } from "../../src/topology/load.js";

afterAll(() => shutdown());

const net = lowered(
  "redirect.yaml",
  `segments: { lan: 10.0.0.0/24, far: 10.9.0.0/24 }
machines:
  a:
    interfaces: { eth0: { segment: lan, addresses: [10.0.0.10/24] } }
    routes: [ { to: 10.9.0.0/24, via: 10.0.0.1 } ]
  r1:
    interfaces: { eth0: { segment: lan, addresses: [10.0.0.1/24] } }
    routes: [ { to: 10.9.0.0/24, via: 10.0.0.2 } ]
    ip_forward: true
  r2:
    interfaces:
      eth0: { segment: lan, addresses: [10.0.0.2/24] }
      eth1: { segment: far, addresses: [10.9.0.1/24] }
    ip_forward: true
  b:
    interfaces: { eth0: { segment: far, addresses: [10.9.0.5/24] } }
    routes: [ { to: default, via: 10.9.0.1 } ]
    services: [ { name: web, proto: tcp, port: 80 } ]
`,
);
const queries = ["a -> b/icmp", "a -> b:80/tcp"];

describe("a router that forwards back out of the interface a packet came in on (kernel test seed 31000030)", () => {
  it("both engines say reachable", async () => {
    await enginesAgree(
      net,
      queries.map((t) => [t, "reachable"] as const),
    );
  });
  it.skipIf(!emulationSupport().ok)(
    "and the kernel agrees, dial by dial (no redirect ends the ping early)",
    async () => {
      await kernelAgrees(
        net,
        queries.map((t) => [t, "reachable"] as const),
      );
    },
    60_000,
  );
});
