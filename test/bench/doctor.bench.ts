/**
 * `reach doctor` on a busy machine (test/bench/doctor-machine.ts: 3 VMs, 10 containers with
 * published ports, 200 more INPUT rules), its outputs replayed (nothing run). Goal: the whole
 * doctor (read, merge, decide every finding) under 3 s. "old" decides the LAN exposure with one
 * explained solver query per service and explains every other query (the way before the
 * simulator-first search, witness.ts); "new" dials the host's ports in the simulator first and
 * asks Z3 only for what no dial reached and for the absences a finding claims.
 */
import { afterAll, bench, describe } from "vitest";
import { runDoctor } from "../../src/doctor/cli.js";
import { busyMachine } from "./doctor-machine.js";

const machine = busyMachine();
afterAll(() => machine.cleanup());
const ENGINE = { engine: "smt" as const, timeoutMs: 20_000 };

async function doctor(solverOnly: boolean): Promise<void> {
  const r = await runDoctor({ replay: machine.dir, engine: ENGINE, solverOnly });
  const n = (r.json as { findings: unknown[] }).findings.length;
  if (r.exitCode !== 1 || n !== 26) throw new Error(`expected 26 findings, got ${n} (exit ${r.exitCode})`);
}

describe("reach doctor --replay: 3 VMs, 10 containers, 200 firewall rules", () => {
  bench("new: simulator first, Z3 to confirm", () => doctor(false), { iterations: 5, warmupIterations: 1 });
  bench("old: Z3 (explained) for every service", () => doctor(true), { iterations: 3, warmupIterations: 0 });
});
