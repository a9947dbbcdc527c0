/**
 * Rule matching (src/sim/elements.ts matches, conditions): a negated address condition still needs
 * an address of its family (ports need no such test here: the checker wants proto: tcp or udp
 * beside them, RCH004, so ICMP never reaches them), the conntrack original
 * destination (`origDst`, `origDport`) tells a DNATed connection from a direct one, and the DNAT
 * status of a connection nobody translated. Written for survivors of the mutation run over
 * elements.ts (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import type { Attempt } from "../../src/sim/types.js";
import { build, dial, expectOk, failure, lineOf } from "./helpers.js";

/** c dials s across one dual-stack LAN; s's INPUT holds `rule` before an accepting policy. */
const lab = (rule: string) =>
  build(`segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, "fd00::20/64"] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, "fd00::10/64"] } }
    services: [ { name: w, proto: tcp, port: 80, bind: "::" } ]
    firewall: { input: { policy: accept, rules: [ ${rule} ] } }
`);

/** "ok", or where and how the attempt failed. */
const seen = (a: Attempt) => {
  if (a.outcome.kind === "ok") return "ok";
  const d = failure(a).disposition;
  return `${d.kind} at ${d.machine}`;
};

describe("a negated IPv4 address condition never matches IPv6", () => {
  it.each(["src: { not: 192.168.1.0/24 }", "dst: { not: 192.168.1.10 }", "origDst: { not: 192.168.1.0/24 }"])(
    "drop %s: IPv6 to fd00::10:80 passes",
    (cond) => {
      // an IPv4 rule never sees IPv6 packets (iptables vs ip6tables; nft `ip saddr` breaks on IPv6)
      expect(seen(dial(lab(`{ action: drop, ${cond} }`), "c", "tcp", "fd00::10", 80))).toBe("ok");
    },
  );

  it("the same conditions do match IPv4", () => {
    // the other side of each case above: the condition is live, so "ok" above is the other family
    expect(seen(dial(lab("{ action: drop, src: { not: 192.168.1.99 } }"), "c", "tcp", "192.168.1.10", 80))).toBe("dropped at s");
    expect(seen(dial(lab("{ action: drop, dst: { not: 192.168.1.99 } }"), "c", "tcp", "192.168.1.10", 80))).toBe("dropped at s");
    expect(seen(dial(lab("{ action: drop, origDst: { not: 10.0.0.0/8 } }"), "c", "tcp", "192.168.1.10", 80))).toBe("dropped at s");
  });
});

describe("origDst: the address the client dialed, before the router's DNAT", () => {
  const YAML = `segments: { lan: 192.168.1.0/24, wan: 203.0.113.0/24 }
machines:
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] }, eth1: { segment: wan, addresses: [203.0.113.1/24] } }
    ip_forward: true
    nat: [ { action: dnat, chain: prerouting, in: eth1, proto: tcp, dport: 80, to: 192.168.1.10 } ]
    firewall: { forward: { policy: accept, rules: [ { action: reject, origDst: 203.0.113.1, comment: no published web } ] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.1 } ]
    services: [ { name: w, proto: tcp, port: 80 } ]
  c:
    interfaces: { eth0: { segment: wan, addresses: [203.0.113.20/24] } }
    routes: [ { to: 192.168.1.0/24, via: 203.0.113.1 } ]
`;
  const net = build(YAML);
  it("the DNATed connection is rejected by its original destination; the routed one to the same server passes", () => {
    // after DNAT both reach FORWARD as 203.0.113.20 -> 192.168.1.10:80; only conntrack's original tuple differs
    const d = failure(dial(net, "c", "tcp", "203.0.113.1", 80)).disposition;
    expect(d).toMatchObject({ kind: "rejected", machine: "r", chain: "forward" });
    expect(d.kind === "rejected" && d.rule.origin.span.line).toBe(lineOf(YAML, "no published web"));
    expectOk(dial(net, "c", "tcp", "192.168.1.10", 80), "s", "w");
  });
});

describe("DNAT status (ct status dnat) of a connection nobody translated", () => {
  it("the machine's own connection matches `dnat: false` in its OUTPUT chain", () => {
    const YAML = `segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    firewall: { output: { policy: accept, rules: [ { action: reject, proto: tcp, dport: 22, dnat: false, comment: no direct ssh } ] } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: sshd, proto: tcp, port: 22 } ]
`;
    // no DNAT rule touched the connection, so its conntrack entry lacks IPS_DST_NAT
    const d = failure(dial(build(YAML), "c", "tcp", "192.168.1.10", 22)).disposition;
    expect(d).toMatchObject({ kind: "rejected", machine: "c", chain: "output" });
    expect(d.kind === "rejected" && d.rule.origin.span.line).toBe(lineOf(YAML, "no direct ssh"));
  });
});
