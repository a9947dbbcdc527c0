/**
 * Reasons a person understands, one per disposition, naming the element and its
 * file:line. Also says what the client sees (refused, timeout, accepted then
 * closed), because that is the symptom users start from (semantics.md 1 and 5).
 */
import { match } from "ts-pattern";
import { formatSpan } from "../diagnostics/diagnostic.js";
import { formatEndpoint, formatIP, isLinkLocal6, isLoopback } from "../net/addr.js";
import type { Origin, Socket } from "../ir/types.js";
import type { Attempt, Disposition, Packet } from "../sim/types.js";
import { isReset, relayBefore } from "../sim/connect.js";
import { rejectSends, rejectSymptom, SYMPTOM_TEXT } from "./symptom.js";

export const at = (o: Origin): string => formatSpan(o.span);

export function packetText(p: Packet): string {
  if (p.proto === "icmp") return `icmp ${formatIP(p.src)} -> ${formatIP(p.dst)}`;
  return `${p.proto} ${formatEndpoint(p.src, p.sport)} -> ${formatEndpoint(p.dst, p.dport)}`;
}

function bindText(s: Socket): string {
  return s.bind.v === 6 ? `[${formatIP(s.bind)}]${s.v6only ? " (v6only)" : ""}` : formatIP(s.bind);
}

function refusedText(d: Disposition & { kind: "refused" }, forwarded: boolean): string {
  const dst = formatIP(d.packet.dst);
  const conn = forwarded ? "the forwarded connection" : "the connection";
  const s = d.near[0];
  if (s) {
    const why = s.device !== undefined ? `is bound to device ${s.device}` : `is bound to ${bindText(s)}`;
    const extra =
      isLoopback(s.bind) && !isLoopback(d.packet.dst) ? " (loopback only: bind 0.0.0.0 or the interface address to accept it)" : "";
    return `${s.owner} on ${d.machine} ${why}, but ${conn} arrives at ${dst} (${at(s.origin)})${extra}`;
  }
  const hairpin = d.dnatOnlyOn
    ? ` (${d.dnatOnlyOn.rule.origin.what}, ${at(d.dnatOnlyOn.rule.origin)}, applies only to packets arriving on ${d.dnatOnlyOn.iface}: no hairpin NAT)`
    : "";
  return `nothing on ${d.machine} listens on ${d.packet.proto} ${formatEndpoint(d.packet.dst, d.packet.dport)}${hairpin}`;
}

/** The reason for one disposition; `forwarded` when it happened on a relayed leg. */
export function dispositionText(d: Disposition, forwarded = false): string {
  return match(d)
    .with({ kind: "delivered" }, (x) => `delivered on ${x.machine}${x.socket ? ` to ${x.socket.owner}` : ""}`)
    .with({ kind: "engine-relay" }, (x) => `${x.machine} relays it through ${x.host}`)
    .with({ kind: "refused" }, (x) => (forwarded ? refusedText(x, true) : `${refusedText(x, false)}: connection refused`))
    .with({ kind: "dropped" }, (x) =>
      x.rule
        ? `dropped by ${x.machine}'s ${x.chain.toUpperCase()} ${x.rule.origin.what} (${at(x.rule.origin)}): the client times out`
        : `dropped by ${x.machine}'s ${x.chain.toUpperCase()} policy drop${x.policyOrigin ? ` (${at(x.policyOrigin)})` : ""}: the client times out`,
    )
    .with(
      { kind: "rejected" },
      (x) =>
        `rejected by ${x.machine}'s ${x.chain.toUpperCase()} ${x.rule.origin.what} (${at(x.rule.origin)}), which sends back ${rejectSends(x.rule.with, x.packet.dst.v)}${forwarded ? "" : `: the client sees ${SYMPTOM_TEXT[rejectSymptom(x.rule.with, x.packet.proto, x.packet.dst.v)]}`}`,
    )
    .with({ kind: "no-route" }, (x) => `${x.machine} has no route to ${formatIP(x.dst)}`)
    .with({ kind: "no-neighbour" }, (x) =>
      x.segment === null
        ? `${x.machine}'s interface ${x.iface} is not attached to any network`
        : x.filtered
          ? `${x.machine} cannot resolve ${formatIP(x.nextHop)} out of ${x.iface}: ${x.filtered.machine}'s ${x.filtered.chain.toUpperCase()} ${x.filtered.rule ? `${x.filtered.rule.origin.what} (${at(x.filtered.rule.origin)})` : "policy"} drops the neighbour ${x.filtered.what} (untracked ICMPv6)`
          : `nobody on segment ${x.segment} answers ARP/ND for ${formatIP(x.nextHop)} (${x.machine} sends out of ${x.iface}): no neighbour`,
    )
    .with(
      { kind: "not-forwarding" },
      (x) => `${x.machine} does not forward packets (ip_forward is off), so it drops the packet for ${formatIP(x.dst)}`,
    )
    .with(
      { kind: "rp-filter" },
      (x) => `${x.machine} drops it by rp_filter=${x.mode}: the route back to ${formatIP(x.src)} does not leave by ${x.iface}`,
    )
    .with({ kind: "martian" }, (x) => {
      const why = isLoopback(x.addr)
        ? `loopback addresses never cross a link${x.addr.v === 4 ? " unless route_localnet=1" : ""}`
        : isLinkLocal6(x.addr)
          ? "link-local addresses are never forwarded beyond their link"
          : x.which === "source"
            ? "the source is one of its own addresses"
            : "not a unicast destination";
      if (x.leaving)
        return `${x.machine} sends its own packet with ${x.which} ${formatIP(x.addr)} out of ${x.iface} after a nat OUTPUT rule rerouted it (martian: ${why}): the kernel will not deliver it`;
      return `${x.machine} drops a packet with ${x.which} ${formatIP(x.addr)} on ${x.iface} (martian: ${why}): the client times out`;
    })
    .with({ kind: "loop" }, (x) => `routing loop (TTL exceeded) at ${x.machine}`)
    .with(
      { kind: "engine-loopback-off" },
      (x) =>
        `${x.machine} maps its gateway address to the host's loopback only with localhost-reachable on (off by default since VirtualBox 7; ${at(x.origin)}): VirtualBox drops the connection silently and the client times out (libslirp/QEMU answer "network unreachable" instead)`,
    )
    .with({ kind: "engine-no-connection" }, (x) => `${x.machine} has no connection this reply belongs to and discards it`)
    .with(
      { kind: "engine-no-icmp6" },
      (x) =>
        `${x.machine} (libslirp) answers an ICMPv6 echo request only for its own address and relays none to other hosts (${at(x.origin)})`,
    )
    .with({ kind: "no-source" }, (x) => `${x.machine} has no address to send from on ${x.iface}`)
    .with(
      { kind: "masquerade-no-address" },
      (x) =>
        `${x.machine}'s ${x.rule.origin.what} (${at(x.rule.origin)}) finds no IPv4 address to masquerade to out of ${x.iface} (the machine has none but loopback), so the kernel drops the packet`,
    )
    .with({ kind: "reply-mismatch" }, (x) =>
      x.machine !== x.expectedMachine
        ? `the reply goes to ${x.machine} instead of ${x.expectedMachine} (asymmetric path)`
        : `the reply reaches ${x.machine} as ${packetText(x.got)}, not as ${packetText(x.expected)}: the client drops it (asymmetric path, missing NAT, or a UDP server answering from another address: set pktinfo: true if it uses IP_PKTINFO)`,
    )
    .exhaustive();
}

