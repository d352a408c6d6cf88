/**
 * The emitter's producer thread (started by `threaded-producer.ts`): owns the kafkajs producer, so
 * its encoding and socket work never run on the MCP server's event loop.
 */
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { OutMessage } from "../port.js";
import { EmitterKafkaProducer } from "./lazy-producer.js";
import {
  errorFacts,
  type FromThread,
  type ThreadConfig,
  type ToThread,
  unpack,
} from "./threaded-producer.js";

/** The lowest priority: while every CPU is busy this thread gets a small share (weight 15 against 1024). */
const NICENESS = 19;

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

const { brokers, clientId } = workerData as ThreadConfig;
const producer = new EmitterKafkaProducer({
  brokers,
  clientId,
  logger: { warn: forward("warn"), error: forward("error") },
});

/** A Buffer key or value arrives as a plain Uint8Array; kafkajs wants a Buffer. */
const asBuffer = <T>(v: T) =>
  v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;

port.on("message", (m: ToThread) => {
  if (m.op === "send") {
    const messages: OutMessage[] =
      "packed" in m
        ? unpack(m.packed)
        : m.messages.map((x) => ({ ...x, key: asBuffer(x.key), value: asBuffer(x.value) }));
    producer.send(messages).then(
      () => post({ op: "sent", id: m.id }),
      (err: unknown) => post({ op: "failed", id: m.id, error: errorFacts(err) }),
    );
  } else {
    producer.close().then(
      () => post({ op: "closed" }),
      (err: unknown) => post({ op: "closed", error: errorFacts(err) }),
    );
  }
});
