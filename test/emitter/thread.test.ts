import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { instrumentMcpServer } from "../../src/emitter/index.js";
import { pack, ThreadedKafkaProducer, unpack } from "../../src/stream/kafkajs/threaded-producer.js";
import type { OutMessage } from "../../src/stream/port.js";
import { kafkaBrokers, uniqueName } from "../helpers/services.js";
import { capturingLogger } from "./capture-log.js";
import { createTopic, readTopic } from "./kafka-topic.js";

// The default producer runs kafkajs in a worker thread. What must hold across that boundary: the
// messages arrive as sent, a permanent Kafka error is still told from a passing one, kafkajs's logs
// reach the user's logger, and the thread never keeps a finished process alive.

describe("packing a batch for the producer thread", () => {
  it("gives back every key, value and topic as they were", () => {
    const message = fc.record({
      topic: fc.constantFrom("a", "b", "calls"),
      key: fc.option(fc.string({ unit: "grapheme" }), { nil: null }),
      value: fc.string({ unit: "binary" }),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 40 }), (messages: OutMessage[]) => {
        const packed = pack(messages);
        expect(packed).toBeDefined();
        expect(unpack(packed!)).toEqual(messages);
      }),
    );
  });

  it("splits a large batch into packs of moderate size, and still gives it back whole", () => {
    const messages: OutMessage[] = Array.from({ length: 60 }, (_, i) => ({
      topic: i < 40 ? "a" : "b",
      key: i % 7 === 0 ? null : `user-${i}`,
      value: `${i}:${"é".repeat(i === 30 ? 100_000 : 3_000)}`,
    }));
    const packed = pack(messages)!;
    expect(packed.length).toBeGreaterThan(4);
    expect(packed.every((p) => p.text.length <= 40_000 || p.lengths.length === 2)).toBe(true);
    expect(unpack(packed)).toEqual(messages);
  });

  it("leaves a batch with headers or Buffers to be sent as it is", () => {
    expect(pack([{ topic: "t", key: "k", value: "v", headers: { h: "1" } }])).toBeUndefined();
    expect(pack([{ topic: "t", key: Buffer.from("k"), value: "v" }])).toBeUndefined();
    expect(pack([{ topic: "t", key: "k", value: Buffer.from("v") }])).toBeUndefined();
  });
});

describe("the producer thread with the real broker", () => {
  it("drops and counts a batch Kafka refuses for good, logs why, and delivers the rest", async () => {
    const topic = uniqueName("emitter-thread");
    await createTopic(topic);
    const { logger, lines } = capturingLogger();
    const server = new McpServer({ name: "files", version: "1" });
    const emitter = instrumentMcpServer(server, {
      brokers: kafkaBrokers(),
      topic,
      logger,
      resultTextLimit: 4_000_000,
      tools: { read_file: { arguments: ["path"], result: ["text"] } },
    });
    server.registerTool("read_file", { inputSchema: { path: z.string() } }, async ({ path }) => ({
      // Above the broker's default message.max.bytes (1 MiB) for the big file.
      content: [{ type: "text", text: path === "big" ? "x".repeat(2_000_000) : `contents of ${path}` }],
    }));
    const [ct, st] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "agent", version: "1" });
    await server.connect(st);
    await client.connect(ct);

    await client.callTool({ name: "read_file", arguments: { path: "a" } });
    await emitter.flush();
    await client.callTool({ name: "read_file", arguments: { path: "big" } });
    await emitter.flush();
    await client.callTool({ name: "read_file", arguments: { path: "b" } });
    await emitter.flush();

    expect(emitter.stats()).toMatchObject({ emitted: 3, sent: 2, dropped: 1, queued: 0 });
    const read = await readTopic(topic, 2);
    expect(read.map((m) => (m.value as { arguments: { path: string } }).arguments.path)).toEqual(["a", "b"]);
    expect(lines.some((l) => l.msg === "chainwatch emitter: Kafka refused a batch")).toBe(true);
    // kafkajs's own error about it, logged in the thread, reaches this logger.
    expect(lines.some((l) => l.component === "kafkajs")).toBe(true);
    await emitter.close();
    await client.close();
  });

  it("a thread that dies fails the batch it held, and the next send starts a new one", async () => {
    const topic = uniqueName("emitter-respawn");
    await createTopic(topic);
    const { logger } = capturingLogger();
    const producer = new ThreadedKafkaProducer({ brokers: kafkaBrokers(), clientId: "respawn", logger });
    await producer.send([{ topic, key: "u", value: '"first"' }]);
    const first = Reflect.get(producer, "worker") as Worker;
    const held = producer.send([{ topic, key: "u", value: '"held"' }]);
    await first.terminate();
    await expect(held).rejects.toThrow(/thread exited/);
    await producer.send([{ topic, key: "u", value: '"after"' }]);
    expect(Reflect.get(producer, "worker")).not.toBe(first);
    await producer.close();
    await expect(producer.send([{ topic, key: "u", value: '"closed"' }])).rejects.toThrow(/closed/);
    // The held batch may or may not have reached Kafka before the thread died (the delivery loop
    // would retry it); what was sent before and after did.
    const values = (await readTopic(topic, 2)).map((m) => m.value);
    expect(values).toContain("first");
    expect(values).toContain("after");
  });

  it("a process that ends without close() still delivers what was queued, and exits", async () => {
    const topic = uniqueName("emitter-exit");
    await createTopic(topic);
    const fixture = fileURLToPath(new URL("./exit-without-close.fixture.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture], {
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(","), EMITTER_TOPIC: topic },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    // A hang detector: a process kept alive by the producer thread would never exit.
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`the process did not exit by itself:\n${output}`));
      }, 25_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, output).toBe(0);
    const read = await readTopic(topic, 3);
    expect(read.map((m) => (m.value as { arguments: { n: number } }).arguments.n)).toEqual([0, 1, 2]);
  });
});
