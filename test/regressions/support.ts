/** What the kernel regressions share: a query from its text, and a topology text lowered. */
import { parseQuery, type Query } from "../../src/ir/query.js";
import type { Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import { loadTopologyText } from "../../src/topology/load.js";

export const q = (text: string): Query => {
  const p = parseQuery(text);
  if (!p.ok) throw new Error(p.message);
  return p.query;
};

export const lowered = (file: string, yaml: string): Network => lower(loadTopologyText(file, yaml).topology);
