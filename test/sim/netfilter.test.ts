/**
 * semantics.md section 4: chain order (first match wins, then the policy),
 * reject vs drop, connection tracking (established replies, un-NAT), and where
 * DNAT sits relative to INPUT and FORWARD.
 */
import { describe, expect, it } from "vitest";
import { build, dial, expectOk, failure, filterSteps, lineOf, pkt, query, stepsOf } from "./helpers.js";

describe("semantics.md 4: netfilter order and connection tracking", () => {
  describe("chains: first match wins, then the policy; reject vs drop", () => {
    const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services:
      - { name: web, proto: tcp, port: 80 }
      - { name: alt, proto: tcp, port: 81 }
      - { name: rej, proto: tcp, port: 82 }
      - { name: open, proto: tcp, port: 83 }
      - { name: dns, proto: udp, port: 53 }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, proto: tcp, dport: 80, src: 192.168.1.20, comment: "R1 accept pc on 80" }
          - { action: drop, proto: tcp, dport: 80, comment: "R2 drop 80" }
          - { action: drop, proto: tcp, dport: 81, comment: "R3 drop 81" }
          - { action: accept, proto: tcp, dport: 81, comment: "R4 accept 81 (shadowed)" }
          - { action: reject, proto: tcp, dport: 82, comment: "R5 reject 82" }
          - { action: accept, proto: tcp, dport: 83, comment: "R6 accept 83" }
          - { action: reject, proto: udp, dport: 53, comment: "R7 reject dns" }
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
  pc2:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.21/24] } }
`;
    const net = build(YAML);
    const ruleLine = (d: { kind: string; rule?: { origin: { span: { line: number } } } }) => d.rule?.origin.span.line;

    it("the earlier accept wins for pc; pc2 falls to the later drop", () => {
      const a = dial(net, "pc", "tcp", "192.168.1.10", 80);
      expectOk(a, "server", "web");
      const step = filterSteps(stepsOf(a, 0), "server", "input")[0]!;
      expect(step.rule?.origin.span.line).toBe(lineOf(YAML, "R1 accept"));
      const f = failure(dial(net, "pc2", "tcp", "192.168.1.10", 80));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "server", chain: "input" });
      expect(ruleLine(f.disposition as never)).toBe(lineOf(YAML, "R2 drop 80"));
    });
    it("a drop before an accept shadows it", () => {
      const f = failure(dial(net, "pc", "tcp", "192.168.1.10", 81));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "server", chain: "input" });
      expect(ruleLine(f.disposition as never)).toBe(lineOf(YAML, "R3 drop 81"));
    });
    it("no rule matches: the chain policy decides, citing the policy line", () => {
      const f = failure(dial(net, "pc", "tcp", "192.168.1.10", 8080));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "server", chain: "input" });
      const d = f.disposition;
      if (d.kind !== "dropped") throw new Error("unreachable");
      expect(d.rule).toBeUndefined();
      expect(d.policyOrigin?.span.line).toBe(lineOf(YAML, "policy: drop"));
    });
    it("a policy drop beats a closed port: the client times out instead of being refused", () => {
      const ans = query(net, "pc -> 192.168.1.10:8080/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.reason).toMatch(/times out/);
      expect(ans.reason).not.toMatch(/refused/);
    });
    it("reject gives a rejected disposition (port-unreachable by default: refused), drop a dropped one (timeout)", () => {
      const r = failure(dial(net, "pc", "tcp", "192.168.1.10", 82));
      expect(r.disposition).toMatchObject({ kind: "rejected", machine: "server", chain: "input" });
      expect(ruleLine(r.disposition as never)).toBe(lineOf(YAML, "R5 reject 82"));
      expect(query(net, "pc -> 192.168.1.10:82/tcp").reason).toMatch(
        /sends back ICMP port-unreachable: the client sees .Connection refused/,
      );
      expect(query(net, "pc -> 192.168.1.10:81/tcp").reason).toMatch(/times out/);
    });
    it("reject works for UDP too", () => {
      const r = failure(dial(net, "pc", "udp", "192.168.1.10", 53));
      expect(r.disposition).toMatchObject({ kind: "rejected", machine: "server", chain: "input" });
    });
    it("an accepted port with a listener is reachable", () => {
      expectOk(dial(net, "pc2", "tcp", "192.168.1.10", 83), "server", "open");
    });
  });

  describe("ct state established admits replies while the INPUT policy drops", () => {
    const yaml = (established: boolean) => `
segments:
  lan: 192.168.1.0/24
machines:
  client:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: sshd, proto: tcp, port: 22 }, { name: syslog, proto: udp, port: 514 } ]
    firewall:
      input:
        policy: drop
        rules:
