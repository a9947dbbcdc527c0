/**
 * What the kernel regressions share: a query from its text, a topology text lowered, and the two
 * checks each makes of its cases (both engines give the verdict; the kernel does, dial by dial).
 */
import { expect, it } from "vitest";
import { emulationSupport } from "../../src/emulate/build.js";
import { formatIP } from "../../src/net/addr.js";
import { emulate } from "../../src/emulate/emulate.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import type { Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import { answerQuery } from "../../src/query/engine.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decide } from "../../src/smt/decide.js";
import { loadTopologyText } from "../../src/topology/load.js";

export const q = (text: string): Query => {
  const p = parseQuery(text);
  if (!p.ok) throw new Error(p.message);
  return p.query;
};

export const lowered = (file: string, yaml: string): Network => lower(loadTopologyText(file, yaml).topology);

export type Cases = readonly (readonly [string, "reachable" | "unreachable"])[];

/** Each query's verdict from Z3 and from the exhaustive simulator. */
export async function enginesAgree(net: Network, cases: Cases): Promise<void> {
  for (const [text, verdict] of cases)
    expect({ text, smt: (await decide(net, q(text))).verdict, sim: exhaustive(net, q(text)).verdict }).toEqual({
      text,
      smt: verdict,
      sim: verdict,
    });
}

/** The kernel's verdict of each query, each agreeing with reach's; the emulation, for more checks. */
export async function kernelAgrees(net: Network, cases: Cases): Promise<Awaited<ReturnType<typeof emulate>>> {
  const r = await emulate(
    net,
    cases.map(([t]) => q(t)),
  );
  expect(r.probes.map((p) => [p.query.text, p.kernel, p.agree])).toEqual(cases.map(([t, v]) => [t, v, true]));
  return r;
}

/** The answer's causes as [code, symptom] pairs (the simulator's explanation). */
export async function causesOf(net: Network, text: string): Promise<string[][]> {
  const a = await answerQuery(net, q(text), { engine: "sim", timeoutMs: 30_000 });
  return (a.answer.causes ?? []).map((c) => [c.code, c.symptom]);
}

/** Per probed query, the distinct "reach's symptom, the kernel's" pairs of its failed dials. */
export const kernelSymptoms = (r: Awaited<ReturnType<typeof emulate>>): string[][] =>
  r.probes.map((p) => [...new Set(p.dials.map((d) => `${d.symptom?.reach} ${d.symptom?.kernel}`))]);

/**
 * An error's ways back (kernel-router-error, kernel-router-neighbour): for each variant of the lab
 * (the router's OUTPUT chain, the client's INPUT rules) every query is unreachable in both engines
 * and the client sees what the variant says, with the first cause `code` when given; as root the
 * kernel agrees dial by dial and symptom by symptom, the dial to `target(query)` with that symptom.
 */
export function waysBack(
  lab: (routerOutput: string, clientInput: string) => Network,
  queries: readonly string[],
  variants: readonly (readonly [string, string, readonly string[]])[],
  target: (query: string) => string,
  code?: string,
): void {
  it("both engines: unreachable; what the client sees depends on the way back", async () => {
    for (const [output, input, seen] of variants) {
      const net = lab(output, input);
      await enginesAgree(
        net,
        queries.map((t) => [t, "unreachable"] as const),
      );
      const got = await Promise.all(queries.map(async (t) => (await causesOf(net, t))[0]!));
      expect([got.map((c) => c[1]), output, input]).toEqual([[...seen], output, input]);
      if (code) expect(got.map((c) => c[0])).toEqual(queries.map(() => code));
    }
  });
  it.skipIf(!emulationSupport().ok)(
    "the kernel agrees, dial by dial and symptom by symptom",
    async () => {
      for (const [output, input, seen] of variants) {
        for (const [k, t] of queries.entries()) {
          const r = await emulate(lab(output, input), [q(t)]);
          const p = r.probes[0]!;
          // every dial as reach says; the one a person would make (the target's address) with the symptom above
          const dials = p.dials.map((d) => [formatIP(d.dial.dst), d.agree, d.symptom?.agree, d.symptom?.reach]);
          expect([t, output, input, p.agree, dials.every(([, a, s]) => a && s)]).toEqual([t, output, input, true, true]);
          expect(dials.find(([dst]) => dst === target(t))?.[3]).toBe(seen[k]);
        }
      }
    },
    900_000,
  );
}
