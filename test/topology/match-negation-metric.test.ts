/**
 * Issue 20's language: negated matches (`{ not: ... }`), conntrack's original destination
 * (`origDport`, `origDst`) and route metrics, through the checker and lowering.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";

const machine = (body: string) => `
segments: { lan: 192.168.1.0/24, wan: 10.0.2.0/24 }
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.2/24] }
      eth1: { segment: wan, addresses: [10.0.2.2/24] }
${body}
`;

/** The diagnostics of a text the loader refuses, as "line:col CODE message". */
function refused(text: string): string[] {
  try {
    loadTopologyText("t.yaml", text);
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code} ${d.message}`);
    throw e;
  }
  throw new Error("loaded");
}

describe("negated matches", () => {
  it("lower into the rule's `not`, the plain conditions staying where they were", () => {
    const net = lower(
      loadTopologyText(
        "t.yaml",
        machine(`    firewall:
      forward:
        rules:
          - { action: drop, in: { not: eth0 }, src: { not: 192.168.1.0/24 }, proto: tcp, dport: 22, origDport: { not: "8000-8080" }, origDst: 10.0.2.2 }`),
      ).topology,
    );
    const r = net.machines[0]!.filter.forward.rules[0]!;
    expect(r.match.dport).toEqual({ lo: 22, hi: 22 });
    expect(r.match.origDst).toEqual({ v: 4, n: 0x0a000202n, len: 32 });
    expect(r.match.in).toBeUndefined();
    expect(r.match.not).toEqual({ in: "eth0", src: { v: 4, n: 0xc0a80100n, len: 24 }, origDport: { lo: 8000, hi: 8080 } });
  });

  it('"!eth0" is refused with the form to write', () => {
    expect(refused(machine(`    firewall: { input: { rules: [ { action: drop, in: "!eth0" } ] } }`))).toEqual([
      "8:55 RCH004 '!eth0': a negation is written as an object",
    ]);
  });

  it("an unquoted !eth0 (a YAML tag) is refused instead of read as an empty name", () => {
    expect(refused(machine(`    firewall: { input: { rules: [ { action: drop, in: !eth0 } ] } }`))).toEqual([
      "8:55 RCH002 '!eth0' is a YAML tag, which reach does not read",
    ]);
  });

  it("a negated interface must exist, dst: { not: local } cannot be written, origDport needs a protocol", () => {
    expect(
      refused(
        machine(`    firewall:
      input:
        rules:
          - { action: drop, in: { not: eth9 } }
          - { action: drop, dst: { not: local } }
          - { action: drop, origDport: 80 }`),
      ),
    ).toEqual([
      "11:40 RCH022 machine 'a' has no interface 'eth9'",
      "12:41 RCH004 dst: { not: local } cannot be written",
      "13:40 RCH004 a port match needs proto: tcp or proto: udp",
    ]);
  });

  it("a DNAT to a port needs the protocol, as iptables and nft refuse a port without one", () => {
    expect(
      refused(
        machine(`    nat:
      - { action: dnat, chain: prerouting, dport: 80, proto: tcp, to: 192.168.1.20, toPort: 8080 }
      - { action: dnat, chain: prerouting, dst: 192.168.1.30, to: 192.168.1.20, toPort: 8080 }
      - { action: dnat, chain: prerouting, proto: icmp, to: 192.168.1.20, toPort: 8080 }
      - { action: dnat, chain: prerouting, dst: 192.168.1.30, to: 192.168.1.20 }`),
      ),
    ).toEqual([
      "10:89 RCH004 a DNAT to a port needs proto: tcp or proto: udp",
      "11:83 RCH004 a DNAT to a port needs proto: tcp or proto: udp",
    ]);
  });
});

describe("route metrics", () => {
  it("two defaults with different metrics load, the metric kept on the route", () => {
    const net = lower(
      loadTopologyText(
        "t.yaml",
        machine(`    routes: [ { to: default, via: 192.168.1.1, metric: 100 }, { to: default, via: 10.0.2.1, metric: 50 } ]`),
      ).topology,
    );
    expect(net.machines[0]!.routes.filter((r) => r.type === "static").map((r) => r.metric)).toEqual([100, 50]);
  });

  it("the same prefix and metric twice, or a connected prefix at metric 0, is refused as the kernel refuses it", () => {
    expect(
      refused(
        machine(
          `    routes: [ { to: default, via: 192.168.1.1, metric: 7 }, { to: default, via: 10.0.2.1, metric: 7 }, { to: 192.168.1.0/24, via: 10.0.2.1 } ]`,
        ),
      ),
    ).toEqual([
      `8:99 RCH030 a second route to default with metric 7 on 'a', after route 1 (the kernel refuses: "RTNETLINK answers: File exists")`,
      `8:110 RCH030 a second route to 192.168.1.0/24 with metric 0 on 'a', after the connected route of eth0 (the kernel refuses: "RTNETLINK answers: File exists")`,
    ]);
  });
});
