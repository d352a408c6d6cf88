import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DeniedError, instrumentMcpServer } from "../../src/emitter/index.js";
import type { OutMessage } from "../../src/stream/port.js";

// The tool callback wrap only watches for a throw: whatever a callback returns (a value, its own
// promise, another thenable) reaches the SDK as it is, and a throw is seen however it comes.

describe("the tool callback wrap", () => {
  it("tells denied from error for a synchronous throw, a rejected promise and a rejected thenable", async () => {
    const server = new McpServer({ name: "bank", version: "1" });
    const sent: OutMessage[] = [];
    const emitter = instrumentMcpServer(server, {
      producer: { send: async (m) => void sent.push(...m), close: async () => {} },
      logger: pino({ level: "silent" }),
      tools: { "*": { result: ["text"] } },
    });
    const text = (t: string) => ({ content: [{ type: "text" as const, text: t }] });
    const how = {
      how: z.enum(["value", "promise", "thenable", "sync-deny", "async-deny", "thenable-deny", "fail"]),
    };
    server.registerTool("op", { inputSchema: how }, (({ how }: { how: string }) => {
      if (how === "value") return text("plain value");
      if (how === "promise") return Promise.resolve(text("own promise"));
      // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise, on purpose
      if (how === "thenable") return { then: (ok: (v: unknown) => void) => ok(text("a thenable")) };
      if (how === "sync-deny") throw new DeniedError("sync");
      if (how === "async-deny") return Promise.reject(new DeniedError("async"));
      if (how === "thenable-deny")
        // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise, on purpose
        return { then: (_: unknown, fail: (e: unknown) => void) => fail(new DeniedError("thenable")) };
      throw new Error("plain failure");
    }) as never);
    const [ct, st] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "agent", version: "1" });
    await server.connect(st);
    await client.connect(ct);

    const answers = [];
    for (const h of how.how.options)
      answers.push(await client.callTool({ name: "op", arguments: { how: h } }));
    await emitter.flush();

    expect(answers.slice(0, 3).map((a) => (a.content as Array<{ text: string }>)[0]!.text)).toEqual([
      "plain value",
      "own promise",
      "a thenable",
    ]);
    const events = sent.map((m) => JSON.parse(m.value as string));
    expect(events.map((e) => [e.outcome, e.result_summary ?? e.result.text])).toEqual([
      ["success", "plain value"],
      ["success", "own promise"],
      ["success", "a thenable"],
      ["denied", "sync"],
      ["denied", "async"],
      ["denied", "thenable"],
      ["error", "plain failure"],
    ]);
    await emitter.close();
    await client.close();
  });
});
