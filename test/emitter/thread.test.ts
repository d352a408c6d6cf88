import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Worker } from "node:worker_threads";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { instrumentMcpServer } from "../../src/emitter/index.js";
import { ThreadedDelivery } from "../../src/emitter/threaded-delivery.js";
import { kafkaBrokers, uniqueName } from "../helpers/services.js";
import { buildWith, callRecord } from "./call-record.js";
import { capturingLogger } from "./capture-log.js";
import { createTopic, readTopic } from "./kafka-topic.js";

// The default producer runs kafkajs in a worker thread fed through a shared-memory ring. What must
// hold across that boundary: the events arrive as sent, a permanent Kafka error is still told from a
// passing one, kafkajs's logs reach the user's logger, a thread that dies loses nothing it had not
// sent, and the thread never keeps a finished process alive. (The ring itself:
// test/stream/shared-ring.test.ts.)

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

  it("a thread that dies leaves its unsent events to the next one, which sends them", async () => {
    const topic = uniqueName("emitter-respawn");
    await createTopic(topic);
    const { logger, lines } = capturingLogger();
    const delivery = new ThreadedDelivery({
      brokers: kafkaBrokers(),
      clientId: "respawn",
      topic,
      queueSize: 100,
      queueBytes: 64 * 1024,
      batchSize: 10,
      lingerMs: 60_000, // the thread holds what it is given until flush()
      logger,
      warnIntervalMs: 30_000,
      build: buildWith(["n"]),
    });
    const call = (n: number) => callRecord({ rawArguments: { n } });
    delivery.push(call(0), false);
    await delivery.flush();
    const first = Reflect.get(delivery, "worker") as Worker;
    for (let n = 1; n <= 3; n++) delivery.push(call(n), false);
    await first.terminate();
    await delivery.flush();
    expect(Reflect.get(delivery, "worker")).not.toBe(first);
    expect(delivery.stats()).toMatchObject({ emitted: 4, sent: 4, dropped: 0, queued: 0 });
    expect(lines.some((l) => l.msg === "chainwatch emitter: the Kafka producer thread failed")).toBe(true);
    await delivery.close(1_000);
    delivery.push(call(4), false);
    expect(delivery.stats()).toMatchObject({ emitted: 5, sent: 4, dropped: 1, queued: 0 });
    const ns = (await readTopic(topic, 4)).map((m) => (m.value as { arguments: { n: number } }).arguments.n);
    expect(ns).toEqual([0, 1, 2, 3]);
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
