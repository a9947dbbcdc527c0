/**
 * Sharding (issue 19): `--shard I/N` of verify, matrix and exposure, and `reach merge` of the
 * shards' outputs. Three shards merged equal the unsharded run (verify: byte for byte in json,
 * junit and sarif, with the same exit status; matrix and exposure: cell for cell); bad merges
 * are RCH059/RCH060, exit 2. Runs dist/ (npm run build).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseShard, shardOf } from "../../src/verify/shard.js";

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

const reach = (...args: string[]): Promise<Run> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, ["dist/bin/main.js", ...args]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, out, err }));
  });

// two models that hold and one with violations (failures, counterexamples in JUnit's system-out, SARIF results)
const FILES = ["models/virtualbox-nat.yaml", "models/nat-guest-loopback-bind.yaml", "test/verify/broken-lab.yaml"];
const LAB = "models/lab-all-conditions.yaml";
const N = 3;
const shards = Array.from({ length: N }, (_, i) => `${i + 1}/${N}`);

let dir: string;
const runs = new Map<string, Run>();
/** Runs a command unsharded and in each shard, writing each output to a file; `key` names them. */
async function runAll(key: string, args: string[]): Promise<void> {
  const all = await Promise.all([reach(...args), ...shards.map((s) => reach(...args, "--shard", s))]);
  for (const [i, r] of all.entries()) {
    runs.set(i ? `${key}.${i}` : key, r);
    writeFileSync(join(dir, i ? `${key}.${i}` : key), r.out);
  }
}
const shardFiles = (key: string, order = [3, 1, 2]) => order.map((i) => join(dir, `${key}.${i}`));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "reach-shard-"));
  for (const format of ["json", "junit", "sarif"]) await runAll(`verify-${format}`, ["verify", ...FILES, "--format", format]);
  await runAll("matrix", ["matrix", LAB, "--format", "json"]);
  await runAll("exposure", ["exposure", LAB, "--from", "lan-pc", "--format", "json"]);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the split", () => {
  it("parses I/N and refuses the rest", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    for (const bad of ["0/4", "5/4", "1/0", "x/2", "1/2/3", "-1/2", "1.5/2", "1/1001"]) expect(parseShard(bad), bad).toBeUndefined();
  });

  it("is a function of the identity only, and spreads", () => {
    const keys = Array.from({ length: 400 }, (_, i) => `models/x.yaml\n{"query":"m${i} -> m0:22/tcp"}\n0`);
    const counts = [0, 0, 0, 0];
    for (const k of keys) {
      const s = shardOf(k, 4);
      expect(s).toBe(shardOf(k, 4));
      counts[s - 1]!++;
    }
    // 400 keys over 4 shards: each gets a fair share (a binomial tail this far out is below 1e-6)
    for (const c of counts) expect(c).toBeGreaterThan(60);
  });

  it("every expectation is in exactly one shard, and the union is the whole run", () => {
    const whole = JSON.parse(runs.get("verify-json")!.out);
    const parts = [1, 2, 3].map((i) => JSON.parse(runs.get(`verify-json.${i}`)!.out));
    const texts = (j: { files: { file: string; expectations: { expectation: string }[] }[] }) =>
      j.files.flatMap((f) => f.expectations.map((e) => `${f.file}: ${e.expectation}`));
    const union = parts.flatMap(texts);
    expect(new Set(union).size).toBe(union.length);
    expect(union.sort()).toEqual(texts(whole).sort());
    expect(parts.every((p) => texts(p).length > 0)).toBe(true);
  });

  it("--shard with a bad value is RCH042, exit 2", async () => {
    const r = await reach("verify", FILES[0]!, "--shard", "4/3");
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH042");
    expect(r.err).toContain("--shard");
  });
});

