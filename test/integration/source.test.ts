import { Partitioners } from "kafkajs";
import { describe, expect, it } from "vitest";
import { KafkajsConsumerSource } from "../../src/stream/kafkajs/source.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { testKafka, uniqueName } from "../helpers/services.js";

const kafka = testKafka("chainwatch-source-test");
const MESSAGES = 30;

/** A one-partition topic holding MESSAGES records of ~200 bytes, each in its own record batch. */
async function topicOfSmallBatches(): Promise<string> {
  const topic = uniqueName("source");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (let i = 0; i < MESSAGES; i++)
    await producer.send({ topic, messages: [{ key: "u", value: `${i}`.padEnd(200, ".") }] });
  await producer.disconnect();
  return topic;
}

/** The sizes of the batches a source hands out until it has seen every message. */
async function batchSizes(topic: string, maxBytesPerPartition?: number): Promise<number[]> {
  const source = new KafkajsConsumerSource(
    kafka,
    { groupId: uniqueName("source-group"), topic, maxBytesPerPartition },
    createLogger("silent"),
  );
  const sizes: number[] = [];
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    void source.run(async (batch) => {
      sizes.push(batch.messages.length);
      seen += batch.messages.length;
      if (seen >= MESSAGES) resolve();
    });
  });
  await done;
  await source.stop();
  return sizes;
}

describe("KafkajsConsumerSource (real broker)", () => {
  it("fetches at most kafka.maxBytesPerPartition per partition: smaller batches below the default", {
    timeout: 60_000,
  }, async () => {
    const topic = await topicOfSmallBatches();
    const small = await batchSizes(topic, 1024);
    const whole = await batchSizes(topic);
    expect(small.reduce((a, b) => a + b, 0)).toBe(MESSAGES);
    // 1 KiB holds a few of these record batches (the broker always returns at least one).
    expect(Math.max(...small)).toBeLessThanOrEqual(5);
    expect(small.length).toBeGreaterThanOrEqual(MESSAGES / 5);
    // The default (1 MiB) returns the whole backlog in one fetch.
    expect(whole).toEqual([MESSAGES]);
  });
});
