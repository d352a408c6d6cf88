import { type Kafka, type Producer as KafkaProducer, Partitioners } from "kafkajs";
import {
  MessageTooLargeError,
  type OutMessage,
  PartitionFencedError,
  type TransactionalSink,
} from "../port.js";
import { toKafkaMessage } from "./messages.js";

export interface TransactionalSinkOptions {
  consumerGroupId: string;
  /** Transactional ids are `<prefix><topic>.<partition>` of the input partition a transaction commits. */
  transactionalIdPrefix: string;
  transactionTimeoutMs?: number;
  /** Test hook: runs (and is awaited) inside the transaction after all sends and `sendOffsets`. */
  beforeCommit?: () => void | Promise<void>;
}

/**
 * The coordinator answers this for a few milliseconds after a commit, while it writes the previous
 * transaction's markers: the next transaction of the same producer meets it whenever a batch follows
 * its predecessor at once. The Java client retries it after ~20 ms; kafkajs waits its whole retry
 * backoff (AddPartitionsToTxn) or fails the step (AddOffsetsToTxn), and a failed step cost the batch an
 * abort, a new producer and the pipeline's backoff.
 */
const CONCURRENT = "CONCURRENT_TRANSACTIONS";
/** Waits between retries of a step met by CONCURRENT_TRANSACTIONS: ~1.3 s in all, then it fails. */
const CONCURRENT_WAITS_MS = [2, 5, 10, 20, 40, 80, 160, 320, 640];
/** The transactional producers' retries: short first waits, for CONCURRENT_TRANSACTIONS above all. */
const PRODUCER_RETRY = { initialRetryTime: 10, maxRetryTime: 2000, retries: 10 };

const FENCED = new Set([
  "INVALID_PRODUCER_EPOCH",
  "PRODUCER_FENCED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

/**
 * One idempotent transactional producer per input partition, with a transactional id derived from
 * that partition. Why per partition: when a partition moves to another instance (rebalance) or the
 * process restarts after a crash, the new owner's `initTransactions` for the same id aborts whatever
 * the previous owner left open and fences it, so a zombie can neither commit offsets nor alerts, and a
 * read_committed reader is never blocked by a dead transaction until its timeout.
 */
export class KafkajsTransactionalSink implements TransactionalSink {
  private readonly producers = new Map<string, Promise<KafkaProducer>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: TransactionalSinkOptions,
  ) {}

  async commit(
    messages: OutMessage[],
    offsets: Array<{ topic: string; partition: number; offset: string }>,
  ): Promise<void> {
    const key =
      [...new Set(offsets.map((o) => partitionKey(o.topic, o.partition)))].sort().join(",") || "none";
    const producer = await this.producerFor(key);
    const txn = await producer.transaction();
    try {
      if (messages.length) {
        const byTopic = new Map<string, OutMessage[]>();
        for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
        await txn.sendBatch({
          topicMessages: [...byTopic].map(([topic, ms]) => ({ topic, messages: ms.map(toKafkaMessage) })),
        });
      }
      if (offsets.length) {
        const topics = new Map<string, Array<{ partition: number; offset: string }>>();
        for (const o of offsets)
          topics.set(o.topic, [...(topics.get(o.topic) ?? []), { partition: o.partition, offset: o.offset }]);
        await whileConcurrent(() =>
          txn.sendOffsets({
            consumerGroupId: this.opts.consumerGroupId,
            topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
          }),
        );
      }
      await this.opts.beforeCommit?.();
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => {});
      // A producer that failed mid-transaction may be in an unusable state: start fresh next time.
      await this.drop(key);
      const type = (err as { type?: string }).type;
      if (type && FENCED.has(type)) throw new PartitionFencedError(key, { cause: err });
      if (refusedAsTooLarge(err)) throw new MessageTooLargeError({ cause: err });
      throw err;
    }
  }

  /**
   * A fresh producer for the partition's transactional id, initialised at once: that fences every
   * other producer of the id (another instance's, or this one's from before it rejoined) and returns
   * only once the id's last transaction is complete: committed, or aborted if it was still open.
   * Offsets read after it are stable.
   */
  async claim(topic: string, partition: number): Promise<void> {
    const key = partitionKey(topic, partition);
    await this.drop(key);
    const producer = await this.producerFor(key);
    try {
      // kafkajs initialises a transactional id with the first transaction; one with nothing in it
      // ends on the client without a request.
      const txn = await producer.transaction();
      await txn.abort();
    } catch (err) {
      await this.drop(key);
      throw err;
    }
  }

  private producerFor(key: string): Promise<KafkaProducer> {
    let p = this.producers.get(key);
    if (!p) {
      p = (async () => {
        const producer = this.kafka.producer({
          transactionalId: `${this.opts.transactionalIdPrefix}${key}`,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: this.opts.transactionTimeoutMs ?? 60_000,
          retry: PRODUCER_RETRY,
          allowAutoTopicCreation: true,
          // Java-compatible murmur2 on the key: a user stays on the partition other clients pick too.
          createPartitioner: Partitioners.DefaultPartitioner,
        });
        await producer.connect();
        return producer;
      })();
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }

  private async drop(key: string): Promise<void> {
    const p = this.producers.get(key);
    this.producers.delete(key);
    if (p) await p.then((producer) => producer.disconnect()).catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((k) => this.drop(k)));
  }
}

/** The producer key (and transactional id suffix) of an input partition, as commits and claims use it. */
function partitionKey(topic: string, partition: number): string {
  return `${topic}.${partition}`;
}

/** Runs a transaction step again while the coordinator is still finishing the previous transaction. */
async function whileConcurrent<T>(step: () => Promise<T>): Promise<T> {
  for (const wait of CONCURRENT_WAITS_MS) {
    try {
      return await step();
    } catch (err) {
      if ((err as { type?: string }).type !== CONCURRENT) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  return step();
}

/** kafkajs's MESSAGE_TOO_LARGE, as it comes or wrapped (a retrier's cause, an aggregate's errors). */
function refusedAsTooLarge(err: unknown, depth = 0): boolean {
  if (typeof err !== "object" || err === null || depth > 4) return false;
  const e = err as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  if (e.type === "MESSAGE_TOO_LARGE") return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => refusedAsTooLarge(x, depth + 1))) return true;
  return refusedAsTooLarge(e.cause, depth + 1) || refusedAsTooLarge(e.originalError, depth + 1);
}
