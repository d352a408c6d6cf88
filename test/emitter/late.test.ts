import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DeniedError, instrumentMcpServer } from "../../src/emitter/index.js";
import type { OutMessage } from "../../src/stream/port.js";

describe("instrumenting a server that is already set up and connected", () => {
  it("still sees every call, and tells denied from error for tools registered before", async () => {
    const server = new McpServer({ name: "bank", version: "1" });
    server.registerTool("wire", { inputSchema: { amount: z.number() } }, async ({ amount }) => {
      if (amount > 100) throw new DeniedError("needs a second approver");
      return { content: [{ type: "text", text: "ok" }] };
    });
    const tool = server.registerTool("balance", {}, async () => ({ content: [{ type: "text", text: "1" }] }));
    const [ct, st] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "agent", version: "1" });
    await server.connect(st);
    await client.connect(ct);

    const sent: OutMessage[] = [];
    const emitter = instrumentMcpServer(server, {
      producer: { send: async (m) => void sent.push(...m), close: async () => {} },
      logger: pino({ level: "silent" }),
    });
    // A callback swapped in later is watched too.
    tool.update({
      callback: async () => {
        throw new DeniedError("frozen account");
      },
    });

    await client.callTool({ name: "wire", arguments: { amount: 5 } });
    await client.callTool({ name: "wire", arguments: { amount: 500 } });
    await client.callTool({ name: "wire", arguments: { amount: "lots" } });
    await client.callTool({ name: "balance", arguments: {} });
    await client.callTool({ name: "nope", arguments: {} });
    await emitter.flush();

    const events = sent.map((m) => JSON.parse(m.value as string));
    expect(events.map((e) => [e.tool, e.outcome])).toEqual([
      ["wire", "success"],
      ["wire", "denied"],
      ["wire", "error"],
      ["balance", "denied"],
      ["nope", "error"],
    ]);
    expect(emitter.stats()).toMatchObject({ emitted: 5, sent: 5, anonymous: 5 });
    await emitter.close();
    await client.close();
  });
});
