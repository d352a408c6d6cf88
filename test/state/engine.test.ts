import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Detector } from "../../src/engine/detector.js";
import { parseEvent } from "../../src/events/parse.js";
import type { PatternSet } from "../../src/patterns/compiled.js";
import { BUILTIN_PATTERNS_DIR, loadPatternSet } from "../../src/patterns/index.js";
import { MemoryStore } from "../../src/state/memory.js";
import { RedisStore } from "../../src/state/redis/store.js";
import type { StateStore } from "../../src/state/store.js";
import { type BatchItem, type BatchResult, processBatch } from "../../src/stream/batch.js";
import { redisUrl, uniqueName } from "../helpers/services.js";

/**
 * The engine runs unchanged on either store: the built-in patterns over every fixture stream of the
 * library (one concatenated stream, so users, windows and late events mix), in uneven batches, give
 * the same alerts and counts with MemoryStore and with RedisStore (state round-tripped through Redis
 * between every batch).
 */

interface Run {
  alerts: BatchResult["alerts"];
  republished: number;
  duplicates: number;
  tooLate: number;
  evicted: number;
  roundTrips?: number;
  batches: number;
}

async function fixtureStream(): Promise<BatchItem[]> {
  const dir = join(BUILTIN_PATTERNS_DIR, "fixtures");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".jsonl")).sort();
  const items: BatchItem[] = [];
  for (const f of files) {
    const lines = (await readFile(join(dir, f), "utf8")).split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      const r = parseEvent(line);
      if (r.ok) items.push({ event: r.event, source: { topic: f, partition: 0, offset: String(i) } });
    });
  }
  // Every event again at the end, re-delivered from the same source: the outbox re-publishes.
  return [...items, ...items];
}

async function run(
  set: PatternSet,
  store: StateStore,
  items: BatchItem[],
  maxEventsPerGroup: number,
  roundTrips?: () => number,
): Promise<Run> {
  const engine = new Detector(set, { maxEventsPerGroup, now: () => Date.UTC(2026, 10, 25) });
  const out: Run = { alerts: [], republished: 0, duplicates: 0, tooLate: 0, evicted: 0, batches: 0 };
  const before = roundTrips?.() ?? 0;
  const sizes = [1, 7, 64, 3, 50];
  for (let i = 0, b = 0; i < items.length; b++) {
    const n = sizes[b % sizes.length]!;
    const r = await processBatch(engine, store, items.slice(i, i + n));
    out.alerts.push(...r.alerts, ...r.republished);
    out.republished += r.republished.length;
    out.duplicates += r.duplicates;
    out.tooLate += r.tooLate;
    out.evicted += r.evicted;
    out.batches++;
    i += n;
  }
  if (roundTrips) out.roundTrips = roundTrips() - before;
  return out;
}

describe("Detector over MemoryStore and RedisStore", () => {
  let set: PatternSet;
  let items: BatchItem[];
  const prefixes: string[] = [];

  beforeAll(async () => {
    set = await loadPatternSet();
    items = await fixtureStream();
  });
  afterAll(async () => {
    for (const prefix of prefixes) {
      const s = new RedisStore({ redis: redisUrl(), prefix, fields: new Set(), retentionMs: 0 });
      await s.deleteAll();
      await s.close();
    }
  });

  for (const maxEventsPerGroup of [10_000, 4]) {
    it(`gives identical alerts (max_events_per_group ${maxEventsPerGroup})`, async () => {
      const engine = new Detector(set);
      // The fixtures span months of event time: remember seen ids across all of it.
      const seenTtlMs = 365 * 24 * 3600_000;
      const memory = await run(set, new MemoryStore({ seenTtlMs }), items, maxEventsPerGroup);
      const prefix = `${uniqueName("cwtest-engine")}:`;
      prefixes.push(prefix);
      const redis = new RedisStore({
        redis: redisUrl(),
        prefix,
        fields: engine.storedFields,
        retentionMs: engine.retentionMs,
        seenTtlMs,
      });
      let viaRedis: Run;
      try {
        viaRedis = await run(set, redis, items, maxEventsPerGroup, () => redis.roundTrips);
      } finally {
        await redis.close();
      }
      expect(memory.alerts.length).toBeGreaterThan(5); // the stream does fire
      expect(memory.republished).toBeGreaterThan(0); // and re-delivery reads the outbox
      expect(viaRedis.alerts).toEqual(memory.alerts);
      expect({ ...viaRedis, alerts: undefined, roundTrips: undefined }).toEqual({
        ...memory,
        alerts: undefined,
      });
      if (maxEventsPerGroup === 4) expect(memory.evicted).toBeGreaterThan(0);
      expect(viaRedis.roundTrips).toBeLessThanOrEqual(2 * viaRedis.batches);
    });
  }
});
