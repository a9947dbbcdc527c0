/**
 * The findings catalogue on hand-written topologies (what `reach verify --findings` runs): each
 * finding appears where its witness dial says so, with the evidence at file:line:col, and not in
 * the twin topology where the fix is applied.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decideFindings, type FindingsInput } from "../../src/doctor/findings.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";

const MODELS = join(import.meta.dirname, "../../models");
const ENGINE = { engine: "smt" as const, timeoutMs: 20_000 };

function input(file: string, text: string, extra: Partial<FindingsInput> = {}): FindingsInput {
  const loaded = loadTopologyText(file, text);
  const doc = loaded.topology.doc;
  const hosts = Object.keys(doc.machines).filter((m) => !doc.machines[m]!.vm && !doc.machines[m]!.router);
  return { doc, net: lower(loaded.topology), loc: loaded.topology.loc, hosts, ...extra };
}
const model = (name: string) => input(`models/${name}`, readFileSync(join(MODELS, name), "utf8"));
const codes = (r: { findings: { code: string; machine: string }[] }) => r.findings.map((f) => `${f.code} ${f.machine}`);

const SHADOW = (bridge: string) => `
segments:
  lan: 192.168.1.0/24
  office: 172.17.5.0/24
  host/docker:bridge: ${bridge}
machines:
  host:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.1.10/24] }
      docker0: { segment: host/docker:bridge, addresses: [${bridge.replace(/0\/(\d+)$/, "1/$1")}] }
    routes: [ { to: default, via: 192.168.1.1 } ]
  gw:
    interfaces:
      lan0: { segment: lan, addresses: [192.168.1.1/24] }
      off0: { segment: office, addresses: [172.17.5.1/24] }
    ip_forward: true
  db:
    interfaces: { eth0: { segment: office, addresses: [172.17.5.20/24] } }
    routes: [ { to: default, via: 172.17.5.1 } ]
    services: [ { name: postgres, port: 5432 } ]
  lan:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
`;

describe("findings on hand-written topologies", () => {
  it("NIC_OUTSIDE_SUBNET: seed 004's second NIC in the wrong subnet, at its file:line:col; not in the right-subnet twin", async () => {
    const wrong = await decideFindings(model("seed004-wrong-subnet.yaml"), ENGINE);
    const f = wrong.findings.find((x) => x.code === "NIC_OUTSIDE_SUBNET");
    expect(f?.machine).toBe("guest");
    expect(f?.query).toBe("host -> 192.168.57.10/icmp");
    expect(f?.evidence[0]?.at).toBe("models/seed004-wrong-subnet.yaml:23:60");
    expect(f?.consequence).toContain("with 192.168.56.10/24 the same ping gets through");
    const right = await decideFindings(model("seed004-right-subnet.yaml"), ENGINE);
    expect(codes(right)).not.toContainEqual(expect.stringMatching(/^NIC_OUTSIDE_SUBNET/));
  }, 60_000);

  it("HAIRPIN_MISSING: router-a (no hairpin) and not router-b (hairpin: true)", async () => {
    const r = await decideFindings(model("home-router-hairpin.yaml"), ENGINE);
    const hp = r.findings.filter((x) => x.code === "HAIRPIN_MISSING");
    expect(hp.map((x) => x.machine)).toEqual(["router-a"]);
    expect(hp[0]!.query).toBe("client-a -> 203.0.113.2:443/tcp");
    expect(hp[0]!.evidence[0]!.at).toMatch(/^models\/home-router-hairpin.yaml:21:\d+$/);
    expect(hp[0]!.consequence).toMatch(/with hairpin NAT the same dial reaches 192.168.1.50/);
  }, 60_000);

  it("SUBNET_SHADOWED: a Docker bridge on 172.17.0.0/16 swallows the office's 172.17.5.20; a bridge elsewhere does not", async () => {
    const r = await decideFindings(input("shadow.yaml", SHADOW("172.17.0.0/16")), ENGINE);
    const fs = r.findings.filter((x) => x.code === "SUBNET_SHADOWED");
    expect(fs.map((f) => `${f.machine}: ${f.query}`)).toEqual(["host: host -> 172.17.5.1/icmp", "host: host -> 172.17.5.20/icmp"]);
    expect(fs[1]!.evidence[0]!.at).toMatch(/^shadow.yaml:10:\d+$/);
    expect(fs[1]!.consequence).toContain("covers db's 172.17.5.20");
    const ok = await decideFindings(input("shadow.yaml", SHADOW("172.18.0.0/16")), ENGINE);
    expect(codes(ok)).not.toContainEqual(expect.stringMatching(/^SUBNET_SHADOWED/));
  }, 60_000);

  it("HOST_NETWORK_EXPOSED needs the doctor's docker inspect: given a container in network mode host, the LAN's dial decides", async () => {
    const text = readFileSync(join(MODELS, "host-firewall.yaml"), "utf8");
    const base = input("models/host-firewall.yaml", text, { hosts: ["host"], lan: "lan-pc" });
    const hostMode = [8080, 9090, 7070].map((port) => ({ container: `c${port}`, proto: "tcp" as const, port }));
    const exposed = await decideFindings({ ...base, hostMode }, ENGINE);
    // 8080 and 7070 are dropped by INPUT: only 9090 has a witness
    const fs = exposed.findings.filter((x) => x.code === "HOST_NETWORK_EXPOSED");
    expect(fs.map((f) => `${f.machine} ${f.dial}`)).toEqual(["c9090 192.168.1.10:9090"]);
    const without = await decideFindings(base, ENGINE);
    expect(codes(without)).not.toContainEqual(expect.stringMatching(/^HOST_NETWORK_EXPOSED/));
    expect(without.skipped.join("\n")).toMatch(/HOST_NETWORK_EXPOSED/);
  }, 60_000);

  it("without a machine 'lan' the LAN findings are skipped and said so", async () => {
    const r = await decideFindings(model("home-router-hairpin.yaml"), ENGINE);
    expect(r.skipped.join("\n")).toMatch(/LAN_EXPOSED_FORWARD, .*not decided: no machine 'lan'/);
  }, 60_000);
});
