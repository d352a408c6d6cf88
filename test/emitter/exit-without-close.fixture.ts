// Run by thread.test.ts as its own process: three tool calls, then the script simply ends, with no
// close() or flush(). The queued events must still reach Kafka, and the process must exit.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { instrumentMcpServer } from "../../src/emitter/index.js";

const server = new McpServer({ name: "short-lived", version: "1" });
instrumentMcpServer(server, {
  brokers: (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","),
  topic: process.env.EMITTER_TOPIC,
  tools: { count: { arguments: ["n"] } },
});
server.registerTool("count", { inputSchema: { n: z.number() } }, async ({ n }) => ({
  content: [{ type: "text", text: String(n) }],
}));
const [ct, st] = InMemoryTransport.createLinkedPair();
const client = new Client({ name: "agent", version: "1" });
await server.connect(st);
await client.connect(ct);
for (let n = 0; n < 3; n++) await client.callTool({ name: "count", arguments: { n } });
await client.close();
