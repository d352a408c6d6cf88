import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { Detector } from "../../src/engine/detector.js";
import { parseEvent, validateEvent } from "../../src/events/parse.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import type { PatternSet } from "../../src/patterns/compiled.js";
import { BUILTIN_PATTERNS_DIR, loadPatternSet, patternSetFromJson } from "../../src/patterns/index.js";
import { MemoryStore } from "../../src/state/memory.js";
import { RedisStore } from "../../src/state/redis/store.js";
import type { StateStore } from "../../src/state/store.js";
import { type BatchItem, processBatch } from "../../src/stream/batch.js";
import { redisUrl, uniqueName } from "../helpers/services.js";

/**
 * The Redis store keeps only the paths the patterns read (CompiledPattern.fields, dotted). Events
 * restored from that compact encoding must give the engine the same answers as the full events:
 * the same stream through MemoryStore (full events, live objects) and through RedisStore with no
 * group cache (every batch decodes every stored event from Redis) must give identical alerts.
 *
 * 1. The library's patterns and fixtures, each event padded with large arguments/results no pattern
 *    reads: same alerts, and none of the padding reaches Redis.
 * 2. Patterns aimed at the subtle cases (a path through an array, `exists` on a parent object, a
 *    where on `arguments` itself, `null`s, joins and distinct on nested paths, group_by on a label)
 *    over random events whose values at those paths take every shape (missing, null, 0, scalars,
 *    arrays, objects).
 */

const SEEN_TTL_MS = 365 * 24 * 3600_000;
const PAD = "unused-padding-";

async function runOn(set: PatternSet, store: StateStore, items: BatchItem[]): Promise<Alert[]> {
  const engine = new Detector(set, { now: () => Date.UTC(2026, 10, 25) });
  const alerts: Alert[] = [];
  const sizes = [1, 9, 40, 3];
  for (let i = 0, b = 0; i < items.length; b++) {
    const n = sizes[b % sizes.length]!;
    const r = await processBatch(engine, store, items.slice(i, i + n));
    alerts.push(...r.alerts, ...r.republished);
    i += n;
  }
  return alerts;
}

const redis = new Redis(redisUrl());
const prefixes: string[] = [];

/** Alerts via MemoryStore and via an uncached RedisStore, and the raw stored event entries. */
async function compare(set: PatternSet, items: BatchItem[]) {
  const memory = await runOn(set, new MemoryStore({ seenTtlMs: SEEN_TTL_MS }), items);
  const prefix = `${uniqueName("cwtest-trim")}:`;
  prefixes.push(prefix);
  const engine = new Detector(set);
  const store = new RedisStore({
    redis: redisUrl(),
    prefix,
    fields: engine.storedFields,
    retentionMs: engine.retentionMs,
    seenTtlMs: SEEN_TTL_MS,
    cacheGroups: 0,
  });
  let viaRedis: Alert[];
  try {
    viaRedis = await runOn(set, store, items);
  } finally {
    await store.close();
  }
  const stored: string[] = [];
  for await (const keys of redis.scanStream({ match: `${prefix}*:e`, count: 1000 }) as AsyncIterable<
    string[]
  >) {
    for (const k of keys) stored.push(...(await redis.lrange(k, 0, -1)));
  }
  return { memory, viaRedis, stored, storedFields: engine.storedFields };
}

afterAll(async () => {
  for (const prefix of prefixes) {
    const s = new RedisStore({ redis, prefix, fields: new Set(), retentionMs: 0 });
    await s.deleteAll();
  }
  await redis.quit();
});

