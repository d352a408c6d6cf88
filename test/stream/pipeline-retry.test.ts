import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { Detector } from "../../src/engine/detector.js";
import { loadPatternSet } from "../../src/patterns/loader.js";
import { MemoryStore } from "../../src/state/memory.js";
import { StateConflictError, type StateStore, StateUnavailableError } from "../../src/state/store.js";
import { processBatch } from "../../src/stream/batch.js";
import { inThreadWork } from "../../src/stream/chunk-work.js";
import { BatchAbandonedError, Pipeline } from "../../src/stream/pipeline.js";
import {
  type BatchHandlerContext,
  type InBatch,
  type OutMessage,
  PartitionFencedError,
  type TransactionalSink,
} from "../../src/stream/port.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { expectedAlerts, FIXTURE_PATTERNS, generateStream } from "../service/helpers.js";

/**
 * The pipeline's failure paths, with the in-memory store and a recording sink standing in for Kafka
 * (the Kafka and Redis paths are covered against the real servers in test/service/*).
 */
class RecordingSink implements TransactionalSink {
  committed: OutMessage[] = [];
  offsets: string[] = [];
  failures: Error[] = [];
  /** Commits that take effect but whose answer is lost: the caller sees an error. */
  lostAnswers = 0;
  claims = 0;
  async commit(messages: OutMessage[], offsets: Array<{ offset: string }>): Promise<void> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.committed.push(...messages);
    this.offsets.push(...offsets.map((o) => o.offset));
    if (this.lostAnswers > 0) {
      this.lostAnswers--;
      throw new Error("connection closed before the answer");
    }
  }
  async claim(): Promise<void> {
    this.claims++;
  }
  /** The offset the last commit stored, as the broker would answer it. */
  async committedOffset(): Promise<string | undefined> {
    return this.offsets.at(-1);
  }
}

/**
 * Fails the next calls of a kind as planned, then behaves. Loads hand out copies, as Redis does, so a
 * failed save leaves the stored state untouched (the in-memory store otherwise lends live objects).
 */
