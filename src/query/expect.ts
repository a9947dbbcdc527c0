/** The query expectations of a topology file (`query:` with `verdict:`), checked with the simulator's ask(). */
import type { Span } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import type { Topology } from "../topology/check.js";
import { ask, type Answer } from "./dials.js";
import { parseQuery, type Query } from "../ir/query.js";

export interface ExpectationResult {
  readonly query: string;
  readonly expected: "reachable" | "unreachable";
  readonly because?: string;
  readonly answer: Answer;
  readonly holds: boolean;
  readonly span: Span;
}

/** Query expectations only; `isolated` and `exposes` are checked by verify/verify.ts. */
export function checkExpectations(net: Network, topo: Topology): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  (topo.doc.expect ?? []).forEach((e, k) => {
    if (e.query === undefined) return;
    const q = parseQuery(e.query);
    if (!q.ok) throw new Error(`internal: unchecked query ${e.query}`);
    const answer = ask(net, q.query);
    const expected = e.verdict ?? "reachable";
    out.push({
      query: e.query,
      expected,
      ...(e.because !== undefined ? { because: e.because } : {}),
      answer,
      holds: answer.verdict === expected,
      span: topo.loc.at(["expect", k]),
    });
  });
  return out;
}

/** The queries of a topology's `query:` expectations, in file order (for `reach emulate`). */
export function expectationQueries(topo: Topology): Query[] {
  return (topo.doc.expect ?? []).flatMap((e) => {
    if (e.query === undefined) return [];
    const q = parseQuery(e.query);
    if (!q.ok) throw new Error(`internal: unchecked query ${e.query}`);
    return [q.query];
  });
}
