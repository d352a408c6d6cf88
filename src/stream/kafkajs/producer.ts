import { CompressionTypes, type Kafka, type Producer as KafkaProducer, Partitioners } from "kafkajs";
import type { OutMessage, Producer } from "../port.js";
import { toKafkaMessage } from "./messages.js";

/** A plain (non-transactional, idempotent) producer, for `chainwatch produce` and tests. */
export class KafkajsProducer implements Producer {
  private constructor(private readonly producer: KafkaProducer) {}

  static async connect(kafka: Kafka): Promise<KafkajsProducer> {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      // Java-compatible murmur2 on the key: a user stays on the partition other clients pick too.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return new KafkajsProducer(producer);
  }

  async send(messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const byTopic = new Map<string, OutMessage[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic) ?? [];
      list.push(m);
      byTopic.set(m.topic, list);
    }
    await this.producer.sendBatch({
      acks: -1,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, ms]) => ({ topic, messages: ms.map(toKafkaMessage) })),
    });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
