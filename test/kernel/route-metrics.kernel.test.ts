/**
 * The checker's route refusals against the kernel's: each set of routes is added with
 * `ip route add` in a network namespace of its own (two veth pairs for eth0 and eth1), and the
 * checker must report RCH030 exactly when the kernel refuses one ("RTNETLINK answers: File
 * exists"). Namespaces are this test's own (rchm-<pid>-<n>) and deleted also on failure.
 */
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../../src/diagnostics/diagnostic.js";
import { loadTopologyText } from "../../src/topology/load.js";
import { kernelSkip } from "./support.js";

type R = { to: string; via: string; metric?: number };
const SCENARIOS: { name: string; routes: R[] }[] = [
  {
    name: "two IPv4 defaults without metrics",
    routes: [
      { to: "default", via: "10.0.1.1" },
      { to: "default", via: "10.0.2.1" },
    ],
  },
  {
    name: "two IPv4 defaults with metric 100, different devices",
    routes: [
      { to: "default", via: "10.0.1.1", metric: 100 },
      { to: "default", via: "10.0.2.1", metric: 100 },
    ],
  },
  {
    name: "two IPv4 defaults, metrics 0 and 100",
    routes: [
      { to: "default", via: "10.0.1.1" },
      { to: "default", via: "10.0.2.1", metric: 100 },
    ],
  },
  { name: "a connected IPv4 prefix again, metric 0", routes: [{ to: "10.0.1.0/24", via: "10.0.2.1" }] },
  { name: "a connected IPv4 prefix again, metric 5", routes: [{ to: "10.0.1.0/24", via: "10.0.2.1", metric: 5 }] },
  {
    name: "two IPv6 defaults without metrics",
    routes: [
      { to: "default6", via: "fd01::1" },
      { to: "default6", via: "fd02::1" },
    ],
  },
  { name: "a connected IPv6 prefix again, default metric 1024", routes: [{ to: "fd01::/64", via: "fd02::1" }] },
  { name: "a connected IPv6 prefix again, metric 256", routes: [{ to: "fd01::/64", via: "fd02::1", metric: 256 }] },
  {
    name: "an IPv6 default with metric 0 (the kernel stores 1024) and one with 1024",
    routes: [
      { to: "default6", via: "fd01::1", metric: 0 },
      { to: "default6", via: "fd02::1" },
    ],
  },
];

function topology(routes: R[]): string {
  const list = routes.map((r) => `{ to: ${r.to}, via: "${r.via}"${r.metric !== undefined ? `, metric: ${r.metric}` : ""} }`);
  return `
segments: { s1: { subnets: [10.0.1.0/24, "fd01::/64"] }, s2: { subnets: [10.0.2.0/24, "fd02::/64"] } }
machines:
  a:
    interfaces:
      eth0: { segment: s1, addresses: [10.0.1.2/24, "fd01::2/64"] }
      eth1: { segment: s2, addresses: [10.0.2.2/24, "fd02::2/64"] }
    routes: [ ${list.join(", ")} ]
`;
}

function checkerRefuses(routes: R[]): boolean {
  try {
    loadTopologyText("t.yaml", topology(routes));
    return false;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return e.diagnostics.some((d) => d.code === "RCH030");
  }
}

const made: string[] = [];
const ip = (...args: string[]) => spawnSync("ip", args, { encoding: "utf8" });
function must(...args: string[]): void {
  const r = ip(...args);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
}

/** Does the kernel refuse one of the routes? (A fresh namespace with eth0 and eth1 as the topology has them.) */
function kernelRefuses(routes: R[], k: number): boolean {
  const ns = `rchm-${process.pid}-${k}`;
  must("netns", "add", ns);
  made.push(ns);
  for (const [dev, n] of [
    ["eth0", 1],
    ["eth1", 2],
  ] as const) {
    must("-n", ns, "link", "add", dev, "type", "veth", "peer", "name", `p${n}`);
    must("-n", ns, "link", "set", dev, "up");
    must("-n", ns, "link", "set", `p${n}`, "up");
    must("-n", ns, "addr", "add", `10.0.${n}.2/24`, "dev", dev);
    must("-n", ns, "-6", "addr", "add", `fd0${n}::2/64`, "dev", dev, "nodad");
  }
  return routes.some((r) => {
    const fam = r.to === "default6" || r.via.includes(":") ? ["-6"] : [];
    const to = r.to.startsWith("default") ? "default" : r.to;
    const res = ip("-n", ns, ...fam, "route", "add", to, "via", r.via, ...(r.metric !== undefined ? ["metric", String(r.metric)] : []));
    if (res.status !== 0 && !/File exists/.test(res.stderr)) throw new Error(`unexpected refusal: ${res.stderr}`);
    return res.status !== 0;
  });
}

afterAll(() => {
  for (const ns of made) ip("netns", "del", ns);
});

describe.skipIf(kernelSkip)("route metrics: the checker refuses (RCH030) exactly the routes the kernel refuses", () => {
  SCENARIOS.forEach(({ name, routes }, k) => {
    it(name, () => {
      const kernel = kernelRefuses(routes, k);
      expect({ name, checker: checkerRefuses(routes) }).toEqual({ name, checker: kernel });
    });
  });
});
