import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    benchmark: { include: ["test/bench/**/*.bench.ts"] },
    testTimeout: 30_000,
  },
});
