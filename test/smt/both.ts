/**
 * Both engines on one query (test/smt/*: regressions and corners): Z3 and the exhaustive
 * simulator must give `verdict`, and Z3's witness, replayed by the simulator, must meet the query.
 */
import { expect } from "vitest";
import { parseQuery } from "../../src/ir/query.js";
import type { Network } from "../../src/ir/types.js";
import { attempt, machineIndex, meetsQuery } from "../../src/sim/connect.js";
import { exhaustive } from "../../src/sim/exhaustive.js";
import { decide } from "../../src/smt/decide.js";

export async function both(net: Network, text: string, verdict: "reachable" | "unreachable") {
  const p = parseQuery(text);
  if (!p.ok) throw new Error(p.message);
  const smt = await decide(net, p.query);
  const sim = exhaustive(net, p.query);
  expect({ text, smt: smt.verdict, sim: sim.verdict }).toEqual({ text, smt: verdict, sim: verdict });
  if (smt.dial) expect(meetsQuery(p.query, attempt(net, machineIndex(net), smt.dial))).toBe(true);
  return smt;
}
