/**
 * One vocabulary of decision points (ir/decision.ts): the rule the simulator's
 * disposition names (sim/walk.ts decisionOf) is a rule the symbolic engine's
 * unsat core names, and both render the same words with file:line:col.
 */
import { afterAll, describe, expect, it } from "vitest";
import { decisionText } from "../../src/ir/decision.js";
import { parseQuery } from "../../src/ir/query.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { decisionOf } from "../../src/sim/walk.js";
import { decide } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { build, ip } from "../sim/helpers.js";

afterAll(() => shutdown());

const YAML = `
segments: { lan: 192.168.1.0/24 }
machines:
  pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    services: [ { name: sshd, port: 22 } ]
    firewall:
      input:
        rules:
          - { action: drop, proto: tcp, dport: 22, sport: 1024-30000 }
          - { action: drop, proto: tcp, sport: 30001-65535 }
`;

describe("sim dispositions and smt cores speak the same decisions", () => {
  it("the rule that drops the simulator's dial is in Z3's core, in the same words", async () => {
    const net = build(YAML);
    const machines = machineIndex(net);
    const a = attempt(net, machines, { from: "pc", proto: "tcp", dst: ip("192.168.1.10"), dport: 22, sport: 40000 });
    expect(a.outcome.kind).toBe("failed");
    const d = a.outcome.kind === "failed" ? decisionOf(a.outcome.disposition, machines) : undefined;
    expect(d).toMatchObject({ kind: "filter", machine: "server", chain: "input", rule: { index: 2 } });
    expect(decisionText(d!)).toBe(`server's INPUT input rule 2 (${net.file}:12:13)`);
    const q = parseQuery("pc -> server:22/tcp");
    if (!q.ok) throw new Error(q.message);
    const smt = await decide(net, q.query);
    expect(smt.verdict).toBe("unreachable");
    expect(smt.cores?.[0]?.decisions.map(decisionText)).toContain(decisionText(d!));
  });

  it("every failing disposition kind has a decision; successes have none", () => {
    const net = build(YAML);
    const machines = machineIndex(net);
    const ok = attempt(net, machines, { from: "pc", proto: "icmp", dst: ip("192.168.1.10"), dport: 0, sport: 1 });
    expect(ok.ok).toBe(true);
    const fwd = ok.legs[0]!.forward.disposition;
    expect(decisionOf(fwd, machines)).toBeUndefined();
    const noRoute = attempt(net, machines, { from: "pc", proto: "tcp", dst: ip("10.9.9.9"), dport: 22, sport: 40000 });
    const d = noRoute.outcome.kind === "failed" ? decisionOf(noRoute.outcome.disposition, machines) : undefined;
    expect(d).toEqual({ kind: "route", machine: "pc" });
    expect(decisionText(d!)).toBe("pc's routes (no route)");
  });
});
