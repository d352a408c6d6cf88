import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { instrumentMcpServer } from "../../src/emitter/index.js";
import { freePort } from "../helpers/services.js";
import { capturingLogger } from "./capture-log.js";

describe("with the broker unreachable", () => {
  it("tool calls still answer promptly, and what cannot be queued is dropped and counted", async () => {
    const port = await freePort();
    const { logger, lines } = capturingLogger();
    const server = new McpServer({ name: "ehr", version: "1.0.0" });
    const emitter = instrumentMcpServer(server, {
      brokers: [`127.0.0.1:${port}`],
      topic: "never-created",
      queueSize: 5,
      closeTimeoutMs: 500,
      logger,
    });
    server.registerTool("list_patients", { inputSchema: { ward: z.string() } }, async ({ ward }) => ({
      content: [{ type: "text", text: `ward ${ward}: 3 patients` }],
    }));
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "agent", version: "1" });
    await server.connect(serverTransport);
    await client.connect(clientTransport);

    const calls = 40;
    const latencies: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      const answer = await client.callTool({ name: "list_patients", arguments: { ward: `w${i}` } });
      latencies.push(performance.now() - t0);
      expect(answer.content).toEqual([{ type: "text", text: `ward w${i}: 3 patients` }]);
      // Spread the calls over a few connection attempts, so sends fail while calls go on.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 50));
    }
    // A hang detector, not a benchmark: a call that waited on Kafka would take seconds.
    expect(Math.max(...latencies)).toBeLessThan(200);

    const during = emitter.stats();
    expect(during.emitted).toBe(calls);
    expect(during.sent).toBe(0);
    expect(during.queued).toBeLessThanOrEqual(5);
    expect(during.dropped).toBe(calls - during.queued);
    // Rate-limited: one warning for all those drops.
    expect(lines.filter((l) => l.msg.includes("dropping tool-call events"))).toHaveLength(1);

    const t0 = performance.now();
    await emitter.close();
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(emitter.stats()).toMatchObject({ emitted: calls, sent: 0, dropped: calls, queued: 0 });
    await client.close();
  });
});
