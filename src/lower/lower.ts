/**
 * Lowering: Topology (the user's language) -> Network IR (plain elements), in stages over one
 * explicit LowerCtx (context.ts), each reading the file and adding to the machines and segments:
 *
 * 1. machines and interfaces: declared segments, machines, their interfaces, sysctls, services, relays;
 * 2. chains and NAT rules the file writes (rules.ts);
 * 3. routes the file writes;
 * 4. VirtualBox: host-only interfaces, VM adapters, NAT engines and their relays (vbox.ts);
 * 5. router defaults: masquerade, DNAT per forward, hairpin, default firewall (router.ts);
 *    then Docker 28's drop of routing straight to containers (docker.ts);
 * 6. finish: route tables and `dst: local` expanded, once every interface is known (finish.ts).
 *
 * The stages run in this order because each later one reads what the earlier ones made (a
 * bridged adapter the host's interface, a router its interfaces, finish everything).
 * The checker has run: parsing here cannot fail.
 */
import { parseMatchPrefix, unmap } from "../net/addr.js";
import type { Network } from "../ir/types.js";
import { parseSegmentSubnets, type Topology } from "../topology/check.js";
import type { Path } from "../topology/load.js";
import type { MachineDoc } from "../topology/schema.js";
import {
  addSegment,
  ANY4,
  cidrOf,
  ipOf,
  machineOf,
  must,
  newContext,
  newMachine,
  portOf,
  SERVICE_ROLE,
  type LowerCtx,
  type MutableMachine,
  sub,
} from "./context.js";
import { finish } from "./finish.js";
import { lowerRouters } from "./router.js";
import { lowerRules } from "./rules.js";
import { lowerVirtualBox } from "./vbox.js";
import { lowerDocker } from "./docker.js";

export function lower(topo: Topology): Network {
  const ctx = newContext(topo);
  lowerMachines(ctx);
  // indexed loops over the 10,000 machines of a large file: a for-of with destructuring makes an iterator and results until optimized
  const docs = ctx.machineDocs;
  for (let i = 0; i < docs.length; i++) lowerRules(ctx, machineOf(ctx, docs[i]![0]), docs[i]![1], ["machines", docs[i]![0]]);
  for (let i = 0; i < docs.length; i++) lowerStaticRoutes(ctx, machineOf(ctx, docs[i]![0]), docs[i]![1], ["machines", docs[i]![0]]);
  lowerVirtualBox(ctx);
  lowerRouters(ctx);
  lowerDocker(ctx);
  const { incomplete, assumed } = ctx.doc;
  return {
    file: ctx.file,
    machines: [...ctx.machines.values()].map((m) => finish(m, ctx.dstLocal)),
    segments: [...ctx.segments.values()],
    ...(incomplete?.length ? { incomplete } : {}),
    ...(assumed?.length ? { assumed } : {}),
  };
}

/** Stage 1: the declared segments, then each declared machine with its own interfaces, sysctls and services. */
function lowerMachines(ctx: LowerCtx): void {
  for (const [name, seg] of Object.entries(ctx.doc.segments ?? {})) {
    addSegment(
      ctx,
      name,
      parseSegmentSubnets(seg).map((s) => must(parseMatchPrefix(s), s)),
      ctx.o(["segments", name], `segment '${name}'`),
      "declared",
    );
  }
  for (let i = 0; i < ctx.machineDocs.length; i++) {
    const name = ctx.machineDocs[i]![0];
    const md = ctx.machineDocs[i]![1];
    const mp: Path = ["machines", name];
    const m = newMachine(ctx, name, md.vm ? "vm" : md.router ? "router" : "host", ctx.o(mp, `machine '${name}'`));
    for (const [iname, iface] of Object.entries(md.interfaces ?? {})) {
      m.interfaces.push({
        name: iname,
        segment: iface.segment,
        addrs: (iface.addresses ?? []).map(cidrOf),
        origin: ctx.o(sub(mp, "interfaces", iname), `interface ${iname}`),
      });
    }
    m.ipForward = md.ip_forward ?? md.router !== undefined;
    m.rpFilter = md.rp_filter ?? 0;
    m.routeLocalnet = md.route_localnet ?? false;
    lowerServices(ctx, m, md, mp);
    lowerRelays(ctx, m, md, mp);
  }
}

function lowerServices(ctx: LowerCtx, m: MutableMachine, md: MachineDoc, mp: Path): void {
  (md.services ?? []).forEach((s, k) => {
    const bind = s.bind === undefined || s.bind === "*" ? ANY4 : ipOf(s.bind);
    const owner = s.name ?? `${s.proto ?? "tcp"}/${portOf(s.port)} listener`;
    const proto = s.proto ?? "tcp";
    const port = portOf(s.port);
    const v6only = s.v6only ?? false;
    const origin = ctx.o(sub(mp, "services", k), `service ${s.name ?? `#${k + 1}`}`);
    // the usual service has none of the optional keys: no spread (slow on 10,000 machines); the keys' order is the IR's either way
    m.sockets.push(
      s.device === undefined && s.pktinfo === undefined && !s.exposed
        ? { owner, proto, bind, port, v6only, role: SERVICE_ROLE, origin }
        : {
            owner,
            proto,
            bind,
            port,
            v6only,
            ...(s.device !== undefined ? { device: s.device } : {}),
            ...(s.pktinfo !== undefined ? { pktinfo: s.pktinfo } : {}),
            ...(s.exposed ? { exposed: true } : {}),
            role: SERVICE_ROLE,
            origin,
          },
    );
  });
}

/** A machine's relay processes (docker-proxy, socat): listening sockets whose connections the machine itself relays on. */
function lowerRelays(ctx: LowerCtx, m: MutableMachine, md: MachineDoc, mp: Path): void {
  (md.relays ?? []).forEach((r, k) => {
    const bind = r.bind === undefined || r.bind === "*" ? ANY4 : ipOf(r.bind);
    const proto = r.proto ?? "tcp";
    m.sockets.push({
      owner: r.name ?? `relay ${proto}/${portOf(r.port)} -> ${r.to}:${portOf(r.toPort)}`,
      proto,
      bind,
      port: portOf(r.port),
      v6only: r.v6only ?? false,
      role: {
        kind: "relay",
        engine: m.name,
        to: unmap(ipOf(r.to)),
        toPort: portOf(r.toPort),
        ...(r.from !== undefined ? { from: unmap(ipOf(r.from)) } : {}),
      },
      origin: ctx.o(sub(mp, "relays", k), `relay ${r.name ?? `#${k + 1}`}`),
    });
  });
}

/** Stage 3: the file's routes; a route without `dev` gets it in finish(), from the connected routes. */
function lowerStaticRoutes(ctx: LowerCtx, m: MutableMachine, md: MachineDoc, mp: Path): void {
  (md.routes ?? []).forEach((r, k) => {
    const dst = must(parseMatchPrefix(r.to), r.to);
    const dev = r.dev ?? "";
    const origin = ctx.o(
      sub(mp, "routes", k),
      `route ${r.to}${r.via ? ` via ${r.via}` : ""}${r.metric !== undefined ? ` metric ${r.metric}` : ""}`,
    );
    // the usual route (a gateway, no metric) without a spread; the keys' order is the IR's either way
    m.staticRoutes.push(
      r.via !== undefined && r.metric === undefined
        ? { dst, via: ipOf(r.via), dev, type: "static", origin }
        : {
            dst,
            ...(r.via !== undefined ? { via: ipOf(r.via) } : {}),
            dev,
            type: "static",
            ...(r.metric !== undefined ? { metric: r.metric } : {}),
            origin,
          },
    );
  });
}
