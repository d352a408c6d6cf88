import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { instrumentMcpServer } from "../../src/emitter/index.js";
import type { OutMessage } from "../../src/stream/port.js";

// Over the SDK's Streamable HTTP transport on a loopback port: the session id, the request headers
// and the auth info a bearer middleware attaches (req.auth) reach userId and the event.
describe("instrumentMcpServer over Streamable HTTP", () => {
  const sent: OutMessage[] = [];
  let http: Server;
  let url: URL;
  let transport: StreamableHTTPServerTransport;
  let emitter: ReturnType<typeof instrumentMcpServer>;

  beforeAll(async () => {
    const mcp = new McpServer({ name: "crm", version: "1" });
    emitter = instrumentMcpServer(mcp, {
      producer: { send: async (m) => void sent.push(...m), close: async () => {} },
      logger: pino({ level: "silent" }),
      // A gateway's header first, then the token's subject.
      userId: (ctx) =>
        (ctx.headers?.["x-user-id"] as string | undefined) ?? (ctx.authInfo?.extra?.sub as string),
      tools: { lookup: { arguments: ["id"] } },
    });
    mcp.registerTool("lookup", { inputSchema: { id: z.string() } }, async ({ id }) => ({
      content: [{ type: "text", text: `customer ${id}` }],
    }));
    transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
    await mcp.connect(transport);
    http = createServer((req, res) => {
      // What a bearer-auth middleware does: verify the token, attach what it proves.
      const auth: AuthInfo = { token: "t", clientId: "c-1", scopes: [], extra: { sub: "u-from-token" } };
      (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
      void transport.handleRequest(req, res);
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = new URL(`http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`);
  });

  afterAll(async () => {
    await emitter?.close();
    await transport?.close();
    await new Promise((resolve) => http?.close(resolve));
  });

  it("carries the session id, the user from a header or the token, and the client name", async () => {
    const client = new Client({ name: "web-agent", version: "1" });
    const headers: Record<string, string> = { "x-user-id": "u-77" };
    const clientTransport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
    await client.connect(clientTransport);
    await client.callTool({ name: "lookup", arguments: { id: "c-1" } });
    // The transport reads its headers per request: without the gateway's header, the token's subject.
    delete headers["x-user-id"];
    await client.callTool({ name: "lookup", arguments: { id: "c-2" } });
    await emitter.flush();
    const events = sent.map((m) => JSON.parse(m.value as string));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      server: "crm",
      tool: "lookup",
      user_id: "u-77",
      agent_id: "web-agent",
      session_id: clientTransport.sessionId,
      arguments: { id: "c-1" },
      outcome: "success",
    });
    expect(events[0].session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[0]!.key).toBe("u-77");
    expect(events[1]).toMatchObject({ user_id: "u-from-token", session_id: events[0].session_id });
    await client.close();
  });
});
