import { describe, expect, it } from "vitest";
import { SeenIds } from "../../src/state/seen-ids.js";

/** Reference: a Map in insertion order, a re-added id moved last (what the memory store kept before). */
class Reference {
  readonly map = new Map<string, number>();
  add(id: string, ts: number): void {
    this.map.delete(id);
    this.map.set(id, ts);
  }
  oldest(): number | undefined {
    for (const ts of this.map.values()) return ts;
    return undefined;
  }
  dropOldest(): void {
    for (const id of this.map.keys()) {
      this.map.delete(id);
      return;
    }
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("SeenIds", () => {
  it("agrees with an insertion-ordered Map under random adds, re-adds, drops and growth", () => {
    for (const seed of [1, 2, 3, 4]) {
      const r = rng(seed);
      // The last run shifts its seqs down past 20 000 adds.
      const seen = seed === 4 ? new SeenIds(16, 20_000) : new SeenIds(16);
      const ref = new Reference();
      for (let step = 0; step < 20_000; step++) {
        const x = r();
        const id = `e-${Math.floor(r() * 3000).toString(36)}`;
        if (x < 0.02) {
          // An id added again at once, over and over: the ring fills with dead entries.
          for (let k = 0; k < 50; k++) {
            seen.add(id, step);
            ref.add(id, step);
          }
        } else if (x < 0.55) {
          const ts = 1_700_000_000_000 + step + r() / 7; // not every timestamp is an integer
          seen.add(id, ts);
          ref.add(id, ts);
        } else if (x < 0.75) {
          seen.dropOldest();
          ref.dropOldest();
        } else expect(seen.has(id)).toBe(ref.map.has(id));
        expect(seen.size).toBe(ref.map.size);
        expect(seen.oldestTime()).toBe(ref.oldest());
      }
      for (const id of ref.map.keys()) expect(seen.has(id)).toBe(true);
    }
  });

  it("keeps ids apart through long probe runs and backward-shift deletions", () => {
    const seen = new SeenIds(16);
    // Many ids in a small table: probe runs collide on their home slots.
    for (let i = 0; i < 5000; i++) seen.add(`id-${i}`, i);
    for (let i = 0; i < 5000; i++) expect(seen.has(`id-${i}`)).toBe(true);
    expect(seen.has("id-5000")).toBe(false);
    for (let i = 0; i < 4990; i++) seen.dropOldest();
    expect(seen.has("id-4989")).toBe(false);
    expect(seen.has("id-4990")).toBe(true);
    expect(seen.size).toBe(10);
  });
});
