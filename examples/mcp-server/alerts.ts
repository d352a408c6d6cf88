/**
 * Creates the demo's topics when missing (events, their dead-letter topic, alerts), then prints
 * chainwatch alerts as they arrive, one JSON object per line, until Ctrl-C.
 *
 *   node --import tsx examples/mcp-server/alerts.ts
 *
 * Reads CHAINWATCH_KAFKA_BROKERS (default 127.0.0.1:9092), CHAINWATCH_INPUT_TOPIC (default
 * mcp.tool-calls), CHAINWATCH_DLQ_TOPIC (default <input>.dlq) and CHAINWATCH_ALERT_TOPIC (default
 * chainwatch.alerts), as `chainwatch run` does.
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";

const brokers = (process.env.CHAINWATCH_KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const topic = process.env.CHAINWATCH_ALERT_TOPIC ?? "chainwatch.alerts";
const input = process.env.CHAINWATCH_INPUT_TOPIC ?? "mcp.tool-calls";
const dlq = process.env.CHAINWATCH_DLQ_TOPIC ?? `${input}.dlq`;
const kafka = new Kafka({ clientId: "chainwatch-example-alerts", brokers, logLevel: logLevel.ERROR });
const admin = kafka.admin();
await admin.connect();
// Existing topics are left as they are.
await admin.createTopics({
  topics: [input, dlq, topic].map((t) => ({ topic: t, numPartitions: 3 })),
  waitForLeaders: true,
});
await admin.disconnect();

const consumer = kafka.consumer({ groupId: `chainwatch-example-alerts-${randomUUID()}` });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: false });
console.error(`waiting for alerts on ${topic} …`);
await consumer.run({
  eachMessage: async ({ message }) => {
    console.log(message.value?.toString("utf8"));
  },
});
const stop = () => consumer.disconnect().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
