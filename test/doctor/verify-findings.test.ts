/**
 * `reach verify --findings` and `reach report --findings` (against dist/: `npm run build` first):
 * the findings of a hand-written topology in every output format, at their file:line:col, as
 * warnings (exit unchanged) or, with --findings=error, as violations (exit 1).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const reach = (...args: string[]) => spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
const HAIRPIN = "models/home-router-hairpin.yaml";

describe("reach verify --findings", () => {
  it("text: warnings after the expectations, the LAN findings said to be skipped, exit 0", () => {
    const r = reach("verify", HAIRPIN, "--findings");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      `WARN ${HAIRPIN}:21  HAIRPIN_MISSING router-a: a router's port forward cannot be used from its own LAN at the public address`,
    );
    expect(r.stdout).toContain(`       evidence: ${HAIRPIN}:21:19: router-a forwards 443/tcp to 192.168.1.50`);
    expect(r.stdout).toMatch(/NOTE .*LAN_EXPOSED_FORWARD, .*not decided: no machine 'lan'/);
    expect(r.stdout).toMatch(/11 hold, 0 violated, 0 unknown, 1 finding\n$/);
    expect(r.stdout).not.toContain("router-b:");
  }, 60_000);

  it("--findings=error: exit 1; json, sarif, junit and github carry the finding at its position", () => {
    const json = reach("verify", HAIRPIN, "--findings=error", "--format", "json");
    expect(json.status).toBe(1);
    const j = JSON.parse(json.stdout) as { files: { findings: { level: string; items: { code: string; line: number; col: number }[] } }[] };
    expect(j.files[0]!.findings.level).toBe("error");
    expect(j.files[0]!.findings.items.map((x) => `${x.code} ${x.line}:${x.col}`)).toEqual(["HAIRPIN_MISSING 21:19"]);
    const sarif = JSON.parse(reach("verify", HAIRPIN, "--findings=error", "--format", "sarif").stdout) as {
      runs: { results: { ruleId: string; level: string; locations: { physicalLocation: { region: { startLine: number } } }[] }[] }[];
    };
    const res = sarif.runs[0]!.results.find((x) => x.ruleId === "reach/finding/HAIRPIN_MISSING");
    expect(res?.level).toBe("error");
    expect(res?.locations[0]!.physicalLocation.region.startLine).toBe(21);
    const junit = reach("verify", HAIRPIN, "--findings=error", "--format", "junit").stdout;
    expect(junit).toMatch(
      /<testcase classname="models\/home-router-hairpin.yaml" name="line 21: finding HAIRPIN_MISSING router-a">\s*<failure/,
    );
    const warnJunit = reach("verify", HAIRPIN, "--findings", "--format", "junit").stdout;
    expect(warnJunit).toMatch(/name="line 21: finding HAIRPIN_MISSING router-a">\s*<skipped/);
    expect(reach("verify", HAIRPIN, "--findings", "--format", "github").stdout).toContain(
      `::warning file=${HAIRPIN},line=21,col=19,title=reach%3A HAIRPIN_MISSING router-a::`,
    );
  }, 120_000);

  it("without --findings nothing changes; a bad level and --shard are usage errors (exit 2)", () => {
    expect(reach("verify", HAIRPIN).stdout).not.toContain("HAIRPIN_MISSING");
    const bad = reach("verify", HAIRPIN, "--findings=loud");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("'loud' is not a level");
    expect(reach("verify", HAIRPIN, "--findings", "--shard", "1/2").status).toBe(2);
  }, 60_000);

  it("reach report --findings: the page has the findings section", () => {
    const dir = mkdtempSync(join(tmpdir(), "reach-report-"));
    try {
      const out = join(dir, "r.html");
      const r = reach("report", "models/seed004-wrong-subnet.yaml", "--findings", "-o", out);
      expect(r.status).toBe(0);
      const page = readFileSync(out, "utf8");
      expect(page).toContain("<h3>findings: 1</h3>");
      expect(page).toContain('<span class="code">NIC_OUTSIDE_SUBNET</span> guest');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
