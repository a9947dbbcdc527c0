/**
 * Reject types through the importers: iptables `-j REJECT --reject-with X` (iptables and
 * ip6tables names, long and short), nft `reject with tcp reset | icmpx | icmp | icmpv6 type X`
 * (with the dependency nft adds: TCP only, IPv4 only, IPv6 only), and what is not modelled.
 */
import { describe, expect, it } from "vitest";
import { importLinux } from "../../src/import/linux.js";
import { lower } from "../../src/lower/lower.js";
import { parseIP } from "../../src/net/addr.js";
import { evalChain } from "../../src/sim/elements.js";
import type { Packet } from "../../src/sim/types.js";
import { renderTopology } from "../../src/import/render.js";
import type { Fragment } from "../../src/import/types.js";
import { loadTopologyText } from "../../src/topology/load.js";

const IP_ADDR = JSON.stringify([
  { ifname: "lo", flags: ["LOOPBACK", "UP"], link_type: "loopback", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }] },
  {
    ifname: "eth0",
    flags: ["BROADCAST", "UP", "LOWER_UP"],
    addr_info: [
      { family: "inet", local: "10.1.2.1", prefixlen: 24, scope: "global" },
      { family: "inet6", local: "fd00:1:2::1", prefixlen: 64, scope: "global" },
    ],
  },
]);
const save = (rules: string[]) =>
  ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT"].join("\n");

async function imported(sources: Record<string, string>) {
  const r = await importLinux(
    Object.entries(sources).map(([file, text]) => ({ file, text })),
    { host: "host" },
  );
  return { rules: r.fragment.machines["host"]!.firewall?.input?.rules ?? [], diags: r.diagnostics, fragment: r.fragment };
}

const render = (f: Fragment) =>
  renderTopology({ doc: { segments: f.segments, machines: f.machines }, command: "test", notes: [], warnings: [] });

const pk = (proto: Packet["proto"], src: string, dst: string, dport: number): Packet => ({
  proto,
  src: parseIP(src)!,
  dst: parseIP(dst)!,
  sport: 40000,
  dport,
});

describe("iptables-save: -j REJECT --reject-with", () => {
  it("each IPv4 and IPv6 name becomes the language's type; port-unreachable, the default, is left implicit", async () => {
    const v4 = await imported({
      addr: IP_ADDR,
      "iptables-save": save([
        "-A INPUT -p tcp -m tcp --dport 1 -j REJECT --reject-with tcp-reset",
        "-A INPUT -p tcp -m tcp --dport 2 -j REJECT --reject-with icmp-port-unreachable",
        "-A INPUT -p tcp -m tcp --dport 3 -j REJECT --reject-with icmp-host-unreachable",
        "-A INPUT -p tcp -m tcp --dport 4 -j REJECT --reject-with icmp-net-unreachable",
        "-A INPUT -p tcp -m tcp --dport 5 -j REJECT --reject-with icmp-admin-prohibited",
        "-A INPUT -p tcp -m tcp --dport 6 -j REJECT --reject-with icmp-host-prohibited",
        "-A INPUT -p tcp -m tcp --dport 7 -j REJECT --reject-with net-prohib",
        "-A INPUT -p tcp -m tcp --dport 8 -j REJECT",
      ]),
    });
    expect(v4.diags).toEqual([]);
    expect(v4.rules.map((r) => [r.dport, r.with])).toEqual([
      [1, "tcp-reset"],
      [2, undefined],
      [3, "host-unreachable"],
      [4, "net-unreachable"],
      [5, "admin-prohibited"],
      [6, "host-prohibited"],
      [7, "net-prohibited"],
      [8, undefined],
    ]);
    const v6 = await imported({
      addr: IP_ADDR,
      "ip6tables-save": save([
        "-A INPUT -p tcp -m tcp --dport 1 -j REJECT --reject-with icmp6-adm-prohibited",
        "-A INPUT -p tcp -m tcp --dport 2 -j REJECT --reject-with icmp6-addr-unreachable",
        "-A INPUT -p tcp -m tcp --dport 3 -j REJECT --reject-with icmp6-no-route",
        "-A INPUT -p tcp -m tcp --dport 4 -j REJECT --reject-with icmp6-port-unreachable",
      ]),
    });
    expect(v6.diags).toEqual([]);
    expect(v6.rules.map((r) => [r.dport, r.with])).toEqual([
      [1, "admin-prohibited"],
      [2, "host-unreachable"],
      [3, "net-unreachable"],
      [4, undefined],
    ]);
  });

  it("an IPv4-only type stays on an IPv4 rule, so the imported file passes the checker", async () => {
    const r = await imported({ addr: IP_ADDR, "iptables-save": save(["-A INPUT -j REJECT --reject-with icmp-host-prohibited"]) });
    expect(r.rules).toEqual([expect.objectContaining({ action: "reject", with: "host-prohibited", src: "0.0.0.0/0" })]);
    expect(() => loadTopologyText("imported.yaml", render(r.fragment))).not.toThrow();
  });

  it("a type the model lacks leaves the rule out with RCH051 at the option", async () => {
    const r = await imported({
      addr: IP_ADDR,
      "iptables-save": save(["-A INPUT -p tcp -m tcp --dport 9 -j REJECT --reject-with icmp-proto-unreachable"]),
    });
    expect(r.rules).toEqual([]);
    expect(r.diags.map((d) => `${d.code} ${d.span.line}:${d.span.col}`)).toEqual(["RCH051 5:58"]);
    expect(r.diags[0]!.message).toContain("--reject-with icmp-proto-unreachable is not modelled");
  });
});

