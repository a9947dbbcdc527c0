/**
 * `reach exposure`, `reach matrix` and `reach diff`: what they find on the
 * bundled models and the broken lab, their output formats (golden), and the
 * worker-thread matrix agreeing with the single-thread one.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { afterAll, describe, expect, it } from "vitest";
import { lanTopology } from "../bench/generate.js";

function reach(args: string[]) {
  const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "reach-flows-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("reach exposure", () => {
  it("the classic finding: a forward with an empty host IP exposes the guest's sshd to the LAN", () => {
    const r = reach(["exposure", "models/virtualbox-nat.yaml", "--from", "lan-pc"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        "MACHINE  PORT    DIAL               VIA",
        `guest    22/tcp  192.168.1.10:2222  port forward "ssh" of guest's NAT adapter 1, models/virtualbox-nat.yaml:16:23`,
        "web      80/tcp  203.0.113.80:80    web's address on eth0",
        "2 services reachable from lan-pc",
        "",
      ].join("\n"),
    );
  }, 30_000);

  it("from the internet nothing of the LAN is exposed (the router has no forward)", () => {
    const r = reach(["exposure", "models/virtualbox-nat.yaml", "--from", "web", "--format", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ from: "web", services: [] });
  }, 30_000);

  it("CSV parses back (csv-parse) with one row per reachable service", () => {
    const r = reach(["exposure", "test/verify/broken-lab.yaml", "--from", "lan-pc", "--format", "csv"]);
    const rows = parseCsv(r.out, { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => `${x.machine} ${x.port}/${x.proto} ${x.verdict} ${x.dial}`)).toEqual([
      "guest 5432/tcp reachable 192.168.1.10:5432",
      "web 80/tcp reachable 203.0.113.80:80",
    ]);
  }, 30_000);

  it("an unknown vantage machine is a usage error (exit 2, RCH042)", () => {
    const r = reach(["exposure", "models/virtualbox-nat.yaml", "--from", "nobody"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH042");
    expect(r.err).toContain("one of host, guest, lan-pc, router, web");
  }, 30_000);
});

describe("reach matrix", () => {
  it("machines x services on the NAT lab", () => {
    const r = reach(["matrix", "models/virtualbox-nat.yaml"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        "FROM \\ TO  guest:22/tcp  web:80/tcp",
        "host       yes           yes",
        "guest                    yes",
        "lan-pc     yes           yes",
        "router     yes           yes",
        "web        -",
        "7 of 8 flows reachable",
        "",
      ].join("\n"),
    );
  }, 30_000);

  it("two worker threads give the same cells as one thread, on a LAN large enough to split", () => {
    const file = join(tmp, "lan.yaml");
    writeFileSync(file, lanTopology(12, 3));
    const one = reach(["matrix", file, "--workers", "1", "--format", "json"]);
    const two = reach(["matrix", file, "--workers", "2", "--format", "json"]);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    const a = JSON.parse(one.out).flows as { from: string; service: string; verdict: string }[];
    const b = JSON.parse(two.out).flows as { from: string; service: string; verdict: string }[];
    expect(a.length).toBeGreaterThanOrEqual(64);
    expect(b).toEqual(a);
    expect(a.some((c) => c.verdict === "reachable")).toBe(true);
    expect(a.some((c) => c.verdict === "unreachable")).toBe(true);
  }, 120_000);

  it("--workers 0 is a usage error", () => {
    const r = reach(["matrix", "models/virtualbox-nat.yaml", "--workers", "0"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH042");
  }, 30_000);
});

describe("reach diff", () => {
  it("the broken lab: sshd lost behind its forward, postgres newly exposed; exit 1 with both explanations", () => {
    const r = reach(["diff", "models/virtualbox-nat.yaml", "test/verify/broken-lab.yaml"]);
    expect(r.code).toBe(1);
    const heads = r.out.split("\n").filter((l) => /^[a-z].*: /.test(l));
    expect(heads).toEqual([
      "no longer reachable: host -> guest:22/tcp",
      "now reachable: host -> guest:5432/tcp",
      "no longer reachable: lan-pc -> guest:22/tcp",
      "now reachable: lan-pc -> guest:5432/tcp",
      "no longer reachable: router -> guest:22/tcp",
      "now reachable: router -> guest:5432/tcp",
    ]);
    expect(r.out).toContain("sshd on guest is bound to 127.0.0.1");
    expect(r.out).toMatch(/\n6 flows changed\n$/);
  }, 60_000);

  it("the same flows reachable, but by other packets (a forward moved from 2222 to 2223): found symbolically", () => {
    const moved = join(tmp, "moved.yaml");
    writeFileSync(moved, readFileSync("models/virtualbox-nat.yaml", "utf8").replace("hostPort: 2222", "hostPort: 2223"));
    const r = reach(["diff", "models/virtualbox-nat.yaml", moved]);
    expect(r.code).toBe(1);
    const heads = r.out.split("\n").filter((l) => /^[a-z].*: /.test(l));
    expect(heads).toEqual([
      "reachable by other packets: host -> guest:22/tcp",
      "reachable by other packets: lan-pc -> guest:22/tcp",
      "reachable by other packets: router -> guest:22/tcp",
    ]);
    expect(r.out).toMatch(
      / {2}dial 192\.168\.1\.10:2222 from port \d+ no longer works; dial 192\.168\.1\.10:2223 from port \d+ works now\n/,
    );
  }, 60_000);

  it("a topology against itself: no flow changed, exit 0", () => {
    const r = reach(["diff", "models/virtualbox-nat.yaml", "models/virtualbox-nat.yaml"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe("no flow changed\n");
  }, 60_000);

  it("json: each change with both answers", () => {
    const r = reach(["diff", "models/virtualbox-nat.yaml", "test/verify/broken-lab.yaml", "--format", "json"]);
    const j = JSON.parse(r.out);
    const db = j.changes.find((c: { query: string }) => c.query === "lan-pc -> guest:5432/tcp");
    expect(db.change).toBe("now reachable");
    expect(db.before.verdict).toBe("unreachable");
    expect(db.after.verdict).toBe("reachable");
    expect(db.after.dial).toMatchObject({ address: "192.168.1.10", port: 5432 });
  }, 60_000);
});
