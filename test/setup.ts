/**
 * Every test file's setup (vitest.config.ts, vitest.stryker.config.ts). Origins made by lowering
 * (src/lower/context.ts FileOrigin) find their span when first read, through a getter: vitest's
 * toEqual would compare only their own `what`. This tester compares an origin by its span and
 * what, so that a test that compares IR values still sees every span.
 */
import { expect } from "vitest";

interface OriginLike {
  readonly span: unknown;
  readonly what: unknown;
}
const isLazyOrigin = (v: unknown): v is OriginLike =>
  typeof v === "object" &&
  v !== null &&
  "span" in v &&
  "what" in v &&
  !Object.hasOwn(v, "span") &&
  typeof (v as { toJSON?: unknown }).toJSON === "function";
const plain = (v: unknown): unknown => (isLazyOrigin(v) ? { span: v.span, what: v.what } : v);

expect.addEqualityTesters([
  function origins(a, b, testers) {
    if (!isLazyOrigin(a) && !isLazyOrigin(b)) return undefined;
    return this.equals(plain(a), plain(b), testers);
  },
]);
