/**
 * The Docker importers: Compose files and `docker inspect` JSON -> topology
 * fragments, checked by loading them (with a host on a LAN, as the merger's
 * scaffold or the user's own topology gives it) and asking both engines.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { importCompose, importDocker, parseShortPort } from "../../src/import/docker.js";
import type { Fragment, ImportResult } from "../../src/import/types.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { parseQuery } from "../../src/ir/query.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { emulate } from "../../src/emulate/emulate.js";
import { emulationSupport } from "../../src/emulate/build.js";
import type { MachineDoc, TopologyDoc } from "../../src/topology/schema.js";

const HOST = { host: "host" };
const GOLDEN = join(import.meta.dirname, "golden");

const compose = (text: string, file = "docker-compose.yml") => importCompose([{ file, text }], HOST) as ImportResult;
const inspect = (text: string, file = "inspect.json") => importDocker([{ file, text }], HOST) as ImportResult;
const codes = (r: ImportResult) => r.diagnostics.map((d) => d.code);
const at = (d: Diagnostic | undefined) => (d ? `${d.span.line}:${d.span.col}` : "none");
const hostOf = (r: ImportResult): MachineDoc => r.fragment.machines["host"]!;

/**
 * The fragment as a whole topology: the host on a LAN (eth0 192.168.1.10/24) and a
 * machine `lan` (192.168.1.20); `extra` adds to the host (a firewall, services).
 */
function topology(f: Fragment, extra: MachineDoc = {}): TopologyDoc {
  const host = f.machines["host"] ?? {};
  return {
    segments: { lan: "192.168.1.0/24", ...f.segments },
    machines: {
      ...f.machines,
      host: { ...host, ...extra, interfaces: { eth0: { segment: "lan", addresses: ["192.168.1.10/24"] }, ...host.interfaces } },
      lan: { interfaces: { eth0: { segment: "lan", addresses: ["192.168.1.20/24"] } } },
    },
  };
}

function load(doc: TopologyDoc) {
  const loaded = loadTopologyText("imported.yaml", YAML.stringify(doc));
  expect(loaded.warnings.filter((w) => w.severity === "error")).toEqual([]);
  return loaded;
}

async function verdicts(doc: TopologyDoc, queries: readonly string[]): Promise<Record<string, string>> {
  const net = lower(load(doc).topology);
  const out: Record<string, string> = {};
  for (const q of queries) {
    const p = parseQuery(q);
    if (!p.ok) throw new Error(p.message);
    out[q] = (await answerQuery(net, p.query, { engine: "both", timeoutMs: 30_000 })).answer.verdict;
  }
  return out;
}

const WEB_DB = `services:
  web:
    image: nginx
    ports:
      - "8080:80"
  db:
    image: postgres:16
    expose:
      - "5432"
`;

describe("compose ports: short syntax (go-connections nat.ParsePortSpec)", () => {
  it.each([
    ["80", { proto: "tcp", container: { lo: 80, hi: 80 } }],
    ["8080:80", { proto: "tcp", host: { lo: 8080, hi: 8080 }, container: { lo: 80, hi: 80 } }],
    ["127.0.0.1:8080:80", { proto: "tcp", hostIp: "127.0.0.1", host: { lo: 8080, hi: 8080 }, container: { lo: 80, hi: 80 } }],
    ["8080:80/udp", { proto: "udp", host: { lo: 8080, hi: 8080 }, container: { lo: 80, hi: 80 } }],
    ["8080:80/UDP", { proto: "udp", host: { lo: 8080, hi: 8080 }, container: { lo: 80, hi: 80 } }],
    ["8000-8002:8000-8002", { proto: "tcp", host: { lo: 8000, hi: 8002 }, container: { lo: 8000, hi: 8002 } }],
    ["[::1]:8080:80", { proto: "tcp", hostIp: "::1", host: { lo: 8080, hi: 8080 }, container: { lo: 80, hi: 80 } }],
    ["::1:6000:6000", { proto: "tcp", hostIp: "::1", host: { lo: 6000, hi: 6000 }, container: { lo: 6000, hi: 6000 } }],
    ["127.0.0.1::80", { proto: "tcp", hostIp: "127.0.0.1", container: { lo: 80, hi: 80 } }],
    ["8000-9000:80", { proto: "tcp", host: { lo: 8000, hi: 9000 }, container: { lo: 80, hi: 80 } }],
    ["3000-3005", { proto: "tcp", container: { lo: 3000, hi: 3005 } }],
  ])("%s", (text, spec) => {
    expect(parseShortPort(text)).toEqual(spec);
  });

  it.each([
    ["8080:80/icmp", "protocol 'icmp'"],
    ["70000:80", "host port '70000'"],
    ["8080:0", "container port '0'"],
    ["8000-8001:80-82", "differ in length"],
    ["300.1.1.1:80:80", "host IP '300.1.1.1'"],
    ["[::1:80:80", "no closing bracket"],
    ["", "container port ''"],
  ])("%s is refused", (text, why) => {
    const r = parseShortPort(text);
    expect("error" in r && r.error).toContain(why);
  });
});

