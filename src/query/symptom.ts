/**
 * What the client sees (docs/causes.md, "What the client sees"): the errno or the timing a
 * Linux client meets, each class measured in network namespaces (docs/semantics.md section 10).
 *
 * A TCP connect aborts on any ICMP destination-unreachable error while the SYN is out, with the
 * error's errno (ICMP port-unreachable is ECONNREFUSED, like a reset). A connected UDP socket
 * without IP_RECVERR hears only the "hard" codes: host- and net-unreachable (ICMP codes 1 and 0,
 * ICMPv6 address-unreachable and no-route) leave it waiting. libslirp (VirtualBox and QEMU NAT)
 * ignores the ICMP errors a guest sends: its forward has accepted the client, which then hangs
 * until slirp's own TCP gives up and closes; only a reset makes it close at once.
 */
import type { Proto, RejectWith } from "../ir/types.js";

export type Symptom =
  | "refused" // ECONNREFUSED: a TCP reset, or ICMP port-unreachable (UDP: the next read)
  | "timeout" // silently dropped: the client retries until it gives up
  | "host-unreachable" // EHOSTUNREACH "No route to host": ICMP host-unreachable, host-prohibited or admin-prohibited (IPv4)
  | "net-unreachable" // ENETUNREACH "Network is unreachable": ICMP net-unreachable or net-prohibited, ICMPv6 no-route
  | "permission-denied" // EACCES: ICMPv6 administratively prohibited
  | "not-permitted" // EPERM: the sender's own kernel drops its UDP datagram (its OUTPUT chain, or a masquerade with no address)
  | "invalid-argument" // EINVAL: the sender's own kernel will not send its IPv4 datagram with a loopback source out of a real interface (after a nat OUTPUT DNAT)
  | "icmp-error" // ping: an ICMP error instead of the echo reply
  | "no-route" // no route or no neighbour on the way (ENETUNREACH / EHOSTUNREACH, or a timeout where ICMP is filtered)
  | "accepted-then-eof" // a relay accepts, then its own connection is refused (reset) and it closes
  | "accepted-then-hang" // a libslirp forward accepts, its own connection gets no answer or an ICMP error: EOF after slirp gives up
  | "connected-then-hang" // the handshake completes, then the client's data is dropped or answered by ICMP only
  | "reset" // the handshake completes, then the client's data is answered by a reset (ECONNRESET)
  | "other-peer"; // something else answers

export const SYMPTOM_TEXT: Record<Symptom, string> = {
  refused: "'Connection refused' (ECONNREFUSED), without waiting",
  timeout: "the client waits, then times out",
  "host-unreachable": "'No route to host' (EHOSTUNREACH), without waiting for a timeout",
  "net-unreachable": "'Network is unreachable' (ENETUNREACH), without waiting for a timeout",
  "permission-denied": "'Permission denied' (EACCES, ICMPv6 administratively prohibited), without waiting for a timeout",
  "not-permitted":
    "'Operation not permitted' (EPERM) when it sends: its own kernel drops the datagram (an OUTPUT rule, or a masquerade rule with no address)",
  "invalid-argument":
    "'Invalid argument' (EINVAL) when it sends: its own kernel will not send a datagram with source 127.0.0.1 out of a real interface (a nat OUTPUT rule redirected it)",
  "icmp-error": "ping reports an ICMP error (destination unreachable) instead of a reply",
  "no-route": "'No route to host' or 'Network is unreachable' (or a timeout where ICMP is filtered)",
  "accepted-then-eof": "the connection is accepted, then closed without data",
  "accepted-then-hang":
    "the connection is accepted, then hangs with no data until the NAT engine's TCP gives up (about 75 s), then reads end of file",
  "connected-then-hang": "the connection opens, then the client's data gets no answer: it waits until TCP gives up",
  reset: "the connection opens, then is reset when the client sends (ECONNRESET)",
  "other-peer": "another machine or service answers",
};

/** What a reject of type `w` shows a client of `proto` over IPv`v` whose packet it rejects, on a direct path. */
export function rejectSymptom(w: RejectWith | undefined, proto: Proto, v: 4 | 6): Symptom {
  if (proto === "icmp") return "icmp-error";
  switch (w ?? "port-unreachable") {
    case "tcp-reset":
    case "port-unreachable":
      return "refused";
    case "host-unreachable":
      return proto === "udp" ? "timeout" : "host-unreachable";
    case "net-unreachable":
      return proto === "udp" ? "timeout" : "net-unreachable";
    case "admin-prohibited":
      return v === 6 ? "permission-denied" : "host-unreachable";
    case "host-prohibited":
      return "host-unreachable";
    case "net-prohibited":
      return "net-unreachable";
  }
}

/** What the kernel sends back for a reject of type `w` (for explanations). */
export function rejectSends(w: RejectWith | undefined, v: 4 | 6): string {
  const icmp = v === 4 ? "ICMP" : "ICMPv6";
  switch (w ?? "port-unreachable") {
    case "tcp-reset":
      return "a TCP reset";
    case "port-unreachable":
      return `${icmp} port-unreachable`;
    case "host-unreachable":
      return v === 4 ? "ICMP host-unreachable" : "ICMPv6 address-unreachable";
    case "net-unreachable":
      return v === 4 ? "ICMP net-unreachable" : "ICMPv6 no-route";
    case "admin-prohibited":
      return `${icmp} administratively prohibited`;
    case "host-prohibited":
      return "ICMP host-prohibited";
    case "net-prohibited":
      return "ICMP net-prohibited";
  }
}
