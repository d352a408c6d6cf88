// Proof that the Kafka broker the global setup provides is real and behaves as the stream service
// relies on: keyed partitioning with order per key, headers, consumer groups, and transactions whose
// offsets commit with their output (exactly-once consume → produce).
import type { Consumer, IHeaders, KafkaMessage } from "kafkajs";
import { Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKafka, uniqueName } from "../helpers/services.js";

const kafka = testKafka("chainwatch-kafka-test");
const admin = kafka.admin();
const createdTopics: string[] = [];
const openConsumers: Consumer[] = [];

interface Received {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    out[name] = Array.isArray(value) ? value.map(String).join(",") : String(value);
  }
  return out;
}

function toReceived(partition: number, m: KafkaMessage): Received {
  return {
    partition,
    offset: m.offset,
    key: m.key?.toString("utf8") ?? null,
    value: m.value?.toString("utf8") ?? null,
    headers: headerStrings(m.headers),
  };
}

async function createTopic(prefix: string, numPartitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions, replicationFactor: 1 }],
  });
  createdTopics.push(topic);
  return topic;
}

/**
 * Consumes `topic` from the beginning in a fresh consumer group until `done` says so, and returns
 * everything received. Fails after `timeoutMs` with what it got so far.
 */
async function consumeUntil(
  topic: string,
  done: (received: Received[]) => boolean,
  options: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<Received[]> {
  const consumer = kafka.consumer({
    groupId: uniqueName("cw-test-group"),
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 200,
  });
  openConsumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received: Received[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out consuming ${topic}; got ${JSON.stringify(received)}`)),
        options.timeoutMs ?? 30_000,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            received.push(toReceived(partition, message));
            if (done(received)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

beforeAll(async () => {
  await admin.connect();
});

afterAll(async () => {
  await Promise.all(openConsumers.map((c) => c.disconnect().catch(() => {})));
  if (createdTopics.length > 0) await admin.deleteTopics({ topics: createdTopics }).catch(() => {});
  await admin.disconnect();
});

// Generous per-test limits: a consumer group join and the first transaction take seconds on a busy
// 2-core machine; the waits inside end as soon as the messages are there.
describe("Kafka (real broker)", () => {
  it("delivers keyed messages with headers once each, same key → same partition, in order", async () => {
    const topic = await createTopic("cw-kafka-keyed", 3);
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions).toHaveLength(3);

    const keys = Array.from({ length: 8 }, (_, i) => `user-${i}`);
    const perKey = 12;
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    // Interleave keys and send in several batches, as a real emitter would.
    for (let seq = 0; seq < perKey; seq += 3) {
      const messages = [];
      for (let s = seq; s < seq + 3; s++) {
        for (const key of keys) {
          messages.push({
            key,
            value: JSON.stringify({ key, seq: s }),
            headers: { "x-seq": String(s), "content-type": "application/json", "x-utf8": "héllo ✓" },
          });
        }
      }
      await producer.send({ topic, messages });
    }
    await producer.disconnect();

    const total = keys.length * perKey;
    const received = await consumeUntil(topic, (r) => r.length >= total);

    // Every message exactly once: the log holds exactly `total` records (the producer wrote no
    // duplicates) and the consumer got `total` distinct ones (none twice, none missing).
    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(total);
    expect(received).toHaveLength(total);
    expect(new Set(received.map((r) => r.value)).size).toBe(total);

    const partitionsUsed = new Set<number>();
    for (const key of keys) {
      const mine = received.filter((r) => r.key === key);
      expect(mine).toHaveLength(perKey);
      const partitions = new Set(mine.map((r) => r.partition));
      expect(partitions.size, `key ${key} spread over partitions ${[...partitions]}`).toBe(1);
      partitionsUsed.add(mine[0]!.partition);
      // Received in the order sent: seq ascending, and the offsets ascending with it.
      expect(mine.map((r) => JSON.parse(r.value!).seq)).toEqual(Array.from({ length: perKey }, (_, i) => i));
      const offsets = mine.map((r) => BigInt(r.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      for (const r of mine) {
        expect(r.headers).toEqual({
          "x-seq": String(JSON.parse(r.value!).seq),
          "content-type": "application/json",
          "x-utf8": "héllo ✓",
        });
      }
    }
    // The keys are fixed, so so is their spread; one partition for all would mean keys were ignored.
    expect(partitionsUsed.size).toBeGreaterThan(1);
  }, 90_000);

  it("commits a transaction's output with its consumer offsets (sendOffsets); an aborted one's are invisible to read_committed", async () => {
    const input = await createTopic("cw-kafka-tx-in", 1);
    const output = await createTopic("cw-kafka-tx-out", 1);
    const groupId = uniqueName("cw-kafka-tx-group");

    const plain = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await plain.connect();
    await plain.send({
      topic: input,
      messages: ["in-0", "in-1", "in-2", "in-3"].map((value) => ({ value })),
    });
    await plain.disconnect();

    const producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId: uniqueName("cw-kafka-tx"),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();

    // Processed in-0, in-1: output and the offset of the next input to read commit together.
    const committed = await producer.transaction();
    await committed.send({
      topic: output,
      messages: [
        { key: "u", value: "from-in-0" },
        { key: "u", value: "from-in-1" },
      ],
    });
    await committed.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: "2" }] }],
    });
    await committed.commit();

    // Processed in-2, in-3, then failed: neither the output nor the offsets may take effect.
    const aborted = await producer.transaction();
    await aborted.send({
      topic: output,
      messages: [
        { key: "u", value: "from-in-2" },
        { key: "u", value: "from-in-3" },
      ],
    });
    await aborted.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: "4" }] }],
    });
    await aborted.abort();

    // A last committed transaction marks the end of the output, so the readers know when to stop.
    const last = await producer.transaction();
    await last.send({ topic: output, messages: [{ key: "u", value: "end" }] });
    await last.commit();
    await producer.disconnect();

    const isEnd = (r: Received[]) => r.some((m) => m.value === "end");
    const committedView = await consumeUntil(output, isEnd);
    expect(committedView.map((m) => m.value)).toEqual(["from-in-0", "from-in-1", "end"]);

    // The aborted records were written (a read_uncommitted reader sees them): the filter above is the
    // broker's isolation, not records that never arrived.
    const uncommittedView = await consumeUntil(output, isEnd, { readUncommitted: true });
    expect(uncommittedView.map((m) => m.value)).toEqual([
      "from-in-0",
      "from-in-1",
      "from-in-2",
      "from-in-3",
      "end",
    ]);

    const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
    expect(offsets?.partitions).toEqual([{ partition: 0, offset: "2", metadata: null }]);
  }, 90_000);
});
