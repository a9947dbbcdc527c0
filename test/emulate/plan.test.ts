/**
 * The emulator's build plan (src/emulate/plan.ts), as pure data: nothing here
 * builds a namespace of the emulator.
 *
 *  - the one sanitiser of interface names (kernelIfNames) keeps plain names and
 *    maps every hostile one to `if_<k>`, injectively, and its output passes the
 *    last check (assertKernelName); namespace names must be `reach-<pid>-<n>-...`;
 *  - planBuild on a topology whose machine, segment, interface, service, forward
 *    and rule-comment names are as hostile as the checker accepts: none of those
 *    strings reaches a line handed to `ip -b -`, `nft -f -`, a listener's host or
 *    slirp4netns (names the checker rejects are rejected with RCH004);
 *  - nftRuleset on a small firewall: rule order, policy, sanitised in/out names,
 *    ports without a protocol; unsupported() on a device-bound service;
 *  - as root with nft installed: every bundled model's rulesets (and the hostile
 *    one's) pass `nft -c -f -`, inside a throwaway namespace `reachtest-<pid>-plan`
 *    made and deleted here (never the root namespace's firewall).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import type { Iface, Machine, Match, NatRule, Network, Origin, Rule } from "../../src/ir/types.js";
import { ip4 } from "../../src/net/addr.js";
import { lower } from "../../src/lower/lower.js";
import {
  assertKernelName,
  assertNamespaceName,
  kernelIfNames,
  nftRuleset,
  planBuild,
  unsupported,
  type BuildPlan,
} from "../../src/emulate/plan.js";
import { loadTopologyFile, loadTopologyText } from "../../src/topology/load.js";
import { MODEL_FILES, MODELS_DIR } from "../model-files.js";

const ORIGIN: Origin = { span: { file: "plan.test.ts", line: 1, col: 1 }, what: "test" };

/** A machine with these interface names (after `lo`) and nothing else: kernelIfNames reads only the names. */
function machineWith(name: string, ifnames: readonly string[]): Machine {
  const chain = (n: "input" | "output" | "forward") => ({ name: n, policy: "accept" as const, rules: [] });
  const lo: Iface = { name: "lo", segment: null, addrs: [], origin: ORIGIN };
  return {
    name,
    kind: "host",
    origin: ORIGIN,
    interfaces: [lo, ...ifnames.map((n): Iface => ({ name: n, segment: "lan", addrs: [], origin: ORIGIN }))],
    routes: [],
    ipForward: false,
    rpFilter: 0,
    routeLocalnet: false,
    filter: { input: chain("input"), output: chain("output"), forward: chain("forward") },
    nat: { prerouting: [], output: [], postrouting: [] },
    sockets: [],
  };
}

/** The namespace names the emulator would use for a run of pid 4242. */
const NS = (k: number | "sw") => `reach-4242-0-${k}`;

const netOf = (doc: unknown, file = "hostile.json"): Network => lower(loadTopologyText(file, JSON.stringify(doc, null, 2)).topology);

