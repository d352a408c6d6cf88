import type { GroupState } from "../engine/group-state.js";

/** Which group of which grouping an event belongs to (computed by the engine from `group_by`). */
export interface GroupRef {
  key: string;
  groupingId: string;
  values: Record<string, string>;
  /**
   * A store's note on this group, e.g. the memory store's state for it, checked by that store before
   * use: the engine hands out the same ref object for a user's events, so a store finds the group
   * without a lookup by key. Never read by anyone else.
   */
  memo?: unknown;
  /**
   * The batch's note (src/stream/batch-slots.ts), present on a ref the engine hands out for every
   * event of its group: the grouping pass that last saw it and its place in that pass's list, so the
   * pass needs no lookup by key. `batchStamp` is -1 once the engine has let go of the ref.
   */
  batchStamp?: number;
  batchSlot?: number;
}

/** Everything the engine needs for one batch, loaded in one round trip. */
export interface LoadedBatch {
  groups: Map<string, GroupState>;
  /**
   * Optional, for a caller that passed each key once: the state of `refs[i]` at index i, so that it
   * needs no lookup by key (a store may then build `groups` only when it is read).
   */
  states?: ReadonlyArray<GroupState | undefined>;
  /** Of the batch's event ids, those already seen (globally, by event_id). */
  seen: Set<string>;
}

export interface SaveBatch {
  /** Groups the batch touched; each persists its `changes` atomically (all or nothing per group). */
  groups: GroupState[];
  /** Event ids first seen in this batch, with their event timestamps (kept for duplicate detection). */
  seen: Array<{ id: string; timestamp: number }>;
}

/**
 * Group state behind one interface, memory or Redis. A batch is `load` (1 round trip) then `save`
 * (1 round trip), whatever its size. A failed call throws and leaves every group either fully saved
 * or untouched; the caller retries the batch from `load`.
 */
export interface StateStore {
  load(refs: GroupRef[], eventIds: string[]): Promise<LoadedBatch>;
  /** Throws `StateConflictError` when another writer changed a group since it was loaded. */
  save(batch: SaveBatch): Promise<void>;
  /** Readiness probe: resolves when the backing store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class StateConflictError extends Error {
  constructor(
    readonly keys: string[],
    what = "group state",
  ) {
    super(`${what} changed by another writer: ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}`);
    this.name = "StateConflictError";
  }
}

export class StateUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StateUnavailableError";
  }
}