describe("compose: published ports on the host", () => {
  it("8080:80 is a DNAT in prerouting, a FORWARD accept, masquerade and docker-proxy on both families", () => {
    const r = compose(WEB_DB);
    expect(r.diagnostics).toEqual([]);
    const host = hostOf(r);
    expect(host.interfaces).toEqual({ "br-default": { segment: "host/docker:default", addresses: ["172.18.0.1/16"] } });
    expect(host.ip_forward).toBe(true);
    expect(host.nat).toEqual([
      {
        action: "dnat",
        chain: "prerouting",
        proto: "tcp",
        src: "0.0.0.0/0",
        dst: "local",
        dport: 8080,
        to: "172.18.0.2",
        toPort: 80,
        comment: "docker: web 8080->80/tcp",
      },
      {
        action: "dnat",
        chain: "output",
        proto: "tcp",
        src: "0.0.0.0/0",
        dst: "local-nonloopback",
        dport: 8080,
        to: "172.18.0.2",
        toPort: 80,
        comment: "docker: web 8080->80/tcp (the host's own connections)",
      },
      { action: "masquerade", src: "172.18.0.0/16", comment: "docker: network default goes out" },
    ]);
    expect(host.firewall?.forward?.policy).toBe("drop");
    expect(
      host.firewall?.forward?.rules?.map((x) => [x.action, x.in ?? "", x.out ?? "", x.dst ?? "", x.dport ?? "", (x.state ?? []).join(",")]),
    ).toEqual([
      ["accept", "", "br-default", "", "", "established,related"],
      ["accept", "", "br-default", "172.18.0.2/32", 80, ""],
      ["drop", "", "br-default", "", "", ""],
      ["accept", "br-default", "", "", "", ""],
    ]);
    // the container has no IPv6: docker-proxy on [::]:8080 relays to its IPv4 address
    expect(host.relays).toEqual([
      { name: "docker-proxy 8080/tcp (relays to web:80)", proto: "tcp", port: 8080, to: "172.18.0.2", toPort: 80 },
      {
        name: "docker-proxy [::]:8080/tcp (relays to web:80)",
        proto: "tcp",
        bind: "::",
        port: 8080,
        v6only: true,
        to: "172.18.0.2",
        toPort: 80,
      },
    ]);
    expect(host.services).toBeUndefined();
    expect(r.fragment.machines["web"]).toEqual({
      interfaces: { eth0: { segment: "host/docker:default", addresses: ["172.18.0.2/16"] } },
      routes: [{ to: "default", via: "172.18.0.1" }],
      services: [{ name: "web 80/tcp (assumed)", proto: "tcp", port: 80 }],
    });
    expect(r.fragment.machines["db"]?.interfaces?.["eth0"]?.addresses).toEqual(["172.18.0.3/16"]);
    expect(r.fragment.notes.join("\n")).toMatch(/not INPUT/);
    expect(r.fragment.notes.join("\n")).toMatch(/Assumed listeners, bound to every address: web 80\/tcp; db 5432\/tcp/);
    expect(r.fragment.notes.join("\n")).toMatch(/172\.18\.0\.0\/16/);
  });

  it("the LAN reaches the published port, not the unpublished one; containers reach each other", async () => {
    expect(
      await verdicts(topology(compose(WEB_DB).fragment), [
        "lan -> web:80/tcp",
        "lan -> db:5432/tcp",
        "web -> db:5432/tcp",
        "web -> lan/icmp",
        "host -> localhost:8080/tcp",
      ]),
    ).toEqual({
      "lan -> web:80/tcp": "reachable",
      "lan -> db:5432/tcp": "unreachable",
      "web -> db:5432/tcp": "reachable",
      "web -> lan/icmp": "reachable",
      "host -> localhost:8080/tcp": "reachable",
    });
  });

  it("an INPUT-only host firewall does not protect a published port: DNAT sends it through FORWARD", async () => {
    const firewall: MachineDoc = {
      services: [
        { name: "sshd", proto: "tcp", port: 22 },
        { name: "node-exporter", proto: "tcp", port: 9100 },
      ],
      firewall: {
        input: {
          policy: "drop",
          rules: [
            { action: "accept", state: ["established", "related"] },
            { action: "accept", proto: "tcp", dport: 22 },
          ],
        },
      },
    };
    const r = compose(WEB_DB);
    const doc = topology(r.fragment, {
      ...firewall,
      services: firewall.services!,
      relays: hostOf(r).relays!,
      firewall: { ...hostOf(r).firewall, ...firewall.firewall },
    });
    expect(await verdicts(doc, ["lan -> host:22/tcp", "lan -> host:9100/tcp", "lan -> web:80/tcp", "lan -> db:5432/tcp"])).toEqual({
      "lan -> host:22/tcp": "reachable",
      "lan -> host:9100/tcp": "unreachable",
      "lan -> web:80/tcp": "reachable",
      "lan -> db:5432/tcp": "unreachable",
    });
  });

  it("127.0.0.1:8080:80 keeps the LAN out and lets the host in", async () => {
    const r = compose(`services:\n  web:\n    image: nginx\n    ports: ["127.0.0.1:8080:80"]\n`);
    expect(r.diagnostics).toEqual([]);
    expect(hostOf(r).nat?.[0]).toMatchObject({ action: "dnat", dst: "127.0.0.1/32", dport: 8080, to: "172.18.0.2", toPort: 80 });
    expect(hostOf(r).relays).toEqual([
      {
        name: "docker-proxy 127.0.0.1:8080/tcp (relays to web:80)",
        proto: "tcp",
        bind: "127.0.0.1",
        port: 8080,
        to: "172.18.0.2",
        toPort: 80,
      },
    ]);
    // Docker's nat OUTPUT jump leaves 127.0.0.0/8 to docker-proxy: no output DNAT for a loopback publication
    expect(hostOf(r).nat?.filter((x) => x.action === "dnat" && x.chain === "output")).toEqual([]);
    expect(await verdicts(topology(r.fragment), ["lan -> web:80/tcp", "host -> web:80/tcp", "host -> 127.0.0.1:8080/tcp"])).toEqual({
      "lan -> web:80/tcp": "unreachable",
      "host -> web:80/tcp": "reachable",
      "host -> 127.0.0.1:8080/tcp": "reachable",
    });
  });

  it("a host address, udp, ranges and an integer port", () => {
    const r = compose(`services:
  app:
    image: app
    ports:
      - "192.168.1.10:5353:53/udp"
      - "8000-8002:9000-9002"
      - 7000
`);
    expect(codes(r)).toEqual(["RCH051"]);
    expect(at(r.diagnostics[0])).toBe("7:9");
    expect(r.diagnostics[0]!.message).toContain("picks when the container starts");
    const nat = hostOf(r).nat!.filter((x) => x.action === "dnat" && x.chain === "prerouting");
    expect(nat.map((x) => [x.proto, x.dst ?? "", x.dport, "toPort" in x ? x.toPort : ""])).toEqual([
      ["udp", "192.168.1.10/32", 5353, 53],
      ["tcp", "local", 8000, 9000],
      ["tcp", "local", 8001, 9001],
      ["tcp", "local", 8002, 9002],
    ]);
    expect(r.fragment.machines["app"]?.services?.map((s) => `${s.port}/${s.proto}`)).toEqual([
      "53/udp",
      "9000/tcp",
      "9001/tcp",
      "9002/tcp",
      "7000/tcp",
    ]);
    load(topology(r.fragment));
  });

  it("an IPv6 host address is only docker-proxy's (the container has no IPv6)", () => {
    const r = compose(`services:\n  web:\n    image: nginx\n    ports:\n      - "[::1]:8080:80"\n      - "::1:8443:443"\n`);
    expect(hostOf(r).nat?.filter((x) => x.action === "dnat")).toEqual([]);
    expect(hostOf(r).relays?.map((s) => [s.name, s.bind, s.to])).toEqual([
      ["docker-proxy [::1]:8080/tcp (relays to web:80)", "::1", "172.18.0.2"],
      ["docker-proxy [::1]:8443/tcp (relays to web:443)", "::1", "172.18.0.2"],
    ]);
    load(topology(r.fragment));
  });

  it("long syntax", () => {
    const r = compose(`services:
  web:
    image: nginx
    ports:
      - target: 80
        published: "8080"
        host_ip: 127.0.0.1
        protocol: tcp
        mode: host
        name: http
        app_protocol: http
      - { target: 53, published: 5353, protocol: udp }
      - { target: 443, published: "8443-8450" }
      - { target: 22, colour: blue }
`);
    expect(codes(r)).toEqual(["RCH051", "RCH051", "RCH051"]);
    expect(r.diagnostics.map(at)).toEqual(["13:9", "14:23", "14:9"]);
    expect(r.diagnostics[0]!.message).toContain("a free port of 8443-8450");
    expect(r.diagnostics[1]!.message).toContain("port key 'colour'");
    expect(r.diagnostics[2]!.message).toContain("on a free port it picks");
    expect(
      hostOf(r)
        .nat?.filter((x) => x.action === "dnat" && x.chain === "prerouting")
        .map((x) => [x.proto, x.dst ?? "", x.dport]),
    ).toEqual([
      ["tcp", "127.0.0.1/32", 8080],
      ["udp", "local", 5353],
    ]);
    expect(r.fragment.machines["web"]?.services?.map((s) => `${s.port}/${s.proto}`)).toEqual(["80/tcp", "53/udp", "443/tcp", "22/tcp"]);
  });

  it("an exposed, unpublished port is a cause of its own (EXPOSED_NOT_PUBLISHED) from outside the container's networks", async () => {
    const r = compose(WEB_DB);
    expect(r.fragment.machines["db"]?.services).toEqual([{ name: "db 5432/tcp (assumed)", proto: "tcp", port: 5432, exposed: true }]);
    expect(r.fragment.machines["web"]?.services?.[0]?.exposed).toBeUndefined();
    const net = lower(load(topology(r.fragment)).topology);
    const ask = async (text: string) => {
      const p = parseQuery(text);
      if (!p.ok) throw new Error(p.message);
      return (await answerQuery(net, p.query, { engine: "both", timeoutMs: 30_000 })).answer;
    };
    const outside = await ask("lan -> db:5432/tcp");
    expect(outside.verdict).toBe("unreachable");
    expect(outside.causes?.[0]?.code).toBe("EXPOSED_NOT_PUBLISHED");
    expect((await ask("web -> db:5432/tcp")).verdict).toBe("reachable");
  });

  it("--no-userland-proxy: no docker-proxy; the OUTPUT DNAT takes loopback, route_localnet, 127/8 masqueraded; the kernel agrees", async () => {
    const text = `services:\n  web:\n    image: nginx\n    ports: ["8080:80", "127.0.0.1:8081:80"]\n`;
    const r = importCompose([{ file: "docker-compose.yml", text }], { ...HOST, userlandProxy: false, dockerVersion: 27 }) as ImportResult;
    const host = hostOf(r);
    expect(host.relays).toBeUndefined();
    expect(host.route_localnet).toBe(true);
    expect(host.docker).toEqual({ version: 27, bridges: ["br-default"] });
    expect(host.nat?.filter((x) => x.action === "dnat" && x.chain === "output").map((x) => x.dst)).toEqual(["local", "127.0.0.1/32"]);
    expect(host.nat?.filter((x) => x.action === "masquerade").map((x) => [x.src, x.out])).toEqual([
      ["172.18.0.0/16", undefined],
      ["127.0.0.0/8", "br-default"],
    ]);
    const queries = ["host -> 127.0.0.1:8081/tcp", "host -> 127.0.0.1:8080/tcp", "lan -> web:80/tcp"];
    expect(await verdicts(topology(r.fragment), queries)).toEqual(Object.fromEntries(queries.map((q) => [q, "reachable"])));
    if (!emulationSupport().ok) return;
    const net = lower(load(topology(r.fragment)).topology);
    const k = await emulate(
      net,
      queries.map((q) => {
        const p = parseQuery(q);
        if (!p.ok) throw new Error(p.message);
        return p.query;
      }),
    );
    expect(k.probes.map((p) => [p.query.text, p.kernel, p.agree])).toEqual(queries.map((q) => [q, "reachable", true]));
  }, 60_000);

  it("expose adds listeners without publishing", () => {
    const r = compose(`services:\n  api:\n    image: api\n    expose: ["3000", 9090, "5000-5001/udp"]\n`);
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines["api"]?.services?.map((s) => `${s.port}/${s.proto}`)).toEqual([
      "3000/tcp",
      "9090/tcp",
      "5000/udp",
      "5001/udp",
    ]);
    expect(hostOf(r).nat).toEqual([{ action: "masquerade", src: "172.18.0.0/16", comment: "docker: network default goes out" }]);
  });

  it("bad ports are diagnosed where they are", () => {
    const r = compose(
      `services:\n  web:\n    image: nginx\n    ports:\n      - "8080:99999"\n      - "1.2.3:80:80"\n      - "\${WEB_PORT:-8080}:80"\n      - "$$8080:80"\n    expose: ["80:80"]\n`,
    );
    // "${WEB_PORT:-8080}:80" is Compose's default (issue 17): 8080, said in the notes
    expect(codes(r)).toEqual(["RCH012", "RCH010", "RCH012", "RCH012"]);
    expect(r.diagnostics.map(at)).toEqual(["5:9", "6:9", "8:9", "9:14"]);
    expect(r.fragment.notes.join("\n")).toContain(
      "WEB_PORT is not set by the env files named (--env-file), so Compose uses its default '8080'",
    );
  });

  it("two publications of one host port: Docker refuses the second", () => {
    const r = compose(`services:\n  a:\n    image: x\n    ports: ["8080:80"]\n  b:\n    image: x\n    ports: ["127.0.0.1:8080:80"]\n`);
    expect(codes(r)).toEqual(["RCH051"]);
    expect(at(r.diagnostics[0])).toBe("7:13");
    expect(r.diagnostics[0]!.message).toContain("already allocated");
    load(topology(r.fragment));
  });
});