/** The codes of a topology the checker must reject. */
function rejected(doc: unknown): string[] {
  try {
    loadTopologyText("rejected.json", JSON.stringify(doc, null, 2));
  } catch (e) {
    if (e instanceof InputError) return e.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.message}`);
    throw e;
  }
  throw new Error(`expected the checker to reject ${JSON.stringify(doc)}`);
}

const PLAIN = ["eth0", "enp0s3", "vboxnet0", "wlan0", "ETH1", "abcdefghijkl" /* 12: the longest kept */];
const HOSTILE = [
  "eth 0",
  'e"th0',
  "eth0;reboot",
  "$(reboot)",
  "`id`",
  "a/b",
  "../..",
  "eth0\nlink del lo",
  "ünïcödé",
  "\u202eeth0",
  "abcdefghijklm" /* 13 */,
  "abcdefghijklmnop" /* 16: longer than IFNAMSIZ allows */,
  "abcdefghijklmnopqrstu" /* 21 */,
  "0eth",
  "-rf",
  "lo0 ; rm",
  "eth-0",
  "eth.0",
  "if_1",
  "if_9",
  ".",
  "..",
  "%d",
  "eth0\u0000",
  "",
];

describe("kernelIfNames: the one sanitiser of interface names", () => {
  const m = machineWith("m", [...PLAIN, ...HOSTILE]);
  const names = kernelIfNames(m);

  it("keeps lo and plain names (letters and digits, a letter first, at most 12)", () => {
    expect(names.get("lo")).toBe("lo");
    for (const p of PLAIN) expect({ p, k: names.get(p) }).toEqual({ p, k: p });
  });

  it("maps every hostile name to if_<its index>", () => {
    for (const h of HOSTILE) {
      const k = m.interfaces.findIndex((i) => i.name === h);
      expect({ h, k: names.get(h) }).toEqual({ h, k: `if_${k}` });
    }
  });

  it("is injective per machine, also when a hostile name looks like a generated one (if_1, if_9)", () => {
    expect(names.size).toBe(m.interfaces.length);
    expect(new Set(names.values()).size).toBe(m.interfaces.length);
    // order does not matter: the same names in reverse
    const r = kernelIfNames(machineWith("r", [...HOSTILE, ...PLAIN].reverse()));
    expect(new Set(r.values()).size).toBe(r.size);
  });

  it("every output passes assertKernelName", () => {
    for (const k of names.values()) expect(assertKernelName(k)).toBe(k);
  });
});

describe("assertKernelName / assertNamespaceName", () => {
  it("assertKernelName accepts short plain names and throws on anything else", () => {
    for (const ok of ["eth0", "if_3", "br0", "p12", "t0", "a.b-c_d", "abcdefghijklmno"]) expect(assertKernelName(ok)).toBe(ok);
    for (const bad of [
      "",
      ".",
      "..",
      "a b",
      'a"b',
      "a;b",
      "$(x)",
      "`x`",
      "a/b",
      "a\nb",
      "a:b",
      "ü",
      "abcdefghijklmnop",
      "eth0\u0000",
      "eth0\n",
    ]) {
      expect(() => assertKernelName(bad), JSON.stringify(bad)).toThrow(/unsafe kernel name/);
    }
  });

  it("assertNamespaceName accepts only reach-<pid>-<n>-(sw|<k>)", () => {
    for (const ok of ["reach-1-0-sw", "reach-4242-17-0", "reach-99999-3-12"]) expect(assertNamespaceName(ok)).toBe(ok);
    const bad = [
      "reach-1-0",
      "reach-1-0-",
      "reach-1-0-sw2",
      "reach-a-0-1",
      "reach--0-1",
      "reachtest-1-plan",
      "reach-1-0-sw\n",
      "reach-1-0-sw; ip netns del x",
      "../reach-1-0-1",
      "reach-1-0-1/..",
      "Reach-1-0-1",
      " reach-1-0-1",
      "reach-1-0-x",
      "",
    ];
    for (const b of bad) expect(() => assertNamespaceName(b), JSON.stringify(b)).toThrow(/unsafe namespace name/);
  });
});

// ------------------------------------------------------------------ a hostile topology

/** Interface names the checker accepts (1-15 characters, no whitespace, '/' or ':'), each as hostile as that allows. */
const IF = {
  quote: 'e"$(id)',
  semi: "x;rm`id`",
  uni: "ünïcödé",
  dash: "-rf",
  digit: "0eth",
  long: "abcdefghijklmno",
  pipe: "a|b&c>d<e",
  lo: "lo0;rm",
  brace: '}"{',
  dollar: "$IFS$9",
  sq: "'x'",
  star: "*",
} as const;

const MACHINE = {
  srv: 'srv"; $(touch /tmp/reach-pwn) `id` #',
  cli: "cli\nent ; rm -rf / ; ' \" \\",
  path: "../../etc/passwd",
  vm: "vm 💥 $(reboot)",
} as const;
const SEGMENT = { a: "lan; ip netns del $(x)", b: 'w`a`n\n"' } as const;
const SERVICE = ['ssh"; $(reboot) `id`', "web\n{ flush ruleset }"] as const;
const COMMENT = '"; flush ruleset; $(reboot) `id`';
const FORWARD = 'fw"; $(halt)';

const HOSTILE_DOC = {
  segments: { [SEGMENT.a]: "192.168.50.0/24", [SEGMENT.b]: "192.168.60.0/24" },
  machines: {
    [MACHINE.srv]: {
      interfaces: {
        [IF.quote]: { segment: SEGMENT.a, addresses: ["192.168.50.10/24"] },
        [IF.semi]: { segment: SEGMENT.b, addresses: ["192.168.60.10/24"] },
        [IF.uni]: { segment: SEGMENT.b, addresses: ["192.168.60.11/24"] },
        [IF.dash]: { segment: SEGMENT.b, addresses: ["192.168.60.12/24"] },
        [IF.digit]: { segment: SEGMENT.b, addresses: ["192.168.60.13/24"] },
        [IF.long]: { segment: SEGMENT.b, addresses: ["192.168.60.14/24"] },
        [IF.pipe]: { segment: SEGMENT.b, addresses: ["192.168.60.15/24"] },
        [IF.lo]: { segment: SEGMENT.b, addresses: ["192.168.60.16/24"] },
        [IF.brace]: { segment: SEGMENT.b, addresses: ["192.168.60.17/24"] },
        [IF.dollar]: { segment: SEGMENT.b, addresses: ["192.168.60.18/24"] },
        [IF.sq]: { segment: SEGMENT.b, addresses: ["192.168.60.19/24"] },
        [IF.star]: { segment: SEGMENT.b, addresses: ["192.168.60.20/24"] },
      },
      routes: [{ to: "10.99.0.0/16", via: "192.168.50.1", dev: IF.quote }],
      ip_forward: true,
      services: [
        { name: SERVICE[0], proto: "tcp", port: 22, bind: "0.0.0.0" },
        { name: SERVICE[1], proto: "udp", port: 53, bind: "0.0.0.0", pktinfo: true },
      ],
      firewall: {
        input: {
          policy: "drop",
          rules: [
            { action: "accept", in: "lo", comment: COMMENT },
            { action: "accept", state: ["established", "related"], comment: COMMENT },
            { action: "accept", proto: "tcp", dport: 22, in: IF.quote, comment: COMMENT },
            { action: "drop", in: IF.semi, comment: COMMENT },
            { action: "accept", proto: "udp", dport: 53, in: IF.uni, comment: COMMENT },
            { action: "reject", in: IF.dash, comment: COMMENT },
          ],
        },
        output: { policy: "accept", rules: [{ action: "drop", out: IF.digit, proto: "icmp", comment: COMMENT }] },
        forward: { policy: "drop", rules: [{ action: "accept", in: IF.brace, out: IF.star, comment: COMMENT }] },
      },
      nat: [
        { action: "masquerade", out: IF.pipe, comment: COMMENT },
        {
          action: "dnat",
          chain: "prerouting",
          in: IF.dollar,
          proto: "tcp",
          dport: 8022,
          to: "192.168.50.10",
          toPort: 22,
          comment: COMMENT,
        },
        { action: "snat", out: IF.sq, to: "192.168.60.19", comment: COMMENT },
      ],
    },
    [MACHINE.cli]: {
      interfaces: { eth0: { segment: SEGMENT.a, addresses: ["192.168.50.20/24"] } },
    },
    [MACHINE.path]: {
      interfaces: { [IF.lo]: { segment: SEGMENT.a, addresses: ["192.168.50.30/24"] } },
      services: [{ name: SERVICE[1], proto: "tcp", port: 80 }],
    },
    [MACHINE.vm]: {
      vm: {
        on: MACHINE.srv,
        adapters: [{ mode: "nat", interface: IF.quote, forwards: [{ name: FORWARD, proto: "tcp", hostPort: 2222, guestPort: 22 }] }],
      },
      services: [{ name: SERVICE[0], proto: "tcp", port: 22, bind: "0.0.0.0" }],
    },
  },
};

/** Every string the plan hands to a command: batch lines, sysctls, rulesets, listener hosts, slirp4netns arguments. */
function commandText(plan: BuildPlan): string[] {
  const out: string[] = [];
  for (const l of plan.switchBatch) out.push(l.line);
  for (const m of plan.machines) {
    for (const l of m.ipBatch) out.push(l.line);
    out.push(...m.sysctls);
    if (m.nft) out.push(...m.nft.split("\n"));
    for (const l of m.listeners) out.push(l.host, l.tag);
    out.push(...m.ifNames.values());
  }
  for (const s of plan.slirps) {
    out.push(s.tap, s.bridge, s.cidr);
    for (const f of s.forwards) out.push(f.hostAddr, f.guestAddr);
  }
  return out;
}

const HOSTILE_STRINGS = [...Object.values(IF), ...Object.values(MACHINE), ...Object.values(SEGMENT), ...SERVICE, COMMENT, FORWARD];

describe("planBuild on the most hostile names the checker accepts", () => {
  const net = netOf(HOSTILE_DOC);
  const plan = planBuild(net, NS);

  it("the topology passes the checker and lowers with its names intact", () => {
    expect(net.machines.map((m) => m.name)).toEqual(expect.arrayContaining(Object.values(MACHINE)));
    const srv = net.machines.find((m) => m.name === MACHINE.srv)!;
    for (const i of Object.values(IF)) expect(srv.interfaces.map((x) => x.name)).toContain(i);
    expect(plan.machines.map((m) => m.name)).toEqual(expect.arrayContaining(Object.values(MACHINE)));
    expect(plan.slirps).toHaveLength(1);
    expect(plan.slirps[0]!.forwards).toHaveLength(1);
  });

  it("no hostile string reaches any batch line, sysctl, ruleset, listener or slirp4netns argument", () => {
    const text = commandText(plan);
    expect(text.length).toBeGreaterThan(50);
    for (const line of text) {
      for (const h of HOSTILE_STRINGS) expect(line.includes(h), `${JSON.stringify(h)} in ${JSON.stringify(line)}`).toBe(false);
      // nothing outside printable ASCII, and no shell metacharacter outside a ruleset's own syntax
      expect(line, JSON.stringify(line)).toMatch(/^[\x20-\x7e]*$/);
      expect(line, JSON.stringify(line)).not.toMatch(/[`$\\'|&<>]/);
    }
  });

  it("every device name in the batches and every quoted name in the rulesets passes assertKernelName", () => {
    const lines = [...plan.switchBatch, ...plan.machines.flatMap((m) => m.ipBatch)].map((l) => l.line);
    for (const line of lines) {
      for (const [, dev] of line.matchAll(/\b(?:dev|name|master|add|lladdr)\s+(\S+)/g)) {
        if (/^[\d.:/a-f]+$/.test(dev!) && /[.:]/.test(dev!)) continue; // an address or MAC
        expect(assertKernelName(dev!)).toBe(dev);
      }
      for (const [, ns] of line.matchAll(/\bnetns\s+(\S+)/g)) expect(assertNamespaceName(ns!)).toBe(ns);
    }
    for (const m of plan.machines) {
      for (const [, q] of (m.nft ?? "").matchAll(/"([^"]*)"/g)) expect(assertKernelName(q!)).toBe(q);
    }
  });

  it("the hostile interfaces became if_<k> in the batches and the ruleset", () => {
    const srv = plan.machines.find((m) => m.name === MACHINE.srv)!;
    for (const i of Object.values(IF)) expect(srv.ifNames.get(i)).toMatch(/^if_\d+$/);
    const q = srv.ifNames.get(IF.quote)!;
    expect(srv.ipBatch.map((l) => l.line)).toContain(`addr add 192.168.50.10/24 dev ${q}`);
    expect(srv.ipBatch.map((l) => l.line)).toContain(`route add 10.99.0.0/16 via 192.168.50.1 dev ${q} onlink metric 0`);
    expect(srv.nft).toContain(`iifname "${q}" meta l4proto tcp th dport 22 accept`);
    expect(plan.switchBatch.map((l) => l.line)).toContain(`link add p0 type veth peer name ${q} netns ${NS(plan.machines.indexOf(srv))}`);
  });

  it("the hostile names stay where people read them (the `what` of each batch line), not in the lines", () => {
    const whats = plan.machines.flatMap((m) => m.ipBatch.map((l) => l.what)).join("\n");
    expect(whats).toContain(IF.quote);
    expect(whats).toContain(MACHINE.srv);
  });

  it("names the checker rejects are rejected with RCH004, not sanitised", () => {
    for (const bad of ["lo0 ; rm", "a/b", "eth0:1", "eth0\nlink", "abcdefghijklmnop", "\t"]) {
      const ds = rejected({
        segments: { lan: "10.0.0.0/24" },
        machines: { m: { interfaces: { [bad]: { segment: "lan", addresses: ["10.0.0.1/24"] } } } },
      });
      expect(
        ds.some((d) => d.startsWith("RCH004 ") && d.endsWith("is not a Linux interface name")),
        `${JSON.stringify(bad)}: ${ds.join(" | ")}`,
      ).toBe(true);
    }
    const vm = rejected({ machines: { h: {}, v: { vm: { on: "h", adapters: [{ mode: "nat", interface: "a b" }] } } } });
    expect(vm.join("\n")).toMatch(/^RCH004 'a b' is not a Linux interface name/m);
  });

  // Regression: Linux refuses the interface names "all" and "default" ("RTNETLINK answers:
  // Invalid argument": they would shadow net.ipv4.conf.all / .default), and tunnel fallback
  // devices (sit0, tunl0 ...) exist in every new namespace; the sanitiser maps them all.
  it("an interface named all, default or like a tunnel fallback device never reaches the kernel under that name", () => {
    for (const bad of ["all", "default", "sit0", "tunl0", "gre0"]) {
      const doc = {
        segments: { lan: "10.0.0.0/24" },
        machines: { m: { interfaces: { [bad]: { segment: "lan", addresses: ["10.0.0.1/24"] } } } },
      };
      let net: Network;
      try {
        net = netOf(doc);
      } catch (e) {
        if (e instanceof InputError) continue; // rejected by the checker: fine
        throw e;
      }
      const plan = planBuild(net, NS);
      expect(plan.machines[0]!.ifNames.get(bad)).not.toBe(bad);
    }
  });
});

