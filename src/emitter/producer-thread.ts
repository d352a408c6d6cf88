/**
 * The emitter's producer thread: takes call records from the shared ring, builds their events,
 * sends them in batches with the kafkajs producer, and acknowledges them in the ring once Kafka has.
 * The server's thread never hears from it per batch: counters are shared cells, and this thread
 * finds new records by looking (every `lingerMs` while busy), so a tool call pays for no wake-up,
 * message or syscall.
 */
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { EmitterKafkaProducer } from "../stream/kafkajs/lazy-producer.js";
import { SharedRing } from "../stream/shared-ring.js";
import { isPermanent, MAX_BACKOFF_MS, MIN_BACKOFF_MS } from "./accounting.js";
import { decodeCall } from "./call-codec.js";
import { buildFromRecord } from "./event.js";
import { policyResolver } from "./options.js";
import { Cell, type FromThread, type ThreadConfig } from "./thread-protocol.js";

/** The lowest priority: while every CPU is busy this thread gets a small share (weight 15 against 1024). */
const NICENESS = 19;
/** Idle this long, the thread parks until woken, and lets the process exit meanwhile. */
const PARK_AFTER_MS = 500;

/**
 * Lowers this thread's CPU priority (Linux: setpriority on a thread id acts on that thread alone).
 * When the machine is busy the server's own thread must not be preempted by its event producer:
 * a late batch only waits in the bounded queue, a late tool call is the harm the emitter promises
 * not to do.
 */
function yieldToServer(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.max(getPriority(tid), NICENESS));
  } catch {
    // Not Linux, or not allowed: the thread runs at the process's priority.
  }
}
yieldToServer();

const port = parentPort;
if (!port) throw new Error("producer-thread runs as a worker thread only");
const post = (m: FromThread) => port.postMessage(m);

/** kafkajs log fields are plain data, but made sure of: one that cannot be cloned would kill the thread. */
function plain(fields: unknown): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(fields ?? {})) as Record<string, unknown>;
  } catch {
    return {};
  }
}
const forward =
  (level: "warn" | "error") =>
  (fields: unknown, message?: string): void =>
    post({ op: "log", level, fields: plain(fields), message: message ?? "" });

const config = workerData as ThreadConfig;
const ring = new SharedRing(config.ring);
const control = ring.control;
const producer = new EmitterKafkaProducer({
  brokers: config.brokers,
  clientId: config.clientId,
  ssl: config.ssl,
  sasl: config.sasl,
  logger: { warn: forward("warn"), error: forward("error") },
});

const stopped = () => Atomics.load(control, Cell.STOP) !== 0;
const urgent = () => Atomics.load(control, Cell.URGENT) !== 0;

/** Waits `ms`, or less when the server's thread bumps WAKE (a flush, a close, work after parking). */
function pause(ms: number): Promise<void> {
  return waitForWake(Atomics.load(control, Cell.WAKE), ms);
}

/**
 * Waits while WAKE still holds `seen`, at most `ms` (none: until woken). A pending `waitAsync` does
 * not keep a thread's event loop alive, so a timer of ours does, for as long as the wait lasts.
 */
async function waitForWake(seen: number, ms?: number): Promise<void> {
  const wait = Atomics.waitAsync(control, Cell.WAKE, seen, ms);
  if (!wait.async) return;
  const alive = setTimeout(() => {}, Math.min(ms ?? MAX_TIMER_MS, MAX_TIMER_MS) + 100);
  try {
    await wait.value;
  } finally {
    clearTimeout(alive);
  }
}
const MAX_TIMER_MS = 2 ** 31 - 1 - 100;

const build = config.build;
const policyOf = policyResolver(build.tools);

/** The Kafka messages of a batch: the events, built here from the call records. */
function toMessages(records: ReturnType<SharedRing["read"]>["records"]) {
  const messages = [];
  for (const r of records) {
    try {
      const call = decodeCall(r.value);
      const event = buildFromRecord(call, policyOf(call.tool), build.settings);
      messages.push({ topic: config.topic, key: r.key, value: JSON.stringify(event) });
    } catch (err) {
      Atomics.add(control, Cell.BUILD_FAILED, 1);
      forward("error")({ err: String(err) }, "chainwatch emitter: building a tool-call event failed");
    }
  }
  return messages;
}

/** Sends one batch until Kafka takes it or refuses it for good; false if stopped first. */
async function deliver(records: ReturnType<SharedRing["read"]>["records"]): Promise<boolean> {
  const messages = toMessages(records);
  if (messages.length === 0) return true;
  let backoff = MIN_BACKOFF_MS;
  for (;;) {
    try {
      await producer.send(messages);
      Atomics.add(control, Cell.SENT, messages.length);
      return true;
    } catch (err) {
      Atomics.add(control, Cell.SEND_ERRORS, 1);
      if (isPermanent(err)) {
        Atomics.add(control, Cell.REJECTED, messages.length);
        forward("error")(
          { err: { name: (err as Error).name, message: (err as Error).message }, events: messages.length },
          "chainwatch emitter: Kafka refused a batch",
        );
        return true;
      }
      if (stopped()) return false;
      await pause(backoff);
      if (stopped()) return false;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}

async function run(): Promise<void> {
  let idleSince = performance.now();
  // Whether events found now have waited a linger already (one pause since the last request).
  let lingered = false;
  while (!stopped()) {
    const unread = ring.unread;
    if (unread >= config.batchSize || (unread > 0 && (lingered || urgent()))) {
      const batch = ring.read(config.batchSize);
      if (!(await deliver(batch.records))) break;
      ring.ack(batch.records.length, batch.end);
      idleSince = performance.now();
      lingered = false;
    } else if (unread === 0 && !urgent() && performance.now() - idleSince >= PARK_AFTER_MS) {
      await park();
      idleSince = performance.now();
    } else {
      // At least a millisecond: with no linger this still looks often, but never spins.
      await pause(Math.max(1, config.lingerMs));
      lingered = true;
    }
  }
  await producer.close().then(
    () => post({ op: "closed" }),
    (err: unknown) => post({ op: "closed", error: String(err) }),
  );
}

/**
 * Sleeps until the server's thread writes again (it bumps WAKE only when it sees PARKED, so a busy
 * server never pays for a wake-up). PARKED is set before the last look at the ring: a write that
 * comes after that look sees the flag (both are sequentially consistent atomics).
 */
async function park(): Promise<void> {
  const seen = Atomics.load(control, Cell.WAKE);
  Atomics.store(control, Cell.PARKED, 1);
  if (ring.unread === 0 && !stopped() && !urgent()) {
    post({ op: "idle" });
    await waitForWake(seen);
  }
  Atomics.store(control, Cell.PARKED, 0);
}

void run();
