/**
 * The Linux host importer (src/import/linux.ts): recognising each input by its
 * content, `ip -j addr`, `ip -j route`, `ss -ltnupH` and sysctl lines, what each
 * construct becomes, what is left out with RCH051 (at its line and column), what
 * is malformed (RCH055) or not recognised (RCH050), and that every fragment
 * loads as a topology.
 */
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { importLinux } from "../../src/import/linux.js";
import type { Fragment } from "../../src/import/types.js";
import { lower } from "../../src/lower/lower.js";
import { parseQuery } from "../../src/ir/query.js";
import { ask } from "../../src/query/dials.js";
import { loadTopologyText } from "../../src/topology/load.js";

type Link = { ifname: string; flags?: string[]; master?: string; link_type?: string; addr_info?: Record<string, unknown>[] };
const inet = (local: string, prefixlen: number, extra: Record<string, unknown> = {}) => ({
  family: local.includes(":") ? "inet6" : "inet",
  local,
  prefixlen,
  scope: local.startsWith("fe80") ? "link" : "global",
  ...extra,
});
const link = (ifname: string, addrs: Record<string, unknown>[], extra: Partial<Link> = {}): Link => ({
  ifname,
  flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
  addr_info: addrs,
  ...extra,
});
const LO: Link = {
  ifname: "lo",
  flags: ["LOOPBACK", "UP", "LOWER_UP"],
  link_type: "loopback",
  addr_info: [inet("127.0.0.1", 8, { scope: "host" }), inet("::1", 128, { scope: "host" })],
};

