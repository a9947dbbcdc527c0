/**
 * What `reach ask` prints: the verdict, what to dial, each hop with its decisions
 * and their file:line, the reply path; or, when unreachable, the closest attempts
 * and where each one died. Also the JSON form.
 */
import { match } from "ts-pattern";
import { formatEndpoint, formatIP, formatPrefix, isLoopback, sameIP } from "../net/addr.js";
import type { Machine, Network } from "../ir/types.js";
import type { Attempt, Leg, Step } from "../sim/types.js";
import type { Answer } from "./dials.js";
import { at, dialedText, dispositionText, failureReason, packetText } from "./explain.js";
import { formatQuery } from "../ir/query.js";
import { socketLabel } from "./dials.js";
import type { EngineReport } from "./engine.js";
import { formatSpan } from "../diagnostics/diagnostic.js";
import { SYMPTOM_TEXT, type Cause } from "./causes.js";

function stepText(s: Step, shown: { packet?: string }): string | undefined {
  return match(s)
    .with({ kind: "originate" }, (x) => {
      shown.packet = packetText(x.packet);
      return shown.packet;
    })
    .with({ kind: "receive" }, (x) => {
      const p = packetText(x.packet);
      const where = x.iface === "lo" ? "looped back on lo" : `in ${x.iface}`;
      const text = p === shown.packet ? where : `${where}: ${p}`;
      shown.packet = p;
      return text;
    })
    .with({ kind: "route" }, (x) =>
      x.local
        ? undefined
        : `route ${formatPrefix(x.route.dst)}${x.route.via ? ` via ${formatIP(x.route.via)}` : ""} dev ${x.route.dev}${x.route.type === "static" ? ` (${at(x.route.origin)})` : ""}`,
    )
    .with({ kind: "filter" }, (x) => {
      const by = x.rule ? `${x.rule.origin.what}, ${at(x.rule.origin)}` : x.policyOrigin ? `policy, ${at(x.policyOrigin)}` : "policy";
      return `${x.chain.toUpperCase()} ${x.action} (${by})${x.state !== "new" ? ` [${x.state}]` : ""}`;
    })
    .with({ kind: "nat" }, (x) => {
      shown.packet = packetText(x.after);
      const what = x.rule.action.kind === "dnat" ? "DNAT" : x.rule.action.kind === "snat" ? "SNAT" : "MASQUERADE";
      return `${what} ${packetText(x.before)} => ${packetText(x.after)} (${x.rule.origin.what}, ${at(x.rule.origin)})`;
    })
    .with({ kind: "unnat" }, (x) => {
      shown.packet = packetText(x.after);
      return `conntrack un-NAT => ${packetText(x.after)}`;
    })
    .with({ kind: "transmit" }, (x) => `out ${x.iface} to ${x.to} (${formatIP(x.nextHop)} on ${x.segment})`)
    .with({ kind: "deliver" }, (x) =>
      x.socket ? `delivered to ${socketLabel(x.socket)}, ${at(x.socket.origin)}` : `answered by the kernel (echo reply)`,
    )
    .exhaustive();
}

/** Groups a leg's forward steps into hops: one line per machine visit. */
function hops(leg: Leg, legIndex: number, prev: Leg | undefined): { machine: string; parts: string[] }[] {
  const out: { machine: string; parts: string[] }[] = [];
  const shown: { packet?: string } = {};
  for (const s of leg.forward.steps) {
    const text = stepText(s, shown);
    const last = out[out.length - 1];
    const isNewVisit = s.kind === "originate" || (s.kind === "receive" && !(last && last.machine === s.machine && s.iface === "lo"));
    if (!last || isNewVisit || last.machine !== s.machine) {
      out.push({ machine: s.machine, parts: [] });
    }
    const lead = s.kind === "originate" && legIndex > 0 && prev ? legLead(prev) : "";
    if (text) out[out.length - 1]!.parts.push(lead ? `${lead} ${text}` : text);
  }
  const d = leg.forward.disposition;
  const last = out[out.length - 1];
  if (d.kind === "engine-relay" && last) last.parts.push(`the NAT engine takes the connection; ${d.host} re-sends it`);
  return out;
}

