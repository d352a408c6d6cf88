// Against the real broker and Redis: a partition's batch delivered again after its transaction
// committed (kafkajs reads committed offsets at a join without waiting for a transaction still being
// applied) publishes nothing twice; and a claim ends what an earlier owner left open.
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { processBatch } from "../../src/stream/batch.js";
import { inThreadWork } from "../../src/stream/chunk-work.js";
import { CommittedOffsets } from "../../src/stream/kafkajs/committed-offsets.js";
import { KafkajsTransactionalSink } from "../../src/stream/kafkajs/sink.js";
import { Pipeline } from "../../src/stream/pipeline.js";
import { type BatchHandlerContext, type InBatch, PartitionFencedError } from "../../src/stream/port.js";
import { createRedis, loadEngine, redisStoreFor } from "../../src/stream/state-setup.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { testKafka } from "../helpers/services.js";
import {
  alertsOf,
  createTopics,
  expectedAlerts,
  generateStream,
  ids,
  produceLines,
  readTopic,
  serviceEnv,
} from "../service/helpers.js";

const kafka = testKafka("chainwatch-redelivery-test");
const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
});

async function setup(name: string) {
  const t = serviceEnv(name);
  const config = loadConfig({ env: t.env });
  await createTopics([t.input, t.alerts, `${t.input}.dlq`], 1);
  const { engine } = await loadEngine(config);
  const redis = createRedis(config.redis);
  await redis.connect();
  closers.push(async () => redis.disconnect());
  const store = redisStoreFor(engine, redis, config);
  const sink = () => {
    const s = new KafkajsTransactionalSink(kafka, {
      consumerGroupId: t.group,
      transactionalIdPrefix: `chainwatch.${t.group}.`,
    });
    closers.push(() => s.close());
    return s;
  };
  const offsets = new CommittedOffsets(kafka, t.group);
  closers.push(() => offsets.close());
  const pipelineWith = (s: KafkajsTransactionalSink) =>
    new Pipeline(
      {
        groupId: t.group,
        alertTopic: t.alerts,
        dlqTopic: `${t.input}.dlq`,
        maxEventBytes: config.limits.maxEventBytes,
        batchSize: 25,
        minBackoffMs: 10,
        maxBackoffMs: 50,
      },
      {
        work: inThreadWork({
          current: () => ({ engine, store }),
          processBatch,
          maxEventBytes: config.limits.maxEventBytes,
        }),
        sink: s,
        logger: createLogger("silent"),
      },
    );
  const ctx = (): BatchHandlerContext => ({
    isStopping: () => false,
    heartbeat: async () => {},
    fresh: true,
    committedOffset: () => offsets.of(t.input, 0),
  });
  return { t, sink, pipelineWith, ctx, offsets };
}

const batchOf = (messages: InBatch["messages"]): InBatch => ({
  topic: messages[0]!.topic,
  partition: 0,
  highWatermark: String(BigInt(messages.at(-1)!.offset) + 1n),
  messages,
});

describe("re-delivery after a commit (real Kafka + Redis)", () => {
  it("a batch delivered again after its transaction committed publishes no alert or dead letter twice", async () => {
    const { t, sink, pipelineWith, ctx, offsets } = await setup("redeliver");
    const lines = generateStream({ users: 5, events: 120, invalidEvery: 30, seed: 3 });
    await produceLines(t.input, lines);
    const input = await readTopic(t.input, { count: lines.length });
    expect(input.length).toBe(lines.length);
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(3);

    const pipeline = pipelineWith(sink());
    await pipeline.handle(batchOf(input), ctx());
    // The consumer rejoined and was handed the offset of before the last commits: from the middle on,
    // the same messages come again, its first batch since the join.
    await pipeline.handle(batchOf(input.slice(60)), ctx());
    expect(await offsets.of(t.input, 0)).toBe(String(input.length));

    const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length }));
    expect(ids(alerts)).toEqual(ids(expected));
    const dlq = await readTopic(`${t.input}.dlq`, { count: 4 });
    expect(dlq.map((m) => m.value!.toString()).sort()).toEqual(
      lines.filter((l) => !l.includes('"timestamp"')).sort(),
    );
  }, 60_000);

  it("a claim aborts the transaction an earlier owner left open and fences it; what it sent is never read", async () => {
    const { t, sink, offsets } = await setup("claim");
    const first = sink();
    await first.commit([], [{ topic: t.input, partition: 0, offset: "5" }]);
    // The earlier owner's next transaction: alert and offset sent, held open before its commit.
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let reachedCommit!: () => void;
    const atCommit = new Promise<void>((r) => {
      reachedCommit = r;
    });
    const zombie = new KafkajsTransactionalSink(kafka, {
      consumerGroupId: t.group,
      transactionalIdPrefix: `chainwatch.${t.group}.`,
      beforeCommit: () => {
        reachedCommit();
        return held;
      },
    });
    closers.push(() => zombie.close());
    const open = zombie.commit(
      [{ topic: t.alerts, key: "u", value: "from the zombie" }],
      [{ topic: t.input, partition: 0, offset: "10" }],
    );
    await atCommit;
    const owner = sink();
    await owner.claim(t.input, 0);
    expect(await offsets.of(t.input, 0)).toBe("5");
    release();
    await expect(open).rejects.toBeInstanceOf(PartitionFencedError);
    await owner.commit(
      [{ topic: t.alerts, key: "u", value: "from the owner" }],
      [{ topic: t.input, partition: 0, offset: "10" }],
    );
    const read = await readTopic(t.alerts, { count: 1 });
    expect(read.map((m) => m.value!.toString())).toEqual(["from the owner"]);
    expect(await offsets.of(t.input, 0)).toBe("10");
  }, 60_000);
});
