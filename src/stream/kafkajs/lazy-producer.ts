import { Kafka, type Producer as KafkaProducer, logLevel, Partitioners } from "kafkajs";
import type { OutMessage, Producer } from "../port.js";
import { type KafkajsLogSink, type KafkaSecurity, kafkajsLogCreator, kafkajsSecurity } from "./client.js";

export interface EmitterKafkaOptions extends KafkaSecurity {
  brokers: string[];
  clientId: string;
  /** Where kafkajs's warnings and errors go (a pino logger, or what forwards them from a worker). */
  logger: KafkajsLogSink;
}

/**
 * The emitter's kafkajs producer. Unlike the service's producer it connects lazily, on the first
 * send, so instrumenting a server never waits for (or fails on) Kafka; a failed connect is just a
 * failed send that the delivery loop retries. Idempotent (acks all, at most 5 requests in flight)
 * so the retries never duplicate or reorder a user's events.
 */
export class EmitterKafkaProducer implements Producer {
  private readonly producer: KafkaProducer;
  private connecting: Promise<void> | undefined;

  constructor(opts: EmitterKafkaOptions) {
    const kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      ...kafkajsSecurity(opts),
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { initialRetryTime: 100, maxRetryTime: 5_000, retries: 5 },
      // kafkajs logs to stdout by default, which is the protocol channel of a stdio MCP server.
      logLevel: logLevel.WARN,
      logCreator: kafkajsLogCreator(opts.logger),
    });
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: true,
      // murmur2 on the key, as the Java client: every emitter (Python's with `murmur2_random`) puts a
      // user on the same partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded, so a request against a dead broker fails and the delivery loop takes over.
      retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 },
    });
  }

  async send(messages: OutMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.connect();
    const byTopic = new Map<string, OutMessage[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic);
      if (list) list.push(m);
      else byTopic.set(m.topic, [m]);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, ms]) => ({
        topic,
        messages: ms.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      })),
    });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }

  private connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }
}