const nftWith = (family: string, reject: unknown) =>
  JSON.stringify({
    nftables: [
      { table: { family, name: "fw", handle: 1 } },
      { chain: { family, table: "fw", name: "in", handle: 1, type: "filter", hook: "input", prio: 0, policy: "accept" } },
      { rule: { family, table: "fw", chain: "in", handle: 2, expr: [{ reject }] } },
    ],
  });

describe("nft -j list ruleset: reject with", () => {
  it("icmpx, tcp reset and the default", async () => {
    const cases: [unknown, string | undefined][] = [
      [null, undefined],
      [{ type: "icmpx", expr: "port-unreachable" }, undefined],
      [{ type: "icmpx", expr: "admin-prohibited" }, "admin-prohibited"],
      [{ type: "icmpx", expr: "no-route" }, "net-unreachable"],
      [{ type: "icmpx", expr: "host-unreachable" }, "host-unreachable"],
      [{ type: "tcp reset" }, "tcp-reset"],
    ];
    for (const [reject, w] of cases) {
      const r = await imported({ addr: IP_ADDR, nft: nftWith("inet", reject) });
      expect(r.diags).toEqual([]);
      expect(r.rules.map((x) => x.with)).toEqual([w]);
    }
  });

  it("the dependency nft adds: a TCP reset only for TCP, an ICMP type only for IPv4 and an ICMPv6 type only for IPv6 (inet table)", async () => {
    const lowered = async (reject: unknown) => {
      const r = await imported({ addr: IP_ADDR, nft: nftWith("inet", reject) });
      expect(r.diags).toEqual([]);
      const net = lower(loadTopologyText("imported.yaml", render(r.fragment)).topology);
      const m = net.machines.find((x) => x.name === "host")!;
      return (p: Packet) => evalChain(m.filter.input, p, { in: "eth0", state: "new" });
    };
    const reset = await lowered({ type: "tcp reset" });
    expect(reset(pk("tcp", "10.1.2.9", "10.1.2.1", 80)).action).toBe("reject");
    expect(reset(pk("udp", "10.1.2.9", "10.1.2.1", 53)).action).toBe("accept");
    const v4 = await lowered({ type: "icmp", expr: "host-prohibited" });
    expect(v4(pk("tcp", "10.1.2.9", "10.1.2.1", 80)).rule?.with).toBe("host-prohibited");
    expect(v4(pk("tcp", "fd00:1:2::9", "fd00:1:2::1", 80)).action).toBe("accept");
    const v6 = await lowered({ type: "icmpv6", expr: "addr-unreachable" });
    expect(v6(pk("tcp", "fd00:1:2::9", "fd00:1:2::1", 80)).rule?.with).toBe("host-unreachable");
    expect(v6(pk("tcp", "10.1.2.9", "10.1.2.1", 80)).action).toBe("accept");
  });

  it("an ICMP type in an ip6 table matches nothing; a type the model lacks leaves the rule out (RCH051)", async () => {
    expect((await imported({ addr: IP_ADDR, nft: nftWith("ip6", { type: "icmp", expr: "host-prohibited" }) })).rules).toEqual([]);
    const r = await imported({ addr: IP_ADDR, nft: nftWith("inet", { type: "icmp", expr: "prot-unreachable" }) });
    expect(r.rules).toEqual([]);
    expect(r.diags.map((d) => d.code)).toEqual(["RCH051"]);
    expect(r.diags[0]!.message).toContain("reject with icmp prot-unreachable");
  });
});
