/**
 * The labs the decide-*.test.ts files share (src/smt/decide.ts beyond the verdict).
 */
import { build } from "../sim/helpers.js";

/**
 * s answers on two addresses; port 80 directly, and port 8080 DNATed to 80 (the cheapest path:
 * the direct one also passes the DNAT rule and the service's own decision). Several dials work.
 */
export const twoAddresses = () =>
  build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24, 192.168.1.21/24] } }
    nat: [ { chain: prerouting, action: dnat, proto: tcp, dport: 8080, to: 192.168.1.20, toPort: 80 } ]
    services: [ { name: web, port: 80 } ]
`);

/**
 * c drops source and destination ports both up to 30000 together; r drops destination ports
 * above 30000, which the request's destination port and the answer's (the client's source port)
 * must both pass: every dial is dropped, each path has an unsat core, and r's rule is two
 * conditions of it, one decision.
 */
export const blockedBothWays = () =>
  build(`
segments: { lan1: 192.168.1.0/24, lan2: 192.168.2.0/24 }
machines:
  c:
    interfaces: { eth0: { segment: lan1, addresses: [192.168.1.10/24] } }
    routes: [ { to: 192.168.2.0/24, via: 192.168.1.1 } ]
    firewall: { output: { rules: [ { action: drop, proto: tcp, sport: 1024-30000, dport: 1-30000 } ] } }
  r:
    ip_forward: true
    interfaces: { eth0: { segment: lan1, addresses: [192.168.1.1/24] }, eth1: { segment: lan2, addresses: [192.168.2.1/24] } }
    firewall: { forward: { rules: [ { action: drop, proto: tcp, dport: 30001-65535 } ] } }
  s:
    interfaces: { eth0: { segment: lan2, addresses: [192.168.2.20/24] } }
    routes: [ { to: default, via: 192.168.2.1 } ]
    nat: [ { chain: prerouting, action: dnat, proto: tcp, to: 192.168.2.20, toPort: 80 } ]
    services: [ { name: web, port: 80 } ]
`);
