/**
 * Vagrantfile idioms met in the corpus of real files (issue 17), each on a fixture of our own in
 * test/import/fixtures/vagrant-idioms: version 1 files, methods the file defines, format and
 * String#%, data files (YAML.load_file, JSON.parse(File.read)) under the include rules, Ruby that
 * configures no network, a version guard, and options the VirtualBox provider reads its own way.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importVagrant } from "../../src/import/vagrant.js";

const FIX = join(import.meta.dirname, "fixtures", "vagrant-idioms");
const load = (dir: string) => {
  const file = join(dir, "Vagrantfile");
  return importVagrant([{ file, text: readFileSync(file, "utf8") }], { host: "host" });
};
const fixture = (name: string) => load(join(FIX, name));
const json = (x: unknown) => JSON.stringify(x);
const names = (r: Awaited<ReturnType<typeof fixture>>) => Object.keys(r.fragment.machines).filter((m) => m !== "host");
const warnings = (r: Awaited<ReturnType<typeof fixture>>) => r.diagnostics.map((d) => `${d.span.line} ${d.code} ${d.message}`);

describe("Vagrantfile idioms of real files", () => {
  it("version 1 (Vagrant::Config.run) is read as Vagrant upgrades it: forward_port, :hostonly, :bridged, host_name", async () => {
    const r = await fixture("v1");
    expect(warnings(r)).toEqual([]);
    const m = r.fragment.machines;
    expect(names(r)).toEqual(["worker"]);
    const nat = json(m.worker!.vm!.adapters![0]);
    expect(nat).toContain('"hostPort":8080,"guestPort":80');
    // :protocol is kept, :auto dropped by the upgrade (no auto_correct)
    expect(nat).toContain('"proto":"udp","hostPort":5353,"guestPort":53');
    expect(json(m.worker!.vm!.adapters)).toContain('"mode":"hostonly","network":"vboxnet0","addresses":["192.168.56.40/24"]');
    expect(json(m.worker!.vm!.adapters)).toContain('"addresses":["192.168.56.41/24"]');
    expect(json(m.worker!.vm!.adapters)).toContain('"mode":"bridged","bridge":"eth1"');
    expect(m.worker!.description).toContain("legacy");
  });

  it("a method the file defines runs where a machine calls it, on that machine's config, with its arguments and defaults", async () => {
    const r = await fixture("methods");
    expect(warnings(r)).toEqual([]);
    const front = json(r.fragment.machines.front);
    expect(front).toContain('"hostPort":8080,"guestPort":80');
    expect(front).toContain('"hostPort":8443,"guestPort":443');
    expect(front).toContain('"network":"lab","addresses":["10.9.0.10/24"]');
    expect(json(r.fragment.machines.back)).toContain('"addresses":["10.9.0.11/24"]');
    expect(json(r.fragment.machines.back)).not.toContain("8080");
  });

  it("a method sees constants but not the caller's locals (Ruby's def), and one that calls itself is not followed", async () => {
    const text = [
      "def net(m)",
      '  m.vm.network "private_network", ip: local_ip',
      "end",
      "def loop_forever(m)",
      "  loop_forever m",
      "end",
      'Vagrant.configure("2") do |config|',
      '  local_ip = "192.168.56.9"',
      '  config.vm.define "a" do |a|',
      "    net a",
      "    loop_forever a",
      "  end",
      "end",
      "",
    ].join("\n");
    const r = await importVagrant([{ file: "Vagrantfile", text }], { host: "host" });
    expect(warnings(r)).toEqual([
      "2 RCH051 the value of ip is not a literal (local_ip): this network is not imported",
      "5 RCH051 a method call (loop_forever) is not run (reach reads the Vagrantfile without running Ruby): the networks it may configure are not imported",
    ]);
  });

  it("format and String#% build names and addresses", async () => {
    const r = await fixture("format");
    expect(warnings(r)).toEqual([]);
    expect(names(r)).toEqual(["edge-01", "edge-02"]);
    expect(json(r.fragment.machines["edge-02"])).toContain("192.168.56.22/24");
  });

  it("a YAML or JSON file beside the Vagrantfile is read; the machines it lists are imported", async () => {
    const r = await fixture("data");
    expect(warnings(r)).toEqual([]);
    expect(names(r)).toEqual(["db", "app"]);
    expect(json(r.fragment.machines.app)).toContain('"hostPort":3000,"guestPort":3000');
    expect(json(r.fragment.machines.db)).toContain("192.168.56.30/24");
    // a bare relative path is read from the Vagrantfile's folder, and the import says so
    expect(r.fragment.notes.join("\n")).toContain("reads ports.json relative to the Vagrantfile's folder");
  });

  describe("a data file outside the include rules is not read: a warning, and nothing of it is invented", () => {
    const dir = mkdtempSync(join(tmpdir(), "reach-vagrant-data-"));
    const outside = mkdtempSync(join(tmpdir(), "reach-vagrant-outside-"));
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    });
    const vf = (path: string) =>
      `nodes = YAML.load_file("${path}")\nVagrant.configure("2") do |config|\n  nodes.each do |n|\n    config.vm.define n["name"] do |m| end\n  end\nend\n`;
    it.each([
      ["a symbolic link leading out of the folder", "link.yaml", "RCH058", "it leads outside the include root"],
      ["an absolute path", "/etc/hostname", "RCH058", "an absolute path"],
      ["a path up and out", "UP", "RCH058", "it lies outside the include root"],
      ["a missing file", "missing.yaml", "RCH001", "cannot be read"],
      ["a special file", "fifo", "RCH058", "not a regular file"],
    ])("%s", async (_what, path, code, why) => {
      writeFileSync(join(outside, "secret.yaml"), "- name: stolen\n");
      try {
        symlinkSync(join(outside, "secret.yaml"), join(dir, "link.yaml"));
      } catch {
        // made by an earlier case
      }
      if (path === "fifo") {
        const { spawnSync } = await import("node:child_process");
        spawnSync("mkfifo", [join(dir, "fifo")]);
      }
      writeFileSync(join(dir, "Vagrantfile"), vf(path === "UP" ? `../${basename(outside)}/secret.yaml` : path));
      const r = await load(dir);
      const w = r.diagnostics.find((d) => d.code === code);
      expect(w?.severity).toBe("warning");
      expect(w?.message).toContain(why);
      expect(w?.message).not.toContain("stolen");
      expect(w?.span.line).toBe(1);
      expect(Object.keys(r.fragment.machines)).not.toContain("stolen");
      expect(Object.keys(r.fragment.machines)).not.toContain("default");
      // the loop over the unread data stays an omission too
      expect(r.diagnostics.some((d) => d.code === "RCH051" && d.span.line === 3)).toBe(true);
    });
  });

  it("Ruby whose outcome is unknown but which configures no network is no omission; a version guard takes Vagrant 2", async () => {
    const r = await fixture("guards");
    expect(warnings(r)).toEqual([]);
    expect(json(r.fragment.machines.store)).toContain("192.168.56.50/24");
    expect(r.fragment.notes.join("\n")).toContain("Vagrant::VERSION (Vagrantfile:2:1) is taken as 2.4.1");
  });

  it("the same unknown Ruby around a networking customize or a network call stays an omission", async () => {
    const text = [
      'Vagrant.configure("2") do |config|',
      '  config.vm.provider "virtualbox" do |vb|',
      '    if ENV["NAT"]',
      '      vb.customize ["modifyvm", :id, "--natpf1", "web,tcp,,8080,,80"]',
      "    end",
      "  end",
      '  if ENV["WEB"] then config.vm.network "forwarded_port", guest: 80, host: 8081 end',
      "end",
      "",
    ].join("\n");
    const r = await importVagrant([{ file: "Vagrantfile", text }], { host: "host" });
    expect(r.diagnostics.map((d) => `${d.span.line} ${d.code}`)).toEqual(["3 RCH051", "7 RCH051"]);
  });

  it("type \"\" is static, a private_network's bridge and a libvirt dev are not VirtualBox's, a computed bridge is the LAN's", async () => {
    const r = await fixture("options");
    expect(warnings(r)).toEqual([]);
    const edge = json(r.fragment.machines.edge);
    expect(edge).toContain('"mode":"hostonly","network":"vboxnet0","addresses":["192.168.56.60/24"]');
    expect(edge).toContain('"mode":"bridged","bridge":"eth0","addresses":["192.168.1.61/24"]');
    const notes = r.fragment.notes.join("\n");
    expect(notes).toContain('private_network type "" is static to Vagrant');
    expect(notes).toContain("its public_network's bridge is computed by Ruby reach does not run (bridge_nic, Vagrantfile:9:");
  });
});

describe("the evaluator stays bounded", () => {
  it("nested loops that would run billions of statements stop at MAX_STEPS, with a warning", async () => {
    const loop = (body: string, depth: number): string => (depth ? `(1..60).each do |i${depth}|\n${loop(body, depth - 1)}\nend` : body);
    const text = `Vagrant.configure("2") do |config|\n${loop('config.vm.network "forwarded_port", guest: 80, host: 8080', 6)}\nend\n`;
    const r = await importVagrant([{ file: "Vagrantfile", text }], { host: "host" });
    expect(r.diagnostics.map((d) => d.message)).toContain(
      "the Vagrantfile's loops and methods run more than 20000 statements: from here on nothing is imported",
    );
  });
});
