/**
 * Shared by the kernel tests: they need root on Linux with iproute2, nftables,
 * slirp4netns and iputils-ping; elsewhere they skip, saying why.
 */
import { emulationSupport } from "../../src/emulate/build.js";
import type { QueryProbe } from "../../src/emulate/probe.js";
import { dialProbeText } from "../../src/emulate/probe.js";
import { formatQuery } from "../../src/ir/query.js";
import { failureReason } from "../../src/query/explain.js";

const support = emulationSupport();
export const kernelSkip = !support.ok;
if (!support.ok) console.warn(`kernel tests skipped: ${support.why} (run them as root: sudo npm run test:kernel)`);

/** A disagreement in words: the query, both verdicts, and each dial where the simulator and the kernel differ. */
export function disagreementText(p: QueryProbe): string {
  const lines = [
    `${formatQuery(p.query)}: reach says ${p.reach}, the kernel ${p.kernel}${p.engineError ? ` (${p.engineError})` : ""}${p.notEmulated ? ` (${p.notEmulated})` : ""}`,
  ];
  for (const d of p.dials.filter((x) => !x.agree))
    lines.push(`  kernel: ${dialProbeText(d)}; simulator: ${d.sim.ok ? "works" : `fails: ${failureReason(d.sim, false)}`}`);
  return lines.join("\n");
}
