// A connected kafkajs client built by our adapter sits still while idle: kafkajs 2.2.4 re-armed a 1 ms
// timer on every broker connection for ever (src/stream/kafkajs/request-queue-fix.ts).
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createKafka } from "../../src/stream/kafkajs/client.js";
import { RequestQueue } from "../../src/stream/kafkajs/request-queue-fix.js";
import { kafkaBrokers, testKafka, uniqueName } from "../helpers/services.js";

const admin = testKafka("chainwatch-idle-test").admin();
const topic = uniqueName("cw-idle");

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

describe("kafkajs connections at rest (real broker)", () => {
  it("look at their request queues no more than a few times in half a second once idle", async () => {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const kafka = createKafka(
      { brokers: kafkaBrokers(), clientId: "chainwatch-idle" },
      pino({ level: "silent" }),
    );
    const producer = kafka.producer();
    await producer.connect();
    const proto = RequestQueue!.prototype as unknown as { checkPendingRequests(): void };
    const original = proto.checkPendingRequests;
    let checks = 0;
    proto.checkPendingRequests = function (this: unknown) {
      checks++;
      return original.call(this);
    };
    try {
      for (let i = 0; i < 5; i++) await producer.send({ topic, messages: [{ key: "u", value: `m${i}` }] });
      await new Promise((r) => setTimeout(r, 50));
      const before = checks;
      await new Promise((r) => setTimeout(r, 500));
      // Unmended: one look per millisecond per connection, several hundred here.
      expect(checks - before).toBeLessThan(5);
    } finally {
      proto.checkPendingRequests = original;
      await producer.disconnect();
    }
  });
});
