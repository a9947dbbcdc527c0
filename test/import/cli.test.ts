/**
 * `reach import` end to end through the built CLI: the Vagrant finding
 * (a forward without host_ip is exposed to the LAN), exit codes, and that an
 * existing file is never lost.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const reach = (...args: string[]) => {
  const r = spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const dir = mkdtempSync(join(tmpdir(), "reach-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VAGRANTFILE = `Vagrant.configure("2") do |config|
  config.vm.box = "debian/bookworm64"
  config.vm.network "forwarded_port", guest: 80, host: 8080
end
`;

describe("reach import vagrant: the forward without host_ip", () => {
  const vf = join(dir, "Vagrantfile");
  writeFileSync(vf, VAGRANTFILE);
  const out = join(dir, "lab.yaml");

  it("imports, and `reach exposure --from lan` shows the guest's port 80 exposed to the LAN and ssh not", () => {
    const r = reach("import", "vagrant", vf, "-o", out);
    expect(r.err).toContain(`wrote ${out}`);
    expect(r.code).toBe(0);
    const e = reach("exposure", out, "--from", "lan", "--format", "json");
    expect(e.code, e.err).toBe(0);
    const services = JSON.parse(e.out).services as { machine: string; port: number; proto: string; verdict: string; dial: string }[];
    const web = services.find((s) => s.machine === "default" && s.port === 80);
    expect(web).toMatchObject({ verdict: "reachable", proto: "tcp" });
    expect(web!.dial).toContain(":8080");
    // exposure lists what is reachable: the ssh forward is on the host's 127.0.0.1 only
    expect(services.find((s) => s.machine === "default" && s.port === 22)).toBeUndefined();
    expect(readFileSync(out, "utf8")).toMatch(/- \{ name: ssh \(assumed\), proto: tcp, port: 22 \}/);
  });

  it("never overwrites an existing file without --force (RCH054, exit 2, file unchanged)", () => {
    writeFileSync(out, "# mine\n");
    const r = reach("import", "vagrant", vf, "-o", out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error RCH054: .*already exists/);
    expect(readFileSync(out, "utf8")).toBe("# mine\n");
  });

  it("--force keeps a backup of the old file first", () => {
    writeFileSync(out, "# mine\n");
    rmSync(`${out}.bak`, { force: true });
    const r = reach("import", "vagrant", vf, "-o", out, "--force");
    expect(r.code).toBe(0);
    expect(readFileSync(`${out}.bak`, "utf8")).toBe("# mine\n");
    expect(readFileSync(out, "utf8")).toContain("hostPort: 8080, guestPort: 80");
  });

  it("prints to stdout without -o, with the assumptions as comments", () => {
    const r = reach("import", "vagrant", vf);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# Imported by `reach import vagrant Vagrantfile`/);
    expect(r.out).toContain("Assumed");
    expect(r.out).toContain("machines:");
  });
});

describe("reach import: bad input", () => {
  it("an unreadable file: RCH001, exit 2, nothing written", () => {
    const out = join(dir, "none.yaml");
    const r = reach("import", "qemu", join(dir, "missing.sh"), "-o", out);
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH001");
    expect(r.err).toContain("nothing written");
    expect(existsSync(out)).toBe(false);
  });

  it("an unknown kind is a usage error", () => {
    const r = reach("import", "hyperv", "x");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Invalid values|choices/i);
  });

  it("a Ruby syntax error: RCH055 with the file's line and column", () => {
    const vf = join(dir, "Broken");
    writeFileSync(vf, 'Vagrant.configure("2") do |config|\n  config.vm.network "forwarded_port", guest: 80, host:\n');
    const r = reach("import", "vagrant", vf);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`${vf.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: error RCH055`));
  });

  it("something not understood: written without it, RCH051 listed at the top, exit 1", () => {
    const vf = join(dir, "Loop");
    writeFileSync(
      vf,
      'Vagrant.configure("2") do |config|\n  (1..File.size(\"n\")).each do |i|\n    config.vm.network "forwarded_port", guest: 80 + i, host: 8080 + i\n  end\nend\n',
    );
    const r = reach("import", "vagrant", vf);
    expect(r.code).toBe(1);
    expect(r.err).toContain("warning RCH051");
    expect(r.out).toContain("NOT imported");
  });

  it("--lan must be an IPv4 subnet", () => {
    const r = reach("import", "vagrant", join(dir, "Vagrantfile"), "--lan", "fe80::/64");
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH042");
  });
});

describe("reach import --into", () => {
  it("merges the imports into the user's topology and keeps its expectations", () => {
    const base = join(dir, "base.yaml");
    writeFileSync(
      base,
      `segments: { home: 192.168.0.0/24 }
machines:
  host: { interfaces: { wlan0: { segment: home, addresses: [192.168.0.5/24] } } }
  phone: { interfaces: { wlan0: { segment: home, addresses: [192.168.0.30/24] } } }
expect:
  - { query: "phone -> host:22/tcp", verdict: unreachable, because: "nothing listens on the host" }
`,
    );
    const out = join(dir, "merged.yaml");
    const r = reach("import", "vagrant", join(dir, "Vagrantfile"), "--into", base, "-o", out);
    expect(r.code, r.err).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).toContain("phone");
    expect(text).not.toMatch(/^ {2}lan:/m); // the host's interfaces are known: no scaffold
    expect(text).toContain("phone -> host:22/tcp");
    const v = reach("verify", out);
    expect(v.code, v.out + v.err).toBe(0);
    const a = reach("ask", out, "phone -> default:80/tcp", "--json");
    expect(JSON.parse(a.out)).toMatchObject({ verdict: "reachable", dial: { address: "192.168.0.5", port: 8080 } });
  });
});

describe("an import with omissions stays incomplete in every answer over it (issue 17)", () => {
  const vf = join(dir, "partial", "Vagrantfile");
  const out = join(dir, "partial", "lab.yaml");
  it("the topology records what was not read (incomplete:), and exposure, ask and verify say so", () => {
    spawnSync("mkdir", ["-p", join(dir, "partial")]);
    // a forward whose host port comes from a method call reach does not run
    writeFileSync(
      vf,
      `Vagrant.configure("2") do |config|\n  config.vm.box = "debian/bookworm64"\n  config.vm.network "forwarded_port", guest: 80, host: 8080\n  config.vm.network "forwarded_port", guest: 22, host: pick_port()\nend\n`,
    );
    const r = reach("import", "vagrant", vf, "-o", out);
    expect(r.code).toBe(1);
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(/^incomplete:\n {2}- at: .*Vagrantfile:4:\d+\n {4}what: /m);

    const e = reach("exposure", out, "--from", "lan");
    expect(e.out).toMatch(/incomplete: 1 part of the inputs was not read \(.*Vagrantfile:4:\d+\); the answer covers only what was read/);
    const j = JSON.parse(reach("exposure", out, "--from", "lan", "--format", "json").out) as { incomplete: { at: string }[] };
    expect(j.incomplete).toHaveLength(1);

    expect(reach("ask", out, "lan -> default:80/tcp", "--no-fix").out).toContain("incomplete: 1 part of the inputs was not read");

    // an "exactly" claim that holds on what was read is unknown (exit 3), never holds
    const spec = join(dir, "partial", "lab.spec.yaml");
    writeFileSync(spec, `include: lab.yaml\nexpect:\n  - exposes: { machine: default, from: lan, exactly: ["80/tcp"] }\n`);
    const v = reach("verify", spec);
    expect(v.code).toBe(3);
    expect(v.out).toMatch(/^NOTE .*lab\.spec\.yaml: incomplete: 1 part/m);
    expect(v.out).toMatch(/\? .*lab\.spec\.yaml:3 .*unknown: it holds on what was read, but 1 part of the inputs was not read/);
  }, 60_000);
});

describe("an import's assumptions reach every verify report (issue 17)", () => {
  const vf = join(dir, "assumed", "Vagrantfile");
  const out = join(dir, "assumed", "lab.yaml");
  it("text, JSON, JUnit and SARIF carry the topology's assumed:", () => {
    spawnSync("mkdir", ["-p", join(dir, "assumed")]);
    // a static LAN address outside the default --lan: the LAN is widened to hold it, an assumption
    writeFileSync(
      vf,
      `Vagrant.configure("2") do |config|\n  config.vm.network "public_network", bridge: "eth0", ip: "10.20.0.50"\n  config.vm.network "forwarded_port", guest: 80, host: 8080\nend\n`,
    );
    expect(reach("import", "vagrant", vf, "-o", out).code).toBe(0);
    expect(readFileSync(out, "utf8")).toMatch(
      /^assumed:\n {2}- at: .*Vagrantfile:2:\d+\n {4}what: the LAN is assumed to be 10\.20\.0\.0\/24/m,
    );
    const spec = join(dir, "assumed", "lab.spec.yaml");
    // an expectation that fails, so that SARIF has a result to carry the properties on
    writeFileSync(spec, `include: lab.yaml\nexpect:\n  - { query: "lan -> default:80/tcp", verdict: unreachable }\n`);
    const text = reach("verify", spec);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/^NOTE .*lab\.spec\.yaml: assumes \(.*Vagrantfile:2:\d+\): the LAN is assumed to be 10\.20\.0\.0\/24/m);
    const json = JSON.parse(reach("verify", spec, "--format", "json").out) as { files: { assumed?: { at: string; what: string }[] }[] };
    expect(json.files[0]!.assumed).toEqual([expect.objectContaining({ what: expect.stringContaining("10.20.0.0/24") })]);
    const junit = reach("verify", spec, "--format", "junit").out;
    expect(junit).toMatch(/<property name="assumed\.1" value=".*Vagrantfile:2:\d+: the LAN is assumed to be 10\.20\.0\.0\/24/);
    const sarif = JSON.parse(reach("verify", spec, "--format", "sarif").out) as {
      runs: { results: { properties?: { assumed?: { what: string }[] } }[] }[];
    };
    expect(sarif.runs[0]!.results[0]!.properties?.assumed?.[0]!.what).toContain("10.20.0.0/24");
  }, 60_000);
});
