import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { KafkaSecurity } from "../stream/kafkajs/client.js";
import { SharedRing } from "../stream/shared-ring.js";
import { startWorkerNextTo } from "../worker-thread.js";
import { DeliveryAccounting, type DeliveryStats } from "./accounting.js";
import { CallEncoding, encodeCall } from "./call-codec.js";
import type { CallDelivery } from "./delivery.js";
import type { CallRecord, EventBuild } from "./event.js";
import { Cell, type FromThread, type ThreadConfig } from "./thread-protocol.js";

export interface ThreadedDeliveryOptions extends KafkaSecurity {
  brokers: string[];
  clientId: string;
  topic: string;
  /** Events held at most (written, not yet acknowledged by Kafka). */
  queueSize: number;
  /** Bytes of serialised events held at most: the size of the shared queue. */
  queueBytes: number;
  batchSize: number;
  lingerMs: number;
  logger: Logger;
  warnIntervalMs: number;
  /** The thread builds the events from the call records with these. */
  build: EventBuild;
}

/** How long close() lets the thread disconnect from Kafka before ending it. */
const CLOSE_GRACE_MS = 2_000;
const ERROR_LOG_INTERVAL_MS = 30_000;
/** A thread that died is started again after this, doubling up to the maximum while it keeps dying. */
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 5_000;
/** flush() looks at the ring at least this often (a missed notification costs no more than this). */
const FLUSH_POLL_MS = 100;

/**
 * The emitter's default delivery: kafkajs in a worker thread, fed through a shared-memory ring.
 * Per tool call the server's thread serialises the call record into the ring and publishes it with an
 * atomic store: no message to the thread, no timer, no system call. The thread batches (linger,
 * batch size), sends, retries, and acknowledges what Kafka took; its counters are shared cells.
 * Earlier the server's thread posted each batch to the thread and was woken for each reply, and
 * on a virtual machine's costly wake-ups that was ~0.3 ms of the server's CPU per batch, paid
 * by whichever tool call was running.
 *
 * Same contract as `Delivery`: a bounded queue (events and bytes) whose overflow is dropped and
 * counted, `flush()`, `close(timeoutMs)`, the same stats. A thread that dies leaves its
 * unacknowledged events in the ring; the next thread sends them (at least once, like a retry). The
 * thread holds the process open only while events wait, so a process that ends without `close()`
 * still delivers what it queued, then exits.
 */
export class ThreadedDelivery implements CallDelivery {
  private readonly ring: SharedRing;
  private readonly control: Int32Array;
  private readonly account: DeliveryAccounting;
  private worker: Worker | undefined;
  private respawnMs = RESPAWN_MIN_MS;
  private respawnTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private gaveUp = false;
  private lastErrorLogAt = Number.NEGATIVE_INFINITY;
  /** Shared counters as last read, so their growth reaches the OTel counters once. */
  private readonly seen = { sent: 0, rejected: 0, unbuilt: 0 };
  private readonly encoding = new CallEncoding();

  constructor(private readonly opts: ThreadedDeliveryOptions) {
    this.ring = new SharedRing(opts.queueBytes);
    this.control = this.ring.control;
    this.account = new DeliveryAccounting(opts.logger, opts.warnIntervalMs, opts.queueSize);
  }

  /**
   * Queues a call for the thread to build its event from: written straight into the ring
   * (`call-codec.ts`). A value JSON cannot represent throws, before anything is counted.
   */
  push(call: CallRecord, anonymous: boolean): void {
    const encoding = this.encoding.prepare(call);
    try {
      this.account.emitted(anonymous);
      this.sync();
      const before = this.ring.pending;
      if (this.closed) this.account.drop(1, "closed");
      else if (before >= this.opts.queueSize) this.account.drop(1, "queue_full");
      else if (!this.ring.writeWith(call.userId, encodeCall, encoding))
        this.account.drop(1, before === 0 ? "too_large" : "queue_full");
      else if (before === 0) this.wake(false);
    } finally {
      encoding.clear();
    }
  }

  stats(): DeliveryStats {
    this.sync();
    return this.account.stats(this.gaveUp ? 0 : this.ring.pending);
  }

  /** Resolves when everything pushed so far is acknowledged (or dropped). */
  async flush(): Promise<void> {
    if (this.ring.pending === 0) return;
    Atomics.add(this.control, Cell.URGENT, 1);
    try {
      this.wake(true);
      while (this.ring.pending > 0 && !this.gaveUp) await this.ring.nextAck(FLUSH_POLL_MS);
    } finally {
      Atomics.sub(this.control, Cell.URGENT, 1);
      this.sync();
    }
  }