describe("reach merge", () => {
  for (const format of ["json", "junit", "sarif"])
    it(`3 verify shards (${format}) merge into the unsharded output, with its exit status`, async () => {
      const whole = runs.get(`verify-${format}`)!;
      expect(whole.code).toBe(1);
      const m = await reach("merge", ...shardFiles(`verify-${format}`));
      expect(m.err).toBe("");
      expect(m.out).toBe(whole.out);
      expect(m.code).toBe(whole.code);
    });

  it("3 matrix shards merge into the unsharded matrix, cell for cell", async () => {
    const whole = JSON.parse(runs.get("matrix")!.out) as { flows: { from: string; service: string; verdict: string; dial: string }[] };
    const m = await reach("merge", ...shardFiles("matrix"));
    expect(m.code).toBe(0);
    const merged = JSON.parse(m.out) as typeof whole;
    expect(merged.flows.length).toBe(whole.flows.length);
    expect(whole.flows.length).toBeGreaterThan(20);
    // the verdicts are equal; the dial is a witness (any address that works), which the solver may pick differently
    // after other questions in the same process, so it is compared as: present exactly when reachable
    for (const [i, c] of whole.flows.entries()) {
      const d = merged.flows[i]!;
      expect({ from: d.from, service: d.service, verdict: d.verdict }).toEqual({ from: c.from, service: c.service, verdict: c.verdict });
      expect(d.dial !== "").toBe(c.verdict === "reachable");
    }
  });

  it("3 exposure shards merge into the unsharded exposure", async () => {
    const m = await reach("merge", ...shardFiles("exposure"));
    expect(m.code).toBe(0);
    const strip = (j: { services: { machine: string; proto: string; port: number; verdict: string }[] }) =>
      j.services.map((s) => `${s.machine} ${s.port}/${s.proto} ${s.verdict}`);
    expect(strip(JSON.parse(m.out))).toEqual(strip(JSON.parse(runs.get("exposure")!.out)));
  });

  it("a missing shard is RCH059, exit 2", async () => {
    const m = await reach("merge", ...shardFiles("verify-json", [1, 3]));
    expect(m.code).toBe(2);
    expect(m.err).toContain("RCH059");
    expect(m.err).toContain("shard 2 of 3 missing");
    expect(m.out).toBe("");
  });

  it("a shard given twice (overlap) is RCH059, exit 2", async () => {
    const m = await reach("merge", ...shardFiles("verify-sarif", [1, 2, 2, 3]));
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/RCH059.*shard 2\/3 is given twice/);
  });

  it("shards of different topologies are RCH059, exit 2", async () => {
    const other = await reach("verify", FILES[0]!, "--format", "json", "--shard", "2/3");
    writeFileSync(join(dir, "other.2"), other.out);
    const m = await reach("merge", join(dir, "verify-json.1"), join(dir, "other.2"), join(dir, "verify-json.3"));
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/RCH059.*inputs \(the topologies differ\)/);
  });

  it("formats and commands do not mix (RCH059)", async () => {
    const m = await reach("merge", join(dir, "verify-json.1"), join(dir, "verify-sarif.2"), join(dir, "verify-json.3"));
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/RCH059.*format sarif vs json/);
    const c = await reach("merge", join(dir, "matrix.1"), join(dir, "exposure.2"), join(dir, "matrix.3"));
    expect(c.err).toMatch(/RCH059.*command exposure vs matrix/);
  });

  it("malformed files, and unsharded outputs, are RCH060, exit 2", async () => {
    const bad = {
      "garbage.json": "{ not json",
      "truncated.xml": readFileSync(join(dir, "verify-junit.1"), "utf8").slice(0, 400),
      "unsharded.json": runs.get("verify-json")!.out,
      "damaged.json": JSON.stringify({ ...JSON.parse(runs.get("verify-json.1")!.out), reachShard: { command: "verify", index: 1 } }),
    };
    for (const [name, text] of Object.entries(bad)) {
      writeFileSync(join(dir, name), text);
      const m = await reach("merge", join(dir, name), join(dir, "verify-json.2"), join(dir, "verify-json.3"));
      expect(m.code, name).toBe(2);
      expect(m.err, name).toContain("RCH060");
      expect(m.err, name).not.toContain("    at ");
    }
    const missing = await reach("merge", join(dir, "no-such-file.json"));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("RCH060");
  });
});
