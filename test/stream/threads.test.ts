import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { loadConfig } from "../../src/config/load.js";
import { parseEvent } from "../../src/events/parse.js";
import { RedisStore } from "../../src/state/redis/store.js";
import { StateConflictError, StateUnavailableError } from "../../src/state/store.js";
import type { ChunkMessage } from "../../src/stream/chunk-work.js";
import { loadEngine } from "../../src/stream/state-setup.js";
import { WorkerPool } from "../../src/stream/threads/pool.js";
import { decodeChunk, encodeChunk } from "../../src/stream/threads/protocol.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { redisUrl } from "../helpers/services.js";
import {
  ALT_PATTERN,
  expectedAlerts,
  expectedAlertsPhased,
  FIXTURE_PATTERNS,
  generateStream,
  ids,
  serviceEnv,
} from "../service/helpers.js";

const TOPIC = "in";

/** Lines as the chunks of one partition, `size` messages each, at consecutive offsets from `from`. */
function chunks(lines: string[], size: number, partition = 0, from = 0): ChunkMessage[][] {
  const out: ChunkMessage[][] = [];
  for (let i = 0; i < lines.length; i += size) {
    out.push(
      lines.slice(i, i + size).map((l, j) => ({
        topic: TOPIC,
        partition,
        offset: String(from + i + j),
        value: Buffer.from(l),
        headers: {},
      })),
    );
  }
  return out;
}

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

async function startPool(threads: number) {
  const t = serviceEnv("threads");
  const config = loadConfig({ env: t.env });
  const { sources } = await loadEngine(config);
  const pool = new WorkerPool({ threads, config, patterns: sources, logger: createLogger("silent") });
  pools.push(pool);
  await pool.start();
  return { pool, config };
}

describe("chunks in transit", () => {
  it("arrive as they were sent: bytes, offsets, missing and empty values, trace headers", () => {
    const sent: ChunkMessage[] = [
      { topic: "t", partition: 3, offset: "10", value: Buffer.from('{"a":1}'), headers: {} },
      { topic: "t", partition: 3, offset: "11", value: null, headers: {} },
      {
        topic: "t",
        partition: 3,
        offset: "13",
        value: Buffer.alloc(0),
        headers: { traceparent: "00-x-y-01" },
      },
      { topic: "t", partition: 3, offset: "14", value: Buffer.from("é€😀"), headers: {} },
    ];
    const { request, transfer } = encodeChunk(7, sent);
    expect(transfer).toContain(request.data);
    const got = decodeChunk(structuredClone(request, { transfer }));
    expect(got.map((m) => ({ ...m, value: m.value?.toString() ?? null }))).toEqual(
      sent.map((m) => ({ ...m, value: m.value?.toString() ?? null })),
    );
    // Moved, not copied: the sender's buffer is detached.
    expect(request.data.byteLength).toBe(0);
  });

  it("leave out the trace headers when no message has one", () => {
    const { request } = encodeChunk(1, [
      { topic: "t", partition: 0, offset: "0", value: Buffer.from("x"), headers: {} },
    ]);
    expect(request.traceparents).toBeUndefined();
  });
});

