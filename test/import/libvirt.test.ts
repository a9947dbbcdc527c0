/**
 * The libvirt importer: network XML per forward mode (the host's interface,
 * forwarding, firewall and NAT rules libvirt installs), domain interfaces of
 * every type, DHCP addresses, what is RCH051, malformed and hostile XML, and
 * reachability through the result.
 */
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { importLibvirt } from "../../src/import/libvirt.js";
import { mergeParts } from "../../src/import/merge.js";
import type { ImportResult, Source } from "../../src/import/types.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { parseQuery } from "../../src/ir/query.js";
import type { MachineDoc, TopologyDoc } from "../../src/topology/schema.js";
import { loadTopologyText } from "../../src/topology/load.js";

const run = (...sources: Source[]): Promise<ImportResult> => Promise.resolve(importLibvirt(sources, { host: "host" }));
const at = (d: Diagnostic) => `${d.span.file}:${d.span.line}:${d.span.col} ${d.code}`;
const codes = (r: ImportResult) => r.diagnostics.map(at);

const network = (name: string, inner: string): Source => ({
  file: `${name}.xml`,
  text: `<network>\n  <name>${name}</name>\n${inner}</network>\n`,
});
const domain = (name: string, ...interfaces: string[]): Source => ({
  file: `${name}.dom.xml`,
  text: `<domain type='kvm'>\n  <name>${name}</name>\n  <memory unit='KiB'>1048576</memory>\n  <devices>\n${interfaces.map((i) => `    ${i}\n`).join("")}  </devices>\n</domain>\n`,
});

const DEFAULT = network(
  "default",
  `  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:aa:bb:01' name='fixed' ip='192.168.122.50'/>
    </dhcp>
  </ip>
`,
);
const ROUTED = network(
  "routed",
  `  <forward mode='route'/>
  <bridge name='virbr1'/>
  <ip address='10.20.0.1' prefix='24'>
    <dhcp><range start='10.20.0.100' end='10.20.0.110'/></dhcp>
  </ip>
`,
);
const onNet = (net: string, mac?: string) =>
  `<interface type='network'>${mac ? `<mac address='${mac}'/>` : ""}<source network='${net}'/><model type='virtio'/></interface>`;

/** The fragment plus the host's LAN uplink, a LAN router and a LAN machine whose route to `routes` goes via the host. */
function withLan(r: ImportResult, routes: string[] = []): TopologyDoc {
  const f = r.fragment;
  const host: MachineDoc = f.machines["host"] ?? {};
  return {
    segments: { ...f.segments, lan: "192.168.1.0/24" },
    machines: {
      ...f.machines,
      host: {
        ...host,
        interfaces: { ...host.interfaces, eth0: { segment: "lan", addresses: ["192.168.1.10/24"] } },
        routes: [...(host.routes ?? []), { to: "default", via: "192.168.1.1" }],
      },
      lan: {
        interfaces: { eth0: { segment: "lan", addresses: ["192.168.1.20/24"] } },
        routes: [{ to: "default", via: "192.168.1.1" }, ...routes.map((to) => ({ to, via: "192.168.1.10" }))],
        services: [{ name: "web", proto: "tcp", port: 80 }],
      },
      ...Object.fromEntries(
        Object.entries(f.machines)
          .filter(([, m]) => m.vm?.adapters.some((a) => a.mode === "bridged"))
          .map(([n, m]) => [
            n,
            {
              ...m,
              vm: {
                ...m.vm!,
                adapters: m.vm!.adapters.map((a, i) => (a.mode === "bridged" ? { ...a, addresses: [`192.168.1.${100 + i}/24`] } : a)),
              },
            },
          ]),
      ),
    },
  };
}

const loads = (doc: TopologyDoc) => loadTopologyText("imported.yaml", YAML.stringify(doc));

async function verdict(doc: TopologyDoc, query: string): Promise<string> {
  const net = lower(loads(doc).topology);
  const q = parseQuery(query);
  if (!q.ok) throw new Error(q.message);
  return (await answerQuery(net, q.query, { engine: "both", timeoutMs: 30_000 })).answer.verdict;
}

