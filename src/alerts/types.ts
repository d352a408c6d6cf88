import type { EventSource, StoredEvent } from "../engine/group-state.js";
import type { CompiledPattern } from "../patterns/compiled.js";

/** A match found by the engine; src/alerts turns it into an Alert. */
export interface Match {
  pattern: CompiledPattern;
  groupValues: Record<string, string>;
  /** The event whose arrival fired the match. */
  trigger: StoredEvent;
  /** Per step index, the assigned events sorted by (timestamp, seq). */
  steps: StoredEvent[][];
  firstSeen: number;
  lastSeen: number;
}

export interface AlertEvent {
  event_id: string;
  timestamp: string;
  step: string;
  server: string;
  tool: string;
  session_id?: string;
  agent_id?: string;
  source?: EventSource;
}

/** Alert, version 1 (shared/spec/alerts.md). The zod schema in src/alerts/schema.ts is the source. */
export interface Alert {
  alert_id: string;
  pattern: { id: string; version: number; title: string; severity: string; tags: string[] };
  group: Record<string, string>;
  trigger_event_id: string;
  first_seen: string;
  last_seen: string;
  detected_at: string;
  steps: Array<{ step: string; event_ids: string[] }>;
  events: AlertEvent[];
  graph: {
    nodes: Array<{ id: string; step: string; tool: string }>;
    edges: Array<{ from: string; to: string }>;
  };
  summary: string;
  schema_version: 1;
}
