/**
 * `reach emulate`: build the network for real, ask the kernel each query, print
 * its verdict beside reach's, take everything down.
 */
import type { Network } from "../ir/types.js";
import { formatIP } from "../net/addr.js";
import { failureReason } from "../query/explain.js";
import { reachedReason } from "../query/dials.js";
import { dialWords } from "../query/engine.js";
import { formatQuery, type Query } from "../ir/query.js";
import { machineIndex } from "../sim/connect.js";
import { build, ourNamespaces, release, teardown, type BuildOptions } from "./build.js";
import { dialProbeText, probeQueries, type DialProbe, type ProbeOptions, type QueryProbe } from "./probe.js";

export interface EmulationReport {
  readonly file: string;
  readonly namespaces: readonly string[];
  readonly bridges: number;
  readonly slirps: number;
  readonly rulesets: number;
  readonly listeners: number;
  readonly buildMs: number;
  readonly probeMs: number;
  /** undefined with --keep */
  readonly teardownMs?: number;
  /** namespaces of this run still present after teardown (must be none) */
  readonly leftBehind: readonly string[];
  readonly kept: boolean;
  readonly listenErrors: readonly string[];
  readonly forwardErrors: readonly string[];
  readonly probes: readonly QueryProbe[];
}

export interface EmulateOptions extends ProbeOptions, BuildOptions {
  readonly keep?: boolean;
}

export async function emulate(net: Network, queries: readonly Query[], opts: EmulateOptions = {}): Promise<EmulationReport> {
  const emu = await build(net, opts);
  let probes: QueryProbe[] = [];
  let probeMs = 0;
  let teardownMs: number | undefined;
  try {
    const started = performance.now();
    // a query naming an address of a NAT engine's IPv6 network names it as built (slirp6.ts)
    const asBuilt = queries.map((q) => (q.target.kind === "address" ? { ...q, target: { ...q.target, ip: emu.rename(q.target.ip) } } : q));
    probes = await probeQueries(emu, asBuilt, opts);
    probeMs = performance.now() - started;
  } finally {
    if (opts.keep) release(emu);
    else teardownMs = await teardown(emu);
  }
  const index = machineIndex(net);
  const listenErrors = [...emu.listenErrors].map(([tag, err]) => {
    const [mi, si] = tag.split(".").map(Number);
    const name = emu.plan.machines[mi!]?.name ?? "?";
    return `${index.get(name)?.sockets[si!]?.owner ?? tag} on ${name}: ${err}`;
  });
  return {
    file: net.file,
    namespaces: emu.namespaces,
    bridges: emu.plan.bridges,
    slirps: emu.plan.slirps.length,
    rulesets: emu.plan.machines.filter((m) => m.nft).length,
    listeners: emu.plan.machines.reduce((n, m) => n + m.listeners.length, 0),
    buildMs: emu.buildMs,
    probeMs,
    ...(teardownMs !== undefined ? { teardownMs } : {}),
    leftBehind: opts.keep ? [] : ourNamespaces().filter((n) => n.startsWith(`${emu.name}-`)),
    kept: opts.keep === true,
    listenErrors,
    forwardErrors: emu.forwardErrors,
    probes,
  };
}

/** Everything agrees: every query's verdict and every dial, nothing left behind. */
export const emulationAgrees = (r: EmulationReport): boolean =>
  r.leftBehind.length === 0 && r.probes.every((p) => p.agree || p.kernel === "not emulated");

const ms = (x: number) => `${Math.round(x)} ms`;

function simText(dp: DialProbe, index: ReturnType<typeof machineIndex>): string {
  const a = dp.sim;
  return a.ok ? reachedReason(a, index) : failureReason(a, false);
}