describe("network XML: the host side per forward mode", () => {
  it("nat: virbr0 on segment host/default, ip_forward, libvirt's forward rules, masquerade, dnsmasq DNS", async () => {
    const r = await run(DEFAULT);
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.segments).toEqual({ "host/default": "192.168.122.0/24" });
    expect(r.fragment.machines["host"]).toEqual({
      interfaces: { virbr0: { segment: "host/default", addresses: ["192.168.122.1/24"] } },
      ip_forward: true,
      firewall: {
        forward: {
          rules: [
            { action: "accept", in: "virbr0", out: "virbr0", comment: "libvirt default: guest to guest" },
            {
              action: "accept",
              out: "virbr0",
              dst: "192.168.122.0/24",
              state: ["established", "related"],
              comment: "libvirt default: replies to the guests",
            },
            { action: "reject", out: "virbr0", dst: "0.0.0.0/0", comment: "libvirt default: nothing else to the guests" },
            { action: "accept", in: "virbr0", src: "192.168.122.0/24", comment: "libvirt default: from the guests" },
            { action: "reject", in: "virbr0", src: "0.0.0.0/0", comment: "libvirt default: nothing else from the guests" },
          ],
        },
      },
      nat: [{ action: "masquerade", src: "192.168.122.0/24", comment: "libvirt default: NAT to the host's address" }],
      services: [
        { name: "dnsmasq udp 192.168.122.1 (libvirt default)", proto: "udp", port: 53, bind: "192.168.122.1" },
        { name: "dnsmasq tcp 192.168.122.1 (libvirt default)", proto: "tcp", port: 53, bind: "192.168.122.1" },
      ],
    });
    expect(r.fragment.notes.join("\n")).toContain("from other networks only replies come in");
  });

  it("route: accepted both ways without NAT; open: forwarding and no rules; isolated: only rejects, no forwarding", async () => {
    const open = network("open", "  <forward mode='open'/>\n  <bridge name='virbr2'/>\n  <ip address='10.30.0.1' prefix='24'/>\n");
    const isolated = network("private", "  <bridge name='virbr3'/>\n  <ip address='10.40.0.1' prefix='24'/>\n  <dns enable='no'/>\n");
    const r = await run(ROUTED, open, isolated);
    expect(r.diagnostics).toEqual([]);
    const host = r.fragment.machines["host"]!;
    expect(host.ip_forward).toBe(true);
    expect(host.nat).toBeUndefined();
    expect(
      host.firewall!.forward!.rules!.map(
        (x) => `${x.action} ${x.in ?? "-"}>${x.out ?? "-"} ${x.src ?? x.dst ?? ""}${x.state ? " " + x.state.join(",") : ""}`,
      ),
    ).toEqual([
      "accept virbr1>virbr1 ",
      "accept virbr3>virbr3 ",
      "accept ->virbr1 10.20.0.0/24",
      "reject ->virbr1 0.0.0.0/0",
      "reject ->virbr3 0.0.0.0/0",
      "accept virbr1>- 10.20.0.0/24",
      "reject virbr1>- 0.0.0.0/0",
      "reject virbr3>- 0.0.0.0/0",
    ]);
    // dnsmasq answers DNS on routed and open, not where <dns enable='no'/>
    expect(host.services!.map((s) => s.bind)).toEqual(["10.20.0.1", "10.20.0.1", "10.30.0.1", "10.30.0.1"]);
  });

  it("an isolated network alone does not turn forwarding on", async () => {
    const r = await run(network("private", "  <bridge name='virbr3'/>\n  <ip address='10.40.0.1' prefix='24'/>\n"));
    expect(r.fragment.machines["host"]!.ip_forward).toBeUndefined();
  });

  it("IPv6 on a nat network is routed (no NAT, no conntrack state) unless <nat ipv6='yes'/>; the rejects then cover both families", async () => {
    const v6 = `  <bridge name='virbr5'/>
  <ip address='192.168.150.1' prefix='24'/>
  <ip family='ipv6' address='fd00:150::1' prefix='64'>
    <dhcp><range start='fd00:150::100' end='fd00:150::1ff'/></dhcp>
  </ip>
`;
    const r = await run(network("six", `  <forward mode='nat'/>\n${v6}`), domain("guest", onNet("six")));
    const host = r.fragment.machines["host"]!;
    expect(host.interfaces!["virbr5"]!.addresses).toEqual(["192.168.150.1/24", "fd00:150::1/64"]);
    expect(r.fragment.segments!["host/six"]).toEqual({ subnets: ["192.168.150.0/24", "fd00:150::/64"] });
    expect(host.firewall!.forward!.rules!.filter((x) => x.out === "virbr5" && x.in === undefined)).toEqual([
      {
        action: "accept",
        out: "virbr5",
        dst: "192.168.150.0/24",
        state: ["established", "related"],
        comment: "libvirt six: replies to the guests",
      },
      { action: "accept", out: "virbr5", dst: "fd00:150::/64", comment: "libvirt six: to the guests (routed)" },
      { action: "reject", out: "virbr5", comment: "libvirt six: nothing else to the guests" },
    ]);
    expect(host.nat!.map((x) => x.src)).toEqual(["192.168.150.0/24"]);
    expect(r.fragment.machines["guest"]!.routes).toEqual([{ to: "default6", via: "fd00:150::1" }]);
    expect(r.fragment.machines["guest"]!.interfaces!["eth0"]!.addresses).toEqual(["fd00:150::100/64"]);
    const natted = await run(network("six", `  <forward mode='nat'><nat ipv6='yes'/></forward>\n${v6}`));
    expect(natted.fragment.machines["host"]!.nat!.map((x) => x.src)).toEqual(["192.168.150.0/24", "fd00:150::/64"]);
    loads(withLan(r));
  });

  it("forward dev restricts the rules and the masquerade to that host interface; <route> becomes a host route", async () => {
    const r = await run(
      network(
        "lab",
        "  <forward mode='nat' dev='eth0'/>\n  <bridge name='virbr7'/>\n  <ip address='10.7.0.1' netmask='255.255.0.0'/>\n  <route address='10.8.0.0' prefix='24' gateway='10.7.0.2'/>\n",
      ),
    );
    const host = r.fragment.machines["host"]!;
    expect(host.nat).toEqual([
      { action: "masquerade", src: "10.7.0.0/16", out: "eth0", comment: "libvirt lab: NAT to the host's address" },
    ]);
    expect(host.firewall!.forward!.rules!.filter((x) => x.action === "accept" && x.comment?.includes("guests"))).toEqual([
      {
        action: "accept",
        out: "virbr7",
        dst: "10.7.0.0/16",
        in: "eth0",
        state: ["established", "related"],
        comment: "libvirt lab: replies to the guests",
      },
      { action: "accept", in: "virbr7", src: "10.7.0.0/16", out: "eth0", comment: "libvirt lab: from the guests" },
    ]);
    expect(host.routes).toEqual([{ to: "10.8.0.0/24", via: "10.7.0.2" }]);
    loads(withLan(r));
  });

  it("<nat><address> of one address is SNAT to it; an address range is RCH051 and left untranslated", async () => {
    const net = (addr: string) =>
      network(
        "pub",
        `  <forward mode='nat'>\n    <nat>\n      ${addr}\n    </nat>\n  </forward>\n  <bridge name='virbr6'/>\n  <ip address='10.6.0.1' prefix='24'/>\n`,
      );
    const one = await run(net("<address start='192.168.1.10' end='192.168.1.10'/>"));
    expect(one.fragment.machines["host"]!.nat).toEqual([
      { action: "snat", src: "10.6.0.0/24", to: "192.168.1.10", comment: "libvirt pub: NAT to 192.168.1.10" },
    ]);
    const range = await run(net("<address start='192.168.1.10' end='192.168.1.19'/>"));
    expect(codes(range)).toEqual(["pub.xml:5:7 RCH051"]);
    expect(range.fragment.machines["host"]!.nat).toBeUndefined();
  });

  it("an address without netmask or prefix takes libvirt's classful default, with a note", async () => {
    const r = await run(network("old", "  <bridge name='virbr9'/>\n  <ip address='10.9.0.1'/>\n"));
    expect(r.fragment.machines["host"]!.interfaces!["virbr9"]!.addresses).toEqual(["10.9.0.1/8"]);
    expect(r.fragment.notes.join("\n")).toContain("libvirt's default /8");
  });
});

