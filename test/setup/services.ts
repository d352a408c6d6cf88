/**
 * vitest global setup: find or start the real Kafka broker and Redis the integration tests talk to,
 * then export their addresses as KAFKA_BROKERS / REDIS_URL (test workers inherit the environment;
 * test/helpers/services.ts reads it).
 *
 * - KAFKA_BROKERS / REDIS_URL already set: use them; they must answer.
 * - Otherwise 127.0.0.1:9092 / :6379: used when something answers; else started with
 *   deploy/kafka.sh / deploy/redis.sh.
 * A Redis started here is stopped in teardown. A Kafka broker started here is left running: it takes
 * a while to start and later test runs reuse it (`npm run kafka:stop` stops it).
 * A service that cannot be had fails the run with what is missing; nothing is skipped silently.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";

const repoRoot = resolve(import.meta.dirname, "../..");
const defaultBrokers = "127.0.0.1:9092";
const defaultRedisUrl = "redis://127.0.0.1:6379";

/** True when a broker in the list answers a metadata request. */
async function kafkaAnswers(brokers: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: "chainwatch-test-setup",
    brokers: brokers.split(",").map((b) => b.trim()),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

interface ScriptResult {
  ok: boolean;
  output: string;
}

function runScript(script: string, command: string): Promise<ScriptResult> {
  return new Promise((done) => {
    execFile(
      "bash",
      [resolve(repoRoot, "deploy", script), command],
      { cwd: repoRoot, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => done({ ok: error === null, output: `${stdout}${stderr}` }),
    );
  });
}

function logScriptOutput(output: string): void {
  if (output.trim()) process.stderr.write(`${output.trimEnd().replace(/^/gm, "[test setup] ")}\n`);
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function ensureKafka(): Promise<void> {
  const given = process.env.KAFKA_BROKERS;
  if (given) {
    if (!(await kafkaAnswers(given))) {
      throw new Error(
        `KAFKA_BROKERS=${given} is set but no Kafka broker answers there; ` +
          "fix the address, or unset it to use (or start) the local broker on 127.0.0.1:9092",
      );
    }
    return;
  }
  if (!(await kafkaAnswers(defaultBrokers))) {
    process.stderr.write("[test setup] no Kafka on 127.0.0.1:9092; starting one with deploy/kafka.sh\n");
    const started = await runScript("kafka.sh", "start");
    logScriptOutput(started.output);
    // Judged by whether a broker answers now: a start that lost a race to another checkout's broker
    // failed, yet there is a broker to use.
    if (!(await kafkaAnswers(defaultBrokers))) {
      throw new Error(
        `Kafka not reachable at ${defaultBrokers} and deploy/kafka.sh start failed:\n${tail(started.output)}\n` +
          "It needs java and mvn (Maven Central) for a local broker; " +
          "or set KAFKA_BROKERS=host:port to use an existing broker.",
      );
    }
  }
  process.env.KAFKA_BROKERS = defaultBrokers;
}

/** Returns the teardown for a Redis this setup started, if any. */
async function ensureRedis(): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.REDIS_URL;
  if (given) {
    if (!(await redisAnswers(given))) {
      throw new Error(
        `REDIS_URL=${given} is set but no Redis answers there; ` +
          "fix the address, or unset it to use (or start) the local Redis on 127.0.0.1:6379",
      );
    }
    return undefined;
  }
  process.env.REDIS_URL = defaultRedisUrl;
  if (await redisAnswers(defaultRedisUrl)) return undefined;

  process.stderr.write("[test setup] no Redis on 127.0.0.1:6379; starting one with deploy/redis.sh\n");
  const started = await runScript("redis.sh", "start");
  logScriptOutput(started.output);
  if (!(await redisAnswers(defaultRedisUrl))) {
    throw new Error(
      `Redis not reachable at ${defaultRedisUrl} and deploy/redis.sh start failed:\n${tail(started.output)}\n` +
        "Install redis-server (Debian: apt-get install -y redis-server), " +
        "or set REDIS_URL=redis://host:port to use an existing Redis.",
    );
  }
  return async () => {
    const stopped = await runScript("redis.sh", "stop");
    if (!stopped.ok) process.stderr.write(`[test teardown] deploy/redis.sh stop: ${stopped.output}\n`);
  };
}

export default async function setup(): Promise<() => Promise<void>> {
  const [kafka, redis] = await Promise.allSettled([ensureKafka(), ensureRedis()]);
  const stopRedis = redis.status === "fulfilled" ? redis.value : undefined;
  const failures = [kafka, redis].flatMap((r) =>
    r.status === "rejected" ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : [],
  );
  if (failures.length > 0) {
    await stopRedis?.();
    throw new Error(failures.join("\n\n"));
  }
  return async () => {
    await stopRedis?.();
  };
}
