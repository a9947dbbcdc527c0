/**
 * More corners of Z3's exchanges (src/smt/connect.ts), found by the StrykerJS rerun of
 * 2026-12-07 evening (docs/mutation.md): the leg a NAT engine opens for its guest counts against
 * the bound on legs like any other. Each case asks both engines (Z3 and the exhaustive simulator)
 * for the verdict, as test/smt/connect-edges.test.ts does.
 */
import { afterAll, describe, it } from "vitest";
import { MAX_LEGS } from "../../src/ir/dial.js";
import { shutdown } from "../../src/smt/solver.js";
import { build } from "../sim/helpers.js";
import { both } from "./both.js";

afterAll(() => shutdown());

describe("Z3's exchanges at more corners, against the simulator", () => {
  it(`the host's leg a NAT engine opens for its guest counts against the ${MAX_LEGS} legs`, async () => {
    // the guest dials r1 through its NAT adapter: the guest's own leg, the host's (libslirp's
    // socket), then one per relay r1..rN, the last to srv's service
    const chain = (n: number) => {
      const ip = (k: number) => `192.168.1.${20 + k}`;
      const relays = Array.from(
        { length: n },
        (_, k) => `  r${k + 1}:
    interfaces: { eth0: { segment: lan, addresses: [${ip(k + 1)}/24] } }
    relays: [ { port: 9000, to: ${k + 1 < n ? ip(k + 2) : "192.168.1.99"}, toPort: 9000 } ]`,
      );
      return build(`
segments: { lan: 192.168.1.0/24 }
machines:
  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  guest: { vm: { on: host, adapters: [ { mode: nat } ] } }
${relays.join("\n")}
  srv:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.99/24] } }
    services: [ { name: end, port: 9000 } ]
`);
    };
    await both(chain(MAX_LEGS - 2), "guest -> 192.168.1.21:9000/tcp", "reachable");
    await both(chain(MAX_LEGS - 1), "guest -> 192.168.1.21:9000/tcp", "unreachable");
  });
});