  /** Flushes for at most `timeoutMs`, then drops (and counts) what is left and stops the thread. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const timedOut = await Promise.race([this.flush().then(() => false), late]);
    clearTimeout(timer);
    clearTimeout(this.respawnTimer);
    Atomics.store(this.control, Cell.STOP, 1);
    this.wake(true);
    await this.stopThread();
    this.sync();
    // The thread is gone: what it did not acknowledge is lost, and counted once.
    const left = this.ring.pending;
    this.gaveUp = true;
    if (left > 0) {
      this.account.drop(left, "close_timeout");
      this.opts.logger.warn(
        { left, timeoutMs, timedOut },
        "chainwatch emitter closed before all events were delivered",
      );
    }
  }

  /** Brings the shared counters' growth into the stats and OTel counters. */
  private sync(): void {
    const sent = this.growth(Cell.SENT, "sent");
    if (sent !== 0) this.account.sent(sent);
    const rejected = this.growth(Cell.REJECTED, "rejected");
    if (rejected !== 0) this.account.drop(rejected, "rejected");
    const unbuilt = this.growth(Cell.BUILD_FAILED, "unbuilt");
    if (unbuilt !== 0) this.account.drop(unbuilt, "build_failed");
    this.account.counts.sendErrors = Atomics.load(this.control, Cell.SEND_ERRORS);
  }

  /** How much a shared counter grew since last read (wrapping int32 arithmetic). */
  private growth(cell: number, name: keyof ThreadedDelivery["seen"]): number {
    const now = Atomics.load(this.control, cell);
    const grown = (now - this.seen[name]) | 0;
    this.seen[name] = now;
    return grown;
  }

  /**
   * Events wait: the thread must run, and hold the process open until they are sent. A parked
   * thread is woken (one notification per idle period); a busy one finds them on its next look.
   */
  private wake(always: boolean): void {
    const stopping = Atomics.load(this.control, Cell.STOP) !== 0;
    if (!this.worker && !this.respawnTimer && !stopping) this.spawn();
    this.worker?.ref();
    if (always || Atomics.load(this.control, Cell.PARKED) !== 0) {
      Atomics.add(this.control, Cell.WAKE, 1);
      Atomics.notify(this.control, Cell.WAKE);
    }
  }

  private spawn(): void {
    const config: ThreadConfig = {
      brokers: this.opts.brokers,
      clientId: this.opts.clientId,
      ssl: this.opts.ssl,
      sasl: this.opts.sasl,
      topic: this.opts.topic,
      batchSize: this.opts.batchSize,
      lingerMs: this.opts.lingerMs,
      ring: this.ring.buffers,
      build: this.opts.build,
    };
    let worker: Worker;
    try {
      worker = startThread(config);
    } catch (err) {
      this.logFailure(err);
      this.scheduleRespawn();
      return;
    }
    this.worker = worker;
    const bornAt = performance.now();
    worker.on("message", (m: FromThread) => this.receive(worker, m));
    worker.on("error", (err) => this.logFailure(err));
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (this.closed) return;
      this.logFailure(new Error(`chainwatch emitter: the Kafka producer thread exited (code ${code})`));
      // Its unacknowledged events are still in the ring: a new thread sends them.
      this.respawnMs = performance.now() - bornAt > RESPAWN_MAX_MS ? RESPAWN_MIN_MS : this.respawnMs;
      if (this.ring.pending > 0) this.scheduleRespawn();
    });
  }

  private scheduleRespawn(): void {
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      if (!this.closed && this.ring.pending > 0) this.wake(false);
    }, this.respawnMs);
    this.respawnTimer.unref();
    this.respawnMs = Math.min(this.respawnMs * 2, RESPAWN_MAX_MS);
  }

  private receive(worker: Worker, m: FromThread): void {
    switch (m.op) {
      case "log":
        this.opts.logger[m.level](m.fields, m.message);
        break;
      case "idle":
        // Nothing waits: the thread must not keep the process alive (a push refs it again).
        if (this.ring.pending === 0) worker.unref();
        break;
      case "closed":
        if (m.error)
          this.opts.logger.warn({ err: m.error }, "chainwatch emitter: closing the producer failed");
        break;
    }
  }

  private async stopThread(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    worker.ref();
    const exited = new Promise<boolean>((resolve) => {
      worker.on("message", (m: FromThread) => m.op === "closed" && resolve(true));
      worker.once("exit", () => resolve(true));
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS);
    });
    const inTime = await Promise.race([exited, late]);
    clearTimeout(timer);
    this.worker = undefined;
    await worker.terminate();
    if (!inTime)
      this.opts.logger.warn(
        `chainwatch emitter: the Kafka producer did not disconnect within ${CLOSE_GRACE_MS} ms`,
      );
  }

  /** Rate-limited: a thread that cannot start fails again on every respawn. */
  private logFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogAt = now;
    this.opts.logger.error({ err }, "chainwatch emitter: the Kafka producer thread failed");
  }
}

function startThread(config: ThreadConfig): Worker {
  return startWorkerNextTo(import.meta.url, "producer-thread", config);
}