/** One sentence for a failed attempt: where it died and what the client saw. */
export function failureReason(a: Attempt, withDial = true): string {
  const o = a.outcome;
  if (o.kind === "ok") {
    const to = o.socket ? ` ${o.socket.owner}` : "";
    return `${withDial && a.legs[0] ? `dial ${dialedText(a.legs[0].packet)}: ` : ""}reaches${to} on ${o.machine} instead`;
  }
  const leg = a.legs[o.leg];
  const relay = relayBefore(a, o.leg)?.socket;
  const relayed = relay !== undefined;
  const text = dispositionText(o.disposition, relayed || o.direction !== "forward");
  const dial = withDial && a.legs[0] ? `dial ${dialedText(a.legs[0].packet)}: ` : "";
  if (o.direction === "reply") return `${dial}the request arrived but the reply was lost: ${text}`;
  if (o.direction === "data")
    return `${dial}the handshake completes, but the server's data does not get back (it crosses a machine that never saw the request, where conntrack takes it for a new connection): ${text}`;
  if (o.direction === "ack")
    return `${dial}the SYN and its answer get through, but the client's next packets (handshake ACK, data) do not: ${text}`;
  if (relay && leg) {
    const d = o.disposition;
    const rst = leg.packet.proto === "tcp" && isReset(d);
    const slirp = relay.role.kind === "relay" && relay.role.gateway !== undefined;
    const then =
      leg.packet.proto === "udp"
        ? "but nothing comes back"
        : rst
          ? "then closes it without data"
          : slirp
            ? "then hangs until its TCP gives up (libslirp ignores ICMP errors), and closes"
            : "then closes it when its own connect() fails (at once on an error it hears, after its TCP gives up if nothing answers)";
    return `${dial}${relay.owner} accepts the connection, ${then}: ${text}`;
  }
  if (leg?.errorSwallowed)
    return `${dial}${dispositionText(o.disposition, true)}; the ICMP error never gets back to the client (${leg.errorSwallowed} passes no ${leg.packet.proto === "tcp" ? "ICMP error of its TCP connections" : "error of its UDP to the host's loopback"} on to its guest): it waits, then times out`;
  const back = leg?.errorBack?.disposition;
  if (back && back.kind !== "delivered" && leg) {
    const what = leg.packet.proto === "tcp" && isReset(o.disposition) ? "the reset" : "the ICMP error";
    // a reject answers no reset or ICMP error: for them it is a drop
    const lost =
      back.kind === "rejected"
        ? `dropped by ${back.machine}'s ${back.chain.toUpperCase()} ${back.rule.origin.what} (${at(back.rule.origin)}), a reject, which sends nothing back for it`
        : dispositionText(back, true).replace(/: the client times out$/, "");
    return `${dial}${dispositionText(o.disposition, true)}; ${what} never gets back to the client (${lost}): it waits, then times out`;
  }
  return `${dial}${text}`;
}

export function dialedText(p: Packet): string {
  return p.proto === "icmp" ? `${formatIP(p.dst)} (ping)` : `${formatEndpoint(p.dst, p.dport)}/${p.proto}`;
}
