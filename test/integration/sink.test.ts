// The service's transactional sink against the real broker: batches of one partition commit back to
// back, as the pipeline sends them, each with its offsets (and sometimes alerts).
import { afterAll, describe, expect, it } from "vitest";
import { KafkajsTransactionalSink } from "../../src/stream/kafkajs/sink.js";
import { testKafka, uniqueName } from "../helpers/services.js";

const kafka = testKafka("chainwatch-sink-test");
const admin = kafka.admin();
const topics: string[] = [];

afterAll(async () => {
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
});

describe("KafkajsTransactionalSink", () => {
  it("commits transactions back to back: a step met by CONCURRENT_TRANSACTIONS is waited out, not failed", async () => {
    await admin.connect();
    const input = uniqueName("cw-sink-in");
    const output = uniqueName("cw-sink-out");
    topics.push(input, output);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [input, output].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
    });
    const groupId = uniqueName("cw-sink-group");
    const sink = new KafkajsTransactionalSink(kafka, {
      consumerGroupId: groupId,
      transactionalIdPrefix: uniqueName("cw-sink-tx-"),
    });
    // The next transaction starts the moment the last commit returns, while the coordinator may still
    // be writing that commit's markers: the case where offsets-only batches failed.
    const commits = 40;
    try {
      for (let n = 1; n <= commits; n++) {
        const messages = n % 4 === 0 ? [{ topic: output, key: "u", value: `alert-${n}`, headers: {} }] : [];
        await sink.commit(messages, [{ topic: input, partition: 0, offset: String(n) }]);
      }
    } finally {
      await sink.close();
    }
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
    expect(offsets?.partitions).toEqual([{ partition: 0, offset: String(commits), metadata: null }]);
  }, 120_000);
});
