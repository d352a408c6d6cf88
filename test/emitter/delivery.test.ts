import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Delivery } from "../../src/emitter/delivery.js";
import { hashArguments } from "../../src/emitter/redact.js";
import type { OutMessage, Producer } from "../../src/stream/port.js";
import { buildWith, callRecord } from "./call-record.js";

// The delivery loop's own rules (batching, linger, retry, permanent errors, flush), with a scripted
// producer so each failure happens exactly when wanted. Kafka itself is in instrument.test.ts.

/** Call i: its event carries `arguments.i` (the policy below allows it). */
const call = (i: number, user = `u-${i % 3}`) =>
  callRecord({ receivedAt: 1_700_000_000_000 + i, rawArguments: { i }, userId: user });
const sent = (m: OutMessage) => JSON.parse(m.value as string).arguments.i as number;

class ScriptedProducer implements Producer {
  batches: OutMessage[][] = [];
  failures: unknown[] = [];
  closed = false;
  async send(messages: OutMessage[]): Promise<void> {
    await new Promise((r) => setTimeout(r, 1));
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.batches.push(messages);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const make = (producer: Producer, over: Partial<ConstructorParameters<typeof Delivery>[0]> = {}) =>
  new Delivery({
    producer,
    topic: "calls",
    queueSize: 10_000,
    batchSize: 500,
    lingerMs: 5,
    logger: pino({ level: "silent" }),
    warnIntervalMs: 30_000,
    build: buildWith(["i"]),
    ...over,
  });

describe("Delivery", () => {
  it("batches up to batchSize, keyed by user, in order", async () => {
    const producer = new ScriptedProducer();
    const d = make(producer);
    for (let i = 0; i < 1200; i++) d.push(call(i), false);
    await d.flush();
    expect(producer.batches.map((b) => b.length)).toEqual([500, 500, 200]);
    const all = producer.batches.flat();
    expect(all.map(sent)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    // Each event built from its call record here, as the producer thread builds it.
    expect(JSON.parse(all[7]!.value as string)).toMatchObject({
      timestamp: 1_700_000_000_007,
      user_id: "u-1",
      server: "s",
      tool: "t",
      arguments: { i: 7 },
      arguments_hash: hashArguments({ i: 7 }),
    });
    expect(all.every((m) => m.topic === "calls" && m.key === JSON.parse(m.value as string).user_id)).toBe(
      true,
    );
    expect(d.stats()).toMatchObject({ emitted: 1200, sent: 1200, dropped: 0, queued: 0 });
  });

  it("lingers: events pushed close together share a request", async () => {
    const producer = new ScriptedProducer();
    const d = make(producer, { lingerMs: 30 });
    d.push(call(0), false);
    await new Promise((r) => setTimeout(r, 5));
    d.push(call(1), false);
    d.push(call(2), true);
    await new Promise((r) => setTimeout(r, 80));
    expect(producer.batches.map((b) => b.length)).toEqual([3]);
    expect(d.stats()).toMatchObject({ sent: 3, anonymous: 1 });
  });

  it("retries a failed request until it goes through, without losing or reordering", async () => {
    const producer = new ScriptedProducer();
    producer.failures = [new Error("broker down"), new Error("broker down")];
    const d = make(producer);
    for (let i = 0; i < 10; i++) d.push(call(i), false);
    await d.flush();
    expect(producer.batches.flat().map(sent)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(d.stats()).toMatchObject({ sent: 10, dropped: 0, sendErrors: 2 });
  });

  it("drops and counts a batch Kafka refuses for good, and goes on", async () => {
    const producer = new ScriptedProducer();
    producer.failures = [
      Object.assign(new Error("too large"), { name: "KafkaJSProtocolError", retriable: false }),
    ];
    const d = make(producer, { batchSize: 2 });
    for (let i = 0; i < 4; i++) d.push(call(i), false);
    await d.flush();
    expect(producer.batches.flat().map(sent)).toEqual([2, 3]);
    expect(d.stats()).toMatchObject({ sent: 2, dropped: 2 });
  });

  it("close delivers what is queued, closes the producer, and drops later events", async () => {
    const producer = new ScriptedProducer();
    const d = make(producer, { lingerMs: 10_000 });
    d.push(call(0), false);
    await d.close(1_000);
    expect(producer.batches.flat()).toHaveLength(1);
    expect(producer.closed).toBe(true);
    d.push(call(1), false);
    expect(d.stats()).toMatchObject({ emitted: 2, sent: 1, dropped: 1 });
  });
});
