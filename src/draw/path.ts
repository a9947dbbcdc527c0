/**
 * The path picture of one answer: the simulator's attempt as a left-to-right chain of hops (one
 * box per machine visit, each decision in it with its file:line), the packet's addresses on each
 * edge (a NAT step's rewrite shown in the box where it happens), and for an unreachable answer
 * the blocked path: a ✖ and a dashed border where it fails, the cause codes, what the client
 * sees, the unreached target dashed beyond, and the repair `reach fix` found as a note.
 */
import { match } from "ts-pattern";
import { formatSpan } from "../diagnostics/diagnostic.js";
import { formatIP, formatPrefix, isLoopback } from "../net/addr.js";
import { formatQuery } from "../ir/query.js";
import type { Attempt, Leg, Step } from "../sim/types.js";
import type { Answer } from "../query/dials.js";
import { socketLabel } from "../query/dials.js";
import { at, failureReason, packetText } from "../query/explain.js";
import { SYMPTOM_TEXT } from "../query/causes.js";
import { FONT, GLYPH, MONO, graphHead, html, mermaidText, OKABE_ITO, quote, TINT, wrap } from "./style.js";

export interface PathHop {
  readonly n: number;
  readonly machine: string;
  readonly lines: readonly string[];
  /** why the attempt ends here, when it fails here */
  readonly failed?: string;
}

export interface PathEdge {
  readonly from: number;
  readonly to: number;
  /** the packet as it arrives (`tcp 10.0.2.2:40000 -> 10.0.2.15:22`), or a relay's new connection */
  readonly label: string;
  readonly relay: boolean;
}

/** The repair to show: its edits at file:line, or why there is none. */
export interface RepairNote {
  readonly title: string;
  readonly changes: readonly string[];
}

export interface PathPicture {
  readonly query: string;
  readonly verdict: Answer["verdict"];
  /** what the attempt dialed: `127.0.0.1:2222/tcp` */
  readonly dial: string;
  readonly hops: readonly PathHop[];
  readonly edges: readonly PathEdge[];
  /** the query's target, drawn reached (✔) or unreached (dashed) after the last hop */
  readonly goal: string;
  readonly reached: boolean;
  readonly causes: readonly string[];
  readonly symptom?: string;
  readonly repair?: RepairNote;
}

function stepLine(s: Step): string | undefined {
  return match(s)
    .with({ kind: "originate" }, (x) => `sends ${packetText(x.packet)}`)
    .with({ kind: "receive" }, (x) => (x.iface === "lo" ? "looped back on lo" : `in ${x.iface}`))
    .with({ kind: "route" }, (x) =>
      x.local
        ? undefined
        : `route ${formatPrefix(x.route.dst)}${x.route.via ? ` via ${formatIP(x.route.via)}` : ""} dev ${x.route.dev} (${at(x.route.origin)})`,
    )
    .with({ kind: "filter" }, (x) => {
      const by = x.rule ? `${x.rule.origin.what}, ${at(x.rule.origin)}` : x.policyOrigin ? `policy, ${at(x.policyOrigin)}` : "policy";
      return `${x.chain.toUpperCase()} ${x.action} (${by})${x.state !== "new" ? ` [${x.state}]` : ""}`;
    })
    .with({ kind: "nat" }, (x) => {
      const what = x.rule.action.kind === "dnat" ? "DNAT" : x.rule.action.kind === "snat" ? "SNAT" : "MASQUERADE";
      return `⇄ ${what} ${packetText(x.before)} => ${packetText(x.after)} (${x.rule.origin.what}, ${at(x.rule.origin)})`;
    })
    .with({ kind: "unnat" }, (x) => `⇄ conntrack un-NAT => ${packetText(x.after)}`)
    .with({ kind: "transmit" }, (x) => `out ${x.iface} to ${x.to} (${formatIP(x.nextHop)} on ${x.segment})`)
    .with({ kind: "deliver" }, (x) =>
      x.socket ? `delivered to ${socketLabel(x.socket)} (${at(x.socket.origin)})` : "answered by the kernel (echo reply)",
    )
    .exhaustive();
}

/** How a relayed leg starts: the relay's new connection. */
function relayLead(prev: Leg | undefined): string {
  const d = prev?.forward.disposition;
  if (d?.kind === "delivered" && d.socket?.role.kind === "relay")
    return `relay: new connection${d.socket.role.gateway === undefined ? ` of ${d.socket.role.engine}` : isLoopback(d.packet.src) ? " from the gateway address" : ""}`;
  if (d?.kind === "engine-relay") return `${d.host} re-sends it`;
  return "new connection";
}

interface Building {
  hops: { n: number; machine: string; lines: string[] }[];
  edges: PathEdge[];
}

