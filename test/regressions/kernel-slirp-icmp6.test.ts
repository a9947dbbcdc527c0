/**
 * Regression of the generated-topology kernel test, seed 32000012 (2026-12-06): a guest behind a
 * QEMU user network (libslirp, IPv6 on) pinging other hosts' IPv6 addresses. libslirp answers an
 * ICMPv6 echo request only for its own address and relays none to other hosts (libslirp
 * `src/ip6_icmp.c`, `icmp6_input`: "external icmpv6 not supported yet"), while it relays IPv4
 * pings. Both engines relayed the IPv6 ping as an IPv4 one and said it works; the kernel timed
 * out. docs/semantics.md 6 and 10. Engines, the answer's cause and, as root, the kernel.
 */
import { enginesAgree, kernelAgrees, lowered, q } from "./support.js";
import { afterAll, describe, expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { shutdown } from "../../src/smt/solver.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { answerQuery } from "../../src/query/engine.js";

afterAll(() => shutdown());

const net = lowered(
  "slirp-icmp6.yaml",
  `segments: { lan: { subnets: [192.168.1.0/24, fd02::/64] } }
machines:
  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, fd02::10/64] } } }
  pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, fd02::20/64] } } }
  guest:
    vm: { on: host, adapters: [ { mode: nat, engine: qemu } ] }
`,
);
const cases = [
  ["guest -> 192.168.1.20/icmp", "reachable"],
  ["guest -> fd02::20/icmp", "unreachable"],
  ["guest -> fd02::10/icmp", "unreachable"],
  // the machine query: its IPv4 address answers
  ["guest -> pc/icmp", "reachable"],
] as const;

describe("libslirp relays no ICMPv6 echo to other hosts (kernel test seed 32000012)", () => {
  it("both engines", async () => {
    await enginesAgree(net, cases);
  });
  it("the cause names the NAT engine", async () => {
    const a = await answerQuery(net, q("guest -> fd02::20/icmp"), { engine: "sim", timeoutMs: 30_000 });
    expect((a.answer.causes ?? []).map((c) => [c.code, c.symptom])).toEqual([["NAT_NO_ICMP6", "timeout"]]);
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial",
    async () => {
      await kernelAgrees(net, cases);
    },
    60_000,
  );
});
