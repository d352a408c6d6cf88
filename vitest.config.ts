import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Brings up (or finds) the real Kafka broker and Redis; see test/setup/services.ts.
    globalSetup: ["test/setup/services.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
