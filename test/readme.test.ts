/** The README's examples are real: its topology example holds, and its pasted outputs are what reach prints. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTopologyFile, loadTopologyText } from "../src/topology/load.js";
import { lower } from "../src/lower/lower.js";
import { checkExpectations } from "../src/query/expect.js";
import { parseQuery } from "../src/ir/query.js";
import { answerQuery } from "../src/query/engine.js";
import { engineLine, renderAnswer } from "../src/query/render.js";
import { readdirSync } from "node:fs";
import { fix } from "../src/fix/fix.js";
import { renderFix } from "../src/fix/report.js";
import { loadFamilyFile } from "../src/prove/family.js";
import { runImport } from "../src/import/run.js";

const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
const blocks = (lang: string) => [...readme.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);

describe("README", () => {
  it("every yaml example loads and its expectations hold", () => {
    const ys = blocks("yaml");
    expect(ys.length).toBeGreaterThan(0);
    for (const y of ys) {
      const loaded = loadTopologyText("README.md", y);
      for (const r of checkExpectations(lower(loaded.topology), loaded.topology)) expect(r.holds, r.query).toBe(true);
    }
  });

  it.each([
    ["models/virtualbox-nat.yaml", "host -> guest:22/tcp"],
    ["models/nat-guest-loopback-bind.yaml", "host -> guest:22/tcp"],
  ])("the pasted output of %s %j is current", async (model, query) => {
    const net = lower(loadTopologyFile(model).topology);
    const q = parseQuery(query);
    if (!q.ok) throw new Error(q.message);
    // what `reach ask` prints by default (Z3 decides, the simulator's replay is shown)
    const { answer, report } = await answerQuery(net, q.query, { engine: "smt", timeoutMs: 30_000 });
    expect(readme).toContain(renderAnswer(answer, net.machines, report));
  });

  it("the pasted --engine both line is current", async () => {
    const net = lower(loadTopologyFile("models/virtualbox-nat.yaml").topology);
    const q = parseQuery("host -> guest:22/tcp");
    if (!q.ok) throw new Error(q.message);
    const { report } = await answerQuery(net, q.query, { engine: "both", timeoutMs: 30_000 });
    expect(readme).toContain(engineLine(report));
  });

  it("the Proofs table lists every proof file, REFUTED exactly where the file records a false claim", () => {
    for (const f of readdirSync("proofs").filter((x) => x.endsWith(".yaml"))) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${f}\``));
      expect(row, f).toBeDefined();
      expect(row!.includes("**REFUTED**"), f).toBe(!loadFamilyFile(join("proofs", f)).holds);
    }
  });

  it("the pasted reach fix output is current", async () => {
    const loaded = loadTopologyFile("test/fix/overexposed.yaml");
    const q = parseQuery("lan -> default:80/tcp");
    if (!q.ok) throw new Error(q.message);
    const r = await fix(loaded, q.query, "unreachable", { maxEdits: 2, count: 3, timeoutMs: 60_000 });
    expect(readme).toContain(renderFix(r, "test/fix/overexposed.yaml", loaded.source));
  });

  it("the pasted Vagrant import is current", async () => {
    const r = await runImport({
      kind: "vagrant",
      files: ["test/import/golden/vagrant-exposed-forward/Vagrantfile"],
      options: { host: "host", lan: "192.168.1.0/24" },
      command: "reach import vagrant Vagrantfile",
    });
    expect(readme).toContain(`$ cat lab.yaml\n${r.text}$ npx reach exposure`);
  });
});
