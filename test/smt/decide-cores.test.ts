/**
 * The unsat cores of an unreachable `decide()` (src/smt/decide.ts): one for each of the cheapest
 * three candidate paths at most, each naming the decisions of that path whose conditions
 * contradict each other, in the order the path took them (the query's domain first), each
 * decision once even where the path took it twice (a rule crossed by the request and by the
 * answer), and conditions numbered 10 and beyond named as well as the first ten. Checked by
 * properties any minimal core has, not by Z3's choice among them. Found by mutation testing
 * (docs/mutation.md).
 */
import { afterAll, describe, expect, it } from "vitest";
import { decisionText } from "../../src/ir/decision.js";
import { decide, explore } from "../../src/smt/decide.js";
import { shutdown } from "../../src/smt/solver.js";
import { build, lineOf, q } from "../sim/helpers.js";
import { blockedBothWays } from "./decide-labs.js";

afterAll(() => shutdown());

const QUERY = "the query's ports and addresses";

/** Is `xs` a subsequence of `ys` (each in order, each entry of ys used once)? */
const subsequence = (xs: readonly string[], ys: readonly string[]) => {
  let i = 0;
  for (const y of ys) if (i < xs.length && xs[i] === y) i++;
  return i === xs.length;
};

describe("unsat cores", () => {
  it("of four candidate paths, the cheapest three; each in path order, naming conditions past the tenth", async () => {
    // four routes to r (DNATed there), each a candidate path; nine rules on other destination
    // ports come first, so the two that drop every source port to 8.0.0.0/6 are conditions 11 and
    // 12 of the path (0 is the route); rule 1 drops the dial of r's own address outright
    const yaml = `
segments: { lan: 192.168.1.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    routes:
      - { to: 8.0.0.0/8, via: 192.168.1.1 }
      - { to: 9.0.0.0/8, via: 192.168.1.1 }
      - { to: 10.0.0.0/8, via: 192.168.1.1 }
      - { to: 11.0.0.0/8, via: 192.168.1.1 }
    firewall:
      output:
        rules:
          - { action: drop, proto: tcp, dst: 192.168.1.0/24 }
${Array.from({ length: 9 }, (_, i) => `          - { action: drop, proto: tcp, dport: ${i * 8 + 1}-${i * 8 + 8} }`).join("\n")}
          - { action: drop, proto: tcp, sport: 1024-30000 }
          - { action: drop, proto: tcp, dst: 8.0.0.0/6, sport: 30001-65535 }
  r:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.1/24] } }
    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: 80, to: 192.168.1.1 } ]
    services: [ { name: web, port: 80 } ]
`;
    const net = build(yaml);
    const query = q("c -> r:80/tcp");
    const r = await decide(net, query);
    expect(r.verdict).toBe("unreachable");
    expect(r.stats.paths).toBe(4);
    expect(r.cores).toHaveLength(3);
    const found = explore(net, query, 200_000, Date.now() + 60_000).found;
    r.cores!.forEach((core, i) => {
      const texts = core.decisions.map(decisionText);
      const why = found[i]!.path.why.map(decisionText);
      expect(core.machine).toBe("r");
      expect(texts[0]).toBe(QUERY);
      expect(texts).toContain(why[0]); // the route
      expect(texts).toContain(`c's OUTPUT output rule 11 (${net.file}:${lineOf(yaml, "sport: 1024-30000")}:13)`);
      expect(texts).toContain(`c's OUTPUT output rule 12 (${net.file}:${lineOf(yaml, "dst: 8.0.0.0/6")}:13)`);
      expect(subsequence(texts, [QUERY, ...why])).toBe(true);
    });
  });

  it("a decision the path took twice is named once", async () => {
    // r's rule (blockedBothWays) is two conditions of the core, one decision
    const net = blockedBothWays();
    const r = await decide(net, q("c -> s:80/tcp"));
    expect(r.verdict).toBe("unreachable");
    expect(r.cores).toHaveLength(1);
    const texts = r.cores![0]!.decisions.map(decisionText);
    expect([...texts].sort()).toEqual(
      [QUERY, `c's OUTPUT output rule 1 (${net.file}:7:36)`, `r's FORWARD forward rule 1 (${net.file}:11:37)`].sort(),
    );
  });
});
