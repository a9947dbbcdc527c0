/**
 * The findings catalogue over a topology file, for `reach verify --findings` and `reach report
 * --findings`: the physical machines (neither VMs nor routers, nor the LAN vantage) are the hosts
 * whose forwards, listeners and networks are checked; `lan` is the vantage, and without it the
 * findings that start from the LAN are skipped with why.
 */
import type { Network } from "../ir/types.js";
import type { EngineOptions } from "../query/engine.js";
import type { Loaded } from "../topology/load.js";
import type { FileLint } from "../verify/lint.js";
import { decideFindings } from "./findings.js";

export async function lintTopology(
  loaded: Loaded,
  net: Network,
  opts: EngineOptions,
  level: FileLint["level"],
  lan = "lan",
): Promise<FileLint> {
  const { doc, loc } = loaded.topology;
  const hosts = Object.entries(doc.machines)
    .filter(([name, m]) => !m.vm && !m.router && name !== lan)
    .map(([name]) => name);
  const r = await decideFindings({ doc, net, loc, hosts, lan }, opts);
  return { findings: r.findings, skipped: r.skipped, level };
}
