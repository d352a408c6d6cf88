import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { OutMessage, Producer } from "../port.js";

/** What the producer thread is started with (its `workerData`). */
export interface ThreadConfig {
  brokers: string[];
  clientId: string;
}

/** An error as it crosses the thread boundary: what the delivery loop and the logs read of it. */
export interface ErrorFacts {
  name: string;
  message: string;
  stack?: string;
  type?: string;
  code?: number;
  retriable?: boolean;
}

/**
 * Messages of one topic, packed: every key and value one after the other in `text`, and their lengths
 * (UTF-16 units; NULL_KEY for a null key) in `lengths`. Posting an array of strings costs the sending
 * thread one to two microseconds per string; a string and a typed array, little more than their bytes.
 */
export interface Packed {
  topic: string;
  text: string;
  lengths: Uint32Array;
}
export const NULL_KEY = 0xffffffff;

export type ToThread =
  | { op: "send"; id: number; packed: Packed[] }
  | { op: "send"; id: number; messages: OutMessage[] }
  | { op: "close" };
export type FromThread =
  | { op: "sent"; id: number }
  | { op: "failed"; id: number; error: ErrorFacts }
  | { op: "log"; level: "warn" | "error"; fields: Record<string, unknown>; message: string }
  | { op: "closed"; error?: ErrorFacts };

export interface ThreadedKafkaOptions extends ThreadConfig {
  logger: Logger;
}

/** How long close() lets the thread disconnect from Kafka before ending it. */
const CLOSE_GRACE_MS = 2_000;
const ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * The emitter's default producer: the kafkajs producer of `lazy-producer.ts`, run in a worker thread.
 * kafkajs spends about a millisecond of CPU encoding each produce request; on the MCP server's event
 * loop that millisecond is added to whichever tool call arrives meanwhile. Here the server's thread
 * only posts each batch's strings to the worker, and gets one message back per batch.
 *
 * Same contract as the in-thread producer: `send` settles when Kafka acknowledged the batch, or
 * rejects with the error's name, type and `retriable` intact (the delivery loop tells permanent
 * errors by them). The thread is started on the first send and again after it died. It never keeps
 * the process alive by itself: it is referenced only while a batch is in flight, so a process that
 * runs out of work still waits for the batch in hand, then exits.
 */
export class ThreadedKafkaProducer implements Producer {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private closing: Promise<void> | undefined;
  private lastErrorLogAt = -Infinity;

  constructor(private readonly opts: ThreadedKafkaOptions) {}

  send(messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.closing) return Promise.reject(new Error("chainwatch emitter: the producer is closed"));
    let worker: Worker;
    try {
      worker = this.worker ?? this.spawn();
    } catch (err) {
      this.logFailure(err);
      return Promise.reject(err);
    }
    const id = ++this.nextId;
    return new Promise<void>((resolve, reject) => {
      const packed = pack(messages);
      // Throws (DataCloneError) only for an unpacked batch with values a thread cannot receive.
      worker.postMessage(
        (packed ? { op: "send", id, packed } : { op: "send", id, messages }) satisfies ToThread,
      );
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    worker.ref();
    const closed = new Promise<ErrorFacts | undefined>((resolve) => {
      worker.on("message", (m: FromThread) => m.op === "closed" && resolve(m.error));
      worker.once("exit", () => resolve(undefined));
    });
    worker.postMessage({ op: "close" } satisfies ToThread);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), CLOSE_GRACE_MS);
    });
    const outcome = await Promise.race([closed, late]);
    clearTimeout(timer);
    await worker.terminate();
    if (outcome === "late")
      throw new Error(`the Kafka producer did not disconnect within ${CLOSE_GRACE_MS} ms`);
    if (outcome) throw revive(outcome);
  }

  private spawn(): Worker {
    const worker = startThread({ brokers: this.opts.brokers, clientId: this.opts.clientId });
    worker.unref();
    this.worker = worker;
    worker.on("message", (m: FromThread) => this.receive(m));
    worker.on("error", (err) => this.logFailure(err));
    worker.on("exit", (code) => {
      if (this.worker === worker) this.worker = undefined;
      // Batches it held are failed, so the delivery loop retries them on the next thread.
      const err = new Error(`chainwatch emitter: the Kafka producer thread exited (code ${code})`);
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(err);
      }
    });
    return worker;
  }

  /** Rate-limited: a thread that cannot start fails again on every retry of the delivery loop. */
  private logFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogAt = now;
    this.opts.logger.error({ err }, "chainwatch emitter: the Kafka producer thread failed");
  }

  private receive(m: FromThread): void {
    switch (m.op) {
      case "sent":
        this.settle(m.id)?.resolve();
        break;
      case "failed":
        this.settle(m.id)?.reject(revive(m.error));
        break;
      case "log":
        this.opts.logger[m.level](m.fields, m.message);
        break;
    }
  }

  private settle(id: number) {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    return p;
  }
}

