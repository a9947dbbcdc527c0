/**
 * The ICMP error a router sends when its next hop never answers its neighbour lookup (ARP: ICMP
 * host-unreachable from ipv4_link_failure; IPv6 ND: ICMPv6 address-unreachable), about 3 s after
 * the packet came: like a router's other errors it leaves from the router's own address, crosses
 * the router's OUTPUT chain as `related` and is seen by filters as ICMP from the router
 * (kernel-router-error.test.ts), and it is a soft error, which a UDP socket never reports. reach
 * used to take it as heard whatever the way back did, and to report "no route to host" to a UDP
 * client (docs/semantics.md 4, the known gap it closes).
 */
import { afterAll, describe } from "vitest";
import { shutdown } from "../../src/smt/solver.js";
import { lowered, waysBack } from "./support.js";

afterAll(() => shutdown());

// r's routes to the far network go via 10.0.0.99 and fd00:d::99, which nothing on dmz has: its lookup fails
const lab = (routerOutput: string, pcInput: string) =>
  lowered(
    "router-neighbour.yaml",
    `segments:
  lan: { subnets: [192.168.10.0/24, "fd00:a::/64"] }
  dmz: { subnets: [10.0.0.0/24, "fd00:d::/64"] }
  far: { subnets: [10.5.0.0/24, "fd00:f::/64"] }
machines:
  pc:
    interfaces: { eth0: { segment: lan, addresses: [192.168.10.20/24, "fd00:a::20/64"] } }
    routes: [ { to: default, via: 192.168.10.1 }, { to: default6, via: "fd00:a::1" } ]
    firewall: { input: { policy: accept, rules: [ ${pcInput} ] } }
  r:
    interfaces:
      eth0: { segment: lan, addresses: [192.168.10.1/24, "fd00:a::1/64"] }
      eth1: { segment: dmz, addresses: [10.0.0.1/24, "fd00:d::1/64"] }
    ip_forward: true
    routes: [ { to: 10.5.0.0/24, via: 10.0.0.99 }, { to: "fd00:f::/64", via: "fd00:d::99" } ]
    firewall:
      output: ${routerOutput}
  srv:
    interfaces: { eth0: { segment: dmz, addresses: [10.0.0.2/24, "fd00:d::2/64"] } }
  far:
    interfaces: { eth0: { segment: far, addresses: [10.5.0.5/24, "fd00:f::5/64"] } }
    services: [ { name: ssh, proto: tcp, port: 22 }, { name: dns, proto: udp, port: 53 } ]
`,
  );
const queries = ["pc -> 10.5.0.5:22/tcp", "pc -> 10.5.0.5:53/udp", "pc -> [fd00:f::5]:22/tcp", "pc -> [fd00:f::5]:53/udp"] as const;
const heard = ["no-route", "timeout", "no-route", "timeout"] as const;
const lost = ["timeout", "timeout", "timeout", "timeout"] as const;
// [r's OUTPUT chain, pc's INPUT rules, what pc sees for each query]
const variants = [
  ["{ policy: accept }", "", heard],
  // (r's own neighbour solicitations and advertisements are untracked ICMPv6: accepted, so pc and
  // r still find each other over IPv6)
  ["{ policy: drop, rules: [ { action: accept, state: [untracked] } ] }", "", lost],
  ["{ policy: drop, rules: [ { action: accept, state: [untracked, related] } ] }", "", heard],
  // (related only: the router's neighbour advertisements to pc are ICMPv6 from that address too)
  [
    "{ policy: accept }",
    '{ action: drop, proto: icmp, state: [related], src: 192.168.10.1 }, { action: drop, proto: icmp, state: [related], src: "fd00:a::1" }',
    lost,
  ],
  [
    "{ policy: accept }",
    '{ action: drop, proto: icmp, state: [related], src: 10.5.0.5 }, { action: drop, proto: icmp, state: [related], src: "fd00:f::5" }',
    heard,
  ],
] as const;

describe("a router's host-unreachable after its neighbour lookup fails", () => {
  waysBack(lab, queries, variants, (t) => (t.includes("fd00") ? "fd00:f::5" : "10.5.0.5"), "NO_NEIGHBOUR");
});
