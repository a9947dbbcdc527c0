/** Proof files: loading, the family's members, conditions, and bad input with positions. */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { assignments, assignmentText, condText, holds, instantiate, loadFamilyText } from "../../src/prove/family.js";
import { members } from "../../src/prove/prove.js";

const BASE = `claim: "a claim"
params:
  bind: ["127.0.0.1", "0.0.0.0"]
  fw:
    open: null
    drop: { input: { rules: [ { action: drop, proto: tcp, dport: 80 } ] } }
topology:
  segments: { lan: 192.168.1.0/24 }
  machines:
    server:
      interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
      services: [ { name: "web-\${bind}", port: 80, bind: "\${bind}" } ]
      firewall: "\${fw}"
    pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
theorems:
  - query: "pc -> server:80/tcp"
    reachable: { all: [ { bind: "0.0.0.0" }, { fw: open } ] }
`;

const diagnosticsOf = (text: string) => {
  try {
    loadFamilyText("p.yaml", text);
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code} ${d.message}`);
    throw e;
  }
  return [];
};

describe("proof families", () => {
  const f = loadFamilyText("p.yaml", BASE);

  it("the members are the product of the domains", () => {
    expect(assignments(f).map((a) => assignmentText(f, a))).toEqual([
      "bind=127.0.0.1, fw=open",
      "bind=127.0.0.1, fw=drop",
      "bind=0.0.0.0, fw=open",
      "bind=0.0.0.0, fw=drop",
    ]);
  });

  it("a whole-string placeholder takes the value (null removes the key); inside a string, its text", () => {
    const open = instantiate(f, [0, 0]) as { machines: { server: Record<string, unknown> } };
    expect(open.machines.server["firewall"]).toBeUndefined();
    expect(open.machines.server["services"]).toEqual([{ name: "web-127.0.0.1", port: 80, bind: "127.0.0.1" }]);
    const drop = instantiate(f, [1, 1]) as { machines: { server: Record<string, unknown> } };
    expect(drop.machines.server["firewall"]).toEqual({ input: { rules: [{ action: "drop", proto: "tcp", dport: 80 }] } });
  });

  it("conditions evaluate per member and read back in words", () => {
    const c = f.theorems[0]!.reachable;
    expect(assignments(f).map((a) => holds(f, c, a))).toEqual([false, false, true, false]);
    expect(condText(f, c)).toBe("bind=0.0.0.0 and fw=open");
  });

  it("where: leaves members out", () => {
    const g = loadFamilyText("p.yaml", BASE.replace("topology:", "where: { not: { fw: drop } }\ntopology:"));
    expect(assignments(g)).toHaveLength(2);
  });

  it("every member lowers to a network", () => {
    expect(members(f).map((m) => m.net.machines.map((x) => x.name).sort())).toEqual(Array(4).fill(["pc", "server"]));
  });

  it("an unknown parameter in a condition: RCH004 at its line", () => {
    expect(diagnosticsOf(BASE.replace("{ fw: open }", "{ firewall: open }"))).toEqual([
      expect.stringMatching(/^17:\d+ RCH004 no parameter firewall/),
    ]);
  });

  it("a value not in the domain: RCH004 naming the domain", () => {
    expect(diagnosticsOf(BASE.replace("{ fw: open }", "{ fw: closed }"))[0]).toMatch(/RCH004 closed is not a value of fw/);
  });

  it("a bad query: RCH040; localhost is refused (it is two addresses)", () => {
    expect(diagnosticsOf(BASE.replace('"pc -> server:80/tcp"', '"pc server"'))[0]).toMatch(/^16:\d+ RCH040/);
    expect(diagnosticsOf(BASE.replace('"pc -> server:80/tcp"', '"pc -> localhost:80/tcp"'))[0]).toMatch(/RCH040 .*localhost/);
  });

  it("a missing key and an unknown key", () => {
    expect(diagnosticsOf(BASE.replace(/^theorems:[\s\S]*$/m, ""))).toEqual([expect.stringMatching(/RCH005 theorems/)]);
    expect(diagnosticsOf(`${BASE}extra: 1\n`)[0]).toMatch(/RCH003/);
  });

  it("a member that is not a valid topology is an error naming the member", () => {
    const bad = loadFamilyText("p.yaml", BASE.replace('bind: ["127.0.0.1", "0.0.0.0"]', 'bind: ["127.0.0.1", "0.0.0.0", "10.1.1.1"]'));
    expect(() => members(bad)).toThrow(/bind=10\.1\.1\.1, fw=open is not a valid topology: RCH036/);
  });
});
