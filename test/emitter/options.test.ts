import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { describe, expect, it } from "vitest";
import { type EmitterOptions, instrumentMcpServer } from "../../src/emitter/index.js";

const nullProducer = { send: async () => {}, close: async () => {} };

describe("instrumentMcpServer options", () => {
  it("rejects a misconfiguration at start, naming the option", () => {
    const server = new McpServer({ name: "ehr", version: "1" });
    const bad = {
      producer: nullProducer,
      tools: { send_email: { risk: "extreme" } },
    } as unknown as EmitterOptions;
    expect(() => instrumentMcpServer(server, bad)).toThrow(
      /options\.tools\.send_email\.risk: Invalid option/,
    );
    expect(() =>
      instrumentMcpServer(server, { producer: nullProducer, tools: { x: { arguments: ["a..b"] } } }),
    ).toThrow(/options\.tools\.x\.arguments\.0: empty segment/);
    expect(() => instrumentMcpServer(server, { producer: nullProducer, queueSize: 0 })).toThrow(
      /options\.queueSize/,
    );
    const typo = { producer: nullProducer, tools: { x: { argument: ["a"] } } } as unknown as EmitterOptions;
    expect(() => instrumentMcpServer(server, typo)).toThrow(
      /options\.tools\.x: Unrecognized key: "argument"/,
    );
  });

  it("refuses to instrument a server twice (the second would see nothing)", () => {
    const server = new McpServer({ name: "ehr", version: "1" });
    instrumentMcpServer(server, { producer: nullProducer });
    expect(() => instrumentMcpServer(server, { producer: nullProducer })).toThrow(/already instrumented/);
  });

  it("needs a server name when the server has none", () => {
    const server = new McpServer({ name: "", version: "1" });
    expect(() => instrumentMcpServer(server, { producer: nullProducer })).toThrow(/pass options\.serverName/);
    expect(() => instrumentMcpServer(server, { producer: nullProducer, serverName: "ehr" })).not.toThrow();
  });
});
