import type { GroupState, StoredEvent } from "../../src/engine/group-state.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import type { GroupRef } from "../../src/state/store.js";

/** Builders that change a GroupState the way the engine does (stored event, changes recorded). */

export const T0 = Date.UTC(2026, 0, 1);

export function ref(user: string, groupingId = "user_id"): GroupRef {
  return { key: `${groupingId}=${user}`, groupingId, values: { user_id: user } };
}

let counter = 0;

export function event(user: string, timestamp: number, extra: Partial<ToolCallEvent> = {}): ToolCallEvent {
  counter++;
  return {
    event_id: `ev-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    timestamp,
    user_id: user,
    server: "fs",
    tool: "read_file",
    method: "tools/call",
    outcome: "success",
    schema_version: 1,
    ...extra,
  };
}

/** Appends like the engine: next seq, kept sorted by (timestamp, seq), newest advanced. */
export function add(state: GroupState, ev: ToolCallEvent, source?: StoredEvent["source"]): StoredEvent {
  const stored: StoredEvent = source
    ? { seq: state.nextSeq++, event: ev, source }
    : { seq: state.nextSeq++, event: ev };
  let i = state.events.length;
  while (i > 0 && compare(state.events[i - 1]!, stored) > 0) i--;
  state.events.splice(i, 0, stored);
  state.changes.added.push(stored);
  if (ev.timestamp > state.newest) state.newest = ev.timestamp;
  return stored;
}

/** Evicts the `n` oldest by (timestamp, seq), as the per-group bound does. */
export function evictOldest(state: GroupState, n: number): StoredEvent[] {
  const gone = state.events.splice(0, n);
  state.changes.evicted.push(...gone);
  return gone;
}

/** Drops events older than `newest - windowMs`, as window trimming does. */
export function trimWindow(state: GroupState, windowMs: number): StoredEvent[] {
  const horizon = state.newest - windowMs;
  let n = 0;
  while (n < state.events.length && state.events[n]!.event.timestamp < horizon) n++;
  return evictOldest(state, n);
}

export function compare(a: StoredEvent, b: StoredEvent): number {
  return a.event.timestamp - b.event.timestamp || a.seq - b.seq;
}

/** The persisted part of a state, in a form `toEqual` compares exactly. */
export function persisted(state: GroupState) {
  return {
    key: state.key,
    events: state.events.map((e) => ({ seq: e.seq, event: e.event, source: e.source })),
    nextSeq: state.nextSeq,
    newest: state.newest,
    marks: [...state.marks].sort(([a], [b]) => a.localeCompare(b)),
    outbox: [...state.outbox].sort(([a], [b]) => a.localeCompare(b)),
  };
}
