import type { GroupState, StoredEvent } from "./group-state.js";
import { insertSorted, removeSorted } from "./order.js";

/**
 * Engine-private index of one group's stored events: per `where` entry (step or absent of a
 * pattern), the sorted list of stored events satisfying it, so the matcher never re-evaluates a
 * predicate and bounds candidates by binary search. Kept incrementally while the same GroupState
 * object lives (memory store); rebuilt when a state is loaded fresh (Redis store) or was changed
 * behind the engine's back (detected by `nextSeq`/length).
 */
export class GroupIndex {
  /** Event ids of the stored events (per-group idempotency). */
  readonly ids = new Set<string>();
  private readonly lists = new Map<number, StoredEvent[]>();
  private readonly memberships = new Map<StoredEvent, readonly number[]>();
  nextSeq = 0;
  size = 0;

  list(entry: number): readonly StoredEvent[] {
    return this.lists.get(entry) ?? EMPTY;
  }

  add(item: StoredEvent, entries: readonly number[]): void {
    this.ids.add(item.event.event_id);
    this.memberships.set(item, entries);
    for (const id of entries) {
      const list = this.lists.get(id);
      if (list) insertSorted(list, item);
      else this.lists.set(id, [item]);
    }
  }

  remove(item: StoredEvent): void {
    this.ids.delete(item.event.event_id);
    const entries = this.memberships.get(item);
    if (!entries) return;
    this.memberships.delete(item);
    for (const id of entries) {
      const list = this.lists.get(id);
      if (!list) continue;
      removeSorted(list, item);
      if (list.length === 0) this.lists.delete(id);
    }
  }

  inSync(state: GroupState): boolean {
    return this.nextSeq === state.nextSeq && this.size === state.events.length;
  }

  markSynced(state: GroupState): void {
    this.nextSeq = state.nextSeq;
    this.size = state.events.length;
  }
}

const EMPTY: readonly StoredEvent[] = Object.freeze([]);