function legLead(prev: Leg): string {
  const d = prev.forward.disposition;
  if (d.kind === "delivered" && d.socket?.role.kind === "relay") {
    const src =
      d.socket.role.gateway === undefined
        ? `its own connection, from ${d.socket.role.engine}`
        : isLoopback(d.packet.src)
          ? "from the gateway address, as the client came from loopback"
          : "keeping the client's address";
    return `relays (${src}):`;
  }
  if (d.kind === "engine-relay") return `for ${d.machine}:`;
  return "";
}

function replyText(legs: readonly Leg[]): string {
  const parts = legs
    .map((l) => {
      if (!l.reply) return undefined;
      const ms: string[] = [];
      for (const s of l.reply.steps)
        if ((s.kind === "originate" || s.kind === "receive") && ms[ms.length - 1] !== s.machine) ms.push(s.machine);
      const ct = l.reply.steps.some((s) => s.kind === "unnat") ? " (conntrack un-NAT)" : "";
      return `${ms.length === 1 ? `${ms[0]} (loopback)` : ms.join(" -> ")}${ct}`;
    })
    .filter((x): x is string => x !== undefined)
    .reverse();
  return parts.join("; then ");
}

function traceLines(a: Attempt, number = true): string[] {
  const lines: string[] = [];
  let n = 0;
  const width = Math.max(8, ...a.legs.flatMap((l) => l.forward.steps.map((s) => s.machine.length)));
  a.legs.forEach((leg, i) => {
    for (const h of hops(leg, i, a.legs[i - 1])) {
      n++;
      lines.push(`  ${number ? `${String(n).padStart(2)} ` : ""}${h.machine.padEnd(width)}  ${h.parts.join("; ")}`);
    }
  });
  return lines;
}

/** How the dial target gets to the service: port forward, router forward, or an address of a machine. */
export function dialDescription(a: Attempt, machines: readonly Machine[]): string {
  const first = a.legs[0];
  if (!first) return "";
  const d = first.forward.disposition;
  if (d.kind === "delivered" && d.socket?.role.kind === "relay") return `${d.socket.origin.what}, ${at(d.socket.origin)}`;
  const dnat = first.forward.steps.find((s) => s.kind === "nat" && s.rule.action.kind === "dnat");
  if (dnat && dnat.kind === "nat") return `${dnat.rule.origin.what}, ${at(dnat.rule.origin)}`;
  const dst = first.packet.dst;
  if (isLoopback(dst)) return `loopback of ${first.from}`;
  // the machine this dial reached owns the address (NAT engines all have 10.0.2.2)
  const reached = machines.find((m) => "machine" in d && m.name === d.machine);
  const own = reached?.interfaces.find((i) => i.addrs.some((x) => sameIP(x.ip, dst)));
  if (reached && own) return `${reached.name}'s address on ${own.name}`;
  for (const m of machines)
    for (const i of m.interfaces) if (i.addrs.some((x) => sameIP(x.ip, dst))) return `${m.name}'s address on ${i.name}`;
  return "";
}

/** The last line of an answer: which engine decided and how much it looked at. */
export function engineLine(r: EngineReport): string {
  const parts: string[] = [];
  if (r.smt === "unknown") parts.push("the simulator's dials (Z3 could not decide)");
  else if (r.paths === 0) parts.push("the symbolic encoding (no path can carry any packet of this query)");
  else if (r.certified)
    parts.push(`the simulator's dial, satisfying ${r.paths === 1 ? "the only symbolic path" : `one of ${r.paths} symbolic paths`}`);
  else if (r.paths !== undefined) parts.push(`Z3 over ${r.paths} candidate path${r.paths === 1 ? "" : "s"}`);
  if (r.exchanges !== undefined) parts.push(`simulator over ${r.exchanges} exchange${r.exchanges === 1 ? "" : "s"} (every packet class)`);
  if (!parts.length) return `  not decided${r.note ? `: ${r.note}` : ""}`;
  return `  decided by ${parts.join(", agreeing with the ")}${r.note ? `; ${r.note}` : ""}`;
}

