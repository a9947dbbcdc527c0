import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { mergeParts } from "../../src/import/merge.js";
import type { ImportResult, Source } from "../../src/import/types.js";
import { importVirtualbox } from "../../src/import/virtualbox.js";
import { loadTopologyText } from "../../src/topology/load.js";

const GOLDEN = join(import.meta.dirname, "golden");

async function run(...sources: Source[]): Promise<ImportResult> {
  return importVirtualbox(sources, { host: "host" });
}

const at = (d: Diagnostic) => `${d.span.file}:${d.span.line}:${d.span.col} ${d.code}`;
const codes = (r: ImportResult) => r.diagnostics.map(at);

/** The fragment merged (host scaffold, assigned addresses) must load as a topology without errors. */
function loads(r: ImportResult): void {
  const merged = mergeParts([{ fragment: r.fragment, span: { file: "x", line: 1, col: 1 } }], { host: "host", lan: "192.168.1.0/24" });
  expect(() => loadTopologyText("imported.yaml", YAML.stringify(merged.doc))).not.toThrow();
}

const showvminfo = (lines: string[]): Source => ({ file: "vm.txt", text: lines.join("\n") + "\n" });

describe("VBoxManage showvminfo --machinereadable", () => {
  it("reads every attachment, keeping the slot of a disabled adapter", async () => {
    const r = await run(
      showvminfo([
        'name="lab vm"',
        'ostype="Ubuntu (64-bit)"',
        'natnet1="10.0.9.0/24"',
        'macaddress1="080027000001"',
        'cableconnected1="on"',
        'nic1="nat"',
        'nictype1="82540EM"',
        'mtu="0"',
        'Forwarding(0)="ssh,tcp,127.0.0.1,2222,,22"',
        'Forwarding(1)="dns,udp,,5353,10.0.9.15,53"',
        'nic2="none"',
        'bridgeadapter3="en0: Wi-Fi"',
        'nic3="bridged"',
        'hostonlyadapter4="vboxnet0"',
        'nic4="hostonly"',
        'intnet5="buildnet"',
        'nic5="intnet"',
        'nat-network6="labnet"',
        'nic6="natnetwork"',
        'nic7="null"',
        'nic8="none"',
      ]),
    );
    expect(r.fragment.machines["lab vm"]).toEqual({
      vm: {
        on: "host",
        adapters: [
          {
            mode: "nat",
            network: "10.0.9.0/24",
            forwards: [
              { name: "ssh", proto: "tcp", hostIp: "127.0.0.1", hostPort: 2222, guestPort: 22 },
              { name: "dns", proto: "udp", hostPort: 5353, guestIp: "10.0.9.15", guestPort: 53 },
            ],
          },
          { mode: "none" },
          { mode: "bridged", bridge: "en0", addresses: [] },
          { mode: "hostonly", network: "vboxnet0" },
          { mode: "internal", network: "buildnet", addresses: [] },
          { mode: "natnetwork", network: "labnet", addresses: [] },
        ],
      },
      services: [
        { name: "ssh (assumed)", proto: "tcp", port: 22 },
        { name: "dns (assumed)", proto: "udp", port: 53 },
      ],
    });
    // labnet is not described by the inputs: declared with the defaults, and said so
    expect(r.fragment.natnetworks).toEqual({ labnet: {} });
    expect(codes(r)).toEqual(["vm.txt:18:14 RCH051"]);
    expect(r.fragment.notes.join("\n")).toMatch(/localhost-reachable setting: assumed off/);
    expect(r.fragment.notes.join("\n")).toMatch(/bridged to en0/);
    loads(r);
  });

  it("gives a forward to the last nicN above it, and a NAT adapter without natnetN its slot's default network", async () => {
    const r = await run(
      showvminfo([
        'name="a"',
        'nic1="hostonly"',
        'hostonlyadapter1="vboxnet1"',
        'natnet2="nat"',
        'nic2="nat"',
        'Forwarding(0)="web,tcp,,8080,,80"',
      ]),
    );
    expect(r.fragment.machines["a"]?.vm?.adapters).toEqual([
      { mode: "hostonly", network: "vboxnet1" },
      { mode: "nat", forwards: [{ name: "web", proto: "tcp", hostPort: 8080, guestPort: 80 }] },
    ]);
    expect(r.diagnostics).toEqual([]);
    loads(r);
  });

  it("warns about generic and unknown attachments, unplugged cables and unknown protocols, at their line and column", async () => {
    const r = await run(
      showvminfo([
        'name="g"',
        'generic1="VDE"',
        'nic1="Generic"',
        'cableconnected2="off"',
        'nic2="nat"',
        'Forwarding(0)="odd,unk,,9000,,9000"',
        'hostonly-network3="HostNet"',
        'nic3="hostonlynetwork"',
      ]),
    );
    expect(codes(r)).toEqual(["vm.txt:3:6 RCH051", "vm.txt:4:17 RCH051", "vm.txt:6:20 RCH051", "vm.txt:8:6 RCH051"]);
    expect(r.diagnostics.every((d) => d.severity === "warning")).toBe(true);
    expect(r.fragment.machines["g"]?.vm?.adapters).toEqual([{ mode: "none" }, { mode: "nat" }]);
  });

  it("reports bad ports and addresses as errors at the field", async () => {
    const r = await run(showvminfo(['name="b"', 'nic1="nat"', 'Forwarding(0)="x,tcp,,70000,,22"', 'Forwarding(1)="y,tcp,1.2.3,2222,,22"']));
    expect(codes(r)).toEqual(["vm.txt:3:23 RCH012", "vm.txt:4:22 RCH010"]);
    expect(r.diagnostics.every((d) => d.severity === "error")).toBe(true);
  });

  it("reports a cut-off value and a missing name as malformed", async () => {
    expect(codes(await run(showvminfo(['name="c"', 'nic1="na'])))).toEqual(["vm.txt:2:6 RCH055"]);
    expect(codes(await run(showvminfo(['nic1="nat"'])))).toEqual(["vm.txt:1:1 RCH055"]);
  });

  it("does not take non-Linux host-only names", async () => {
    const r = await run(showvminfo(['name="w"', 'hostonlyadapter1="VirtualBox Host-Only Ethernet Adapter"', 'nic1="hostonly"']));
    expect(codes(r)).toEqual(["vm.txt:2:18 RCH051"]);
    expect(r.fragment.machines["w"]?.vm?.adapters).toEqual([]);
  });
});

