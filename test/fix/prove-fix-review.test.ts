/**
 * Findings of the review of `reach prove` and `reach fix` (2026-11-24), each pinned where it
 * was fixed: repair slots wider than 8 bits, searches that did not finish, queries naming
 * machines a member lacks, empty families, malformed conditions, duplicate values, fixed
 * dials to :: and IPv4-mapped addresses, YAML aliases, the expectation being fixed written
 * another way, and edits that must keep the user's layout.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spliceEdits } from "../../src/fix/splice.js";

const dir = mkdtempSync(join(tmpdir(), "reach-pf-review-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const reach = (...args: string[]) => spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

const SERVER = `segments: { lan: 192.168.1.0/24 }
machines:
  server:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24] } }
    services: [ { name: sshd, proto: tcp, port: 22 } ]
    firewall:
      input:
        rules:
RULES
  lan-pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
`;

const PROOF = `claim: "test"
params:
  bind: ["127.0.0.1", "0.0.0.0"]
topology:
  segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }
  machines:
    server:
      interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24, "fd00::30/64"] } }
      services: [ { name: web, proto: tcp, port: 80, bind: "\${bind}" } ]
    lan-pc: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
theorems:
  - query: "lan-pc -> server:80/tcp"
    reachable: { bind: "0.0.0.0" }
`;

describe("reach fix review findings (2026-11-24)", () => {
  it("a chain of 300 rules is one slot of 300 alternatives: the rule at position 300 is found", { timeout: 120_000 }, () => {
    const rules = [
      ...Array.from({ length: 299 }, (_, i) => `          - { action: drop, proto: tcp, dport: ${1000 + i} }`),
      "          - { action: drop, proto: tcp, dport: 22 }",
    ].join("\n");
    const r = reach(
      "fix",
      file("fw300.yaml", SERVER.replace("RULES", rules)),
      "lan-pc -> server:22/tcp",
      "--want",
      "reachable",
      "--max-edits",
      "1",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("remove input rule 300 (drop tcp dport 22)");
  });

  it("a search that does not finish is unknown (exit 3), never 'no repair'", () => {
    const r = reach("fix", "test/fix/overexposed.yaml", "lan -> default:80/tcp", "--want", "unreachable", "--timeout", "0.001");
    expect(r.stdout).not.toContain("no repair");
    expect(r.status).toBe(3);
  });

  it("files with YAML aliases are refused with the alias's position", () => {
    const f = file(
      "anch.yaml",
      SERVER.replace("RULES", "          - &ssh { action: drop, proto: tcp, dport: 22 }").replace(
        "  lan-pc:",
        "  other:\n    interfaces: { eth0: { segment: lan, addresses: [192.168.1.31/24] } }\n    firewall: { input: { rules: [ *ssh ] } }\n  lan-pc:",
      ),
    );
    const r = reach("fix", f, "lan-pc -> server:22/tcp", "--want", "reachable");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/anch\.yaml:12:35: error RCH004: reach fix does not edit files with YAML aliases/);
  });

  it(
    "the expectation being changed is recognised however it is written, and what breaks is shown at its line in the user's file",
    { timeout: 120_000 },
    () => {
      const text = readFileSync("test/fix/overexposed.yaml", "utf8").replace(
        "expect:\n",
        'expect:\n  - { query: "lan->default:80", verdict: reachable }\n',
      );
      const f = file("ov.yaml", text);
      const r = reach("fix", f, "lan -> default:80/tcp", "--want", "unreachable");
      expect(r.status, r.stdout).toBe(0);
      expect(r.stdout).toContain("hostIp: (empty) -> 127.0.0.1");
      const lines = text.split("\n").length;
      for (const m of r.stdout.matchAll(/would break [^:]+:(\d+):/g)) expect(Number(m[1])).toBeLessThanOrEqual(lines);
    },
  );

  it("removing the only rule of a block list leaves `rules: []` and every other line as it was", () => {
    const src = SERVER.replace("RULES", "          - action: drop   # temporary\n            proto: tcp\n            dport: 22");
    const out = spliceEdits(src, [{ op: "delete", path: ["machines", "server", "firewall", "input", "rules", 0], was: {} }]);
    expect(out).toBe(
      src.replace(
        "        rules:\n          - action: drop   # temporary\n            proto: tcp\n            dport: 22\n",
        "        rules: []\n",
      ),
    );
  });

  it("replacing a block node keeps the comment lines after it", () => {
    const src = "a:\n  - mode: nat   # first\n    x: 1\n  # the second\n  - mode: hostonly\n";
    const out = spliceEdits(src, [{ op: "set", path: ["a", 0], value: { mode: "bridged" } }]);
    expect(out).toBe("a:\n  - {mode: bridged}\n  # the second\n  - mode: hostonly\n");
  });
});

describe("reach prove review findings (2026-11-24)", () => {
  const run = (name: string, text: string) => reach("prove", file(name, text), "--counterexamples", join(dir, "cx"));

  it("a query naming a machine a member lacks: RCH041 at the query, exit 2", () => {
    const r = run("typo.yaml", PROOF.replace('"lan-pc -> server:80/tcp"', '"lan-pc -> sevrer:80/tcp"'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/typo\.yaml:12:\d+: error RCH041: the query names sevrer/);
  });

  it("a family without members is an error, not PROVED", () => {
    for (const [name, text] of [
      ["empty.yaml", PROOF.replace('bind: ["127.0.0.1", "0.0.0.0"]', "bind: {}").replace('{ bind: "0.0.0.0" }', "false")],
      ["where.yaml", PROOF.replace("topology:", "where: false\ntopology:")],
    ]) {
      const r = run(name!, text!);
      expect(r.status, name).toBe(2);
      expect(r.stdout).not.toContain("PROVED");
    }
  });

  it("malformed conditions, reserved and duplicate names are positioned errors, not crashes", () => {
    const cases: [string, string, RegExp][] = [
      ["c1.yaml", PROOF.replace('{ bind: "0.0.0.0" }', '{ all: ["0.0.0.0"] }'), /RCH004: "0\.0\.0\.0" is not a condition/],
      [
        "c2.yaml",
        PROOF.replace("  bind:", "  not:").replace("${bind}", "${not}").replace('{ bind: "0.0.0.0" }', "true"),
        /RCH004: a parameter cannot be named not/,
      ],
      [
        "dup.yaml",
        PROOF.replace('["127.0.0.1", "0.0.0.0"]', '["127.0.0.1", "0.0.0.0", "0.0.0.0"]'),
        /RCH030: parameter bind lists the value 0\.0\.0\.0 twice/,
      ],
      ["ph.yaml", PROOF.replace('"${bind}"', '"${bnd}"'), /ph\.yaml:9:\d+: error RCH004: \$\{bnd\} is not a parameter/],
    ];
    for (const [name, text, re] of cases) {
      const r = run(name, text);
      expect(r.status, name).toBe(2);
      expect(r.stderr).toMatch(re);
    }
  });

  it("theorems dialing :: or an IPv4-mapped address are decided (no internal error)", () => {
    const r = run(
      "any6.yaml",
      PROOF.replace('"lan-pc -> server:80/tcp"', '"server -> [::ffff:192.168.1.30]:80/tcp"').replace(
        '{ bind: "0.0.0.0" }',
        '{ bind: "0.0.0.0" }',
      ),
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("PROVED");
    const a = reach(
      "ask",
      file(
        "zt.yaml",
        'segments: { lan: { subnets: [192.168.1.0/24, "fd00::/64"] } }\nmachines:\n  server:\n    interfaces: { eth0: { segment: lan, addresses: [192.168.1.30/24, "fd00::30/64"] } }\n    services: [ { name: web, proto: tcp, port: 80, bind: "::" } ]\n',
      ),
      "server -> [::]:80/tcp",
    );
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^reachable/);
  });
});
