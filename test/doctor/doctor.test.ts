/**
 * reach doctor on recorded outputs (test/doctor/fixtures/lab) replayed by stand-in executables
 * on PATH, and with each source's tool missing, refused, answering garbage, or hung: every case
 * ends with a note or a warning and a partial, honest answer.
 */
import { afterEach, describe, expect, it } from "vitest";
import { runDoctor, type DoctorOptions } from "../../src/doctor/cli.js";
import { FINDINGS } from "../../src/doctor/findings.js";
import { DRIFT } from "../../src/doctor/drift.js";
import { standIns, type Fault, type StandIns } from "./standins.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const QEMU = [
  "qemu-system-x86_64",
  "-name",
  "dev",
  "-m",
  "1024",
  "-netdev",
  "user,id=n0,hostfwd=tcp::2222-:22",
  "-device",
  "virtio-net-pci,netdev=n0",
];
const ENGINE = { engine: "smt" as const, timeoutMs: 20_000 };

let current: StandIns | undefined;
afterEach(() => current?.cleanup());

async function doctor(faults: Partial<Record<string, Fault>> = {}, extra: Partial<DoctorOptions> = {}) {
  current = standIns("lab", faults, [QEMU]);
  const r = await runDoctor({ env: current.env, procRoot: current.proc, commandTimeoutMs: 1500, engine: ENGINE, ...extra });
  const json = r.json as {
    findings: { code: string; machine: string; evidence: { at: string }[] }[];
    warnings: { message: string }[];
    notes: string[];
  };
  return { ...r, findings: json.findings.map((f) => `${f.code} ${f.machine}`), j: json };
}

/** The `| \`CODE\` | title |` rows of one section of docs/doctor.md. */
function catalogueRows(heading: string): string[][] {
  const doc = readFileSync(join(import.meta.dirname, "../../docs/doctor.md"), "utf8");
  const section = doc.slice(doc.indexOf(heading)).split(/\n## /)[0]!;
  return [...section.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]);
}

const ALL = [
  "LAN_EXPOSED_FORWARD web",
  "LAN_EXPOSED_FORWARD shop",
  "LAN_EXPOSED_FORWARD dev",
  "FORWARD_TO_LOOPBACK_SERVICE host",
  "GUEST_REACHES_HOST_LOOPBACK dev",
  "GUEST_REACHES_HOST_LOOPBACK dev",
  "HOSTONLY_OUTSIDE_ALLOWED_RANGE host",
  "DOCKER_BYPASSES_INPUT shop",
];