describe("domains", () => {
  it("an interface on a network gets the DHCP host entry of its MAC, else the first free address of the range, and the router", async () => {
    const r = await run(
      DEFAULT,
      domain("fixed", onNet("default", "52:54:00:AA:BB:01")),
      domain("a", onNet("default")),
      domain("b", onNet("default", "52:54:00:00:00:02")),
    );
    expect(r.diagnostics).toEqual([]);
    const m = r.fragment.machines;
    expect(m["fixed"]).toEqual({
      description: "libvirt domain",
      interfaces: { eth0: { segment: "host/default", addresses: ["192.168.122.50/24"] } },
      routes: [{ to: "default", via: "192.168.122.1" }],
      services: [{ name: "sshd (assumed)", proto: "tcp", port: 22 }],
    });
    expect(m["a"]!.interfaces!["eth0"]!.addresses).toEqual(["192.168.122.2/24"]);
    expect(m["b"]!.interfaces!["eth0"]!.addresses).toEqual(["192.168.122.3/24"]);
    const notes = r.fragment.notes.join("\n");
    expect(notes).toContain("a: assumed the DHCP lease 192.168.122.2 on network default");
    expect(notes).toContain("each domain is given an sshd on 22/tcp (assumed");
    expect(notes).not.toContain("fixed: assumed");
  });

  it("a host entry by name only is matched to the domain of that name, with a note", async () => {
    const net = network(
      "n",
      "  <bridge name='virbr4'/>\n  <ip address='10.4.0.1' prefix='24'>\n    <dhcp><host name='db' ip='10.4.0.9'/></dhcp>\n  </ip>\n",
    );
    const r = await run(net, domain("db", onNet("n")), domain("other", onNet("n")));
    expect(r.fragment.machines["db"]!.interfaces!["eth0"]!.addresses).toEqual(["10.4.0.9/24"]);
    // isolated: dnsmasq gives no router (dhcp-option=3)
    expect(r.fragment.machines["db"]!.routes).toBeUndefined();
    // no range: the other guest configures its own address
    expect(r.fragment.machines["other"]!.interfaces!["eth0"]!.addresses).toEqual([]);
    expect(r.fragment.notes.join("\n")).toContain("DHCP host entry for name db is assumed to match");
  });

  it("type bridge on a libvirt network's bridge is that network; on another bridge, and on a bridge-mode network, a bridged adapter", async () => {
    const br = network("host-bridge", "  <forward mode='bridge'/>\n  <bridge name='br0'/>\n");
    const r = await run(
      DEFAULT,
      br,
      domain(
        "vm",
        "<interface type='bridge'><source bridge='virbr0'/></interface>",
        "<interface type='bridge'><source bridge='br1'/></interface>",
        onNet("host-bridge"),
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["vm"]).toMatchObject({
      interfaces: { eth0: { segment: "host/default", addresses: ["192.168.122.2/24"] } },
      vm: {
        on: "host",
        adapters: [
          { mode: "bridged", interface: "eth1", bridge: "br1", addresses: [] },
          { mode: "bridged", interface: "eth2", bridge: "br0", addresses: [] },
        ],
      },
    });
    expect(r.fragment.notes.join("\n")).toContain("is the host's own bridge br0");
  });

  it("merged, a guest on the host's bridge gets a LAN address and the host keeps its libvirt bridges", async () => {
    const r = await run(DEFAULT, domain("vm", onNet("default"), "<interface type='bridge'><source bridge='br0'/></interface>"));
    const m = mergeParts([{ fragment: r.fragment, span: { file: "x", line: 1, col: 1 } }], { host: "host", lan: "192.168.1.0/24" });
    expect(Object.keys(m.doc.machines["host"]!.interfaces!)).toEqual(["virbr0", "br0"]);
    expect(m.doc.machines["vm"]!.vm!.adapters[0]).toMatchObject({ mode: "bridged", bridge: "br0", addresses: ["192.168.1.100/24"] });
    expect(await verdict(m.doc, "lan -> vm:22/tcp")).toBe("reachable");
  });

  it("type user is QEMU's user-mode NAT: a NAT adapter on 10.0.2.0/24 whose .2 reaches the host's loopback", async () => {
    const r = await run(
      domain(
        "slirp",
        "<interface type='user'><mac address='52:54:00:12:34:56'/><model type='virtio'/></interface>",
        "<interface type='user'><ip family='ipv4' address='172.17.2.0' prefix='24'/></interface>",
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["slirp"]!.vm).toEqual({
      on: "host",
      adapters: [
        { mode: "nat", interface: "eth0", engine: "qemu", network: "10.0.2.0/24" },
        { mode: "nat", interface: "eth1", engine: "qemu", network: "172.17.2.0/24" },
      ],
    });
  });

  it("type user with an IPv6 <ip>: QEMU's IPv6 network on that /64 (on by default, fec0::/64, without one)", async () => {
    const r = await run(
      domain(
        "slirp6",
        "<interface type='user'><ip family='ipv6' address='fd00::' prefix='64'/></interface>",
        "<interface type='user'><ip family='ipv6' address='fd00::' prefix='48'/></interface>",
      ),
    );
    expect(r.fragment.machines["slirp6"]!.vm!.adapters).toEqual([
      { mode: "nat", interface: "eth0", engine: "qemu", network: "10.0.2.0/24", ipv6Network: "fd00::/64" },
      { mode: "nat", interface: "eth1", engine: "qemu", network: "10.0.2.0/24", ipv6: false },
    ]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["RCH051"]);
  });

  it("what is not modelled is RCH051 at the element, and left out", async () => {
    const macvtap = network("macvtap", "  <forward mode='bridge'>\n    <interface dev='eth0'/>\n  </forward>\n");
    const r = await run(
      macvtap,
      domain(
        "vm",
        "<interface type='direct'><source dev='eth0' mode='bridge'/></interface>",
        onNet("nowhere"),
        onNet("macvtap"),
        "<interface type='user'><backend type='passt'/></interface>",
        "<interface type='network'><source network='nowhere'/><link state='down'/></interface>",
        "<interface type='vhostuser'/>",
      ),
    );
    expect(codes(r)).toEqual([
      "macvtap.xml:3:3 RCH051",
      "vm.dom.xml:5:5 RCH051",
      "vm.dom.xml:6:31 RCH051",
      "vm.dom.xml:7:31 RCH051",
      "vm.dom.xml:8:28 RCH051",
      "vm.dom.xml:9:58 RCH051",
      "vm.dom.xml:10:5 RCH051",
    ]);
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      "network 'macvtap' uses a macvtap bridge (forward interfaces): guests are attached to host NICs directly, which is not modelled; its domains' interfaces are not imported",
      "vm's interface eth0 is of type 'direct' (macvtap), which is not modelled: not imported",
      "vm's interface eth1 is on network 'nowhere', which is not among the inputs: not imported",
      "vm's interface eth2 is on network 'macvtap', which uses a macvtap bridge (forward interfaces): not imported",
      "vm's interface eth3 uses the passt backend (port forwards, the host's addresses): not modelled, not imported",
      "vm's interface eth4 has its link down: not imported",
      "vm's interface eth5 is of type 'vhostuser', which is not modelled: not imported",
    ]);
    expect(r.diagnostics[2]!.expected).toBe("the network's XML too (virsh net-dumpxml nowhere)");
    expect(r.fragment.machines["vm"]).toEqual({
      description: "libvirt domain",
      services: [{ name: "sshd (assumed)", proto: "tcp", port: 22 }],
    });
  });

  it("nwfilter, VLANs and unknown network elements are RCH051; the rest is kept", async () => {
    const net = network(
      "n",
      "  <bridge name='virbr4'/>\n  <ip address='10.4.0.1' prefix='24'/>\n  <dnsmasq:options xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'/>\n",
    );
    const r = await run(
      net,
      domain("vm", "<interface type='network'><source network='n'/><filterref filter='clean-traffic'/></interface>"),
    );
    expect(codes(r)).toEqual(["n.xml:5:3 RCH051", "vm.dom.xml:5:52 RCH051"]);
    expect(r.fragment.machines["vm"]!.interfaces!["eth0"]!.segment).toBe("host/n");
  });

  it("a second network on the same bridge is RCH053, and its domains' interfaces are left out", async () => {
    const twin = network("twin", "  <forward mode='nat'/>\n  <bridge name='virbr0'/>\n  <ip address='192.168.123.1' prefix='24'/>\n");
    const r = await run(DEFAULT, twin, domain("vm", onNet("twin")));
    expect(codes(r)).toEqual(["twin.xml:4:3 RCH053", "vm.dom.xml:5:31 RCH051"]);
    expect(r.diagnostics[0]!.severity).toBe("error");
    expect(Object.keys(r.fragment.segments!)).toEqual(["host/default"]);
  });

  it("duplicates and names that clash are RCH053; a domain without a name is RCH055", async () => {
    const r = await run(
      DEFAULT,
      { ...DEFAULT, file: "again.xml" },
      domain("host"),
      domain("x"),
      { ...domain("x"), file: "x2.xml" },
      { file: "anon.xml", text: "<domain><devices/></domain>" },
    );
    expect(codes(r)).toEqual(["again.xml:1:1 RCH053", "host.dom.xml:1:1 RCH053", "x2.xml:1:1 RCH053", "anon.xml:1:1 RCH055"]);
    expect(r.diagnostics.map((d) => d.severity)).toEqual(["warning", "error", "warning", "error"]);
  });
});

