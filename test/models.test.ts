/**
 * Every model in models/ loads cleanly and every `expect:` in it holds.
 * One test per expectation, named after the file and line.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTopologyFile } from "../src/topology/load.js";
import { lower } from "../src/lower/lower.js";
import { checkExpectations } from "../src/query/expect.js";
import { MODEL_FILES } from "./model-files.js";

const files = MODEL_FILES;

describe("models", () => {
  it("there are models", () => expect(files.length).toBeGreaterThan(0));
  for (const f of files) {
    describe(f, () => {
      const loaded = loadTopologyFile(join("models", f));
      const net = lower(loaded.topology);
      const results = checkExpectations(net, loaded.topology);
      it("has expectations", () => expect(results.length).toBeGreaterThan(0));
      for (const r of results) {
        it(`line ${r.span.line}: ${r.query} is ${r.expected}`, () => {
          expect({ query: r.query, verdict: r.answer.verdict, reason: r.answer.reason }).toMatchObject({
            query: r.query,
            verdict: r.expected,
          });
        });
      }
    });
  }
});
