/**
 * The Vagrantfile importer: every construct it understands, every RCH051 it
 * reports (at the node, with what was expected), malformed Ruby, and that each
 * fragment loads as a topology once a host is added.
 */
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";
import type { ImportResult } from "../../src/import/types.js";
import { importVagrant } from "../../src/import/vagrant.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { parseQuery } from "../../src/ir/query.js";
import type { TopologyDoc } from "../../src/topology/schema.js";
import { loadTopologyText } from "../../src/topology/load.js";

const vagrant = (text: string): Promise<ImportResult> => Promise.resolve(importVagrant([{ file: "Vagrantfile", text }], { host: "host" }));

/** `Vagrant.configure("2") do |config| BODY end` */
const configure = (...body: string[]): string => ['Vagrant.configure("2") do |config|', ...body.map((l) => `  ${l}`), "end", ""].join("\n");

const at = (d: Diagnostic) => `${d.span.line}:${d.span.col} ${d.code}`;
const codes = (r: ImportResult) => r.diagnostics.map(at);

/** The fragment with a host on a LAN and another LAN machine, as the merger's scaffold would add them. */
function withHost(r: ImportResult): TopologyDoc {
  const f = r.fragment;
  const bridges = new Set(
    Object.values(f.machines).flatMap((m) => (m.vm?.adapters ?? []).flatMap((a) => (a.mode === "bridged" ? [a.bridge] : []))),
  );
  const host = f.machines["host"] ?? {};
  const interfaces = Object.fromEntries(
    [...(bridges.size ? bridges : ["eth0"])].map((b, i) => [b, { segment: "lan", addresses: [`192.168.1.${10 + i}/24`] }]),
  );
  return {
    segments: { lan: "192.168.1.0/24" },
    machines: {
      ...f.machines,
      host: { ...host, interfaces },
      lan: { interfaces: { eth0: { segment: "lan", addresses: ["192.168.1.20/24"] } } },
    },
  };
}

/** Fills `addresses: []` of bridged adapters as the merger would. */
function fillBridged(doc: TopologyDoc): TopologyDoc {
  let n = 100;
  for (const m of Object.values(doc.machines))
    for (const a of m.vm?.adapters ?? []) if (a.mode === "bridged" && !a.addresses.length) a.addresses = [`192.168.1.${n++}/24`];
  return doc;
}

function loads(r: ImportResult) {
  return loadTopologyText("imported.yaml", YAML.stringify(fillBridged(withHost(r))));
}

async function verdict(r: ImportResult, query: string): Promise<string> {
  const net = lower(loads(r).topology);
  const q = parseQuery(query);
  if (!q.ok) throw new Error(q.message);
  return (await answerQuery(net, q.query, { engine: "sim", timeoutMs: 30_000 })).answer.verdict;
}

