/**
 * Setup file of the mutation-testing vitest config (vitest.stryker.config.ts): the kernel is never
 * asked during a mutation run. Tests that would build network namespaces as root (`it.skipIf(!root)`
 * on emulationSupport()) are skipped, so a run neither spends minutes per mutant nor touches the
 * machine; the engines' own assertions in the same files still run.
 */
import { vi } from "vitest";

vi.mock("../../src/emulate/build.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../src/emulate/build.js")>()),
  emulationSupport: () => ({ ok: false, why: "mutation testing never asks the kernel" }),
}));
