import type { Alert } from "../alerts/types.js";
import type { ToolCallEvent } from "../events/schema.js";

/** Where an event was read: Kafka coordinates in the service, a line number in replay. */
export type EventSource = { topic: string; partition: number; offset: string } | { line: number };

export interface StoredEvent {
  /** Arrival order within the group; ties on timestamp are broken by it. */
  seq: number;
  /** The event, compacted by the store to the fields patterns and alerts read. */
  event: ToolCallEvent;
  source?: EventSource;
}

export interface PatternMark {
  /** Events with timestamp <= consumed are consumed for this pattern in this group. */
  consumed: number;
  /** `last_seen` of the last alert of this pattern in this group (for `suppress`), or null. */
  lastAlert: number | null;
}

/** What an event's processing fired, kept so a re-delivered event can re-publish it (outbox). */
export interface OutboxEntry {
  source?: EventSource;
  alerts: Alert[];
}

/** What changed in a group since it was loaded: what the store must persist. */
export interface GroupChanges {
  added: StoredEvent[];
  evicted: StoredEvent[];
  /** Pattern ids whose mark changed. */
  marks: Set<string>;
  /** Event ids of new outbox entries. */
  outbox: string[];
  /**
   * Set by a store that gives all its states one record (the memory store): the states whose outbox
   * grew, so that it need not look at every saved state's outbox to bound it.
   */
  outboxGroups?: GroupState[];
}

/** One group's sliding state: the unit the engine works on and the store persists atomically. */
export interface GroupState {
  key: string;
  groupingId: string;
  values: Record<string, string>;
  /** Sorted by (timestamp, seq). */
  events: StoredEvent[];
  nextSeq: number;
  /** Largest timestamp the group has seen (-Infinity when none). */
  newest: number;
  marks: Map<string, PatternMark>;
  outbox: Map<string, OutboxEntry>;
  /** Store-private concurrency token (e.g. a Redis version counter). */
  version: number;
  /** What changed since the load; a store may give all its states one record (the memory store). */
  changes: GroupChanges;
  /**
   * Set by a store whose persistence is this very object (the memory store): the engine then lists
   * no added or evicted events in `changes`, which nothing would read (marks and outbox ids still are).
   */
  live: boolean;
  /**
   * Never persisted or compared: what the engine and the memory store keep on the state itself, as
   * fields (a property added later lives in a separate array: one more cache miss per event).
   * `engineIndex`: the detector's index of `events`; `heldBy`/`usedAt`: a token of the memory store
   * holding the state and its last-use stamp there (0: none). A copy of the state (a clone, a
   * Redis read) is then simply not trusted by either.
   */
  engineIndex: unknown;
  heldBy: unknown;
  usedAt: number;
}

export function emptyChanges(): GroupChanges {
  return { added: [], evicted: [], marks: new Set(), outbox: [] };
}

export function newGroupState(key: string, groupingId: string, values: Record<string, string>): GroupState {
  return {
    key,
    groupingId,
    values,
    events: [],
    nextSeq: 0,
    newest: Number.NEGATIVE_INFINITY,
    marks: new Map(),
    outbox: new Map(),
    version: 0,
    changes: emptyChanges(),
    live: false,
    engineIndex: undefined,
    heldBy: undefined,
    usedAt: 0,
  };
}
