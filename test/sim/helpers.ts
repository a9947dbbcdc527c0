/**
 * Shared helpers for the simulator unit tests: inline YAML -> Network IR, queries,
 * single dials, and the file line of a marker so dispositions can be checked
 * against the rule (or policy, or forward) that made them.
 */
import { expect } from "vitest";
import { loadTopologyText } from "../../src/topology/load.js";
import { lower } from "../../src/lower/lower.js";
import { ask, type Answer } from "../../src/query/dials.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { attempt, machineIndex } from "../../src/sim/connect.js";
import { formatIP, parseIP, type IP } from "../../src/net/addr.js";
import type { Network } from "../../src/ir/types.js";
import type { Attempt, Direction, Disposition, Packet, Step } from "../../src/sim/types.js";

export const FILE = "inline.yaml";

export function build(yaml: string): Network {
  return lower(loadTopologyText(FILE, yaml).topology);
}

/** A query from its text (throws on a bad one). */
export function q(text: string): Query {
  const r = parseQuery(text);
  if (!r.ok) throw new Error(`bad query ${text}: ${r.message}`);
  return r.query;
}

export function query(net: Network, text: string): Answer {
  return ask(net, q(text));
}

export function ip(text: string): IP {
  const a = parseIP(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

/** One exchange: `from` dials exactly `dst:dport` (0 for icmp) from source port 40000. */
export function dial(net: Network, from: string, proto: Packet["proto"], dst: string, dport = 0, sport = 40000): Attempt {
  return attempt(net, machineIndex(net), { from, proto, dst: ip(dst), dport, sport: proto === "icmp" ? 1 : sport });
}

/** 1-based line of the first line of `yaml` containing `marker` (must be unique). */
export function lineOf(yaml: string, marker: string): number {
  const lines = yaml.split("\n");
  const hits = lines.map((l, i) => (l.includes(marker) ? i + 1 : 0)).filter((n) => n > 0);
  if (hits.length !== 1) throw new Error(`marker ${JSON.stringify(marker)} found ${hits.length} times`);
  return hits[0]!;
}

/** The failing disposition of an attempt (throws if it succeeded). */
export function failure(a: Attempt): { leg: number; direction: Direction; disposition: Disposition } {
  if (a.outcome.kind !== "failed") throw new Error(`expected a failure, got ok at ${a.outcome.machine}`);
  return a.outcome;
}

export function expectOk(a: Attempt, machine: string, owner?: string): void {
  expect(a.outcome.kind === "failed" ? { failed: a.outcome.disposition } : a.outcome).toMatchObject({ kind: "ok", machine });
  if (owner !== undefined) expect(a.outcome.kind === "ok" && a.outcome.socket?.owner).toBe(owner);
  expect(a.ok).toBe(true);
}

/** Packet with printable addresses, for toMatchObject. */
export function pkt(p: Packet): { proto: string; src: string; dst: string; sport: number; dport: number } {
  return { proto: p.proto, src: formatIP(p.src), dst: formatIP(p.dst), sport: p.sport, dport: p.dport };
}

export function stepsOf(a: Attempt, leg: number, dir: "forward" | "reply" = "forward"): readonly Step[] {
  const l = a.legs[leg];
  if (!l) throw new Error(`no leg ${leg}`);
  const t = dir === "forward" ? l.forward : l.reply;
  if (!t) throw new Error(`leg ${leg} has no ${dir} trace`);
  return t.steps;
}

/** Every filter step of `chain` on `machine` in a trace. */
export function filterSteps(steps: readonly Step[], machine: string, chain: "input" | "output" | "forward") {
  return steps.filter((s): s is Step & { kind: "filter" } => s.kind === "filter" && s.machine === machine && s.chain === chain);
}
