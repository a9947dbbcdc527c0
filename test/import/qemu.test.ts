import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../src/diagnostics/diagnostic.js";
import { mergeParts } from "../../src/import/merge.js";
import { importQemu } from "../../src/import/qemu.js";
import type { ImportResult } from "../../src/import/types.js";
import { loadTopologyText } from "../../src/topology/load.js";

const GOLDEN = join(import.meta.dirname, "golden");

async function run(text: string, file = "vm.sh"): Promise<ImportResult> {
  return importQemu([{ file, text }], { host: "host" });
}

const at = (d: Diagnostic) => `${d.span.line}:${d.span.col} ${d.code}`;
const codes = (r: ImportResult) => r.diagnostics.map(at);
const adapters = (r: ImportResult, vm: string) => r.fragment.machines[vm]?.vm?.adapters;

function loads(r: ImportResult): void {
  const merged = mergeParts([{ fragment: r.fragment, span: { file: "x", line: 1, col: 1 } }], { host: "host", lan: "192.168.1.0/24" });
  expect(() => loadTopologyText("imported.yaml", YAML.stringify(merged.doc))).not.toThrow();
}

const NAT = { mode: "nat", engine: "qemu", network: "10.0.2.0/24" };

describe("user-mode networking", () => {
  it("reads -netdev user with its device: libslirp's network, loopback reachable, repeated hostfwd", async () => {
    const r = await run(
      [
        "qemu-system-x86_64 -m 1024 -enable-kvm \\",
        '  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-10.0.2.15:53,hostfwd=::8080-:80" \\',
        "  -device virtio-net-pci,netdev=n0 disk.qcow2",
      ].join("\n"),
      "/vms/web.sh",
    );
    expect(r.fragment.machines["web"]).toEqual({
      vm: {
        on: "host",
        adapters: [
          {
            ...NAT,
            forwards: [
              { proto: "tcp", hostIp: "127.0.0.1", hostPort: 2222, guestPort: 22 },
              { proto: "udp", hostPort: 5353, guestIp: "10.0.2.15", guestPort: 53 },
              { proto: "tcp", hostPort: 8080, guestPort: 80 },
            ],
          },
        ],
      },
      services: [
        { name: "hostfwd tcp:127.0.0.1:2222-:22 (assumed)", proto: "tcp", port: 22 },
        { name: "hostfwd udp::5353-10.0.2.15:53 (assumed)", proto: "udp", port: 53 },
        { name: "hostfwd ::8080-:80 (assumed)", proto: "tcp", port: 80 },
      ],
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.notes.join("\n")).toMatch(/engine: qemu, whose localhostReachable is true/);
    loads(r);
  });

  it("reads -nic user and net= with a length, a mask, or none (the address's class)", async () => {
    const r = await run(
      [
        "qemu-system-aarch64 -name a -nic user,model=virtio-net-pci,net=192.168.76.0/24",
        "qemu-system-aarch64 -name b -nic user,net=10.0.5.0/255.255.255.128",
        "qemu-system-aarch64 -name c -nic user,net=10.9.0.0,host=10.9.0.2",
      ].join("\n"),
    );
    expect(adapters(r, "a")).toEqual([{ ...NAT, network: "192.168.76.0/24" }]);
    expect(adapters(r, "b")).toEqual([{ ...NAT, network: "10.0.5.0/25" }]);
    // 10.9.0.0 without a mask is class A: QEMU's guest would be 10.0.2.15, the language's 10.0.0.15
    expect(adapters(r, "c")).toEqual([{ ...NAT, network: "10.0.0.0/8" }]);
    expect(codes(r)).toEqual(["3:39 RCH051", "3:52 RCH051"]); // and host= is not at the language's 10.0.0.2
    loads(r);
  });

  it("pairs the legacy -net nic and -net user on their hub", async () => {
    const r = await run("qemu-system-i386 -name old -net nic,model=ne2k_pci -net user,hostfwd=tcp::5555-:23 telnetbox.img\n");
    expect(adapters(r, "old")).toEqual([{ ...NAT, forwards: [{ proto: "tcp", hostPort: 5555, guestPort: 23 }] }]);
    expect(r.diagnostics).toEqual([]);
    const lonely = await run("qemu-system-i386 -name x -net user -net nic,vlan=1 -net nic,vlan=2 -net user,vlan=2 -net nic,vlan=2\n");
    expect(adapters(lonely, "x")).toEqual([{ mode: "none" }, NAT]);
    expect(codes(lonely)).toEqual(["1:31 RCH051", "1:41 RCH051", "1:90 RCH051"]);
  });

  it("keeps a NIC's place when its backend is not modelled", async () => {
    const r = await run(
      "qemu-system-x86_64 -name two -netdev tap,id=t0,ifname=tap0,script=no -device e1000,netdev=t0 -netdev user,id=u0 -device e1000,netdev=u0 -nic bridge,br=br0\n",
    );
    expect(adapters(r, "two")).toEqual([{ mode: "none" }, NAT]);
    expect(codes(r)).toEqual(["1:38 RCH051", "1:142 RCH051"]);
  });

  it("warns about restrict=on, guest forwards and options it does not know, and keeps the adapter", async () => {
    const r = await run(
      "qemu-system-x86_64 -name r -nic user,restrict=on,'guestfwd=tcp:10.0.2.100:1234-cmd:netcat 127.0.0.1 4321',smb=/srv,frobnicate=1\n",
    );
    expect(adapters(r, "r")).toEqual([NAT]);
    expect(codes(r)).toEqual(["1:38 RCH051", "1:51 RCH051", "1:107 RCH051", "1:116 RCH051"]);
    expect(r.diagnostics[0]!.message).toMatch(/isolates the guest/);
  });

  it("reads IPv6: on by default, ipv6=off, ipv6-net / ipv6-prefix as the network; a prefix that is not a /64 is IPv6 off, with a warning", async () => {
    const r = await run(
      [
        "qemu-system-x86_64 -name a -nic user,ipv6=off",
        "qemu-system-x86_64 -name b -nic user,ipv6-net=fd00::/64",
        "qemu-system-x86_64 -name c -nic user,ipv6-prefix=fd01::,ipv6-prefixlen=48",
        "qemu-system-x86_64 -name d -nic user,ipv6=on,ipv6-host=fec0::5",
        "",
      ].join("\n"),
    );
    expect(adapters(r, "a")).toEqual([{ ...NAT, ipv6: false }]);
    expect(adapters(r, "b")).toEqual([{ ...NAT, ipv6Network: "fd00::/64" }]);
    expect(adapters(r, "c")).toEqual([{ ...NAT, ipv6: false }]);
    expect(adapters(r, "d")).toEqual([NAT]);
    expect(codes(r)).toEqual(["3:38 RCH051", "4:46 RCH051"]);
    expect(r.diagnostics[0]!.message).toMatch(/SLAAC, which needs a \/64/);
    loads(r);
  });

  it("warns about a netdev no device uses, a NIC device without netdev, and an unknown netdev id", async () => {
    const r = await run(
      "qemu-system-x86_64 -name n -netdev user,id=a -device virtio-net-pci -device e1000,netdev=b -device virtio-blk-pci,drive=d0\n",
    );
    expect(adapters(r, "n")).toEqual([]);
    expect(codes(r)).toEqual(["1:36 RCH051", "1:54 RCH051", "1:83 RCH051"]);
  });

  it("gives a command without network options QEMU's default NIC, and none with -nodefaults or -nic none", async () => {
    expect(adapters(await run("qemu-system-x86_64 -name d -m 512 disk.img\n"), "d")).toEqual([NAT]);
    expect(adapters(await run("qemu-system-x86_64 -name e -nodefaults disk.img\n"), "e")).toEqual([]);
    expect(adapters(await run("qemu-system-x86_64 -name f -nic none\n"), "f")).toEqual([]);
  });
});

describe("host forwards", () => {
  it("reports a bad port, a bad address and a broken rule at the offending field", async () => {
    const r = await run(
      "qemu-system-x86_64 -netdev user,id=n0,hostfwd=tcp::70000-:22,hostfwd=tcp:10.1:2222-:22,hostfwd=tcp:2222:22 -device e1000,netdev=n0\n",
    );
    expect(codes(r)).toEqual(["1:52 RCH012", "1:74 RCH010", "1:96 RCH055"]);
    expect(r.diagnostics.every((d) => d.severity === "error")).toBe(true);
  });

  it("leaves out unix-socket forwards and host port 0", async () => {
    const r = await run("qemu-system-x86_64 -nic user,hostfwd=unix:/tmp/vm-:23,hostfwd=tcp::0-:22\n");
    expect(codes(r)).toEqual(["1:38 RCH051", "1:68 RCH051"]);
  });
});

describe("command lines", () => {
  it("names VMs by -name guest=NAME, else by the file name, numbering further unnamed commands", async () => {
    const r = await run(
      [
        "#!/bin/sh",
        "qemu-system-x86_64 -name guest=db,debug-threads=on -nic user &",
        "sudo qemu-system-x86_64 -nic user",
        "qemu-kvm -nic user # the third one",
      ].join("\n"),
      "/home/ana/lab.sh",
    );
    expect(Object.keys(r.fragment.machines)).toEqual(["db", "lab", "lab-2"]);
    expect(Object.keys((await run("qemu-system-x86_64 -name 'guest=a,,b' -nic user\n")).fragment.machines)).toEqual(["a,b"]);
    expect(r.diagnostics).toEqual([]);
  });

  it("warns about shell variables it cannot resolve and QEMU options given to another program", async () => {
    const r = await run('NET="user,id=n0"\nqemu-system-x86_64 -name v -netdev $NET0 -device e1000,netdev=n0\n$QEMU -netdev user,id=x\n');
    expect(codes(r)).toEqual(["2:36 RCH051", "2:56 RCH051", "3:1 RCH051"]);
  });
});

describe("shell variables of the script (issue 17)", () => {
  const file = join(import.meta.dirname, "fixtures", "qemu-shell", "run-lab.sh");
  const text = readFileSync(file, "utf8");

  it("literal assignments and ${VAR:-default} build the -netdev; an unquoted $VAR splits into words", async () => {
    const r = await run(text, file);
    const fwds = (vm: string) => (adapters(r, vm) ?? []).flatMap((a) => ("forwards" in a ? (a.forwards ?? []) : []));
    expect(fwds("lab")).toEqual([
      { proto: "tcp", hostPort: 2222, guestPort: 22 },
      { proto: "tcp", hostPort: 8080, guestPort: 80 },
    ]);
    expect(fwds("desk")).toEqual([{ proto: "tcp", hostIp: "127.0.0.1", hostPort: 5900, guestPort: 5900 }]);
    expect(r.fragment.notes).toContain(
      "SSH_PORT is not set by the script before run-lab.sh:3, so its default '2222' is used (the shell takes it when the variable is not in the environment).",
    );
    loads(r);
  });

  it("a variable set only inside an if stays unknown: RCH051 at the line that uses it", async () => {
    const r = await run(text, file);
    expect(codes(r)).toEqual(["18:11 RCH051", "18:67 RCH051"]);
    expect(r.diagnostics[0]!.message).toContain("${DBG_PORT}");
  });

  it("commands in two branches of one if are alternatives: imported once; with other network options, a warning", async () => {
    const same = await run(
      'P="user,hostfwd=tcp::10022-:22"\nif grep -q vmx /proc/cpuinfo; then\n  qemu-system-x86_64 -enable-kvm -nic "$P"\nelse\n  qemu-system-x86_64 -nic "$P"\nfi\n',
      "vm.sh",
    );
    expect(same.diagnostics).toEqual([]);
    expect(Object.keys(same.fragment.machines)).toEqual(["vm"]);
    expect(same.fragment.notes).toContain(
      "The QEMU command at line 5 is another branch of an if with the same network options: imported once.",
    );
    const other = await run(
      'if [ -n "$X" ]; then\n  qemu-system-x86_64 -nic user,hostfwd=tcp::1-:1\nelse\n  qemu-system-x86_64 -nic user\nfi\n',
    );
    expect(codes(other)).toEqual(["4:22 RCH051"]);
    expect(Object.keys(other.fragment.machines)).toEqual(["vm"]);
  });

  it("a command that only asks QEMU for help or its version runs no VM", async () => {
    const r = await run(
      "if qemu-system-x86_64 -display gtk,gl=on -help >/dev/null; then G=1; fi\nqemu-system-x86_64 --version\nqemu-system-x86_64 -nic user,hostfwd=tcp::2222-:22\n",
    );
    expect(Object.keys(r.fragment.machines)).toEqual(["vm"]);
    expect(r.diagnostics).toEqual([]);
  });

  it("the other expansions: ${VAR-d}, ${VAR:=d} sets it, ${VAR:+alt}, a command substitution is unknown", async () => {
    const r = await run(
      [
        "A=${A:=10022}",
        'B=""',
        'PLUS="${B:+,hostfwd=tcp::1-:1}"',
        "C=$(cat port)",
        "qemu-system-x86_64 -name x -nic user,hostfwd=tcp::${A}-:22${PLUS}${B-,hostfwd=tcp::2-:2}",
        "qemu-system-x86_64 -name y -nic user,hostfwd=tcp::$C-:80",
      ].join("\n"),
    );
    expect(adapters(r, "x")).toEqual([{ ...NAT, forwards: [{ proto: "tcp", hostPort: 10022, guestPort: 22 }] }]);
    expect(codes(r)).toEqual(["6:33 RCH051"]);
  });

  it("says when a file holds no QEMU command", async () => {
    const r = await run("echo hello\n", "notes.txt");
    expect(r.diagnostics.map((d) => `${d.span.file}:${at(d)}`)).toEqual(["notes.txt:1:1 RCH050"]);
  });

  it("never throws on any prefix of the golden inputs", async () => {
    for (const [dir, file] of [
      ["qemu-hostfwd", "run-web.sh"],
      ["qemu-nic-legacy", "lab.md"],
    ] as const) {
      const text = readFileSync(join(GOLDEN, dir, file), "utf8");
      for (let n = 0; n <= text.length; n += 3) {
        const r = await run(text.slice(0, n), file);
        for (const d of r.diagnostics) expect(d.span.line).toBeLessThanOrEqual(text.slice(0, n).split("\n").length);
      }
    }
  });
});
