import { INVALID_SPAN_CONTEXT, type SpanOptions, type Tracer, trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { StreamService } from "../../src/stream/service.js";
import { createLogger } from "../../src/telemetry/logger.js";
import {
  alertsOf,
  createTopics,
  expectedAlerts,
  generateStream,
  ids,
  produceLines,
  readTopic,
  serviceEnv,
  waitCaughtUp,
} from "../service/helpers.js";

/**
 * The pipeline in process against the real broker and Redis: alerts, DLQ, offsets; with the batch
 * work in the Kafka thread and on two worker threads (`limits.workerThreads`).
 */
describe.each([0, 2])("stream pipeline (real Kafka + Redis), %i worker threads", (threads) => {
  const t = serviceEnv("pipe", { CHAINWATCH_WORKER_THREADS: String(threads) });
  const lines = generateStream({ users: 12, events: 240, invalidEvery: 40, seed: 7 });
  // Events without their own trace context may carry one in the message headers.
  const headerTrace = (i: number) =>
    `00-${"c".repeat(30)}${String(i % 100).padStart(2, "0")}-${"d".repeat(16)}-01`;
  let service: StreamService;
  /** Every span the service starts, as asked for: a provider that only records the calls. */
  const spans: Array<{ name: string; options: SpanOptions }> = [];

  beforeAll(async () => {
    const tracer = {
      startSpan: (name: string, options: SpanOptions = {}) => {
        spans.push({ name, options });
        return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
      },
    } as unknown as Tracer;
    trace.setGlobalTracerProvider({ getTracer: () => tracer });
    await createTopics([t.input], 3);
    await produceLines(t.input, lines, (i) => (i % 3 === 1 ? { traceparent: headerTrace(i) } : undefined));
    const config = loadConfig({ env: { ...t.env, CHAINWATCH_LOG_LEVEL: "warn" } });
    service = new StreamService({ config, logger: createLogger("warn") });
    await service.start();
    expect(service.workerThreads).toBe(threads);
    await waitCaughtUp(t.group, t.input);
  }, 90_000);

  afterAll(async () => {
    await service?.stop();
    trace.disable();
  });

  it("publishes exactly the alerts of an in-memory run, each once, with CloudEvents headers", async () => {
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(10);
    const messages = await readTopic(t.alerts, { count: expected.length });
    const alerts = alertsOf(messages);
    expect(ids(alerts)).toEqual(ids(expected));

    const lineOfEvent = new Map<string, number>();
    for (const [i, l] of lines.entries()) if (l.startsWith("{")) lineOfEvent.set(JSON.parse(l).event_id, i);
    for (const [i, m] of messages.entries()) {
      const a = alerts[i]!;
      expect(m.key?.toString()).toBe(a.group.user_id);
      expect(m.headers).toMatchObject({
        ce_specversion: "1.0",
        ce_id: a.alert_id,
        ce_type: "chainwatch.alert.v1",
        ce_source: `chainwatch/${t.group}`,
        ce_subject: a.group.user_id,
        ce_time: a.detected_at,
        "pattern-id": a.pattern.id,
        severity: a.pattern.severity,
      });
      // The trigger's own trace context wins; else the input message's traceparent header.
      const lineIndex = lineOfEvent.get(a.trigger_event_id)!;
      const trigger = JSON.parse(lines[lineIndex]!);
      const want = trigger.trace_id
        ? `00-${trigger.trace_id}-${trigger.span_id}-01`
        : lineIndex % 3 === 1
          ? headerTrace(lineIndex)
          : undefined;
      expect(m.headers.traceparent).toBe(want);
      // Its span is linked to that same call (and to nothing when there is none).
      const span = spans.find((x) => x.options.attributes?.["chainwatch.alert.id"] === a.alert_id);
      expect(span?.name).toBe("chainwatch.alert");
      expect(span?.options.links?.map((l) => `00-${l.context.traceId}-${l.context.spanId}-01`)).toEqual(
        want ? [want] : [],
      );
      // Where the events were read: Kafka coordinates.
      for (const e of a.events) expect(e.source).toMatchObject({ topic: t.input });
    }
  });

  it("sends invalid events, unchanged, to the DLQ with the reason and their origin", async () => {
    const invalid = lines.filter((l) => {
      try {
        const v = JSON.parse(l);
        return typeof v.event_id === "string" && v.event_id.startsWith("bad-");
      } catch {
        return true;
      }
    });
    expect(invalid.length).toBe(6);
    const dlq = await readTopic(`${t.input}.dlq`, { count: invalid.length });
    expect(dlq.map((m) => m.value!.toString()).sort()).toEqual([...invalid].sort());
    for (const m of dlq) {
      expect(m.headers["chainwatch-error"]).toMatch(/not JSON|timestamp|server|tool/);
      expect(m.headers["chainwatch-source-topic"]).toBe(t.input);
      expect(Number(m.headers["chainwatch-source-partition"])).toBeGreaterThanOrEqual(0);
      expect(m.headers["chainwatch-source-offset"]).toMatch(/^\d+$/);
    }
    const notJson = dlq.find((m) => m.value!.toString().startsWith("not json"))!;
    expect(notJson.headers["chainwatch-error"]).toMatch(/^not JSON at byte/);
    expect(notJson.key?.toString()).toBe("invalid");
  });

  it("commits the consumed offsets (only through the transaction) and is ready", async () => {
    await waitCaughtUp(t.group, t.input, 1000);
    const r = await service.readiness();
    expect(r).toEqual({ ready: true, reasons: [] });
  });
});