/**
 * Starts `producer-thread` next to this file: the built `.js` in `dist/`. From the TypeScript sources
 * (tsx, vitest) the thread must load `.ts`, and on Node 20 a worker does not inherit the module hooks
 * of the thread that started it (privatenumber/tsx#354), so it registers tsx itself first.
 */
function startThread(config: ThreadConfig): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./producer-thread.js", here), { workerData: config });
  const require = createRequire(here);
  const tsxPackage = require.resolve("tsx/package.json");
  const tsxApi = (require("tsx/package.json") as { exports: Record<string, { import: { default: string } }> })
    .exports["./esm/api"]!.import.default;
  const api = new URL(tsxApi, pathToFileURL(tsxPackage)).href;
  const entry = new URL("./producer-thread.ts", here).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => (tsx.register(), import(${JSON.stringify(entry)})))`;
  return new Worker(code, { eval: true, workerData: config });
}

/**
 * A pack's text stays well below V8's large-object size (128 KiB): building a larger string costs
 * ~20 times more per byte (fresh pages; ~0.8 ms for a full batch of 500 events instead of ~40 µs).
 */
const MAX_PACK_CHARS = 32 * 1024;

/**
 * Runs of one topic, packed, each at most MAX_PACK_CHARS (unless one message is larger); undefined
 * when a message has headers or a Buffer (such a batch is sent as it is).
 */
export function pack(messages: OutMessage[]): Packed[] | undefined {
  const out: Packed[] = [];
  const lengths = new Uint32Array(2 * messages.length);
  let start = 0;
  let text = "";
  for (let i = 0; i < messages.length; i++) {
    const { topic, key, value, headers } = messages[i]!;
    if (headers || typeof value !== "string" || (key !== null && typeof key !== "string")) return undefined;
    const size = (key === null ? 0 : key.length) + value.length;
    if (i > start && (topic !== messages[start]!.topic || text.length + size > MAX_PACK_CHARS)) {
      out.push({ topic: messages[start]!.topic, text, lengths: lengths.slice(2 * start, 2 * i) });
      start = i;
      text = "";
    }
    lengths[2 * i] = key === null ? NULL_KEY : key.length;
    lengths[2 * i + 1] = value.length;
    if (key !== null) text += key;
    text += value;
  }
  if (messages.length > start) {
    out.push({ topic: messages[start]!.topic, text, lengths: lengths.slice(2 * start) });
  }
  return out;
}

/** What `pack` packed, as messages again. */
export function unpack(packed: Packed[]): OutMessage[] {
  const out: OutMessage[] = [];
  for (const { topic, text, lengths } of packed) {
    let at = 0;
    for (let j = 0; j < lengths.length; j += 2) {
      let key: string | null = null;
      if (lengths[j] !== NULL_KEY) {
        key = text.slice(at, at + lengths[j]!);
        at += lengths[j]!;
      }
      const value = text.slice(at, at + lengths[j + 1]!);
      at += lengths[j + 1]!;
      out.push({ topic, key, value });
    }
  }
  return out;
}

export function errorFacts(err: unknown): ErrorFacts {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const e = err as Error & { type?: unknown; code?: unknown; retriable?: unknown };
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    type: typeof e.type === "string" ? e.type : undefined,
    code: typeof e.code === "number" ? e.code : undefined,
    retriable: typeof e.retriable === "boolean" ? e.retriable : undefined,
  };
}

function revive(facts: ErrorFacts): Error {
  const { name, message, stack, ...rest } = facts;
  const err = Object.assign(new Error(message), rest);
  err.name = name;
  if (stack) err.stack = stack;
  return err;
}