describe("reachability through the imported networks", () => {
  it("nat: the host reaches the guest, the guest reaches the LAN, the LAN cannot reach the guest even with a route", async () => {
    const doc = withLan(await run(DEFAULT, domain("vm", onNet("default"))), ["192.168.122.0/24"]);
    expect(await verdict(doc, "host -> vm:22/tcp")).toBe("reachable");
    expect(await verdict(doc, "vm -> lan:80/tcp")).toBe("reachable");
    expect(await verdict(doc, "lan -> vm:22/tcp")).toBe("unreachable");
    expect(await verdict(doc, "vm -> host:53/udp")).toBe("reachable");
  });

  it("route: the LAN reaches the guest when its router sends the network to the host", async () => {
    const doc = withLan(await run(ROUTED, domain("vm", onNet("routed"))), ["10.20.0.0/24"]);
    expect(await verdict(doc, "lan -> vm:22/tcp")).toBe("reachable");
    expect(await verdict(doc, "vm -> lan:80/tcp")).toBe("reachable");
  });

  it("isolated: the host and the other guests only", async () => {
    const net = network(
      "private",
      "  <bridge name='virbr3'/>\n  <ip address='10.40.0.1' prefix='24'>\n    <dhcp><range start='10.40.0.2' end='10.40.0.9'/></dhcp>\n  </ip>\n",
    );
    const doc = withLan(await run(net, domain("a", onNet("private")), domain("b", onNet("private"))), ["10.40.0.0/24"]);
    expect(await verdict(doc, "host -> a:22/tcp")).toBe("reachable");
    expect(await verdict(doc, "b -> a:22/tcp")).toBe("reachable");
    expect(await verdict(doc, "lan -> a:22/tcp")).toBe("unreachable");
    expect(await verdict(doc, "a -> lan:80/tcp")).toBe("unreachable");
  });
});

