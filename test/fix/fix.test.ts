/**
 * `reach fix`: the four repairs (a 127.0.0.1-bound service behind a
 * forward, a missing forward, an over-exposed Vagrant-style forward, a firewall
 * drop), a missing route, and one that needs two edits. Each repair is checked here again on the
 * edited text, and minimal: no candidate with fewer edits in the repair space
 * gives the wanted verdict while the other expectations hold (enumerated with
 * the simulator, independently of Z3).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { choices, editsOf, fix, type Want } from "../../src/fix/fix.js";
import { applyToData, repairSpace } from "../../src/fix/space.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { ask } from "../../src/query/dials.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { verifyTopology } from "../../src/verify/verify.js";

const query = (t: string): Query => {
  const q = parseQuery(t);
  if (!q.ok) throw new Error(q.message);
  return q.query;
};

/** Does this set of edits give `want` with every other expectation holding? (simulator only) */
async function works(file: string, q: Query, want: Want, data: unknown): Promise<boolean> {
  let loaded;
  try {
    loaded = loadTopologyText(file, YAML.stringify(data));
  } catch (e) {
    if (e instanceof InputError) return false;
    throw e;
  }
  const net = lower(loaded.topology);
  if (ask(net, q).verdict !== want) return false;
  const doc = loaded.topology.doc;
  const others = { doc: { ...doc, expect: (doc.expect ?? []).filter((e) => e.query !== q.text) }, loc: loaded.topology.loc };
  return (await verifyTopology(net, others, { engine: "sim", timeoutMs: 30_000 })).every((r) => r.status === "holds");
}

const CASES: { file: string; query: string; want: Want; expected: RegExp[]; line: RegExp }[] = [
  {
    file: "loopback-bind",
    query: "lan-pc -> guest:22/tcp",
    want: "reachable",
    expected: [/services\[0\] \(sshd\): bind: 127\.0\.0\.1 -> 0\.0\.0\.0/],
    line: /^ {6}- \{ name: sshd, proto: tcp, port: 22, bind: 0\.0\.0\.0 \} # the mistake$/m,
  },
  {
    file: "missing-forward",
    query: "lan-pc -> guest:80/tcp",
    want: "reachable",
    expected: [/adapters\[0\]\.forwards: add forward tcp host 8080 -> guest 80/],
    line: /forwards: \[ \{ name: tcp-80, proto: tcp, hostPort: 8080, guestPort: 80 \} \]/,
  },
  {
    file: "overexposed",
    query: "lan -> default:80/tcp",
    want: "unreachable",
    expected: [/forwards\[1\] \(forward dev\): hostIp: \(empty\) -> 127\.0\.0\.1/],
    line: /hostIp: 127\.0\.0\.1 \} {2}# no host IP$/m,
  },
  {
    file: "firewall-drop",
    query: "lan-pc -> server:22/tcp",
    want: "reachable",
    expected: [/firewall\.input: remove input rule 2 \(drop tcp dport 22\)/],
    line: /dport: 25 \}\n {2}lan-pc:/,
  },
  {
    file: "route",
    query: "pc -> labbox:22/tcp",
    want: "reachable",
    expected: [/pc\.routes: add route default via 10\.1\.0\.1 \(router\)/],
    line: /^ {4}routes: \[ \{ to: default, via: 10\.1\.0\.1 \} \]$/m,
  },
  {
    file: "two-edits",
    query: "lan-pc -> guest:3000/tcp",
    want: "reachable",
    expected: [/bind: 127\.0\.0\.1 -> 0\.0\.0\.0/, /add forward tcp host 3000 -> guest 3000/],
    line: /bind: 0\.0\.0\.0 \}/,
  },
];

