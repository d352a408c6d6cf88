import type { Alert } from "../alerts/types.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { GroupRef } from "../state/store.js";
import type { EventSource, GroupState } from "./group-state.js";

/**
 * The engine's surface, implemented by `Detector` (src/engine/detector.ts). Pure: no I/O, no clock
 * except the injected `now` used for `detected_at`.
 *
 * A batch is driven by the caller (replay or the stream pipeline):
 *   refs = detector.groupsOf(event) for each event;  state = store.load(refs, ids)
 *   for each event in arrival order: if seen -> duplicate; else for each ref: detector.onEvent(...)
 *   store.save(...)
 */
export interface DetectorOptions {
  maxEventsPerGroup?: number;
  /** Processing time for `detected_at` (epoch ms). */
  now?: () => number;
  /**
   * Keep each alerting event's alerts in the group's outbox (default true). Only a consumer that can
   * see a re-delivery needs it; replay turns it off to save memory.
   */
  outbox?: boolean;
}

export type EventStatus = "ok" | "too_late";

export interface EventOutcome {
  status: EventStatus;
  alerts: Alert[];
  /** Events evicted from the group by the per-group bound. */
  evicted: number;
}

export interface Engine {
  /** The groups (one per grouping whose fields the event has) this event belongs to. */
  groupsOf(event: ToolCallEvent): GroupRef[];
  /** `groupsOf` written into `out` from index 0 (no array per event); returns how many. */
  groupsInto(event: ToolCallEvent, out: GroupRef[]): number;
  /**
   * Processes a newly arrived event (not a duplicate) in one of its groups: too-late check, store it
   * (when some pattern can use it), trim, search matches anchored on it, update marks and outbox.
   * Mutates `state` and records what changed in `state.changes`.
   */
  onEvent(state: GroupState, event: ToolCallEvent, source?: EventSource): EventOutcome;
  /** Fields of an event worth storing (the union of what loaded patterns and alerts read). */
  readonly storedFields: ReadonlySet<string>;
  readonly retentionMs: number;
}
