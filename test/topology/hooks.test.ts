/** The checker refuses interface matches a netfilter hook cannot see (as iptables does). */
import { describe, expect, it } from "vitest";
import { InputError, type Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";

function diags(source: string): Diagnostic[] {
  try {
    loadTopologyText("hooks.yaml", source);
  } catch (e) {
    if (e instanceof InputError) return [...e.diagnostics];
    throw e;
  }
  return [];
}

const base = `segments:
  lan: 192.168.1.0/24
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
`;

describe("interface matches per hook (RCH004)", () => {
  it("'in' in the output chain and 'out' in the input chain", () => {
    const ds = diags(`${base}    firewall:
      output: { rules: [ { action: drop, in: eth0 } ] }
      input: { rules: [ { action: drop, out: eth0 } ] }
`);
    expect(ds.map((d) => [d.code, d.span.line, d.span.col])).toEqual([
      ["RCH004", 8, 46],
      ["RCH004", 9, 46],
    ]);
    expect(ds[0]!.message).toContain("'in' cannot match in the output chain");
    expect(ds[1]!.message).toContain("'out' cannot match in the input chain");
  });

  it("'in' on a masquerade (postrouting) and 'out' on a prerouting DNAT", () => {
    const ds = diags(`${base}    nat:
      - { action: masquerade, in: eth0 }
      - { action: dnat, chain: prerouting, out: eth0, to: 192.168.1.20 }
`);
    expect(ds.map((d) => [d.code, d.span.line])).toEqual([
      ["RCH004", 8],
      ["RCH004", 9],
    ]);
  });

  it("allowed combinations load: in on input/forward/prerouting, out on output/forward/postrouting and nat output", () => {
    expect(
      diags(`${base}    firewall:
      input: { rules: [ { action: accept, in: lo } ] }
      output: { rules: [ { action: accept, out: lo } ] }
      forward: { rules: [ { action: accept, in: eth0, out: eth0 } ] }
    nat:
      - { action: dnat, chain: prerouting, in: eth0, to: 192.168.1.20 }
      - { action: dnat, chain: output, out: eth0, to: 192.168.1.20 }
      - { action: masquerade, out: eth0 }
`),
    ).toEqual([]);
  });
});