// ------------------------------------------------------------------ nftables text

/** A router with a firewall and NAT, its out-facing interface named with a quote and a semicolon. */
const FW_DOC = {
  segments: { lan: "10.1.0.0/24", wan: "10.2.0.0/24" },
  machines: {
    fw: {
      interfaces: {
        eth0: { segment: "lan", addresses: ["10.1.0.1/24"] },
        'wan"0;x': { segment: "wan", addresses: ["10.2.0.1/24"] },
      },
      ip_forward: true,
      firewall: {
        input: {
          policy: "drop",
          rules: [
            { action: "accept", in: "lo" },
            { action: "accept", state: ["established", "related"] },
            { action: "drop", proto: "udp", dport: 53 },
            { action: "accept", proto: "tcp", dport: 22, src: "10.1.0.0/24" },
            { action: "reject", proto: "tcp", sport: "1000-2000", in: 'wan"0;x' },
            { action: "accept", proto: "icmp" },
          ],
        },
        forward: { policy: "drop", rules: [{ action: "accept", in: "eth0", out: 'wan"0;x' }] },
        output: { policy: "accept", rules: [{ action: "drop", out: 'wan"0;x', proto: "udp", dport: "5000-5010" }] },
      },
      nat: [
        { action: "masquerade", out: 'wan"0;x' },
        { action: "dnat", chain: "prerouting", in: 'wan"0;x', proto: "tcp", dport: 8080, to: "10.1.0.5", toPort: 80 },
      ],
    },
    dev: {
      interfaces: { eth0: { segment: "lan", addresses: ["10.1.0.5/24"] } },
      services: [{ name: "bound", proto: "tcp", port: 80, device: "eth0" }],
    },
  },
};

