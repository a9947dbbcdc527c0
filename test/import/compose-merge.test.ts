/**
 * Compose files as Docker Compose reads several (issue 17): `-f` files merged in order, `extends`
 * (same file and `file:`, under the include rules of docs/security.md), and variables in
 * addresses and subnets (a warning with the service left out, never a refused file).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importCompose } from "../../src/import/docker.js";
import type { ImportResult } from "../../src/import/types.js";
import type { MachineDoc } from "../../src/topology/schema.js";

const DIR = join(import.meta.dirname, "fixtures", "compose-merge");
const read = (f: string) => ({ file: join(DIR, f), text: readFileSync(join(DIR, f), "utf8") });
const run = (files: { file: string; text: string }[], options: object = {}) =>
  importCompose(files, { host: "host", ...options }) as ImportResult;
const dnat = (r: ImportResult) =>
  (r.fragment.machines["host"]?.nat ?? [])
    // a publication on every address is two rules (PREROUTING to local addresses, OUTPUT to local non-loopback ones)
    .filter((n) => n.action === "dnat" && n.dst !== "local-nonloopback")
    .map((n) => `${n.dst === "local" ? "*" : String(n.dst)}:${String(n.dport)}->${"to" in n ? String(n.to) : "?"}`)
    .sort();
const ports = (m: MachineDoc | undefined) => (m?.services ?? []).map((s) => `${String(s.port)}${s.exposed ? " exposed" : ""}`);
const said = (r: ImportResult) =>
  r.diagnostics.map((d) => `${d.span.file.split("/").at(-1)}:${d.span.line}:${d.span.col} ${d.code} ${d.message}`);

const tmp = mkdtempSync(join(tmpdir(), "reach-compose-merge-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("several Compose files: merged in order", () => {
  const r = run([read("compose.yaml"), read("compose.override.yaml")]);

  it("mappings merge, ports append without repeats, a service of the override is added", () => {
    expect(said(r)).toEqual([]);
    expect(Object.keys(r.fragment.machines)).toEqual(["web", "db", "cache", "worker", "admin", "host"]);
    // 127.0.0.1:8080:80 is in both files: one publication (a second would be Docker's port conflict)
    expect(dnat(r)).toEqual([
      "*:5432->172.18.0.3",
      "*:6380->172.18.0.5",
      "*:8443->172.18.0.2",
      "*:9000->172.18.0.6",
      "127.0.0.1/32:8080->172.18.0.2",
    ]);
    expect(r.fragment.notes.join("\n")).toContain("`docker compose -f compose.yaml -f compose.override.yaml` merges them");
  });

  it("a later file's scalar overrides an earlier one's", () => {
    const a = { file: join(tmp, "a.yml"), text: "services:\n  web:\n    image: nginx\n    container_name: first\n    ports: ['80:80']\n" };
    const b = { file: join(tmp, "b.yml"), text: "services:\n  web:\n    container_name: second\n" };
    expect(Object.keys(run([a, b]).fragment.machines)).toContain("second");
    expect(Object.keys(run([b, a]).fragment.machines)).toContain("first");
  });

  it("a service's networks as a list in one file and a mapping in the other merge in the mapping form", () => {
    const a = {
      file: join(tmp, "n1.yml"),
      text: "services:\n  web:\n    image: x\n    networks: [front]\nnetworks:\n  front:\n    ipam: { config: [{ subnet: 10.5.0.0/24 }] }\n",
    };
    const b = { file: join(tmp, "n2.yml"), text: "services:\n  web:\n    networks:\n      front: { ipv4_address: 10.5.0.9 }\n" };
    const m = run([a, b]);
    expect(said(m)).toEqual([]);
    expect(m.fragment.machines["web"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.5.0.9/24"]);
  });

  it("a warning of a merged value points at the file it came from", () => {
    const a = { file: join(tmp, "w1.yml"), text: "services:\n  web:\n    image: x\n" };
    const b = { file: join(tmp, "w2.yml"), text: "services:\n  web:\n    ports: ['${NOPE}:80']\n" };
    expect(said(run([a, b]))[0]).toMatch(/^w2\.yml:3:13 RCH051 port "\$\{NOPE\}:80" of service 'web' uses \$\{NOPE\}/);
  });
});

describe("extends", () => {
  it("file: a file beside the named one gives its settings; the base's depends_on is not inherited", () => {
    const r = run([read("compose.yaml")]);
    expect(said(r)).toEqual([]);
    expect(ports(r.fragment.machines["web"])).toEqual(["80", "9090 exposed"]);
    // the same file: worker extends cache (its exposed 6379) and publishes 6380
    expect(ports(r.fragment.machines["worker"])).toEqual(["6379"]);
    expect(dnat(r)).toContain("*:6380->172.18.0.5");
    // web's base depends on db; not inherited, so web starts first in file order (172.18.0.2)
    expect(dnat(r)).toContain("127.0.0.1/32:8080->172.18.0.2");
  });

  const refused = (spec: string, setup?: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmp, "x-"));
    mkdirSync(join(dir, "proj"));
    writeFileSync(join(dir, "outside.yml"), "services:\n  base:\n    image: secret-content\n    ports: ['7000:7000']\n");
    setup?.(dir);
    const file = join(dir, "proj", "compose.yaml");
    const r = run([{ file, text: `services:\n  web:\n    extends: { file: ${spec}, service: base }\n    ports: ['80:80']\n` }]);
    return { r, said: said(r) };
  };

  it.each([
    ["../outside.yml", "it lies outside the include root"],
    ["/etc/hostname", "an absolute path"],
    ["link.yml", "it leads outside the include root (through a symbolic link)"],
  ])("%s is refused with a warning naming the path, never the content; the service keeps its own settings", (spec, why) => {
    const { r, said: s } = refused(spec, (dir) => symlinkSync(join(dir, "outside.yml"), join(dir, "proj", "link.yml")));
    expect(s).toHaveLength(1);
    expect(s[0]).toContain(`RCH058 extends file '${spec}' is not read: ${why}`);
    expect(s[0]).not.toContain("secret-content");
    expect(r.diagnostics[0]!.severity).toBe("warning");
    expect(r.diagnostics[0]!.expected).toContain("the named Compose file's folder");
    expect(dnat(r)).toEqual(["*:80->172.18.0.2"]);
  });

  it("a missing file is RCH001 at the extends line; a file the user named is read although outside the folder", () => {
    expect(refused("gone.yml").said[0]).toMatch(
      /^compose\.yaml:3:22 RCH001 extends file 'gone\.yml' is not read: cannot be read \(ENOENT\)/,
    );
    const dir = mkdtempSync(join(tmp, "y-"));
    mkdirSync(join(dir, "proj"));
    const outside = { file: join(dir, "outside.yml"), text: "services:\n  base:\n    image: x\n    expose: ['7000']\n" };
    const main = {
      file: join(dir, "proj", "compose.yaml"),
      text: "services:\n  web:\n    extends: { file: ../outside.yml, service: base }\n",
    };
    const r = run([main, outside]);
    expect(said(r)).toEqual([]);
    expect(ports(r.fragment.machines["web"])).toEqual(["7000 exposed"]);
  });

  it("a loop, and a service that does not exist, are warnings", () => {
    const text = "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n  c:\n    extends: nobody\n    image: x\n";
    const s = said(run([{ file: join(tmp, "loop.yml"), text }]));
    expect(s.filter((x) => x.includes("loops or nests"))).toHaveLength(2);
    expect(s).toContain("loop.yml:8:14 RCH051 service 'c' extends service 'nobody', which this file does not define");
  });
});

describe("variables in addresses and subnets (issue 17): a warning with the service left out", () => {
  const text = `services:
  web:
    image: x
    networks:
      front: { ipv4_address: "\${WEB_IP}" }
  api:
    image: x
    networks:
      front: { ipv4_address: "\${API_IP:-10.9.0.7}" }
  db:
    image: x
    networks: [back]
networks:
  front:
    ipam: { config: [{ subnet: 10.9.0.0/24 }] }
  back:
    ipam: { config: [{ subnet: "\${BACK_NET}" }] }
`;
  it("an unset variable leaves its service out; a default is used and said", () => {
    const r = run([{ file: join(tmp, "vars.yml"), text }]);
    expect(said(r)).toEqual([
      "vars.yml:17:32 RCH051 subnet of network 'back' (its services are left out) uses ${BACK_NET}, which is not set",
      "vars.yml:5:30 RCH051 ipv4_address of service 'web' (the service is left out) uses ${WEB_IP}, which is not set",
      "vars.yml:12:16 RCH051 service 'db' is left out: the subnet of its network 'back' uses a variable that is not set",
    ]);
    expect(r.diagnostics.every((d) => d.severity === "warning")).toBe(true);
    expect(Object.keys(r.fragment.machines)).toEqual(["api", "host"]);
    expect(r.fragment.machines["api"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.9.0.7/24"]);
    expect(r.fragment.notes.join("\n")).toContain(
      "API_IP is not set by the env files named (--env-file), so Compose uses its default '10.9.0.7'",
    );
  });

  it("with the variables from a named env file, every service is imported", () => {
    const env = join(tmp, "vars.env");
    writeFileSync(env, "WEB_IP=10.9.0.5\nBACK_NET=10.10.0.0/24\n");
    const r = run([{ file: join(tmp, "vars.yml"), text }], { envFiles: [env] });
    expect(said(r)).toEqual([]);
    expect(r.fragment.machines["web"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.9.0.5/24"]);
    expect(r.fragment.machines["db"]?.interfaces?.["eth0"]?.addresses).toEqual(["10.10.0.2/24"]);
  });
});
