import type { Consumer, Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { BatchHandlerContext, ConsumerSource, InBatch } from "../port.js";
import { CommittedOffsets } from "./committed-offsets.js";
import { fromKafkaHeaders } from "./messages.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ConsumerSourceOptions {
  groupId: string;
  topic: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  partitionsConcurrency?: number;
  /** Most bytes a fetch returns per partition (kafkajs' default: 1 MiB). */
  maxBytesPerPartition?: number;
  /** Where a group without committed offsets starts. */
  fromBeginning?: boolean;
}

/** Connection and membership as the readiness probe sees them. */
export interface SourceStatus {
  connected: boolean;
  /** Joined the group and fetching (false before the first join, after a crash or stop). */
  running: boolean;
}

/**
 * A kafkajs batch consumer. Offsets are never committed here (autoCommit off): the transactional
 * sink commits them with the alerts. After a batch is handled, its last offset is resolved so the
 * next fetch moves on; a batch whose handler throws is not resolved and is fetched again.
 */
export class KafkajsConsumerSource implements ConsumerSource {
  private readonly consumer: Consumer;
  private stopping = false;
  private readonly state: SourceStatus = { connected: false, running: false };
  private finished?: Promise<void>;
  private finish?: () => void;
  private onStopRequested?: () => void;
  private readonly offsets: CommittedOffsets;
  /** Group joins so far; a partition is fresh until a batch of it was handled since the last one. */
  private joins = 0;
  private readonly handledSinceJoin = new Map<string, number>();

  constructor(
    kafka: Kafka,
    private readonly opts: ConsumerSourceOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
      rebalanceTimeout: opts.rebalanceTimeoutMs ?? 60_000,
      readUncommitted: false,
      allowAutoTopicCreation: true,
      maxWaitTimeInMs: 100,
      ...(opts.maxBytesPerPartition ? { maxBytesPerPartition: opts.maxBytesPerPartition } : {}),
    });
    this.offsets = new CommittedOffsets(kafka, opts.groupId);
    const ev = this.consumer.events;
    this.consumer.on(ev.CONNECT, () => {
      this.state.connected = true;
    });
    this.consumer.on(ev.DISCONNECT, () => {
      this.state.connected = false;
      this.state.running = false;
    });
    this.consumer.on(ev.GROUP_JOIN, (e) => {
      this.joins++;
      this.state.running = true;
      this.logger.info({ assignment: e.payload.memberAssignment }, "joined consumer group");
    });
    this.consumer.on(ev.REQUEST_TIMEOUT, () => {
      this.state.connected = false;
    });
    this.consumer.on(ev.FETCH, () => {
      this.state.connected = true;
    });
    this.consumer.on(ev.CRASH, (e) => {
      this.state.running = false;
      this.logger.error({ err: e.payload.error, restart: e.payload.restart }, "Kafka consumer crashed");
      if (!e.payload.restart) this.finish?.();
    });
    this.consumer.on(ev.STOP, () => {
      this.state.running = false;
    });
  }

  status(): SourceStatus {
    return { ...this.state };
  }

  async run(onBatch: (batch: InBatch, ctx: BatchHandlerContext) => Promise<void>): Promise<void> {
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
    // A stop while the broker is unreachable ends the wait at once (kafkajs would retry for ~20 s).
    const stopped = new Promise<void>((resolve) => {
      this.onStopRequested = resolve;
    });
    await Promise.race([this.consumer.connect(), stopped]);
    if (this.stopping || !(await this.subscribe())) return;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConcurrency ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (this.stopping || !isRunning() || isStale() || batch.isEmpty()) return;
        const where = `${batch.topic}.${batch.partition}`;
        const join = this.joins;
        const inBatch: InBatch = {
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          messages: batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            headers: fromKafkaHeaders(m.headers),
            timestamp: Number(m.timestamp),
          })),
        };
        try {
          await onBatch(inBatch, {
            isStopping: () => this.stopping || !isRunning(),
            // A heartbeat that reports a rebalance must not abort the batch in hand: the group waits
            // (up to the rebalance timeout) for it to finish and commit before reassigning.
            heartbeat: () => heartbeat().catch(() => {}),
            committed: (offset) => resolveOffset(offset),
            fresh: this.handledSinceJoin.get(where) !== join,
            committedOffset: () => this.offsets.of(batch.topic, batch.partition),
          });
          this.handledSinceJoin.set(where, join);
        } catch (err) {
          // Not committed: leave the offset unresolved so the batch is fetched again (by us or by
          // the partition's new owner). Throwing would make kafkajs restart the whole consumer.
          this.logger.warn({ err, topic: batch.topic, partition: batch.partition }, "batch not committed");
          if (!this.stopping) await sleep(500);
          return;
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last) resolveOffset(last.offset);
      },
    });
    await this.finished;
  }

  /**
   * Subscribes to the input topic, waiting while it does not exist yet: on a fresh deployment the
   * service often starts before the first MCP server produced (and a broker that auto-creates topics
   * creates it on that first use, or an admin does). Meanwhile the service runs, not ready, instead of
   * exiting. False when stopped while waiting.
   */
  private async subscribe(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.consumer.subscribe({
          topics: [this.opts.topic],
          fromBeginning: this.opts.fromBeginning ?? true,
        });
        return true;
      } catch (err) {
        if (this.stopping) return false;
        if (!isMissingTopic(err)) throw err;
        if (attempt === 0)
          this.logger.warn({ topic: this.opts.topic }, "input topic does not exist yet; waiting for it");
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
        if (this.stopping) return false;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.onStopRequested?.();
    try {
      await this.consumer.disconnect();
    } finally {
      await this.offsets.close();
      this.finish?.();
    }
  }
}

/** kafkajs's answer for a topic the broker does not have (yet), or has no leader for yet. */
function isMissingTopic(err: unknown): boolean {
  const type = (err as { type?: unknown }).type;
  return type === "UNKNOWN_TOPIC_OR_PARTITION" || type === "LEADER_NOT_AVAILABLE";
}
