import { encodeAlert, traceparentOf } from "../alerts/build.js";
import type { Alert } from "../alerts/types.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { Headers, InMessage, OutMessage } from "./port.js";

/**
 * The Kafka key of an alert: its group values in the pattern's `group_by` order, joined with "/"
 * (one value, e.g. `user_id` grouping, is the value itself: the user id).
 */
export function alertKey(alert: Alert): string {
  return Object.values(alert.group).join("/");
}

/** W3C traceparent of the call an event records, when it carries trace context. */
export function traceparentOfEvent(event: ToolCallEvent | undefined): string | undefined {
  return event ? traceparentOf(event) : undefined;
}

/** An alert as a Kafka record: JSON value, CloudEvents 1.0 binary-mode headers (alerts.md). */
export function alertMessage(
  alert: Alert,
  opts: { topic: string; source: string; traceparent?: string },
): OutMessage {
  const key = alertKey(alert);
  const headers: Headers = {
    ce_specversion: "1.0",
    ce_id: alert.alert_id,
    ce_type: "chainwatch.alert.v1",
    ce_source: opts.source,
    ce_subject: key,
    ce_time: alert.detected_at,
    "content-type": "application/json",
    "pattern-id": alert.pattern.id,
    severity: alert.pattern.severity,
  };
  if (opts.traceparent) headers.traceparent = opts.traceparent;
  return { topic: opts.topic, key, value: encodeAlert(alert), headers };
}

/** An invalid input message, unchanged, with why and where it came from. */
export function dlqMessage(message: InMessage, reason: string, topic: string): OutMessage {
  return {
    topic,
    key: message.key,
    value: message.value ?? Buffer.alloc(0),
    headers: {
      ...message.headers,
      "chainwatch-error": reason,
      "chainwatch-source-topic": message.topic,
      "chainwatch-source-partition": String(message.partition),
      "chainwatch-source-offset": message.offset,
    },
  };
}