export function renderAnswer(ans: Answer, machines: readonly Machine[], report?: EngineReport): string {
  const body = renderBody(ans, machines);
  return report ? `${body}\n${engineLine(report)}` : body;
}

function renderBody(ans: Answer, machines: readonly Machine[]): string {
  const lines = [`${ans.verdict}: ${formatQuery(ans.query)}`];
  if (ans.perAddress) {
    for (const sub of ans.perAddress) {
      lines.push(
        ...renderBody(sub, machines)
          .split("\n")
          .map((l) => `  ${l}`),
      );
    }
    lines.push(`  ${ans.reason}`);
    return lines.join("\n");
  }
  if (ans.verdict === "reachable" && ans.attempt && ans.dial) {
    const p = ans.attempt.legs[0]!.packet;
    const dial = p.proto === "icmp" ? `ping ${formatIP(p.dst)}` : `dial ${formatEndpoint(p.dst, p.dport)}`;
    lines.push(`  ${dial} (${dialDescription(ans.attempt, machines)})`);
    lines.push(...traceLines(ans.attempt));
    lines.push(`  reply path: ${replyText(ans.attempt.legs)}`);
    return lines.join("\n");
  }
  if (ans.causes?.length) {
    lines[0] += ` (${ans.causes.map((c) => c.code).join(", ")})`;
    lines.push(...causeLines(ans));
  } else lines.push(`  reason: ${ans.reason}`);
  for (const p of ans.proof ?? []) lines.push(`  Z3: ${p}`);
  // the dial a person would make comes first, then the other ways that came closest
  const intended = ans.intended?.attempt;
  const same = (a: Attempt, b: Attempt) => dialedText(a.legs[0]!.packet) === dialedText(b.legs[0]!.packet);
  const shown = intended ? [intended, ...ans.closest.filter((a) => !same(a, intended))] : ans.closest;
  for (const a of shown) {
    lines.push(
      `  attempt: dial ${dialedText(a.legs[0]!.packet)}${a === intended && ans.intended ? ` (the dial a person would make: ${wayText[ans.intended.kind]})` : ""}`,
    );
    lines.push(...traceLines(a).map((l) => `  ${l}`));
    lines.push(`      => ${a.ok ? failureReason(a, false) : failureReason(a, false)}`);
  }
  if (!ans.closest.length) lines.push(`  (${ans.tried} dial targets tried; none leads to the target)`);
  return lines.join("\n");
}

/** The causes in path order: the first is what the client meets now, each next one what it meets once the one before is fixed. */
function causeLines(ans: Answer): string[] {
  const lines: string[] = [];
  const causes = ans.causes ?? [];
  causes.forEach((c, i) => {
    const lead = i === 0 ? "cause" : c.dial && causes[i - 1]?.dial === c.dial ? "then, once that is fixed" : "and";
    lines.push(`  ${lead}: ${c.code} at ${formatSpan(c.at)} (${c.machine}): ${c.text}`);
    if (i === 0 || c.dial !== causes[i - 1]?.dial) lines.push(`    ${ans.query.from} sees: ${SYMPTOM_TEXT[c.symptom]}`);
  });
  for (const a of ans.assumptions ?? []) lines.push(`  assumes (${a.code}, ${formatSpan(a.at)}): ${a.text}`);
  return lines;
}

const wayText = {
  own: "its address on a network they share",
  forward: "the port forward",
  "router-forward": "the router's port forward",
  address: "its address",
} as const;