describe("forwarded ports", () => {
  it("a Vagrantfile without define blocks is the machine 'default', with Vagrant's ssh forward on 127.0.0.1", async () => {
    const r = await vagrant(configure('config.vm.box = "ubuntu/jammy64"', 'config.vm.network "forwarded_port", guest: 80, host: 8080'));
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines).toEqual({
      default: {
        vm: {
          on: "host",
          adapters: [
            {
              mode: "nat",
              forwards: [
                { name: "tcp8080", proto: "tcp", hostPort: 8080, guestPort: 80 },
                { name: "ssh", proto: "tcp", hostIp: "127.0.0.1", hostPort: 2222, guestPort: 22 },
              ],
            },
          ],
        },
        services: [
          { name: "tcp8080 (assumed)", proto: "tcp", port: 80 },
          { name: "ssh (assumed)", proto: "tcp", port: 22 },
        ],
      },
    });
    expect(r.fragment.notes.join("\n")).toContain("has no host_ip, so it listens on every host address");
    expect(r.fragment.notes.join("\n")).toContain("127.0.0.1:2222 -> 22");
  });

  it("the forward without host_ip is exposed to the LAN; Vagrant's ssh forward is not", async () => {
    const r = await vagrant(configure('config.vm.network "forwarded_port", guest: 80, host: 8080'));
    expect(await verdict(r, "lan -> default:80/tcp")).toBe("reachable");
    expect(await verdict(r, "lan -> default:22/tcp")).toBe("unreachable");
    expect(await verdict(r, "host -> default:22/tcp")).toBe("reachable");
  });

  it("reads symbols, hash rockets, a hash argument, parentheses, and every option", async () => {
    const r = await vagrant(
      configure(
        'config.vm.network :forwarded_port, :guest => 53, :host => 5353, :protocol => "udp", :host_ip => "127.0.0.1", :guest_ip => "10.0.2.15", :id => "dns"',
        'config.vm.network("forwarded_port", { guest: "443", host: 8_443, id: :https, auto_correct: true })',
        'config.vm.network "forwarded_port", "guest": 9000, host: 0x2329',
        "config.vm.network 'forwarded_port', guest: 3000, host: 3000, disabled: true",
        // Ruby's truthiness: a string disables too (found in the corpus, issue 17)
        'config.vm.network "forwarded_port", guest: 3001, host: 3001, disabled: "true"',
      ),
    );
    expect(r.diagnostics).toEqual([]);
    const nat = r.fragment.machines["default"]!.vm!.adapters[0];
    expect(nat).toEqual({
      mode: "nat",
      forwards: [
        { name: "dns", proto: "udp", hostIp: "127.0.0.1", hostPort: 5353, guestIp: "10.0.2.15", guestPort: 53 },
        { name: "https", proto: "tcp", hostPort: 8443, guestPort: 443 },
        { name: "tcp9001", proto: "tcp", hostPort: 9001, guestPort: 9000 },
        { name: "ssh", proto: "tcp", hostIp: "127.0.0.1", hostPort: 2222, guestPort: 22 },
      ],
    });
    expect(r.fragment.machines["default"]!.services?.map((s) => `${s.port}/${s.proto}`)).toEqual([
      "53/udp",
      "443/tcp",
      "9000/tcp",
      "22/tcp",
    ]);
  });

  it("a forward with id 'ssh' replaces Vagrant's own; the same host port written twice is one forward (Vagrant's default id)", async () => {
    const r = await vagrant(
      configure(
        'config.vm.network "forwarded_port", guest: 22, host: 2200, id: "ssh"',
        'config.vm.network "forwarded_port", guest: 80, host: 8080',
        'config.vm.network "forwarded_port", guest: 81, host: 8080',
      ),
    );
    expect(r.fragment.machines["default"]!.vm!.adapters[0]).toEqual({
      mode: "nat",
      forwards: [
        { name: "ssh", proto: "tcp", hostPort: 2200, guestPort: 22 },
        { name: "tcp8080", proto: "tcp", hostPort: 8080, guestPort: 81 },
      ],
    });
  });

  it("communicator winrm: Vagrant's own forward is winrm 127.0.0.1:55985 -> 5985", async () => {
    const r = await vagrant(configure('config.vm.communicator = "winrm"'));
    expect(r.fragment.machines["default"]!.vm!.adapters[0]).toEqual({
      mode: "nat",
      forwards: [{ name: "winrm", proto: "tcp", hostIp: "127.0.0.1", hostPort: 55985, guestPort: 5985 }],
    });
  });

  it("bad ports and addresses are errors at the value", async () => {
    const r = await vagrant(
      configure(
        'config.vm.network "forwarded_port", guest: 80, host: 70000',
        'config.vm.network "forwarded_port", guest: 81, host: 8081, host_ip: "localhost"',
        'config.vm.network "forwarded_port", guest: 82, host: 8082, host_ip: "::1"',
        'config.vm.network "private_network", ip: "192.168.56.300"',
        'config.vm.network "private_network", ip: "192.168.56.3", netmask: "255.0.255.0"',
      ),
    );
    expect(codes(r)).toEqual(["2:56 RCH012", "3:71 RCH010", "4:71 RCH010", "5:44 RCH010", "6:69 RCH011"]);
    expect(r.diagnostics[2]!.message).toContain("IPv4 only");
  });
});

