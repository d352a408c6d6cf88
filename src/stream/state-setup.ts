import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config/load.js";
import type { Engine } from "../engine/api.js";
import { Detector } from "../engine/detector.js";
import type { PatternSet } from "../patterns/compiled.js";
import { type LoadedPatternSet, loadPatternSet, patternSetFromJson } from "../patterns/loader.js";
import { RedisStore } from "../state/redis/store.js";

/** What a worker thread needs to build the same pattern set: the JSON it was read from. */
export type PatternSources = LoadedPatternSet["sources"];

/** The configured pattern set (none configured = the built-in library) and its engine. */
export async function loadEngine(
  config: Pick<Config, "patterns" | "taxonomy" | "limits">,
): Promise<{ engine: Engine; sources: PatternSources }> {
  const set = await loadPatternSet({ patterns: config.patterns, taxonomies: config.taxonomy });
  return { engine: detectorOf(set, config), sources: set.sources };
}

/** The engine of an already-loaded set, from its JSON (the thread that loaded it validated it). */
export function engineFromSources(sources: PatternSources, config: Pick<Config, "limits">): Engine {
  return detectorOf(patternSetFromJson(sources.patterns, sources.taxonomies), config);
}

function detectorOf(set: PatternSet, config: Pick<Config, "limits">): Engine {
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

/** The store keeps only the fields the engine's patterns read, so it follows the engine. */
export function redisStoreFor(
  engine: Engine,
  redis: Redis,
  config: Pick<Config, "redis" | "kafka">,
): RedisStore {
  return new RedisStore({
    redis,
    prefix: config.redis.prefix,
    fields: engine.storedFields,
    topic: config.kafka.inputTopic,
    retentionMs: engine.retentionMs,
  });
}
