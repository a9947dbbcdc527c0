/**
 * The checker's quick pass over a rule's match (check.ts plainMatchPasses, issue 19): a rule it
 * lets through must be one the full check finds nothing in. Each rule below is one step away from
 * a plain valid rule, on each condition the quick pass looks at, and must keep its diagnostic, with
 * its position; the plain rules beside them must load and lower to the same match.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";

const topology = (rule: string, chain = "input") => `segments: { lan: 192.168.1.0/24 }
machines:
  a:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.2/24, "fd00::2/64"] }
    firewall:
      ${chain}:
        rules:
          - ${rule}
`;

/** What the loader says of a rule: "loaded", or each diagnostic as "line:col CODE message". */
function verdict(rule: string, chain?: string): string[] {
  try {
    loadTopologyText("t.yaml", topology(rule, chain));
    return ["loaded"];
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code} ${d.message}`);
    throw e;
  }
}

describe("a rule's match, plain or not", () => {
  it.each([
    ["{ action: drop, src: 10.0.0.0/8, dst: fd00::/64 }", "9:51 RCH004 src and dst of one rule are of different IP families"],
    ["{ action: drop, src: 10.0.0.1/8 }", "9:34 RCH011 src '10.0.0.1/8' is not a CIDR prefix (host bits set: did you mean 10.0.0.0/8?)"],
    ["{ action: drop, src: local }", "9:34 RCH011 src 'local' is not a CIDR prefix"],
    ["{ action: drop, origDst: local }", "9:38 RCH011 origDst 'local' is not a CIDR prefix"],
    ['{ action: drop, src: "!10.0.0.0/8" }', "9:34 RCH004 '!10.0.0.0/8': a negation is written as an object"],
    ["{ action: drop, dst: { not: local } }", "9:41 RCH004 dst: { not: local } cannot be written"],
    ["{ action: drop, dport: 22 }", "9:36 RCH004 a port match needs proto: tcp or proto: udp"],
    ["{ action: drop, proto: icmp, sport: 1024-2047 }", "9:49 RCH004 a port match needs proto: tcp or proto: udp"],
    ['{ action: drop, proto: tcp, dport: "9-1" }', '9:48 RCH012 dport "9-1" is not a port or port range'],
    ["{ action: drop, proto: tcp, origDport: 70000 }", "9:52 RCH012 origDport 70000 is not a port or port range"],
    ["{ action: drop, in: eth9 }", "9:33 RCH022 machine 'a' has no interface 'eth9'"],
    ['{ action: drop, in: "!eth0" }', "9:33 RCH004 '!eth0': a negation is written as an object"],
  ])("%s keeps its diagnostic", (rule, message) => {
    expect(verdict(rule)).toEqual([message]);
  });

  it.each([
    "{ action: drop, src: 10.0.0.0/8, dst: 192.168.1.2, proto: tcp, sport: 1024-2047, dport: 22, in: eth0 }",
    "{ action: drop, src: fd00::/64, dst: local, proto: udp, dport: 53 }",
    "{ action: accept, dst: local-nonloopback, origDst: 10.0.2.2, origDport: 8080, proto: tcp }",
    "{ action: drop, src: { not: 10.0.0.0/8 }, in: { not: lo } }",
  ])("%s loads", (rule) => {
    expect(verdict(rule)).toEqual(["loaded"]);
  });

  it("a plain rule lowers to the same match as its negated twin's plain part", () => {
    const match = (rule: string) => lower(loadTopologyText("t.yaml", topology(rule)).topology).machines[0]!.filter.input.rules[0]!.match;
    expect(match("{ action: drop, proto: tcp, src: 10.0.0.0/8, dport: 22, in: eth0 }")).toEqual({
      proto: "tcp",
      src: { v: 4, n: 0x0a000000n, len: 8 },
      dport: { lo: 22, hi: 22 },
      in: "eth0",
    });
    expect(match("{ action: drop, proto: tcp, src: { not: 10.0.0.0/8 }, dport: 22, in: eth0 }")).toEqual({
      proto: "tcp",
      dport: { lo: 22, hi: 22 },
      in: "eth0",
      not: { src: { v: 4, n: 0x0a000000n, len: 8 } },
    });
  });
});