describe("vb.customize (issue 17, corpus)", () => {
  it("a new random MAC (--macaddress1 auto) is no networking change; a fixed one still is", async () => {
    const vb = (mac: string) =>
      vagrant(configure('config.vm.provider "virtualbox" do |vb|', `  vb.customize ["modifyvm", :id, "--macaddress1", "${mac}"]`, "end"));
    expect((await vb("auto")).diagnostics).toEqual([]);
    expect((await vb("080027AABBCC")).diagnostics.map((d) => d.code)).toEqual(["RCH051"]);
  });
});

describe("Ruby that cannot configure networks is not an omission (issue 17, corpus)", () => {
  it("a conditional of provisioning and memory only, and the outer config's provision inside a define, are silent", async () => {
    const r = await vagrant(
      configure(
        'config.vm.define "a" do |a|',
        '  config.vm.provision "shell", path: "common.sh"',
        '  a.vm.provider "virtualbox" do |vb, override|',
        '    if ENV["BIG"] then vb.memory = 4096 else override.vm.provision "shell", path: "small.sh" end',
        "  end",
        "end",
      ),
    );
    expect(r.diagnostics).toEqual([]);
  });

  it("one that names a network, or hands the config to a method of the file, is still RCH051", async () => {
    const net = await vagrant(
      configure('config.vm.define "a" do |a|', '  if ENV["X"] then a.vm.network "private_network", ip: "10.0.0.5" end', "end"),
    );
    expect(net.diagnostics.map((d) => d.code)).toEqual(["RCH051"]);
    const handed = await vagrant(configure('config.vm.define "a" do |a|', '  if ENV["X"] then setup(a) end', "end"));
    expect(handed.diagnostics.map((d) => d.code)).toEqual(["RCH051"]);
    const outer = await vagrant(
      configure('config.vm.define "a" do |a|', '  config.vm.network "forwarded_port", guest: 80, host: 8080', "end"),
    );
    expect(outer.diagnostics.map((d) => d.code)).toEqual(["RCH051"]);
  });
});

describe("a computed hostname (issue 17, corpus)", () => {
  it("only describes the machine: no warning, and no description", async () => {
    const r = await vagrant(configure("config.vm.hostname = `hostname`.strip"));
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["default"]?.description).toBeUndefined();
  });
});

describe("a version 1 Vagrantfile (issue 17, corpus)", () => {
  it("is read as Vagrant upgrades it, not refused as no Vagrantfile (more in vagrant-idioms.test.ts)", async () => {
    const r = await vagrant("Vagrant::Config.run do |config|\n  config.vm.forward_port 8160, 8160\nend\n");
    expect(r.diagnostics).toEqual([]);
    expect(JSON.stringify(r.fragment.machines["default"])).toContain('"hostPort":8160,"guestPort":8160');
  });
});

