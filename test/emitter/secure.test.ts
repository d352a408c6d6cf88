import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type EmitterOptions, instrumentMcpServer } from "../../src/emitter/index.js";
import { validateEvent } from "../../src/events/index.js";
import { createKafka } from "../../src/stream/kafkajs/client.js";
import { readAll, type SecureKafka, startSecureKafka } from "../helpers/secure-services.js";
import { uniqueName } from "../helpers/services.js";

/**
 * The built-in producer (kafkajs in the emitter's thread) against a real broker that demands TLS and
 * SASL (test/helpers/secure-services.ts), configured by options or by the variables `run` reads.
 */

const quiet = pino({ level: "silent" });

/** One tool call through an instrumented server; what the emitter counted once flushed. */
async function oneCall(options: EmitterOptions) {
  const server = new McpServer({ name: "vault", version: "1.0.0" });
  const emitter = instrumentMcpServer(server, { logger: quiet, ...options });
  server.registerTool("lookup", { inputSchema: { id: z.string() } }, async ({ id }) => ({
    content: [{ type: "text", text: `record ${id}` }],
  }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "agent", version: "1" });
  await Promise.all([client.connect(clientSide), server.connect(serverSide)]);
  await client.callTool({ name: "lookup", arguments: { id: "r-7" } });
  await emitter.flush();
  const stats = emitter.stats();
  await emitter.close();
  await client.close();
  return stats;
}

describe("emitter over TLS + SASL (real broker)", () => {
  let kafka: SecureKafka;
  const scram = () => ({
    mechanism: "scram-sha-512" as const,
    username: kafka.user,
    password: kafka.password,
  });

  beforeAll(async () => {
    kafka = await startSecureKafka();
  }, 180_000);
  afterAll(async () => {
    await kafka?.stop();
  });

  async function eventsIn(topic: string) {
    const reader = createKafka(
      { brokers: [kafka.saslTls], clientId: "emitter-secure-test", sslCaFile: kafka.caFile, sasl: scram() },
      quiet,
    );
    return (await readAll(reader, topic, 1)).map((m) => validateEvent(JSON.parse(m.value)));
  }

  it("sends over SASL_SSL (SCRAM-SHA-512) with the ssl and sasl options", async () => {
    const topic = uniqueName("emitter-secure");
    const stats = await oneCall({
      brokers: [kafka.saslTls],
      topic,
      ssl: { ca: readFileSync(kafka.caFile, "utf8") },
      sasl: scram(),
    });
    expect(stats).toMatchObject({ emitted: 1, sent: 1, dropped: 0 });
    const [event] = await eventsIn(topic);
    expect(event).toMatchObject({ ok: true, event: { server: "vault", tool: "lookup", outcome: "success" } });
  });

  it("takes TLS and SASL from CHAINWATCH_KAFKA_TLS_CA and CHAINWATCH_KAFKA_SASL_*, as `chainwatch run` does", async () => {
    const topic = uniqueName("emitter-secure-env");
    const saved = { ...process.env };
    Object.assign(process.env, {
      CHAINWATCH_KAFKA_TLS_CA: kafka.caFile,
      CHAINWATCH_KAFKA_SASL_MECHANISM: "scram-sha-512",
      CHAINWATCH_KAFKA_SASL_USERNAME: kafka.user,
      CHAINWATCH_KAFKA_SASL_PASSWORD: kafka.password,
    });
    try {
      expect(await oneCall({ brokers: [kafka.saslTls], topic })).toMatchObject({ sent: 1, dropped: 0 });
    } finally {
      process.env = saved;
    }
    const [event] = await eventsIn(topic);
    expect(event).toMatchObject({ ok: true, event: { tool: "lookup" } });
  });

  it("refuses wrong TLS or SASL settings when instrumenting, naming them", () => {
    const server = () => new McpServer({ name: "vault", version: "1.0.0" });
    expect(() =>
      instrumentMcpServer(server(), {
        logger: quiet,
        sasl: { mechanism: "gssapi", username: "u", password: "p" } as unknown as EmitterOptions["sasl"],
      }),
    ).toThrow(/options\.sasl\.mechanism/);
    const saved = { ...process.env };
    process.env.CHAINWATCH_KAFKA_SASL_USERNAME = "svc";
    try {
      expect(() => instrumentMcpServer(server(), { logger: quiet })).toThrow(/expected all three or none/);
      delete process.env.CHAINWATCH_KAFKA_SASL_USERNAME;
      process.env.CHAINWATCH_KAFKA_TLS_CA = "/nonexistent/ca.pem";
      expect(() => instrumentMcpServer(server(), { logger: quiet })).toThrow(
        /CHAINWATCH_KAFKA_TLS_CA: ENOENT/,
      );
    } finally {
      process.env = saved;
    }
  });
});
