import { createHash } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DeniedError, type Instrumentation, instrumentMcpServer } from "../../src/emitter/index.js";
import { type ToolCallEvent, validateEvent } from "../../src/events/index.js";
import { kafkaBrokers, uniqueName } from "../helpers/services.js";
import { createTopic, type ReadMessage, readTopic } from "./kafka-topic.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const AWS_KEY = "AKIAIOSFODNN7EXAMPLE";
const TEXT_LIMIT = 1024;

/** An authenticated transport, as an HTTP transport with bearer auth would deliver calls. */
function withAuth(transport: InMemoryTransport, auth: () => AuthInfo | undefined): InMemoryTransport {
  const send = transport.send.bind(transport);
  transport.send = (message: JSONRPCMessage, options) => send(message, { ...options, authInfo: auth() });
  return transport;
}

describe("instrumentMcpServer with a real McpServer, Client and Kafka broker", () => {
  const topic = uniqueName("emitter-calls");
  let emitter: Instrumentation;
  let client: Client;
  let server: McpServer;
  let user: string | undefined = "u-481";
  const calls: Array<{ name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> }> =
    [];
  const answers: Array<{ isError?: unknown }> = [];
  let events: Map<string, { key: string | null; event: ToolCallEvent; raw: Record<string, unknown> }>;

  const call = async (c: (typeof calls)[number]) => {
    calls.push(c);
    answers.push((await client.callTool(c)) as { isError?: unknown });
  };

  beforeAll(async () => {
    await createTopic(topic);
    server = new McpServer({ name: "ehr", version: "1.0.0" });
    emitter = instrumentMcpServer(server, {
      brokers: kafkaBrokers(),
      topic,
      resultTextLimit: TEXT_LIMIT,
      labels: { env: "test" },
      tools: {
        "*": { categories: ["ehr"] },
        export_data: {
          arguments: ["dataset", "note"],
          result: ["file_id", "rows", "text"],
          risk: "high",
          categories: ["export"],
        },
      },
    });
    // Registered after instrumenting, through both registration APIs.
    server.registerTool(
      "export_data",
      { inputSchema: { dataset: z.string(), format: z.enum(["csv", "json"]), note: z.string().optional() } },
      async ({ dataset }) => ({
        content: [{ type: "text", text: `exported ${dataset}: ${"row,".repeat(2000)}` }],
        structuredContent: { file_id: "f-9", rows: 3, internal_path: "/srv/exports/f-9.csv" },
      }),
    );
    server.registerTool("boom", { inputSchema: { n: z.number() } }, async () => {
      throw new Error("disk on fire");
    });
    server.tool("soft_fail", async () => ({
      content: [{ type: "text", text: "quota exceeded" }],
      isError: true,
    }));
    server.tool("guarded", async () => {
      throw new DeniedError("needs a human approval");
    });

    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    const authed = withAuth(clientTransport, () =>
      user ? { token: "t", clientId: "c-1", scopes: [], extra: { user_id: user } } : undefined,
    );
    client = new Client({ name: "claude-desktop", version: "1.2.3" });
    await server.connect(serverTransport);
    await client.connect(authed);

    await call({
      name: "export_data",
      arguments: { format: "csv", dataset: "patients", note: `use ${AWS_KEY} please` },
      _meta: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` },
    });
    await call({ name: "boom", arguments: { n: 1 } });
    await call({ name: "soft_fail", arguments: {} });
    await call({ name: "guarded", arguments: {} });
    await call({ name: "no_such_tool", arguments: { q: "x" } });
    await call({ name: "export_data", arguments: { dataset: "patients", format: "xml" } });
    user = undefined;
    await call({ name: "soft_fail", arguments: {} });

    await emitter.flush();
    const read = await readTopic(topic, calls.length);
    events = new Map(
      read.map((m: ReadMessage, i) => {
        const parsed = validateEvent(m.value);
        if (!parsed.ok) throw new Error(`message ${i} is not a valid event: ${parsed.reason}`);
        return [
          parsed.event.event_id,
          { key: m.key, event: parsed.event, raw: m.value as Record<string, unknown> },
        ];
      }),
    );
  });

  afterAll(async () => {
    await client?.close();
    await emitter?.close();
  });

  /** Events are keyed and ordered per user, and calls are sequential: the n-th event is the n-th call. */
  const nth = (n: number) => [...events.values()][n]!;

  it("sends exactly one valid event per tool call, keyed by user_id", () => {
    expect(answers).toHaveLength(7);
    expect(events.size).toBe(7);
    expect(emitter.stats()).toMatchObject({ emitted: 7, sent: 7, dropped: 0, queued: 0, anonymous: 1 });
    for (const { key, event } of events.values()) {
      expect(key).toBe(event.user_id);
      expect(event.server).toBe("ehr");
      expect(event.method).toBe("tools/call");
      expect(event.agent_id).toBe("claude-desktop");
      expect(event.labels).toEqual({ env: "test" });
      expect(event.categories).toContain("ehr");
      expect(event.duration_ms).toBeGreaterThanOrEqual(0);
    }
    expect([...events.values()].map((e) => e.event.tool)).toEqual(calls.map((c) => c.name));
  });

  it("a successful call: user from authInfo, allow-listed and masked arguments, hash, result, trace", () => {
    const { event, raw } = nth(0);
    expect(answers[0]!.isError).toBeUndefined();
    expect(event.outcome).toBe("success");
    expect(event.user_id).toBe("u-481");
    // `format` is not allow-listed; the AWS key inside an allow-listed field is masked anyway.
    expect(event.arguments).toEqual({ dataset: "patients", note: "use [REDACTED:aws_access_key] please" });
    const canonical = `{"dataset":"patients","format":"csv","note":"use ${AWS_KEY} please"}`;
    expect(event.arguments_hash).toBe(createHash("sha256").update(canonical).digest("hex"));
    expect(event.result).toMatchObject({ file_id: "f-9", rows: 3 });
    expect(event.result).not.toHaveProperty("internal_path");
    const text = event.result!.text as string;
    expect(text.startsWith("exported patients: row,row,")).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(TEXT_LIMIT);
    expect(Buffer.byteLength(text)).toBeGreaterThan(TEXT_LIMIT - 4);
    expect(event.risk_level).toBe("high");
    expect(event.categories).toEqual(["ehr", "export"]);
    expect(event.trace_id).toBe(TRACE_ID);
    expect(event.span_id).toBe(SPAN_ID);
    expect(typeof raw.timestamp).toBe("number");
    expect(Math.abs((raw.timestamp as number) - Date.now())).toBeLessThan(60_000);
  });

  it("a thrown error and an isError result are outcome error; nothing un-allow-listed leaks", () => {
    const boom = nth(1).event;
    expect(answers[1]!.isError).toBe(true);
    expect(boom.outcome).toBe("error");
    expect(boom.result_summary).toBe("disk on fire");
    expect(boom.arguments).toBeUndefined();
    expect(boom.result).toBeUndefined();
    expect(boom.arguments_hash).toBe(createHash("sha256").update('{"n":1}').digest("hex"));
    expect(boom.trace_id).toBeUndefined();
    const soft = nth(2).event;
    expect(soft.outcome).toBe("error");
    expect(soft.result_summary).toBe("quota exceeded");
  });

  it("a DeniedError thrown by the tool is outcome denied", () => {
    expect(answers[3]!.isError).toBe(true);
    expect(nth(3).event).toMatchObject({
      tool: "guarded",
      outcome: "denied",
      result_summary: "needs a human approval",
    });
  });

  it("calls that never reach a tool callback are still events: unknown tool, invalid arguments", () => {
    const unknown = nth(4).event;
    expect(unknown).toMatchObject({ tool: "no_such_tool", outcome: "error", user_id: "u-481" });
    expect(unknown.result_summary).toMatch(/no_such_tool not found/);
    expect(unknown.arguments).toBeUndefined();
    expect(unknown.arguments_hash).toBe(createHash("sha256").update('{"q":"x"}').digest("hex"));
    const invalid = nth(5).event;
    expect(invalid).toMatchObject({ tool: "export_data", outcome: "error", risk_level: "high" });
    expect(invalid.result_summary).toMatch(/Input validation error/);
    expect(invalid.arguments).toEqual({ dataset: "patients" });
  });

  it("a call without a user is sent with the placeholder and counted", () => {
    expect(nth(6).event).toMatchObject({ tool: "soft_fail", user_id: "anonymous" });
    expect(nth(6).key).toBe("anonymous");
  });

  it("event ids are unique UUIDv7s", () => {
    for (const id of events.keys())
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
