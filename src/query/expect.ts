/** The `expect:` list of a topology file, checked against the simulator's answers. */
import type { Span } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import type { Topology } from "../topology/check.js";
import { ask, type Answer } from "./ask.js";
import { answerQuery, type EngineOptions } from "./engine.js";
import { parseQuery } from "./parse.js";

export interface ExpectationResult {
  readonly query: string;
  readonly expected: "reachable" | "unreachable";
  readonly because?: string;
  readonly answer: Answer;
  readonly holds: boolean;
  readonly span: Span;
}

export function checkExpectations(net: Network, topo: Topology): ExpectationResult[] {
  return (topo.doc.expect ?? []).map((e, k) => {
    const q = parseQuery(e.query);
    if (!q.ok) throw new Error(`internal: unchecked query ${e.query}`);
    const answer = ask(net, q.query);
    return {
      query: e.query,
      expected: e.verdict,
      ...(e.because !== undefined ? { because: e.because } : {}),
      answer,
      holds: answer.verdict === e.verdict,
      span: topo.loc.at(["expect", k]),
    };
  });
}

/** The same with a chosen engine (the CLI's `check`): Z3 by default. */
export async function checkExpectationsWith(net: Network, topo: Topology, opts: EngineOptions): Promise<ExpectationResult[]> {
  const out: ExpectationResult[] = [];
  for (const [k, e] of (topo.doc.expect ?? []).entries()) {
    const q = parseQuery(e.query);
    if (!q.ok) throw new Error(`internal: unchecked query ${e.query}`);
    const { answer } = await answerQuery(net, q.query, opts);
    out.push({ query: e.query, expected: e.verdict, ...(e.because !== undefined ? { because: e.because } : {}), answer, holds: answer.verdict === e.verdict, span: topo.loc.at(["expect", k]) });
  }
  return out;
}
