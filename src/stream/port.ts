/**
 * Our own small Kafka interface. The pipeline depends on this, never on kafkajs directly, so the
 * client can be replaced (kafkajs is in maintenance mode).
 */

export type Headers = Record<string, string>;

export interface InMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  /** Broker timestamp, epoch ms. */
  timestamp: number;
}

export interface OutMessage {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer;
  headers?: Headers;
}

export interface InBatch {
  topic: string;
  partition: number;
  messages: InMessage[];
  /** Broker high watermark at fetch time, for lag. */
  highWatermark: string;
}

/** Produces messages and commits consumed offsets in one transaction: all visible, or none. */
export interface TransactionalSink {
  commit(
    messages: OutMessage[],
    offsets: Array<{ topic: string; partition: number; offset: string }>,
  ): Promise<void>;
  /**
   * Makes this sink the only writer for an input partition: resolves once every transaction an
   * earlier writer left (another instance, or this one before a rejoin or a failed commit) is
   * complete, committed or aborted, and that writer can commit nothing more. The partition's
   * committed offset read after it is final.
   */
  claim(topic: string, partition: number): Promise<void>;
}

/**
 * Thrown by a sink when another instance took over the input partition (its producer fenced ours):
 * the batch must be dropped, not retried.
 */
export class PartitionFencedError extends Error {
  constructor(partition: string, options?: { cause?: unknown }) {
    super(`transactional producer for ${partition} was fenced by another instance`, options);
    this.name = "PartitionFencedError";
  }
}

/** Thrown by a sink when the broker refused a message of the transaction as larger than it accepts. */
export class MessageTooLargeError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("the broker refused a message larger than it accepts", options);
    this.name = "MessageTooLargeError";
  }
}

export interface BatchHandlerContext {
  /** True once the source is stopping: finish the batch in hand, take no new one. */
  isStopping(): boolean;
  heartbeat(): Promise<void>;
  /**
   * The handler committed the batch up to and including `offset` (a batch may be committed in
   * parts): if the rest of it fails, the part already committed is not fetched again.
   */
  committed?(offset: string): void;
  /**
   * True for the first batch of the partition since the consumer (re)joined its group. The source
   * read the partition's committed offset at the join, possibly while the previous owner's last
   * transaction was still being applied: the batch may begin with events that are already committed.
   */
  fresh: boolean;
  /** The partition's committed offset for the group, read from the broker now (none: undefined). */
  committedOffset(): Promise<string | undefined>;
}

export interface ConsumerSource {
  /** Runs until `stop`; `onBatch` is awaited, batches of one partition never overlap. */
  run(onBatch: (batch: InBatch, ctx: BatchHandlerContext) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface Producer {
  send(messages: OutMessage[]): Promise<void>;
  close(): Promise<void>;
}
