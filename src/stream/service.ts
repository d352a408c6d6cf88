import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config/load.js";
import type { Engine } from "../engine/api.js";
import { Detector } from "../engine/detector.js";
import { loadPatternSet } from "../patterns/loader.js";
import { RedisStore } from "../state/redis/store.js";
import type { StateStore } from "../state/store.js";
import type { Readiness } from "../telemetry/http.js";
import type { Logger } from "../telemetry/logger.js";
import { createStreamMetrics, type StreamMetrics } from "../telemetry/metrics.js";
import { processBatch } from "./batch.js";
import { type FaultHook, noFaults } from "./fault.js";
import { createKafka } from "./kafkajs/client.js";
import { KafkajsTransactionalSink } from "./kafkajs/sink.js";
import { KafkajsConsumerSource } from "./kafkajs/source.js";
import { Pipeline, type ProcessBatch } from "./pipeline.js";

export async function loadEngine(config: Pick<Config, "patterns" | "taxonomy" | "limits">): Promise<Engine> {
  // No patterns configured = the built-in library (and its taxonomy).
  const set = await loadPatternSet({ patterns: config.patterns, taxonomies: config.taxonomy });
  return new Detector(set, { maxEventsPerGroup: config.limits.maxEventsPerGroup });
}

export function createRedis(config: Config["redis"]): Redis {
  const options: RedisOptions = {
    connectTimeout: 2000,
    commandTimeout: 5000,
    // Fail fast while Redis is down: the pipeline retries the batch with backoff and reports not ready.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
    lazyConnect: true,
  };
  if (config.username !== undefined) options.username = config.username;
  if (config.password !== undefined) options.password = config.password;
  if (config.tlsCaFile) options.tls = { ca: [readFileSync(config.tlsCaFile, "utf8")] };
  return new Redis(config.url, options);
}

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  fault?: FaultHook;
  /** Override for tests and the bench (default: loaded from `config.patterns`). */
  engine?: Engine;
  metrics?: StreamMetrics;
  /** Overrides for the bench's cost breakdown (defaults: a RedisStore per engine, `processBatch`). */
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
  private running?: Promise<void>;
  private stopping?: Promise<void>;
  private readonly metrics: StreamMetrics;

  constructor(private readonly opts: ServiceOptions) {
    this.metrics = opts.metrics ?? createStreamMetrics();
  }

  async start(): Promise<void> {
    const { config, logger } = this.opts;
    this.engine = this.opts.engine ?? (await loadEngine(config));
    this.redis = createRedis(config.redis);
    this.redis.on("error", (err) => logger.debug({ err: err.message }, "redis connection error"));
    this.redis.connect().catch((err) => logger.warn({ err: err.message }, "redis not reachable yet"));
    this.store = this.storeFor(this.engine);
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
        current: () => ({ engine: this.engine, store: this.store }),
        sink: this.sink,
        processBatch: this.opts.processBatch ?? processBatch,
        logger,
        metrics: this.metrics,
        fault,
      },
    );
    this.running = this.source.run(this.pipeline.handle);
    this.running.catch(() => {});
  }

  /** The store keeps only the fields the engine's patterns read, so it follows the engine. */
  private storeFor(engine: Engine): StateStore {
    if (this.opts.storeFor) return this.opts.storeFor(engine);
    return new RedisStore({
      redis: this.redis,
      prefix: this.opts.config.redis.prefix,
      fields: engine.storedFields,
      topic: this.opts.config.kafka.inputTopic,
      retentionMs: engine.retentionMs,
    });
  }

  /** Resolves when consuming ends (after `stop`, or when the consumer gave up); rejects on failure. */
  get stopped(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Swaps the engine between batches. Throws (and keeps the old one) if the new set is invalid. */
  async reload(): Promise<void> {
    try {
      const next = await loadEngine(this.opts.config);
      const store = this.storeFor(next);
      // One assignment point: a batch attempt reads engine and store together, before or after.
      this.engine = next;
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
      await this.store?.close();
      this.redis?.disconnect();
    })();
    return this.stopping;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
