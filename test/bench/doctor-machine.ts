/**
 * A busy machine for `reach doctor --replay`: the lab's recorded outputs (test/doctor/fixtures/lab)
 * grown to 3 VMs (two VirtualBox, one QEMU), 10 Docker containers with published ports, and 200
 * more INPUT rules, written into a new folder in the same formats the real tools print.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LAB = join(import.meta.dirname, "../doctor/fixtures/lab");
const CONTAINERS = 10;
const RULES = 200;

const hex = (i: number, len: number) => (0x5a17c0de00n + BigInt(i) * 7919n).toString(16).padStart(len, "0").slice(-len);
const containerId = (i: number) => `${hex(i, 12)}${"0".repeat(52)}`;

function container(shop: Record<string, unknown>, i: number): Record<string, unknown> {
  const c = structuredClone(shop) as Record<string, any>;
  const ip = `172.17.0.${10 + i}`;
  const port = String(8100 + i);
  c.Id = containerId(i);
  c.Name = `/app${i}`;
  c.HostConfig.PortBindings["80/tcp"][0].HostPort = port;
  c.NetworkSettings.Ports["80/tcp"][0].HostPort = port;
  c.NetworkSettings.IPAddress = ip;
  c.NetworkSettings.Networks.bridge.IPAddress = ip;
  c.NetworkSettings.MacAddress = c.NetworkSettings.Networks.bridge.MacAddress = `02:42:ac:11:00:${(10 + i).toString(16).padStart(2, "0")}`;
  return c;
}

/** iptables-save with the containers' DNAT and FORWARD rules and RULES more INPUT rules. */
function iptables(text: string): string {
  const nat = Array.from(
    { length: CONTAINERS },
    (_, i) => `-A DOCKER ! -i docker0 -p tcp -m tcp --dport ${8100 + i} -j DNAT --to-destination 172.17.0.${10 + i}:80`,
  );
  const fwd = Array.from(
    { length: CONTAINERS },
    (_, i) => `-A DOCKER -d 172.17.0.${10 + i}/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT`,
  );
  const input = Array.from(
    { length: RULES },
    (_, i) => `-A INPUT -s 10.${20 + (i >> 8)}.${i & 255}.0/24 -p tcp -m tcp --dport ${10000 + i} -j DROP`,
  );
  return text
    .replace(/(-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8081 [^\n]*\n)/, `$1${nat.join("\n")}\n`)
    .replace(/(-A DOCKER -d 172\.17\.0\.2\/32 [^\n]*\n)/, `$1${fwd.join("\n")}\n`)
    .replace(/(-A INPUT -m conntrack [^\n]*\n)/, `$1${input.join("\n")}\n`);
}

export interface BusyMachine {
  readonly dir: string;
  cleanup(): void;
}

export function busyMachine(): BusyMachine {
  const dir = mkdtempSync(join(tmpdir(), "reach-doctor-bench-"));
  cpSync(LAB, dir, { recursive: true });
  // a second VirtualBox VM: the first one's settings, renamed, on other host ports
  const uuid2 = "7d1f3b5a-9c2e-4f60-8a1b-2c3d4e5f6a7b";
  const info = readFileSync(join(LAB, "VBoxManage_showvminfo_0c6e4c55-7f2a-4d6b-9a1e-3b8d2f5c7a10_--machinereadable"), "utf8");
  writeFileSync(
    join(dir, `VBoxManage_showvminfo_${uuid2}_--machinereadable`),
    info
      .replace('name="web"', 'name="api"')
      .replace(/UUID="[^"]+"/, `UUID="${uuid2}"`)
      .replace('"http,tcp,,8080,,80"', '"http,tcp,,8090,,80"')
      .replace('"ssh,tcp,127.0.0.1,2200,,22"', '"ssh,tcp,127.0.0.1,2201,,22"'),
  );
  writeFileSync(
    join(dir, "VBoxManage_list_runningvms"),
    `${readFileSync(join(LAB, "VBoxManage_list_runningvms"), "utf8")}"api" {${uuid2}}\n`,
  );
  // ten containers in place of the one
  const [shop] = JSON.parse(readFileSync(join(LAB, "docker_inspect_7e5a4c2b9d8f"), "utf8")) as Record<string, unknown>[];
  const all = Array.from({ length: CONTAINERS }, (_, i) => container(shop!, i));
  const ids = all.map((_, i) => containerId(i).slice(0, 12));
  rmSync(join(dir, "docker_inspect_7e5a4c2b9d8f"));
  writeFileSync(join(dir, "docker_ps_-q"), ids.join("\n") + "\n");
  writeFileSync(join(dir, `docker_inspect_${ids.join("_")}`), JSON.stringify(all, null, 4) + "\n");
  const ss = readFileSync(join(LAB, "ss_-ltnupH"), "utf8");
  const proxies = ids.map(
    (_, i) => `tcp   LISTEN 0      4096         0.0.0.0:${8100 + i}       0.0.0.0:*    users:(("docker-proxy",pid=${3000 + i},fd=4))`,
  );
  writeFileSync(join(dir, "ss_-ltnupH"), ss + proxies.join("\n") + "\n");
  writeFileSync(join(dir, "iptables-save"), iptables(readFileSync(join(LAB, "iptables-save"), "utf8")));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
