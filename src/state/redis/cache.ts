import type { GroupState } from "../../engine/group-state.js";

/** What a cached state looked like when saved: if it still does, the engine has not touched it since. */
interface Entry {
  state: GroupState;
  version: number;
  nextSeq: number;
  newest: number;
  events: number;
  marks: number;
  outbox: number;
}

/** Redis expires outbox entries; a cached copy only needs a bounded recent part. */
const MAX_CACHED_OUTBOX = 1000;

/**
 * The group states a store saved last, reused unread (the save's version check catches a copy another
 * writer moved; docs/state.md, "load"). Least recently saved dropped beyond `max`; a state is taken
 * out while a batch holds it.
 */
export class GroupCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly max: number) {}

  /**
   * Takes a state out of the cache: the state if the engine has not changed it since its save, else
   * undefined. Out either way: until the batch saves it, a concurrent batch touching the same group
   * reads Redis and gets its own object, so the version check sees any overlap.
   */
  checkout(key: string): GroupState | undefined {
    const c = this.entries.get(key);
    if (!c) return undefined;
    this.entries.delete(key);
    const s = c.state;
    const ch = s.changes;
    const clean =
      ch.added.length === 0 &&
      ch.evicted.length === 0 &&
      ch.marks.size === 0 &&
      ch.outbox.length === 0 &&
      s.version === c.version &&
      s.nextSeq === c.nextSeq &&
      s.newest === c.newest &&
      s.events.length === c.events &&
      s.marks.size === c.marks &&
      s.outbox.size === c.outbox;
    return clean ? s : undefined;
  }

  drop(key: string): void {
    this.entries.delete(key);
  }

  /** After a successful save: `state` is exactly what Redis holds at `state.version`. */
  remember(state: GroupState): void {
    if (this.max === 0) return;
    for (const id of state.outbox.keys()) {
      if (state.outbox.size <= MAX_CACHED_OUTBOX) break;
      state.outbox.delete(id);
    }
    this.entries.set(state.key, {
      state,
      version: state.version,
      nextSeq: state.nextSeq,
      newest: state.newest,
      events: state.events.length,
      marks: state.marks.size,
      outbox: state.outbox.size,
    });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
}
