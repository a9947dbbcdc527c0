/**
 * Metamorphic properties of `ask` over random valid topologies (arbitraries.ts):
 *   a. every generated topology loads without error diagnostics (else: generator bug);
 *   b. ask() never throws;
 *   c. a reachable "A -> B:P" whose first packet went to D:dport stays reachable when
 *      asked as "A -> D:dport", and ends at B;
 *   d. an unreachable "A -> B:P" is not reached by dialing any address X of B directly;
 *   e. "A -> localhost:P" is reachable iff 127.0.0.1:P or [::1]:P is;
 *   f. leaving out the inert dial targets (issue 19: addresses that lead only to their holder)
 *      changes nothing of the answer: verdict, dial, path, closest attempts, reason, count.
 * Seed: FC_SEED (default 424242); runs: FC_RUNS (default 150). A failure prints
 * fast-check's report, the seed, the shrunk topology as YAML and the queries and
 * answers involved.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import type { Network } from "../../src/ir/types.js";
import { lower } from "../../src/lower/lower.js";
import { formatIP, type IP } from "../../src/net/addr.js";
import { ask, type Answer } from "../../src/query/dials.js";
import { parseQuery, type Query } from "../../src/ir/query.js";
import { failureReason } from "../../src/query/explain.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { scenarioArb, topologyArb, type QueryKind, type Scenario } from "./arbitraries.js";

const SEED = Number(process.env.FC_SEED ?? 424242);
const RUNS = Number(process.env.FC_RUNS ?? 150);
const TIMEOUT = Math.max(60_000, RUNS * 2_000);
const FILE = "generated.yaml";

class PropertyFailure extends Error {}

/** Runs a property; on failure throws fast-check's report plus the seed and the shrunk topology as YAML. */
function holds<T>(arb: fc.Arbitrary<T>, body: (v: T) => void, yamlOf: (v: T) => string): void {
  const details = fc.check(fc.property(arb, body), { seed: SEED, numRuns: RUNS });
  if (!details.failed) return;
  const ce = details.counterexample?.[0];
  throw new PropertyFailure(
    [
      fc.defaultReportMessage(details) ?? "property failed",
      "",
      `failure: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
      "",
      `seed: ${SEED} (replay with FC_SEED=${SEED} FC_RUNS=${RUNS}; fast-check path ${details.counterexample ? details.counterexamplePath : "?"})`,
      "shrunk topology (YAML):",
      ce !== undefined ? yamlOf(ce) : "(none)",
    ].join("\n"),
  );
}

function build(yaml: string): Network {
  return lower(loadTopologyText(FILE, yaml).topology);
}

function parse(text: string): Query {
  const p = parseQuery(text);
  if (!p.ok) throw new Error(`generated query does not parse: ${text}: ${p.message}`);
  return p.query;
}

const host = (ip: IP) => (ip.v === 6 ? `[${formatIP(ip)}]` : formatIP(ip));

/** A readable summary of an answer for failure messages. */
function show(a: Answer): string {
  const lines = [`  ${a.query.text}: ${a.verdict} (${a.reason})`];
  if (a.attempt) {
    const p = a.attempt.legs[0]!.packet;
    const o = a.attempt.outcome;
    lines.push(
      `    dial ${p.proto} ${formatIP(p.src)}:${p.sport} -> ${host(p.dst)}:${p.dport}; legs ${a.attempt.legs.length}; outcome ${o.kind === "ok" ? `ok at ${o.machine}${o.socket ? ` socket ${o.socket.owner} ${formatIP(o.socket.bind)}:${o.socket.port} (${o.socket.role.kind})` : ""}` : failureReason(a.attempt)}`,
    );
  }
  for (const c of a.closest.slice(0, 3)) lines.push(`    closest: ${failureReason(c)}`);
  return lines.join("\n");
}

/** Did the attempt of an answer end at `machine` (and, for tcp/udp, at its service on `port`)? */
function endsAtService(a: Answer, machine: string, port: number | undefined): boolean {
  const at = a.attempt;
  if (a.verdict !== "reachable" || !at || !at.ok || at.outcome.kind !== "ok" || at.outcome.machine !== machine) return false;
  if (port === undefined) return true;
  return at.outcome.socket?.role.kind === "service" && at.outcome.socket.port === port;
}

const addressesOf = (net: Network, name: string): IP[] =>
  (net.machines.find((m) => m.name === name)?.interfaces ?? []).filter((i) => i.name !== "lo").flatMap((i) => i.addrs.map((x) => x.ip));

const scenarioYaml = (s: Scenario) => `${s.topology.yaml}# queries:\n${s.queries.map((q) => `#   ${q}`).join("\n")}\n`;

function scenarioProperty(kinds: readonly QueryKind[], check: (net: Network, q: Query, s: Scenario) => void) {
  holds(
    scenarioArb(kinds),
    (s) => {
      const net = build(s.topology.yaml);
      for (const text of s.queries) check(net, parse(text), s);
    },
    scenarioYaml,
  );
}

describe(`metamorphic properties of ask (fast-check seed ${SEED}, ${RUNS} runs)`, () => {
  it(
    "a. every generated topology loads without error diagnostics",
    () => {
      holds(
        topologyArb,
        (t) => {
          try {
            loadTopologyText(FILE, t.yaml);
          } catch (e) {
            if (e instanceof InputError) {
              const errs = e.diagnostics.filter((d) => d.severity === "error");
              throw new Error(
                `generator bug: the topology has error diagnostics:\n${errs.map((d) => `  ${d.span.line}:${d.span.col} ${d.code} ${d.message}`).join("\n")}`,
              );
            }
            throw e;
          }
        },
        (t) => t.yaml,
      );
    },
    TIMEOUT,
  );

  it(
    "b. ask() never throws on a generated query",
    () => {
      scenarioProperty(["machine", "icmp", "localhost"], (net, q) => {
        const a = ask(net, q);
        expect(["reachable", "unreachable", "unknown"]).toContain(a.verdict);
      });
    },
    TIMEOUT,
  );

  it(
    "c. a reachable A -> B:P, re-asked as the exact address and port it dialed, is reachable and ends at B",
    () => {
      scenarioProperty(["machine", "icmp"], (net, q) => {
        if (q.target.kind !== "machine") return;
        const a = ask(net, q);
        if (a.verdict !== "reachable") return;
        const p = a.attempt!.legs[0]!.packet;
        const text = q.proto === "icmp" ? `${q.from} -> ${host(p.dst)}/icmp` : `${q.from} -> ${host(p.dst)}:${p.dport}/${q.proto}`;
        const b = ask(net, parse(text));
        const ok = b.verdict === "reachable" && b.attempt?.outcome.kind === "ok" && b.attempt.outcome.machine === q.target.machine;
        if (!ok)
          throw new Error(
            `machine query reachable but its own dial is not (or ends elsewhere than ${q.target.machine}):\n${show(a)}\n${show(b)}`,
          );
      });
    },
    TIMEOUT,
  );

  it(
    "d. an unreachable A -> B:P is not reached by dialing any address of B",
    () => {
      scenarioProperty(["machine", "icmp"], (net, q) => {
        if (q.target.kind !== "machine") return;
        const target = q.target.machine;
        const a = ask(net, q);
        if (a.verdict !== "unreachable") return;
        for (const x of addressesOf(net, target)) {
          const text = q.proto === "icmp" ? `${q.from} -> ${host(x)}/icmp` : `${q.from} -> ${host(x)}:${q.port}/${q.proto}`;
          const b = ask(net, parse(text));
          if (endsAtService(b, target, q.port))
            throw new Error(`machine query unreachable but dialing ${target}'s address reaches it:\n${show(a)}\n${show(b)}`);
        }
      });
    },
    TIMEOUT,
  );

  it(
    "e. A -> localhost:P is reachable iff 127.0.0.1:P or [::1]:P is",
    () => {
      scenarioProperty(["localhost"], (net, q) => {
        if (q.target.kind !== "localhost") return;
        const a = ask(net, q);
        const v4 = ask(net, parse(`${q.from} -> 127.0.0.1:${q.port}/${q.proto}`));
        const v6 = ask(net, parse(`${q.from} -> [::1]:${q.port}/${q.proto}`));
        const either = v4.verdict === "reachable" || v6.verdict === "reachable";
        if ((a.verdict === "reachable") !== either)
          throw new Error(`localhost disagrees with its addresses:\n${show(a)}\n${show(v4)}\n${show(v6)}`);
      });
    },
    TIMEOUT,
  );

  it(
    "f. an answer without the inert dial targets equals the answer that dials them all",
    () => {
      scenarioProperty(["machine", "icmp", "localhost"], (net, q) => {
        const fast = ask(net, q);
        const all = ask(net, q, { skipInert: false });
        if (!sameJson(fast, all)) throw new Error(`skipping inert dials changed the answer:\n${show(fast)}\n${show(all)}`);
      });
    },
    TIMEOUT,
  );
});

const sameJson = (a: unknown, b: unknown) => {
  const j = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
  return j(a) === j(b);
};
