/**
 * Symbolic exchanges (the twin of sim/connect.ts): the client's first packet,
 * the server's reply against the conntrack state it left, TCP's next packet
 * (and the server's data where the reply crossed a machine without an entry),
 * and the further legs that port-forward relays and NAT engines open. Every way
 * the whole exchange can succeed comes out as a Path: its condition over the
 * query's variables, and what it went through (for choosing a short witness).
 */
import { isAny, LOOPBACK4, unmap } from "../net/addr.js";
import type { Machine, Route, Socket } from "../ir/types.js";
import { HOST_EPHEMERAL, MAX_LEGS } from "../ir/dial.js";
import { lookupRouteS, relaySourceS, selectSourceS, type SPacket } from "./elements.js";
import { shadowedUdpForward } from "../ir/slirp.js";
import { ac, and, type AV, type F, type PV } from "./term.js";
import { Explorer, swapS, walkS, type SDisp, type St } from "./walk.js";
import type { Decision } from "../ir/decision.js";

export interface SDial {
  readonly from: string;
  readonly proto: "tcp" | "udp" | "icmp";
  readonly dst: AV;
  readonly dport: PV;
  readonly sport: PV;
}

export interface Path {
  readonly pc: readonly F[];
  /** for each condition, the decision point that imposed it */
  readonly why: readonly Decision[];
  /** legs and the machines visited, for preferring short witnesses */
  readonly cost: number;
  readonly machine: string;
  readonly socket?: Socket;
}

/** What the exchange must end at: a service of the target machine on the port, or (address queries) anything that answers. */
export interface Goal {
  readonly machine?: string;
  readonly port?: number;
  /**
   * Every service of these machines at once (all pairs by classes, smt/classes.ts), instead of
   * `machine` and `port`: the forks made below each service's delivery are counted apart
   * (Explorer.scoped, keyed by serviceKey).
   */
  readonly services?: ReadonlySet<string>;
}

/** The key of a service in an all-services exploration: "machine:port". */
export const serviceKey = (machine: string, port: number): string => `${machine}:${port}`;

const meets = (goal: Goal, machine: string, socket: Socket | undefined, proto: SDial["proto"]): boolean =>
  goal.services
    ? socket?.role.kind === "service" && goal.services.has(machine)
    : (goal.machine === undefined || goal.machine === machine) &&
      (goal.machine === undefined || proto === "icmp" || (socket?.role.kind === "service" && socket.port === goal.port));

/** The scope a delivery's continuation is counted in: its service, in an all-services exploration. */
const scopeOf = (goal: Goal, d: SDisp): string | undefined =>
  goal.services && d.kind === "delivered" && d.socket?.role.kind === "service" ? serviceKey(d.machine, d.socket.port) : undefined;

/**
 * Can a packet arriving at `m` from a wire still end at the goal? Only at the goal machine, or
 * through one that forwards, relays (a port-forward or proxy socket) or is a NAT engine; any
 * other machine delivers it to one of its own sockets (not the goal) or drops it.
 */
export const passesOn = (goal: Goal, m: Machine): boolean =>
  (goal.services ? goal.services.has(m.name) : goal.machine === undefined || goal.machine === m.name) ||
  m.ipForward ||
  m.engine !== undefined ||
  m.sockets.some((s) => s.role.kind === "relay");

/**
 * TCP after the answer (the twin of sim `attempt`): the client's next packet along the connection,
 * then, where the reply crossed a machine holding no entry, the server's data (picked up as new there).
 */
function tcpAfterS(
  x: Explorer,
  st: St,
  c: { from: Machine; server: Machine; d: SDisp; packet: SPacket; answer: SPacket },
  next: (st: St) => void,
): void {
  const { from, server, d, packet, answer } = c;
  walkS(x, { expect: { machine: d.machine, packet: d.packet }, direction: "original" }, st, from, x.pk(st, packet), (st1) => {
    if (!st1.noEntry) return next(st1);
    const spec = { expect: { machine: from.name, packet: swapS(packet) }, direction: "data" as const };
    walkS(x, spec, { ...st1, noEntry: false }, server, x.pk(st1, answer), next);
  });
}

