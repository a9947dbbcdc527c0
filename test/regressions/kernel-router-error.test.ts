/**
 * The ICMP error a router sends about a packet it forwards, walked back to the client (the
 * generated kernel test's "accepted-then-eof, the kernel saw a hang" dials, e.g. seed 20261124
 * `h2 -> v0:8080/tcp`: a router with no route whose OUTPUT policy drops its own error, so the relay
 * that dialed through it hears nothing). The error leaves from the router's own address, crosses
 * the router's OUTPUT chain as `related` (a policy drop there loses it), and filters on the way see
 * it as ICMP from the router, not from the server: a client rule dropping the router's ICMP loses
 * it, one dropping the server's does not. A UDP client never hears a router's net-unreachable (a
 * soft error). reach used to take every router's error as heard. docs/semantics.md 4 and 10.
 *
 * A router rate-limits the errors it sends for want of a route (ip_error: a burst of 5 per client
 * address, then one a second, set outside the namespace), so each no-route query gets a network of
 * its own here.
 */
import { afterAll, describe } from "vitest";
import { shutdown } from "../../src/smt/solver.js";
import { lowered, waysBack } from "./support.js";

afterAll(() => shutdown());

const lab = (routerOutput: string, pcInput: string) =>
  lowered(
    "router-error.yaml",
    `segments: { lan: 192.168.10.0/24, dmz: 10.0.0.0/24, far: 10.9.9.0/24 }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24] } }
    routes: [ { to: 10.0.0.0/24, via: 192.168.10.1 }, { to: 10.9.9.0/24, via: 192.168.10.1 } ]
    firewall: { input: { policy: accept, rules: [ ${pcInput} ] } }
  r:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.10.1/24] }
      eth1: { segment: dmz, addresses: [10.0.0.1/24] }
    ip_forward: true
    firewall:
      forward: { policy: accept, rules: [ { action: reject, proto: tcp, dport: 22 }, { action: reject, proto: udp, dport: 53 } ] }
      output: ${routerOutput}
  srv:
    interfaces: { eth0: { segment: dmz, addresses: [10.0.0.2/24] } }
    routes: [ { to: default, via: 10.0.0.1 } ]
    services: [ { name: ssh, proto: tcp, port: 22 }, { name: dns, proto: udp, port: 53 } ]
  far:
    interfaces: { eth0: { segment: far, addresses: [10.9.9.9/24] } }
    services: [ { name: ssh, proto: tcp, port: 22 }, { name: dns, proto: udp, port: 53 } ]
`,
  );
// the FORWARD rejects (TCP, UDP) and r's missing route to the far network (TCP, UDP)
const queries = ["pc -> srv:22/tcp", "pc -> srv:53/udp", "pc -> far:22/tcp", "pc -> far:53/udp"] as const;
const heard = ["refused", "refused", "no-route", "timeout"] as const;
const lost = ["timeout", "timeout", "timeout", "timeout"] as const;
// [r's OUTPUT chain, pc's INPUT rules, what pc sees for each query]
const variants = [
  ["{ policy: accept }", "", heard],
  ["{ policy: drop }", "", lost],
  ["{ policy: drop, rules: [ { action: accept, state: [related] } ] }", "", heard],
  ["{ policy: accept }", "{ action: drop, proto: icmp, src: 192.168.10.1 }", lost],
  ["{ policy: accept }", "{ action: drop, proto: icmp, src: 10.0.0.2 }", heard],
] as const;

describe("a router's ICMP error is walked back from the router's own address", () => {
  waysBack(lab, queries, variants, (t) => (t.includes("far") ? "10.9.9.9" : "10.0.0.2"));
});
