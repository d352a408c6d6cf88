import type { Redis } from "ioredis";
import type { Config } from "../config/load.js";
import type { Engine } from "../engine/api.js";
import type { StateStore } from "../state/store.js";
import type { Readiness } from "../telemetry/http.js";
import type { Logger } from "../telemetry/logger.js";
import { createStreamMetrics, type StreamMetrics } from "../telemetry/metrics.js";
import { processBatch } from "./batch.js";
import { type ChunkWork, inThreadWork, type ProcessBatch } from "./chunk-work.js";
import { type FaultHook, noFaults } from "./fault.js";
import { createKafka } from "./kafkajs/client.js";
import { KafkajsTransactionalSink } from "./kafkajs/sink.js";
import { KafkajsConsumerSource } from "./kafkajs/source.js";
import { Pipeline } from "./pipeline.js";
import { createRedis, loadEngine, type PatternSources, redisStoreFor } from "./state-setup.js";
import { WorkerPool } from "./threads/pool.js";
import { withTimeout } from "./timeout.js";

export { createRedis, loadEngine };

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  fault?: FaultHook;
  /** The pattern set already loaded from `config.patterns` (default: loaded by `start`). */
  patterns?: { engine: Engine; sources: PatternSources };
  metrics?: StreamMetrics;
  /**
   * Overrides for the bench's cost breakdown (defaults: a RedisStore per engine, `processBatch`); with
   * either, the batch work runs in this thread whatever `limits.workerThreads` says.
   */
  storeFor?: (engine: Engine) => StateStore;
  processBatch?: ProcessBatch;
}

/**
 * `chainwatch run` without the process concerns: Kafka source → pipeline → transactional sink, with
 * Redis state. `start` resolves once consuming has begun; `stopped` resolves when it ends.
 */
export class StreamService {
  private engine!: Engine;
  private redis!: Redis;
  private store!: StateStore;
  private source!: KafkajsConsumerSource;
  private sink!: KafkajsTransactionalSink;
  private pipeline!: Pipeline;
  /** The batch workers, when `limits.workerThreads` > 0 (else the batch work runs in this thread). */
  private pool?: WorkerPool;
  private running?: Promise<void>;
  private stopping?: Promise<void>;
  private readonly metrics: StreamMetrics;

  constructor(private readonly opts: ServiceOptions) {
    this.metrics = opts.metrics ?? createStreamMetrics();
  }

  async start(): Promise<void> {
    const { config, logger } = this.opts;
    const patterns = this.opts.patterns ?? (await loadEngine(config));
    this.engine = patterns.engine;
    // This thread's Redis client serves readiness (and the state, when no worker threads do).
    this.redis = createRedis(config.redis);
    this.redis.on("error", (err) => logger.debug({ err: err.message }, "redis connection error"));
    this.redis.connect().catch((err) => logger.warn({ err: err.message }, "redis not reachable yet"));
    this.store = this.storeFor(this.engine);
    const threads = this.opts.storeFor || this.opts.processBatch ? 0 : config.limits.workerThreads;
    let work: ChunkWork;
    if (threads > 0) {
      this.pool = new WorkerPool({ threads, config, patterns: patterns.sources, logger });
      await this.pool.start();
      // A stop asked for while the workers started has closed them: consume nothing.
      if (this.stopping) return;
      logger.info({ workerThreads: threads }, "batch work on worker threads");
      work = this.pool.work;
    } else {
      work = inThreadWork({
        current: () => ({ engine: this.engine, store: this.store }),
        processBatch: this.opts.processBatch ?? processBatch,
        maxEventBytes: config.limits.maxEventBytes,
      });
    }
    const kafka = createKafka(config.kafka, logger);
    const fault = this.opts.fault ?? noFaults;
    this.sink = new KafkajsTransactionalSink(kafka, {
      consumerGroupId: config.kafka.groupId,
      transactionalIdPrefix: `chainwatch.${config.kafka.groupId}.`,
      beforeCommit: () => fault.reach("crash-mid-transaction"),
    });
    this.source = new KafkajsConsumerSource(
      kafka,
      {
        groupId: config.kafka.groupId,
        topic: config.kafka.inputTopic,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
        rebalanceTimeoutMs: config.kafka.rebalanceTimeoutMs,
        partitionsConcurrency: config.kafka.partitionsConcurrency,
        maxBytesPerPartition: config.kafka.maxBytesPerPartition,
      },
      logger,
    );
    this.pipeline = new Pipeline(
      {
        groupId: config.kafka.groupId,
        alertTopic: config.kafka.alertTopic,
        dlqTopic: config.kafka.dlqTopic,
        maxEventBytes: config.limits.maxEventBytes,
        batchSize: config.limits.batchSize,
      },
      {
        work,
        sink: this.sink,
        logger,
        metrics: this.metrics,
        fault,
      },
    );
    this.running = this.source.run(this.pipeline.handle);
    this.running.catch(() => {});
  }

  /** Worker threads doing the batch work (0: it runs in the Kafka thread). */
  get workerThreads(): number {
    return this.pool ? this.opts.config.limits.workerThreads : 0;
  }

  /** The store keeps only the fields the engine's patterns read, so it follows the engine. */
  private storeFor(engine: Engine): StateStore {
    if (this.opts.storeFor) return this.opts.storeFor(engine);
    return redisStoreFor(engine, this.redis, this.opts.config);
  }

  /** Resolves when consuming ends (after `stop`, or when the consumer gave up); rejects on failure. */
  get stopped(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Swaps the engine between batches. Throws (and keeps the old one) if the new set is invalid. */
  async reload(): Promise<void> {
    try {
      const next = await loadEngine(this.opts.config);
      const store = this.storeFor(next.engine);
      await this.pool?.reload(next.sources);
      // One assignment point: a batch attempt reads engine and store together, before or after.
      this.engine = next.engine;
      this.store = store;
      this.metrics.reloads.add(1, { result: "ok" });
    } catch (err) {
      this.metrics.reloads.add(1, { result: "error" });
      throw err;
    }
  }

  async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    const status = this.source?.status();
    if (!status?.connected) reasons.push("kafka: not connected");
    if (!status?.running) reasons.push("consumer: not running");
    try {
      await withTimeout(this.store.ping(), 1000, "no answer within 1s");
    } catch (err) {
      reasons.push(`redis: ${err instanceof Error ? err.message : String(err)}`);
    }
    reasons.push(...(this.pipeline?.problems() ?? []));
    return { ready: reasons.length === 0, reasons: [...new Set(reasons)] };
  }

  /** Finishes the batch in hand (it commits), leaves the group, closes connections. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.source?.stop();
      await this.running?.catch(() => {});
      await this.sink?.close();
      await this.pool?.close();
      await this.store?.close();
      this.redis?.disconnect();
    })();
    return this.stopping;
  }
}
