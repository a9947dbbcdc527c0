import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDoctor, runDrift } from "../../src/doctor/cli.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { standIns, type StandIns } from "./standins.js";

const QEMU = ["qemu-system-x86_64", "-name", "dev", "-netdev", "user,id=n0,hostfwd=tcp::2222-:22", "-device", "virtio-net-pci,netdev=n0"];
const ENGINE = { engine: "smt" as const, timeoutMs: 20_000 };
let s: StandIns;
let live = "";
beforeAll(async () => {
  s = standIns("lab", {}, [QEMU]);
  live = (await runDoctor({ env: s.env, procRoot: s.proc, commandTimeoutMs: 1500, engine: ENGINE })).topologyYaml;
}, 120_000);
afterAll(() => s.cleanup());

/** reach drift of `text` (the declared file) against the replayed lab. */
async function drift(text: string, from?: string) {
  const declared = loadTopologyText("lab.yaml", text);
  const r = await runDrift(declared, lower(declared.topology), {
    env: s.env,
    procRoot: s.proc,
    commandTimeoutMs: 1500,
    engine: ENGINE,
    from,
  });
  const j = r.json as {
    differences: { code: string; machine: string; what: string; exposes: boolean; at?: { line: number } }[];
    notes: string[];
  };
  return { ...r, j, codes: j.differences.map((d) => `${d.code} ${d.machine} ${d.what}${d.exposes ? " +" : ""}`) };
}

/** `live` with one literal piece of text replaced (the test fails if it is not there). */
function edit(from: string, to: string): string {
  expect(live).toContain(from);
  return live.replace(from, to);
}

/** `live` without machine `name`'s block (to the next line indented as a machine or less). */
function withoutMachine(name: string): string {
  const lines = live.split("\n");
  const start = lines.findIndex((l) => l === `  ${name}:`);
  expect(start).toBeGreaterThan(0);
  const end = lines.findIndex((l, i) => i > start && /^ ?\S|^  \S/.test(l));
  return [...lines.slice(0, start), ...lines.slice(end === -1 ? lines.length : end)].join("\n");
}

describe("reach drift against the replayed lab", () => {
  it("the doctor's own topology has no drift from the machine it was read from", async () => {
    const r = await drift(live);
    expect(r.codes).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.text).toContain("the live machine exposes nothing lab.yaml does not say");
  }, 120_000);

  it("a forward declared on 127.0.0.1 that is live on every address: both sides, and the LAN's dial decided on the model (exit 1)", async () => {
    const text = edit(
      "{ name: http, proto: tcp, hostPort: 8080, guestPort: 80 }",
      "{ name: http, proto: tcp, hostIp: 127.0.0.1, hostPort: 8080, guestPort: 80 }",
    );
    const r = await drift(text);
    expect(r.codes).toEqual(["EXPOSED_NOT_DECLARED web 80/tcp +", "FORWARD_DIFFERS web tcp/8080 +"]);
    expect(r.exitCode).toBe(1);
    expect(r.text).toContain("declared: 127.0.0.1:8080 -> guest:80");
    expect(r.text).toContain("live:     0.0.0.0:8080 -> guest:80");
    expect(r.text).toContain("live:     lan -> web:80/tcp -> reachable (dial 192.168.1.10:8080)");
    // the declared side is located in the user's file
    const line = text.split("\n").findIndex((l) => l.includes("hostIp: 127.0.0.1, hostPort: 8080")) + 1;
    expect(r.j.differences[1]!.at?.line).toBe(line);
  }, 120_000);

  it("what only narrows the exposure is reported and exits 0: a service that does not run, a bind wider than live", async () => {
    const text = edit(
      "- { name: postgres, proto: tcp, port: 5432, bind: 127.0.0.1 }",
      "- { name: postgres, proto: tcp, port: 5432, bind: 0.0.0.0 }\n      - { name: redis, proto: tcp, port: 6379, bind: 127.0.0.1 }",
    );
    const r = await drift(text);
    expect(r.codes).toEqual(["LISTENER_NOT_RUNNING host tcp/6379", "BIND_DIFFERS host tcp/5432"]);
    expect(r.exitCode).toBe(0);
  }, 120_000);

  it("a running VM the file lacks exposes its forward: MACHINE_NOT_DECLARED and the LAN's dial (exit 1)", async () => {
    const doc = loadTopologyText("lab.yaml", live).topology.doc;
    const vm = Object.keys(doc.machines).find((m) => m.startsWith("qemu-") || m === "dev")!;
    const r = await drift(withoutMachine(vm));
    expect(r.codes).toEqual([`EXPOSED_NOT_DECLARED ${vm} 22/tcp +`, `MACHINE_NOT_DECLARED ${vm} VM on host +`]);
    expect(r.exitCode).toBe(1);
  }, 120_000);

  it("without the LAN vantage in the file, the exposure is not compared and the answer says so", async () => {
    const r = await drift(withoutMachine("lan"));
    expect(r.j.notes).toContain("exposure not compared: the declared topology has no machine lan (name the LAN vantage with --from)");
    expect(r.codes).toEqual([]);
  }, 120_000);
});

describe("reach drift on the command line", () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(import.meta.dirname, "../../dist/bin/main.js"), ...args], { encoding: "utf8" });
  const lab = join(import.meta.dirname, "fixtures/lab");

  it("exit 1 and both sides when the machine exposes what the file does not say; RCH042 for a replay folder that is not one", () => {
    const dir = mkdtempSync(join(tmpdir(), "reach-drift-"));
    try {
      const file = join(dir, "lab.yaml");
      writeFileSync(
        file,
        live.replace("{ name: http, proto: tcp, hostPort: 8080", "{ name: http, proto: tcp, hostIp: 127.0.0.1, hostPort: 8080"),
      );
      const r = cli(["drift", file, "--replay", lab, "--engine", "sim"]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stdout).toContain(`reach drift ${file} against this machine (replaying the outputs recorded in ${lab}): nothing run`);
      expect(r.stdout).toContain("FORWARD_DIFFERS web tcp/8080 (exposes more than declared)");
      const bad = cli(["drift", file, "--replay", join(dir, "nope")]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain("RCH042: --replay:");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
