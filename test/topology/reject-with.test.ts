/**
 * Reject types (`with:` on a reject rule): the checker's diagnostics, the lowering, and what each
 * answer says the client sees (the errno classes measured in namespaces: docs/semantics.md
 * section 10).
 */
import { describe, expect, it } from "vitest";
import { InputError, type Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { ask } from "../../src/query/dials.js";

const y = (s: TemplateStringsArray, ...v: unknown[]) => String.raw(s, ...v).replace(/^\n/, "");

/**
 * A server behind one INPUT rule, dialed from a LAN client over IPv4 and IPv6. Neighbour
 * discovery is untracked ICMPv6 that crosses INPUT too: the first rule lets it in, as real
 * rule sets do, so that the rule under test meets the dial itself.
 */
function lab(rule: string): string {
  return y`
segments:
  lan: { subnets: [192.168.1.0/24, "fd00::/64"] }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    services: [ { name: web, port: 80 }, { name: dns, proto: udp, port: 53 } ]
    firewall:
      input:
        rules:
          - { action: accept, state: [untracked] }
          - ${rule}
`;
}

function errors(source: string): Diagnostic[] {
  try {
    loadTopologyText("t.yaml", source);
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.filter((d) => d.severity === "error");
    throw e;
  }
  return [];
}

function symptom(rule: string, query: string): string | undefined {
  const net = lower(loadTopologyText("t.yaml", lab(rule)).topology);
  const q = parseQuery(query);
  if (!q.ok) throw new Error(q.message);
  const a = ask(net, q.query);
  expect(a.verdict).toBe("unreachable");
  return a.causes?.[0]?.symptom;
}

describe("reject types: the checker", () => {
  it("accepts every type on a rule it fits", () => {
    for (const w of ["tcp-reset", "port-unreachable", "host-unreachable", "net-unreachable", "admin-prohibited"])
      expect(errors(lab(`{ action: reject, with: ${w}, proto: tcp, dport: 80 }`))).toEqual([]);
    for (const w of ["host-prohibited", "net-prohibited"])
      expect(errors(lab(`{ action: reject, with: ${w}, src: 0.0.0.0/0 }`))).toEqual([]);
  });

  it("RCH004: a tcp-reset on a rule that is not proto: tcp, at its value", () => {
    const ds = errors(lab("{ action: reject, with: tcp-reset, proto: udp, dport: 53 }"));
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([["RCH004", 13, 37]]);
    expect(ds[0]!.message).toMatch(/TCP reset answers TCP only/);
    expect(errors(lab("{ action: reject, with: tcp-reset }")).map((d) => d.code)).toEqual(["RCH004"]);
  });

  it("RCH004: with on a rule that does not reject", () => {
    const ds = errors(lab("{ action: drop, with: port-unreachable }"));
    expect(ds.map((d) => d.code)).toEqual(["RCH004"]);
    expect(ds[0]!.message).toMatch(/action is drop/);
  });

  it("RCH004: host-prohibited and net-prohibited need an IPv4-only rule (no ICMPv6 twin)", () => {
    for (const w of ["host-prohibited", "net-prohibited"]) {
      expect(errors(lab(`{ action: reject, with: ${w}, proto: tcp }`)).map((d) => d.code)).toEqual(["RCH004"]);
      expect(errors(lab(`{ action: reject, with: ${w}, dst: "fd00::/64" }`)).map((d) => d.code)).toEqual(["RCH004"]);
    }
  });

  it("RCH004: an unknown type lists the types", () => {
    const ds = errors(lab("{ action: reject, with: icmp-port-unreachable }"));
    expect(ds.map((d) => d.code)).toEqual(["RCH004"]);
    expect(ds[0]!.expected).toMatch(/tcp-reset.*port-unreachable.*admin-prohibited/);
  });

  it("lowers the type onto the rule, and leaves it out when not written", () => {
    const net = lower(loadTopologyText("t.yaml", lab("{ action: reject, with: admin-prohibited }")).topology);
    expect(net.machines.find((m) => m.name === "server")!.filter.input.rules[1]!.with).toBe("admin-prohibited");
    const plain = lower(loadTopologyText("t.yaml", lab("{ action: reject }")).topology);
    expect(plain.machines.find((m) => m.name === "server")!.filter.input.rules[1]!.with).toBeUndefined();
  });
});

describe("reject types: what the client sees", () => {
  const cases: [string, string, string][] = [
    ["{ action: reject }", "pc -> 192.168.1.10:80/tcp", "refused"],
    ["{ action: reject, with: tcp-reset, proto: tcp }", "pc -> [fd00::10]:80/tcp", "refused"],
    ["{ action: reject, with: host-unreachable }", "pc -> 192.168.1.10:80/tcp", "host-unreachable"],
    ["{ action: reject, with: host-unreachable }", "pc -> 192.168.1.10:53/udp", "timeout"],
    ["{ action: reject, with: net-unreachable }", "pc -> [fd00::10]:80/tcp", "net-unreachable"],
    ["{ action: reject, with: net-unreachable }", "pc -> [fd00::10]:53/udp", "timeout"],
    ["{ action: reject, with: admin-prohibited }", "pc -> 192.168.1.10:80/tcp", "host-unreachable"],
    ["{ action: reject, with: admin-prohibited }", "pc -> [fd00::10]:80/tcp", "permission-denied"],
    ["{ action: reject, with: admin-prohibited }", "pc -> [fd00::10]:53/udp", "permission-denied"],
    ["{ action: reject, with: host-prohibited, dst: 0.0.0.0/0 }", "pc -> 192.168.1.10:53/udp", "host-unreachable"],
    ["{ action: reject, with: net-prohibited, dst: 0.0.0.0/0 }", "pc -> 192.168.1.10:80/tcp", "net-unreachable"],
    ["{ action: reject, with: port-unreachable }", "pc -> 192.168.1.10:53/udp", "refused"],
    ["{ action: reject }", "pc -> server/icmp", "icmp-error"],
  ];
  for (const [rule, query, seen] of cases)
    it(`${rule}: ${query} is ${seen}`, () => {
      expect(symptom(rule, query)).toBe(seen);
    });

  it("the explanation names what the kernel sends back", () => {
    const net = lower(loadTopologyText("t.yaml", lab("{ action: reject, with: admin-prohibited }")).topology);
    const q = parseQuery("pc -> [fd00::10]:80/tcp");
    if (!q.ok) throw new Error(q.message);
    expect(ask(net, q.query).reason).toMatch(/sends back ICMPv6 administratively prohibited: the client sees 'Permission denied'/);
  });
});

describe("the sender's own OUTPUT chain", () => {
  const own = (action: string) => y`
segments:
  lan: 192.168.1.0/24
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    firewall: { output: { rules: [ { action: ${action} } ] } }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: web, port: 80 }, { name: dns, proto: udp, port: 53 } ]
`;
  const seen = (action: string, query: string) => {
    const q = parseQuery(query);
    if (!q.ok) throw new Error(q.message);
    return ask(lower(loadTopologyText("t.yaml", own(action)).topology), q.query).causes?.[0]?.symptom;
  };
  it("a UDP datagram it drops or rejects fails at send() with EPERM; a TCP SYN it drops is retried (timeout)", () => {
    expect(seen("drop", "pc -> server:53/udp")).toBe("not-permitted");
    expect(seen("reject", "pc -> server:53/udp")).toBe("not-permitted");
    expect(seen("drop", "pc -> server:80/tcp")).toBe("timeout");
    // the reject's ICMP error crosses the same OUTPUT chain: a rule rejecting everything drops it
    // too (kernel-tested, test/regressions/kernel-own-reject.test.ts); one rejecting TCP does not
    expect(seen("reject", "pc -> server:80/tcp")).toBe("timeout");
    expect(seen("reject, proto: tcp", "pc -> server:80/tcp")).toBe("refused");
  });
});
