import { AsyncLocalStorage } from "node:async_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type Context, type ContextManager, context, metrics, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instrumentMcpServer } from "../../src/emitter/index.js";
import type { OutMessage } from "../../src/stream/port.js";

/** The smallest real context manager: AsyncLocalStorage, as OTel's async-hooks manager does. */
class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "10f067aa0ba902b7";

describe("OpenTelemetry: trace context and counters", () => {
  const reader = new TestReader();
  beforeAll(() => {
    context.setGlobalContextManager(new AlsContextManager());
    // Registered after the emitter module was imported: the counters must still reach it.
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });
  afterAll(() => {
    context.disable();
    metrics.disable();
  });

  it("takes trace ids from the span active when the call arrives, and counts what it sends", async () => {
    const sent: OutMessage[] = [];
    const server = new McpServer({ name: "ehr", version: "1" });
    const emitter = instrumentMcpServer(server, {
      producer: { send: async (m) => void sent.push(...m), close: async () => {} },
      logger: pino({ level: "silent" }),
    });
    server.registerTool("ping", {}, async () => ({ content: [{ type: "text", text: "pong" }] }));
    const [ct, st] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "agent", version: "1" });
    await server.connect(st);
    await client.connect(ct);

    const spanCtx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    await context.with(spanCtx, () => client.callTool({ name: "ping", arguments: {} }));
    await client.callTool({ name: "ping", arguments: {} });
    await emitter.flush();

    const events = sent.map((m) => JSON.parse(m.value as string));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ trace_id: TRACE_ID, span_id: SPAN_ID });
    expect(events[1].trace_id).toBeUndefined();

    const { resourceMetrics } = await reader.collect();
    const points = Object.fromEntries(
      resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .map((m) => [m.descriptor.name, m.dataPoints.reduce((a, p) => a + (p.value as number), 0)]),
    );
    expect(points["chainwatch.emitter.events.sent"]).toBe(2);
    expect(points["chainwatch.emitter.events.anonymous"]).toBe(2);
    await emitter.close();
    await client.close();
  });
});
