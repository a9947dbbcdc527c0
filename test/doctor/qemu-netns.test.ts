/**
 * The doctor against a real QEMU: inside a network namespace this test creates (a veth eth0 (its peer in the namespace too) on
 * 192.168.77.10/24 and a default route), qemu-system-x86_64 -S with a user-mode hostfwd on
 * 0.0.0.0:8080 (it listens without a guest) and a node listener on 127.0.0.1:5432. The doctor
 * reads the namespace with `ip netns exec` and QEMU from /proc (matched by namespace). Skipped
 * with a message when qemu-system-x86_64 or root is not there. Torn down always, processes
 * ended by PID.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDoctor } from "../../src/doctor/cli.js";
import { which } from "../../src/doctor/exec.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { parseQuery } from "../../src/ir/query.js";

const NS = `reach-doc-${process.pid}`;
const qemu = which("qemu-system-x86_64", process.env);
const root = process.getuid?.() === 0 && which("ip", process.env) !== undefined;
const why = !qemu ? "qemu-system-x86_64 is not installed (apt-get install -y qemu-system-x86)" : !root ? "needs root and iproute2" : "";
if (why) console.warn(`SKIPPED test/doctor/qemu-netns.test.ts: ${why}`);

const ip = (...a: string[]) => spawnSync("ip", a, { encoding: "utf8" });
const children: ChildProcess[] = [];

function waitListening(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      const out = spawnSync("ip", ["netns", "exec", NS, "ss", "-ltnH"], { encoding: "utf8" }).stdout;
      if (out.includes(`:${port} `)) resolve();
      else if (Date.now() - t0 > 20_000) reject(new Error(`nothing listens on ${port} in ${NS}`));
      else setTimeout(poll, 100);
    };
    poll();
  });
}

describe.skipIf(why !== "")("reach doctor against a real QEMU in a network namespace", () => {
  beforeAll(async () => {
    const steps = [
      ["netns", "add", NS],
      ["-n", NS, "link", "set", "lo", "up"],
      ["-n", NS, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
      ["-n", NS, "link", "set", "peer0", "up"],
      ["-n", NS, "addr", "add", "192.168.77.10/24", "dev", "eth0"],
      ["-n", NS, "link", "set", "eth0", "up"],
      ["-n", NS, "route", "add", "default", "via", "192.168.77.1", "dev", "eth0"],
    ];
    for (const s of steps) {
      const r = ip(...s);
      if (r.status !== 0) throw new Error(`ip ${s.join(" ")}: ${r.stderr}`);
    }
    const q = spawn(
      "ip",
      [
        "netns",
        "exec",
        NS,
        qemu!,
        "-S",
        "-display",
        "none",
        "-nodefaults",
        "-netdev",
        "user,id=n0,hostfwd=tcp:0.0.0.0:8080-:80",
        "-device",
        "e1000,netdev=n0",
      ],
      { stdio: "ignore" },
    );
    const l = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", "require('net').createServer(()=>{}).listen(5432,'127.0.0.1')"], {
      stdio: "ignore",
    });
    children.push(q, l);
    await waitListening(8080);
    await waitListening(5432);
  }, 60_000);

  afterAll(async () => {
    for (const c of children)
      if (c.pid !== undefined && c.exitCode === null) {
        const gone = new Promise((resolve) => c.once("exit", resolve));
        c.kill("SIGKILL");
        await gone;
      }
    // ip netns exec execs the program: the PIDs above are QEMU's and node's own
    ip("netns", "del", NS);
  });

  it("finds the LAN-exposed forward and the loopback-only service, and answers lan -> the guest's 80 with the dial", async () => {
    const r = await runDoctor({ netns: NS, sources: ["host", "qemu"], commandTimeoutMs: 10_000 });
    console.log(r.text);
    const json = r.json as { findings: { code: string; machine: string; dial?: string }[] };
    const vm = json.findings.find((f) => f.code === "LAN_EXPOSED_FORWARD")?.machine;
    expect(vm).toMatch(/^qemu-\d+$/);
    expect(json.findings).toContainEqual(expect.objectContaining({ code: "LAN_EXPOSED_FORWARD", dial: "192.168.77.10:8080" }));
    expect(json.findings).toContainEqual(expect.objectContaining({ code: "GUEST_REACHES_HOST_LOOPBACK", machine: vm }));
    expect(r.text).toMatch(/127\.0\.0\.1:5432/);
    const net = lower(loadTopologyText("doctor.yaml", r.topologyYaml).topology);
    const q = parseQuery(`lan -> ${vm}:80/tcp`);
    if (!q.ok) throw new Error(q.message);
    const a = (await answerQuery(net, q.query, { engine: "smt", timeoutMs: 20_000 })).answer;
    expect(a.verdict).toBe("reachable");
    expect(a.attempt?.legs[0]?.packet.dport).toBe(8080);
  }, 120_000);
});