${established ? '          - { action: accept, state: [established, related], comment: "ct established" }' : '          - { action: accept, in: lo, comment: "lo only" }'}
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: web, proto: tcp, port: 80 }, { name: dns, proto: udp, port: 53 } ]
`;
    it("with the established rule the client's own TCP connection works; the reply is seen as established", () => {
      const YAML = yaml(true);
      const net = build(YAML);
      const a = dial(net, "client", "tcp", "192.168.1.10", 80);
      expectOk(a, "server", "web");
      const step = filterSteps(stepsOf(a, 0, "reply"), "client", "input")[0]!;
      expect(step).toMatchObject({ state: "established", action: "accept" });
      expect(step.rule?.origin.span.line).toBe(lineOf(YAML, "ct established"));
    });
    it("with the established rule a UDP query's answer comes back", () => {
      expectOk(dial(build(yaml(true)), "client", "udp", "192.168.1.10", 53), "server", "dns");
    });
    it("new inbound connections still hit the policy drop", () => {
      const net = build(yaml(true));
      const f = failure(dial(net, "server", "tcp", "192.168.1.20", 22));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "client", chain: "input" });
      expect(query(net, "server -> client:22/tcp").verdict).toBe("unreachable");
      expect(query(net, "server -> client:514/udp").verdict).toBe("unreachable");
    });
    it("without it the reply of the client's own connection is dropped (the request arrived, the answer did not)", () => {
      const net = build(yaml(false));
      const f = failure(dial(net, "client", "tcp", "192.168.1.10", 80));
      expect(f).toMatchObject({ leg: 0, direction: "reply", disposition: { kind: "dropped", machine: "client", chain: "input" } });
      const ans = query(net, "client -> server:80/tcp");
      expect(ans.verdict).toBe("unreachable");
      expect(ans.reason).toMatch(/reply/);
    });
  });

  describe("DNAT to another machine skips INPUT and crosses FORWARD; masquerade and un-NAT", () => {
    const yaml = (forwardDrop: boolean) => `
segments:
  lan: 192.168.1.0/24
  docker0: 172.17.0.0/16
machines:
  docker-host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.30/24] }
      docker0: { segment: docker0, addresses: [172.17.0.1/16] }
    ip_forward: true
    nat:
      - { action: dnat, chain: prerouting, proto: tcp, dport: 8003, in: eth0, to: 172.17.0.2, toPort: 80, comment: "publish 8003" }
      - { action: masquerade, src: 172.17.0.0/16, out: eth0, comment: "masq" }
    firewall:
      input:
        policy: accept
        rules:
          - { action: drop, proto: tcp, dport: 8003, comment: "ufw deny 8003" }
          - { action: drop, proto: tcp, dport: 80, comment: "ufw deny 80" }
      forward:
        policy: accept
        rules:
