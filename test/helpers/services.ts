import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Kafka, logLevel } from "kafkajs";
// Test readers filter aborted transactions as the Java client does (kafkajs 2.2.4 lets some through).
import "../../src/stream/kafkajs/read-committed-fix.js";

/**
 * Where the real services are. The vitest global setup (test/setup/services.ts) finds or starts them
 * and exports KAFKA_BROKERS / REDIS_URL before any test file runs.
 */
export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim());
}

/**
 * A kafkajs client of the test broker, its own logs off: kafkajs logs retriable coordinator errors
 * (coordinator loading, concurrent transactions) at ERROR while it retries them; what matters reaches
 * the test as a rejected promise.
 */
export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

export function redisUrl(): string {
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

/** A name no other test run uses: for topics, consumer groups and Redis key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** A TCP port nothing listens on: bound on 127.0.0.1 by the OS's pick, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
