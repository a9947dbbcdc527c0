/**
 * A machine's relay process (`relays:`, docker-proxy's kind): its listening side
 * crosses the machine's INPUT chain, its own connection leaves through OUTPUT from
 * the machine's own address and an ephemeral port, and FORWARD sees neither.
 * Z3 and the exhaustive simulator must agree with each case; as root the kernel
 * (a relay process of the emulator's agent) is asked too.
 */
import { afterAll, describe, expect, it } from "vitest";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import type { Network } from "../../src/ir/types.js";
import { emulate } from "../../src/emulate/emulate.js";
import { emulationSupport } from "../../src/emulate/build.js";
import { nftRuleset } from "../../src/emulate/plan.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { build, dial, failure, expectOk, pkt, q } from "./helpers.js";

afterAll(() => shutdown());

const root = emulationSupport().ok;

/** A Docker-like host: the relay on 8080 -> web:80; `host`, `web` and the FORWARD chain vary per case. */
function world(o: {
  forwarding?: boolean;
  input?: string;
  output?: string;
  forward?: string;
  webBind?: string;
  webInput?: string;
  relay?: string;
}): Network {
  return build(`
segments: { lan: 192.168.1.0/24, br: 172.17.0.0/16 }
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      docker0: { segment: br, addresses: [172.17.0.1/16] }
    ip_forward: ${o.forwarding ?? false}
    firewall:
      input: { policy: accept, rules: [${o.input ?? ""}] }
      output: { policy: accept, rules: [${o.output ?? ""}] }
      forward: { policy: accept, rules: [${o.forward ?? ""}] }
    relays:
      - ${o.relay ?? "{ name: proxy, port: 8080, to: 172.17.0.2, toPort: 80 }"}
  web:
    interfaces: { eth0: { segment: br, addresses: [172.17.0.2/16] } }
    routes: [ { to: default, via: 172.17.0.1 } ]
    firewall:
      input: { policy: accept, rules: [${o.webInput ?? ""}] }
    services: [ { name: nginx, port: 80, bind: ${o.webBind ?? "0.0.0.0"} }, { name: dns, proto: udp, port: 53 } ]
  lan:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    routes: [ { to: default, via: 192.168.1.10 } ]
`);
}

const CASES: [string, Parameters<typeof world>[0], string, "reachable" | "unreachable"][] = [
  ["a LAN client reaches the container through the relay", {}, "lan -> web:80/tcp", "reachable"],
  [
    "the relay is a listener: the host's INPUT chain decides",
    { input: "{ action: drop, proto: tcp, dport: 8080 }" },
    "lan -> web:80/tcp",
    "unreachable",
  ],
  [
    "FORWARD never sees the relay (DOCKER-USER cannot stop it)",
    { forwarding: true, forward: "{ action: drop }" },
    "lan -> web:80/tcp",
    "reachable",
  ],
  ["the relay's own connection crosses OUTPUT", { output: "{ action: drop, dst: 172.17.0.2/32 }" }, "lan -> web:80/tcp", "unreachable"],
  [
    "the container sees the host's address, not the client's",
    { webInput: "{ action: drop, src: 192.168.1.0/24 }" },
    "lan -> web:80/tcp",
    "reachable",
  ],
  [
    "... and a rule on the host's bridge address stops it",
    { webInput: "{ action: drop, src: 172.17.0.1/32 }" },
    "lan -> web:80/tcp",
    "unreachable",
  ],
  ["an app bound to the container's loopback is not reached", { webBind: "127.0.0.1" }, "lan -> web:80/tcp", "unreachable"],
  ["a UDP relay", { relay: "{ name: udp-proxy, proto: udp, port: 5353, to: 172.17.0.2, toPort: 53 }" }, "lan -> web:53/udp", "reachable"],
  [
    // found by the generated kernel test (seed 20261126): the agent's UDP relay sent on a socket whose connect had failed, and died
    "a UDP relay whose target has no route: nothing answers",
    { relay: "{ name: udp-proxy, proto: udp, port: 5353, to: 10.9.9.9, toPort: 53 }" },
    "lan -> 192.168.1.10:5353/udp",
    "unreachable",
  ],
  [
    "a relay bound to a source address: the container sees that one",
    {
      relay: "{ name: proxy, port: 8080, to: 172.17.0.2, toPort: 80, from: 172.17.0.1 }",
      webInput: "{ action: drop, src: 172.17.0.1/32 }",
    },
    "lan -> web:80/tcp",
    "unreachable",
  ],
];

