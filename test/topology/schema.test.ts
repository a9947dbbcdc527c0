/** The committed JSON Schema for editors is the one the code exports. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { topologyJsonSchema } from "../../src/topology/schema.js";

const root = join(import.meta.dirname, "..", "..");

describe("models/topology.schema.json", () => {
  it("is up to date (regenerate: npm run build && npm run schema)", () => {
    const committed = JSON.parse(readFileSync(join(root, "models", "topology.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(topologyJsonSchema())));
  });

  it("names the required top-level keys and forbids unknown ones", () => {
    const s = topologyJsonSchema() as { required: string[]; additionalProperties: boolean; properties: Record<string, unknown> };
    expect(s.required).toEqual(["machines"]);
    expect(s.additionalProperties).toBe(false);
    expect(Object.keys(s.properties).sort()).toEqual([
      "assumed",
      "description",
      "expect",
      "incomplete",
      "machines",
      "natnetworks",
      "segments",
    ]);
  });
});
