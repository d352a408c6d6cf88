// Against the real broker: a read_committed kafkajs reader (with the mend of
// src/stream/kafkajs/read-committed-fix.ts) never sees a record of an aborted transaction, even when
// two producers' transactions overlap in a partition and the one that began first aborts last:
// kafkajs 2.2.4 alone handed that transaction's first record to the application.
import { afterAll, describe, expect, it } from "vitest";
import { testKafka, uniqueName } from "../helpers/services.js";

const kafka = testKafka("chainwatch-read-committed-test");
const admin = kafka.admin();
const topic = uniqueName("cw-rc");

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

async function transactional(name: string) {
  const p = kafka.producer({ transactionalId: `${topic}-${name}`, idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  return p;
}

describe("read_committed across overlapping transactions (real broker)", () => {
  it("drops every record of both aborted transactions and keeps the committed one", async () => {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const a = await transactional("a");
    const b = await transactional("b");
    try {
      const ta = await a.transaction();
      await ta.send({ topic, messages: [{ value: "a1 aborted" }] });
      const tb = await b.transaction();
      await tb.send({ topic, messages: [{ value: "b1 aborted" }] });
      await tb.abort();
      await ta.send({ topic, messages: [{ value: "a2 aborted" }] });
      await ta.abort();
      const tc = await b.transaction();
      await tc.send({ topic, messages: [{ value: "b2 committed" }] });
      await tc.commit();
    } finally {
      await Promise.all([a.disconnect(), b.disconnect()]);
    }

    const consumer = kafka.consumer({
      groupId: uniqueName("rc-reader"),
      readUncommitted: false,
      maxWaitTimeInMs: 100,
    });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const committedSeen = new Promise<void>((r) => {
      done = r;
    });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(String(message.value));
        if (String(message.value) === "b2 committed") done();
      },
    });
    await committedSeen;
    await consumer.disconnect();
    expect(seen).toEqual(["b2 committed"]);
  });
});
