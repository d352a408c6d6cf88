import { emptyChanges, type GroupChanges, type GroupState, newGroupState } from "../engine/group-state.js";
import { SeenIds } from "./seen-ids.js";
import type { GroupRef, LoadedBatch, SaveBatch, StateStore } from "./store.js";

export interface MemoryStoreOptions {
  /** Most groups kept; the least recently used beyond it are dropped. Default 100 000. */
  maxGroups?: number;
  /**
   * Drop a group whose newest event is more than this much event time behind the newest event the
   * store has seen. Default: never (only `maxGroups` bounds memory). Set it to at least the window
   * plus the longest `suppress`, or a dropped group could alert again too early.
   */
  idleMs?: number;
  /** Remember a seen event id at least this much event time behind the newest event. Default 24 h. */
  seenTtlMs?: number;
  /** Most seen ids kept; the oldest beyond it are dropped (and counted). Default 2 000 000. */
  maxSeenIds?: number;
  /** Most outbox entries kept per group, oldest dropped first. Default 1000. */
  maxOutboxPerGroup?: number;
}

export interface MemoryStoreStats {
  groups: number;
  seenIds: number;
  /** Groups dropped by the LRU bound or the idle rule. */
  groupsEvicted: number;
  /** Seen ids dropped by the `maxSeenIds` bound before their TTL (duplicates may then pass). */
  seenIdsDropped: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Group state in process memory, for replay, tests and a single-instance service without Redis.
 * `load` hands out the live state objects, so the engine's mutations are the persistence; `save`
 * only acknowledges them (resets `changes`, bumps `version`), remembers seen ids and evicts.
 *
 * Its states share one `changes` record: per group it would tell nothing this store needs (the
 * objects are the persistence), except whether an outbox grew, and reading a record per saved group
 * cost several cache misses each. A state of its own record (a copy saved here) is reset alone.
 */
export class MemoryStore implements StateStore {
  private readonly maxGroups: number;
  private readonly idleMs: number;
  private readonly seenTtlMs: number;
  private readonly maxSeenIds: number;
  private readonly maxOutboxPerGroup: number;
  /**
   * Once `ordered`, insertion order is recency order (a loaded group is moved to the end). Until the
   * store first goes over `maxGroups` the order matters to no one: each use is only stamped on the
   * state (`usedAt`), and the map is sorted by those stamps the first time eviction needs the order.
   */
  private readonly groups = new Map<string, GroupState>();
  private ordered = false;
  private clock = 0;
  /** What this store's states hold in `heldBy`: a plain object, so a copied state drags no store. */
  private readonly token = {};
  /** The `changes` of every state this store made or took in. */
  private readonly changes: GroupChanges = { ...emptyChanges(), outboxGroups: [] };
  /** Event ids seen, oldest first, with their event timestamps. */
  private readonly seen = new SeenIds();
  /** Largest event timestamp saved (group newest or seen id). */
  private newest = Number.NEGATIVE_INFINITY;
  private lastIdleSweep = Number.NEGATIVE_INFINITY;
  private groupsEvicted = 0;
  private seenIdsDropped = 0;
  private closed = false;

  constructor(opts: MemoryStoreOptions = {}) {
    this.maxGroups = positive(opts.maxGroups ?? 100_000, "maxGroups");
    this.idleMs = positive(opts.idleMs ?? Number.POSITIVE_INFINITY, "idleMs");
    this.seenTtlMs = positive(opts.seenTtlMs ?? DAY_MS, "seenTtlMs");
    this.maxSeenIds = positive(opts.maxSeenIds ?? 2_000_000, "maxSeenIds");
    this.maxOutboxPerGroup = positive(opts.maxOutboxPerGroup ?? 1000, "maxOutboxPerGroup");
  }

  async load(refs: GroupRef[], eventIds: string[]): Promise<LoadedBatch> {
    this.assertOpen();
    const states: Array<GroupState | undefined> = new Array(refs.length);
    const loadStart = this.clock;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const key = ref.key;
      let state = ref.memo as GroupState | undefined;
      // A state this store holds is in `groups` (a dropped one is let go of): the ref's note is good.
      if (state === undefined || state.heldBy !== this.token || state.key !== key)
        state = this.groups.get(key);
      if (state) {
        states[i] = state;
        // Already touched by this load (a repeated ref): as if skipped.
        if (state.heldBy === this.token && state.usedAt > loadStart) continue;
        if (this.ordered) {
          this.groups.delete(key);
          this.groups.set(key, state);
        }
      } else {
        state = newGroupState(key, ref.groupingId, { ...ref.values });
        state.live = true;
        state.changes = this.changes;
        this.groups.set(key, state);
        states[i] = state;
      }
      this.touch(state);
      ref.memo = state;
    }
    const seen = new Set<string>();
    if (this.seen.size > 0) for (const id of eventIds) if (this.seen.has(id)) seen.add(id);
    return new Loaded(refs, states, seen);
  }

