/**
 * Stand-in executables for the doctor's tests: a temp folder of scripts named like the real
 * tools, put alone on PATH. Each replays a recorded output of test/doctor/fixtures/SCENARIO
 * (the file named after the command line, spaces as '_', or after the tool alone), or is made
 * to fail the way real tools fail: refused (permission), garbage, hung.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const FIXTURES = join(import.meta.dirname, "fixtures");

export type Fault = "replay" | "refused" | "garbage" | "hung" | "missing";

export const TOOLS = ["ip", "ss", "iptables-save", "ip6tables-save", "nft", "sysctl", "VBoxManage", "docker", "virsh", "podman"] as const;

const SCRIPTS: Record<Exclude<Fault, "missing">, (tool: string, dir: string) => string> = {
  replay: (tool, dir) => `#!/bin/sh
f="${dir}/$(printf '%s' "${tool} $*" | /usr/bin/tr ' /' '__')"
if [ -f "$f" ]; then exec /bin/cat "$f"; fi
if [ -f "${dir}/${tool}" ]; then exec /bin/cat "${dir}/${tool}"; fi
echo "${tool}: no recorded output for: $*" >&2
exit 1
`,
  refused: (tool) => `#!/bin/sh
echo "${tool}: Permission denied (you must be root)" >&2
exit 1
`,
  garbage: () => `#!/bin/sh
printf '\\001\\002 {{{ not what this tool prints ]]] <<\\n%%%% 42\\n'
`,
  hung: () => `#!/bin/sh
exec /bin/sleep 30
`,
};

export interface StandIns {
  readonly env: NodeJS.ProcessEnv;
  readonly bin: string;
  readonly proc: string;
  cleanup(): void;
}

/** A PATH with a stand-in for each tool: the scenario's replay unless `faults` says otherwise; `nft` (and podman without recordings) missing unless asked for. */
export function standIns(scenario: string, faults: Partial<Record<string, Fault>> = {}, qemu: readonly string[][] = []): StandIns {
  const root = mkdtempSync(join(tmpdir(), "reach-doctor-"));
  const bin = join(root, "bin");
  const proc = join(root, "proc");
  mkdirSync(bin);
  mkdirSync(proc);
  for (const tool of TOOLS) {
    // nft, and podman where the scenario recorded none, are not installed unless a test asks
    const absent = tool === "nft" || (tool === "podman" && !existsSync(join(FIXTURES, scenario, "podman_ps_-q")));
    const fault = faults[tool] ?? (absent ? "missing" : "replay");
    if (fault === "missing") continue;
    const p = join(bin, tool);
    writeFileSync(p, SCRIPTS[fault](tool, join(FIXTURES, scenario)));
    chmodSync(p, 0o755);
  }
  qemu.forEach((argv, i) => {
    mkdirSync(join(proc, String(4242 + i)));
    writeFileSync(join(proc, String(4242 + i), "cmdline"), argv.join("\0") + "\0");
  });
  mkdirSync(join(proc, "1"));
  writeFileSync(join(proc, "1", "cmdline"), "/sbin/init\0splash\0");
  return { env: { PATH: bin }, bin, proc, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
