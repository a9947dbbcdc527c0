/**
 * `decide()` lets the event loop turn now and then (src/smt/decide.ts `turn`): a run of
 * decisions that need no solver call only chains promises, and without a turn a timer, I/O or a
 * progress bar would wait for the whole run. The contract: within a run, a callback queued with
 * setImmediate runs once about 50 ms of decisions have passed, and a decision made within that
 * time of the last turn does not yield again (a turn per decision would cost a loop iteration
 * each). Both checks read the clock only to bound the run or to discard a sample: a slow machine
 * makes them take longer, never fail. Found by mutation testing (docs/mutation.md).
 */
import { describe, expect, it } from "vitest";
import { decide } from "../../src/smt/decide.js";
import { build, q } from "../sim/helpers.js";

const net = build(`
segments: { lan: 192.168.1.0/24 }
machines:
  c: { interfaces: { eth0: { segment: lan, addresses: [192.168.1.10/24] } } }
  s:
    interfaces: { eth0: { segment: lan, addresses: [192.168.1.20/24] } }
    services: [ { name: web, port: 80 } ]
`);
// no path: unreachable without a solver call (the decision's only await is its turn)
const noPath = q("c -> s:81/tcp");

/** Decides until a callback queued now has run (or 10 s have passed); the time it ran, or undefined. */
async function untilTurn(): Promise<number | undefined> {
  let ran: number | undefined;
  setImmediate(() => (ran = performance.now()));
  const t0 = performance.now();
  while (ran === undefined && performance.now() - t0 < 10_000) expect((await decide(net, noPath)).verdict).toBe("unreachable");
  return ran;
}

describe("a run of decisions with no solver call", () => {
  it("lets a callback queued before it run", async () => {
    expect(await untilTurn()).toBeDefined();
  });

  it("does not yield again within 50 ms of a turn", async () => {
    for (let tries = 0; tries < 20; tries++) {
      const turned = await untilTurn();
      expect(turned).toBeDefined();
      let ran = false;
      setImmediate(() => (ran = true));
      await decide(net, noPath);
      // the last turn was after `turned`: if less than 50 ms have passed since, the decision did not yield
      if (performance.now() - turned! < 40) {
        expect(ran).toBe(false);
        return;
      }
    }
    throw new Error("no decision within 40 ms of a turn in 20 tries");
  });
});
