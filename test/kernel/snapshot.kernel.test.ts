/**
 * `reach snapshot --netns` against a real network namespace that this test
 * builds (root only): addresses, the default route, listeners from ss, an
 * nftables input chain and the forwarding sysctl come back as one machine,
 * and reach's answers on it match what the namespace does.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kernelSkip } from "./support.js";

const NS = `reach-snap-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "reach-snapshot-"));
const run = (...argv: string[]) => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const inNs = (...argv: string[]) => run("ip", "netns", "exec", NS, ...argv);
let listener: ChildProcess | undefined;

describe.skipIf(kernelSkip)("reach snapshot --netns", () => {
  beforeAll(async () => {
    run("ip", "netns", "add", NS);
    inNs("ip", "link", "set", "lo", "up");
    inNs("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
    inNs("ip", "link", "set", "eth0p", "up");
    inNs("ip", "addr", "add", "10.77.0.5/24", "dev", "eth0");
    inNs("ip", "link", "set", "eth0", "up");
    inNs("ip", "route", "add", "default", "via", "10.77.0.1");
    inNs("sysctl", "-qw", "net.ipv4.ip_forward=0");
    const rules =
      "table inet f {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  tcp dport 2222 accept\n }\n}\n";
    const nft = spawnSync("ip", ["netns", "exec", NS, "nft", "-f", "-"], { input: rules, encoding: "utf8" });
    if (nft.status !== 0) throw new Error(nft.stderr);
    const script =
      "const n=require('net');n.createServer().listen(2222,'0.0.0.0');n.createServer().listen(5432,'127.0.0.1');setTimeout(()=>{},1e9)";
    listener = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", script], { stdio: "ignore" });
    for (let i = 0; i < 50 && !inNs("ss", "-ltnH").includes(":5432"); i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(() => {
    if (listener?.pid) listener.kill("SIGKILL");
    spawnSync("ip", ["netns", "pids", NS], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean)
      .forEach((pid) => spawnSync("kill", ["-9", pid]));
    spawnSync("ip", ["netns", "del", NS]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the namespace into one machine, and reach answers on it", () => {
    const out = join(dir, "snap.yaml");
    const saved = join(dir, "raw");
    const r = spawnSync(process.execPath, ["dist/bin/main.js", "snapshot", "--netns", NS, "--host", "box", "-o", out, "--save", saved], {
      encoding: "utf8",
    });
    expect([0, 1], r.stderr).toContain(r.status);
    const doc = YAML.parse(readFileSync(out, "utf8"));
    const box = doc.machines.box;
    expect(box.interfaces.eth0).toEqual({ segment: "lan", addresses: ["10.77.0.5/24"] });
    expect(box.routes).toEqual([{ to: "default", via: "10.77.0.1", dev: "eth0" }]);
    expect(box.services).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ proto: "tcp", port: 2222, bind: "0.0.0.0" }),
        expect.objectContaining({ proto: "tcp", port: 5432, bind: "127.0.0.1" }),
      ]),
    );
    expect(box.firewall.input.policy).toBe("drop");
    expect(readFileSync(join(saved, "ip_-j_addr.txt"), "utf8")).toContain("10.77.0.5");
    // a LAN peer asks what it can reach: 2222 (open, accepted), not 5432 (loopback only)
    const lab = join(dir, "lab.yaml");
    doc.machines.peer = { interfaces: { eth0: { segment: "lan", addresses: ["10.77.0.9/24"] } } };
    doc.segments = { ...(doc.segments ?? {}), lan: "10.77.0.0/24" };
    writeFileSync(lab, YAML.stringify(doc));
    const ask = (q: string) =>
      JSON.parse(spawnSync(process.execPath, ["dist/bin/main.js", "ask", lab, q, "--json"], { encoding: "utf8" }).stdout).verdict;
    expect(ask("peer -> box:2222/tcp")).toBe("reachable");
    expect(ask("peer -> box:5432/tcp")).toBe("unreachable");
  });

  it("a namespace that does not exist: RCH056, exit 2", () => {
    const r = spawnSync(process.execPath, ["dist/bin/main.js", "snapshot", "--netns", `${NS}-none`], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("RCH056");
  });
});
