/**
 * State benchmark (`npm run bench:state`), against the local Redis (REDIS_URL, default
 * redis://127.0.0.1:6379):
 *
 * Drives the real engine (`Detector`, built-in patterns) and `processBatch` over a RedisStore with
 * batches of `--batch` events spread over `--groups` users. The events are the library's fixture events
 * (realistic tools, arguments and results) re-keyed to random users, with fresh ids and increasing
 * timestamps. Reports:
 * - events applied per second (load + engine + save, end to end), and per CPU-second of this process,
 * - Redis round trips per batch (the store's counter),
 * - bytes per stored event (`bytes_per_event`): `MEMORY USAGE` of the groups' event lists divided by
 *   the events they hold, i.e. what one more stored event costs in Redis (the figure the ≤ 200 bytes
 *   target is about);
 * - Redis memory of every key of the run (group state, outbox, seen ids, registry) divided by the
 *   events stored, with a breakdown; and `INFO memory` used_memory after minus before, divided the same
 *   way (only meaningful when nothing else uses the Redis meanwhile); and the mean encoded size of a
 *   stored event.
 * A unique key prefix is used and deleted afterwards. The same stream through a MemoryStore gives a
 * baseline for the engine's own cost.
 *
 * Options: --events N (default 100000), --batch N (500), --groups N (10000).
 * Writes bench/results/state.json.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { Detector } from "../src/engine/detector.js";
import { parseEvent } from "../src/events/parse.js";
import type { ToolCallEvent } from "../src/events/schema.js";
import { BUILTIN_PATTERNS_DIR, loadPatternSet } from "../src/patterns/index.js";
import { MemoryStore } from "../src/state/memory.js";
import { RedisStore } from "../src/state/redis/store.js";
import type { StateStore } from "../src/state/store.js";
import { type BatchItem, processBatch } from "../src/stream/batch.js";
import { prng } from "./lib/random.js";
import { machine, writeResults } from "./lib/results.js";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    batch: { type: "string", default: "500" },
    groups: { type: "string", default: "10000" },
  },
});
const EVENTS = Number(args.events);
const BATCH = Number(args.batch);
const GROUPS = Number(args.groups);
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
/** The input topic, as the service passes it to its store. */
const TOPIC = "audit";

function templates(): ToolCallEvent[] {
  const dir = join(BUILTIN_PATTERNS_DIR, "fixtures");
  const out: ToolCallEvent[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl"))) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      const r = line.trim() ? parseEvent(line) : undefined;
      if (r?.ok) out.push(r.event);
    }
  }
  return out;
}

function stream(n: number): BatchItem[] {
  const tpl = templates();
  const rand = prng(42);
  const t0 = Date.UTC(2026, 10, 20);
  const run = randomBytes(3).toString("hex");
  const items: BatchItem[] = [];
  for (let i = 0; i < n; i++) {
    const t = tpl[i % tpl.length]!;
    const user = `u-${Math.floor(rand() * GROUPS)}`;
    const event: ToolCallEvent = {
      ...t,
      event_id: `01J${run}${i.toString(36).padStart(10, "0")}`.toUpperCase(),
      user_id: user,
      session_id: `s-${user}`,
      timestamp: t0 + i * 20,
    };
    items.push({ event, source: { topic: TOPIC, partition: i % 12, offset: String(i) } });
  }
  return items;
}

async function drive(
  engine: Detector,
  store: StateStore,
  items: BatchItem[],
): Promise<{ seconds: number; cpuSeconds: number; alerts: number }> {
  let alerts = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < items.length; i += BATCH) {
    const r = await processBatch(engine, store, items.slice(i, i + BATCH));
    alerts += r.alerts.length;
  }
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, cpuSeconds: (used.user + used.system) / 1e6, alerts };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const ks of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
    out.push(...ks);
  }
  return out;
}

