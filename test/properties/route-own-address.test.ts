/**
 * A route via the machine's own address is refused (RCH037), as Linux refuses it:
 * `ip route add 198.51.100.0/24 via <own address>` fails with "Nexthop has invalid gateway"
 * (IPv6: "Gateway can not be a local address"). Property: on random valid topologies, a route
 * added via any address the machine has (an interface address, a VM adapter address, the NAT
 * guest's 10.0.2.15) gives exactly RCH037 at the route's `via:` value.
 */
import fc from "fast-check";
import YAML, { isNode, LineCounter } from "yaml";
import { describe, expect, it } from "vitest";
import { InputError, type Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { parseCidr } from "../../src/net/addr.js";
import { topologyArb } from "./arbitraries.js";

function diagnosticsOf(text: string): Diagnostic[] {
  try {
    loadTopologyText("own.yaml", text);
    return [];
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return [...e.diagnostics];
  }
}

/** line:col of the value at `path` in `text`. */
function position(text: string, path: (string | number)[]): [number, number] {
  const lc = new LineCounter();
  const node = YAML.parseDocument(text, { lineCounter: lc }).getIn(path, true);
  if (!isNode(node) || !node.range) throw new Error(`no node at ${path.join(".")}`);
  const p = lc.linePos(node.range[0]);
  return [p.line, p.col];
}

/** Every address a machine of the document has for certain (declared ones; DHCP leases are not known). */
function ownAddresses(m: Record<string, unknown>): string[] {
  const out: string[] = [];
  const ifs = (m["interfaces"] ?? {}) as Record<string, { addresses?: string[] }>;
  for (const i of Object.values(ifs)) out.push(...(i.addresses ?? []));
  const vm = m["vm"] as { adapters: { mode: string; addresses?: string[]; network?: string }[] } | undefined;
  for (const a of vm?.adapters ?? []) if (a.mode !== "nat" && a.mode !== "hostonly") out.push(...(a.addresses ?? []));
  return out.map((c) => c.split("/")[0]!);
}

describe("RCH037: a route via the machine's own address", () => {
  it("an interface address, IPv4 and IPv6, at file:line:col of via", () => {
    const text = [
      "segments:",
      "  lan: { subnets: [192.168.1.0/24, fd00:1::/64] }",
      "machines:",
      "  host:",
      "    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24, fd00:1::10/64] } }",
      "    routes:",
      "      - { to: 10.9.0.0/16, via: 192.168.1.10 }",
      "      - { to: default6, via: fd00:1::10 }",
      "      - { to: default, via: 192.168.1.1 }",
    ].join("\n");
    const ds = diagnosticsOf(text);
    expect(ds.map((d) => [d.code, d.span.file, d.span.line, d.span.col])).toEqual([
      ["RCH037", "own.yaml", 7, 33],
      ["RCH037", "own.yaml", 8, 30],
    ]);
    expect(ds[0]!.message).toBe(`gateway 192.168.1.10 is an address of 'host' itself (the kernel refuses: "Nexthop has invalid gateway")`);
    expect(ds[0]!.expected).toContain("neighbour");
  });

  it("the NAT guest's own 10.0.2.15", () => {
    const text = [
      "machines:",
      "  host: {}",
      "  guest:",
      "    vm: { on: host, adapters: [ { mode: nat } ] }",
      "    routes: [ { to: 10.9.0.0/16, via: 10.0.2.15 } ]",
    ].join("\n");
    expect(diagnosticsOf(text).map((d) => [d.code, d.span.line, d.span.col])).toEqual([["RCH037", 5, 39]]);
  });

  it("random valid topologies: a route via any declared own address is exactly RCH037, at the route's via", () => {
    fc.assert(
      fc.property(topologyArb, fc.nat(), fc.nat(), (t, mi, ai) => {
        const doc = structuredClone(t.doc) as unknown as { machines: Record<string, Record<string, unknown>> };
        const withAddr = Object.keys(doc.machines).filter((n) => ownAddresses(doc.machines[n]!).length);
        fc.pre(withAddr.length > 0);
        const name = withAddr[mi % withAddr.length]!;
        const m = doc.machines[name]!;
        const addrs = ownAddresses(m);
        const gw = addrs[ai % addrs.length]!;
        const to = parseCidr(`${gw}/32`) ? "198.51.100.0/24" : "2001:db8:ffff::/48";
        const routes = ((m["routes"] as unknown[] | undefined) ?? []).filter((r) => (r as { to: string }).to !== to);
        m["routes"] = [...routes, { to, via: gw }];
        const text = YAML.stringify(doc);
        const ds = diagnosticsOf(text);
        expect(ds.map((d) => d.code)).toEqual(["RCH037"]);
        expect([ds[0]!.span.line, ds[0]!.span.col]).toEqual(position(text, ["machines", name, "routes", routes.length, "via"]));
      }),
      { seed: 37, numRuns: Number(process.env.FC_RUNS ?? 150) },
    );
  });
});