describe("reach doctor on replayed outputs", () => {
  it("reads every source and finds each catalogued finding, with evidence, on the merged topology", async () => {
    const t0 = Date.now();
    const r = await doctor();
    console.log(`runDoctor on the replayed lab: ${Date.now() - t0} ms`);
    expect(r.findings).toEqual(ALL);
    expect(r.exitCode).toBe(1);
    for (const f of r.j.findings) expect(f.evidence.length, f.code).toBeGreaterThan(0);
    expect(r.text).toContain("lan -> dev:22/tcp -> reachable (dial 192.168.1.10:2222)");
    expect(r.text).toContain("iptables-save:8: -A PREROUTING -i eth0 -p tcp -m tcp --dport 8443");
    // what was not read is at the top of the topology
    expect(r.topologyYaml).toMatch(/^# Made by `reach doctor`/);
    expect(r.topologyYaml).toContain("#   - nft -j list ruleset (not installed)");
    expect(r.topologyYaml).toContain("#   - virsh net-list --all (failed");
  }, 120_000);

  it("the catalogue in docs/doctor.md is FINDINGS", () => {
    expect(catalogueRows("## Catalogue")).toEqual(Object.entries(FINDINGS));
  });

  it("the drift catalogue in docs/doctor.md is DRIFT", () => {
    expect(catalogueRows("## reach drift")).toEqual(Object.entries(DRIFT));
  });
});

describe("faults, one source at a time", () => {
  it("host tools missing: notes, no host in the topology, the VMs still imported on an assumed LAN", async () => {
    const r = await doctor({ ip: "missing", ss: "missing", "iptables-save": "missing", "ip6tables-save": "missing", sysctl: "missing" });
    expect(r.j.notes.filter((n) => n.startsWith("host: `")).length).toBeGreaterThanOrEqual(5);
    expect(r.text).toContain("No input described host's own interfaces");
    expect(r.findings).toContain("LAN_EXPOSED_FORWARD web");
    expect(r.findings).not.toContain("FORWARD_TO_LOOPBACK_SERVICE host");
  }, 120_000);

  it("iptables-save refused: a warning, and the firewall is said to be not read", async () => {
    const r = await doctor({ "iptables-save": "refused" });
    expect(r.j.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/`iptables-save` was refused: .*Permission denied/));
    expect(r.topologyYaml).toContain("#   - iptables-save (was refused");
    expect(r.findings).not.toContain("DOCKER_BYPASSES_INPUT shop");
  }, 120_000);

  it("ss hung: killed after the timeout, a warning, the rest read", async () => {
    const t0 = Date.now();
    const r = await doctor({ ss: "hung" });
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(r.j.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/`ss -ltnupH` hung: no answer within 1.5 s: killed/));
    expect(r.findings).toContain("LAN_EXPOSED_FORWARD web");
    expect(r.findings).not.toContain("GUEST_REACHES_HOST_LOOPBACK dev"); // no listener was read
  }, 120_000);

  it("ip answers garbage: the importer's error becomes a warning and that output is left out", async () => {
    const r = await doctor({ ip: "garbage" });
    expect(r.j.warnings.some((w) => /left out of the topology/.test(w.message))).toBe(true);
    expect(r.exitCode).not.toBe(2);
  }, 120_000);

  it("VBoxManage missing: a note, no VirtualBox findings, the others kept", async () => {
    const r = await doctor({ VBoxManage: "missing" });
    expect(r.j.notes).toContainEqual(expect.stringMatching(/^virtualbox: `VBoxManage` is not installed/));
    expect(r.findings).not.toContain("LAN_EXPOSED_FORWARD web");
    expect(r.findings).not.toContain("HOSTONLY_OUTSIDE_ALLOWED_RANGE host");
    expect(r.findings).toContain("LAN_EXPOSED_FORWARD shop");
  }, 120_000);

  it("VBoxManage refused, docker hung, virsh garbage: three warnings, host and QEMU still answered", async () => {
    const t0 = Date.now();
    const r = await doctor({ VBoxManage: "refused", docker: "hung", virsh: "garbage" });
    expect(Date.now() - t0).toBeLessThan(60_000);
    const msgs = r.j.warnings.map((w) => w.message);
    expect(msgs).toContainEqual(expect.stringMatching(/`VBoxManage list runningvms` was refused/));
    expect(msgs).toContainEqual(expect.stringMatching(/`docker ps -q` hung/));
    expect(msgs).toContainEqual(expect.stringMatching(/not the table virsh prints|not understood/));
    expect(r.findings).toEqual([
      "LAN_EXPOSED_FORWARD dev",
      "FORWARD_TO_LOOPBACK_SERVICE host",
      "GUEST_REACHES_HOST_LOOPBACK dev",
      "GUEST_REACHES_HOST_LOOPBACK dev",
    ]);
  }, 120_000);

  it("docker answers garbage: a warning per line, no container", async () => {
    const r = await doctor({ docker: "garbage" });
    expect(r.j.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/line 1 not understood.*container IDs/));
    expect(r.findings).not.toContain("LAN_EXPOSED_FORWARD shop");
  }, 120_000);

  it("no source at all: exit 0, nothing found, everything listed as not read", async () => {
    const r = await doctor(
      Object.fromEntries(
        ["ip", "ss", "iptables-save", "ip6tables-save", "sysctl", "VBoxManage", "docker", "virsh"].map((t) => [t, "missing"]),
      ),
      {
        sources: ["host", "virtualbox", "docker", "libvirt"],
      },
    );
    expect(r.exitCode).toBe(0);
    expect(r.text).toContain("no findings");
  }, 120_000);
});

