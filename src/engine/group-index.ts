import type { DistinctSeen } from "./distinct.js";
import type { GroupState, StoredEvent } from "./group-state.js";
import { countBefore, dropFront } from "./order.js";

/**
 * Engine-private index of one group's stored events: the slots (distinct `where`s, see Dispatcher)
 * each stored event satisfies, and how many stored events satisfy each slot. Kept incrementally
 * while the same GroupState object lives (memory store); rebuilt when a state is loaded fresh
 * (Redis store) or was changed behind the engine's back (detected by `nextSeq`/length).
 *
 * The counts are all most events need: a pattern with a step short of events is ruled out without
 * looking at any event. The per-slot lists the matcher reads (sorted subsets of the group's events)
 * are built only for the few searches that get past that check (`listInto`), instead of being kept
 * up to date for every stored event: a list per slot per group cost a few cache misses on each
 * insertion and removal, and garbage whenever one grew.
 */
export class GroupIndex {
  /** Slot ids per stored event (ascending), aligned with `state.events`. */
  private readonly entriesAt: Array<readonly number[]> = [];
  /**
   * The stored events' timestamps, aligned with `state.events`: trimming finds the expired ones in
   * one array of unboxed numbers instead of reading each (cold) stored event and its event.
   */
  private readonly times: number[] = [];
  /** `[slot, count, slot, count, …]` for each slot with stored events: a group has a few. */
  private readonly counts: number[] = [];
  nextSeq = 0;
  size = 0;

  /**
   * `state`: the group state this index belongs to (an index found on a copy is not trusted);
   * `owner`: what its slot ids mean (the id of the detector runtime that built it); `distinct`: the
   * values its `count.distinct` steps have seen, when the runtime has such steps.
   */
  constructor(
    private readonly state: GroupState,
    readonly owner: number,
    readonly distinct?: DistinctSeen,
  ) {}

  /**
   * Writes each slot's count to `countBy[slot]` and `stamp` to `stampBy[slot]` (a slot not stamped
   * so has no stored event): one pass, then a search asks for any slot's count in O(1).
   */
  countsInto(countBy: Int32Array, stampBy: Int32Array, stamp: number): void {
    const counts = this.counts;
    for (let i = 0; i < counts.length; i += 2) {
      countBy[counts[i]!] = counts[i + 1]!;
      stampBy[counts[i]!] = stamp;
    }
  }

  /** Writes the stored events satisfying slot `id` into `out` (emptied first), in the group's order. */
  listInto(id: number, out: StoredEvent[]): StoredEvent[] {
    out.length = 0;
    const events = this.state.events;
    const entriesAt = this.entriesAt;
    for (let i = 0; i < entriesAt.length; i++) {
      const ids = entriesAt[i]!;
      for (let k = 0; k < ids.length && ids[k]! <= id; k++) {
        if (ids[k] === id) {
          out.push(events[i]!);
          break;
        }
      }
    }
    return out;
  }

  /**
   * Records `item`, just inserted at `position` of `state.events`, under its slots. `forgetBefore`:
   * see `DistinctSeen.add`.
   */
  insert(position: number, item: StoredEvent, entries: readonly number[], forgetBefore: number): void {
    const ts = item.event.timestamp;
    if (position === this.entriesAt.length) {
      this.entriesAt.push(entries);
      this.times.push(ts);
    } else {
      this.entriesAt.splice(position, 0, entries);
      this.times.splice(position, 0, ts);
    }
    for (let e = 0; e < entries.length; e++) this.add(entries[e]!, 1);
    this.distinct?.add(item, entries, forgetBefore);
  }

  /**
   * Whether the oldest stored event is before `cutoff`. Read from `times`, whose first and last
   * elements storing an event touches anyway: a field of its own was a number object, one more cold
   * read per event.
   */
  hasOlder(cutoff: number): boolean {
    const times = this.times;
    return times.length > 0 && times[0]! < cutoff;
  }

  /** How many of the oldest stored events have a timestamp before `cutoff`. */
  countOlder(cutoff: number): number {
    const times = this.times;
    let n = 0;
    while (n < times.length && times[n]! < cutoff) n++;
    return n;
  }

  /** Forgets the group's `count` oldest events (about to be cut from `state.events`). */
  removeOldest(count: number): void {
    for (let i = 0; i < count; i++) {
      const entries = this.entriesAt[i]!;
      for (let e = 0; e < entries.length; e++) this.add(entries[e]!, -1);
    }
    dropFront(this.entriesAt, count);
    dropFront(this.times, count);
  }

  private add(id: number, by: number): void {
    const counts = this.counts;
    for (let i = 0; i < counts.length; i += 2) {
      if (counts[i] !== id) continue;
      const n = counts[i + 1]! + by;
      if (n > 0) counts[i + 1] = n;
      else {
        // The last pair takes its place: the order of the pairs means nothing.
        counts[i] = counts[counts.length - 2]!;
        counts[i + 1] = counts[counts.length - 1]!;
        counts.length -= 2;
      }
      return;
    }
    if (by > 0) counts.push(id, by);
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