/**
 * The same router with port matches that name no protocol. The checker insists on
 * proto: with a port, but the IR allows it (ports then match TCP and UDP alike), so
 * these rules are made in the IR directly.
 */
function withPortlessRules(m: Machine): Machine {
  const rule = (match: Match, action: Rule["action"]): Rule => ({ match, action, origin: ORIGIN });
  const input = m.filter.input;
  const dnat: NatRule = {
    match: { in: 'wan"0;x', dport: { lo: 8081, hi: 8081 } },
    action: { kind: "dnat", to: ip4("10.1.0.6"), toPort: 81 },
    origin: ORIGIN,
  };
  return {
    ...m,
    filter: {
      ...m.filter,
      input: {
        ...input,
        rules: [
          ...input.rules,
          rule({ dport: { lo: 5353, hi: 5353 } }, "drop"),
          rule({ sport: { lo: 3000, hi: 3999 }, in: 'wan"0;x' }, "reject"),
          rule({ sport: { lo: 7, hi: 7 }, dport: { lo: 9, hi: 10 } }, "accept"),
        ],
      },
    },
    nat: { ...m.nat, prerouting: [...m.nat.prerouting, dnat] },
  };
}

describe("nftRuleset", () => {
  const net = netOf(FW_DOC, "fw.json");
  const fw = withPortlessRules(net.machines.find((m) => m.name === "fw")!);
  const names = kernelIfNames(fw);
  const kn = (n: string) => assertKernelName(names.get(n) ?? n);
  const text = nftRuleset(fw, kn)!;
  const wan = names.get('wan"0;x')!;
  const chain = (name: string) => {
    const at = text.indexOf(`chain ${name} {`);
    expect(at, `${name} in\n${text}`).toBeGreaterThanOrEqual(0);
    return text.slice(at, text.indexOf("\n  }", at));
  };

  it("is one table inet reach with the policies rendered", () => {
    expect(text.startsWith("table inet reach {\n")).toBe(true);
    expect(text.endsWith("}\n")).toBe(true);
    // priorities by name or by number (filter = 0, dstnat = -100, srcnat = 100): older nft knows only numbers
    expect(chain("input_f")).toMatch(/type filter hook input priority (filter|0); policy drop;/);
    expect(chain("forward_f")).toMatch(/type filter hook forward priority (filter|0); policy drop;/);
    expect(chain("output_f")).toMatch(/type filter hook output priority (filter|0); policy accept;/);
    expect(chain("pre_n")).toMatch(/type nat hook prerouting priority (dstnat|-100); policy accept;/);
    expect(chain("post_n")).toMatch(/type nat hook postrouting priority (srcnat|100); policy accept;/);
    expect(text).not.toContain("out_n");
  });

  it("keeps the rules' order (first match wins in both)", () => {
    const want = [
      'iifname "lo" accept',
      "ct state { established, related } accept",
      "meta l4proto udp th dport 53 drop",
      "ip saddr 10.1.0.0/24 meta l4proto tcp th dport 22 accept",
      `iifname "${wan}" meta l4proto tcp th sport 1000-2000 reject with icmpx type port-unreachable`,
      "meta l4proto { icmp, ipv6-icmp } accept",
      "meta l4proto { tcp, udp } th dport 5353 drop",
      `iifname "${wan}" meta l4proto { tcp, udp } th sport 3000-3999 reject with icmpx type port-unreachable`,
      "meta l4proto { tcp, udp } th sport 7 th dport 9-10 accept",
    ];
    const lines = chain("input_f")
      .split("\n")
      .slice(2)
      .map((l) => l.trim());
    expect(lines).toEqual(want);
  });

  it("in/out names go through the sanitiser", () => {
    expect(wan).toMatch(/^if_\d+$/);
    expect(text).not.toContain('wan"0;x');
    expect(chain("forward_f")).toContain(`iifname "eth0" oifname "${wan}" accept`);
    expect(chain("output_f")).toContain(`oifname "${wan}" meta l4proto udp th dport 5000-5010 drop`);
    expect(chain("post_n")).toContain(`oifname "${wan}" masquerade`);
    expect(chain("pre_n")).toContain(`iifname "${wan}" meta l4proto tcp th dport 8080 dnat ip to 10.1.0.5:80`);
    for (const [, q] of text.matchAll(/"([^"]*)"/g)) expect(assertKernelName(q!)).toBe(q);
  });

  it("sport/dport without a protocol become meta l4proto { tcp, udp } th sport/dport ...", () => {
    expect(text).toContain("meta l4proto { tcp, udp } th dport 5353 drop");
    expect(text).toContain("meta l4proto { tcp, udp } th sport 3000-3999 reject");
    // a port-translating DNAT without a protocol names both for the translation too
    expect(chain("pre_n")).toMatch(
      new RegExp(`iifname "${wan}" meta l4proto \\{ tcp, udp \\} th dport 8081 .*dnat ip to 10\\.1\\.0\\.6:81`),
    );
    // no th match without an l4proto before it
    for (const l of text.split("\n"))
      if (/\bth [sd]port/.test(l)) expect(l, l).toMatch(/meta l4proto (tcp|udp|\{ tcp, udp \}) th [sd]port/);
  });

  it("each reject type as nft says it (icmpx for both families, icmp for the IPv4-only codes; models/reject-types.yaml)", () => {
    const server = lower(loadTopologyFile(join(MODELS_DIR, "reject-types.yaml")).topology).machines.find((m) => m.name === "server")!;
    const rules = nftRuleset(server, (n) => n)!
      .split("\n")
      .filter((l) => /reject|drop/.test(l) && !l.includes("policy"))
      .map((l) => l.trim().replace(/^.* (reject|drop)/, "$1"));
    expect(rules).toEqual([
      "reject with tcp reset",
      "reject with icmpx type port-unreachable",
      "reject with icmpx type host-unreachable",
      "reject with icmpx type no-route",
      "reject with icmpx type admin-prohibited",
      "reject with icmp type host-prohibited",
      "reject with icmp type net-prohibited",
      "drop",
      "reject with icmpx type host-unreachable",
      "reject with icmpx type admin-prohibited",
    ]);
  });

  it("is undefined for a machine with nothing to load", () => {
    const dev = net.machines.find((m) => m.name === "dev")!;
    expect(nftRuleset(dev, (n) => n)).toBeUndefined();
  });

  it("a device-bound service is built, its listener carrying the kernel device name (the agent's python3 helper sets SO_BINDTODEVICE)", () => {
    expect(unsupported(net)).toEqual([]);
    expect(unsupported(netOf(HOSTILE_DOC))).toEqual([]);
    const dev = planBuild(net, (k) => `reach-1-1-${k}`).machines.find((m) => m.name === "dev")!;
    expect(dev.listeners.filter((l) => l.device !== undefined).map((l) => l.device)).toEqual(["eth0"]);
    expect(dev.listeners.filter((l) => l.device === undefined)).toEqual([]);
  });
});

