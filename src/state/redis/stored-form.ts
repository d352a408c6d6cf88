/**
 * The exact text Redis holds for an event the store read or wrote: an evicted event is removed from
 * its list by value (`LREM`), and an event stored under an older encoding must be removed as stored.
 *
 * Kept on the event object under a symbol rather than in a `WeakMap`: every stored event of every
 * cached group had an entry, and a `WeakMap` that size is ephemerons each GC has to trace.
 * bench:state, alternated: 10.3–10.6k → 11.4–12.9k events per CPU-second through the RedisStore.
 */
const STORED_FORM = Symbol("chainwatch.redis.storedForm");

type WithStoredForm = { [STORED_FORM]?: string };

export function setStoredForm(event: object, text: string): void {
  (event as WithStoredForm)[STORED_FORM] = text;
}

export function storedFormOf(event: object): string | undefined {
  return (event as WithStoredForm)[STORED_FORM];
}
