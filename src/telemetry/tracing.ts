import { type Link, type SpanContext, TraceFlags, trace } from "@opentelemetry/api";
import type { Alert } from "../alerts/types.js";

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C `traceparent` to a remote span context, or undefined when absent or malformed. */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return {
    traceId: m[2]!,
    spanId: m[3]!,
    traceFlags: Number.parseInt(m[4]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
}

/**
 * One span per alert, linked (not parented: the alert is its own unit of work, caused by but not
 * part of the tool call) to the call that triggered it. A no-op until an SDK registers a provider.
 */
export function recordAlertSpan(alert: Alert, traceparent: string | undefined): void {
  const links: Link[] = [];
  const ctx = spanContextOf(traceparent);
  if (ctx) links.push({ context: ctx });
  const span = trace.getTracer("chainwatch").startSpan("chainwatch.alert", {
    links,
    attributes: {
      "chainwatch.alert.id": alert.alert_id,
      "chainwatch.pattern.id": alert.pattern.id,
      "chainwatch.pattern.severity": alert.pattern.severity,
      "chainwatch.trigger_event_id": alert.trigger_event_id,
    },
  });
  span.end();
}