// ------------------------------------------------------------------ nft -c in a throwaway namespace

const hasTool = (tool: string) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool], { stdio: "ignore" }).status === 0;
const canCheck = process.platform === "linux" && process.getuid?.() === 0 && hasTool("nft") && hasTool("ip");
if (!canCheck) console.warn("plan.test.ts: nft -c validation of the rulesets skipped (needs root on Linux with nft and ip installed)");

describe.skipIf(!canCheck)("every ruleset passes nft -c -f - (in a throwaway namespace)", () => {
  // not reach-<pid>-...: those names belong to the emulator and its stale-namespace cleanup
  const ns = `reachtest-${process.pid}-plan`;
  let made = false;

  beforeAll(() => {
    execFileSync("ip", ["netns", "add", ns], { stdio: "pipe" });
    made = true;
  });
  afterAll(() => {
    if (made) execFileSync("ip", ["netns", "del", ns], { stdio: "pipe" });
    expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(ns);
  });

  const check = (what: string, ruleset: string) => {
    const r = spawnSync("ip", ["netns", "exec", ns, "nft", "-c", "-f", "-"], { input: ruleset, encoding: "utf8" });
    expect({ what, status: r.status, stderr: r.stderr }).toEqual({ what, status: 0, stderr: "" });
  };

  const cases: { name: string; net: () => Network }[] = [
    ...MODEL_FILES.map((f) => ({ name: f, net: () => lower(loadTopologyFile(join(MODELS_DIR, f)).topology) })),
    { name: "the hostile topology", net: () => netOf(HOSTILE_DOC) },
    { name: "the small firewall", net: () => netOf(FW_DOC, "fw.json") },
    {
      name: "the small firewall with port matches that name no protocol (IR only)",
      net: () => {
        const n = netOf(FW_DOC, "fw.json");
        return { ...n, machines: n.machines.map((m) => (m.name === "fw" ? withPortlessRules(m) : m)) };
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planBuild(c.net(), NS);
      const sets = plan.machines.filter((m) => m.nft);
      for (const m of sets) check(`${c.name}: ${m.name}`, m.nft!);
    });
  }

  it("nft -c itself rejects a broken ruleset here (the check is not vacuous)", () => {
    const r = spawnSync("ip", ["netns", "exec", ns, "nft", "-c", "-f", "-"], {
      input: "table inet reach {\n  chain c {\n    frobnicate\n  }\n}\n",
      encoding: "utf8",
    });
    expect(r.status).not.toBe(0);
  });

  it("and the check committed nothing: the throwaway namespace has no ruleset", () => {
    expect(execFileSync("ip", ["netns", "exec", ns, "nft", "list", "ruleset"], { encoding: "utf8" }).trim()).toBe("");
  });
});
