/**
 * `reach verify`: the three kinds of expectation, their counterexamples, the
 * reporters (golden files), exit codes and the diagnostics of bad expectations.
 * test/verify/broken-lab.yaml is models/virtualbox-nat.yaml after a bad change:
 * sshd bound to 127.0.0.1, a database forwarded to the LAN, and a wrong
 * isolation claim.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { verifyTopology, type VerifyResult } from "../../src/verify/verify.js";
import { renderGithub, renderJson, renderJunit, renderSarif, renderText, useColour, type FileResults } from "../../src/verify/report.js";
import { mergeToString } from "junit-report-merger";
import { Ajv } from "ajv";
import { shutdown } from "../../src/smt/solver.js";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { golden } from "../golden.js";

const BROKEN = "test/verify/broken-lab.yaml";

function reach(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function verifyFile(file: string): Promise<FileResults> {
  const loaded = loadTopologyFile(file);
  const net = lower(loaded.topology);
  return { file, machines: net.machines, results: await verifyTopology(net, loaded.topology, { engine: "smt", timeoutMs: 30_000 }) };
}

afterAll(() => shutdown());

describe("reach verify on the bundled models", () => {
  it("exits 0 on models/ (a folder: every topology in it), every expectation holds", () => {
    const r = reach(["verify", "models/"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\n\d+ hold, 0 violated, 0 unknown\n$/);
    expect(r.out).not.toContain("FAIL");
    // the isolation and exposure expectations of the models are among them
    expect(r.out).toMatch(
      /ok {3}models\/internal-network\.yaml:\d+ {2}vm-a, vm-b and host, host2, lan-pc, web, vm-c are isolated: no connection either way/,
    );
    expect(r.out).toMatch(/ok {3}models\/virtualbox-nat\.yaml:\d+ {2}guest exposes exactly 22\/tcp to lan-pc: exactly 22\/tcp/);
  }, 120_000);

  it("`check` is the same command", () => {
    const r = reach(["check", "models/virtualbox-nat.yaml"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok {3}models\/virtualbox-nat\.yaml:31 {2}host -> guest:22\/tcp is reachable: reachable$/m);
  }, 60_000);
});

describe("a broken lab: every violation at its line, with its counterexample", () => {
  let broken: FileResults;
  const at = (line: number): VerifyResult => {
    const r = broken.results.find((x) => x.span.line === line);
    if (!r) throw new Error(`no expectation at line ${line}`);
    return r;
  };

  it("exits 1", () => {
    const r = reach(["verify", BROKEN]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\n5 hold, 4 violated, 0 unknown\n$/);
  }, 60_000);

  it("a large report through a pipe arrives whole before the process exits (regression: JSON cut at 128 KiB)", () => {
    const r = reach(["verify", BROKEN, "--format", "json"]);
    expect(r.code).toBe(1);
    expect(r.out.length).toBeGreaterThan(131_072);
    expect(JSON.parse(r.out).summary).toEqual({ holds: 5, violated: 4, unknown: 0 });
  }, 60_000);

  it("a reachable query that fails carries the reasons (sshd bound to 127.0.0.1)", async () => {
    broken = await verifyFile(BROKEN);
    const r = at(31);
    expect(r).toMatchObject({ kind: "query", status: "violated" });
    expect(r.message).toContain("BIND_LOOPBACK: sshd on guest listens on 127.0.0.1:22, but the connection arrives at 10.0.2.15");
    expect(r.findings[0]!.answer.verdict).toBe("unreachable");
    // the trace still says where the most obvious dial died
    expect(r.findings[0]!.answer.reason).toContain(
      "sshd on guest is bound to 127.0.0.1, but the forwarded connection arrives at 10.0.2.15",
    );
  });

  it("isolation broken both ways is listed flow by flow, each with a working witness", () => {
    const r = at(35);
    expect(r).toMatchObject({ kind: "isolated", status: "violated" });
    expect(r.findings.map((f) => f.title)).toEqual([
      "guest -> web:80/tcp works",
      "guest -> web/icmp works",
      "host -> web:80/tcp works",
      "host -> web/icmp works",
    ]);
    for (const f of r.findings) {
      expect(f.answer.verdict).toBe("reachable");
      expect(f.answer.attempt?.ok).toBe(true);
    }
  });

  it("exposes exactly: the extra port with its witness dial, the missing one with its reason", () => {
    const r = at(40);
    expect(r).toMatchObject({ kind: "exposes", status: "violated" });
    expect(r.message).toBe("exposed but not listed: 5432/tcp; listed but not reachable: 22/tcp");
    const extra = r.findings.find((f) => f.title.startsWith("5432/tcp"))!;
    expect(extra.answer.verdict).toBe("reachable");
    expect(extra.answer.attempt?.legs[0]?.packet.dport).toBe(5432);
    const missing = r.findings.find((f) => f.title.startsWith("22/tcp"))!;
    expect(missing.answer.verdict).toBe("unreachable");
  });

  it("golden: text, json and github reports", () => {
    golden("verify__broken-lab.txt", renderText([broken]) + "\n");
    golden("verify__broken-lab.json", renderJson([broken]) + "\n");
    golden("verify__broken-lab.github", renderGithub([broken]) + "\n");
  });

  it("github: one ::error per violation, on the expectation's line, message escaped", () => {
    const lines = renderGithub([broken]).split("\n");
    const errors = lines.filter((l) => l.startsWith("::error "));
    expect(errors.map((l) => /line=(\d+),col=(\d+)/.exec(l)!.slice(1).join(":"))).toEqual(["31:5", "32:5", "35:5", "40:5"]);
    for (const l of errors) {
      expect(l).toMatch(/^::error file=test\/verify\/broken-lab\.yaml,line=\d+,col=\d+,title=reach%3A [^,:]*::/);
      expect(l).not.toContain("\n");
    }
    expect(errors[2]).toContain("%0Abecause: the lab and the internet never talk (wrong: the lab reaches out through NAT)");
  });

  it("json: parses, with the summary and each finding's answer", () => {
    const j = JSON.parse(renderJson([broken]));
    expect(j.summary).toEqual({ holds: 5, violated: 4, unknown: 0 });
    const exposes = j.files[0].expectations.find((e: { kind: string }) => e.kind === "exposes");
    expect(exposes.findings[0].answer.dial).toMatchObject({ port: 5432, proto: "tcp" });
  });

  it("junit: read back by an independent tool (junit-report-merger) with the right counts", async () => {
    const xml = renderJunit([broken]);
    golden("verify__broken-lab.junit.xml", xml + "\n");
    // merging our report with an empty suite must keep our test cases and failures
    const merged = await mergeToString([
      xml,
      '<?xml version="1.0"?><testsuites><testsuite name="other" tests="1"><testcase name="x"/></testsuite></testsuites>',
    ]);
    expect(merged).toMatch(/<testsuites[^>]* tests="10"/);
    expect(merged).toMatch(/<testsuites[^>]* failures="4"/);
    expect((merged.match(/<testcase /g) ?? []).length).toBe(10);
    expect((merged.match(/<failure /g) ?? []).length).toBe(4);
    expect(merged).toContain('name="line 40: guest exposes exactly 22/tcp to lan-pc"');
  });

  it("sarif: the SARIF 2.1.0 required properties, checked against a schema written from the spec (no package ships the official one)", () => {
    const log = JSON.parse(renderSarif([broken], "0.1.0"));
    golden("verify__broken-lab.sarif", JSON.stringify(log, null, 2) + "\n");
    // sarif-v2.1.0 section 3.13 (sarifLog: version, runs), 3.14 (run: tool), 3.18-3.19 (tool.driver.name),
    // 3.27 (result: message; level one of none|note|warning|error), 3.11 (message: text or id),
    // 3.28-3.29 (locations, physicalLocation), 3.4 (artifactLocation.uri), 3.30 (region: startLine >= 1)
    const region = {
      type: "object",
      properties: {
        startLine: { type: "integer", minimum: 1 },
        startColumn: { type: "integer", minimum: 1 },
        endColumn: { type: "integer", minimum: 1 },
      },
      required: ["startLine"],
    };
    const schema = {
      type: "object",
      required: ["version", "runs"],
      properties: {
        version: { const: "2.1.0" },
        runs: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["tool"],
            properties: {
              tool: {
                type: "object",
                required: ["driver"],
                properties: {
                  driver: {
                    type: "object",
                    required: ["name"],
                    properties: { name: { type: "string" }, rules: { type: "array", items: { type: "object", required: ["id"] } } },
                  },
                },
              },
              results: {
                type: "array",
                items: {
                  type: "object",
                  required: ["message", "ruleId", "level", "locations"],
                  properties: {
                    message: { type: "object", anyOf: [{ required: ["text"] }, { required: ["id"] }] },
                    level: { enum: ["none", "note", "warning", "error"] },
                    ruleId: { type: "string" },
                    locations: {
                      type: "array",
                      minItems: 1,
                      items: {
                        type: "object",
                        required: ["physicalLocation"],
                        properties: {
                          physicalLocation: {
                            type: "object",
                            required: ["artifactLocation", "region"],
                            properties: { artifactLocation: { type: "object", required: ["uri"] }, region },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    };
    const ajv = new Ajv({ allErrors: true });
    const valid = ajv.validate(schema, log);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const results = log.runs[0].results as { ruleId: string; locations: { physicalLocation: { region: { startLine: number } } }[] }[];
    expect(results.map((r) => `${r.ruleId}@${r.locations[0]!.physicalLocation.region.startLine}`)).toEqual([
      "reach/query@31",
      "reach/query@32",
      "reach/isolated@35",
      "reach/exposes@40",
    ]);
    // 3.30.10: a region on one line does not end before it starts
    for (const r of log.runs[0].results as {
      locations: { physicalLocation: { region: { startLine: number; startColumn: number; endLine?: number; endColumn?: number } } }[];
    }[]) {
      const g = r.locations[0]!.physicalLocation.region;
      if (g.endLine === undefined || g.endLine === g.startLine) expect(g.endColumn ?? g.startColumn).toBeGreaterThanOrEqual(g.startColumn);
    }
    // every result's rule is declared
    const ids = (log.runs[0].tool.driver.rules as { id: string }[]).map((r) => r.id);
    for (const r of results) expect(ids).toContain(r.ruleId);
  });

  it("colour only on a terminal, and never with NO_COLOR", () => {
    expect(renderText([broken], true)).toContain("\x1b[31mFAIL\x1b[0m");
    expect(renderText([broken], false)).not.toContain("\x1b[");
    const saved = process.env.NO_COLOR;
    try {
      delete process.env.NO_COLOR;
      expect(useColour({ isTTY: true })).toBe(true);
      expect(useColour({ isTTY: false })).toBe(false);
      process.env.NO_COLOR = "1";
      expect(useColour({ isTTY: true })).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  });
});

describe("bad expectations are input errors (exit 2), located", () => {
  const base = `
segments: { lan: 192.168.1.0/24 }
machines:
  a: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  b: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }, services: [ { name: web, port: 80 } ] }
expect:
`;
  const codes = (extra: string) => {
    try {
      loadTopologyText("x.yaml", base + extra);
      return [];
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return e.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code}@${d.span.line}`);
    }
  };
  it("two kinds in one expectation", () =>
    expect(codes(`  - { query: "a -> b:80/tcp", verdict: reachable, isolated: { between: [a], and: [b] } }\n`)).toEqual(["RCH004@7"]));
  it("no kind at all", () => expect(codes(`  - { because: "why" }\n`)).toEqual(["RCH005@7"]));
  it("a query without its verdict", () => expect(codes(`  - { query: "a -> b:80/tcp" }\n`)).toEqual(["RCH005@7"]));
  it("an unknown machine in a group", () => expect(codes(`  - { isolated: { between: [a], and: [c] } }\n`)).toEqual(["RCH041@7"]));
  it("a port that is not PORT/PROTO", () =>
    expect(codes(`  - { exposes: { machine: b, from: a, exactly: ["80/tpc", "80/tcp"] } }\n`)).toEqual(["RCH012@7"]));
  it("verdict on an isolation", () =>
    expect(codes(`  - { isolated: { between: [a], and: [b] }, verdict: reachable }\n`)).toEqual(["RCH003@7"]));
  it("the CLI exits 2 and verifies nothing", () => {
    const dir = join(import.meta.dirname, "..", "..", ".ci");
    const f = join(dir, "bad-expect.tmp.yaml");
    writeFileSync(f, base + `  - { isolated: { between: [a], and: [zz] } }\n`);
    try {
      const r = reach(["verify", f]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("RCH041");
      expect(r.out).toBe("");
    } finally {
      spawnSync("rm", ["-f", f]);
    }
  });
});

describe("spec files: expectations about a topology kept in another file", () => {
  it("models/lab-multi-vm.spec.yaml holds, each result at its line in the spec", async () => {
    const loaded = loadTopologyFile("models/lab-multi-vm.spec.yaml");
    expect(loaded.spec).toBeDefined();
    // the topology is the included file; the expectations are the spec's
    expect(loaded.file).toMatch(/models\/lab-multi-vm\.yaml$/);
    expect(loaded.spec!.doc.expect).toHaveLength(4);
    const results = await verifyTopology(lower(loaded.topology), loaded.spec!, { engine: "smt", timeoutMs: 30_000 });
    expect(results.map((r) => `${r.span.file.endsWith("lab-multi-vm.spec.yaml")}:${r.span.line}:${r.kind}:${r.status}`)).toEqual([
      "true:6:exposes:holds",
      "true:8:exposes:holds",
      "true:9:isolated:holds",
      "true:10:query:holds",
    ]);
  });

  const dir = join(import.meta.dirname, "..", "..", ".ci", "spec-tmp");
  const write = (name: string, text: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  afterAll(() => spawnSync("rm", ["-rf", dir]));
  const lab = `segments: { lan: 192.168.1.0/24 }
machines:
  a: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  b: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }, services: [ { name: web, port: 80 } ] }
`;
  const codesOf = (file: string) => {
    try {
      loadTopologyFile(file);
      return [];
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return e.diagnostics.map((d) => `${d.code}@${d.span.file.split("/").pop()}:${d.span.line}`);
    }
  };
  it("an unknown machine in a spec is located in the spec", () => {
    write("lab.yaml", lab);
    const spec = write("s1.yaml", `include: lab.yaml\nexpect:\n  - { isolated: { between: [a], and: [zz] } }\n`);
    expect(codesOf(spec)).toEqual(["RCH041@s1.yaml:3"]);
  });
  it("an include that does not exist", () => {
    const spec = write("s2.yaml", `include: nowhere.yaml\nexpect: []\n`);
    expect(codesOf(spec)).toEqual(["RCH001@s2.yaml:1"]);
  });
  it("a spec that includes a spec", () => {
    write("lab.yaml", lab);
    write("inner.yaml", `include: lab.yaml\nexpect: []\n`);
    expect(codesOf(write("s3.yaml", `include: inner.yaml\nexpect: []\n`))).toEqual(["RCH004@s3.yaml:1"]);
  });
  it("a spec with machines of its own is neither a spec nor a topology", () => {
    write("lab.yaml", lab);
    expect(codesOf(write("s4.yaml", `include: lab.yaml\nmachines: {}\nexpect: []\n`))).toEqual(["RCH003@s4.yaml:2"]);
  });
  it("reach verify on a spec exits 1 when one of its expectations is violated, at the spec's line", () => {
    write("lab.yaml", lab);
    const spec = write("s5.yaml", `include: lab.yaml\nexpect:\n  - { exposes: { machine: b, from: a, exactly: [] } }\n`);
    const r = reach(["verify", spec, "--format", "github"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^::error file=[^,]*s5\.yaml,line=3,col=5,title=reach%3A b exposes exactly nothing to a::exposed but not listed: 80\/tcp/,
    );
  }, 30_000);
});
