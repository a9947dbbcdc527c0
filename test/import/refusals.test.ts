/**
 * Actionable refusals (issue 17): a static LAN address outside --lan widens the LAN (an
 * assumption every answer states) instead of failing, and an error of the generated topology
 * points at the input line its value came from and names the flags that change it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runImport } from "../../src/import/run.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { assumptionLines } from "../../src/query/render.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "vagrant-public-static", "Vagrantfile");
const tmp = mkdtempSync(join(tmpdir(), "reach-refusals-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const vagrant = (file: string, lan = "192.168.1.0/24") => runImport({ kind: "vagrant", files: [file], options: { host: "host", lan } });

describe("a public_network's static address outside --lan", () => {
  it("makes the LAN the address's subnet, stated under Assumed, in assumed: and in the answers", async () => {
    const out = await vagrant(FIXTURE);
    expect(out.diagnostics).toEqual([]);
    expect(out.doc?.segments).toEqual({ lan: "10.20.0.0/24" });
    expect(out.doc?.machines["host"]?.interfaces).toEqual({ eth0: { segment: "lan", addresses: ["10.20.0.10/24"] } });
    expect(out.doc?.machines["lan"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.20.0.20/24"]);
    const at = `${FIXTURE}:5:42`;
    expect(out.doc?.assumed).toEqual([
      {
        at,
        what: "the LAN is assumed to be 10.20.0.0/24, which holds the static address 10.20.0.50/24 (outside --lan 192.168.1.0/24); name the LAN with --lan if it is wider",
      },
    ]);
    expect(out.notes.join("\n")).toContain(`${at}: the LAN is assumed to be 10.20.0.0/24`);
    const net = lower(loadTopologyText("lab.yaml", out.text!).topology);
    expect(assumptionLines(net)).toEqual([`assumes (${at}): ${out.doc!.assumed![0]!.what}`]);
  });

  it("inside --lan nothing is assumed; two addresses far apart widen to the prefix holding both", async () => {
    expect((await vagrant(FIXTURE, "10.20.0.0/16")).doc?.assumed).toBeUndefined();
    const file = join(tmp, "Vagrantfile");
    writeFileSync(
      file,
      'Vagrant.configure("2") do |config|\n  config.vm.define "a" do |a|\n    a.vm.network "public_network", ip: "10.0.0.5", bridge: "eth0"\n  end\n  config.vm.define "b" do |b|\n    b.vm.network "public_network", ip: "10.0.3.5", bridge: "eth0"\n  end\nend\n',
    );
    const out = await vagrant(file);
    expect(out.diagnostics).toEqual([]);
    expect(out.doc?.segments).toEqual({ lan: "10.0.0.0/22" });
  });
});

describe("an error of the generated topology", () => {
  it("points at the input line of its value, never at '(imported topology)', and names --lan, --host and --into", async () => {
    const file = join(tmp, "Vagrantfile.far");
    writeFileSync(
      file,
      'Vagrant.configure("2") do |config|\n  config.vm.define "a" do |a|\n    a.vm.network "public_network", ip: "10.0.0.50", bridge: "eth0"\n  end\n  config.vm.define "b" do |b|\n    b.vm.network "public_network", ip: "172.16.0.5", bridge: "eth0"\n  end\nend\n',
    );
    const out = await runImport({ kind: "vagrant", files: [file], options: { host: "host", lan: "192.168.1.0/24" } });
    expect(out.text).toBeUndefined();
    expect(
      out.diagnostics.map((d) => `${d.span.file === file ? "Vagrantfile.far" : d.span.file}:${d.span.line}:${d.span.col} ${d.code}`),
    ).toEqual(["Vagrantfile.far:3:41 RCH031", "Vagrantfile.far:6:41 RCH031"]);
    expect(out.diagnostics[0]!.message).toBe(
      "the imported topology would not load: 10.0.0.50/24 is outside segment 'lan' (192.168.1.0/24)",
    );
    for (const flag of ["--lan", "--host", "--into"]) expect(out.diagnostics[0]!.expected).toContain(flag);
  });
});
