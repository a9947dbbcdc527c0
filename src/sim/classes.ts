/**
 * All pairs by classes, the simulator's side (the twin of smt/classes.ts): from one source
 * machine, every packet class of the network is dialed once (exhaustive.ts' classes, in its
 * order, with its skipping of classes a failed first packet shows cannot differ), and each
 * exchange that ends at a service is recorded under that service. The first dial recorded for
 * a service is the witness exhaustive() would return for "A -> B:P/proto": it dials the same
 * classes in the same order and skips the same ones (skipping depends only on failed
 * attempts), stopping at its first success, which is this enumeration's first dial ending
 * there. So one enumeration answers every service, each exactly as its per-flow decision.
 */
import type { IP } from "../net/addr.js";
import type { Network } from "../ir/types.js";
import type { Dial } from "../ir/dial.js";
import type { Attempt } from "./types.js";
import { attempt, machineIndex } from "./connect.js";
import { independentOf, packetClasses, portUseOf, sportsFor, type PacketClasses } from "./exhaustive.js";

/** The key of a service: "machine:port" (as smt/classes.ts). */
export const serviceKeyOf = (machine: string, port: number): string => `${machine}:${port}`;

/** The first dial that reaches a service, and its exchange. */
export interface Witness {
  readonly dial: Dial;
  readonly attempt: Attempt;
}

export interface ServicesReached {
  /** each service some class reaches, with the first dial that does */
  readonly reached: ReadonlyMap<string, Witness>;
  /** for each reached service, the attempt() calls made up to its witness (exhaustive()'s `tried` for it) */
  readonly triedAt: ReadonlyMap<string, number>;
  /** attempt() calls made */
  readonly tried: number;
  readonly skipped: number;
}

/** The service an exchange ended at, if it did. */
function endedAt(a: Attempt): string | undefined {
  if (!a.ok || a.outcome.kind !== "ok") return undefined;
  const s = a.outcome.socket;
  return s?.role.kind === "service" ? serviceKeyOf(a.outcome.machine, s.port) : undefined;
}

/** Every service `from` reaches over `proto`, by one enumeration of the packet classes. */
export function reachedServices(
  net: Network,
  from: string,
  proto: "tcp" | "udp",
  classes: PacketClasses = packetClasses(net),
): ServicesReached {
  if (!net.machines.some((m) => m.name === from)) throw new Error(`internal: unknown machine ${from}`);
  const index = machineIndex(net);
  const portUse = portUseOf(net);
  const reached = new Map<string, Witness>();
  const triedAt = new Map<string, number>();
  let tried = 0;
  let skipped = 0;
  const sportLists = classes.ports.map((d) => sportsFor(classes, d));
  for (const dst of [...classes.dst4, ...classes.dst6] as IP[]) {
    let skipDst = false;
    for (let k = 0; k < classes.ports.length && !skipDst; k++) {
      const dport = classes.ports[k]!;
      const sports = sportLists[k]!;
      for (let j = 0; j < sports.length; j++) {
        const dial: Dial = { from, proto, dst, dport, sport: sports[j]! };
        const a = attempt(net, index, dial);
        tried++;
        const key = endedAt(a);
        if (key !== undefined && !reached.has(key)) {
          reached.set(key, { dial, attempt: a });
          triedAt.set(key, tried);
        }
        const free = independentOf(a, portUse);
        if (free === "ports") {
          // the rest of this destination: every later port's source ports, and this port's
          skipped += sports.length - j - 1 + sportLists.slice(k + 1).reduce((n, s) => n + s.length, 0);
          skipDst = true;
          break;
        }
        if (free === "sport") {
          skipped += sports.length - j - 1;
          break;
        }
      }
    }
  }
  return { reached, triedAt, tried, skipped };
}