describe("RedisStore keeps only the paths read, and the engine cannot tell", () => {
  let library: PatternSet;
  beforeAll(async () => {
    library = await loadPatternSet();
  });

  it("library patterns over fixtures padded with large unused arguments and results", async () => {
    const dir = join(BUILTIN_PATTERNS_DIR, "fixtures");
    const items: BatchItem[] = [];
    for (const f of (await readdir(dir)).filter((n) => n.endsWith(".jsonl")).sort()) {
      (await readFile(join(dir, f), "utf8")).split("\n").forEach((line, i) => {
        const r = line.trim() ? parseEvent(line) : undefined;
        if (!r?.ok) return;
        const e = r.event;
        const padded: ToolCallEvent = {
          ...e,
          arguments: {
            ...e.arguments,
            [`${PAD}body`]: PAD.repeat(40),
            [`${PAD}nested`]: { deep: { list: [PAD, { k: PAD }], n: 0, z: null } },
          },
          result: { ...e.result, [`${PAD}rows`]: Array.from({ length: 20 }, (_, j) => ({ id: j, v: PAD })) },
          labels: { ...e.labels, [`${PAD}label`]: PAD },
        };
        items.push({ event: padded, source: { topic: f, partition: 0, offset: String(i) } });
      });
    }
    const { memory, viaRedis, stored, storedFields } = await compare(library, [...items, ...items]);
    expect(memory.length).toBeGreaterThan(5);
    expect(viaRedis).toEqual(memory);
    // the trimming did happen: no padding was stored, and whole arguments/results were not asked for
    expect(stored.length).toBeGreaterThan(100);
    expect(stored.filter((s) => s.includes(PAD))).toEqual([]);
    expect([...storedFields].filter((f) => ["arguments", "result", "labels"].includes(f))).toEqual([]);
  });

  // --- subtle cases ------------------------------------------------------------------------------

  const base = { version: 1, title: "t", severity: "high" };
  const P = (id: string, over: Record<string, unknown>) => ({
    json: { id, ...base, ...over },
    source: `${id}.json`,
  });
  const SETS: Record<string, ReturnType<typeof P>[]> = {
    // paths through arrays / under objects, exists on a parent with a where below it, nulls, zeros
    paths: [
      P("through-array", {
        steps: [{ id: "a", where: { tool: "a", "arguments.list.id": { in: [1, "1", null] } } }],
      }),
      P("parent-exists", {
        within: "1m",
        steps: [
          { id: "a", where: { tool: "a", "arguments.obj": { exists: true } } },
          { id: "b", where: { tool: "b", "arguments.obj.k": { not: { exists: true } } } },
        ],
      }),
      P("nulls", {
        steps: [
          {
            id: "a",
            where: {
              "arguments.v": { any: [null, 0, { contains: null }] },
              "hitl.approved": { not: { in: [true] } },
            },
          },
        ],
      }),
      P("absent-below", {
        within: "1m",
        order: "sequence",
        steps: [
          { id: "a", where: { tool: "a" } },
          { id: "b", where: { tool: "c" } },
        ],
        absent: [{ where: { "result.ok.deep": { exists: true } }, after: "a", before: "b" }],
      }),
    ],
    // data flow and distinct on nested paths; grouping by a label
    flow: [
      P("join-nested", {
        within: "1m",
        steps: [
          { id: "a", where: { tool: "a" } },
          { id: "b", where: { tool: "b" } },
        ],
        join: [{ left: "a.result.file.id", right: "b.arguments.attachment" }],
      }),
      P("join-contains", {
        within: "1m",
        steps: [
          { id: "a", where: { tool: "c" } },
          { id: "b", where: { tool: "a" } },
        ],
        join: [{ left: "a.result.text", right: "b.arguments.v", op: "contains" }],
      }),
      P("distinct", {
        within: "1m",
        group_by: ["labels.tenant"],
        steps: [
          { id: "a", where: { tool: { in: ["a", "b"] } }, count: { min: 3, distinct: "arguments.obj.k" } },
        ],
      }),
    ],
    // a where on `arguments` itself keeps all of it
    whole: [
      P("whole-arguments", {
        within: "1m",
        steps: [
          // holds unless arguments is missing or exactly {} or {junk}: a trimmed copy would differ
          {
            id: "a",
            where: { tool: "a", arguments: { exists: true, not: { in: [{}, { junk: PAD.repeat(5) }] } } },
          },
          { id: "b", where: { tool: "b", "arguments.v": { in: [1, "1", true] } } },
        ],
      }),
    ],
  };

  /** Deterministic PRNG (mulberry32). */
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function randomStream(seed: number, n: number): BatchItem[] {
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const scalars = [null, 0, 1, "1", "x", true, false, ""];
    const value = (depth = 0): unknown => {
      const r = rand();
      if (r < 0.55 || depth > 1) return pick(scalars);
      if (r < 0.75) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (const k of ["id", "k", "deep"]) if (rand() < 0.5) o[k] = value(depth + 1);
      return o;
    };
    const maybe = (o: Record<string, unknown>, k: string, v: () => unknown) => {
      if (rand() < 0.7) o[k] = v();
    };
    const items: BatchItem[] = [];
    const t0 = Date.UTC(2026, 10, 20);
    for (let i = 0; i < n; i++) {
      const args: Record<string, unknown> = rand() < 0.5 ? { junk: PAD.repeat(5) } : {};
      for (const k of ["list", "obj", "v", "attachment"]) maybe(args, k, value);
      const result: Record<string, unknown> = { junk: [PAD] };
      for (const k of ["file", "ok"]) maybe(result, k, value);
      maybe(result, "text", () => pick(["x1", "x", "", "1", ["x", 1], null]));
      const raw: Record<string, unknown> = {
        event_id: `e-${seed}-${i}`,
        timestamp: t0 + i * 1000 + Math.floor(rand() * 3000) - 1500, // some out of order
        user_id: pick(["u1", "u2", "u3"]),
        server: "s",
        tool: pick(["a", "b", "c"]),
      };
      const r = rand();
      if (r < 0.8) raw.arguments = args;
      if (r > 0.15) raw.result = result;
      if (rand() < 0.6) raw.labels = { tenant: pick(["t1", "t2"]), other: PAD };
      if (rand() < 0.6) raw.hitl = { required: true, approved: pick([true, false, null]) };
      const v = validateEvent(raw);
      if (!v.ok) throw new Error(v.reason);
      items.push({ event: v.event, source: { topic: "t", partition: 0, offset: String(i) } });
    }
    return items;
  }

  for (const [name, sources] of Object.entries(SETS)) {
    it(`subtle paths (${name}): same alerts from the compact encoding`, async () => {
      const set = patternSetFromJson(sources);
      let total = 0;
      const fired = new Set<string>();
      for (const seed of [1, 2, 3]) {
        const items = randomStream(seed, 400);
        const { memory, viaRedis, stored, storedFields } = await compare(set, items);
        expect(viaRedis).toEqual(memory);
        total += memory.length;
        for (const a of memory) fired.add(a.pattern.id);
        expect(stored.length).toBeGreaterThan(0);
        // all of `arguments` is kept only where a where reads it as a whole
        expect(storedFields.has("arguments")).toBe(name === "whole");
        if (name !== "whole") expect(stored.filter((s) => s.includes(PAD))).toEqual([]);
      }
      // every pattern of the set fires, so every case is compared on real matches
      expect([...fired].sort()).toEqual(sources.map((s) => s.json.id).sort());
      expect(total).toBeGreaterThan(10);
    });
  }
});
