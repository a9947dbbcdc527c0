/**
 * `docker:` on a machine (the Docker host): which Docker Engine's rules it runs. Engine 28 adds,
 * for every container address on one of its bridges, a raw-table PREROUTING drop of packets to
 * that address arriving from outside the bridge (`-t raw -A PREROUTING -d C ! -i BRIDGE -j
 * DROP`): a LAN machine with a route to the container subnet no longer reaches a container
 * directly, published ports included; 27 and older had no such rule.
 *
 * The IR has no raw table. The drop is lowered as the first rules of FORWARD, one per container
 * address C: `drop dst C/32, state new|invalid, not DNATed`; docs/semantics.md section 6 argues
 * why that drops exactly the connections the raw rule drops in the topologies Docker builds.
 */
import { prefixOf } from "../net/addr.js";
import type { Rule } from "../ir/types.js";
import { machineOf, type LowerCtx } from "./context.js";

export function lowerDocker(ctx: LowerCtx): void {
  for (let i = 0; i < ctx.machineDocs.length; i++) {
    const name = ctx.machineDocs[i]![0];
    const md = ctx.machineDocs[i]![1];
    if (!md.docker) continue;
    const m = machineOf(ctx, name);
    const version = md.docker.version ?? 28;
    m.docker = { version, origin: ctx.o(["machines", name, "docker"], `docker (Docker Engine ${version})`) };
    if (version < 28) continue;
    const drops: Rule[] = [];
    md.docker.bridges.forEach((b, k) => {
      const seg = m.interfaces.find((i) => i.name === b)?.segment;
      if (!seg) return;
      const origin = ctx.o(["machines", name, "docker", "bridges", k], `Docker 28's raw drop of direct routing to containers on ${b}`);
      for (const other of ctx.machines.values()) {
        if (other === m) continue;
        for (const i of other.interfaces) {
          if (i.segment !== seg) continue;
          for (const a of i.addrs) {
            if (a.ip.v === 6 && a.ip.n >> 118n === 0x3fan) continue; // fe80::/10 is never routed
            const dst = prefixOf(a.ip, a.ip.v === 4 ? 32 : 128);
            drops.push({ match: { dst, state: ["new", "invalid"], ctDnat: false }, action: "drop", origin });
          }
        }
      }
    });
    const f = m.filter.forward;
    m.filter = { ...m.filter, forward: { ...f, rules: [...drops, ...f.rules] } };
  }
}