${forwardDrop ? '          - { action: drop, proto: tcp, dport: 80, out: docker0, comment: "forward drop 80" }' : '          - { action: accept, proto: tcp, dport: 80, comment: "forward accept 80" }'}
  container:
    interfaces: { eth0: { segment: docker0, addresses: [172.17.0.2/16] } }
    routes: [ { to: default, via: 172.17.0.1 } ]
    services: [ { name: nginx, proto: tcp, port: 80 } ]
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: pc-web, proto: tcp, port: 80 } ]
`;
    it("an INPUT drop on 8003 does not block DNAT 8003 -> container:80 [kernel-tested]", () => {
      const YAML = yaml(false);
      const net = build(YAML);
      const a = dial(net, "lan-pc", "tcp", "192.168.1.30", 8003);
      expectOk(a, "container", "nginx");
      const steps = stepsOf(a, 0);
      expect(filterSteps(steps, "docker-host", "input")).toEqual([]);
      const fwd = filterSteps(steps, "docker-host", "forward");
      expect(fwd.length).toBe(1);
      expect(fwd[0]!.rule?.origin.span.line).toBe(lineOf(YAML, "forward accept 80"));
      const nat = steps.find((s) => s.kind === "nat" && s.machine === "docker-host");
      expect(nat?.kind === "nat" && nat.hook).toBe("prerouting");
      expect(nat?.kind === "nat" && nat.rule.origin.span.line).toBe(lineOf(YAML, "publish 8003"));
      expect(nat?.kind === "nat" && pkt(nat.after)).toMatchObject({ dst: "172.17.0.2", dport: 80, src: "192.168.1.20" });
      const d = a.legs[0]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "192.168.1.20", dst: "172.17.0.2", dport: 80 });
      expect(query(net, "lan-pc -> container:80/tcp").verdict).toBe("reachable");
      expect(query(net, "lan-pc -> 192.168.1.30:8003/tcp").verdict).toBe("reachable");
    });
    it("the reply is un-DNATed by conntrack: the client sees 192.168.1.30:8003", () => {
      const a = dial(build(yaml(false)), "lan-pc", "tcp", "192.168.1.30", 8003);
      const r = a.legs[0]!.reply!;
      expect(r.steps.some((s) => s.kind === "unnat" && s.machine === "docker-host")).toBe(true);
      expect(r.disposition.kind === "delivered" && pkt(r.disposition.packet)).toMatchObject({
        src: "192.168.1.30",
        sport: 8003,
        dst: "192.168.1.20",
        dport: 40000,
      });
    });
    it("a FORWARD drop does block the DNATed connection", () => {
      const YAML = yaml(true);
      const f = failure(dial(build(YAML), "lan-pc", "tcp", "192.168.1.30", 8003));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "docker-host", chain: "forward" });
      const d = f.disposition;
      if (d.kind === "dropped") expect(d.rule?.origin.span.line).toBe(lineOf(YAML, "forward drop 80"));
    });
    it("the same INPUT drop does block a service of docker-host itself", () => {
      const YAML = yaml(false)
        .replace("    ip_forward: true\n", "    ip_forward: true\n    services: [ { name: own, proto: tcp, port: 8003 } ]\n")
        .replace(
          "{ action: dnat, chain: prerouting, proto: tcp, dport: 8003, in: eth0,",
          "{ action: dnat, chain: prerouting, proto: tcp, dport: 8003, in: docker0,",
        );
      const f = failure(dial(build(YAML), "lan-pc", "tcp", "192.168.1.30", 8003));
      expect(f.disposition).toMatchObject({ kind: "dropped", machine: "docker-host", chain: "input" });
      const d = f.disposition;
      if (d.kind === "dropped") expect(d.rule?.origin.span.line).toBe(lineOf(YAML, "ufw deny 8003"));
    });
    it("masquerade: the LAN sees docker-host's address; the reply is un-NATed back to the container", () => {
      const YAML = yaml(false);
      const a = dial(build(YAML), "container", "tcp", "192.168.1.20", 80);
      expectOk(a, "lan-pc", "pc-web");
      const steps = stepsOf(a, 0);
      const nat = steps.find((s) => s.kind === "nat" && s.machine === "docker-host");
      expect(nat?.kind === "nat" && nat.hook).toBe("postrouting");
      expect(nat?.kind === "nat" && nat.rule.origin.span.line).toBe(lineOf(YAML, 'comment: "masq"'));
      const d = a.legs[0]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "192.168.1.30", dst: "192.168.1.20", dport: 80 });
      const r = a.legs[0]!.reply!;
      const un = r.steps.find((s) => s.kind === "unnat" && s.machine === "docker-host");
      expect(un?.kind === "unnat" && pkt(un.after)).toMatchObject({ dst: "172.17.0.2", dport: 40000 });
      expect(r.disposition.kind === "delivered" && pkt(r.disposition.packet)).toMatchObject({
        src: "192.168.1.20",
        sport: 80,
        dst: "172.17.0.2",
        dport: 40000,
      });
    });
    it("the LAN cannot reach the container's own address (no route back and no forward)", () => {
      expect(query(build(yaml(false)), "lan-pc -> 172.17.0.2:80/tcp").verdict).toBe("unreachable");
    });
  });

  describe("DNAT in the nat OUTPUT chain", () => {
    const YAML = `
segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes: [ { to: default, via: 192.168.1.30 } ]
    nat:
      - { action: dnat, chain: output, proto: tcp, dst: 10.99.99.99, dport: 80, to: 192.168.1.20, toPort: 8080, comment: "output dnat" }
  noroute:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.11/24] } }
    nat:
      - { action: dnat, chain: output, proto: tcp, dst: 10.99.99.99, dport: 80, to: 192.168.1.20, toPort: 8080 }
  lan-pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: app, proto: tcp, port: 8080 } ]
  other:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
`;
    const net = build(YAML);
    it("locally generated traffic is DNATed in nat OUTPUT and re-routed to the new destination", () => {
      const a = dial(net, "host", "tcp", "10.99.99.99", 80);
      expectOk(a, "lan-pc", "app");
      const nat = stepsOf(a, 0).find((s) => s.kind === "nat");
      expect(nat).toMatchObject({ kind: "nat", machine: "host", hook: "output" });
      expect(nat?.kind === "nat" && nat.rule.origin.span.line).toBe(lineOf(YAML, "output dnat"));
      const d = a.legs[0]!.forward.disposition;
      expect(d.kind === "delivered" && pkt(d.packet)).toMatchObject({ src: "192.168.1.10", dst: "192.168.1.20", dport: 8080 });
      const r = a.legs[0]!.reply!.disposition;
      expect(r.kind === "delivered" && pkt(r.packet)).toMatchObject({ src: "10.99.99.99", sport: 80 });
      const tx = stepsOf(a, 0).find((s) => s.kind === "transmit");
      expect(tx).toMatchObject({ machine: "host", to: "lan-pc" });
    });
    it("connect() routes the original destination first: without any route to 10.99.99.99 it fails at once", () => {
      const f = failure(dial(net, "noroute", "tcp", "10.99.99.99", 80));
      expect(f.disposition).toMatchObject({ kind: "no-route", machine: "noroute" });
    });
    it("nat OUTPUT applies only to the machine's own traffic, not to another machine's", () => {
      const f = failure(dial(net, "other", "tcp", "10.99.99.99", 80));
      expect(f.disposition).toMatchObject({ kind: "no-route", machine: "other" });
    });
    it("the query finds it", () => {
      const ans = query(net, "host -> lan-pc:8080/tcp");
      expect(ans.verdict).toBe("reachable");
    });
  });
});