describe("batch worker threads (real Redis)", () => {
  const lines = generateStream({ users: 10, events: 240, invalidEvery: 40, seed: 31 });

  it("fire exactly the alerts of one in-memory run, and name the invalid messages", {
    timeout: 60_000,
  }, async () => {
    const { pool } = await startPool(2);
    const alerts: Alert[] = [];
    const invalid: string[] = [];
    for (const chunk of chunks(lines, 25)) {
      const r = await pool.work(chunk);
      alerts.push(...r.outcome.alerts);
      expect(r.traceparents).toHaveLength(r.outcome.republished.length + r.outcome.alerts.length);
      for (const { index, reason } of r.invalid) {
        invalid.push(chunk[index]!.value!.toString());
        expect(reason).toMatch(/not JSON|timestamp|server|tool/);
      }
    }
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(5);
    expect(ids(alerts)).toEqual(ids(expected));
    expect(invalid.sort()).toEqual(lines.filter((l) => !parseEvent(l).ok).sort());
  });

  it("keep a partition on one worker and spread partitions over the workers", {
    timeout: 60_000,
  }, async () => {
    const { pool } = await startPool(2);
    // Kafka keys by user: a user's events are on one partition.
    const ofUsers = (re: RegExp) => lines.filter((l) => re.test(l));
    const [a, c] = chunks(ofUsers(/"user_id":"u-[0-4]"/).slice(0, 20), 10, 0);
    const [b] = chunks(ofUsers(/"user_id":"u-[5-9]"/).slice(0, 10), 10, 1);
    await pool.work(a!);
    await pool.work(b!);
    await pool.work(c!);
    expect(pool.workerOf(TOPIC, 0)).toBe(0);
    expect(pool.workerOf(TOPIC, 1)).toBe(1);
  });

  it("report a worker's death as the state being unavailable, and start it again on the next chunk", {
    timeout: 60_000,
  }, async () => {
    const { pool } = await startPool(1);
    const [first, second] = chunks(lines.slice(0, 40), 20);
    const inFlight = pool.work(first!);
    await pool.terminateWorker(0);
    await expect(inFlight).rejects.toBeInstanceOf(StateUnavailableError);
    // The chunk again (as the pipeline retries it), then the next: nothing lost.
    const again = await pool.work(first!);
    const next = await pool.work(second!);
    const expected = await expectedAlerts(lines.slice(0, 40));
    const fired = [...again.outcome.republished, ...again.outcome.alerts, ...next.outcome.alerts];
    expect(ids(fired)).toEqual(ids(expected));
  });

  it("pass a state conflict on as StateConflictError; the retry reads the group afresh", {
    timeout: 60_000,
  }, async () => {
    const { pool, config } = await startPool(1);
    const one = lines.filter((l) => l.includes('"user_id":"u-3"')).slice(0, 6);
    const [first, second] = chunks(one, 3);
    await pool.work(first!); // the worker now holds u-3's group in its cache
    // Another writer (another instance, after a rebalance) saves the same group meanwhile.
    const { engine } = await loadEngine(config);
    const other = new RedisStore({
      redis: redisUrl(),
      prefix: config.redis.prefix,
      fields: engine.storedFields,
      retentionMs: engine.retentionMs,
      cacheGroups: 0,
    });
    try {
      const ev = parseEvent(one[0]!.replace(/"event_id":"[^"]+"/, '"event_id":"other-writer"'));
      if (!ev.ok) throw new Error(ev.reason);
      const refs = engine.groupsOf(ev.event);
      const loaded = await other.load(refs, []);
      const state = loaded.groups.get(refs[0]!.key)!;
      engine.onEvent(state, ev.event);
      await other.save({ groups: [state], seen: [] });
    } finally {
      await other.close();
    }
    const conflict = await pool.work(second!).catch((err: unknown) => err);
    expect(conflict).toBeInstanceOf(StateConflictError);
    // Its stack is the worker's, where the store threw it (the logs show that, not the pool).
    expect((conflict as Error).stack).toMatch(/state\/redis\/store/);
    const retried = await pool.work(second!);
    expect(retried.invalid).toEqual([]);
  });

  it("swap every worker to a reloaded set between chunks", { timeout: 60_000 }, async () => {
    const { pool, config } = await startPool(2);
    const [before, after] = [lines.slice(0, 120), lines.slice(120)];
    const alerts: Alert[] = [];
    for (const chunk of chunks(before, 30)) alerts.push(...(await pool.work(chunk)).outcome.alerts);
    const withAlt = [FIXTURE_PATTERNS, ALT_PATTERN];
    const { sources } = await loadEngine({ patterns: withAlt, taxonomy: [], limits: config.limits });
    await pool.reload(sources);
    for (const chunk of chunks(after, 30, 0, 120)) alerts.push(...(await pool.work(chunk)).outcome.alerts);

    const expected = await expectedAlertsPhased([
      { lines: before, patterns: [FIXTURE_PATTERNS] },
      { lines: after, patterns: withAlt },
    ]);
    expect(expected.some((a) => a.pattern.id === "test.any-delete")).toBe(true);
    expect(ids(alerts)).toEqual(ids(expected));
  });
});
