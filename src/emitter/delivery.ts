import type { Logger } from "pino";
import type { ToolCallEvent } from "../events/index.js";
import type { OutMessage, Producer } from "../stream/port.js";
import {
  DeliveryAccounting,
  type DeliveryStats,
  isPermanent,
  MAX_BACKOFF_MS,
  MIN_BACKOFF_MS,
} from "./accounting.js";
import { buildFromRecord, type CallRecord, type EventBuild } from "./event.js";
import { policyResolver, type ResolvedPolicy } from "./options.js";

export type { DeliveryStats } from "./accounting.js";

/**
 * Where `instrumentMcpServer` hands each call: `Delivery` (a producer of the user's own, on the
 * server's thread) or `ThreadedDelivery` (the built-in one, in a worker thread). Both take the call
 * record and build its event with the same code (`buildFromRecord`), here or in the thread.
 */
export interface CallDelivery {
  /** Queues one call's event; never waits, never throws for Kafka (overflow is dropped and counted). */
  push(call: CallRecord, anonymous: boolean): void;
  /** Resolves when everything pushed so far is acknowledged (or dropped). */
  flush(): Promise<void>;
  /** Flushes for at most `timeoutMs`, then drops (and counts) what is left and stops. */
  close(timeoutMs: number): Promise<void>;
  stats(): DeliveryStats;
}

/** An event as the emitter builds it: the wire shape, timestamp in epoch ms. */
export type EmittedEvent = Omit<ToolCallEvent, "method" | "outcome" | "schema_version"> &
  Partial<Pick<ToolCallEvent, "method" | "outcome" | "schema_version">>;

export interface DeliveryOptions {
  producer: Producer;
  topic: string;
  queueSize: number;
  batchSize: number;
  lingerMs: number;
  logger: Logger;
  warnIntervalMs: number;
  build: EventBuild;
}

/**
 * Gets events to Kafka without ever making a tool call wait: `push` builds the event and appends it to a bounded
 * in-memory queue; one background loop sends batches (linger / batch size), one request in flight,
 * so a user's events stay in order. While Kafka is slow or down the batch in hand is retried with
 * backoff and the queue fills; beyond its bound new events are dropped and counted (tail drop, as
 * OpenTelemetry's batch processors do: what is queued keeps its order and completeness).
 */
export class Delivery implements CallDelivery {
  // Serialised when pushed: the cost is spread over the calls rather than paid per batch, in one go,
  // by whichever call arrives while a batch is sent; and a string is smaller than the event object.
  private queue: OutMessage[] = [];
  private inFlight: OutMessage[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private giveUp = false;
  private idleWaiters: Array<() => void> = [];
  private readonly account: DeliveryAccounting;
  private readonly policyOf: (tool: string) => ResolvedPolicy;

  constructor(private readonly opts: DeliveryOptions) {
    this.account = new DeliveryAccounting(opts.logger, opts.warnIntervalMs, opts.queueSize);
    this.policyOf = policyResolver(opts.build.tools);
  }

  /** Builds the call's event here, on the caller's thread; a fault in that throws, before anything is counted. */
  push(call: CallRecord, anonymous: boolean): void {
    const event = buildFromRecord(call, this.policyOf(call.tool), this.opts.build.settings);
    this.account.emitted(anonymous);
    // The bound covers the batch in flight too: it is what the process holds in memory.
    if (this.closed || this.queue.length + (this.inFlight?.length ?? 0) >= this.opts.queueSize) {
      this.account.drop(1, this.closed ? "closed" : "queue_full");
      return;
    }
    this.queue.push({ topic: this.opts.topic, key: event.user_id, value: JSON.stringify(event) });
    if (this.loop) return;
    if (this.queue.length >= this.opts.batchSize) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.opts.lingerMs);
  }

  stats(): DeliveryStats {
    return this.account.stats(this.queue.length + (this.inFlight?.length ?? 0));
  }

  /** Resolves when everything pushed so far is acknowledged (or dropped). */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    this.start();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes for at most `timeoutMs`, then drops (and counts) what is left and closes the producer. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const drained = await Promise.race([this.flush().then(() => false), timedOut]);
    clearTimeout(timer);
    if (drained) {
      this.giveUp = true;
      const left = this.queue.length + (this.inFlight?.length ?? 0);
      this.queue = [];
      this.inFlight = undefined;
      if (left) this.account.drop(left, "close_timeout");
      this.opts.logger.warn(
        { left, timeoutMs },
        "chainwatch emitter closed before all events were delivered",
      );
    }
    try {
      await this.opts.producer.close();
    } catch (err) {
      this.opts.logger.warn({ err }, "chainwatch emitter: closing the producer failed");
    }
    this.settleIdle();
  }

  /** Someone waits for the queue to empty (flush, close): don't linger. */
  private mustDrain(): boolean {
    return this.queue.length > 0 && (this.idleWaiters.length > 0 || this.closed);
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && !this.inFlight;
  }

  private start(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.loop || this.queue.length === 0) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      if (!this.queue.length || this.giveUp) {
        this.settleIdle();
        return;
      }
      // Events pushed while the last request was in flight linger too: a request costs the Kafka
      // client far more CPU than an event does, so fewer, fuller requests are what keep the
      // server's event loop free. A full batch or a flush goes at once.
      if (this.queue.length >= this.opts.batchSize || this.idleWaiters.length) this.start();
      else this.timer ??= setTimeout(() => this.start(), this.opts.lingerMs);
    });
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    // The first request goes whatever its size (the linger is over); more follow at once only while
    // a batch is full, one failed, or someone waits for the queue to drain.
    do {
      if (!this.inFlight && this.queue.length === 0) break;
      this.inFlight ??= this.queue.splice(0, this.opts.batchSize);
      const batch = this.inFlight;
      try {
        await this.opts.producer.send(batch);
        if (this.inFlight !== batch) continue; // close() gave up on it meanwhile
        this.inFlight = undefined;
        this.account.sent(batch.length);
        backoff = MIN_BACKOFF_MS;
      } catch (err) {
        this.account.counts.sendErrors++;
        if (this.inFlight !== batch) continue;
        if (isPermanent(err)) {
          this.inFlight = undefined;
          this.account.drop(batch.length, "rejected");
          this.opts.logger.error({ err, events: batch.length }, "chainwatch emitter: Kafka refused a batch");
          continue;
        }
        this.opts.logger.debug({ err, backoff }, "chainwatch emitter: produce failed, retrying");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    } while (!this.giveUp && (this.inFlight || this.queue.length >= this.opts.batchSize || this.mustDrain()));
  }

  private settleIdle(): void {
    if (!this.isIdle() && !this.giveUp) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