function addLeg(b: Building, leg: Leg, i: number, prev: Leg | undefined): void {
  for (const s of leg.forward.steps) {
    const last = b.hops[b.hops.length - 1];
    const visit = s.kind === "originate" || (s.kind === "receive" && !(last && last.machine === s.machine && s.iface === "lo"));
    if (!last || visit || last.machine !== s.machine) {
      const n = b.hops.length + 1;
      if (last && s.kind === "receive") b.edges.push({ from: last.n, to: n, label: packetText(s.packet), relay: false });
      if (last && s.kind === "originate")
        b.edges.push({ from: last.n, to: n, label: `${relayLead(prev)}: ${packetText(s.packet)}`, relay: true });
      b.hops.push({ n, machine: s.machine, lines: [] });
    }
    const line = s.kind === "originate" && i > 0 ? undefined : stepLine(s);
    if (line) b.hops[b.hops.length - 1]!.lines.push(line);
  }
  const d = leg.forward.disposition;
  if (d.kind === "engine-relay") b.hops[b.hops.length - 1]?.lines.push(`the NAT engine takes the connection; ${d.host} re-sends it`);
}

/** The attempt an answer is drawn with: the working one, else the dial a person would make, else the closest. */
export function drawnAttempt(a: Answer): Attempt | undefined {
  return a.verdict === "reachable" ? a.attempt : (a.intended?.attempt ?? a.closest[0] ?? a.attempt);
}

const goalOf = (a: Answer): string => formatQuery(a.query).split("->")[1]?.trim() ?? formatQuery(a.query);

/** The picture's data for one answer (and the repair to show with it). */
export function pathPicture(a: Answer, repair?: RepairNote): PathPicture {
  const attempt = drawnAttempt(a);
  const b: Building = { hops: [], edges: [] };
  attempt?.legs.forEach((leg, i) => addLeg(b, leg, i, attempt.legs[i - 1]));
  const failed = attempt && !attempt.ok ? failureReason(attempt, false) : undefined;
  const hops: PathHop[] = b.hops.map((h, k) => (failed && k === b.hops.length - 1 ? { ...h, failed } : h));
  const first = attempt?.legs[0]?.packet;
  const cause = a.causes?.[0];
  return {
    query: formatQuery(a.query),
    verdict: a.verdict,
    dial: first ? `${first.proto === "icmp" ? formatIP(first.dst) : packetText(first).split(" -> ")[1]}/${first.proto}` : "",
    hops,
    edges: b.edges,
    goal: goalOf(a),
    reached: a.verdict === "reachable" && !!attempt?.ok,
    causes: (a.causes ?? []).map((c) => `${c.code} at ${formatSpan(c.at)} (${c.machine}): ${c.text}`),
    ...(cause ? { symptom: `${a.query.from} sees: ${SYMPTOM_TEXT[cause.symptom]}` } : {}),
    ...(repair ? { repair } : {}),
  };
}

const left = (s: string) => `<TR><TD ALIGN="LEFT" BALIGN="LEFT">${s}</TD></TR>`;
const wrapped = (s: string, width = 60) => wrap(s, width).map(html).join("<BR/>");

function hopNode(h: PathHop): string {
  const head = h.failed ? `${GLYPH.blocked} ${h.n}  ${html(h.machine)}` : `${h.n}  ${html(h.machine)}`;
  const rows = [
    left(`<B>${head}</B>`),
    ...h.lines.map((l) => left(`<FONT POINT-SIZE="9">${wrapped(l)}</FONT>`)),
    ...(h.failed ? [left(`<FONT POINT-SIZE="9" COLOR="${OKABE_ITO.vermillion}"><B>${GLYPH.blocked} ${wrapped(h.failed)}</B></FONT>`)] : []),
  ];
  const look = h.failed
    ? `style="filled,dashed,bold", penwidth=2.5, color="${OKABE_ITO.vermillion}", fillcolor="${TINT.failed}"`
    : `style="filled,rounded", fillcolor="#FFFFFF"`;
  return `  h${h.n} [shape=box, ${look}, label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">${rows.join("")}</TABLE>>];`;
}

