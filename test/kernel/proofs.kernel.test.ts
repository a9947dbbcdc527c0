/**
 * The kernel as judge of the proofs: every member of every family in proofs/
 * that the emulator can build is built in network namespaces and each theorem's
 * query probed with real connects. The kernel's verdict must be what the
 * theorem says for that member, except for the theorems a file records as
 * refuted, where it must be what reach says (the refutation is the finding).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emulate } from "../../src/emulate/emulate.js";
import { unsupported } from "../../src/emulate/plan.js";
import { assignmentText, holds, loadFamilyFile } from "../../src/prove/family.js";
import { members } from "../../src/prove/prove.js";
import { disagreementText, kernelSkip } from "./support.js";

const FILES = readdirSync("proofs")
  .filter((f) => f.endsWith(".yaml"))
  .sort();

describe.skipIf(kernelSkip).concurrent("proofs: the kernel agrees member by member", () => {
  for (const f of FILES) {
    it(
      f,
      async () => {
        const fam = loadFamilyFile(join("proofs", f));
        const queries = fam.theorems.map((t) => t.query);
        let built = 0;
        for (const m of members(fam)) {
          if (unsupported(m.net).length) continue;
          built++;
          const r = await emulate(m.net, queries);
          const where = `${f} [${assignmentText(fam, m.assignment)}]`;
          expect(r.probes.filter((p) => !p.agree).map(disagreementText), where).toEqual([]);
          expect(r.leftBehind, where).toEqual([]);
          if (fam.holds) {
            const said = fam.theorems.map((t) => (holds(fam, t.reachable, m.assignment) ? "reachable" : "unreachable"));
            expect(
              r.probes.map((p) => p.kernel),
              where,
            ).toEqual(said);
          }
        }
        expect(built, "members the emulator could build").toBeGreaterThan(0);
      },
      600_000,
    );
  }
});