describe("reach fix", () => {
  for (const c of CASES) {
    describe(c.file, () => {
      const file = join("test/fix", `${c.file}.yaml`);
      const loaded = loadTopologyFile(file);
      const q = query(c.query);
      it(`finds the repair for ${c.query} (${c.want}), verified on the edited text`, { timeout: 120_000 }, async () => {
        const r = await fix(loaded, q, c.want, { maxEdits: 2, count: 2, timeoutMs: 60_000 });
        expect(r.before.answer.verdict).not.toBe(c.want);
        const best = r.repairs[0]!;
        expect(best, "a repair").toBeDefined();
        const texts = best.changes.map((x) => `${x.slot.where}: ${x.alternative.text}`);
        expect(texts).toHaveLength(c.expected.length);
        for (const re of c.expected)
          expect(
            texts.some((t) => re.test(t)),
            texts.join("\n"),
          ).toBe(true);
        // the edited text: only the edited lines differ, comments kept, and it loads and answers as wanted
        expect(best.text).toMatch(c.line);
        const before = loaded.source.split("\n");
        const after = best.text.split("\n");
        const changed = after.filter((l) => !before.includes(l)).length + before.filter((l) => !after.includes(l)).length;
        expect(changed).toBeLessThanOrEqual(2 * c.expected.length);
        const edited = loadTopologyText(file, best.text);
        expect(ask(lower(edited.topology), q).verdict).toBe(c.want);
        expect(best.expectations.every((x) => x.status === "holds")).toBe(true);
        // every next-best repair is a repair too, and none contains the best
        for (const alt of r.repairs.slice(1)) {
          expect(ask(lower(loadTopologyText(file, alt.text).topology), q).verdict).toBe(c.want);
          expect(best.changes.every((b) => alt.changes.some((a) => a.alternative === b.alternative))).toBe(false);
        }
      });
      it("is minimal: no candidate with fewer edits in the repair space works", { timeout: 120_000 }, async () => {
        const net = lower(loaded.topology);
        const slots = repairSpace(loaded.topology.doc, net, q, c.want);
        const smaller = choices(slots, c.expected.length - 1);
        expect(smaller.length).toBeGreaterThan(0);
        for (const choice of smaller) {
          const data = applyToData(loaded.topology.doc, editsOf(slots, choice));
          expect(await works(file, q, c.want, data), `edits ${JSON.stringify(editsOf(slots, choice))}`).toBe(false);
        }
      });
    });
  }

  it("names the expectations that block every repair", { timeout: 120_000 }, async () => {
    const loaded = loadTopologyFile("models/nat-guest-loopback-bind.yaml");
    const r = await fix(loaded, query("host -> guest:22/tcp"), "reachable", { maxEdits: 1, count: 1, timeoutMs: 60_000 });
    expect(r.repairs).toEqual([]);
    expect(r.rejected.length).toBeGreaterThan(0);
    expect(r.rejected[0]!.broken.map((b) => b.text)).toContain("host -> 127.0.0.1:2222/tcp is unreachable");
  });

  it("already as wanted: nothing to do", async () => {
    const loaded = loadTopologyFile("test/fix/loopback-bind.yaml");
    const r = await fix(loaded, query("lan-pc -> guest:80/tcp"), "reachable", { maxEdits: 2, count: 1, timeoutMs: 60_000 });
    expect(r.repairs).toEqual([]);
    expect(r.candidates).toBe(0);
  });
});

describe("reach fix (CLI)", () => {
  const dir = mkdtempSync(join(tmpdir(), "reach-fix-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const reach = (...args: string[]) => spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });

  it("prints the edit at file:line and a diff; --write applies it and keeps a backup", { timeout: 120_000 }, () => {
    const file = join(dir, "lab.yaml");
    copyFileSync("test/fix/loopback-bind.yaml", file);
    const original = readFileSync(file, "utf8");
    const r = reach("fix", file, "lan-pc -> guest:22/tcp", "--want", "reachable", "--write");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${file}:16:51  machines.guest.services[0] (sshd): bind: 127.0.0.1 -> 0.0.0.0`);
    expect(r.stdout).toContain("+      - { name: sshd, proto: tcp, port: 22, bind: 0.0.0.0 } # the mistake");
    expect(r.stdout).toMatch(/^Z3: MaxSMT over \d+ candidate topologies/m);
    expect(readFileSync(`${file}.bak`, "utf8")).toBe(original);
    expect(readFileSync(file, "utf8")).toBe(original.replace("bind: 127.0.0.1 } # the mistake", "bind: 0.0.0.0 } # the mistake"));
    const v = reach("ask", file, "lan-pc -> guest:22/tcp", "--json");
    expect(JSON.parse(v.stdout).verdict).toBe("reachable");
  });

  it("no repair: exit 1, the blocking expectations named", { timeout: 120_000 }, () => {
    const r = reach("fix", "models/nat-guest-loopback-bind.yaml", "host -> guest:22/tcp", "--want", "reachable", "--max-edits", "1");
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/would break models\/nat-guest-loopback-bind\.yaml:\d+:\d+: host -> 127\.0\.0\.1:2222\/tcp is unreachable/);
  });

  it("bad options exit 2", () => {
    expect(reach("fix", "test/fix/loopback-bind.yaml", "lan-pc -> guest:22/tcp", "--want", "reachable", "--max-edits", "9").status).toBe(2);
    expect(reach("fix", "test/fix/loopback-bind.yaml", "lan-pc -> guest:22/tcp").status).toBe(2);
  });
});
