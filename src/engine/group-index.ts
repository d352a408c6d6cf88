import type { GroupState, StoredEvent } from "./group-state.js";
import { countBefore, dropFront, insertSorted, removeSorted } from "./order.js";
import { SlotLists } from "./slot-lists.js";

/**
 * Engine-private index of one group's stored events: per `where` entry (step or absent of a
 * pattern), the sorted list of stored events satisfying it, so the matcher never re-evaluates a
 * predicate and bounds candidates by binary search. Kept incrementally while the same GroupState
 * object lives (memory store); rebuilt when a state is loaded fresh (Redis store) or was changed
 * behind the engine's back (detected by `nextSeq`/length).
 */
export class GroupIndex extends SlotLists {
  /** Entry ids per stored event, aligned with `state.events` (for removal without a lookup). */
  private readonly entriesAt: Array<readonly number[]> = [];
  nextSeq = 0;
  size = 0;
  /** Timestamp of the group's oldest stored event (+Infinity when none). */
  oldestTs = Number.POSITIVE_INFINITY;

  /**
   * `state`: the group state this index belongs to (an index found on a copy is not trusted);
   * `owner`: what its entry ids mean (the id of the detector runtime that built it).
   */
  constructor(
    private readonly state: GroupState,
    readonly owner: number,
  ) {
    super();
  }

  list(entry: number): readonly StoredEvent[] {
    return this.getList(entry) ?? EMPTY;
  }

  /** Records `item`, just inserted at `position` of `state.events`, under its entries. */
  insert(position: number, item: StoredEvent, entries: readonly number[]): void {
    // Appended to the group's events means last in every list too (lists are ordered subsets).
    const last = position === this.entriesAt.length;
    if (position === 0) this.oldestTs = item.event.timestamp;
    if (last) this.entriesAt.push(entries);
    else this.entriesAt.splice(position, 0, entries);
    for (const id of entries) {
      const list = this.getList(id);
      if (!list) this.addList(id, [item]);
      else if (last) list.push(item);
      else insertSorted(list, item);
    }
  }

  /** Forgets the group's `count` oldest events, `events[0..count)` (about to be cut from it). */
  removeOldest(events: readonly StoredEvent[], count: number): void {
    for (let i = 0; i < count; i++) {
      const item = events[i]!;
      for (const id of this.entriesAt[i]!) {
        const list = this.getList(id);
        if (!list) continue;
        if (list[0] === item) list.shift();
        else removeSorted(list, item);
        if (list.length === 0) this.deleteList(id);
      }
    }
    dropFront(this.entriesAt, count);
    this.oldestTs = events.length > count ? events[count]!.event.timestamp : Number.POSITIVE_INFINITY;
  }

  inSync(state: GroupState): boolean {
    return this.state === state && this.nextSeq === state.nextSeq && this.size === state.events.length;
  }

  markSynced(state: GroupState): void {
    this.nextSeq = state.nextSeq;
    this.size = state.events.length;
  }
}

/** Whether the group stores an event with this id (a duplicate has the same timestamp). */
export function holdsEvent(events: readonly StoredEvent[], id: string, ts: number): boolean {
  for (let i = countBefore(events, ts, Number.NEGATIVE_INFINITY); i < events.length; i++) {
    const e = events[i]!.event;
    if (e.timestamp !== ts) return false;
    if (e.event_id === id) return true;
  }
  return false;
}

const EMPTY: readonly StoredEvent[] = Object.freeze([]);
