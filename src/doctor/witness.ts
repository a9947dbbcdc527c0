/**
 * What the LAN vantage reaches at a host's own addresses, decided with few solver calls: the
 * simulator first dials each port the host listens on or forwards (its sockets, its DNAT rules'
 * ports) at each of its addresses; a dial that ends at another machine's service is a concrete
 * witness (a proof of reachable). Only the services no such dial reached are asked of the engine
 * (verdict only), so an exposure the candidates missed is still found. `solver: true` asks the
 * engine for every service instead (the way before; kept as the cross-check and for the benchmark).
 */
import type { Dial } from "../ir/dial.js";
import { parseIP, type IP } from "../net/addr.js";
import type { EngineOptions } from "../query/engine.js";
import { attempt, machineIndex } from "../sim/connect.js";
import { exposure, exposureServices, flowQuery, type Service } from "../verify/flows.js";
import { ownAddresses, type Ctx } from "./kit.js";

/** One service the LAN reaches through a host: the dial's destination and port. */
export interface LanHit {
  readonly service: Service;
  readonly query: string;
  readonly dst: IP;
  readonly dport: number;
}

const key = (s: Service) => `${s.machine}:${s.port}/${s.proto}`;

/** The (protocol, port) pairs a host answers on or forwards: its sockets and its DNAT rules. */
function hostPorts(c: Ctx, host: string): { proto: "tcp" | "udp"; port: number }[] {
  const m = c.net.machines.find((x) => x.name === host);
  const out = new Map<string, { proto: "tcp" | "udp"; port: number }>();
  for (const s of m?.sockets ?? []) out.set(`${s.proto}/${s.port}`, { proto: s.proto, port: s.port });
  for (const r of c.doc.machines[host]?.nat ?? []) {
    if (r.action !== "dnat" || r.dport === undefined || !/^\d+$/.test(String(r.dport))) continue;
    const protos: ("tcp" | "udp")[] = r.proto === "udp" ? ["udp"] : r.proto === "tcp" ? ["tcp"] : ["tcp", "udp"];
    for (const proto of protos) out.set(`${proto}/${r.dport}`, { proto, port: Number(r.dport) });
  }
  return [...out.values()];
}

/** The simulator's witnesses: each host address and port, dialed once from the LAN. */
function simulatedHits(c: Ctx, wanted: ReadonlySet<string>): Map<string, LanHit> {
  const hits = new Map<string, LanHit>();
  const index = machineIndex(c.net);
  for (const host of c.hosts) {
    const addrs = [...ownAddresses(c.doc, host)].flatMap((a) => parseIP(a) ?? []);
    for (const { proto, port } of hostPorts(c, host)) {
      for (const dst of addrs) {
        const dial: Dial = { from: c.lan, proto, dst, dport: port, sport: 40000 };
        const a = attempt(c.net, index, dial);
        if (!a.ok || a.outcome.kind !== "ok" || a.outcome.socket?.role.kind !== "service") continue;
        const service: Service = { machine: a.outcome.machine, proto, port: a.outcome.socket.port };
        if (!wanted.has(key(service)) || hits.has(key(service))) continue;
        hits.set(key(service), { service, query: flowQuery(c.lan, service), dst, dport: port });
      }
    }
  }
  return hits;
}

/** Every service of a machine other than the hosts and the vantage that the LAN reaches, with the dial. */
export async function lanHits(c: Ctx, solver = false): Promise<LanHit[]> {
  const services = exposureServices(c.net, c.lan).filter((s) => !c.hosts.includes(s.machine));
  const wanted = new Set(services.map(key));
  const hits = solver ? new Map<string, LanHit>() : simulatedHits(c, wanted);
  const rest = services.filter((s) => !hits.has(key(s)));
  const opts: EngineOptions = solver ? c.opts : { ...c.opts, explain: false };
  const asked = rest.length ? await exposure(c.net, c.lan, opts, undefined, (s) => rest.some((r) => key(r) === key(s))) : [];
  for (const f of asked) {
    const p = f.answer.verdict === "reachable" ? f.answer.attempt?.legs[0]?.packet : undefined;
    if (p) hits.set(key(f.service), { service: f.service, query: f.query, dst: p.dst, dport: p.dport });
  }
  return services.flatMap((s) => hits.get(key(s)) ?? []);
}