describe("malformed and hostile XML", () => {
  it("refuses a DOCTYPE that declares entities (billion laughs) with RCH052 at the declaration, quickly", async () => {
    const lol = [
      '<?xml version="1.0"?>',
      "<!DOCTYPE lolz [",
      ' <!ENTITY lol "lol">',
      ...Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i || ""};`.repeat(10)}">`),
      "]>",
      "<network><name>&lol9;</name></network>",
    ].join("\n");
    const start = Date.now();
    const r = await run({ file: "lol.xml", text: lol });
    expect(Date.now() - start).toBeLessThan(1000);
    expect(codes(r)).toEqual(["lol.xml:3:2 RCH052"]);
    expect(r.fragment).toEqual({ machines: {}, notes: [] });
  });

  it("refuses external entities too", async () => {
    const r = await run({
      file: "xxe.xml",
      text: '<!DOCTYPE network [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<network><name>&xxe;</name></network>',
    });
    expect(codes(r)).toEqual(["xxe.xml:1:20 RCH052"]);
  });

  it("a DOCTYPE without entities is read", async () => {
    const r = await run({ file: "d.xml", text: `<!DOCTYPE network>\n${DEFAULT.text}` });
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["host"]).toBeDefined();
  });

  it("malformed XML is RCH055 where the parser stopped; other XML is RCH050; a network without a name is RCH055", async () => {
    const truncated = DEFAULT.text.slice(0, DEFAULT.text.indexOf("<dhcp>") + 3);
    const r = await run(
      { file: "cut.xml", text: truncated },
      { file: "empty.xml", text: "" },
      { file: "junk.xml", text: "hello world" },
      { file: "vbox.xml", text: "<VirtualBox>\n  <Machine/>\n</VirtualBox>" },
      { file: "noname.xml", text: "<network>\n  <bridge name='virbr0'/>\n</network>" },
    );
    expect(codes(r)).toEqual([
      "cut.xml:6:7 RCH055",
      "empty.xml:1:1 RCH055",
      "junk.xml:1:11 RCH055",
      "vbox.xml:1:1 RCH050",
      "noname.xml:1:1 RCH055",
    ]);
    expect(r.diagnostics[3]!.expected).toContain("virsh net-dumpxml");
  });

  it("bad addresses in otherwise good XML are RCH010 and RCH011 at the element", async () => {
    const r = await run(
      network(
        "bad",
        "  <bridge name='virbr8'/>\n  <ip address='192.168.300.1' prefix='24'/>\n  <ip address='10.1.0.1' netmask='255.0.255.0'/>\n  <ip address='10.2.0.1' prefix='24'>\n    <dhcp><range start='10.3.0.2' end='10.3.0.9'/><host mac='52:54:00:00:00:01' ip='10.9.9.9'/></dhcp>\n  </ip>\n",
      ),
    );
    expect(codes(r)).toEqual(["bad.xml:4:3 RCH010", "bad.xml:5:3 RCH011", "bad.xml:7:11 RCH010", "bad.xml:7:51 RCH010"]);
    expect(r.fragment.machines["host"]!.interfaces!["virbr8"]!.addresses).toEqual(["10.2.0.1/24"]);
  });
});

