import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { SharedRing } from "../../src/stream/shared-ring.js";

// The ring between two real threads, as the emitter uses it: the writer never waits, the reader
// (a worker) reads in batches and acknowledges; a small ring so that it wraps and fills many times.

function startReader(workerData: unknown): Worker {
  const require = createRequire(import.meta.url);
  const tsxPackage = require.resolve("tsx/package.json");
  const tsxApi = (require("tsx/package.json") as { exports: Record<string, { import: { default: string } }> })
    .exports["./esm/api"]!.import.default;
  const api = new URL(tsxApi, pathToFileURL(tsxPackage)).href;
  const entry = new URL("./ring-reader.fixture.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => (tsx.register(), import(${JSON.stringify(entry)})))`;
  return new Worker(code, { eval: true, workerData });
}

describe("SharedRing across threads", () => {
  it("delivers every message whole and in order while the writer keeps writing into freed space", async () => {
    const total = 50_000;
    const ring = new SharedRing(8 * 1024);
    const reader = startReader({ ring: ring.buffers, total });
    const done = new Promise<{ read: number; bad: number; batches: number }>((resolve, reject) => {
      reader.once("message", resolve);
      reader.once("error", reject);
    });
    let refused = 0;
    for (let n = 0; n < total; ) {
      if (ring.write(`u-${n % 97}`, `${n}|${"é".repeat(n % 300)}`)) n++;
      else {
        refused++;
        // Full: let the reader catch up (the emitter would drop and count here instead).
        await new Promise((r) => setImmediate(r));
      }
    }
    const seen = await done;
    await reader.terminate();
    expect(seen).toMatchObject({ read: total, bad: 0 });
    // The ring really filled and wrapped: the test exercised the reader freeing space under the writer.
    expect(refused).toBeGreaterThan(0);
    expect(ring.pending).toBe(0);
  }, 60_000);
});