const ADDR = JSON.stringify([
  LO,
  link("eth0", [inet("192.168.1.10", 24), inet("2001:db8:1::10", 64), inet("fe80::1", 64)]),
  link("wlan0", [inet("10.9.0.5", 16)]),
]);
const ROUTE = JSON.stringify([
  { dst: "default", gateway: "192.168.1.1", dev: "eth0", protocol: "dhcp", prefsrc: "192.168.1.10", metric: 100, flags: [] },
  { dst: "10.9.0.0/16", dev: "wlan0", protocol: "kernel", scope: "link", prefsrc: "10.9.0.5", flags: [] },
  { dst: "192.168.1.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "192.168.1.10", metric: 100, flags: [] },
  { dst: "172.20.0.0/16", gateway: "10.9.0.1", dev: "wlan0", protocol: "static", flags: [] },
]);

async function imp(
  sources: Record<string, string>,
  host = "host",
): Promise<{ fragment: Fragment; diags: readonly Diagnostic[]; codes: string[] }> {
  const r = await importLinux(
    Object.entries(sources).map(([file, text]) => ({ file, text })),
    { host },
  );
  return {
    fragment: r.fragment,
    diags: r.diagnostics,
    codes: r.diagnostics.map((d) => `${d.code} ${d.span.file}:${d.span.line}:${d.span.col}`),
  };
}

/** The fragment as a topology file, with a machine `lan` on segment lan when there is one; must load without errors. */
function load(f: Fragment) {
  const lan = f.segments?.["lan"];
  const machines = { ...f.machines };
  if (lan !== undefined) {
    const subnet = typeof lan === "string" ? lan : lan.subnets[0]!;
    machines["lan"] = { interfaces: { eth0: { segment: "lan", addresses: [subnet.replace(/\.0\/(\d+)$/, ".250/$1")] } } };
  }
  const text = YAML.stringify({ ...(f.segments ? { segments: f.segments } : {}), machines });
  return lower(loadTopologyText("imported.yaml", text).topology);
}

const verdict = (net: ReturnType<typeof load>, q: string) => {
  const p = parseQuery(q);
  if (!p.ok) throw new Error(p.message);
  return ask(net, p.query).verdict;
};

describe("recognising inputs by content", () => {
  it("reads each format whatever the file is called", async () => {
    const r = await imp({
      a: ADDR,
      b: ROUTE,
      c: 'tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))\n',
      d: "net.ipv4.ip_forward = 1\n",
      e: "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n",
    });
    expect(r.diags).toEqual([]);
    const m = r.fragment.machines["host"]!;
    expect(Object.keys(m.interfaces!)).toEqual(["eth0", "wlan0"]);
    expect(m.services).toEqual([{ name: "sshd", proto: "tcp", port: 22, bind: "0.0.0.0" }]);
    expect(m.ip_forward).toBe(true);
  });
  it("garbage is RCH050, naming the formats understood", async () => {
    const r = await imp({ "notes.txt": "hello world\nthis is not a snapshot\n" });
    expect(r.codes).toEqual(["RCH050 notes.txt:1:1"]);
    expect(r.diags[0]!.expected).toContain("iptables-save");
    const j = await imp({ "x.json": '[{"name": "eth0"}]' });
    expect(j.codes).toEqual(["RCH050 x.json:1:1"]);
  });
  it("the human-readable forms of the same tools: RCH050 says which command to use", async () => {
    const cases: [string, string][] = [
      ["Chain INPUT (policy DROP 0 packets, 0 bytes)\n target prot opt source destination\n", "iptables-save"],
      ["table inet filter {\n\tchain input {\n", "nft -j list ruleset"],
      ["1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n", "ip -j addr"],
      ["default via 192.168.1.1 dev eth0 proto dhcp metric 100\n", "ip -j route"],
    ];
    for (const [text, use] of cases) {
      const r = await imp({ f: text });
      expect(r.codes).toEqual(["RCH050 f:1:1"]);
      expect(r.diags[0]!.message).toContain(`use ${use}`);
    }
  });
  it("malformed JSON is RCH055 at the broken character", async () => {
    const r = await imp({ "ip -j addr": '[{"ifname":"eth0",\n "flags": [UP]}]' });
    expect(r.codes).toEqual(["RCH055 ip -j addr:2:12"]);
    const cut = await imp({ "ip -j addr": ADDR.slice(0, 100) });
    expect(cut.diags.map((d) => d.code)).toEqual(["RCH055"]);
    const deep = await imp({ x: "[".repeat(5000) });
    expect(deep.diags.map((d) => d.code)).toEqual(["RCH055"]);
  });
  it("empty inputs (an empty ip6tables-save) add nothing", async () => {
    const r = await imp({ "ip6tables-save": "", "ip -j -6 route": "[]\n" });
    expect(r.diags).toEqual([]);
    expect(r.fragment.machines).toEqual({});
  });
  it("a second input of one kind is left out with RCH051", async () => {
    const r = await imp({ "a.json": ADDR, "b.json": ADDR });
    expect(r.codes).toEqual(["RCH051 b.json:1:1"]);
  });
});

describe("ip -j addr", () => {
  it("puts the default route's interface on lan and the others on HOST/IF, skipping lo and link-local", async () => {
    const r = await imp({ "ip -j addr": ADDR, "ip -j route": ROUTE }, "laptop");
    expect(r.diags).toEqual([]);
    expect(r.fragment.segments).toEqual({ lan: { subnets: ["192.168.1.0/24", "2001:db8:1::/64"] }, "laptop/wlan0": "10.9.0.0/16" });
    expect(r.fragment.machines["laptop"]!.interfaces).toEqual({
      eth0: { segment: "lan", addresses: ["192.168.1.10/24", "2001:db8:1::10/64"] },
      wlan0: { segment: "laptop/wlan0", addresses: ["10.9.0.5/16"] },
    });
    expect(r.fragment.notes.join(" ")).toContain("link-local");
    load(r.fragment);
  });
  it("IPv6 addresses in the order they were added: the kernel lists them newest first (IPv4 in order)", async () => {
    // `ip addr add 2001:db8:1::10/64`, then `::20/64`: ip lists ::20 first; a tie of IPv6 source selection goes to ::20
    const addr = JSON.stringify([
      LO,
      link("eth0", [inet("192.168.1.10", 24), inet("192.168.1.11", 24), inet("2001:db8:1::20", 64), inet("2001:db8:1::10", 64)]),
    ]);
    const r = await imp({ addr });
    expect(r.diags).toEqual([]);
    expect(r.fragment.machines["host"]!.interfaces!["eth0"]!.addresses).toEqual([
      "192.168.1.10/24",
      "192.168.1.11/24",
      "2001:db8:1::10/64",
      "2001:db8:1::20/64",
    ]);
  });
  it("bridge ports are left out, down interfaces lose their addresses, vboxnet becomes hostonly", async () => {
    const addr = JSON.stringify([
      LO,
      link("eth0", [inet("192.168.1.10", 24)]),
      link("docker0", [inet("172.17.0.1", 16)], { flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"] }),
      link("veth1", [inet("fe80::2", 64)], { master: "docker0" }),
      link("eth1", [inet("10.5.0.1", 24)], { flags: ["BROADCAST", "MULTICAST"] }),
      link("vboxnet0", [inet("192.168.56.1", 24)], { flags: ["BROADCAST", "MULTICAST"] }),
    ]);
    const r = await imp({ addr });
    expect(r.diags).toEqual([]);
    const m = r.fragment.machines["host"]!;
    expect(m.interfaces).toEqual({
      eth0: { segment: "host/eth0", addresses: ["192.168.1.10/24"] },
      docker0: { segment: "host/docker0", addresses: ["172.17.0.1/16"] },
      eth1: { segment: "host/eth1", addresses: [] },
    });
    expect(m.hostonly).toEqual({ vboxnet0: { addresses: ["192.168.56.1/24"] } });
    expect(r.fragment.segments!["host/eth1"]).toEqual({ subnets: [] });
    const notes = r.fragment.notes.join("\n");
    expect(notes).toContain("veth1 of docker0");
    expect(notes).toContain("eth1 is down");
    expect(notes).toContain("vboxnet0 is down");
    load(r.fragment);
  });
  it("a point-to-point peer is RCH051 at its address; a bad address is RCH010", async () => {
    const text =
      '[{"ifname":"tun0","flags":["UP"],"addr_info":[{"family":"inet","local":"10.8.0.1","address":"10.8.0.2","prefixlen":32}]},\n{"ifname":"eth9","flags":["UP"],"addr_info":[{"family":"inet","local":"300.1.1.1","prefixlen":24}]}]';
    const r = await imp({ addr: text });
    expect(r.codes).toEqual(["RCH051 addr:1:47", "RCH010 addr:2:46"]);
    expect(r.fragment.machines["host"]!.interfaces!["tun0"]).toEqual({ segment: "host/tun0", addresses: ["10.8.0.1/32"] });
  });
});

describe("ip -j route", () => {
  it("imports default and static routes, skips connected ones", async () => {
    const r = await imp({ addr: ADDR, route: ROUTE });
    expect(r.fragment.machines["host"]!.routes).toEqual([
      { to: "default", via: "192.168.1.1", dev: "eth0", metric: 100 },
      { to: "172.20.0.0/16", via: "10.9.0.1", dev: "wlan0" },
    ]);
  });
  it("IPv6 routes: a default via a link-local router, an on-link prefix", async () => {
    const r6 = JSON.stringify([
      { dst: "2001:db8:1::/64", dev: "eth0", protocol: "kernel", metric: 256, flags: [], pref: "medium" },
      { dst: "fe80::/64", dev: "eth0", protocol: "kernel", metric: 1024, flags: [], pref: "medium" },
      { dst: "2001:db8:99::/64", dev: "wlan0", protocol: "static", metric: 1024, flags: [], pref: "medium" },
      { dst: "default", gateway: "fe80::1", dev: "eth0", protocol: "ra", metric: 100, flags: [], pref: "medium" },
    ]);
    const r = await imp({ addr: ADDR, route: ROUTE, route6: r6 });
    expect(r.diags).toEqual([]);
    expect(r.fragment.machines["host"]!.routes).toEqual([
      { to: "default", via: "192.168.1.1", dev: "eth0", metric: 100 },
      { to: "172.20.0.0/16", via: "10.9.0.1", dev: "wlan0" },
      { to: "2001:db8:99::/64", dev: "wlan0" },
      { to: "::/0", via: "fe80::1", dev: "eth0", metric: 100 },
    ]);
    load(r.fragment);
  });
  it("what the language cannot say is RCH051, each at its route", async () => {
    const routes = [
      { dst: "default", gateway: "192.168.1.1", dev: "eth0", metric: 100, flags: [] },
      { type: "blackhole", dst: "10.66.0.0/16", flags: [] },
      { type: "unreachable", dst: "10.67.0.0/16", flags: [] },
      { dst: "10.70.0.0/16", table: "100", gateway: "192.168.1.2", dev: "eth0", flags: [] },
      {
        dst: "10.71.0.0/16",
        nexthops: [
          { gateway: "192.168.1.2", dev: "eth0" },
          { gateway: "192.168.1.3", dev: "eth0" },
        ],
        flags: [],
      },
      { dst: "10.72.0.0/16", gateway: "172.30.0.1", dev: "eth0", flags: ["onlink"] },
      { dst: "10.73.0.0/16", gateway: "10.1.1.1", dev: "tun7", flags: [] },
      { dst: "10.74.0.0/16", gateway: "192.168.1.4", dev: "eth0", prefsrc: "10.9.0.5", flags: [] },
    ];
    const text = `[${routes.map((x) => JSON.stringify(x)).join(",\n")}]`;
    const r = await imp({ addr: ADDR, route: text });
    expect(r.codes).toEqual([
      "RCH051 route:2:1",
      "RCH051 route:3:1",
      "RCH051 route:4:1",
      "RCH051 route:5:1",
      "RCH051 route:6:1",
      "RCH051 route:7:1",
      "RCH051 route:8:1",
    ]);
    expect(r.diags.map((d) => d.message.split(":")[0])).toEqual([
      "route 'blackhole 10.66.0.0/16' (type blackhole) is not modelled",
      "route 'unreachable 10.67.0.0/16' (type unreachable) is not modelled",
      "route '10.70.0.0/16 via 192.168.1.2 dev eth0' of table 100 (policy routing) is not modelled",
      "multipath route '10.71.0.0/16' is not modelled",
      "route '10.72.0.0/16 via 172.30.0.1 dev eth0'",
      "route '10.73.0.0/16 via 10.1.1.1 dev tun7' goes through tun7, which is not imported (down, a bridge port, lo or absent from `ip -j addr`)",
      "the source hint 'src 10.9.0.5' of route '10.74.0.0/16 via 192.168.1.4 dev eth0' is not modelled (the model picks an address of eth0)",
    ]);
    expect(r.fragment.machines["host"]!.routes).toEqual([
      { to: "default", via: "192.168.1.1", dev: "eth0", metric: 100 },
      { to: "10.74.0.0/16", via: "192.168.1.4", dev: "eth0" },
    ]);
    load(r.fragment);
  });
  it("two default routes: both kept with their metrics (the lowest wins in the model as in the kernel)", async () => {
    const text = JSON.stringify([
      { dst: "default", gateway: "10.9.0.1", dev: "wlan0", metric: 600, flags: [] },
      { dst: "default", gateway: "192.168.1.1", dev: "eth0", metric: 100, flags: [] },
    ]);
    const r = await imp({ addr: ADDR, route: text });
    expect(r.diags).toEqual([]);
    expect(r.fragment.machines["host"]!.routes).toEqual([
      { to: "default", via: "10.9.0.1", dev: "wlan0", metric: 600 },
      { to: "default", via: "192.168.1.1", dev: "eth0", metric: 100 },
    ]);
    load(r.fragment);
    expect(r.fragment.segments!["lan"]).toBeDefined();
  });
  it("ip -j rule: the default rules are fine, policy routing is RCH051", async () => {
    const rules =
      '[{"priority":0,"src":"all","table":"local"},\n{"priority":5209,"not":null,"src":"all","fwmark":"0xca6c","table":"51820"},\n{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';
    const r = await imp({ addr: ADDR, rules });
    expect(r.codes).toEqual(["RCH051 rules:2:1"]);
    expect(r.diags[0]!.message).toContain("fwmark 0xca6c");
  });
  it("routes without ip -j addr cannot be checked: RCH051 and a note", async () => {
    const r = await imp({ route: ROUTE });
    expect(r.diags.map((d) => d.code)).toEqual(["RCH051", "RCH051"]);
    expect(r.fragment.notes.join(" ")).toContain("No `ip -j addr`");
  });
});

describe("ss -ltnupH", () => {
  const SS = [
    'udp   UNCONN 0      0          127.0.0.53%lo:53           0.0.0.0:*    users:(("systemd-resolve",pid=612,fd=13))',
    'tcp   LISTEN 0      128              0.0.0.0:22           0.0.0.0:*    users:(("sshd",pid=901,fd=3))',
    'tcp   LISTEN 0      128                 [::]:22              [::]:*    users:(("sshd",pid=901,fd=4))',
    'tcp   LISTEN 0      511                    *:80                 *:*    users:(("nginx",pid=1201,fd=6),("nginx",pid=1200,fd=6))',
    'tcp   LISTEN 0      511                    *:80                 *:*    users:(("nginx",pid=1202,fd=6))',
    "tcp   LISTEN 0      4096      192.168.1.10:9100           0.0.0.0:*",
    'tcp   LISTEN 0      244      [::ffff:127.0.0.1]:6379         *:*    users:(("redis-server",pid=77,fd=6))',
    'udp   UNCONN 0      0      0.0.0.0%eth0:68            0.0.0.0:*    users:(("dhclient",pid=500,fd=7))',
    'tcp   ESTAB  0      0         192.168.1.10:22       192.168.1.20:51234 users:(("sshd",pid=3000,fd=4))',
  ].join("\n");
  it("listeners become services with the socket's bind, v6only and device", async () => {
    const r = await imp({ addr: ADDR, route: ROUTE, ss: SS });
    expect(r.diags).toEqual([]);
    expect(r.fragment.machines["host"]!.services).toEqual([
      { name: "systemd-resolve", proto: "udp", port: 53, bind: "127.0.0.53", device: "lo" },
      { name: "sshd", proto: "tcp", port: 22, bind: "0.0.0.0" },
      { name: "sshd tcp [::]:22", proto: "tcp", port: 22, bind: "::", v6only: true },
      { name: "nginx", proto: "tcp", port: 80, bind: "::" },
      { name: "port 9100", proto: "tcp", port: 9100, bind: "192.168.1.10" },
      { name: "redis-server", proto: "tcp", port: 6379, bind: "::ffff:127.0.0.1" },
      { name: "dhclient", proto: "udp", port: 68, bind: "0.0.0.0", device: "eth0" },
    ]);
    expect(r.fragment.notes.join(" ")).toContain("1 ss line(s) were not listening");
    const net = load(r.fragment);
    // `*:80` is dual-stack: IPv4 reaches it; `[::]:22` is IPv6-only but sshd also has 0.0.0.0:22
    expect(verdict(net, "lan -> 192.168.1.10:80/tcp")).toBe("reachable");
    expect(verdict(net, "lan -> 192.168.1.10:6379/tcp")).toBe("unreachable");
  });
  it("sockets the model cannot hold are RCH051 at their address", async () => {
    const ss = [
      "udp UNCONN 0 0 [fe80::1]%eth0:546 [::]:*",
      "tcp LISTEN 0 128 10.99.0.1:8080 0.0.0.0:*",
      "tcp LISTEN 0 128 0.0.0.0%tun0:8081 0.0.0.0:*",
      "udp UNCONN 0 0 0.0.0.0:5353 0.0.0.0:*",
      "udp UNCONN 0 0 192.168.1.10:5353 0.0.0.0:*",
      "tcp LISTEN 0 128 :::25 :::*",
      "tcp LISTEN 0 128 0.0.0.0:99999 0.0.0.0:*",
    ].join("\n");
    const r = await imp({ addr: ADDR, ss });
    expect(r.codes).toEqual(["RCH051 ss:1:16", "RCH051 ss:2:18", "RCH051 ss:3:18", "RCH051 ss:5:16", "RCH051 ss:6:18", "RCH051 ss:7:18"]);
    expect(r.diags[3]!.message).toContain("shares port 5353 with 0.0.0.0:5353");
    expect(r.diags[4]!.message).toContain("old ss format");
    load(r.fragment);
  });
  it("without ip -j addr, sockets on specific addresses cannot be checked", async () => {
    const r = await imp({ ss: "tcp LISTEN 0 128 192.168.1.10:22 0.0.0.0:*\ntcp LISTEN 0 128 127.0.0.1:631 0.0.0.0:*\n" });
    expect(r.codes).toEqual(["RCH051 ss:1:18"]);
    expect(r.fragment.machines["host"]!.services).toEqual([{ name: "port 631", proto: "tcp", port: 631, bind: "127.0.0.1" }]);
  });
  it("a header line and other socket types are tolerated", async () => {
    const r = await imp({
      ss: "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\nu_str LISTEN 0 4096 /run/systemd/private 13020 * 0\ntcp LISTEN 0 128 127.0.0.1:631 0.0.0.0:*\n",
    });
    expect(r.diags).toEqual([]);
    expect(r.fragment.notes.join(" ")).toContain("u_str");
  });
});

describe("sysctl", () => {
  it("reads forwarding, rp_filter (the larger of all and default) and route_localnet", async () => {
    const r = await imp({
      sysctl:
        "net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.default.rp_filter = 1\nnet.ipv4.conf.all.route_localnet = 1\nnet.ipv6.conf.all.forwarding = 1\nnet.ipv6.bindv6only = 1\nkernel.hostname = x\n",
    });
    expect(r.diags).toEqual([]);
    expect(r.fragment.machines["host"]).toEqual({ ip_forward: true, rp_filter: 1, route_localnet: true });
    expect(r.fragment.notes.join(" ")).toContain("bindv6only = 1");
  });
  it("IPv6 forwarding unlike IPv4's is RCH051 when the machine has IPv6 addresses, a note otherwise", async () => {
    const sys = "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 0\n";
    const withV6 = await imp({ addr: ADDR, sysctl: sys });
    expect(withV6.codes).toEqual(["RCH051 sysctl:2:32"]);
    const v4only = await imp({ addr: JSON.stringify([LO, link("eth0", [inet("192.168.1.10", 24)])]), sysctl: sys });
    expect(v4only.diags).toEqual([]);
    expect(v4only.fragment.notes.join(" ")).toContain("IPv6 forwarding (0) differs");
  });
  it("bad values and per-interface settings are RCH051", async () => {
    const r = await imp({
      sysctl:
        "net.ipv4.ip_forward = yes\nnet.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.default.rp_filter = 0\nnet.ipv4.conf.eth0.rp_filter = 1\nnet.ipv4.conf.eth1.rp_filter = 0\nthis is not sysctl\n",
    });
    expect(r.codes).toEqual(["RCH051 sysctl:1:23", "RCH051 sysctl:4:32", "RCH051 sysctl:6:1"]);
  });
});

describe("the whole host", () => {
  it("a server snapshot answers what the LAN can reach", async () => {
    const ipt = [
      "# Generated by iptables-save v1.8.7 on Sat Nov 23 10:12:01 2024",
      "*filter",
      ":INPUT DROP [0:0]",
      ":FORWARD DROP [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      "-A INPUT -i lo -j ACCEPT",
      "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-A INPUT -s 192.168.1.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
      "COMMIT",
    ].join("\n");
    const ss =
      'tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=1,fd=3))\ntcp LISTEN 0 128 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=2,fd=3))\n';
    const r = await imp({ addr: ADDR, route: ROUTE, ss, "iptables-save": ipt, sysctl: "net.ipv4.ip_forward = 0\n" });
    expect(r.diags).toEqual([]);
    const net = load(r.fragment);
    expect(verdict(net, "lan -> host:22/tcp")).toBe("reachable");
    expect(verdict(net, "lan -> host:80/tcp")).toBe("unreachable");
    expect(verdict(net, "host -> localhost:80/tcp")).toBe("reachable");
  });
  it("never throws, whatever it is given", async () => {
    const inputs = [
      "{",
      "[",
      '{"nftables": 3}',
      '{"nftables": [{"rule": {}}]}',
      '[{"ifname": 3, "addr_info": "x"}]',
      '[{"dst": 7}]',
      "*filter\n-A",
      "*nat\n:X - [0:0]\n-A X -j DNAT\nCOMMIT",
      "tcp LISTEN 0 0 x y",
      "net.x =",
      "\0\0\0",
      "[" + '{"ifname":"a"},'.repeat(3) + "{}]",
    ];
    for (const t of inputs) {
      const r = await importLinux([{ file: "f", text: t }], { host: "host" });
      for (const d of r.diagnostics) expect(d.span.line).toBeGreaterThanOrEqual(1);
    }
  });
});
