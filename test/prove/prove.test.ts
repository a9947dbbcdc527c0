/**
 * `reach prove`: every claim in proofs/ comes out as its file records, each
 * theorem checked by Z3 over the whole family and by the simulator member by
 * member; a deliberately false theorem is refuted with a loadable
 * counterexample on which reach answers the opposite of the theorem.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadFamilyFile } from "../../src/prove/family.js";
import { asRecorded, proveFamily } from "../../src/prove/prove.js";

const dir = mkdtempSync(join(tmpdir(), "reach-prove-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const reach = (...args: string[]) => {
  const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const PROOFS = readdirSync("proofs")
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe("proofs/", () => {
  it("has the issue's claims", () => {
    for (const f of [
      "bind-loopback",
      "bind-any",
      "nat-invisible",
      "nat-forward-bind",
      "bridged",
      "hostonly-internal",
      "all-conditions",
      "loopback-stays",
      "seed004-subnet",
    ])
      expect(PROOFS).toContain(`${f}.yaml`);
  });
  for (const f of PROOFS) {
    it(`${f} comes out as recorded, Z3 and the simulator agreeing`, { timeout: 120_000 }, async () => {
      const fam = loadFamilyFile(join("proofs", f));
      const r = await proveFamily(fam, { timeoutMs: 60_000 });
      expect(r.theorems.map((t) => t.status)).not.toContain("unknown");
      expect(asRecorded(r), r.theorems.map((t) => `${t.theorem.text}: ${t.status}`).join("\n")).toBe(true);
      for (const t of r.theorems) expect(t.enumerated).toBe(r.members);
      // a file recording a false claim has a corrected one beside it that holds
      if (!fam.holds) expect(PROOFS).toContain(f.replace(".yaml", "-corrected.yaml"));
    });
  }
});

describe("reach prove (CLI)", () => {
  it("reach prove proofs/ exits 0: every claim proved or refuted as recorded", { timeout: 300_000 }, () => {
    const r = reach("prove", "proofs/", "--counterexamples", join(dir, "all"));
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain(`${PROOFS.length} proof files checked`);
    expect(r.out.match(/^ {2}PROVED /gm)?.length).toBeGreaterThan(20);
    expect(r.out).not.toContain("NOT as recorded");
  });

  it("refutes a deliberately false theorem: exit 1, REFUTED, a counterexample reach answers the other way", () => {
    const file = join(dir, "false.yaml");
    writeFileSync(
      file,
      readFileSync("proofs/bind-loopback.yaml", "utf8").replace(
        'reachable: { not: { bind: ["127.0.0.1", "::1"] } }',
        'reachable: { bind: ["0.0.0.0", "192.168.1.30"] }',
      ),
    );
    const out = join(dir, "cx");
    const r = reach("prove", file, "--counterexamples", out);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/REFUTED {2}lan-pc -> server:80\/tcp is reachable iff bind in \{0\.0\.0\.0, 192\.168\.1\.30\}/);
    expect(r.out).toContain("with bind=:: it is reachable");
    const written = readdirSync(out);
    expect(written).toEqual(["false.1.yaml"]);
    const cx = join(out, "false.1.yaml");
    expect(r.out).toContain(`counterexample: ${cx}`);
    expect(r.out).toMatch(new RegExp(`delivered to web \\(\\[::\\]:80\\), ${cx.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+`));
    const ask = reach("ask", cx, "lan-pc -> server:80/tcp", "--json");
    expect(ask.code).toBe(0);
    expect(JSON.parse(ask.out).verdict).toBe("reachable");
    // a second run never overwrites the first counterexample
    reach("prove", file, "--counterexamples", out);
    expect(readdirSync(out).sort()).toEqual(["false.1-2.yaml", "false.1.yaml"]);
  });

  it("bad input: exit 2 with the position", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, 'claim: x\nparams: { a: [1] }\ntopology: { machines: {} }\ntheorems:\n  - { query: "a b", reachable: true }\n');
    const r = reach("prove", file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yaml:5:\d+: error RCH040/);
  });
});