describe("containers in network mode host", () => {
  it("HOST_NETWORK_EXPOSED for the one whose port the host's INPUT accepts (prometheus), not for node-exporter (dropped)", async () => {
    current = standIns("hostnet", {}, [QEMU]);
    const r = await runDoctor({ env: current.env, procRoot: current.proc, commandTimeoutMs: 1500, engine: ENGINE });
    const json = r.json as { findings: { code: string; machine: string; evidence: { at: string; text: string }[]; dial?: string }[] };
    const hn = json.findings.filter((f) => f.code === "HOST_NETWORK_EXPOSED");
    expect(hn.map((f) => `${f.machine} ${f.dial}`)).toEqual(["prometheus 192.168.1.10:9090"]);
    expect(hn[0]!.evidence.map((e) => e.at)).toEqual(["docker inspect:95", "ss -ltnupH:7", "iptables-save:29"]);
    // node-exporter's port is on the host (ss did not show it): the written topology has it
    expect(r.topologyYaml).toContain("node-exporter 9100/tcp (assumed)");
  }, 120_000);
});

describe("the simulator-first search against the solver for every service", () => {
  it("the same findings, dials and evidence on the replayed lab and on the busy machine of the benchmark", async () => {
    const { busyMachine } = await import("../bench/doctor-machine.js");
    const busy = busyMachine();
    try {
      for (const replay of [join(import.meta.dirname, "fixtures/lab"), busy.dir]) {
        const [fast, slow] = await Promise.all([false, true].map((solverOnly) => runDoctor({ replay, engine: ENGINE, solverOnly })));
        const shape = (r: typeof fast) =>
          (r!.json as { findings: { code: string; machine: string; dial?: string; evidence: unknown }[] }).findings.map((f) => [
            f.code,
            f.machine,
            f.dial,
            f.evidence,
          ]);
        expect(shape(fast).length, replay).toBeGreaterThanOrEqual(8);
        expect(shape(fast), replay).toEqual(shape(slow));
      }
    } finally {
      busy.cleanup();
    }
  }, 180_000);
});

describe("rootless podman (pasta), replayed", () => {
  it("the published port on every address is a LAN_EXPOSED_FORWARD of the container; the one on 127.0.0.1 is not", async () => {
    current = standIns("podman", {}, [QEMU]);
    const r = await runDoctor({ env: current.env, procRoot: current.proc, commandTimeoutMs: 1500, engine: ENGINE });
    const json = r.json as { findings: { code: string; machine: string; evidence: { at: string }[]; dial?: string }[]; notes: string[] };
    const podman = json.findings.filter((f) => f.machine === "wiki" || f.machine === "notes");
    expect(podman.map((f) => `${f.code} ${f.machine} ${f.dial}`)).toEqual(["LAN_EXPOSED_FORWARD wiki 192.168.1.10:8880"]);
    expect(podman[0]!.evidence.map((e) => e.at)).toEqual(["podman inspect:56", "podman inspect:78", "ss -ltnupH:7"]);
    expect(json.notes).toContainEqual(expect.stringMatching(/^podman: rootless containers \(wiki: pasta, notes: pasta\)/));
    expect(r.text).toMatch(/^ {2}podman {5}2 read$/m);
  }, 120_000);

  it("podman answers garbage, or is missing: a warning or a note, and the rest is still decided", async () => {
    const bad = await doctor({ podman: "garbage" });
    expect(bad.j.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/not container IDs/));
    expect(bad.findings).toContain("LAN_EXPOSED_FORWARD web");
    current?.cleanup();
    current = standIns("podman", { podman: "missing" }, [QEMU]);
    const r = await runDoctor({ env: current.env, procRoot: current.proc, commandTimeoutMs: 1500, engine: ENGINE });
    expect((r.json as { notes: string[] }).notes).toContainEqual(expect.stringMatching(/^podman: `podman` is not installed/));
  }, 120_000);
});
