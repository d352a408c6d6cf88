import type { Logger } from "pino";
import { StateConflictError } from "../state/store.js";
import { createStreamMetrics, type StreamMetrics } from "../telemetry/metrics.js";
import { recordAlertSpan } from "../telemetry/tracing.js";
import { alertMessage, dlqMessage } from "./alert-message.js";
import type { BatchOutcome, ChunkResult, ChunkWork } from "./chunk-work.js";
import { type FaultHook, noFaults } from "./fault.js";
import {
  type BatchHandlerContext,
  type InBatch,
  type InMessage,
  MessageTooLargeError,
  type OutMessage,
  PartitionFencedError,
  type TransactionalSink,
} from "./port.js";

export interface PipelineOptions {
  groupId: string;
  alertTopic: string;
  dlqTopic: string;
  maxEventBytes: number;
  /** Most messages per state round trip and transaction. */
  batchSize: number;
  /** Backoff bounds while the state store or Kafka fails. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface PipelineDeps {
  /** Parse, state and engine for a chunk (src/stream/chunk-work.ts): in this thread or on workers. */
  work: ChunkWork;
  sink: TransactionalSink;
  logger: Logger;
  metrics?: StreamMetrics;
  fault?: FaultHook;
}

/** The batch in hand was given up (stopping, or the partition moved): nothing of it was committed. */
export class BatchAbandonedError extends Error {
  constructor(reason: string) {
    super(`batch abandoned: ${reason}`);
    this.name = "BatchAbandonedError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kafka batch → parse → state + engine → one Kafka transaction (alerts, DLQ records, offsets).
 *
 * Order of effects per batch, which is what makes the delivery exactly-once: the state store saves
 * the groups together with an outbox of the alerts each event fired BEFORE the transaction; offsets
 * are committed only inside that transaction. A crash before the save re-processes the batch from
 * scratch; a crash after it re-delivers events the store has seen at the same offsets, and
 * `processBatch` hands back their recorded alerts (`republished`), which go out in the retried
 * transaction instead.
 */
export class Pipeline {
  private readonly metrics: StreamMetrics;
  private readonly fault: FaultHook;
  private readonly source: string;
  /** Failures currently being retried, by kind; readiness is false while any is set. */
  private readonly failing = new Map<string, string>();

  constructor(
    private readonly opts: PipelineOptions,
    private readonly deps: PipelineDeps,
  ) {
    this.metrics = deps.metrics ?? createStreamMetrics();
    this.fault = deps.fault ?? noFaults;
    this.source = `chainwatch/${opts.groupId}`;
  }

  /** Why the pipeline can't make progress right now (empty when it can). */
  problems(): string[] {
    return [...this.failing].map(([kind, msg]) => `${kind}: ${msg}`);
  }

  readonly handle = async (batch: InBatch, ctx: BatchHandlerContext): Promise<void> => {
    const messages = ctx.fresh ? await this.uncommitted(batch.messages, ctx) : batch.messages;
    const size = Math.max(1, this.opts.batchSize);
    for (let i = 0; i < messages.length; i += size) {
      if (i > 0 && ctx.isStopping()) throw new BatchAbandonedError("stopping");
      await this.handleChunk(messages.slice(i, i + size), ctx);
    }
    const last = batch.messages[batch.messages.length - 1];
    if (last) {
      const lag = BigInt(batch.highWatermark) - BigInt(last.offset) - 1n;
      this.metrics.consumerLag.record(Number(lag < 0n ? 0n : lag), {
        topic: batch.topic,
        partition: batch.partition,
      });
    }
  };

  /**
   * The messages of a partition's first batch since a join that its committed offset does not cover.
   * kafkajs read that offset at the join without waiting for a transaction still being applied (the
   * Java client asks for stable offsets): the batch the previous owner committed a moment before can
   * come again, and republished from the outbox its alerts would be in the alert topic twice. After
   * `claim`, the committed offset is final, and what it covers is done.
   */
  private async uncommitted(messages: InMessage[], ctx: BatchHandlerContext): Promise<InMessage[]> {
    const first = messages[0];
    if (!first) return messages;
    const committed = await this.committedAfterClaim(first, ctx);
    if (committed === undefined || committed <= BigInt(first.offset)) return messages;
    const done = messages.findIndex((m) => BigInt(m.offset) >= committed);
    const rest = done < 0 ? [] : messages.slice(done);
    const skipped = messages.length - rest.length;
    ctx.committed?.(messages[skipped - 1]!.offset);
    this.metrics.redelivered.add(skipped);
    this.deps.logger.info(
      { topic: first.topic, partition: first.partition, skipped, committed: String(committed) },
      "skipped re-delivered events the partition's committed offset covers",
    );
    return rest;
  }

  /** The partition's committed offset once no earlier transaction of it can still change it. */
  private async committedAfterClaim(m: InMessage, ctx: BatchHandlerContext): Promise<bigint | undefined> {
    await this.deps.sink.claim(m.topic, m.partition);
    const offset = await ctx.committedOffset();
    return offset === undefined ? undefined : BigInt(offset);
  }

  private async handleChunk(messages: InMessage[], ctx: BatchHandlerContext): Promise<void> {
    const started = performance.now();
    const first = messages[0]!;
    const last = messages[messages.length - 1]!;
    const offsets = [
      { topic: last.topic, partition: last.partition, offset: String(BigInt(last.offset) + 1n) },
    ];
    const where = { topic: first.topic, partition: first.partition, from: first.offset, to: last.offset };

    this.metrics.eventsIn.add(messages.length);

    let backoff = this.opts.minBackoffMs ?? 100;
    const maxBackoff = this.opts.maxBackoffMs ?? 5000;
    /** Reports a failure through readiness and the log, then waits the next backoff. */
    const backOff = async (kind: "state" | "kafka", err: unknown, attempt: number, message: string) => {
      this.failing.set(kind, errorText(err));
      this.deps.logger.error({ ...where, err, attempt, backoffMs: backoff }, message);
      await this.pause(backoff, ctx);
      backoff = Math.min(backoff * 2, maxBackoff);
    };
    let dlq: OutMessage[] | undefined;
    /** Set after a commit failed in a way that leaves open whether it took effect. */
    let uncertain = false;
    let result: ChunkResult | undefined;
    for (let attempt = 1; ; attempt++) {
      if (uncertain && result) {
        // A commit whose answer was lost may have committed: sending the chunk again would publish
        // its alerts and dead letters twice.
        try {
          const committed = await this.committedAfterClaim(last, ctx);
          uncertain = false;
          this.failing.delete("kafka");
          if (committed !== undefined && committed > BigInt(last.offset)) {
            this.deps.logger.warn(
              { ...where, attempt },
              "the failed transaction had committed; not sent again",
            );
            this.committedChunk(where, messages.length, result, dlq ?? [], started, ctx);
            return;
          }
        } catch (err) {
          await backOff("kafka", err, attempt, "Kafka unreachable, retrying");
          continue;
        }
      }
      const stateStarted = performance.now();
      try {
        this.fault.reach("crash-before-save");
        result = await this.deps.work(messages);
        if (result.invalid.length < messages.length) this.metrics.redisRoundTrips.add(2);
        this.failing.delete("state");
      } catch (err) {
        if (err instanceof StateConflictError) {
          // Another instance wrote these groups (a rebalance moved the partition): reload and redo.
          this.metrics.stateErrors.add(1, { kind: "conflict" });
          this.deps.logger.warn({ ...where, err, attempt }, "state conflict, retrying the batch from load");
          await this.pause(Math.min(50 * attempt, 1000), ctx);
          continue;
        }
        this.metrics.stateErrors.add(1, { kind: "unavailable" });
        await backOff("state", err, attempt, "state store failed, retrying");
        continue;
      }
      this.fault.reach("crash-after-save");
      const stateMs = performance.now() - stateStarted;

      const { outcome, traceparents } = result;
      dlq ??= result.invalid.map(({ index, reason }) =>
        dlqMessage(messages[index]!, reason, this.opts.dlqTopic),
      );
      const out: OutMessage[] = [];
      [...outcome.republished, ...outcome.alerts].forEach((alert, j) => {
        const traceparent = traceparents[j];
        out.push(alertMessage(alert, { topic: this.opts.alertTopic, source: this.source, traceparent }));
      });
      out.push(...dlq);

      const commitStarted = performance.now();
      try {
        await this.deps.sink.commit(out, offsets);
        this.failing.delete("kafka");
      } catch (err) {
        this.metrics.commitErrors.add(1);
        if (err instanceof PartitionFencedError) {
          this.deps.logger.warn({ ...where, err }, "partition taken over by another instance");
          throw new BatchAbandonedError("partition fenced");
        }
        // An invalid event near the broker's size limit: its dead-letter copy, with the reason headers
        // added, no longer fits. Send its first maxEventBytes instead (past those it was invalid
        // anyway), marked, at once; otherwise the partition would retry for ever behind it.
        if (
          err instanceof MessageTooLargeError &&
          dlq.some((m) => m.value.length > this.opts.maxEventBytes)
        ) {
          dlq = dlq.map((m) => truncatedDlqMessage(m, this.opts.maxEventBytes));
          this.deps.logger.warn(
            { ...where },
            "a dead-letter copy was too large for the broker: sending it cut",
          );
          continue;
        }
        // The state is saved: the retry finds these events seen at the same offsets and republishes,
        // unless the transaction committed after all (checked first).
        uncertain = true;
        await backOff("kafka", err, attempt, "Kafka transaction failed, retrying");
        continue;
      }
      this.fault.reach("crash-after-commit");
      this.deps.logger.debug(
        {
          ...where,
          messages: messages.length,
          out: out.length,
          stateMs,
          commitMs: performance.now() - commitStarted,
          attempt,
        },
        "batch committed",
      );
      this.committedChunk(where, messages.length, result, dlq, started, ctx);
      return;
    }
  }

  /** What follows a chunk's commit: its offset resolved, its figures and spans recorded. */
  private committedChunk(
    where: { topic: string; partition: number; from: string; to: string },
    size: number,
    result: ChunkResult,
    dlq: OutMessage[],
    started: number,
    ctx: BatchHandlerContext,
  ): void {
    ctx.committed?.(where.to);
    if (dlq.length) {
      this.metrics.invalid.add(dlq.length);
      this.deps.logger.warn({ ...where, invalid: dlq.length }, "invalid events sent to the DLQ");
    }
    const { outcome, traceparents } = result;
    this.record(outcome, size, performance.now() - started, traceparents.slice(outcome.republished.length));
    if (outcome.tooLate) this.deps.logger.info({ ...where, tooLate: outcome.tooLate }, "events too late");
  }

  private record(
    outcome: BatchOutcome,
    size: number,
    ms: number,
    traceparents: ReadonlyArray<string | undefined>,
  ): void {
    const m = this.metrics;
    if (outcome.duplicates) m.duplicates.add(outcome.duplicates);
    if (outcome.tooLate) m.tooLate.add(outcome.tooLate);
    if (outcome.evicted) m.evicted.add(outcome.evicted);
    if (outcome.republished.length) m.republished.add(outcome.republished.length);
    outcome.alerts.forEach((alert, i) => {
      m.alerts.add(1, { pattern: alert.pattern.id, severity: alert.pattern.severity });
      recordAlertSpan(alert, traceparents[i]);
    });
    m.batchLatency.record(ms);
    m.batchSize.record(size);
  }

  /** Waits, heartbeating so the group keeps us; gives the batch up when the source is stopping. */
  private async pause(ms: number, ctx: BatchHandlerContext): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (ctx.isStopping()) throw new BatchAbandonedError("stopping while retrying");
      await ctx.heartbeat();
      await sleep(Math.min(250, until - Date.now()));
    }
    if (ctx.isStopping()) throw new BatchAbandonedError("stopping while retrying");
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A dead-letter copy cut to `max` bytes, its original length in `chainwatch-value-truncated`. */
function truncatedDlqMessage(m: OutMessage, max: number): OutMessage {
  const bytes = typeof m.value === "string" ? Buffer.from(m.value) : m.value;
  if (bytes.length <= max) return m;
  return {
    ...m,
    value: bytes.subarray(0, max),
    headers: { ...m.headers, "chainwatch-value-truncated": String(bytes.length) },
  };
}
