/** The Vagrantfile partial evaluator: what it computes, what it leaves unknown, and its bounds. */
import { describe, expect, it } from "vitest";
import { importVagrant } from "../../src/import/vagrant.js";

const vagrant = (text: string) => importVagrant([{ file: "Vagrantfile", text }], { host: "host" });
const machines = async (text: string) => Object.keys((await vagrant(text)).fragment.machines).filter((m) => m !== "host");
const codes = async (text: string) => (await vagrant(text)).diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code}`);
const wrap = (...lines: string[]) => ['Vagrant.configure("2") do |config|', ...lines.map((l) => `  ${l}`), "end", ""].join("\n");

describe("the Vagrantfile evaluator", () => {
  it("expands .each over a range bounded by a constant, with interpolated names and addresses", async () => {
    const text = [
      "N = 3",
      wrap(
        "(1..N).each do |i|",
        '  config.vm.define "node-#{i}" do |n|',
        '    n.vm.network "private_network", ip: "192.168.56.#{10 + i}"',
        "  end",
        "end",
      ),
    ].join("\n");
    expect(await machines(text)).toEqual(["node-1", "node-2", "node-3"]);
    expect(await codes(text)).toEqual([]);
    const r = await vagrant(text);
    expect(JSON.stringify(r.fragment.machines["node-3"])).toContain("192.168.56.13/24");
  });

  it("arrays of hashes, hashes with |key, value|, each_with_index, times, upto and map", async () => {
    const text = [
      'BOXES = [{ name: "a", ip: "10.0.0.2" }, { :name => "b", :ip => "10.0.0.3" }]',
      'HOSTS = { "c" => "10.0.0.4" }',
      'NAMES = (1..2).map { |i| "m#{i}" }',
      wrap(
        "BOXES.each do |b|",
        "  config.vm.define b[:name] do |m|",
        '    m.vm.network "private_network", ip: b[:ip], virtualbox__intnet: "lab"',
        "  end",
        "end",
        "HOSTS.each do |name, ip|",
        "  config.vm.define name do |m|",
        '    m.vm.network "private_network", ip: ip, virtualbox__intnet: "lab"',
        "  end",
        "end",
        "NAMES.each_with_index do |n, i|",
        '  config.vm.define "#{n}-#{i}" do |m| end',
        "end",
        '2.times { |i| config.vm.define "t#{i}" do |m| end }',
        '1.upto(2) { |i| config.vm.define "u#{i}" do |m| end }',
      ),
    ].join("\n");
    expect(await machines(text)).toEqual(["a", "b", "c", "m1-0", "m2-1", "t0", "t1", "u1", "u2"]);
    expect(await codes(text)).toEqual([]);
  });

  it("if, unless, elsif and modifiers on known values take their branch; on unknown ones they stay warnings", async () => {
    const text = [
      'MODE = "nat"',
      wrap(
        'if MODE == "bridge"',
        '  config.vm.define "bridged" do |m| end',
        'elsif MODE == "nat"',
        '  config.vm.define "natted" do |m| end',
        "else",
        '  config.vm.define "other" do |m| end',
        "end",
        'config.vm.define "skipped" do |m| end unless MODE == "nat"',
        'config.vm.define "maybe" do |m| end if ENV["MAYBE"]',
      ),
    ].join("\n");
    expect(await machines(text)).toEqual(["natted"]);
    expect(await codes(text)).toEqual(["11:3 RCH051"]);
  });

  it("ENV with a default is taken at its default, said in the notes; ENV without one stays unknown", async () => {
    const text = [
      'COUNT = ENV.fetch("COUNT", 2).to_i',
      'BASE = ENV["BASE"] || "10.1.0"',
      wrap(
        "COUNT.times do |i|",
        '  config.vm.define "n#{i}" do |m|',
        '    m.vm.network "private_network", ip: "#{BASE}.#{i + 5}"',
        "  end",
        "end",
        'config.vm.define ENV["NAME"] do |m| end',
      ),
    ].join("\n");
    const r = await vagrant(text);
    expect(Object.keys(r.fragment.machines)).toEqual(["n0", "n1", "host"]);
    expect(r.fragment.notes.filter((n) => n.startsWith("ENV["))).toEqual([
      'ENV["COUNT"] is taken as unset, so its default 2 is used (Vagrantfile:1:9); if you set COUNT when you run vagrant, edit the topology to match.',
      'ENV["BASE"] is taken as unset, so its default "10.1.0" is used (Vagrantfile:2:8); if you set BASE when you run vagrant, edit the topology to match.',
    ]);
    expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col}`)).toEqual(["9:20"]);
  });

  it("never invents a machine: a file whose defines are all in Ruby it cannot run has none, and a warning", async () => {
    const text = [
      'require "yaml"',
      'servers = YAML.load_file("servers.yml")',
      wrap("servers.each do |s|", '  config.vm.define s["name"] do |m| end', "end"),
    ].join("\n");
    const r = await vagrant(text);
    expect(Object.keys(r.fragment.machines)).toEqual([]);
    expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.message.split(" (reach")[0]}`)).toEqual([
      "2:11 the data file 'servers.yml' is not read: cannot be read (ENOENT); what the Vagrantfile takes from it is not known",
      "4:3 a loop (.each) is not run",
    ]);
    expect(r.fragment.notes.join("\n")).toContain("No machine is imported from this Vagrantfile");
  });

  it("is bounded: a loop over more items than a lab has is not expanded, and says so", async () => {
    const text = wrap("(1..100000).each do |i|", '  config.vm.define "n#{i}" do |m| end', "end");
    expect(await machines(text)).toEqual([]);
    expect(await codes(text)).toEqual(["2:3 RCH051"]);
    const deep = wrap(`x = ${"[".repeat(200)}1${"]".repeat(200)}`, 'config.vm.define "a" do |m| end');
    expect(await machines(deep)).toEqual(["a"]);
  });
});