/** What every answer over the topology assumes: which Docker Engine's rules (`docker:`), and what its import assumed (`assumed:`). */
export function assumptionLines(net: Pick<Network, "machines"> & Pick<Partial<Network>, "assumed">): string[] {
  const imported = (net.assumed ?? []).map((a) => `assumes (${a.at}): ${a.what}`);
  return imported.concat(
    ...net.machines.map((m) =>
      m.docker
        ? [
            `assumes: Docker Engine ${m.docker.version}'s rules on ${m.name} (${at(m.docker.origin)}): ${
              m.docker.version >= 28
                ? "packets routed straight to a container's address from outside its bridge are dropped (raw table); 27 and older let them through (docker: {version: 27})"
                : "packets routed straight to a container's address are not dropped as Docker 28 does (docker: {version: 28})"
            }`,
          ]
        : [],
    ),
  );
}

/** The caveat of every answer over a topology imported without some parts of its inputs, or undefined. */
export function incompleteLine(net: Pick<Network, "incomplete">): string | undefined {
  const parts = net.incomplete ?? [];
  if (!parts.length) return undefined;
  const n = parts.length;
  const where = parts
    .slice(0, 3)
    .map((p) => p.at)
    .join(", ");
  return `incomplete: ${n} part${n === 1 ? "" : "s"} of the inputs ${n === 1 ? "was" : "were"} not read (${where}${n > 3 ? ", ..." : ""}); the answer covers only what was read`;
}

/** A cause as JSON: code, machine, location, symptom, sentence, and the dial it was met on. */
export const causeJson = (c: Cause) => ({
  code: c.code,
  machine: c.machine,
  location: formatSpan(c.at),
  symptom: c.symptom,
  text: c.text,
  ...(c.dial ? { dial: c.dial } : {}),
});

// ---- JSON ----

const ipJson = (ip: { v: number; n: bigint }) => formatIP(ip as never);

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value && typeof value === "object" && "v" in value && "n" in value && typeof (value as { n: unknown }).n === "bigint") {
    const v = value as { v: 4 | 6; n: bigint; len?: number };
    return v.len !== undefined ? `${ipJson(v)}/${v.len}` : ipJson(v);
  }
  return value;
}

function attemptJson(a: Attempt) {
  return {
    ok: a.ok,
    reason: a.ok ? undefined : failureReason(a),
    legs: a.legs.map((l) => ({
      from: l.from,
      packet: l.packet,
      forward: l.forward,
      reply: l.reply,
      ack: l.ack,
      ...(l.data ? { data: l.data } : {}),
    })),
  };
}

export function answerJson(ans: Answer, machines: readonly Machine[], report?: EngineReport): unknown {
  const dial = ans.attempt?.legs[0]?.packet;
  const out = {
    query: formatQuery(ans.query),
    verdict: ans.verdict,
    dial:
      dial && ans.verdict === "reachable"
        ? {
            address: formatIP(dial.dst),
            port: dial.proto === "icmp" ? null : dial.dport,
            proto: dial.proto,
            via: ans.attempt ? dialDescription(ans.attempt, machines) : undefined,
          }
        : null,
    reason: ans.reason,
    ...(ans.causes ? { causes: ans.causes.map(causeJson) } : {}),
    ...(ans.assumptions?.length
      ? { assumptions: ans.assumptions.map((a) => ({ code: a.code, location: formatSpan(a.at), text: a.text })) }
      : {}),
    ...(ans.intended ? { intended: { dial: dialedText(ans.intended.attempt.legs[0]!.packet), way: ans.intended.kind } } : {}),
    trace: ans.attempt ? attemptJson(ans.attempt) : null,
    closest: ans.closest.map(attemptJson),
    perAddress: ans.perAddress?.map((s) => answerJson(s, machines)),
    tried: ans.tried,
    ...(ans.proof ? { proof: ans.proof } : {}),
    ...(report ? { engine: report } : {}),
  };
  return JSON.parse(JSON.stringify(out, jsonReplacer));
}
