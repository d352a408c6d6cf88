import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import type { Kafka } from "kafkajs";
import { afterEach } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { Detector } from "../../src/engine/detector.js";
import { parseEvent } from "../../src/events/parse.js";
import { loadPatternSet } from "../../src/patterns/loader.js";
import { MemoryStore } from "../../src/state/memory.js";
import { processBatch } from "../../src/stream/batch.js";
import type { InMessage } from "../../src/stream/port.js";
import { kafkaBrokers, redisUrl, testKafka, uniqueName } from "../helpers/services.js";

export const REPO = resolve(import.meta.dirname, "../..");
export const FIXTURE_PATTERNS = resolve(import.meta.dirname, "fixtures/patterns");
export const ALT_PATTERN = resolve(import.meta.dirname, "fixtures/alt-patterns.json");

const TOOLS = ["list_users", "list_files", "read_file", "send_email", "noop", "read_db", "delete_all"];

/** A deterministic stream: `users` users, `events` valid events in per-user time order, interleaved. */
export function generateStream(opts: {
  users: number;
  events: number;
  seed?: number;
  invalidEvery?: number;
}) {
  let x = opts.seed ?? 42;
  const rand = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const base = Date.UTC(2026, 10, 20, 9, 0, 0);
  const clock = new Array<number>(opts.users).fill(base);
  const lines: string[] = [];
  for (let i = 0; i < opts.events; i++) {
    const u = Math.floor(rand() * opts.users);
    clock[u]! += 1000 + Math.floor(rand() * 20_000);
    const event: Record<string, unknown> = {
      event_id: `ev-${opts.seed ?? 42}-${i}`,
      timestamp: new Date(clock[u]!).toISOString(),
      user_id: `u-${u}`,
      server: "srv",
      tool: TOOLS[Math.floor(rand() * TOOLS.length)],
      arguments: { n: i },
    };
    if (i % 3 === 0) {
      event.trace_id = i.toString(16).padStart(32, "a");
      event.span_id = i.toString(16).padStart(16, "b");
    }
    lines.push(JSON.stringify(event));
    if (opts.invalidEvery && i % opts.invalidEvery === opts.invalidEvery - 1) {
      lines.push(
        Math.floor(i / opts.invalidEvery) % 2
          ? `{"event_id":"bad-${i}","user_id":"u-${u}"}`
          : `not json ${i}`,
      );
    }
  }
  return lines;
}

/** What an uninterrupted in-memory run over the lines yields (alert ids are deterministic). */
export async function expectedAlerts(
  lines: string[],
  patterns: string[] = [FIXTURE_PATTERNS],
): Promise<Alert[]> {
  return expectedAlertsPhased([{ lines, patterns }]);
}

/** Same, with the pattern set swapped between phases (state carried over), as a reload does. */
export async function expectedAlertsPhased(
  phases: Array<{ lines: string[]; patterns: string[] }>,
): Promise<Alert[]> {
  const store = new MemoryStore();
  const alerts: Alert[] = [];
  for (const phase of phases) {
    const engine = new Detector(await loadPatternSet({ patterns: phase.patterns }));
    for (const [i, line] of phase.lines.entries()) {
      const parsed = parseEvent(line);
      if (!parsed.ok) continue;
      const r = await processBatch(engine, store, [{ event: parsed.event, source: { line: i + 1 } }]);
      alerts.push(...r.alerts);
    }
  }
  return alerts;
}

export function kafka(): Kafka {
  return testKafka("chainwatch-test");
}

export async function createTopics(names: string[], partitions: number): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: names.map((topic) => ({ topic, numPartitions: partitions })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Sends lines as they are, keyed by user_id (invalid lines keyed "invalid"). */
export async function produceLines(
  topic: string,
  lines: string[],
  headers?: (i: number) => Record<string, string> | undefined,
) {
  const producer = kafka().producer();
  await producer.connect();
  try {
    const messages = lines.map((value, i) => {
      let key = "invalid";
      try {
        key = String(JSON.parse(value).user_id ?? "invalid");
      } catch {}
      return { key, value, headers: headers?.(i) };
    });
    for (let i = 0; i < messages.length; i += 500)
      await producer.send({ topic, messages: messages.slice(i, i + 500) });
  } finally {
    await producer.disconnect();
  }
}

/** Reads a topic from the beginning as a read_committed consumer until `count` messages or `idleMs` of quiet. */
export async function readTopic(
  topic: string,
  opts: { count?: number; idleMs?: number; timeoutMs?: number } = {},
) {
  const consumer = kafka().consumer({
    groupId: uniqueName("reader"),
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  const out: InMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let last = Date.now();
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      last = Date.now();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
      out.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers,
        timestamp: Number(message.timestamp),
      });
    },
  });
  const started = Date.now();
  const idle = opts.idleMs ?? 2000;
  while (Date.now() - started < (opts.timeoutMs ?? 30_000)) {
    await sleep(100);
    if (opts.count !== undefined && out.length >= opts.count && Date.now() - last > 300) break;
    if (opts.count === undefined && out.length > 0 && Date.now() - last > idle) break;
    if (opts.count === undefined && out.length === 0 && Date.now() - started > idle * 3) break;
  }
  await consumer.disconnect();
  return out;
}

