/**
 * `reach snapshot`: reads the running Linux machine (or one network namespace)
 * with read-only commands and hands their outputs to the Linux importer, as if
 * the user had saved them to files. Nothing here changes the machine.
 */
import { execFileSync } from "node:child_process";
import { diagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import type { Source } from "./types.js";

/** Kernel settings that change reachability (semantics.md sections 1-3). */
export const SNAPSHOT_SYSCTLS = [
  "net.ipv4.ip_forward",
  "net.ipv4.conf.all.rp_filter",
  "net.ipv4.conf.default.rp_filter",
  "net.ipv4.conf.all.route_localnet",
  "net.ipv6.conf.all.forwarding",
  "net.ipv6.bindv6only",
] as const;

/** The commands, each named as the user would type it; the name is the source's file name in diagnostics. */
export const SNAPSHOT_COMMANDS: readonly { readonly name: string; readonly argv: readonly string[] }[] = [
  { name: "ip -j addr", argv: ["ip", "-j", "addr"] },
  { name: "ip -j route", argv: ["ip", "-j", "route"] },
  { name: "ip -j -6 route", argv: ["ip", "-j", "-6", "route"] },
  { name: "ip -j rule", argv: ["ip", "-j", "rule"] },
  { name: "ip -j -6 rule", argv: ["ip", "-j", "-6", "rule"] },
  { name: "ss -ltnupH", argv: ["ss", "-ltnupH"] },
  { name: "iptables-save", argv: ["iptables-save"] },
  { name: "ip6tables-save", argv: ["ip6tables-save"] },
  { name: "nft -j list ruleset", argv: ["nft", "-j", "list", "ruleset"] },
  { name: "sysctl", argv: ["sysctl", ...SNAPSHOT_SYSCTLS] },
];

export interface Snapshot {
  readonly sources: readonly Source[];
  readonly notes: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

/** Runs one command (inside `netns` when given) and returns its output or why it failed. */
function run(argv: readonly string[], netns: string | undefined): { out: string } | { missing: true } | { failed: string } {
  const full = netns ? ["ip", "netns", "exec", netns, ...argv] : [...argv];
  try {
    return {
      out: execFileSync(full[0]!, full.slice(1), {
        encoding: "utf8",
        timeout: 20_000,
        maxBuffer: 256 << 20,
        stdio: ["ignore", "pipe", "pipe"],
      }),
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (err.code === "ENOENT") return { missing: true };
    const why =
      (err.stderr ?? "").trim().split("\n")[0] ||
      (err.status != null ? `exit status ${err.status}` : (err.message.split("\n")[0] ?? "failed"));
    return { failed: why };
  }
}

export function takeSnapshot(netns?: string): Snapshot {
  const sources: Source[] = [];
  const notes: string[] = [];
  const diagnostics: Diagnostic[] = [];
  if (netns) {
    const r = run(["true"], netns);
    if (!("out" in r)) {
      const why = "failed" in r ? r.failed : "ip (iproute2) is not installed";
      return {
        sources,
        notes,
        diagnostics: [
          diagnostic("RCH056", { file: "ip netns exec", line: 1, col: 1 }, `cannot enter network namespace ${netns}: ${why}`, {
            expected: "a namespace listed by `ip netns list`, and root",
          }),
        ],
      };
    }
  }
  for (const c of SNAPSHOT_COMMANDS) {
    const r = run(c.argv, netns);
    if ("out" in r) sources.push({ file: c.name, text: r.out });
    else if ("missing" in r) notes.push(`\`${c.name}\` is not installed here: what it would show is not in the snapshot.`);
    else
      diagnostics.push(
        diagnostic(
          "RCH056",
          { file: c.name, line: 1, col: 1 },
          `\`${c.name}\` failed: ${r.failed}; what it would show is not in the snapshot`,
          {
            expected: "the command to succeed (iptables-save and nft need root)",
            severity: "warning",
          },
        ),
      );
  }
  return { sources, notes, diagnostics };
}
