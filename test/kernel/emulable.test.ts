/**
 * What share of generated topologies the emulator can build (issue 13: the kernel should judge
 * nine in ten, not a biased few). Generates EMULABLE_COUNT topologies (default 400) from
 * EMULABLE_SEED with the property tests' generator and asks `unsupported` (src/emulate/plan.ts)
 * about each; prints the share and the refusal reasons by count. Needs no root: nothing is built.
 * `node test/kernel/emulable.mjs --count 2000 --seed 7` runs it by hand.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unsupported } from "../../src/emulate/plan.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { topologyArb, type GeneratedTopology } from "../properties/arbitraries.js";

const COUNT = Number(process.env.EMULABLE_COUNT ?? 400);
const SEED = Number(process.env.EMULABLE_SEED ?? 20261206);
const GOAL = Number(process.env.EMULABLE_GOAL ?? 0.9);

/** A refusal's kind: the reason without the machine, socket and address it names. */
export function reasonKind(what: string): string {
  return what
    .replace(/^.*?(is bound to device).*$/, "a listener $1 (SO_BINDTODEVICE)")
    .replace(/^its (INPUT|OUTPUT|input|output) chain may drop IPv6 neighbour discovery.*$/, "a chain may drop IPv6 neighbour discovery")
    .replace(/^.* listens on IPv6 .*: slirp4netns.*$/, "an IPv6 libslirp port forward")
    .replace(/^.* goes via its own address .*$/, "a route via the machine's own address")
    .replace(/\d+(\.\d+){3}|[0-9a-f:]*::[0-9a-f:]*/g, "ADDR")
    .replace(/\/\d+/g, "/N");
}

/** How many router forwards lead to a listening port, and how many static routes go via a machine that forwards. */
function countShape(t: GeneratedTopology, n: { forwards: number; forwardsToListener: number; routes: number; routesViaForwarder: number }) {
  const machines = Object.entries(t.doc.machines);
  const owner = (ip: string) =>
    machines.find(([, m]) =>
      Object.values(m.interfaces ?? {}).some((i) => (i.addresses ?? []).some((a) => String(a).split("/")[0] === ip)),
    );
  for (const [, m] of machines) {
    for (const f of m.router?.forwards ?? []) {
      n.forwards++;
      const o = owner(String(f.to));
      const proto = (f.proto ?? "tcp") as "tcp" | "udp";
      if (o && (t.servicePorts[o[0]]?.[proto] ?? []).includes(Number(f.toPort ?? f.port))) n.forwardsToListener++;
    }
    for (const r of m.routes ?? []) {
      n.routes++;
      const o = owner(String(r.via));
      if (o && (o[1].router !== undefined || o[1].ip_forward === true)) n.routesViaForwarder++;
    }
  }
}

describe("emulable share of generated topologies", () => {
  it(`at least ${GOAL * 100}% of ${COUNT} generated topologies (seed ${SEED}) can be built`, () => {
    const reasons = new Map<string, number>();
    let emulable = 0;
    const shape = { forwards: 0, forwardsToListener: 0, routes: 0, routesViaForwarder: 0 };
    for (const t of fc.sample(topologyArb, { seed: SEED, numRuns: COUNT })) {
      countShape(t, shape);
      const net = lower(loadTopologyText("generated.yaml", t.yaml).topology);
      const kinds = new Set(unsupported(net).map((u) => reasonKind(u.what)));
      if (!kinds.size) emulable++;
      for (const k of kinds) reasons.set(k, (reasons.get(k) ?? 0) + 1);
    }
    const pct = (n: number) => `${((100 * n) / COUNT).toFixed(1)}%`;
    const lines = [...reasons].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(5)} (${pct(n)})  ${k}`);
    console.log(
      `emulable: ${emulable} of ${COUNT} generated topologies (${pct(emulable)}), seed ${SEED}; refused because:\n${lines.join("\n")}`,
    );
    console.log(
      `home-router forwards onto a port the target listens on: ${shape.forwardsToListener} of ${shape.forwards}; static routes via a machine that forwards: ${shape.routesViaForwarder} of ${shape.routes}`,
    );
    expect(emulable / COUNT).toBeGreaterThanOrEqual(GOAL);
  }, 600_000);
});