  async save(batch: SaveBatch): Promise<void> {
    this.assertOpen();
    const shared = this.changes;
    for (const state of batch.groups) {
      // A state dropped by eviction between load and save is put back: the batch's work is not lost.
      // (One this store made and never evicted anything since is still there: no lookup needed.)
      if (this.groupsEvicted > 0 || state.heldBy !== this.token) this.putBack(state);
      state.version++;
      if (state.changes !== shared) {
        if (acknowledge(state.changes)) trimOutbox(state, this.maxOutboxPerGroup);
        state.changes = shared;
      }
      if (state.newest > this.newest) this.newest = state.newest;
    }
    // An outbox grows only with an entry listed in `changes.outbox`, and the engine lists its state too:
    // only those outboxes are looked at (each saved state's was a cold read). An entry listed without
    // its state (another writer) has every saved state looked at.
    const grew = shared.outboxGroups!;
    const trimmed = shared.outbox.length > grew.length ? batch.groups : grew;
    for (const state of trimmed) trimOutbox(state, this.maxOutboxPerGroup);
    acknowledge(shared);
    for (const { id, timestamp } of batch.seen) {
      this.seen.add(id, timestamp);
      if (timestamp > this.newest) this.newest = timestamp;
    }
    this.expireSeen();
    this.evictGroups();
  }

  /** Records a use of the group (a load or a put-back): its place in the recency order. */
  private touch(state: GroupState): void {
    state.heldBy = this.token;
    state.usedAt = ++this.clock;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  stats(): MemoryStoreStats {
    return {
      groups: this.groups.size,
      seenIds: this.seen.size,
      groupsEvicted: this.groupsEvicted,
      seenIdsDropped: this.seenIdsDropped,
    };
  }

  private expireSeen(): void {
    // An event stamped far in the future (a bad clock) must not make every other id look old.
    const horizon = Math.min(this.newest, Date.now()) - this.seenTtlMs;
    // Oldest inserted first; an id inserted late with an old timestamp just lives a little longer.
    for (;;) {
      const ts = this.seen.oldestTime();
      if (ts === undefined || (ts >= horizon && this.seen.size <= this.maxSeenIds)) break;
      this.seen.dropOldest();
      if (ts >= horizon) this.seenIdsDropped++;
    }
  }

  private evictGroups(): void {
    if (this.groups.size > this.maxGroups && !this.ordered) {
      // First time over the bound: put the groups in recency order once, keep them so from now on.
      // (A state another store stamped since counts as this store's oldest.)
      const stamp = (s: GroupState) => (s.heldBy === this.token ? s.usedAt : 0);
      const byUse = [...this.groups.values()];
      byUse.sort((a, b) => stamp(a) - stamp(b));
      this.groups.clear();
      for (const state of byUse) this.groups.set(state.key, state);
      this.ordered = true;
    }
    while (this.groups.size > this.maxGroups) {
      const [oldest, state] = this.groups.entries().next().value as [string, GroupState];
      this.drop(oldest, state);
    }
    if (!Number.isFinite(this.idleMs)) return;
    // A full sweep is O(groups): run it only when event time moved by an eighth of idleMs.
    // As for seen ids: a far-future timestamp must not make every other group look idle.
    const newest = Math.min(this.newest, Date.now());
    if (newest - this.lastIdleSweep < this.idleMs / 8) return;
    this.lastIdleSweep = newest;
    const horizon = newest - this.idleMs;
    for (const [key, state] of this.groups) {
      if (state.newest < horizon) this.drop(key, state);
    }
  }

  /** Makes `state` the one held for its key (a copy saved, or one dropped since its load). */
  private putBack(state: GroupState): void {
    const held = this.groups.get(state.key);
    if (held === state) return;
    if (held !== undefined && held.heldBy === this.token) held.heldBy = undefined;
    this.groups.delete(state.key);
    this.groups.set(state.key, state);
    this.touch(state);
    state.live = true;
  }

  private drop(key: string, state: GroupState): void {
    this.groups.delete(key);
    if (state.heldBy === this.token) state.heldBy = undefined;
    this.groupsEvicted++;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("MemoryStore is closed");
  }
}

/**
 * Acknowledges what changed; only the parts that changed get a fresh container (no garbage per
 * batch). Returns whether an outbox grew.
 */
function acknowledge(c: GroupChanges): boolean {
  if (c.added.length > 0) c.added = [];
  if (c.evicted.length > 0) c.evicted = [];
  if (c.marks.size > 0) c.marks = new Set();
  if (c.outbox.length === 0) return false;
  c.outbox = [];
  if (c.outboxGroups !== undefined) c.outboxGroups = [];
  return true;
}

function trimOutbox(state: GroupState, max: number): void {
  if (state.outbox.size <= max) return;
  for (const id of state.outbox.keys()) {
    if (state.outbox.size <= max) break;
    state.outbox.delete(id);
  }
}

/** The store's own states by position; the map by key is built only for a caller that reads it. */
class Loaded implements LoadedBatch {
  private byKey: Map<string, GroupState> | undefined;

  constructor(
    private readonly refs: readonly GroupRef[],
    readonly states: ReadonlyArray<GroupState | undefined>,
    readonly seen: Set<string>,
  ) {}

  get groups(): Map<string, GroupState> {
    if (this.byKey === undefined) {
      this.byKey = new Map();
      for (let i = 0; i < this.refs.length; i++) this.byKey.set(this.refs[i]!.key, this.states[i]!);
    }
    return this.byKey;
  }
}

function positive(n: number, name: string): number {
  if (!(n > 0)) throw new RangeError(`MemoryStore: ${name} must be > 0, got ${n}`);
  return n;
}