function noteNodes(p: PathPicture, lastHop: string): string[] {
  const out: string[] = [];
  if (p.causes.length || p.symptom) {
    const rows = [
      ...p.causes.map((c) => left(`<FONT POINT-SIZE="9">${GLYPH.blocked} ${wrapped(c, 70)}</FONT>`)),
      ...(p.symptom ? [left(`<FONT POINT-SIZE="9"><I>${wrapped(p.symptom, 70)}</I></FONT>`)] : []),
    ];
    out.push(
      `  causes [shape=note, style=filled, fillcolor="${TINT.note}", color="${OKABE_ITO.vermillion}", label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">${left("<B>cause</B>")}${rows.join("")}</TABLE>>];`,
      `  ${lastHop} -> causes [style=dotted, arrowhead=none, color="${OKABE_ITO.vermillion}"];`,
    );
  }
  if (p.repair) {
    const rows = [
      left(`<B>${wrapped(p.repair.title, 70)}</B>`),
      ...p.repair.changes.map((c) => left(`<FONT FACE="${MONO}" POINT-SIZE="9">${wrapped(c, 70)}</FONT>`)),
    ];
    out.push(
      `  repair [shape=note, style="filled,bold", fillcolor="${TINT.repair}", color="${OKABE_ITO.green}", label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">${rows.join("")}</TABLE>>];`,
      `  ${p.causes.length || p.symptom ? "causes" : lastHop} -> repair [style=dotted, arrowhead=none, color="${OKABE_ITO.green}"];`,
      `  { rank=same; ${p.causes.length || p.symptom ? "causes; " : ""}repair; }`,
    );
  }
  return out;
}

/** The picture as Graphviz DOT. */
export function pathDot(p: PathPicture): string {
  const mark = p.verdict === "reachable" ? GLYPH.ok : p.verdict === "unreachable" ? GLYPH.blocked : GLYPH.unknown;
  const title = `${mark} ${p.verdict}: ${p.query}${p.dial ? `  (dial ${p.dial})` : ""}`;
  const lines = [...graphHead(`path ${p.query}`, "LR"), `  label=${quote(title)}; labelloc=t; labeljust=l; fontsize=13;`];
  for (const h of p.hops) lines.push(hopNode(h));
  for (const e of p.edges)
    lines.push(
      `  h${e.from} -> h${e.to} [label=${quote(wrap(e.label, 40).join("\n"))}${e.relay ? `, style=bold, color="${OKABE_ITO.blue}"` : ""}];`,
    );
  const last = p.hops.length ? `h${p.hops[p.hops.length - 1]!.n}` : "";
  const goalLook = p.reached
    ? `style="filled,bold", fillcolor="${TINT.ok}", color="${OKABE_ITO.green}", label=${quote(`${GLYPH.ok} ${p.goal}`)}`
    : `style="dashed", color="#555555", fontcolor="#555555", label=${quote(`${p.goal}\n(not reached)`)}`;
  lines.push(`  goal [shape=box, fontname=${quote(FONT)}, ${goalLook}];`);
  if (last)
    lines.push(
      p.reached
        ? `  ${last} -> goal [color="${OKABE_ITO.green}", penwidth=2];`
        : `  ${last} -> goal [style=dashed, color="${OKABE_ITO.vermillion}", fontcolor="${OKABE_ITO.vermillion}", label="${GLYPH.blocked} blocked"];`,
    );
  if (last) lines.push(...noteNodes(p, last));
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** The picture as a Mermaid flowchart. */
export function pathMermaid(p: PathPicture): string {
  const lines = ["flowchart LR"];
  for (const h of p.hops) {
    const body = [`<b>${h.failed ? `${GLYPH.blocked} ` : ""}${h.n} ${mermaidText(h.machine)}</b>`, ...h.lines.map(mermaidText)];
    if (h.failed) body.push(`<b>${GLYPH.blocked} ${mermaidText(h.failed)}</b>`);
    lines.push(`  h${h.n}["${body.join("<br/>")}"]`);
  }
  for (const e of p.edges) lines.push(`  h${e.from} ${e.relay ? "==>" : "-->"}|"${mermaidText(e.label)}"| h${e.to}`);
  lines.push(`  goal["${p.reached ? `${GLYPH.ok} ` : ""}${mermaidText(p.goal)}${p.reached ? "" : " (not reached)"}"]`);
  const last = p.hops[p.hops.length - 1];
  if (last) lines.push(p.reached ? `  h${last.n} --> goal` : `  h${last.n} -.->|"${GLYPH.blocked} blocked"| goal`);
  if (p.causes.length || p.symptom)
    lines.push(
      `  causes>"${[...p.causes, ...(p.symptom ? [p.symptom] : [])].map((c) => `${GLYPH.blocked} ${mermaidText(c)}`).join("<br/>")}"]`,
    );
  if (p.repair) lines.push(`  repair>"<b>${mermaidText(p.repair.title)}</b><br/>${p.repair.changes.map(mermaidText).join("<br/>")}"]`);
  if (last && (p.causes.length || p.symptom)) lines.push(`  h${last.n} -.- causes`);
  if (p.repair) lines.push(`  ${p.causes.length || p.symptom ? "causes" : last ? `h${last.n}` : "goal"} -.- repair`);
  for (const h of p.hops) if (h.failed) lines.push(`  style h${h.n} stroke:${OKABE_ITO.vermillion},stroke-width:3px,stroke-dasharray:6 3`);
  lines.push(`  style goal stroke-dasharray:${p.reached ? "0" : "6 3"}`);
  return lines.join("\n") + "\n";
}
