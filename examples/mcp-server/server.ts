/**
 * A small records + email MCP server, instrumented with the chainwatch emitter. Runs over stdio:
 *
 *   node --import tsx examples/mcp-server/server.ts
 *
 * Environment: EHR_USER_ID (the user on whose behalf the agent acts; stdio has no auth),
 * CHAINWATCH_KAFKA_BROKERS / CHAINWATCH_INPUT_TOPIC (where events go), or CHAINWATCH_EVENTS_FILE to
 * append the events as JSONL to a file instead (for `chainwatch replay`, no Kafka needed).
 * stdout is the MCP channel: every log goes to stderr.
 */
import { randomUUID } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { instrumentMcpServer } from "../../src/emitter/index.js";
import type { Producer } from "../../src/stream/port.js";

const PATIENTS = [
  { id: "p-1", name: "Ada Byron", ward: "oncology", dob: "1815-12-10" },
  { id: "p-2", name: "Alan Turing", ward: "oncology", dob: "1912-06-23" },
  { id: "p-3", name: "Grace Hopper", ward: "cardiology", dob: "1906-12-09" },
];
const exports = new Map<string, string>();

const server = new McpServer({ name: "ehr", version: "1.0.0" });

// --- chainwatch: the whole integration (an application would import from "chainwatch/emitter") ---
const emitter = instrumentMcpServer(server, {
  userId: () => process.env.EHR_USER_ID,
  labels: { env: "demo" },
  ...(process.env.CHAINWATCH_EVENTS_FILE ? { producer: jsonlFile(process.env.CHAINWATCH_EVENTS_FILE) } : {}),
  tools: {
    list_patients: { arguments: ["ward"], result: ["count"], risk: "medium", categories: ["enumerate"] },
    export_data: {
      arguments: ["dataset", "format"],
      result: ["file_id", "rows"],
      risk: "high",
      categories: ["export"],
    },
    send_email: {
      arguments: ["to", "subject", "attachment"],
      result: ["message_id"],
      risk: "high",
      categories: ["public_sink"],
    },
  },
});
// ---

server.registerTool(
  "list_patients",
  { description: "List the patients of a ward", inputSchema: { ward: z.string() } },
  async ({ ward }) => {
    const rows = PATIENTS.filter((p) => p.ward === ward).map(({ id, name }) => ({ id, name }));
    return {
      content: [{ type: "text", text: JSON.stringify(rows) }],
      structuredContent: { count: rows.length, rows },
    };
  },
);

server.registerTool(
  "export_data",
  {
    description: "Export a dataset to a file",
    inputSchema: { dataset: z.enum(["patients"]), format: z.enum(["csv", "json"]) },
  },
  async ({ format }) => {
    const fileId = `f-${randomUUID().slice(0, 8)}`;
    const body =
      format === "csv"
        ? ["id,name,ward,dob", ...PATIENTS.map((p) => `${p.id},${p.name},${p.ward},${p.dob}`)].join("\n")
        : JSON.stringify(PATIENTS);
    exports.set(fileId, body);
    return {
      content: [{ type: "text", text: `exported ${PATIENTS.length} rows to ${fileId}` }],
      structuredContent: { file_id: fileId, rows: PATIENTS.length },
    };
  },
);

server.registerTool(
  "send_email",
  {
    description: "Send an email, optionally with an exported file attached",
    inputSchema: { to: z.string(), subject: z.string(), body: z.string(), attachment: z.string().optional() },
  },
  async ({ to, attachment }) => {
    if (attachment && !exports.has(attachment)) throw new Error(`no such file: ${attachment}`);
    const messageId = `m-${randomUUID().slice(0, 8)}`;
    return {
      content: [{ type: "text", text: `sent ${messageId} to ${to}` }],
      structuredContent: { message_id: messageId },
    };
  },
);

/** Events as JSON lines appended to a file: the input of `chainwatch replay`. */
function jsonlFile(path: string): Producer {
  return {
    send: (messages) => appendFile(path, messages.map((m) => `${m.value}\n`).join("")),
    close: async () => {},
  };
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await emitter.close(); // delivers what is queued (at most closeTimeoutMs), then disconnects
  process.exit(0);
}
server.server.onclose = stop;
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

await server.connect(new StdioServerTransport());