describe("compose: networks", () => {
  it("default pools in creation order: default first, then declared networks in file order; isolation between networks", async () => {
    const r = compose(`services:
  proxy:
    image: traefik
    ports: ["80:80"]
    networks: [front, default]
  app:
    image: app
    networks: [front, back]
    expose: ["8000"]
  db:
    image: postgres
    networks: [back]
    expose: ["5432"]
  cache:
    image: redis
    expose: ["6379"]
networks:
  back: {}
  front:
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.segments).toEqual({
      "host/docker:default": "172.18.0.0/16",
      "host/docker:back": "172.19.0.0/16",
      "host/docker:front": "172.20.0.0/16",
    });
    expect(r.fragment.machines["proxy"]?.interfaces).toEqual({
      eth0: { segment: "host/docker:front", addresses: ["172.20.0.2/16"] },
      eth1: { segment: "host/docker:default", addresses: ["172.18.0.2/16"] },
    });
    // libnetwork's gateway endpoint: same priority, then network name ("default" < "front")
    expect(r.fragment.machines["proxy"]?.routes).toEqual([{ to: "default", via: "172.18.0.1" }]);
    expect(hostOf(r).nat?.[0]).toMatchObject({ dport: 80, to: "172.18.0.2" });
    expect(r.fragment.machines["db"]?.interfaces?.["eth0"]?.addresses).toEqual(["172.19.0.3/16"]);
    expect(r.fragment.machines["cache"]?.interfaces?.["eth0"]?.addresses).toEqual(["172.18.0.3/16"]);
    expect(
      await verdicts(topology(r.fragment), [
        "proxy -> app:8000/tcp",
        "app -> db:5432/tcp",
        "proxy -> db:5432/tcp",
        "cache -> app:8000/tcp",
        "lan -> proxy:80/tcp",
      ]),
    ).toEqual({
      "proxy -> app:8000/tcp": "reachable",
      "app -> db:5432/tcp": "reachable",
      "proxy -> db:5432/tcp": "unreachable",
      "cache -> app:8000/tcp": "unreachable",
      "lan -> proxy:80/tcp": "reachable",
    });
  });

  it("ipam subnet, gateway, ipv4_address, aux_addresses and a named bridge", () => {
    const r = compose(`services:
  a:
    image: x
    networks:
      lab:
        ipv4_address: 10.5.0.10
  b:
    image: x
    networks: [lab]
  c:
    image: x
    networks:
      lab:
        ipv4_address: 10.6.0.1
networks:
  lab:
    driver: bridge
    driver_opts:
      com.docker.network.bridge.name: lab0
      com.docker.network.driver.mtu: "1400"
    ipam:
      config:
        - subnet: 10.5.0.0/24
          gateway: 10.5.0.254
          aux_addresses:
            printer: 10.5.0.1
`);
    expect(codes(r)).toEqual(["RCH010"]);
    expect(at(r.diagnostics[0])).toBe("14:23");
    expect(hostOf(r).interfaces).toEqual({ lab0: { segment: "host/docker:lab", addresses: ["10.5.0.254/24"] } });
    expect(r.fragment.machines["a"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.5.0.10/24"]);
    expect(r.fragment.machines["b"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.5.0.2/24"]);
    expect(r.fragment.machines["c"]?.interfaces?.["eth0"]?.addresses).toEqual([]);
    expect(r.fragment.machines["a"]?.routes).toEqual([{ to: "default", via: "10.5.0.254" }]);
    expect(r.fragment.notes.join("\n")).not.toMatch(/default address pools/);
  });

  it("ipv4_address needs an ipam subnet; ip_range leaves dynamic addresses unknown", () => {
    const r = compose(`services:
  a:
    image: x
    networks:
      n1:
        ipv4_address: 172.18.0.50
  b:
    image: x
    networks: [n2]
networks:
  n1:
  n2:
    ipam:
      config:
        - subnet: 10.9.0.0/16
          ip_range: 10.9.5.0/24
`);
    expect(codes(r)).toEqual(["RCH051", "RCH051"]);
    expect(r.diagnostics.map(at)).toEqual(["16:21", "6:23"]);
    expect(r.fragment.machines["a"]?.interfaces?.["eth0"]?.addresses).toEqual([]);
    expect(r.fragment.machines["b"]?.interfaces?.["eth0"]?.addresses).toEqual([]);
    expect(r.fragment.notes.join("\n")).toMatch(/addresses: \[\]/);
  });

  it("an internal network: no forwarding, no masquerade, no default route, publishing has no effect", async () => {
    const r = compose(`services:
  app:
    image: app
    ports: ["8080:80"]
    networks: [inner]
  db:
    image: postgres
    networks: [inner]
    expose: ["5432"]
networks:
  inner:
    internal: true
`);
    expect(r.diagnostics).toEqual([]);
    const host = hostOf(r);
    expect(host.nat).toBeUndefined();
    expect(host.firewall?.forward?.rules).toEqual([
      { action: "drop", in: "br-inner", comment: "docker: internal network inner" },
      { action: "drop", out: "br-inner", comment: "docker: internal network inner" },
    ]);
    expect(r.fragment.machines["app"]?.routes).toBeUndefined();
    expect(r.fragment.notes.join("\n")).toMatch(/app: its published ports have no effect/);
    expect(
      await verdicts(topology(r.fragment), ["app -> db:5432/tcp", "lan -> app:80/tcp", "db -> lan/icmp", "host -> db:5432/tcp"]),
    ).toEqual({
      "app -> db:5432/tcp": "reachable",
      "lan -> app:80/tcp": "unreachable",
      "db -> lan/icmp": "unreachable",
      "host -> db:5432/tcp": "reachable",
    });
  });

  it("external networks, other drivers, IPv6 and unknown options are reported", () => {
    const r = compose(`services:
  a:
    image: x
    networks: [outside, overlay, v6, nowhere]
networks:
  outside:
    external: true
  overlay:
    driver: overlay
  v6:
    enable_ipv6: true
    driver_opts:
      com.docker.network.bridge.enable_icc: "false"
    ipam:
      config:
        - subnet: 172.28.0.0/16
        - subnet: fd00:28::/64
    colour: blue
`);
    // an external network is assumed as `docker network create` makes it (a note, issue 17 corpus): no warning
    expect(codes(r)).toEqual(["RCH051", "RCH051", "RCH051", "RCH051", "RCH051", "RCH051"]);
    expect(r.diagnostics.map(at)).toEqual(["9:13", "11:18", "13:7", "17:19", "18:5", "4:38"]);
    expect(r.fragment.notes.join("\n")).toContain("Network 'outside' is external (outside): Compose does not create it; assumed");
    expect(Object.values(r.fragment.machines["a"]?.interfaces ?? {}).map((i) => i.segment)).toEqual([
      "host/docker:outside",
      "host/docker:v6",
    ]);
    load(topology(r.fragment));
  });

  it("addresses follow the start order: depends_on first, then file order", () => {
    const r = compose(`services:
  web:
    image: nginx
    depends_on: [api]
  api:
    image: api
    depends_on:
      db: { condition: service_healthy }
  db:
    image: postgres
  cache:
    image: redis
`);
    expect(r.diagnostics).toEqual([]);
    const addr = (m: string) => r.fragment.machines[m]?.interfaces?.["eth0"]?.addresses?.[0];
    expect(["db", "api", "web", "cache"].map(addr)).toEqual(["172.18.0.2/16", "172.18.0.3/16", "172.18.0.4/16", "172.18.0.5/16"]);
    expect(Object.keys(r.fragment.machines)).toEqual(["web", "api", "db", "cache", "host"]);
  });

  it("driver options: default host binding and no masquerade", () => {
    const r = compose(`services:
  web:
    image: nginx
    ports: ["8080:80"]
networks:
  default:
    driver_opts:
      com.docker.network.bridge.host_binding_ipv4: "127.0.0.1"
      com.docker.network.bridge.enable_ip_masquerade: "false"
`);
    expect(r.diagnostics).toEqual([]);
    expect(hostOf(r).nat).toEqual([
      {
        action: "dnat",
        chain: "prerouting",
        proto: "tcp",
        dst: "127.0.0.1/32",
        dport: 8080,
        to: "172.18.0.2",
        toPort: 80,
        comment: "docker: web 127.0.0.1:8080->80/tcp",
      },
    ]);
    expect(hostOf(r).relays?.map((s) => s.bind)).toEqual(["127.0.0.1"]);
  });

  it("network_mode: bridge puts the container on docker0", () => {
    const r = compose(`services:\n  legacy:\n    image: x\n    network_mode: bridge\n    ports: ["9000:9000"]\n`);
    expect(r.diagnostics).toEqual([]);
    expect(hostOf(r).interfaces).toEqual({ docker0: { segment: "host/docker:bridge", addresses: ["172.17.0.1/16"] } });
    expect(r.fragment.machines["legacy"]?.interfaces).toEqual({ eth0: { segment: "host/docker:bridge", addresses: ["172.17.0.2/16"] } });
  });
});

describe("compose: network_mode and left-out services", () => {
  it("network_mode: host makes listeners of the host itself and ignores ports (RCH051)", async () => {
    const r = compose(`services:
  monitor:
    image: prom/node-exporter
    network_mode: host
    ports:
      - "9100:9100"
    expose: ["9101"]
`);
    expect(codes(r)).toEqual(["RCH051"]);
    expect(at(r.diagnostics[0])).toBe("5:5");
    expect(r.diagnostics[0]!.message).toContain("network_mode: host");
    expect(r.fragment.machines["monitor"]).toBeUndefined();
    expect(hostOf(r).services).toEqual([
      { name: "monitor 9100/tcp (assumed)", proto: "tcp", port: 9100 },
      { name: "monitor 9101/tcp (assumed)", proto: "tcp", port: 9101 },
    ]);
    expect(hostOf(r).nat).toBeUndefined();
    expect(await verdicts(topology(r.fragment), ["lan -> host:9100/tcp"])).toEqual({ "lan -> host:9100/tcp": "reachable" });
  });

  it("network_mode: host without ports or expose is never silently nothing: a warning says its ports are unknown (2026-12-06)", () => {
    const r = compose(`services:\n  mon:\n    image: prom/node-exporter\n    network_mode: host\n`);
    expect(codes(r)).toEqual(["RCH051"]);
    expect(at(r.diagnostics[0])).toBe("4:19");
    expect(r.diagnostics[0]!.message).toMatch(/network_mode: host\) and says no port .*not imported/);
    expect(r.fragment.machines["host"]?.services ?? []).toEqual([]);
  });

  it.each([
    ["none", "only a loopback interface"],
    ["service:web", "another container's network namespace"],
    ["container:abc", "another container's network namespace"],
    ["slirp4netns", "not modelled"],
  ])("network_mode: %s is left out", (mode, why) => {
    const r = compose(`services:\n  x:\n    image: x\n    network_mode: "${mode}"\n`);
    expect(codes(r)).toEqual(["RCH051"]);
    expect(at(r.diagnostics[0])).toBe("4:19");
    expect(r.diagnostics[0]!.message).toContain(why);
    expect(r.fragment.machines["x"]).toBeUndefined();
  });

  it("profiles, extends, replicas, container_name, include and unknown top-level keys", () => {
    const r = compose(`include:
  - other.yml
x-common: &common
  image: nginx
  ports: ["8080:80"]
services:
  web:
    <<: *common
    container_name: frontend
    deploy:
      replicas: 3
  debug:
    image: busybox
    profiles: [debug]
  child:
    extends: { file: base.yml, service: base }
    image: x
version: "3.9"
volumes: {}
colour: blue
`);
    // a service with profiles is imported (every service, unless the profiles option chooses: issue 17);
    // extends is followed (compose-merge.test.ts): base.yml does not exist, a warning at its file:
    // include: is read (other.yml does not exist: a warning at its path); three replicas publishing one
    // host port cannot all start: the first is imported, and the import says why (a note)
    expect(codes(r)).toEqual(["RCH001", "RCH051", "RCH001"]);
    expect(r.diagnostics.map(at)).toEqual(["2:5", "20:1", "16:22"]);
    expect(r.diagnostics.every((d) => d.severity === "warning")).toBe(true);
    expect(r.fragment.notes.join("\n")).toContain("Service 'web' asks for 3 containers, but they would all publish host port 8080/tcp");
    expect(Object.keys(r.fragment.machines).sort()).toEqual(["child", "debug", "frontend", "host"]);
    expect(hostOf(r).nat?.[0]).toMatchObject({ dport: 8080, to: "172.18.0.2" });
  });

  it("several files are one project, merged as docker compose -f a -f b merges them (issue 17)", () => {
    const r = importCompose(
      [
        { file: "a/compose.yaml", text: WEB_DB },
        { file: "b/compose.yaml", text: `services:\n  web:\n    image: other\n  api:\n    image: api\n    expose: ["3000"]\n` },
      ],
      HOST,
    ) as ImportResult;
    expect(codes(r)).toEqual([]);
    // one default network; web is the first file's service with the second's image; api is added after db
    expect(r.fragment.segments).toEqual({ "host/docker:default": "172.18.0.0/16" });
    expect(r.fragment.machines["api"]?.interfaces?.["eth0"]).toEqual({ segment: "host/docker:default", addresses: ["172.18.0.4/16"] });
    load(topology(r.fragment));
  });
});

describe("compose: not a Compose file, malformed input", () => {
  it("nested merge keys do not blow up", () => {
    const levels = ['a0: &a0 { ports: ["8080:80"] }'];
    for (let i = 1; i <= 12; i++) levels.push(`a${i}: &a${i} { <<: [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ")}] }`);
    const text = `x-levels:\n${levels.map((l) => `  ${l}`).join("\n")}\nservices:\n  web:\n    <<: *a12\n    image: nginx\n`;
    const t0 = Date.now();
    const r = compose(text);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.diagnostics).toEqual([]);
    expect(hostOf(r).nat?.[0]).toMatchObject({ dport: 8080 });
  });

  it.each([
    ["", "RCH050", "1:1"],
    ["- a\n- b\n", "RCH050", "1:1"],
    ["machines:\n  a: {}\n", "RCH050", "1:1"],
    ["services:\n  web: [\n", "RCH055", "3:1"],
    ["services:\n  web:\n    image: x\n  web:\n    image: y\n", "RCH055", "4:3"],
    ['\uFEFFservices:\n web:\n   ports: ["8080:80"\n', "RCH055", "4:1"],
  ])("%j", (text, code, where) => {
    const r = compose(text);
    expect(codes(r)).toEqual([code]);
    expect(at(r.diagnostics[0])).toBe(where);
    expect(r.fragment.machines).toEqual({});
  });
});

describe("docker inspect", () => {
  const sample = () => readFileSync(join(GOLDEN, "docker-inspect", "inspect.json"), "utf8");

  it("reads addresses, the bridge, published and exposed ports; a stopped container is left out", async () => {
    const r = inspect(sample());
    expect(codes(r)).toEqual(["RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("shop-migrate-1 is not running");
    expect(r.diagnostics[0]!.span.line).toBeGreaterThan(300);
    expect(r.fragment.segments).toEqual({ "host/docker:shop_default": "172.19.0.0/16" });
    expect(hostOf(r).interfaces).toEqual({ "br-5c0f6a1e2b3d": { segment: "host/docker:shop_default", addresses: ["172.19.0.1/16"] } });
    expect(r.fragment.machines["shop-web-1"]?.interfaces).toEqual({
      eth0: { segment: "host/docker:shop_default", addresses: ["172.19.0.3/16"] },
    });
    expect(hostOf(r).nat?.[0]).toMatchObject({ action: "dnat", dport: 8080, to: "172.19.0.3", toPort: 80 });
    expect(hostOf(r).relays?.map((s) => s.name)).toEqual([
      "docker-proxy 0.0.0.0:8080/tcp (relays to shop-web-1:80)",
      "docker-proxy [::]:8080/tcp (relays to shop-web-1:80)",
    ]);
    expect(
      await verdicts(topology(r.fragment), ["lan -> shop-web-1:80/tcp", "lan -> shop-db-1:5432/tcp", "shop-web-1 -> shop-db-1:5432/tcp"]),
    ).toEqual({
      "lan -> shop-web-1:80/tcp": "reachable",
      "lan -> shop-db-1:5432/tcp": "unreachable",
      "shop-web-1 -> shop-db-1:5432/tcp": "reachable",
    });
  });

  const container = (extra: string) => `[{"Name": "/web", "Config": {"ExposedPorts": {"80/tcp": {}}}, ${extra}}]`;

  it("the default bridge, IPv6, and a published IPv6 port DNATed to the container's IPv6 address", () => {
    const r = inspect(
      container(`"HostConfig": {"NetworkMode": "bridge"}, "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}]},
      "Networks": {"bridge": {"IPAddress": "172.17.0.2", "IPPrefixLen": 16, "Gateway": "172.17.0.1", "GlobalIPv6Address": "fd00:17::2", "GlobalIPv6PrefixLen": 64, "IPv6Gateway": "fd00:17::1", "NetworkID": "x"}}}`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.segments).toEqual({ "host/docker:bridge": { subnets: ["172.17.0.0/16", "fd00:17::/64"] } });
    expect(hostOf(r).interfaces).toEqual({ docker0: { segment: "host/docker:bridge", addresses: ["172.17.0.1/16", "fd00:17::1/64"] } });
    expect(r.fragment.machines["web"]?.routes).toEqual([
      { to: "default", via: "172.17.0.1" },
      { to: "default6", via: "fd00:17::1" },
    ]);
    expect(
      hostOf(r)
        .nat?.filter((x) => x.action === "dnat")
        .map((x) => `${x.chain} ${x.to}`),
    ).toEqual(["prerouting 172.17.0.2", "output 172.17.0.2", "prerouting fd00:17::2", "output fd00:17::2"]);
    expect(
      hostOf(r)
        .nat?.filter((x) => x.action === "masquerade")
        .map((x) => x.src),
    ).toEqual(["172.17.0.0/16", "fd00:17::/64"]);
    load(topology(r.fragment));
  });

  it.each([
    [`"HostConfig": {"NetworkMode": "none"}, "NetworkSettings": {"Networks": {}}`, "only a loopback interface"],
    [`"HostConfig": {"NetworkMode": "container:abc"}, "NetworkSettings": {"Networks": {}}`, "another container's network namespace"],
    [
      `"HostConfig": {"NetworkMode": "bridge"}, "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "", "IPPrefixLen": 0}}}`,
      "has no address on network 'bridge'",
    ],
    [
      `"HostConfig": {}, "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": ""}]}, "Networks": {"n": {"IPAddress": "10.1.0.2", "IPPrefixLen": 24, "Gateway": "10.1.0.1"}}}`,
      "routed gateway mode",
    ],
    [`"HostConfig": {}, "NetworkSettings": {"Ports": {"80/sctp": null}, "Networks": {}}`, "SCTP"],
  ])("RCH051: %s", (extra, why) => {
    const r = inspect(container(extra));
    expect(codes(r)).toEqual(["RCH051"]);
    expect(r.diagnostics[0]!.message).toContain(why);
  });

  it("a created container without runtime ports: HostConfig.PortBindings, as requested", () => {
    const r = inspect(
      container(
        `"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": ""}]}}, "NetworkSettings": {"Ports": {}, "Networks": {"n": {"IPAddress": "10.1.0.2", "IPPrefixLen": 24, "Gateway": "10.1.0.1"}}}`,
      ),
    );
    expect(codes(r)).toEqual(["RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("Docker picks the host port");
    expect(hostOf(r).nat?.[0]).toMatchObject({ dport: 8080, to: "10.1.0.2", toPort: 80 });
    expect(hostOf(r).nat?.[0]).toMatchObject({ src: "0.0.0.0/0", dst: "local" });
    expect(r.fragment.notes.join("\n")).toMatch(/PortBindings are used/);
  });

  it("network mode host: listeners of the host", () => {
    const r = inspect(container(`"HostConfig": {"NetworkMode": "host"}, "NetworkSettings": {"Ports": {}, "Networks": {"host": {}}}`));
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.machines).toEqual({ host: { services: [{ name: "web 80/tcp (assumed)", proto: "tcp", port: 80 }] } });
  });

  it("two containers disagreeing about a network, and a name used twice", () => {
    const one = (name: string, gw: string) =>
      `{"Name": "/${name}", "HostConfig": {}, "NetworkSettings": {"Networks": {"n": {"IPAddress": "10.1.0.${name.length}", "IPPrefixLen": 24, "Gateway": "${gw}"}}}}`;
    const r = inspect(`[${one("a", "10.1.0.1")}, ${one("bb", "10.1.0.254")}, ${one("a", "10.1.0.1")}]`);
    expect(codes(r)).toEqual(["RCH051", "RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("another subnet or gateway");
    expect(r.diagnostics[1]!.message).toContain("already taken");
    expect(r.fragment.machines["bb"]).toEqual({});
  });

  it.each([
    ["", "RCH050"],
    ["{}", "RCH050"],
    ['[{"Name": "n", "IPAM": {"Config": []}, "Containers": {}}]', "RCH050"],
    ["services:\n  web: {}\n", "RCH050"],
    ['[{"Name": "/web", "HostConfig": {', "RCH055"],
    ['[{"Name": "/web" "HostConfig": {}}]', "RCH055"],
  ])("%j", (text, code) => {
    const r = inspect(text);
    expect(codes(r)[0]).toBe(code);
    expect(r.diagnostics[0]!.span.line).toBeGreaterThanOrEqual(1);
  });

  it("bad values inside good JSON", () => {
    const r = inspect(`[{"Name": "/web", "HostConfig": {}, "NetworkSettings": {
  "Ports": {"80/tcp": [{"HostIp": "1.2.3", "HostPort": "8080"}, {"HostIp": "0.0.0.0", "HostPort": "99999"}], "http": null},
  "Networks": {"n": {"IPAddress": "10.1.0.300", "IPPrefixLen": 24}, "m": {"IPAddress": "10.2.0.2", "IPPrefixLen": 40}}}}]`);
    expect(codes(r)).toEqual(["RCH010", "RCH012", "RCH051", "RCH010", "RCH011"]);
    expect(r.diagnostics.map(at)).toEqual(["2:35", "2:99", "2:110", "3:35", "3:115"]);
  });
});

describe("never throws, always positioned", () => {
  const samples = [
    "compose-web-db/docker-compose.yml",
    "compose-localhost/docker-compose.yml",
    "compose-input-firewall/docker-compose.yml",
    "docker-inspect/inspect.json",
  ].map((f) => readFileSync(join(GOLDEN, f), "utf8"));
  const check = (r: ImportResult, text: string) => {
    const lines = text.split("\n").length;
    for (const d of r.diagnostics) {
      expect(d.span.line).toBeGreaterThanOrEqual(1);
      expect(d.span.line).toBeLessThanOrEqual(lines);
      expect(d.span.col).toBeGreaterThanOrEqual(1);
    }
  };

  it("every prefix of every sample, with both importers", () => {
    for (const s of samples) {
      for (let n = 0; n <= s.length; n += Math.max(1, Math.floor(s.length / 150))) {
        const text = s.slice(0, n);
        check(compose(text), text);
        check(inspect(text), text);
      }
    }
  });

  it("random text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        check(compose(text), text);
        check(inspect(text), text);
      }),
      { numRuns: 300 },
    );
  });

  it("every fragment of the samples loads as a topology", () => {
    for (const s of samples.slice(0, 3)) load(topology(compose(s).fragment));
    load(topology(inspect(samples[3]!).fragment));
  });
});