async function main(): Promise<void> {
  const set = await loadPatternSet();
  const items = stream(EVENTS);
  const redis = new Redis(url);
  const prefix = `cwbench-${process.pid}-${randomBytes(3).toString("hex")}:`;

  // Baseline: the same stream through the memory store (the engine's own cost).
  const memEngine = new Detector(set);
  const mem = await drive(memEngine, new MemoryStore(), items);

  const engine = new Detector(set);
  const store = new RedisStore({
    redis: url,
    prefix,
    fields: engine.storedFields,
    topic: TOPIC,
    retentionMs: engine.retentionMs,
  });
  try {
    await store.ping();
    const memBefore = await usedMemory(redis);
    const tripsBefore = store.roundTrips;
    const run = await drive(engine, store, items);
    const batches = Math.ceil(items.length / BATCH);
    const trips = store.roundTrips - tripsBefore;
    const memAfter = await usedMemory(redis);

    const keys = await keysOf(redis, prefix);
    const eventKeys = keys.filter((k) => k.endsWith(":e"));
    const seenKeys = keys.filter((k) => k.includes("{seen-"));
    const groupKeys = keys.filter((k) => !k.includes("{seen-"));
    const p = redis.pipeline();
    for (const k of eventKeys) p.llen(k);
    const stored = ((await p.exec()) ?? []).reduce((n, [, v]) => n + Number(v), 0);
    const usage = async (ks: string[]) => {
      const q = redis.pipeline();
      for (const k of ks) q.memory("USAGE", k, "SAMPLES", "0");
      return ((await q.exec()) ?? []).reduce((n, [, v]) => n + Number(v ?? 0), 0);
    };
    const groupBytes = await usage(groupKeys);
    const listBytes = await usage(eventKeys);
    const metaBytes = await usage(keys.filter((k) => k.endsWith(":m")));
    const outboxBytes = await usage(keys.filter((k) => k.endsWith(":o") || k.endsWith(":oi")));
    const groupCount = keys.filter((k) => k.endsWith(":m")).length;
    const seenBytes = await usage(seenKeys);
    const seenIds = await seenKeys.reduce(
      async (acc, k) => (await acc) + (await redis.zcard(k)),
      Promise.resolve(0),
    );
    // Mean encoded size of a stored event: a sample of lists.
    let encodedBytes = 0;
    let encodedCount = 0;
    for (const k of eventKeys.slice(0, 300)) {
      for (const v of await redis.lrange(k, 0, -1)) {
        encodedBytes += Buffer.byteLength(v);
        encodedCount++;
      }
    }

    const result = {
      events: items.length,
      batch_size: BATCH,
      groups: GROUPS,
      events_per_s: Math.round(items.length / run.seconds),
      memory_store_events_per_s: Math.round(items.length / mem.seconds),
      // This process's CPU only (Redis works in its own): steadier than wall time on a shared machine.
      events_per_cpu_s: Math.round(items.length / run.cpuSeconds),
      round_trips_per_batch: Number((trips / batches).toFixed(3)),
      stored_events: stored,
      // Redis memory of the event lists per stored event: the cost of one stored event.
      bytes_per_event: Math.round(listBytes / Math.max(1, stored)),
      // All of this run's keys (group state, outbox, seen ids, registry) per stored event.
      all_keys_bytes_per_stored_event: Math.round((groupBytes + seenBytes) / Math.max(1, stored)),
      // INFO memory delta: the same question asked of the whole server; noisy when others share it.
      used_memory_delta_per_event: Math.round((memAfter - memBefore) / Math.max(1, stored)),
      group_key_bytes_per_stored_event: Math.round(groupBytes / Math.max(1, stored)),
      event_list_bytes_per_event: Math.round(listBytes / Math.max(1, stored)),
      meta_bytes_per_group: Math.round(metaBytes / Math.max(1, groupCount)),
      outbox_bytes_per_alert: Math.round(outboxBytes / Math.max(1, run.alerts)),
      seen_bytes_per_id: Math.round(seenBytes / Math.max(1, seenIds)),
      encoded_bytes_per_event: Math.round(encodedBytes / Math.max(1, encodedCount)),
      seen_ids: seenIds,
      group_keys: groupKeys.length,
      alerts: run.alerts,
      alerts_memory_store: mem.alerts,
      machine: { ...machine(), load_average_1m: loadavg()[0] },
      at: new Date().toISOString(),
    };

    const rows: Array<[string, string]> = [
      ["events (batches of " + BATCH + ", " + GROUPS + " groups)", String(items.length)],
      ["events/s via RedisStore (end to end)", String(result.events_per_s)],
      ["events per CPU-second of this process via RedisStore", String(result.events_per_cpu_s)],
      ["events/s via MemoryStore (engine baseline)", String(result.memory_store_events_per_s)],
      ["Redis round trips per batch", String(result.round_trips_per_batch)],
      ["stored events", String(stored)],
      ["bytes per stored event (MEMORY USAGE of the event lists)", String(result.bytes_per_event)],
      ["all keys per stored event (MEMORY USAGE)", String(result.all_keys_bytes_per_stored_event)],
      ["bytes per stored event (INFO used_memory delta)", String(result.used_memory_delta_per_event)],
      ["  group keys (MEMORY USAGE) per stored event", String(result.group_key_bytes_per_stored_event)],
      ["    of which event lists, per stored event", String(result.event_list_bytes_per_event)],
      ["    group meta hash, per group", String(result.meta_bytes_per_group)],
      ["    outbox, per alert", String(result.outbox_bytes_per_alert)],
      ["  seen-id shards (MEMORY USAGE) per seen id", String(result.seen_bytes_per_id)],
      ["  encoded size of a stored event", String(result.encoded_bytes_per_event)],
      ["alerts (redis / memory)", `${run.alerts} / ${mem.alerts}`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    if (run.alerts !== mem.alerts) console.warn("warning: alert counts differ between stores");

    writeResults("state", result);
  } finally {
    await store.deleteAll().catch(() => {});
    await store.close();
    await redis.quit();
  }
}

await main();
