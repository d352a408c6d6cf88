import { testKafka } from "../helpers/services.js";

const kafka = () => testKafka("emitter-test");

export async function createTopic(topic: string, partitions = 1): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export interface ReadMessage {
  key: string | null;
  value: unknown;
}

/**
 * Reads a topic from the beginning until `count` messages came, then `settleMs` longer so extra
 * messages (a duplicate event) show up too; fails after `timeoutMs` saying how many came.
 */
export async function readTopic(
  topic: string,
  count: number,
  { timeoutMs = 20_000, settleMs = 500 } = {},
): Promise<ReadMessage[]> {
  const consumer = kafka().consumer({ groupId: `${topic}-reader`, maxWaitTimeInMs: 100 });
  const got: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${got.length} of ${count} messages from ${topic} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push({
            key: message.key?.toString("utf8") ?? null,
            value: JSON.parse(message.value?.toString("utf8") ?? "null"),
          });
          if (got.length === count) {
            clearTimeout(timer);
            setTimeout(resolve, settleMs);
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}