function flaky(store: StateStore, plan: { load?: Error[]; save?: Error[] }): StateStore {
  return {
    load: async (refs, ids) => {
      const e = plan.load?.shift();
      if (e) throw e;
      const loaded = await store.load(refs, ids);
      return { groups: structuredClone(loaded.groups), seen: loaded.seen };
    },
    save: (batch) => {
      const e = plan.save?.shift();
      return e ? Promise.reject(e) : store.save(batch);
    },
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

function ctx(
  sink: RecordingSink,
  opts: { stopping?: () => boolean; committed?: string[]; fresh?: boolean } = {},
): BatchHandlerContext {
  return {
    isStopping: opts.stopping ?? (() => false),
    heartbeat: async () => {},
    committed: (o) => opts.committed?.push(o),
    fresh: opts.fresh ?? false,
    committedOffset: () => sink.committedOffset(),
  };
}

function batchOf(lines: string[]): InBatch {
  return {
    topic: "in",
    partition: 0,
    highWatermark: String(lines.length),
    messages: lines.map((l, i) => ({
      topic: "in",
      partition: 0,
      offset: String(i),
      key: null,
      value: Buffer.from(l),
      headers: {},
      timestamp: 0,
    })),
  };
}

async function setup(store: StateStore) {
  const engine = new Detector(await loadPatternSet({ patterns: [FIXTURE_PATTERNS] }));
  const sink = new RecordingSink();
  const pipeline = new Pipeline(
    {
      groupId: "g",
      alertTopic: "alerts",
      dlqTopic: "dlq",
      maxEventBytes: 65536,
      batchSize: 40,
      minBackoffMs: 1,
      maxBackoffMs: 5,
    },
    {
      work: inThreadWork({ current: () => ({ engine, store }), processBatch, maxEventBytes: 65536 }),
      sink,
      logger: createLogger("silent"),
    },
  );
  return { sink, pipeline };
}

const alertIds = (messages: OutMessage[]) =>
  messages
    .filter((m) => m.topic === "alerts")
    .map((m) => (JSON.parse(m.value.toString()) as Alert).alert_id)
    .sort();

describe("pipeline failure paths", () => {
  const lines = generateStream({ users: 6, events: 200, seed: 9 });

  it("a failed transaction is retried and the saved batch's alerts are republished from the outbox", async () => {
    const expected = (await expectedAlerts(lines)).map((a) => a.alert_id).sort();
    expect(expected.length).toBeGreaterThan(5);
    const { sink, pipeline } = await setup(new MemoryStore());
    sink.failures = [new Error("broker gone"), new Error("broker gone"), new Error("txn timeout")];
    const committed: string[] = [];
    await pipeline.handle(batchOf(lines), ctx(sink, { committed }));
    expect(alertIds(sink.committed)).toEqual(expected);
    expect(sink.offsets).toEqual(["40", "80", "120", "160", "200"]);
    expect(committed).toEqual(["39", "79", "119", "159", "199"]);
  });

  it("state store failures and conflicts are retried without committing anything in between", async () => {
    const expected = (await expectedAlerts(lines)).map((a) => a.alert_id).sort();
    const store = flaky(new MemoryStore(), {
      load: [new StateUnavailableError("down"), new StateUnavailableError("down")],
      save: [new StateConflictError(["g1"]), new StateUnavailableError("down")],
    });
    const { sink, pipeline } = await setup(store);
    await pipeline.handle(batchOf(lines), ctx(sink));
    expect(alertIds(sink.committed)).toEqual(expected);
    expect(new Set(alertIds(sink.committed)).size).toBe(expected.length);
    expect(pipeline.problems()).toEqual([]);
  });

  it("gives the batch up uncommitted when stopping while the state store is down, and reports it", async () => {
    const down = new StateUnavailableError("connect ECONNREFUSED");
    const store = flaky(new MemoryStore(), { load: Array.from({ length: 1000 }, () => down) });
    const { sink, pipeline } = await setup(store);
    let calls = 0;
    const run = pipeline.handle(batchOf(lines), ctx(sink, { stopping: () => ++calls > 3 }));
    await expect(run).rejects.toBeInstanceOf(BatchAbandonedError);
    expect(sink.committed).toEqual([]);
    expect(pipeline.problems()).toEqual(["state: connect ECONNREFUSED"]);
  });

  it("drops the batch when another instance fenced the partition", async () => {
    const { sink, pipeline } = await setup(new MemoryStore());
    sink.failures = [new PartitionFencedError("in.0")];
    await expect(pipeline.handle(batchOf(lines), ctx(sink))).rejects.toBeInstanceOf(BatchAbandonedError);
    expect(sink.committed).toEqual([]);
  });
  it("a commit that took effect but answered with an error is not sent again", async () => {
    const expected = (await expectedAlerts(lines)).map((a) => a.alert_id).sort();
    const { sink, pipeline } = await setup(new MemoryStore());
    sink.lostAnswers = 2;
    const committed: string[] = [];
    await pipeline.handle(batchOf(lines), ctx(sink, { committed }));
    expect(alertIds(sink.committed)).toEqual(expected);
    expect(sink.offsets).toEqual(["40", "80", "120", "160", "200"]);
    expect(committed).toEqual(["39", "79", "119", "159", "199"]);
    expect(sink.claims).toBe(2);
  });

  it("skips what a re-delivered first batch after a join has already committed, and claims first", async () => {
    const expected = (await expectedAlerts(lines)).map((a) => a.alert_id).sort();
    const { sink, pipeline } = await setup(new MemoryStore());
    await pipeline.handle(batchOf(lines.slice(0, 120)), ctx(sink, { fresh: true }));
    expect(sink.claims).toBe(1);
    // The consumer rejoined and read offset 80, not yet 120: offsets 80..199 come again.
    const again = batchOf(lines);
    again.messages = again.messages.slice(80);
    const committed: string[] = [];
    await pipeline.handle(again, ctx(sink, { fresh: true, committed }));
    expect(sink.claims).toBe(2);
    expect(alertIds(sink.committed)).toEqual(expected);
    expect(sink.offsets).toEqual(["40", "80", "120", "160", "200"]);
    expect(committed).toEqual(["119", "159", "199"]);
  });

  it("a fresh batch the committed offset covers entirely commits nothing", async () => {
    const { sink, pipeline } = await setup(new MemoryStore());
    await pipeline.handle(batchOf(lines), ctx(sink, { fresh: true }));
    const before = sink.committed.length;
    const committed: string[] = [];
    await pipeline.handle(batchOf(lines), ctx(sink, { fresh: true, committed }));
    expect(sink.committed.length).toBe(before);
    expect(committed).toEqual(["199"]);
  });
});