const vbox = (version: string, network: string): Source => ({
  file: "m.vbox",
  text: `<?xml version="1.0"?>
<VirtualBox xmlns="http://www.virtualbox.org/" version="${version}">
  <Machine uuid="{00000000-0000-4000-8000-000000000001}" name="m" OSType="Debian_64">
    <Hardware>
      <Network>
${network}
      </Network>
    </Hardware>
  </Machine>
</VirtualBox>
`,
});

describe(".vbox settings files", () => {
  it("reads the mode outside DisabledModes, NAT forwards (proto 1 = TCP, 0 = UDP) and localhost-reachable", async () => {
    const r = await run(
      vbox(
        "1.19-linux",
        `        <Adapter slot="0" enabled="true" MACAddress="080027000001">
          <NAT network="10.0.7.0/24" localhost-reachable="true">
            <DNS use-proxy="true"/>
            <Forwarding name="ssh" proto="1" hostip="127.0.0.1" hostport="2222" guestport="22"/>
            <Forwarding name="syslog" proto="0" hostport="5514" guestport="514"/>
          </NAT>
        </Adapter>
        <Adapter slot="1" enabled="false">
          <DisabledModes><NAT/></DisabledModes>
          <BridgedInterface name="eth0"/>
        </Adapter>
        <Adapter slot="2" enabled="true">
          <DisabledModes>
            <NAT/>
            <InternalNetwork name="intnet"/>
          </DisabledModes>
          <HostOnlyInterface name="vboxnet0"/>
        </Adapter>
        <Adapter slot="3" enabled="true"><InternalNetwork name="dmz"/></Adapter>
        <Adapter slot="5" enabled="true"><NATNetwork name="NatNetwork"/></Adapter>`,
      ),
    );
    expect(r.fragment.machines["m"]?.vm?.adapters).toEqual([
      {
        mode: "nat",
        network: "10.0.7.0/24",
        localhostReachable: true,
        forwards: [
          { name: "ssh", proto: "tcp", hostIp: "127.0.0.1", hostPort: 2222, guestPort: 22 },
          { name: "syslog", proto: "udp", hostPort: 5514, guestPort: 514 },
        ],
      },
      { mode: "none" },
      { mode: "hostonly", network: "vboxnet0" },
      { mode: "internal", network: "dmz", addresses: [] },
      { mode: "none" },
      { mode: "natnetwork", network: "NatNetwork", addresses: [] },
    ]);
    expect(codes(r)).toEqual(["m.vbox:25:42 RCH051"]); // NatNetwork is not among the inputs
    loads(r);
  });

  it("takes a missing localhost-reachable and cable from the settings format's defaults", async () => {
    const adapter = `        <Adapter slot="0" enabled="true"><NAT/></Adapter>`;
    const r7 = await run(vbox("1.19-linux", adapter));
    expect(r7.fragment.machines["m"]?.vm?.adapters).toEqual([{ mode: "nat" }]);
    expect(r7.diagnostics).toEqual([]);
    expect(r7.fragment.notes.join("\n")).toMatch(/without localhost-reachable has it off/);
    // VirtualBox 5.0 (format 1.15): loopback reachable, and no cable="true" means unplugged
    const r5 = await run(vbox("1.15-windows", adapter));
    expect(r5.fragment.machines["m"]?.vm?.adapters).toEqual([{ mode: "nat", localhostReachable: true }]);
    expect(codes(r5)).toEqual(["m.vbox:6:9 RCH051"]);
  });

  it("warns about generic attachments and the NAT engine's outgoing address", async () => {
    const r = await run(
      vbox(
        "1.19-linux",
        `        <Adapter slot="0" enabled="true"><GenericInterface driver="UDPTunnel"/></Adapter>
        <Adapter slot="1" enabled="true"><NAT hostip="192.168.1.10"/></Adapter>`,
      ),
    );
    expect(codes(r)).toEqual(["m.vbox:6:42 RCH051", "m.vbox:7:42 RCH051"]);
    expect(r.fragment.machines["m"]?.vm?.adapters).toEqual([{ mode: "none" }, { mode: "nat" }]);
  });

  it("reports XML that is not well-formed, at the problem", async () => {
    const r = await run({
      file: "m.vbox",
      text: '<VirtualBox version="1.19-linux">\n  <Machine name="m">\n    <Hardware>\n  </Machine>\n',
    });
    expect(codes(r)).toEqual(["m.vbox:4:13 RCH055"]);
  });

  it("refuses entity declarations without expanding them (billion laughs)", async () => {
    const lol = Array.from({ length: 10 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join("\n");
    const text = `<?xml version="1.0"?>\n<!DOCTYPE VirtualBox [\n<!ENTITY lol0 "lol">\n${lol}\n]>\n<VirtualBox version="1.19-linux"><Machine name="&lol10;"/></VirtualBox>\n`;
    const t0 = performance.now();
    const r = await run({ file: "bomb.vbox", text });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["RCH052"]);
    expect(r.diagnostics[0]!.span).toEqual({ file: "bomb.vbox", line: 2, col: 1 });
    expect(r.fragment.machines).toEqual({});
  });

  it("says which files are not machine settings", async () => {
    expect(codes(await run({ file: "g.xml", text: '<VirtualBox version="1.19-linux"><Global/></VirtualBox>' }))).toEqual([
      "g.xml:1:1 RCH050",
    ]);
    expect(codes(await run({ file: "p.xml", text: "<project/>" }))).toEqual(["p.xml:1:1 RCH050"]);
  });
});

describe("VBoxManage list hostonlyifs", () => {
  it("puts each vboxnetN's addresses on the host, IPv6 written the short way", async () => {
    const r = await run({ file: "h.txt", text: readFileSync(join(GOLDEN, "virtualbox-natnetwork/hostonlyifs.txt"), "utf8") });
    expect(r.fragment.machines["host"]).toEqual({
      hostonly: { vboxnet0: { addresses: ["192.168.56.1/24", "fe80::800:27ff:fe00:0/64"] }, vboxnet1: { addresses: ["192.168.60.1/24"] } },
    });
    expect(r.diagnostics).toEqual([]);
  });

  it("warns about Windows adapter names and reports a bad mask", async () => {
    const text = [
      "Name:            VirtualBox Host-Only Ethernet Adapter",
      "GUID:            786f6276-656e-4074-8000-0a0027000000",
      "IPAddress:       192.168.56.1",
      "NetworkMask:     255.255.255.0",
      "",
      "Name:            vboxnet3",
      "GUID:            786f6276-656e-4074-8000-0a0027000003",
      "IPAddress:       192.168.59.1",
      "NetworkMask:     255.0.255.0",
    ].join("\n");
    expect(codes(await run({ file: "h.txt", text }))).toEqual(["h.txt:1:18 RCH051", "h.txt:9:18 RCH011"]);
  });
});

describe("VBoxManage natnetwork list", () => {
  it("reads networks, IPv4 forwards and loopback mappings, and assumes a listener on the only VM of the network", async () => {
    const dir = join(GOLDEN, "virtualbox-natnetwork");
    const r = await run(
      { file: "n.txt", text: readFileSync(join(dir, "natnetwork-list.txt"), "utf8") },
      { file: "app.txt", text: readFileSync(join(dir, "app.showvminfo.txt"), "utf8") },
    );
    expect(r.fragment.natnetworks).toEqual({
      labnet: {
        network: "10.0.2.0/24",
        forwards: [
          { name: "http", proto: "tcp", hostIp: "127.0.0.1", hostPort: 8081, guestIp: "10.0.2.4", guestPort: 80 },
          { name: "ssh", proto: "tcp", hostPort: 1022, guestIp: "10.0.2.4", guestPort: 22 },
        ],
      },
    });
    expect(r.fragment.machines["app"]?.services).toEqual([
      { name: "http (assumed)", proto: "tcp", port: 80 },
      { name: "ssh (assumed)", proto: "tcp", port: 22 },
    ]);
    expect(r.diagnostics).toEqual([]);
    loads(r);
  });

  it("reads VirtualBox 6's format and warns about what the language does not hold", async () => {
    const text = [
      "NetworkName:    NatNetwork",
      "IP:             10.0.2.1",
      "Network:        10.0.2.0/24",
      "IPv6 Enabled:   Yes",
      "IPv6 Prefix:    fd17:625c:f037:2::/64",
      "DHCP Enabled:   No",
      "Enabled:        Yes",
      "Port-forwarding (ipv4)",
      "        Rule 1:tcp:[]:2222:[10.0.2.7]:22",
      "        nowhere:tcp:[]:2223:[]:22",
      "        astray:tcp:[]:2224:[10.9.9.9]:22",
      "Port-forwarding (ipv6)",
      "        web6:tcp:[::]:8080:[fd17:625c:f037:2::7]:80",
      "loopback mappings (ipv4)",
      "        127.0.0.1=2",
      "        127.0.0.2=3",
      "",
    ].join("\n");
    const r = await run({ file: "old.txt", text });
    expect(r.fragment.natnetworks).toEqual({
      NatNetwork: {
        network: "10.0.2.0/24",
        forwards: [{ name: "Rule 1", proto: "tcp", hostPort: 2222, guestIp: "10.0.2.7", guestPort: 22 }],
      },
    });
    expect(codes(r)).toEqual([
      "old.txt:4:1 RCH051",
      "old.txt:10:9 RCH051",
      "old.txt:11:9 RCH031",
      "old.txt:13:9 RCH051",
      "old.txt:16:9 RCH051",
    ]);
    expect(r.fragment.notes.join("\n")).toMatch(/NatNetwork has no DHCP server/);
  });

  it("says when the short listing hides forwards, and when the loopback mapping is gone", async () => {
    const short = [
      "Name:         NatNetwork",
      "Network:      10.0.2.0/24",
      "Gateway:      10.0.2.1",
      "DHCP Server:  Yes",
      "IPv6:         No",
      "",
    ].join("\n");
    expect(codes(await run({ file: "s.txt", text: short }))).toEqual(["s.txt:1:1 RCH051"]);
    const noLoop = ["Name:         lab", "Enabled:      Yes", "Network:      172.16.0.0/24", "Gateway:      172.16.0.1", ""].join("\n");
    expect(codes(await run({ file: "l.txt", text: noLoop }))).toEqual(["l.txt:1:1 RCH051"]);
  });
});

describe("any file", () => {
  it("names the formats it accepts when it recognises none", async () => {
    const r = await run({ file: "x.txt", text: "hello\nworld\n" }, { file: "empty.txt", text: "" });
    expect(codes(r)).toEqual(["x.txt:1:1 RCH050", "empty.txt:1:1 RCH050"]);
    expect(r.diagnostics[0]!.expected).toMatch(/showvminfo --machinereadable/);
    expect(
      codes(
        await run({ file: "human.txt", text: "Name:            web\nGuest OS:        Ubuntu (64-bit)\nConfig file:     /x/web.vbox\n" }),
      ),
    ).toEqual(["human.txt:1:1 RCH050"]);
  });

  it("never throws on any prefix of the golden inputs", async () => {
    for (const [dir, file] of [
      ["virtualbox-showvminfo", "web.showvminfo.txt"],
      ["virtualbox-vbox-xml", "db.vbox"],
      ["virtualbox-natnetwork", "natnetwork-list.txt"],
      ["virtualbox-natnetwork", "hostonlyifs.txt"],
    ] as const) {
      const text = readFileSync(join(GOLDEN, dir, file), "utf8");
      for (let n = 0; n <= text.length; n += 7) {
        const r = await run({ file, text: text.slice(0, n) });
        for (const d of r.diagnostics) expect(d.span.line).toBeLessThanOrEqual(text.slice(0, n).split("\n").length);
      }
    }
  });
});
