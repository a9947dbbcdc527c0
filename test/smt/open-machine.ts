/** A hand-built IR machine for element tests: its own name, interfaces, routes and sockets; every chain empty and accepting, no NAT. */
import type { Machine } from "../../src/ir/types.js";

type Own = Pick<Machine, "name" | "kind" | "origin" | "interfaces" | "routes" | "sockets">;

export const openMachine = (own: Own, more: Partial<Machine> = {}): Machine => ({
  ...own,
  ipForward: false,
  rpFilter: 0,
  routeLocalnet: false,
  filter: {
    input: { name: "input", policy: "accept", rules: [] },
    output: { name: "output", policy: "accept", rules: [] },
    forward: { name: "forward", policy: "accept", rules: [] },
  },
  nat: { prerouting: [], output: [], postrouting: [] },
  ...more,
});
