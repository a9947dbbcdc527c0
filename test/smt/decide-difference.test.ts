/**
 * `decideDifference(a, b, q)` (src/smt/decide.ts), which `reach diff` uses (src/verify/flows.ts):
 * a packet of `q` that `a` delivers and `b` does not ("differs", with a dial the simulator
 * confirms works in `a` and fails in `b`), "none" when `b` carries every packet `a` does or `a`
 * carries none (then with no solver call), and "unknown" when the exploration of either version
 * runs out of time. Also the deadline of a plain `decide()`: an exploration past 1024 branches,
 * where the explorer first reads the clock, is not cut short within the default timeout. Found by
 * mutation testing (docs/mutation.md): no test in the solver's scope called decideDifference.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import type { Network } from "../../src/ir/types.js";
import { formatIP } from "../../src/net/addr.js";
import { attempt, machineIndex, meetsQuery } from "../../src/sim/connect.js";
import { decide, decideDifference } from "../../src/smt/decide.js";
import { shutdown, solverStats } from "../../src/smt/solver.js";
import { build, q } from "../sim/helpers.js";

afterAll(() => shutdown());
afterEach(() => vi.restoreAllMocks());

// s serves port 80; `strict` drops what comes from source ports 1024-30000
const lan = (sAddrs: string, strict: boolean) =>
  build(`
segments: { lan: 10.0.0.0/16 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [10.0.9.9/16] } } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [${sAddrs}] } }
    services: [ { name: web, port: 80 } ]
${strict ? "    firewall: { input: { rules: [ { action: drop, proto: tcp, sport: 1024-30000 } ] } }" : ""}
`);
const open = lan("10.0.0.20/16", false);
const strict = lan("10.0.0.20/16", true);
// 400 addresses: an exploration of more than 1024 branches (the explorer reads the clock every 1024)
const many = Array.from({ length: 400 }, (_, i) => `10.0.${Math.floor(i / 200)}.${(i % 200) + 1}/16`).join(", ");
const bigOpen = lan(many, false);
const bigStrict = lan(many, true);

const works = (net: Network, text: string, d: Parameters<typeof attempt>[2]) => meetsQuery(q(text), attempt(net, machineIndex(net), d));

describe("decideDifference", () => {
  it("differs: a dial that works in a and not in b", async () => {
    const r = await decideDifference(open, strict, q("c -> s:80/tcp"));
    expect(r).toEqual({ verdict: "differs", dial: expect.objectContaining({ from: "c", proto: "tcp", dport: 80 }) });
    expect(formatIP(r.dial!.dst)).toBe("10.0.0.20");
    expect(r.dial!.sport).toBeGreaterThanOrEqual(1024);
    expect(r.dial!.sport).toBeLessThanOrEqual(30000);
    expect(works(open, "c -> s:80/tcp", r.dial!)).toBe(true);
    expect(works(strict, "c -> s:80/tcp", r.dial!)).toBe(false);
  });

  it("none: b carries every packet a does (b is a's superset, or the same)", async () => {
    expect(await decideDifference(strict, open, q("c -> s:80/tcp"))).toEqual({ verdict: "none" });
    expect(await decideDifference(open, open, q("c -> s:80/tcp"))).toEqual({ verdict: "none" });
  });

  it("none, with no solver call, when a carries nothing", async () => {
    const calls = solverStats().calls;
    expect(await decideDifference(open, strict, q("c -> s:81/tcp"))).toEqual({ verdict: "none" });
    expect(solverStats().calls).toBe(calls);
  });

  it("an exploration past the explorer's first look at the clock is not cut short within the default timeout", async () => {
    const r = await decideDifference(bigOpen, bigStrict, q("c -> s:80/tcp"));
    expect(r.verdict).toBe("differs");
    expect(works(bigOpen, "c -> s:80/tcp", r.dial!)).toBe(true);
    expect(works(bigStrict, "c -> s:80/tcp", r.dial!)).toBe(false);
    const d = await decide(bigOpen, q("c -> s:80/tcp"));
    expect(d.verdict).toBe("reachable");
    expect(d.stats.forks).toBeGreaterThan(1024);
  });

  it("unknown when the deadline passes while either version is explored", async () => {
    // the clock jumps an hour after decideDifference reads it for its deadline
    const clockJumps = () => {
      const real = Date.now.bind(Date);
      let reads = 0;
      vi.spyOn(Date, "now").mockImplementation(() => real() + (reads++ === 0 ? 0 : 3_600_000));
    };
    const unknown = { verdict: "unknown", reason: "bound hit: timeout while exploring paths" };
    clockJumps();
    expect(await decideDifference(bigOpen, strict, q("c -> s:80/tcp"), { timeoutMs: 60_000 })).toEqual(unknown);
    vi.restoreAllMocks();
    clockJumps();
    expect(await decideDifference(open, bigStrict, q("c -> s:80/tcp"), { timeoutMs: 60_000 })).toEqual(unknown);
  });
});