export function alertsOf(messages: InMessage[]): Alert[] {
  return messages.map((m) => JSON.parse(m.value!.toString("utf8")) as Alert);
}

/** Waits until the group's committed offsets reach the end of every partition of the topic. */
export async function waitCaughtUp(groupId: string, topic: string, timeoutMs = 60_000): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const started = Date.now();
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = ends.every((e) => {
        const c = committed?.partitions.find((p) => p.partition === e.partition);
        if (BigInt(e.high) === 0n) return true;
        return c !== undefined && BigInt(c.offset) >= BigInt(e.high);
      });
      if (done) return;
      if (Date.now() - started > timeoutMs) throw new Error(`group ${groupId} did not catch up on ${topic}`);
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A service environment for one test: unique topics, group and Redis prefix; short Kafka timeouts. */
export function serviceEnv(name: string, extra: Record<string, string> = {}) {
  const id = uniqueName(name);
  const env = {
    CHAINWATCH_KAFKA_BROKERS: kafkaBrokers().join(","),
    CHAINWATCH_GROUP_ID: `${id}-group`,
    CHAINWATCH_INPUT_TOPIC: `${id}-in`,
    CHAINWATCH_ALERT_TOPIC: `${id}-alerts`,
    CHAINWATCH_REDIS_URL: redisUrl(),
    CHAINWATCH_REDIS_PREFIX: `${id}:`,
    CHAINWATCH_PATTERNS: FIXTURE_PATTERNS,
    CHAINWATCH_HTTP_PORT: "0",
    CHAINWATCH_KAFKA_SESSION_TIMEOUT_MS: "6000",
    CHAINWATCH_KAFKA_HEARTBEAT_INTERVAL_MS: "500",
    CHAINWATCH_KAFKA_REBALANCE_TIMEOUT_MS: "10000",
    CHAINWATCH_BATCH_SIZE: "25",
    CHAINWATCH_LOG_LEVEL: "info",
    ...extra,
  };
  return {
    id,
    env,
    input: env.CHAINWATCH_INPUT_TOPIC,
    alerts: env.CHAINWATCH_ALERT_TOPIC,
    group: env.CHAINWATCH_GROUP_ID,
  };
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the exit code, or the signal name when killed. */
  exited: Promise<number | string>;
  stderr: () => string;
  /** Resolves with the HTTP port once the service logs it. */
  httpPort: Promise<number>;
}

/** Services started by the current test and not yet exited. */
const running = new Set<ChildProcess>();

// A test that fails before stopping its services must not leave them running (consuming its topics,
// holding ports) into the next tests and past the run.
afterEach(() => {
  for (const proc of running) proc.kill("SIGKILL");
  running.clear();
});

/** `node bin/chainwatch.js run` with the given environment (dist/ must be built: `npm run build`). */
export function startRun(env: Record<string, string>, args: string[] = []): Child {
  const proc = spawn(process.execPath, [resolve(REPO, "bin/chainwatch.js"), "run", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(proc);
  proc.on("exit", () => running.delete(proc));
  let err = "";
  let portFound: (p: number) => void = () => {};
  const httpPort = new Promise<number>((r) => {
    portFound = r;
  });
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    const m = /"httpPort":(\d+)/.exec(err);
    if (m) portFound(Number(m[1]));
  });
  proc.stdout!.resume();
  const exited = new Promise<number | string>((r) =>
    proc.on("exit", (code, signal) => r(code ?? signal ?? -1)),
  );
  return { proc, exited, stderr: () => err, httpPort };
}

/** Waits until the child logs `consuming` and its consumer joined the group. */
export async function waitLog(child: Child, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!pattern.test(child.stderr())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`no ${pattern} in child stderr:\n${child.stderr()}`);
    if (child.proc.exitCode !== null || child.proc.signalCode !== null)
      throw new Error(`child exited before ${pattern}:\n${child.stderr()}`);
    await sleep(100);
  }
}

export function ids(alerts: Alert[]): string[] {
  return alerts.map((a) => a.alert_id).sort();
}