export function renderEmulation(r: EmulationReport, net: Network): string {
  const out: string[] = [];
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  const index = machineIndex(net);
  out.push(
    `emulated ${r.file}: ${plural(r.namespaces.length, "namespace")} (one per machine and one switch), ${plural(r.bridges, "bridge")}, ${plural(r.slirps, "slirp4netns NAT engine")}, ${plural(r.rulesets, "nftables ruleset")}, ${plural(r.listeners, "listener")}; built in ${ms(r.buildMs)}`,
  );
  for (const e of [...r.listenErrors, ...r.forwardErrors]) out.push(`  note: ${e} (not listening, as on a real machine)`);
  for (const p of r.probes) {
    out.push("", formatQuery(p.query));
    out.push(
      `  reach:   ${p.reach.padEnd(11)}${p.reachDial ? ` ${dialWords(p.reachDial)}` : ""}${p.engineError ? `  (${p.engineError})` : ""}`,
    );
    if (p.kernel === "not emulated") {
      out.push(`  kernel:  not emulated: ${p.notEmulated ?? ""}`);
      continue;
    }
    out.push(
      `  kernel:  ${p.kernel.padEnd(11)}${p.kernelDial ? ` ${dialProbeText(p.kernelDial)}` : ` no dial was answered by what the query asks for (${plural(p.dials.length, "dial")})`}`,
    );
    const wrong = p.dials.filter((d) => !d.agree);
    if (p.agree)
      out.push(
        `  agree    ${plural(p.dials.length, "dial")}, each as the simulator says${p.skipped.length ? `; ${p.skipped.length} not sent (outside the emulated network)` : ""}`,
      );
    else {
      out.push(
        `  DISAGREE${p.reach !== p.kernel ? `: reach says ${p.reach}, the kernel ${p.kernel}` : ""}${wrong.length ? `; ${plural(wrong.length, "dial")} differ from the simulator:` : ""}`,
      );
      for (const d of wrong.slice(0, 8)) {
        out.push(`    ${dialProbeText(d)}`);
        out.push(`      simulator: ${d.sim.ok ? "works" : "fails"}: ${simText(d, index)}`);
      }
    }
    const odd = p.dials.filter((d) => d.symptom && !d.symptom.agree);
    if (odd.length) out.push(`  SYMPTOM  ${plural(odd.length, "dial")}: the client saw other than reach says:`);
    for (const d of odd.slice(0, 8)) out.push(`    ${dialProbeText(d)}`);
  }
  const agree = r.probes.filter((p) => p.agree).length;
  const off = r.probes.filter((p) => p.kernel === "not emulated").length;
  const bad = r.probes.length - agree - off;
  out.push(
    "",
    `${`${r.probes.length} quer${r.probes.length === 1 ? "y" : "ies"}`}: ${agree} agree, ${bad} disagree${off ? `, ${off} not emulated` : ""}; probed in ${ms(r.probeMs)}; ${
      r.kept
        ? `kept: ${r.namespaces.join(" ")} (remove with: ip netns del NAME)`
        : `torn down in ${ms(r.teardownMs ?? 0)}; ${r.leftBehind.length ? `LEFT BEHIND: ${r.leftBehind.join(" ")}` : "nothing left behind"}`
    }`,
  );
  return out.join("\n");
}

export function emulationJson(r: EmulationReport): unknown {
  const dial = (d: DialProbe) => ({
    proto: d.dial.proto,
    dst: formatIP(d.dial.dst),
    dport: d.dial.dport,
    sport: d.dial.sport,
    kernel: d.kernel.outcome,
    symptom: d.kernel.symptom,
    ...(d.symptom ? { reachSymptom: d.symptom.reach, symptomAgree: d.symptom.agree } : {}),
    ...(d.kernel.code ? { code: d.kernel.code } : {}),
    ...(d.answeredBy ? { answeredBy: { machine: d.answeredBy.machine, socket: d.answeredBy.socket.owner } } : {}),
    simulator: d.sim.ok ? "works" : "fails",
    agree: d.agree,
    witness: d.witness,
    ms: Math.round(d.kernel.ms * 10) / 10,
  });
  return {
    file: r.file,
    namespaces: r.namespaces,
    bridges: r.bridges,
    slirps: r.slirps,
    rulesets: r.rulesets,
    buildMs: Math.round(r.buildMs),
    probeMs: Math.round(r.probeMs),
    teardownMs: r.teardownMs !== undefined ? Math.round(r.teardownMs) : null,
    kept: r.kept,
    leftBehind: r.leftBehind,
    notes: [...r.listenErrors, ...r.forwardErrors],
    queries: r.probes.map((p) => ({
      query: formatQuery(p.query),
      reach: p.reach,
      kernel: p.kernel,
      agree: p.agree,
      ...(p.notEmulated ? { notEmulated: p.notEmulated } : {}),
      ...(p.engineError ? { engineError: p.engineError } : {}),
      dials: p.dials.map(dial),
      skipped: p.skipped.length,
    })),
  };
}
