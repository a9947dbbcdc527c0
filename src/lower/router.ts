/**
 * Lowering stage: home routers. A router forwards packets (ip_forward=1), masquerades what
 * leaves by the WAN, DNATs each port forward arriving on the WAN address, and with `hairpin`
 * also for LAN clients dialing the WAN address (then SNAT to the router so the reply comes back
 * through it, as RFC 5382 REQ-8 routers do). Without a firewall in the file it gets the usual
 * consumer default: stateful, LAN -> anywhere, WAN -> forwards only.
 */
import { prefixOf, type Prefix } from "../net/addr.js";
import type { Iface, Origin, Rule } from "../ir/types.js";
import type { Path } from "../topology/load.js";
import type { MachineDoc, RouterDoc } from "../topology/schema.js";
import { acceptAll, ipOf, machineOf, must, natTable, portOf, reworded, type LowerCtx, type MutableMachine, sub } from "./context.js";

/** Every declared router, after the VM adapters (so that it sees all of its interfaces). */
export function lowerRouters(ctx: LowerCtx): void {
  for (let i = 0; i < ctx.machineDocs.length; i++) {
    const md = ctx.machineDocs[i]![1];
    if (md.router) lowerRouter(ctx, machineOf(ctx, ctx.machineDocs[i]![0]), md, ["machines", ctx.machineDocs[i]![0], "router"]);
  }
}

/** What one router's lowering needs to know about it. */
interface RouterView {
  readonly m: MutableMachine;
  readonly r: RouterDoc;
  readonly rp: Path;
  readonly wan: string;
  readonly wanIf: Iface;
  readonly lanIfs: readonly Iface[];
}

function lowerRouter(ctx: LowerCtx, m: MutableMachine, md: MachineDoc, rp: Path): void {
  const r = must(md.router, "router");
  const wan = r.wan;
  const wanIf = must(
    m.interfaces.find((i) => i.name === wan),
    wan,
  );
  const view: RouterView = { m, r, rp, wan, wanIf, lanIfs: m.interfaces.filter((i) => i.name !== wan && i.name !== "lo") };
  const routerOrigin = ctx.o(rp, `home router '${m.name}'`);
  natTable(m, "postrouting").push({
    match: { out: wan, src: { v: 4, n: 0n, len: 0 } },
    action: { kind: "masquerade" },
    origin: ctx.o(sub(rp, "wan"), `masquerade IPv4 out of ${wan} (home router)`),
  });
  (r.forwards ?? []).forEach((_, k) => lowerRouterForward(ctx, view, k));
  // Only connections the forwards translated get in from the WAN (ct status dnat), to LAN machines or to the router itself.
  const fwdAccepts: Rule[] = [];
  if (r.forwards?.length)
    fwdAccepts.push({
      match: { in: wan, ctDnat: true },
      action: "accept",
      origin: reworded(routerOrigin, `router default: accept port-forwarded (DNAT) from ${wan}`),
    });
  if (!md.firewall) defaultRouterFilter(view, routerOrigin, fwdAccepts);
}

/** Forward k: DNAT on each IPv4 address of the WAN, and with hairpin from each LAN too, with its SNAT. */
function lowerRouterForward(ctx: LowerCtx, { m, r, rp, wan, wanIf, lanIfs }: RouterView, k: number): void {
  const f = must(r.forwards?.[k], "router forward");
  const to = ipOf(f.to);
  const proto = f.proto ?? "tcp";
  const port = portOf(f.port);
  const toPort = f.toPort !== undefined ? portOf(f.toPort) : port;
  const what = `router forward ${f.name ? `"${f.name}" ` : ""}${proto}/${port} -> ${f.to}:${toPort}`;
  const origin = ctx.o(sub(rp, "forwards", k), what);
  for (const a of wanIf.addrs.filter((x) => x.ip.v === 4)) {
    const dst: Prefix = { v: 4, n: a.ip.n, len: 32 };
    natTable(m, "prerouting").push({
      match: { in: wan, proto, dst, dport: { lo: port, hi: port } },
      action: { kind: "dnat", to, toPort },
      origin,
    });
    if (!r.hairpin) continue;
    for (const lan of lanIfs) {
      natTable(m, "prerouting").push({
        match: { in: lan.name, proto, dst, dport: { lo: port, hi: port } },
        action: { kind: "dnat", to, toPort },
        origin: reworded(origin, `${what} (hairpin)`),
      });
      for (const la of lan.addrs.filter((x) => x.ip.v === 4)) {
        natTable(m, "postrouting").unshift({
          match: {
            out: lan.name,
            proto,
            src: prefixOf(la.ip, la.len),
            dst: { v: 4, n: to.n, len: 32 },
            dport: { lo: toPort, hi: toPort },
          },
          action: { kind: "masquerade" },
          origin: reworded(origin, `${what} (hairpin SNAT)`),
        });
      }
    }
  }
}

/** The consumer default: input and forward drop but for established, the LANs (and lo for input) and port-forwarded. */
function defaultRouterFilter({ m, lanIfs }: RouterView, routerOrigin: Origin, fwdAccepts: readonly Rule[]): void {
  const established: Rule = {
    match: { state: ["established", "related"] },
    action: "accept",
    origin: reworded(routerOrigin, "router default: accept established,related"),
  };
  const fromLan = (chain: string): Rule[] =>
    [...lanIfs.map((i) => i.name), ...(chain === "input" ? ["lo"] : [])].map((name) => ({
      match: { in: name },
      action: "accept" as const,
      origin: reworded(routerOrigin, `router default: accept ${chain} from ${name}`),
    }));
  m.filter = {
    input: {
      name: "input",
      policy: "drop",
      policyOrigin: reworded(routerOrigin, "router default input policy"),
      rules: [established, ...fromLan("input"), ...fwdAccepts],
    },
    output: acceptAll("output"),
    forward: {
      name: "forward",
      policy: "drop",
      policyOrigin: reworded(routerOrigin, "router default forward policy"),
      rules: [established, ...fromLan("forward"), ...fwdAccepts],
    },
  };
}
