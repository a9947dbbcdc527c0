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
import { topologyArb } from "../properties/arbitraries.js";

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

describe("emulable share of generated topologies", () => {
  it(`at least ${GOAL * 100}% of ${COUNT} generated topologies (seed ${SEED}) can be built`, () => {
    const reasons = new Map<string, number>();
    let emulable = 0;
    for (const t of fc.sample(topologyArb, { seed: SEED, numRuns: COUNT })) {
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
    expect(emulable / COUNT).toBeGreaterThanOrEqual(GOAL);
  }, 600_000);
});
