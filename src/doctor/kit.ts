/**
 * What every finding check shares: the model it is decided on (the doctor's live topology, or a
 * topology file for `reach verify --findings`), the engine, and how evidence is shown: the line of
 * a command's output when the doctor read one, else the position (file:line:col) in the topology.
 */
import { formatSpan } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import { parseQuery } from "../ir/query.js";
import { lower } from "../lower/lower.js";
import { answerQuery, type EngineOptions } from "../query/engine.js";
import type { Answer } from "../query/dials.js";
import { loadTopologyText, type Locator, type Path } from "../topology/load.js";
import type { TopologyDoc } from "../topology/schema.js";
import type { Source } from "../import/types.js";
import type { Kind } from "../import/run.js";
import type { RootlessPort } from "./podman.js";

export interface Evidence {
  /** file:line of a command's output (or /proc/PID/cmdline), or file:line:col of the topology */
  readonly at: string;
  readonly text: string;
}

/** What the findings are decided on. */
export interface FindingsInput {
  readonly doc: TopologyDoc;
  readonly net: Network;
  /** Positions in the topology's file (the evidence when no command output says it). */
  readonly loc?: Locator;
  /** The doctor's: which kind of source described each machine, and its outputs. */
  readonly origin?: ReadonlyMap<string, { readonly kind: Kind; readonly sources: readonly Source[] }>;
  /** The doctor's: every output it read, by command. */
  readonly sources?: ReadonlyMap<string, string>;
  /** The physical hosts whose forwards, listeners and networks are checked (doctor: the one it runs on). */
  readonly hosts: readonly string[];
  /** The LAN vantage machine (default `lan`): findings about what the LAN reaches need it. */
  readonly lan?: string;
  /**
   * The doctor's: containers in network mode host (docker inspect HostConfig.NetworkMode), with the
   * ports they listen on, on the host.
   */
  readonly hostMode?: readonly { readonly container: string; readonly proto: "tcp" | "udp"; readonly port: number }[];
  /** The doctor's: rootless Podman's published ports (listeners of the host leading into a container). */
  readonly rootless?: readonly RootlessPort[];
  /**
   * Decide every LAN exposure with the engine (explained), as before the simulator-first search
   * (witness.ts); the cross-check of the fast path and the benchmark's "old".
   */
  readonly solverOnly?: boolean;
}

export interface Ctx extends FindingsInput {
  readonly lan: string;
  readonly opts: EngineOptions;
  /** Whether the LAN vantage is a machine of the model. */
  readonly hasLan: boolean;
  /** Changed copies of the topology built once per run (by what was changed). */
  readonly memo: Map<string, Network | undefined>;
}

export async function ask(net: Network, text: string, opts: EngineOptions): Promise<Answer | undefined> {
  const q = parseQuery(text);
  if (!q.ok) return undefined;
  return (await answerQuery(net, q.query, opts)).answer;
}

/** The network of a changed copy of the topology (JSON is YAML: no rendering needed), or undefined when the copy does not load. */
export function variant(doc: TopologyDoc, change: (d: TopologyDoc) => void): Network | undefined {
  const d = structuredClone(doc);
  change(d);
  try {
    return lower(loadTopologyText("doctor-variant.yaml", JSON.stringify(d)).topology);
  } catch {
    return undefined;
  }
}

/** The lines of the outputs that match `re`, as evidence (file:line and the line). */
export function outputEvidence(sources: readonly Source[], re: RegExp): Evidence[] {
  return sources.flatMap((s) =>
    s.text.split("\n").flatMap((line, i) => (re.test(line) ? [{ at: `${s.file}:${i + 1}`, text: line.trim().slice(0, 200) }] : [])),
  );
}

/** The lines of one machine's outputs that match `re`. */
export const machineEvidence = (c: FindingsInput, machine: string, re: RegExp): Evidence[] =>
  outputEvidence(c.origin?.get(machine)?.sources ?? [], re);

/** The position of `path` in the topology's file, with what is there (for a topology the user wrote). */
export function docEvidence(c: FindingsInput, path: Path, text: string): Evidence[] {
  return c.loc ? [{ at: formatSpan(c.loc.at(path)), text }] : [];
}

/** Output lines when the doctor read them, else the topology's position. */
export function evidenceOr(out: readonly Evidence[], c: FindingsInput, path: Path, text: string): Evidence[] {
  return out.length ? [...out] : docEvidence(c, path, text);
}

export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The addresses (without length) of a machine's interfaces. */
export function ownAddresses(doc: TopologyDoc, machine: string): Set<string> {
  return new Set(Object.values(doc.machines[machine]?.interfaces ?? {}).flatMap((i) => (i.addresses ?? []).map((a) => a.split("/")[0]!)));
}

/** The engine for a verdict and a witness only (no explanations), unless the solver-only way is asked for. */
export const quick = (c: Ctx): EngineOptions => (c.solverOnly ? c.opts : { ...c.opts, explain: false });

/** An answer's words without positions in a changed copy (they point into no file the user has). */
export const plain = (reason: string): string => reason.replace(/ \(doctor-variant\.yaml:\d+:\d+\)|; doctor-variant\.yaml:\d+:\d+/g, "");
