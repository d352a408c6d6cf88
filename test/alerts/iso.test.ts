import { describe, expect, it } from "vitest";
import { iso } from "../../src/alerts/build.js";

describe("alert timestamps (iso, remembered per slot)", () => {
  it("gives each epoch ms its own text, also for values sharing a slot and across reuse", () => {
    const base = Date.UTC(2026, 11, 2, 10, 0, 0);
    // Same slot (1024 apart), alternating, then negative and pre-1970 values.
    const values = [base, base + 1024, base, base + 2048, base + 1, -1, 0, -1024, 253402300799999];
    for (let round = 0; round < 3; round++)
      for (const ms of values) expect(iso(ms)).toBe(new Date(ms).toISOString());
  });
});
