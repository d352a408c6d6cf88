/**
 * A batch worker thread: parse, state and engine for the chunks of the partitions the pool gives it,
 * with its own Redis connection and group cache (src/stream/threads/pool.ts). It owns no Kafka
 * connection: the thread that consumes also commits, so a chunk's effects are its save here and the
 * transaction there, in that order, exactly as in one thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Engine } from "../../engine/api.js";
import type { RedisStore } from "../../state/redis/store.js";
import { processBatch } from "../batch.js";
import { inThreadWork } from "../chunk-work.js";
import { createRedis, engineFromSources, redisStoreFor } from "../state-setup.js";
import { decodeChunk, type FromWorker, type ToWorker, toWireError, type WorkerInit } from "./protocol.js";

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

let engine: Engine;
let store: RedisStore;
const redis = createRedis(init.config.redis);
// Connection errors reach the chunk that meets them (and the pipeline's readiness); not thrown here.
redis.on("error", () => {});

try {
  engine = engineFromSources(init.patterns, init.config);
  store = redisStoreFor(engine, redis, init.config);
  redis.connect().catch(() => {});
  post({ op: "ready" });
} catch (err) {
  post({ op: "failed", error: toWireError(err) });
}

const work = inThreadWork({
  current: () => ({ engine, store }),
  processBatch,
  maxEventBytes: init.config.limits.maxEventBytes,
});

port.on("message", (m: ToWorker) => {
  switch (m.op) {
    case "chunk":
      work(decodeChunk(m)).then(
        (result) => post({ op: "done", id: m.id, result }),
        (err) => post({ op: "done", id: m.id, error: toWireError(err) }),
      );
      break;
    case "reload":
      try {
        const next = engineFromSources(m.patterns, init.config);
        const nextStore = redisStoreFor(next, redis, init.config);
        // One assignment point: a chunk reads engine and store together, before or after.
        engine = next;
        store = nextStore;
        post({ op: "done", id: m.id });
      } catch (err) {
        post({ op: "done", id: m.id, error: toWireError(err) });
      }
      break;
    case "close":
      redis.quit().then(
        () => post({ op: "done", id: m.id }),
        () => {
          redis.disconnect();
          post({ op: "done", id: m.id });
        },
      );
      break;
  }
});
