/**
 * Resources are bounded (docs/topology.md "Limits"): an input that would take minutes or
 * gigabytes is refused with RCH006 at the place it goes past a limit, quickly; one class per test.
 * Inputs are generated small in text where they can be (aliases, flow style), so that the test
 * itself stays fast.
 */
import { mkdtempSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError, type Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { LIMITS, loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { SIZE_LIMITS } from "../../src/topology/check.js";
import { loadFamilyFile, loadFamilyText, PROOF_LIMITS } from "../../src/prove/family.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { answerQuery, type EngineOptions } from "../../src/query/engine.js";
import { renderAnswer } from "../../src/query/render.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { spawnSync } from "node:child_process";
import { KINDS, runImport } from "../../src/import/run.js";
import { MAX_VAGRANTFILE_CHARS } from "../../src/import/vagrant.js";

const dir = mkdtempSync(join(tmpdir(), "reach-bounds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The diagnostics `load` throws, and how long it took; a load that succeeds fails the test. */
function refused(load: () => unknown): { ds: readonly Diagnostic[]; ms: number } {
  const t0 = performance.now();
  try {
    load();
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { ds: e.diagnostics, ms: performance.now() - t0 };
  }
  throw new Error("loaded");
}
const where = (d: Diagnostic) => [d.code, d.span.line, d.span.col];

const HEAD = "segments:\n  lan: 10.0.0.0/8\nmachines:\n  a:\n    interfaces: { eth0: { segment: lan, addresses: [10.0.0.1/8] } }\n";

describe("nesting", () => {
  it("a 100,000-deep flow list stops at level 65, at its position, in well under a second", () => {
    const { ds, ms } = refused(() => loadTopologyText("deep.yaml", "machines: " + "[".repeat(100_000) + "]".repeat(100_000)));
    expect(ds.map(where)).toEqual([["RCH006", 1, 11 + LIMITS.depth - 1]]);
    expect(ds[0]!.message).toBe("nesting deeper than 64 levels");
    expect(ms).toBeLessThan(1000);
  });

  it("deep block mappings and compact block lists", () => {
    const block = Array.from({ length: 1000 }, (_, i) => " ".repeat(i) + "a:").join("\n");
    expect(refused(() => loadTopologyText("block.yaml", block)).ds.map((d) => [d.code, d.span.line])).toEqual([["RCH006", 64]]);
    const compact = "- ".repeat(200_000) + "x\n";
    const r = refused(() => loadTopologyText("compact.yaml", compact));
    expect(r.ds.map((d) => d.code)).toEqual(["RCH006"]);
    expect(r.ms).toBeLessThan(1000);
  });

  it("nesting built by aliases is counted after they are expanded", () => {
    const lines = ["x0: &x0 [1]", ...Array.from({ length: 70 }, (_, i) => `x${i + 1}: &x${i + 1} [*x${i}]`), "machines: {}"];
    const { ds } = refused(() => loadTopologyText("aliases.yaml", lines.join("\n")));
    expect(ds.map((d) => d.code)).toEqual([ds[0]!.code === "RCH002" ? "RCH002" : "RCH006"]);
  });

  it("a proof file's condition nested 5,000 deep", () => {
    const text = `claim: x\nparams: { a: [1] }\ntopology: { machines: {} }\ntheorems: [ { query: "a -> b:1/tcp", reachable: ${"{not: ".repeat(5000)}true${"}".repeat(5000)} } ]`;
    expect(refused(() => loadFamilyText("p.yaml", text)).ds.map((d) => d.code)).toEqual(["RCH006"]);
  });
});

describe("size of the text", () => {
  it("a 256 MiB file is refused after reading 64 MiB of it, not all of it", () => {
    const big = join(dir, "big.yaml");
    const fd = openSync(big, "w");
    ftruncateSync(fd, 4 * LIMITS.textChars);
    closeSync(fd);
    const { ds, ms } = refused(() => loadTopologyFile(big));
    expect(ds.map(where)).toEqual([["RCH006", 1, 1]]);
    expect(ds[0]!.message).toContain(`more than ${LIMITS.textChars} bytes`);
    expect(ms).toBeLessThan(10_000);
  });

  it("/dev/zero (endless) is refused, not read forever", () => {
    expect(refused(() => loadTopologyFile("/dev/zero")).ds.map(where)).toEqual([["RCH006", 1, 1]]);
  });

  it("text over 64 MiB handed to the loader directly", () => {
    const { ds, ms } = refused(() => loadTopologyText("t.yaml", "#".repeat(LIMITS.textChars + 1)));
    expect(ds.map(where)).toEqual([["RCH006", 1, 1]]);
    expect(ms).toBeLessThan(1000);
  });

  // Past 16 MiB only plain YAML and JSON are read (the fast reader: about 60 MB per MB instead of the
  // yaml library's 100 MB per MB and 1 s per MB); a file there that needs the library is refused
  // where it leaves the plain subset, and a plain one's errors keep their exact positions.
  const PAD = `# ${"x".repeat(LIMITS.yamlChars)}\n`;
  it("past 16 MiB: plain YAML is read, an anchor is refused at its position, an error keeps its line", () => {
    expect(Object.keys(loadTopologyText("plain.yaml", `${PAD}${HEAD}`).topology.doc.machines)).toEqual(["a"]);
    const anchored = `${PAD}${HEAD}  b: &b {}\n`;
    const r = refused(() => loadTopologyText("anchor.yaml", anchored));
    expect(r.ds.map(where)).toEqual([["RCH006", 7, 6]]);
    expect(r.ds[0]!.message).toContain("reads plain YAML or JSON only");
    expect(refused(() => loadTopologyText("bad.yaml", `${PAD}${HEAD}    colour: red\n`)).ds.map(where)).toEqual([["RCH003", 7, 5]]);
  });

  it("a proof file over 1 MiB", () => {
    const f = join(dir, "big-proof.yaml");
    writeFileSync(f, "#".repeat(PROOF_LIMITS.textChars + 10));
    expect(refused(() => loadFamilyFile(f)).ds.map(where)).toEqual([["RCH006", 1, 1]]);
  });
});

describe("element counts", () => {
  const aliasChain = (anchors: number, uses: number) => {
    const defs = Array.from({ length: anchors }, (_, i) => `r${i}: &r${i} { action: drop, dport: ${(i % 60000) + 1}, proto: tcp }`);
    const refs = Array.from({ length: anchors }, (_, i) => Array.from({ length: uses }, () => `*r${i}`).join(", ")).join(", ");
    return `${defs.join("\n")}\n${HEAD}    firewall: { input: { rules: [${refs}] } }\n`;
  };

  it("a million-rule chain written with aliases (7 MB) is refused as any 7 MB file is, within seconds", () => {
    const t0 = performance.now();
    const { ds } = refused(() => loadTopologyText("million.yaml", aliasChain(10_000, 100)));
    expect(["RCH002", "RCH006"]).toContain(ds[0]!.code);
    // about 15 s on an idle machine: the cost of parsing any 7 MB of YAML
    expect(performance.now() - t0).toBeLessThan(90_000);
  }, 180_000);

  it(`a chain of ${SIZE_LIMITS.rulesPerChain + 1} rules, plainly written: RCH006 at rules:`, () => {
    const rules = Array.from(
      { length: SIZE_LIMITS.rulesPerChain + 1 },
      (_, k) => `{ action: drop, proto: tcp, dport: ${(k % 65000) + 1} }`,
    );
    const text = `${HEAD}    firewall:\n      input:\n        rules: [${rules.join(", ")}]\n`;
    const { ds } = refused(() => loadTopologyText("chain.yaml", text));
    expect(ds.map(where)).toEqual([["RCH006", 8, 9]]);
    expect(ds[0]!.message).toBe(
      `${SIZE_LIMITS.rulesPerChain + 1} rules in one chain, more than the ${SIZE_LIMITS.rulesPerChain} reach takes`,
    );
  });

  it(`${SIZE_LIMITS.machines + 1} machines, and ${SIZE_LIMITS.expectations + 1} expectations`, () => {
    const ms = Array.from({ length: SIZE_LIMITS.machines + 1 }, (_, i) => `m${i}: {}`).join(", ");
    expect(refused(() => loadTopologyText("many.yaml", `machines: { ${ms} }`)).ds.map(where)).toEqual([["RCH006", 1, 1]]);
    const ex = Array.from({ length: SIZE_LIMITS.expectations + 1 }, () => `{ query: "a -> a:22/tcp", verdict: reachable }`).join(", ");
    expect(refused(() => loadTopologyText("ex.yaml", `${HEAD}expect: [${ex}]\n`)).ds.map(where)).toEqual([["RCH006", 6, 1]]);
  }, 120_000);

  it("many aliases of a big node: refused (the alias limit), not expanded", () => {
    const big = `big: &big [${Array.from({ length: 1000 }, (_, i) => i).join(", ")}]`;
    const text = `${big}\nmore: [${Array.from({ length: 5000 }, () => "*big").join(", ")}]\nmachines: {}\n`;
    const { ds, ms } = refused(() => loadTopologyText("aliases.yaml", text));
    expect(ds.map((d) => d.code)).toEqual(["RCH002"]);
    expect(ms).toBeLessThan(2000);
  });
});

describe("proof families", () => {
  it("an astronomical parameter product is refused at params:, before any member is built", () => {
    const params = Array.from({ length: 30 }, (_, i) => `  p${i}: [${Array.from({ length: 200 }, (_, k) => k).join(", ")}]`).join("\n");
    const text = `claim: x\nparams:\n${params}\ntopology: { machines: {} }\ntheorems: [ { query: "a -> b:1/tcp", reachable: true } ]\n`;
    const { ds, ms } = refused(() => loadFamilyText("product.yaml", text));
    expect(ds.map(where)).toEqual([["RCH006", 3, 3]]);
    expect(ds[0]!.message).toMatch(/^the family has 1\.07e\+69 members/);
    expect(ms).toBeLessThan(2000);
  });

  it(`${PROOF_LIMITS.members} members are fine, ${PROOF_LIMITS.members * 2} are not`, () => {
    const fam = (n: number) =>
      `claim: x\nparams:\n${Array.from({ length: Math.log2(n) }, (_, i) => `  p${i}: [a, b]`).join("\n")}\ntopology: { machines: {} }\ntheorems: [ { query: "a -> b:1/tcp", reachable: true } ]\n`;
    expect(loadFamilyText("ok.yaml", fam(PROOF_LIMITS.members)).params.length).toBe(10);
    expect(refused(() => loadFamilyText("no.yaml", fam(PROOF_LIMITS.members * 2))).ds.map((d) => d.code)).toEqual(["RCH006"]);
  });
});

/** 2,000 rules of port ranges and /0-/16 sources between hosts on a 0.0.0.0/1 and ::/1 segment (b drops by policy). */
function rangeRules(): string {
  const rules = Array.from(
    { length: 2000 },
    (_, k) =>
      `        - { action: ${k % 2 ? "accept" : "drop"}, proto: tcp, sport: "${(k * 7) % 60000}-${((k * 7) % 60000) + 5000}", dport: "${(k * 13) % 60000}-${((k * 13) % 60000) + 3}", src: "${k % 3 ? "0.0.0.0/0" : `10.${k % 256}.0.0/16`}" }`,
  );
  return [
    "segments:",
    '  any: { subnets: [0.0.0.0/1, "::/1"] }',
    "machines:",
    "  a:",
    '    interfaces: { eth0: { segment: any, addresses: [10.0.0.1/1, "::1:1/1"] } }',
    "  b:",
    '    interfaces: { eth0: { segment: any, addresses: [10.0.0.2/1, "::1:2/1"] } }',
    "    services: [ { port: 8080 } ]",
    "    firewall:",
    "      input:",
    "        policy: drop",
    "        rules:",
    ...rules,
  ].join("\n");
}

describe("huge port and address ranges: --timeout bounds the whole answer", () => {
  const net = lower(loadTopologyText("ranges.yaml", rangeRules()).topology);
  const q = parseQuery("a -> b:8080/tcp");
  if (!q.ok) throw new Error(q.message);
  /** The answer and its time; the bound leaves room for a loaded 2-core machine, far below the 48 s (explanation) and minutes (simulator) of an unbounded run. */
  const timed = async (opts: EngineOptions) => {
    const t0 = performance.now();
    const r = await answerQuery(net, q.query, opts);
    return { ...r, ms: performance.now() - t0 };
  };
  const BOUND = 2000 + 4000;

  it("Z3 alone (no explanation) decides within the timeout", async () => {
    const r = await timed({ engine: "smt", timeoutMs: 2000, explain: false });
    expect(["unreachable", "unknown"]).toContain(r.answer.verdict);
    expect(r.ms).toBeLessThan(BOUND);
  }, 60_000);

  it("with the explanation: Z3's verdict stands and the answer says the explanation was cut", async () => {
    const r = await timed({ engine: "smt", timeoutMs: 2000 });
    expect(r.answer.verdict).toBe("unreachable");
    expect(r.answer.cut).toMatch(/^explanation cut at --timeout \(\d+ of \d+ dials simulated\)$/);
    expect(r.report.note).toBe(r.answer.cut);
    expect(renderAnswer(r.answer, net.machines, r.report)).toContain("; explanation cut at --timeout (");
    expect(r.ms).toBeLessThan(BOUND);
  }, 60_000);

  it("--engine sim: unknown at the timeout, saying how far the simulator got", async () => {
    const r = await timed({ engine: "sim", timeoutMs: 2000 });
    expect(r.answer.verdict).toBe("unknown");
    expect(r.answer.reason).toMatch(/^the simulator was cut at --timeout after \d+ exchanges, and no dial it tried works$/);
    expect(r.answer.causes).toBeUndefined();
    expect(r.report.exchanges).toBeUndefined();
    expect(renderAnswer(r.answer, net.machines, r.report).split("\n").at(-1)).toMatch(
      /^ {2}not decided: the simulator was cut at --timeout/,
    );
    expect(r.ms).toBeLessThan(BOUND);
  }, 60_000);

  it("--engine both: a simulator cut short is no disagreement; Z3 decides", async () => {
    const r = await timed({ engine: "both", timeoutMs: 2000 });
    expect(r.answer.verdict).toBe("unreachable");
    expect(r.report.smt).toBe("unreachable");
    expect(r.report.note).toMatch(/^the simulator was cut at --timeout after \d+ exchanges; explanation cut at --timeout/);
    expect(r.ms).toBeLessThan(BOUND);
  }, 60_000);

  it("the simulator's exhaustive run itself: unknown past its deadline, reachable or unreachable before it", () => {
    const t0 = Date.now();
    const cut = exhaustive(net, q.query, undefined, true, t0 + 300);
    expect(cut.verdict).toBe("unknown");
    expect(cut.tried).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(300 + 3000);
    // a small topology finishes well before the same deadline: the deadline changes nothing there
    const small = lower(
      loadTopologyText(
        "small.yaml",
        `${HEAD}  b:\n    interfaces: { eth0: { segment: lan, addresses: [10.0.0.2/8] } }\n    services: [ { port: 22 } ]\n`,
      ).topology,
    );
    const sq = parseQuery("a -> b:22/tcp");
    if (!sq.ok) throw new Error(sq.message);
    expect(exhaustive(small, sq.query, undefined, true, Date.now() + 60_000)).toEqual(exhaustive(small, sq.query));
  }, 60_000);

  it("reach ask --engine sim --timeout 1 exits 3 with the unknown answer", () => {
    const file = join(dir, "ranges.yaml");
    writeFileSync(file, rangeRules());
    const r = spawnSync(process.execPath, ["dist/bin/main.js", "ask", file, "a -> b:8080/tcp", "--engine", "sim", "--timeout", "1"], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stdout.split("\n")[0]).toBe("unknown: a -> b:8080/tcp");
    expect(r.status).toBe(3);
  }, 60_000);
});

describe("imports", () => {
  // `reach import linux /dev/zero` used to read until the heap was gone; every importer's input
  // now goes through the same bounded read as a topology.
  it.each(KINDS)("%s: /dev/zero is RCH006 at 1:1, nothing imported", async (kind) => {
    const r = await runImport({ kind, files: ["/dev/zero"], options: { host: "host", lan: "192.168.1.0/24" } });
    expect(r.text).toBeUndefined();
    expect(r.diagnostics.map(where)).toEqual([["RCH006", 1, 1]]);
  });

  it("an --env-file that never ends is RCH006, not an out-of-memory", async () => {
    const compose = join(dir, "compose.yaml");
    writeFileSync(compose, "services:\n  web:\n    image: nginx\n    ports: ['8080:80']\n");
    const r = await runImport({
      kind: "compose",
      files: [compose],
      options: { host: "host", lan: "192.168.1.0/24", envFiles: ["/dev/zero"] },
    });
    expect(r.diagnostics.filter((d) => d.severity === "error").map((d) => [d.code, d.span.file])).toEqual([["RCH006", "/dev/zero"]]);
  });

  it("a Vagrantfile longer than the Ruby parser is given is RCH006 (its WebAssembly heap aborts the process past 8 MB)", async () => {
    const text = "# " + "x".repeat(MAX_VAGRANTFILE_CHARS) + "\n";
    const r = await runImport({
      kind: "vagrant",
      files: [],
      sources: [{ file: "Vagrantfile", text }],
      options: { host: "host", lan: "192.168.1.0/24" },
    });
    expect(r.diagnostics.map(where)).toEqual([["RCH006", 1, 1]]);
  });
});
