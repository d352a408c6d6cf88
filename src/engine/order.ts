import type { StoredEvent } from "./group-state.js";

/** (timestamp, seq) order: the order of a group's events (docs/semantics.md). */
export function compareStored(a: StoredEvent, b: StoredEvent): number {
  return a.event.timestamp - b.event.timestamp || a.seq - b.seq;
}

/** Number of elements of a (timestamp, seq)-sorted list strictly before (ts, seq). */
export function countBefore(list: readonly StoredEvent[], ts: number, seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = list[mid]!;
    const d = m.event.timestamp - ts || m.seq - seq;
    if (d < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts into a sorted list and returns its position; new events usually go last. */
export function insertSorted(list: StoredEvent[], item: StoredEvent): number {
  const n = list.length;
  if (n === 0 || compareStored(list[n - 1]!, item) < 0) {
    list.push(item);
    return n;
  }
  const at = countBefore(list, item.event.timestamp, item.seq);
  list.splice(at, 0, item);
  return at;
}

/** Removes one element (found by binary search); returns whether it was there. */
export function removeSorted(list: StoredEvent[], item: StoredEvent): boolean {
  const i = countBefore(list, item.event.timestamp, item.seq);
  if (list[i] !== item) return false;
  if (i === 0) list.shift();
  else list.splice(i, 1);
  return true;
}

/** Whether `item` is in the sorted list. */
export function containsSorted(list: readonly StoredEvent[], item: StoredEvent): boolean {
  return list[countBefore(list, item.event.timestamp, item.seq)] === item;
}

/** Removes the first `count` elements; a few are shifted off (no array of the removed ones made). */
export function dropFront(list: unknown[], count: number): void {
  if (count > 8) list.splice(0, count);
  else for (let i = 0; i < count; i++) list.shift();
}
