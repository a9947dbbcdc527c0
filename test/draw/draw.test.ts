/**
 * reach draw: the DOT and Mermaid text of the topology and of a blocked path are golden files
 * (test/draw/golden/, rewritten with UPDATE_GOLDEN=1 and reviewed in the diff); the SVG is the
 * same bytes every time; the CLI draws the README's picture with the cause and the repair.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTopologyFile } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { answerQuery } from "../../src/query/engine.js";
import { drawAnswer, drawTopology } from "../../src/draw/draw.js";
import { hostsOf, topologyPicture } from "../../src/draw/topology.js";
import { pathPicture } from "../../src/draw/path.js";

const GOLDEN = join(import.meta.dirname, "golden");

function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`missing golden file ${name}: run UPDATE_GOLDEN=1`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const load = (model: string) => {
  const loaded = loadTopologyFile(model);
  return { loaded, net: lower(loaded.topology) };
};

async function answer(model: string, query: string) {
  const q = parseQuery(query);
  if (!q.ok) throw new Error(q.message);
  return (await answerQuery(load(model).net, q.query, { engine: "smt", timeoutMs: 30_000 })).answer;
}

describe("reach draw: topology", () => {
  it.each(["nat-guest-loopback-bind", "home-router-hairpin", "lab-all-conditions"])("%s as DOT and Mermaid (golden)", async (name) => {
    const { loaded, net } = load(`models/${name}.yaml`);
    golden(`${name}.dot`, await drawTopology(loaded, net, "dot"));
    golden(`${name}.mmd`, await drawTopology(loaded, net, "mermaid"));
  });

  it("puts each VM and NAT engine in the frame of the machine it runs on, and the forwards as arrows", () => {
    const { loaded, net } = load("models/nat-guest-loopback-bind.yaml");
    const p = topologyPicture(net, hostsOf(net, loaded.topology));
    expect(p.frames.find((f) => f.host === "host")).toMatchObject({ machines: ["host", "guest", "guest-nat"], segments: ["guest/nat1"] });
    expect(p.forwards.map((f) => `${f.from}->${f.to} ${f.label} ${f.loopback}`)).toEqual([
      "host->guest ssh tcp 0.0.0.0:2222 -> 10.0.2.15:22 false",
      "host->guest web tcp 0.0.0.0:8080 -> 10.0.2.15:80 false",
      "host->guest admin tcp 127.0.0.1:9000 -> 10.0.2.15:9000 true",
    ]);
    expect(p.segments.map((s) => `${s.name}:${s.kind}`)).toEqual(["lan:declared", "guest/nat1:vbox-nat"]);
  });

  it("router forwards are arrows from the router to the server", () => {
    const { loaded, net } = load("models/home-router-hairpin.yaml");
    const p = topologyPicture(net, hostsOf(net, loaded.topology));
    expect(p.forwards.filter((f) => f.kind === "router-forward").map((f) => `${f.from}->${f.to}`)).toEqual([
      "router-a->server-a",
      "router-b->server-b",
    ]);
  });

  it("the SVG is the same bytes every time", async () => {
    const { loaded, net } = load("models/lab-all-conditions.yaml");
    const a = await drawTopology(loaded, net, "svg");
    expect(a.startsWith("<?xml")).toBe(true);
    expect(await drawTopology(loaded, net, "svg")).toBe(a);
  });
});

describe("reach draw --query: the path", () => {
  it("a blocked path as DOT and Mermaid (golden): the ✖ hop, the cause, the symptom, the unreached target", async () => {
    const a = await answer("models/nat-guest-loopback-bind.yaml", "host -> guest:22/tcp");
    const repair = { title: "repair (example)", changes: ["models/nat-guest-loopback-bind.yaml:27:9  bind: 127.0.0.1 -> 0.0.0.0"] };
    const dot = await drawAnswer(a, "dot", repair);
    golden("blocked-path.dot", dot);
    golden("blocked-path.mmd", await drawAnswer(a, "mermaid", repair));
    expect(dot).toContain("✖ 3  guest");
    expect(dot).toContain("BIND_LOOPBACK at models/nat-guest-loopback-bind.yaml:27:9");
    expect(dot).toContain("host sees: the connection is accepted, then closed without data");
    expect(dot).toContain("(not reached)");
  });

  it("a working path: each hop with its decisions, the packet on each edge, the NAT rewrite where it happens", async () => {
    const a = await answer("models/home-router-hairpin.yaml", "client-b -> 203.0.113.3:443/tcp");
    const p = pathPicture(a);
    expect(p.verdict).toBe("reachable");
    expect(p.reached).toBe(true);
    expect(p.hops.some((h) => h.lines.some((l) => l.startsWith("⇄ DNAT")))).toBe(true);
    expect(p.edges.length).toBe(p.hops.length - 1);
    golden("working-path.mmd", await drawAnswer(a, "mermaid"));
  });

  it("the CLI draws the README's picture with the cause and the repair (needs npm run build)", () => {
    const r = spawnSync(
      process.execPath,
      ["dist/bin/main.js", "draw", "models/nat-guest-loopback-bind.yaml", "--query", "host -> guest:22/tcp", "--format", "dot"],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("BIND_LOOPBACK");
    expect(r.stdout).toMatch(/repair \(reach fix|no repair found within/);
  }, 60_000);
});
