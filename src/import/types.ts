/**
 * The importers' contract. Each importer reads the files a user's tool already
 * writes (VBoxManage output, a Vagrantfile, QEMU command lines, libvirt XML,
 * Docker Compose files, a Linux host's `ip`/`ss`/`iptables-save` output) and
 * returns a fragment of the topology language plus diagnostics. Fragments are
 * merged by merge.ts and written as YAML by render.ts; the result is an
 * ordinary topology file that `reach` loads and checks like any other.
 *
 * Rules every importer keeps:
 * - never guess: whatever it cannot understand exactly becomes an RCH051
 *   warning at its file:line:col, and is left out of the fragment;
 * - never crash: malformed input is an RCH055 error with a position;
 * - say what it assumed (a DHCP address, a service behind a forward) in `notes`.
 */
import { diagnostic, type Code, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import type { MachineDoc, TopologyDoc } from "../topology/schema.js";

/** One input file (or one command's output, for `reach snapshot`). */
export interface Source {
  /** What diagnostics call it: a path, or a command like `ip -j addr`. */
  readonly file: string;
  readonly text: string;
}

export interface Fragment {
  readonly segments?: NonNullable<TopologyDoc["segments"]>;
  readonly natnetworks?: NonNullable<TopologyDoc["natnetworks"]>;
  readonly machines: Record<string, MachineDoc>;
  /** Assumptions and facts worth telling the user; written as comments at the top of the output. */
  readonly notes: readonly string[];
  /**
   * Static addresses the inputs give machines on the host's LAN (a Vagrant public_network's ip),
   * with where each is written: the assumed LAN is made to hold them (merge.ts).
   */
  readonly lanAddresses?: readonly { readonly address: string; readonly at: string }[];
  /** Assumptions answers depend on, written as the topology's `assumed:` (each at the input line that needed it). */
  readonly assumed?: readonly { readonly at: string; readonly what: string }[];
  /** The fragment describes the host's own interfaces (a Linux snapshot): no LAN scaffold is assumed for it. */
  readonly describesHost?: boolean;
  /**
   * Its firewall and NAT rules on the host go before the rules already there, as Docker inserts its
   * chains at the top of FORWARD and PREROUTING (and sets FORWARD's policy to drop).
   */
  readonly rulesFirst?: boolean;
}

export interface ImportResult {
  readonly fragment: Fragment;
  readonly diagnostics: readonly Diagnostic[];
}

export interface ImportOptions {
  /** Name of the machine that runs the hypervisor or Docker (default "host"). */
  readonly host: string;
  /**
   * Compose: env files whose variables `${VAR}` take (the user names them: `--env-file`), in
   * order, a later one overriding; reach reads no other environment and no `.env` on its own.
   */
  readonly envFiles?: readonly string[];
  /** Compose: the profiles to enable (`--profile`); undefined imports every service. */
  readonly profiles?: readonly string[];
  /** Docker: daemon.json's `userland-proxy` (default true: docker-proxy relays what the DNAT does not catch). */
  readonly userlandProxy?: boolean;
  /** Docker: the Docker Engine whose rules the host runs (`--docker-version`, default 28). */
  readonly dockerVersion?: 27 | 28;
}

export const DEFAULT_IMPORT_OPTIONS: ImportOptions = { host: "host" };

export type Importer = (sources: readonly Source[], options: ImportOptions) => ImportResult | Promise<ImportResult>;

/** 1-based line and column of a character offset, for diagnostics. */
export function spanAt(source: Source, offset: number): Span {
  let line = 1;
  let lineStart = 0;
  const end = Math.max(0, Math.min(offset, source.text.length));
  for (let i = 0; i < end; i++) {
    if (source.text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { file: source.file, line, col: end - lineStart + 1 };
}

/** The span of a 1-based line and column. */
export function spanLine(source: Source, line: number, col = 1): Span {
  return { file: source.file, line, col };
}

export function emptyFragment(): Fragment {
  return { machines: {}, notes: [] };
}

/** What an importer finds besides the fragment: diagnostics, and notes said once each. */
export class Findings {
  readonly diagnostics: Diagnostic[] = [];
  readonly notes: string[] = [];

  report(code: Code, span: Span, message: string, expected?: string, severity: "error" | "warning" = "error"): void {
    this.diagnostics.push(diagnostic(code, span, message, { ...(expected !== undefined ? { expected } : {}), severity }));
  }
  /** Something not understood exactly, left out (RCH051). */
  warn(span: Span, message: string, expected: string): void {
    this.report("RCH051", span, message, expected, "warning");
  }
  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }
}