describe("the docker provider (issue 17, corpus)", () => {
  it("its ports are published on the host and not modelled: a warning at the line, never silently nothing", async () => {
    const r = await vagrant(configure('config.vm.provider "docker" do |d|', '  d.build_dir = "."', '  d.ports = ["8080:80"]', "end"));
    expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code}`)).toEqual(["4:5 RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("the docker provider's ports");
  });
});

describe("multi-machine", () => {
  const text = configure(
    'config.vm.network "forwarded_port", guest: 9100, host: 9100, host_ip: "127.0.0.1", auto_correct: true',
    'config.vm.define "web", primary: true do |web|',
    '  web.vm.hostname = "web.lab"',
    '  web.vm.network "private_network", ip: "192.168.56.10"',
    "end",
    "config.vm.define :db do |node|",
    '  node.vm.network :private_network, ip: "192.168.56.20"',
    '  node.vm.network "forwarded_port", guest: 5432, host: 9100, host_ip: "127.0.0.1"',
    "end",
    'config.vm.define "cache" do |c|',
    '  c.vm.network "forwarded_port", guest: 6379, host: 6379',
    "end",
  );

  it("each define block is a machine (any block variable, strings or symbols); top-level networks apply to all", async () => {
    const r = await vagrant(text);
    expect(Object.keys(r.fragment.machines)).toEqual(["web", "db", "cache"]);
    expect(r.fragment.machines["web"]!.description).toBe("Vagrant machine (hostname web.lab)");
    expect(r.fragment.machines["web"]!.vm!.adapters[1]).toEqual({ mode: "hostonly", network: "vboxnet0", addresses: ["192.168.56.10/24"] });
    expect(r.fragment.machines["db"]!.vm!.adapters[1]).toEqual({ mode: "hostonly", network: "vboxnet0", addresses: ["192.168.56.20/24"] });
  });

  it("Vagrant's ssh forwards (always the last forward) collide and auto_correct moves them to free ports in machine order", async () => {
    const r = await vagrant(text);
    const ssh = (m: string) =>
      r.fragment.machines[m]!.vm!.adapters[0]!.mode === "nat" &&
      (r.fragment.machines[m]!.vm!.adapters[0] as { forwards?: { name?: string; hostPort: number | string }[] }).forwards?.find(
        (f) => f.name === "ssh",
      )?.hostPort;
    // cache's inherited 9100 forward comes first and takes 2201
    expect([ssh("web"), ssh("db"), ssh("cache")]).toEqual([2222, 2200, 2202]);
    expect(r.fragment.notes.join("\n")).toContain(
      "db: host port 2222 of the ssh forward is already taken by web, so Vagrant's auto_correct moves it to 2200",
    );
  });

  it("a colliding forward without auto_correct is left out with RCH051 (vagrant up stops); with auto_correct it moves", async () => {
    const r = await vagrant(text);
    // db redefines host 9100 on 127.0.0.1 without auto_correct: web holds it
    expect(codes(r)).toEqual(["9:5 RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("already forwarded by web (2:3)");
    const forwards = (m: string) =>
      (r.fragment.machines[m]!.vm!.adapters[0] as { forwards: { name?: string; hostPort: number | string }[] }).forwards;
    expect(forwards("db").map((f) => f.name)).not.toContain("tcp9100");
    // cache inherits the top-level 9100 forward with auto_correct: moved to the first free port of 2200..2250
    expect(forwards("cache").find((f) => f.name === "tcp9100")?.hostPort).toBe(2201);
  });

  it("loads, and the private network joins web and db", async () => {
    const r = await vagrant(text);
    expect(await verdict(r, "web -> db:22/tcp")).toBe("reachable");
    expect(await verdict(r, "lan -> db:22/tcp")).toBe("unreachable");
    expect(await verdict(r, "lan -> cache:6379/tcp")).toBe("reachable");
  });

  it("a forward of the machine itself holding 127.0.0.1:2222 moves Vagrant's ssh forward (Vagrant leases each port it checks)", async () => {
    const r = await vagrant(configure('config.vm.network "forwarded_port", guest: 8080, host: 2222, host_ip: "127.0.0.1"'));
    expect(
      (r.fragment.machines["default"]!.vm!.adapters[0] as { forwards: { name?: string; hostPort: number | string }[] }).forwards,
    ).toMatchObject([
      { name: "tcp2222", hostPort: 2222 },
      { name: "ssh", hostPort: 2200 },
    ]);
  });

  it("brace blocks read like do blocks, and several Vagrant.configure blocks merge", async () => {
    const r = await vagrant(
      'Vagrant.configure("2") { |c| c.vm.define("x") { |m| m.vm.network "private_network", ip: "192.168.56.7" } }\nVagrant.configure("2") do |config|\n  config.vm.define "y"\nend\n',
    );
    expect(r.diagnostics).toEqual([]);
    expect(Object.keys(r.fragment.machines)).toEqual(["x", "y"]);
    expect(r.fragment.machines["x"]!.vm!.adapters[1]).toEqual({ mode: "hostonly", network: "vboxnet0", addresses: ["192.168.56.7/24"] });
  });

  it("usable_port_range is followed", async () => {
    const r = await vagrant(configure("config.vm.usable_port_range = (3000..3010)", 'config.vm.define "a"', 'config.vm.define "b"'));
    const port = (m: string) =>
      (r.fragment.machines[m]!.vm!.adapters[0] as { forwards: { hostPort: number | string }[] }).forwards[0]!.hostPort;
    expect([port("a"), port("b")]).toEqual([2222, 3000]);
  });
});

describe("private and public networks", () => {
  it("host-only networks by subnet: vboxnet0 for 192.168.56.0, new vboxnetN (declared on the host) for others", async () => {
    const r = await vagrant(
      configure(
        'config.vm.define "a" do |a|',
        '  a.vm.network "private_network", ip: "10.0.5.2"',
        '  a.vm.network "private_network", ip: "192.168.56.5"',
        "end",
        'config.vm.define "b" do |b|',
        '  b.vm.network "private_network", ip: "10.0.5.3", netmask: "255.255.255.0"',
        '  b.vm.network "private_network", ip: "172.20.0.9", netmask: 16',
        '  b.vm.network "private_network", ip: "fd00:1::10"',
        "end",
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["a"]!.vm!.adapters.slice(1)).toEqual([
      { mode: "hostonly", network: "vboxnet1", addresses: ["10.0.5.2/24"] },
      { mode: "hostonly", network: "vboxnet0", addresses: ["192.168.56.5/24"] },
    ]);
    expect(r.fragment.machines["b"]!.vm!.adapters.slice(1)).toEqual([
      { mode: "hostonly", network: "vboxnet1", addresses: ["10.0.5.3/24"] },
      { mode: "hostonly", network: "vboxnet2", addresses: ["172.20.0.9/16"] },
      { mode: "hostonly", network: "vboxnet3", addresses: ["fd00:1::10/64"] },
    ]);
    expect(r.fragment.machines["host"]).toEqual({
      hostonly: {
        vboxnet1: { addresses: ["10.0.5.1/24"] },
        vboxnet2: { addresses: ["172.20.0.1/16"] },
        vboxnet3: { addresses: ["fd00:1::1/64"] },
      },
    });
    expect(r.fragment.notes.join("\n")).toContain("10.0.5.0/24 is outside 192.168.56.0/21");
    loads(r);
  });

  it('type: "dhcp" uses Vagrant\'s 172.28.128.0/24 network and leases from .3 in machine order, skipping static addresses', async () => {
    const r = await vagrant(
      configure(
        'config.vm.define "a" do |a|',
        '  a.vm.network "private_network", type: "dhcp"',
        "end",
        'config.vm.define "b" do |b|',
        '  b.vm.network "private_network", type: :dhcp',
        "end",
        'config.vm.define "c" do |c|',
        '  c.vm.network "private_network", ip: "172.28.128.5"',
        "end",
        'config.vm.define "d" do |d|',
        '  d.vm.network "private_network", type: "dhcp"',
        "end",
      ),
    );
    const addr = (m: string) => (r.fragment.machines[m]!.vm!.adapters[1] as { addresses: string[] }).addresses[0];
    expect(["a", "b", "c", "d"].map(addr)).toEqual(["172.28.128.3/24", "172.28.128.4/24", "172.28.128.5/24", "172.28.128.6/24"]);
    expect(r.fragment.machines["host"]).toEqual({ hostonly: { vboxnet1: { addresses: ["172.28.128.1/24"] } } });
    expect(r.fragment.notes.join("\n")).toContain("assumed the lease 172.28.128.3/24");
    loads(r);
  });

  it("name: picks the host-only interface; virtualbox__intnet makes an internal network", async () => {
    const r = await vagrant(
      configure(
        'config.vm.network "private_network", ip: "192.168.60.10", name: "vboxnet4"',
        'config.vm.network "private_network", ip: "10.9.0.2", virtualbox__intnet: true',
        'config.vm.network "private_network", ip: "10.8.0.2", netmask: "255.255.0.0", virtualbox__intnet: "backend"',
        'config.vm.network "private_network", type: "dhcp", virtualbox__intnet: "dmz"',
        'config.vm.network "private_network", ip: "10.7.0.2", libvirt__network_name: "other"',
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["default"]!.vm!.adapters.slice(1)).toEqual([
      { mode: "hostonly", network: "vboxnet4", addresses: ["192.168.60.10/24"] },
      { mode: "internal", network: "intnet", addresses: ["10.9.0.2/24"] },
      { mode: "internal", network: "backend", addresses: ["10.8.0.2/16"] },
      { mode: "internal", network: "dmz", addresses: [] },
      { mode: "hostonly", network: "vboxnet1", addresses: ["10.7.0.2/24"] },
    ]);
    expect(r.fragment.machines["host"]!.hostonly!["vboxnet4"]).toEqual({ addresses: ["192.168.60.1/24"] });
    expect(r.fragment.notes.join("\n")).toContain(
      "names host-only network vboxnet4 but not its address on the host: assumed 192.168.60.1/24",
    );
    expect(r.fragment.notes.join("\n")).toContain("internal network dmz has no ip");
  });

  it("public_network bridges to the named host interface (en0 of 'en0: Wi-Fi'), eth0 when none is named", async () => {
    const r = await vagrant(
      configure(
        'config.vm.network "public_network", bridge: "en0: Wi-Fi (AirPort)"',
        'config.vm.network "public_network", ip: "192.168.1.50"',
        'config.vm.network "public_network", bridge: ["wlp3s0", "enp0s31f6"], use_dhcp_assigned_default_route: true',
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["default"]!.vm!.adapters.slice(1)).toEqual([
      { mode: "bridged", bridge: "en0", addresses: [] },
      { mode: "bridged", bridge: "eth0", addresses: ["192.168.1.50/24"] },
      { mode: "bridged", bridge: "wlp3s0", addresses: [] },
    ]);
    const notes = r.fragment.notes.join("\n");
    expect(notes).toContain("names no bridge");
    expect(notes).toContain("first of wlp3s0, enp0s31f6 that exists on the host: assumed wlp3s0");
    loads(r);
  });

  it("a network on an explicit adapter other than the next one, or without ip, is RCH051", async () => {
    const r = await vagrant(
      configure('config.vm.network "private_network", ip: "192.168.56.9", adapter: 5', 'config.vm.network "private_network"'),
    );
    expect(codes(r)).toEqual(["2:69 RCH051", "3:3 RCH051"]);
    expect(r.fragment.machines["default"]!.vm!.adapters).toHaveLength(1);
  });

  it("the VirtualBox provider block: override networks count, settings like vb.memory are ignored, networking customize is RCH051", async () => {
    const r = await vagrant(
      configure(
        'config.vm.provider "virtualbox" do |vb, override|',
        "  vb.memory = 2048",
        '  vb.customize ["modifyvm", :id, "--ioapic", "on"]',
        '  vb.customize ["modifyvm", :id, "--natpf1", "web,tcp,,8081,,80"]',
        '  override.vm.network "forwarded_port", guest: 80, host: 8080',
        "end",
        "config.vm.provider :libvirt do |lv|",
        '  lv.management_network_address = "10.1.0.0/24"',
        "end",
      ),
    );
    expect(codes(r)).toEqual(["5:5 RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("--natpf1");
    expect((r.fragment.machines["default"]!.vm!.adapters[0] as { forwards: { name?: string }[] }).forwards.map((f) => f.name)).toEqual([
      "tcp8080",
      "ssh",
    ]);
    expect(r.fragment.notes.join("\n")).toContain("also configures provider libvirt");
  });
});

describe("what Ruby would have to compute is RCH051 at the node", () => {
  it("variables, interpolation, loops, conditionals and method calls", async () => {
    const r = await vagrant(
      [
        "PORT = 8080",
        'Vagrant.configure("2") do |config|',
        '  config.vm.network "forwarded_port", guest: 80, host: PORT',
        '  config.vm.network "forwarded_port", guest: 81, host: "80#{n}"',
        "  (1..3).each do |i|",
        '    config.vm.define "node#{i}" do |node|',
        "    end",
        "  end",
        '  config.vm.network "forwarded_port", guest: 82, host: 8082 if ENV["X"]',
        "  setup_networks(config)",
        "  config.vm.define name do |m|",
        "  end",
        '  config.vm.network kind, ip: "192.168.56.4"',
        '  config.vm.network "private_network", **opts',
        '  config.vm.network "forwarded_port", "guest" => 80, host: 8083',
        '  config.vm.network "forwarded_port", guest: 84, host: 8084, hostname: true',
        '  config.vm.network :hostonly, "192.168.56.4"',
        '  config.vm.define "x" do |x|',
        '    config.vm.network "forwarded_port", guest: 85, host: 8085',
        "  end",
        "  config.vm.hostname = host_name",
        "end",
        "",
      ].join("\n"),
    );
    expect(codes(r)).toEqual([
      // host: PORT is computed (PORT = 8080), and the loop makes node1..node3: the top-level
      // forwards reach every machine, so the second machine's 8080 and 8084 collide
      "3:3 RCH051",
      "3:3 RCH051",
      "3:3 RCH051",
      "4:56 RCH051", // interpolation of an unknown n
      "9:3 RCH051", // the if modifier on ENV["X"] (no default)
      "10:3 RCH051", // a method call given config
      "11:20 RCH051", // define name
      "13:21 RCH051", // network kind
      "14:40 RCH051", // **opts
      "15:3 RCH051", // ... so that forward has no guest
      "15:39 RCH051", // a String key
      "16:3 RCH051",
      "16:3 RCH051",
      "16:3 RCH051",
      "16:62 RCH051", // an unknown option (left out, the forward kept)
      "17:21 RCH051", // v1 network type
      "19:5 RCH051", // the outer config inside a define block
      // line 21, a computed hostname, only describes the machine: no warning (issue 17)
    ]);
    const byLine = (line: number) => r.diagnostics.find((d) => d.span.line === line)!;
    expect(byLine(3).message).toContain("host port 8080 of node2's tcp8080 forward is already forwarded by node1");
    expect(byLine(4).message).toBe('the value of host is not a literal ("80#{n}"): this network is not imported');
    expect(byLine(4).expected).toContain("a literal value");
    expect(byLine(9).message).toContain("a conditional is not run");
    expect(r.diagnostics.find((d) => d.span.line === 16 && d.span.col === 62)!.message).toBe(
      "option 'hostname' of forwarded_port is not understood: left out",
    );
    expect(r.diagnostics.find((d) => d.span.line === 16 && d.span.col === 62)!.expected).toContain("guest, host, host_ip");
    expect(r.diagnostics.every((d) => d.severity === "warning")).toBe(true);
    // what the file computes is imported: the loop's machines, the forward with an unknown option, and machine x
    expect(Object.keys(r.fragment.machines)).toEqual(["node1", "node2", "node3", "x"]);
    expect((r.fragment.machines["node1"]!.vm!.adapters[0] as { forwards: { name?: string }[] }).forwards.map((f) => f.name)).toEqual([
      "tcp8080",
      "tcp8084",
      "ssh",
    ]);
  });

  it("harmless Ruby is ignored: requires, constants, provisioners, plugin settings", async () => {
    const r = await vagrant(
      [
        'require "yaml"',
        'VAGRANTFILE_API_VERSION = "2"',
        "settings = YAML.load_file('settings.yml')",
        "Vagrant.configure(VAGRANTFILE_API_VERSION) do |config|",
        '  config.vm.box = settings["box"]',
        "  config.ssh.forward_agent = true",
        "  config.hostmanager.enabled = true",
        '  config.vm.synced_folder ".", "/vagrant", disabled: true',
        '  config.vm.provision "shell", inline: <<-SHELL',
        "    apt-get install -y nginx",
        "  SHELL",
        "  puts 'hello'",
        "end",
      ].join("\n"),
    );
    // the data file is not there (Vagrant itself would stop): said, though nothing networking uses it
    expect(r.diagnostics.map((d) => `${d.span.line} ${d.code} ${d.severity}`)).toEqual(["3 RCH001 warning"]);
    expect(Object.keys(r.fragment.machines)).toEqual(["default"]);
  });

  it("Vagrant.configure inside a conditional is RCH051, not 'not a Vagrantfile'", async () => {
    const r = await vagrant(
      ['if Vagrant::VERSION >= "2.2"', '  Vagrant.configure("2") do |config|', '    config.vm.box = "x"', "  end", "end", ""].join("\n"),
    );
    expect(codes(r)).toEqual(["1:1 RCH051"]);
    expect(r.fragment.machines).toEqual({});
  });

  it("the version 1 format is not read", async () => {
    const r = await vagrant('Vagrant.configure("1") do |config|\n  config.vm.forward_port 80, 8080\nend\n');
    expect(codes(r)).toEqual(["1:19 RCH051"]);
    expect(r.fragment.machines).toEqual({});
  });
});

describe("malformed and foreign input", () => {
  it("a Ruby syntax error is RCH055 at the first error", async () => {
    const r = await vagrant(configure('config.vm.network "forwarded_port", guest: 80, host: 8080,,', 'config.vm.define "web" do |web|'));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["RCH055"]);
    expect(r.diagnostics[0]!.span.line).toBe(2);
    expect(r.fragment.machines).toEqual({});
  });

  it("a truncated Vagrantfile (missing end) is RCH055", async () => {
    const r = await vagrant('Vagrant.configure("2") do |config|\n  config.vm.box = "x"\n');
    expect(codes(r)).toEqual(["1:24 RCH055"]);
    expect(r.diagnostics[0]!.message).toBe(
      "Ruby syntax error: 'do |config|' is not closed before the end of the file (truncated, or a missing 'end')",
    );
  });

  it("a Ruby file without Vagrant.configure is RCH050", async () => {
    for (const text of ["", "puts 'hello'\n", "# just a comment\n"]) {
      const r = await vagrant(text);
      expect(codes(r)).toEqual(["1:1 RCH050"]);
    }
  });

  it("a machine named like the host is RCH053", async () => {
    const r = await vagrant(configure('config.vm.define "host"'));
    expect(codes(r)).toEqual(["2:3 RCH053"]);
  });

  it("two Vagrantfiles share the host: the second file's ssh forward moves, a repeated machine name is RCH053", async () => {
    const a = configure('config.vm.define "a"');
    const r = await importVagrant(
      [
        { file: "one/Vagrantfile", text: a },
        { file: "two/Vagrantfile", text: configure('config.vm.define "b"', 'config.vm.define "a"') },
      ],
      { host: "host" },
    );
    expect(r.diagnostics.map((d) => `${d.span.file} ${d.code}`)).toEqual(["two/Vagrantfile RCH053"]);
    expect((r.fragment.machines["b"]!.vm!.adapters[0] as { forwards: { hostPort: number | string }[] }).forwards[0]!.hostPort).toBe(2200);
  });

  it("never throws on garbage, and every position is inside the text", async () => {
    const samples = [
      "\u0000\u0001",
      "do end end end",
      'Vagrant.configure("2") do |c| c.vm.network',
      "🙂 = 1\n" + configure('config.vm.network "forwarded_port", guest: 1, host: 1e3'),
      "end\n".repeat(50),
      "Vagrant.configure(\"2\") { |c| c.vm.define 'x' }",
      "[".repeat(50_000),
      configure(`x = ${"[".repeat(50_000)}${"]".repeat(50_000)}`, "config.vm.network x"),
      configure(`config${".vm".repeat(20_000)}.network "y"`),
    ];
    for (const text of samples) {
      const r = await vagrant(text);
      const lines = text.split("\n").length;
      for (const d of r.diagnostics) expect(d.span.line).toBeLessThanOrEqual(lines);
    }
  });
});