describe("a machine's relay process (relays:)", () => {
  it.each(CASES)("%s: Z3 and the exhaustive simulator", async (_name, o, text, verdict) => {
    const net = world(o);
    const smt = await decide(net, q(text));
    const sim = exhaustive(net, q(text));
    expect({ smt: smt.verdict, sim: sim.verdict }).toEqual({ smt: verdict, sim: verdict });
  });

  it("the relay's connection starts at the host with its own address and an ephemeral port; a failure after it is on leg 2", () => {
    const ok = dial(world({}), "lan", "tcp", "192.168.1.10", 8080);
    expectOk(ok, "web", "nginx");
    expect(pkt(ok.legs[1]!.packet)).toMatchObject({ src: "172.17.0.1", dst: "172.17.0.2", sport: 41000, dport: 80 });
    expect(ok.legs[1]!.from).toBe("host");
    const closed = dial(world({ webBind: "127.0.0.1" }), "lan", "tcp", "192.168.1.10", 8080);
    expect(failure(closed)).toMatchObject({ leg: 1, direction: "forward" });
  });

  it("the checker refuses a relay to a wildcard, a source the machine lacks, or a source of the other family", () => {
    const base = (relay: string) => `
segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    relays: [ ${relay} ]
`;
    const codes = (relay: string): string[] => {
      try {
        loadTopologyText("t.yaml", base(relay));
        return [];
      } catch (e) {
        if (e instanceof InputError) return e.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col}`);
        throw e;
      }
    };
    /** the code and the position of `token` in the relay line (line 6) */
    const at = (relay: string, code: string, token: string) => `${code} 6:${`    relays: [ ${relay} ]`.indexOf(token) + 1}`;
    const cases: [string, string, string][] = [
      ["{ port: 80, to: 0.0.0.0, toPort: 80 }", "RCH004", "0.0.0.0"],
      ["{ port: 80, to: 192.168.1.20, toPort: 80, from: 192.168.1.11 }", "RCH036", "192.168.1.11"],
      ["{ port: 80, to: 192.168.1.20, toPort: 80, from: '::1' }", "RCH004", "'::1'"],
      ["{ port: 80, to: 192.168.1.20, toPort: 99999 }", "RCH012", "99999"],
      ["{ port: 80, to: 192.168.1.20, toPort: 80 }, { port: 80, to: 192.168.1.21, toPort: 80 }", "RCH032", "{ port: 80, to: 192.168.1.21"],
    ];
    for (const [relay, code, token] of cases) expect(codes(relay)).toEqual([at(relay, code, token)]);
  });

  it("dst: local-nonloopback is every local address but 127.0.0.0/8 and ::1; docker: {version: 28} puts its drops first, 27 none", () => {
    const doc = (version: number) => `
segments: { lan: 192.168.1.0/24, br: 172.17.0.0/16 }
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      docker0: { segment: br, addresses: [172.17.0.1/16] }
    firewall: { forward: { policy: drop, rules: [ { action: accept, out: docker0 } ] } }
    nat: [ { action: dnat, chain: output, dst: local-nonloopback, proto: tcp, dport: 8080, to: 172.17.0.2, toPort: 80 } ]
    docker: { version: ${version}, bridges: [docker0] }
  web:
    interfaces: { eth0: { segment: br, addresses: [172.17.0.2/16] } }
`;
    const host = (v: number) => build(doc(v)).machines.find((m) => m.name === "host")!;
    const h28 = host(28);
    expect(h28.nat.output.map((r) => `${r.match.dst!.v}/${r.match.dst!.len}`)).toEqual(["4/32", "4/32"]);
    expect(h28.docker?.version).toBe(28);
    expect(h28.filter.forward.rules.map((r) => [r.action, r.match.dst && `${r.match.dst.len}`, r.match.ctDnat, r.match.state])).toEqual([
      ["drop", "32", false, ["new", "invalid"]],
      ["accept", undefined, undefined, undefined],
    ]);
    expect(host(27).filter.forward.rules).toHaveLength(1);
    expect(() => build(doc(28).replace("bridges: [docker0]", "bridges: [nope]"))).toThrow(/RCH022/);
  });

  it("the emulator writes `dnat: false` as a bit test: nft's `ct status != dnat` compares the whole status word (found with docker-published.yaml)", () => {
    const net = world({ forwarding: true, forward: "{ action: drop, dnat: false }" });
    const text = nftRuleset(
      net.machines.find((m) => m.name === "host")!,
      (n) => n,
    )!;
    expect(text).toContain("ct status & dnat == 0 drop");
    expect(text).not.toContain("!= dnat");
  });

  it.skipIf(!root)(
    "the kernel agrees, case by case (a relay process of the emulator's agent)",
    async () => {
      for (const [name, o, text, verdict] of CASES) {
        const r = await emulate(world(o), [q(text)]);
        expect({ name, kernel: r.probes[0]!.kernel, agree: r.probes[0]!.agree }).toEqual({ name, kernel: verdict, agree: true });
      }
    },
    240_000,
  );
});