describe("a domain alone on network 'default' (issue 17)", () => {
  it("gets libvirt's stock default network, stated as an assumption in the topology and in every answer", async () => {
    const alone = await run(domain("vm", "<interface type='network'><source network='default'/></interface>"));
    const given = await run(DEFAULT, domain("vm", "<interface type='network'><source network='default'/></interface>"));
    expect(alone.diagnostics).toEqual([]);
    // the same host side as with the stock XML given: virbr0, NAT, the first DHCP address
    expect(alone.fragment.machines["host"]).toEqual(given.fragment.machines["host"]);
    expect(alone.fragment.machines["vm"]?.interfaces).toEqual({ eth0: { segment: "host/default", addresses: ["192.168.122.2/24"] } });
    expect(alone.fragment.assumed).toEqual([
      { at: "vm.dom.xml:5:31", what: expect.stringContaining("assumed libvirt's stock default network") },
    ]);
    expect(given.fragment.assumed).toBeUndefined();
    const merged = mergeParts([{ fragment: alone.fragment, span: { file: "vm.dom.xml", line: 1, col: 1 } }], {
      host: "host",
      lan: "192.168.1.0/24",
    });
    const net = lower(loadTopologyText("kvm.yaml", YAML.stringify(merged.doc)).topology);
    expect(net.assumed?.[0]?.at).toBe("vm.dom.xml:5:31");
    const { assumptionLines } = await import("../../src/query/render.js");
    expect(assumptionLines(net)[0]).toMatch(/^assumes \(vm\.dom\.xml:5:31\): network 'default' is not among the inputs/);
  });

  it("another network on virbr0, or a network named default, is not replaced by the stock one", async () => {
    const other = network("lab", "  <forward mode='nat'/>\n  <bridge name='virbr0'/>\n  <ip address='10.9.0.1' prefix='24'/>\n");
    const r = await run(other, domain("vm", "<interface type='network'><source network='default'/></interface>"));
    expect(r.fragment.assumed).toBeUndefined();
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      "vm's interface eth0 is on network 'default', which is not among the inputs: not imported",
    ]);
  });
});