export function attemptS(x: Explorer, st0: St, dial: SDial, goal: Goal, found: (p: Path) => void): void {
  const from0 = x.machines.get(dial.from);
  if (!from0) throw new Error(`internal: unknown machine ${dial.from}`);
  // connect() to 0.0.0.0 / :: means loopback; to ::ffff:a.b.c.d it sends IPv4
  let dst0 = dial.dst;
  if (dst0.k === "c") dst0 = ac(isAny(dst0.ip) ? (dst0.ip.v === 4 ? LOOPBACK4 : { v: 6, n: 1n }) : unmap(dst0.ip));
  const wanted = (machine: string, socket: Socket | undefined) => socket?.role.kind === "relay" || meets(goal, machine, socket, dial.proto);
  const passes = (m: Machine) => passesOn(goal, m);

  const leg = (st: St, i: number, from: Machine, dst: AV, dport: PV, src: AV | undefined, sport: PV, cost: number): void => {
    if (i >= MAX_LEGS) return x.prune();
    dst = x.av(st, dst);
    const routeDecision = (route: Route | undefined): Decision => ({ kind: "route", machine: from.name, ...(route ? { route } : {}) });
    x.fork(st, lookupRouteS(from, dst), routeDecision, (st1, route) => {
      if (!route) return x.prune(); // connect() fails at once (ENETUNREACH)
      const srcs = src ? ([[{ t: "true" }, src]] as const) : selectSourceS(from, route, x.av(st1, dst));
      const sourceDecision: Decision = { kind: "source-address", machine: from.name, role: "client" };
      x.fork(st1, srcs, sourceDecision, (st2, s) => {
        if (!s) return x.prune();
        const packet: SPacket = x.pk(st2, { proto: dial.proto, src: s, dst, sport, dport });
        walkS(x, { wanted, passes }, st2, from, packet, (st3, d) =>
          x.scoped(scopeOf(goal, d), () => {
            const server = x.machines.get(d.machine)!;
            const hops = st3.pc.length;
            const answers: (readonly [F, SPacket])[] = [];
            const base = swapS(x.pk(st3, d.packet));
            const sock = d.kind === "delivered" ? d.socket : undefined;
            if (dial.proto === "udp" && sock && isAny(unmap(sock.bind)) && !sock.pktinfo) {
              // a wildcard-bound UDP server answers from the route's source address
              for (const [rc, back] of lookupRouteS(server, base.dst)) {
                if (!back) {
                  answers.push([rc, base]);
                  continue;
                }
                for (const [sc, from2] of selectSourceS(server, back, base.dst))
                  answers.push([and(rc, sc), from2 ? { ...base, src: from2 } : base]);
              }
            } else answers.push([{ t: "true" }, base]);
            x.fork(st3, answers, { kind: "source-address", machine: server.name, role: "answer" }, (st4, answer) => {
              walkS(x, { expect: { machine: from.name, packet: swapS(packet) } }, st4, server, x.pk(st4, answer), (st5) => {
                const next = (st6: St) => {
                  if (d.kind === "engine-relay") {
                    const host = x.machines.get(d.host)!;
                    return leg(st6, i + 1, host, d.dst, d.dport, undefined, { k: "c", n: HOST_EPHEMERAL }, cost + 100 + hops);
                  }
                  const role = d.socket?.role;
                  if (role?.kind === "relay") {
                    // the twin of sim `attempt`: of several UDP forwards of one engine to one guest port only the last answers
                    if (dial.proto === "udp" && shadowedUdpForward(server, d.socket!)) return x.prune();
                    const engine = x.machines.get(role.engine)!;
                    // a libslirp forward keeps the client (its gateway for a loopback client or one of the
                    // other family); a machine's relay process (docker-proxy) connects with its own socket
                    x.fork(
                      st6,
                      relaySourceS(role, x.av(st6, d.packet.src), x.pv(st6, sport), HOST_EPHEMERAL),
                      { kind: "source-address", machine: engine.name, role: "relay" },
                      (st7, r) => leg(st7, i + 1, engine, ac(role.to), { k: "c", n: role.toPort }, r.src, r.sport, cost + 100 + hops),
                    );
                    return;
                  }
                  if (!meets(goal, d.machine, d.socket, dial.proto)) return x.prune();
                  found({ pc: st6.pc, why: st6.why, cost: cost + hops, machine: d.machine, ...(d.socket ? { socket: d.socket } : {}) });
                };
                if (dial.proto !== "tcp") return next(st5);
                tcpAfterS(x, st5, { from, server, d, packet, answer }, next);
              });
            });
          }),
        );
      });
    });
  };
  leg(st0, 0, from0, dst0, dial.dport, undefined, dial.sport, 0);
}
