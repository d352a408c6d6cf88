import { compareStored } from "../engine/order.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { CompiledPattern } from "../patterns/compiled.js";
import { sha256 } from "../sha256.js";
import { summarize } from "./summary.js";
import type { Alert, AlertEvent, Match } from "./types.js";

/**
 * patterns.md rule 5: first 32 hex of SHA-256 over pattern id, version (decimal), the group values
 * (as strings, in `group_by` order) and the trigger's event_id, joined by `\n`.
 */
export function alertIdOf(
  pattern: CompiledPattern,
  groupValues: Record<string, string>,
  triggerId: string,
): string {
  const parts = [
    pattern.id,
    String(pattern.version),
    ...pattern.groupBy.map((f) => groupValues[f] ?? ""),
    triggerId,
  ];
  return sha256(parts.join("\n"), "hex").slice(0, 32);
}

/**
 * RFC 3339 text of epoch ms, remembered in a small direct-mapped table: an alert writes 3 + n of them,
 * and the events of a chain appear in the alerts of every pattern that matches it.
 */
export function iso(ms: number): string {
  const slot = ms & (ISO_SLOTS - 1);
  if (isoKeys[slot] === ms) return isoTexts[slot]!;
  const text = new Date(ms).toISOString();
  isoKeys[slot] = ms;
  isoTexts[slot] = text;
  return text;
}
const ISO_SLOTS = 1024;
const isoKeys = new Float64Array(ISO_SLOTS).fill(Number.NaN);
const isoTexts: string[] = new Array(ISO_SLOTS).fill("");

/** Turns a match into an Alert (alerts.md); `detectedAt` is processing time, epoch ms. */
export function buildAlert(match: Match, detectedAt: number): Alert {
  const { pattern } = match;
  const stepIds = pattern.steps.map((s) => s.id);
  const tagged = match.steps.flatMap((events, s) => events.map((ev) => ({ ev, step: stepIds[s]! })));
  tagged.sort((a, b) => compareStored(a.ev, b.ev));
  const events: AlertEvent[] = tagged.map(({ ev, step }) => compactEvent(ev.event, step, ev.source));
  const edges: Alert["graph"]["edges"] = [];
  for (const [a, b] of pattern.orderEdges) {
    for (const from of match.steps[a]!) {
      for (const to of match.steps[b]!) edges.push({ from: from.event.event_id, to: to.event.event_id });
    }
  }
  return {
    alert_id: alertIdOf(pattern, match.groupValues, match.trigger.event.event_id),
    pattern: {
      id: pattern.id,
      version: pattern.version,
      title: pattern.title,
      severity: pattern.severity,
      tags: [...pattern.tags],
    },
    group: Object.fromEntries(pattern.groupBy.map((f) => [f, match.groupValues[f] ?? ""])),
    trigger_event_id: match.trigger.event.event_id,
    first_seen: iso(match.firstSeen),
    last_seen: iso(match.lastSeen),
    detected_at: iso(detectedAt),
    steps: match.steps.map((evs, s) => ({ step: stepIds[s]!, event_ids: evs.map((e) => e.event.event_id) })),
    events,
    graph: {
      nodes: tagged.map(({ ev, step }) => ({ id: ev.event.event_id, step, tool: ev.event.tool })),
      edges,
    },
    summary: summarize(match),
    schema_version: 1,
  };
}

function compactEvent(e: ToolCallEvent, step: string, source: AlertEvent["source"]): AlertEvent {
  const out: AlertEvent = {
    event_id: e.event_id,
    timestamp: iso(e.timestamp),
    step,
    server: e.server,
    tool: e.tool,
  };
  if (e.session_id !== undefined) out.session_id = e.session_id;
  if (e.agent_id !== undefined) out.agent_id = e.agent_id;
  if (source !== undefined) out.source = source;
  return out;
}

/** W3C `traceparent` of the trigger event, for the alert message headers; undefined without one. */
export function traceparentOf(event: Pick<ToolCallEvent, "trace_id" | "span_id">): string | undefined {
  if (!event.trace_id || !event.span_id) return undefined;
  return `00-${event.trace_id}-${event.span_id}-01`;
}

/** The alert as UTF-8 JSON bytes (the Kafka message value and a replay output line). */
export function encodeAlert(alert: Alert): Buffer {
  return Buffer.from(JSON.stringify(alert), "utf8");
}
