/**
 * Findings of the review of `reach import` (2026-11-24), each pinned where it was fixed:
 * a snapshot host without a default route, Docker's rules ahead of the user's, Docker's
 * network isolation, option checks, KIND:FILE, NAT Network addresses, write errors.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runImport } from "../../src/import/run.js";
import { lower } from "../../src/lower/lower.js";
import { ask } from "../../src/query/dials.js";
import { parseQuery } from "../../src/ir/query.js";
import { loadTopologyText } from "../../src/topology/load.js";

const dir = mkdtempSync(join(tmpdir(), "reach-import-review-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const reach = (...args: string[]) => spawnSync(process.execPath, ["dist/bin/main.js", ...args], { encoding: "utf8" });
const G = "test/import/golden";

async function verdict(text: string, query: string): Promise<string> {
  const q = parseQuery(query);
  if (!q.ok) throw new Error(q.message);
  return ask(lower(loadTopologyText("t.yaml", text).topology), q.query).verdict;
}

describe("import review findings (2026-11-24)", () => {
  it("a Linux host without a default route keeps its own interfaces: no LAN is assumed for it", async () => {
    const r = await runImport({
      kind: "linux",
      files: [join(G, "linux-server/ip-addr.json"), join(G, "linux-server/ss.txt")],
      options: { host: "host", lan: "192.168.1.0/24" },
    });
    expect(r.text).toBeDefined();
    expect(r.text).not.toContain("No input described host's own interfaces");
    expect(r.text).toMatch(/eth0: \{ segment: host\/eth0, addresses: \[ 192\.168\.1\.10\/24 \] \}/);
  });

  it("--into: Docker's FORWARD rules come before the user's (Docker inserts its chains at the top)", async () => {
    const base = join(dir, "h2.yaml");
    writeFileSync(
      base,
      `segments: { lan: 192.168.1.0/24 }
machines:
  host:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } }
    firewall: { forward: { policy: drop, rules: [ { action: drop, in: eth0, comment: "no routing from the LAN" } ] } }
  lan: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } } }
`,
    );
    const r = await runImport({
      kind: "compose",
      files: [join(G, "compose-web-db/docker-compose.yml")],
      options: { host: "host", lan: "192.168.1.0/24" },
      into: base,
    });
    expect(await verdict(r.text!, "lan -> web:80/tcp")).toBe("reachable");
  });

  it("containers of two Docker networks reach each other only through published ports", async () => {
    const f = join(dir, "iso.yml");
    writeFileSync(
      f,
      `services:
  web: { image: nginx, networks: [front], ports: ["8080:80"] }
  api: { image: api, networks: [front], expose: ["9000"] }
  worker: { image: busybox, networks: [back] }
networks: { front: {}, back: {} }
`,
    );
    const r = await runImport({ kind: "compose", files: [f], options: { host: "host", lan: "192.168.1.0/24" } });
    expect(r.text).toContain("docker: isolation of back from front");
    expect(await verdict(r.text!, "worker -> api:9000/tcp")).toBe("unreachable");
    expect(await verdict(r.text!, "worker -> web:80/tcp")).toBe("reachable");
    expect(await verdict(r.text!, "web -> api:9000/tcp")).toBe("reachable");
  });

  it("Docker's DNAT applies only to the host's own addresses (dst: local): a container reaches port 8080 of another machine", async () => {
    const base = join(dir, "lan8080.yaml");
    writeFileSync(
      base,
      `segments: { lan: 192.168.1.0/24 }
machines:
  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  nas:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.40/24] } }
    services: [ { name: admin, proto: tcp, port: 8080 } ]
`,
    );
    const r = await runImport({
      kind: "compose",
      files: [join(G, "compose-web-db/docker-compose.yml")],
      options: { host: "host", lan: "192.168.1.0/24" },
      into: base,
    });
    expect(r.text).toContain("dst: local");
    expect(await verdict(r.text!, "web -> nas:8080/tcp")).toBe("reachable");
    expect(await verdict(r.text!, "nas -> web:80/tcp")).toBe("reachable");
  });

  it("a NAT Network forward's guest IP is not given to either VM when two VMs' addresses are unknown", async () => {
    const vm = (name: string) => `name="${name}"\nnic1="natnetwork"\nnat-network1="labnet"\n`;
    writeFileSync(join(dir, "app.txt"), vm("app"));
    writeFileSync(join(dir, "db.txt"), vm("db"));
    writeFileSync(
      join(dir, "nl.txt"),
      "Name:         labnet\nNetwork:      10.0.2.0/24\nGateway:      10.0.2.1\nDHCP Server:  Yes\nIPv6:         No\nIPv6 Prefix:  fd17:625c:f037:2::/64\nIPv6 Default: No\nEnabled:      Yes\nPort-forwarding (ipv4)\n        web:tcp:[]:8080:[10.0.2.9]:80\n\n",
    );
    const addrOf = (text: string, m: string) => new RegExp(`${m}:[\\s\\S]*?addresses: \\[ ([0-9./]+) \\]`).exec(text)?.[1];
    const a = await runImport({
      kind: "virtualbox",
      files: [join(dir, "app.txt"), join(dir, "db.txt"), join(dir, "nl.txt")],
      options: { host: "host", lan: "192.168.1.0/24" },
    });
    const b = await runImport({
      kind: "virtualbox",
      files: [join(dir, "db.txt"), join(dir, "app.txt"), join(dir, "nl.txt")],
      options: { host: "host", lan: "192.168.1.0/24" },
    });
    expect(a.text, JSON.stringify(a.diagnostics)).toBeDefined();
    // which VM the forward means is not in the inputs: both get DHCP leases, in argument order
    expect([addrOf(a.text!, "app"), addrOf(a.text!, "db")]).toEqual(["10.0.2.4/24", "10.0.2.5/24"]);
    expect([addrOf(b.text!, "db"), addrOf(b.text!, "app")]).toEqual(["10.0.2.4/24", "10.0.2.5/24"]);
  });

  it("a file named like KIND:FILE is that file", () => {
    const sub = join(dir, "kf");
    mkdirSync(sub);
    cpSync(join(G, "vagrant-exposed-forward/Vagrantfile"), join(sub, "vagrant:lab"));
    const r = spawnSync(process.execPath, [join(process.cwd(), "dist/bin/main.js"), "import", "vagrant", "vagrant:lab"], {
      encoding: "utf8",
      cwd: sub,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("hostPort: 8080");
  });

  it("options a topology cannot honour are usage errors: --host not queryable, --lan narrower than /24, -o = --into or an input", () => {
    const vf = join(G, "vagrant-exposed-forward/Vagrantfile");
    const before = readFileSync(vf, "utf8");
    for (const args of [
      ["--host", "my laptop"],
      ["--lan", "10.0.0.0/28"],
      ["-o", vf, "--force"],
    ]) {
      const r = reach("import", "vagrant", vf, ...args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("RCH042");
    }
    expect(readFileSync(vf, "utf8")).toBe(before);
    const base = join(dir, "base.yaml");
    writeFileSync(
      base,
      "machines:\n  host: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }\nsegments: { lan: 192.168.1.0/24 }\n",
    );
    const r = reach("import", "vagrant", vf, "--into", base, "-o", base, "--force");
    expect(r.status).toBe(2);
    expect(readFileSync(base, "utf8")).toContain("192.168.1.10/24");
  });

  it("an output the file system refuses is RCH057 (exit 2), not an internal error", () => {
    const folder = join(dir, "a-folder");
    mkdirSync(folder);
    const r = reach("import", "vagrant", join(G, "vagrant-exposed-forward/Vagrantfile"), "-o", folder, "--force");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("RCH057");
    const r2 = reach("import", "vagrant", join(G, "vagrant-exposed-forward/Vagrantfile"), "-o", join(dir, "no-such-folder", "x.yaml"));
    expect(r2.status).toBe(2);
  });
});
