import { context, isSpanContextValid, trace } from "@opentelemetry/api";

export interface TraceIds {
  trace_id: string;
  span_id: string;
}

// version-traceid-parentid-flags; version ff is forbidden, all-zero ids are invalid (W3C Trace Context).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(?:-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** Trace ids from a W3C `traceparent` value, or undefined when it is absent or malformed. */
export function parseTraceparent(value: unknown): TraceIds | undefined {
  if (typeof value !== "string") return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m || m[1] === "ff" || m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  return { trace_id: m[2]!, span_id: m[3]! };
}

/**
 * The call's trace context: `params._meta.traceparent` (how MCP clients propagate it) first, else
 * the span active in OTel's context when the handler runs (set by an HTTP instrumentation, say).
 */
export function traceIdsOf(meta: Record<string, unknown> | undefined): TraceIds | undefined {
  const fromMeta = parseTraceparent(meta?.traceparent);
  if (fromMeta) return fromMeta;
  const span = trace.getSpanContext(context.active());
  if (span && isSpanContextValid(span)) return { trace_id: span.traceId, span_id: span.spanId };
  return undefined;
}
