import type { ChainableCommander } from "ioredis";
import { Redis } from "ioredis";
import { type GroupState, newGroupState, type StoredEvent } from "../../engine/group-state.js";
import {
  type GroupRef,
  type LoadedBatch,
  type SaveBatch,
  StateConflictError,
  type StateStore,
  StateUnavailableError,
} from "../store.js";
import { GroupCache } from "./cache.js";
import {
  DecodeError,
  decodeEvent,
  decodeMark,
  decodeOutbox,
  encodeEvent,
  parseStored,
  registryEntry,
  type Schema,
  schemaFor,
  schemaFromRegistry,
  schemaIdOf,
} from "./codec.js";
import { toStateError, waitReady } from "./connection.js";
import {
  type GroupKeys,
  groupKeys,
  schemaRegistryKey,
  seenMember,
  seenShardKey,
  seenShardOf,
} from "./keys.js";
import { remembered } from "./remembered.js";
import { type Args, byShard, pushGroupArgs } from "./save-args.js";
import { READ_GROUPS, READ_VERSIONS, SAVE_BATCH, SAVE_HEADER } from "./scripts.js";
import { setStoredForm, storedFormOf } from "./stored-form.js";

export interface RedisStoreOptions {
  /** A client (not closed by `close`) or a URL (the store creates a fail-fast client and owns it). */
  redis: Redis | string;
  /** Prefix of every key; deployments sharing a Redis use different prefixes. Default "cw:". */
  prefix?: string;
  /** Fields worth storing (`engine.storedFields`); the rest of an event is dropped. */
  fields: ReadonlySet<string>;
  /** The input topic, interned in the events' encoding: an event read from it stores no topic name. */
  topic?: string;
  /** The engine's window: group keys live this long (plus slack) after their last write. */
  retentionMs: number;
  /** Added to the retention for key TTLs (processing time). Default 5 min. */
  ttlSlackMs?: number;
  /** Seen ids are kept this long of event time behind the newest id of their shard. Default 24 h. */
  seenTtlMs?: number;
  /** Outbox entries (alerts of an event, for re-delivery after a crash) live this long. Default 24 h. */
  outboxTtlMs?: number;
  /** Sorted sets the seen ids are spread over (one Cluster slot each). Default 16. */
  seenShards?: number;
  /** Most seen ids kept overall (oldest dropped first, counted). Default 2 000 000. */
  maxSeenIds?: number;
  /** For an owned client: how long connecting and each command may take. Defaults 2 s and 5 s. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /**
   * Groups kept in process after a save and reused without a read (no events travel, and the engine
   * keeps its index of them); the save's version check refuses a batch that used a copy another writer
   * has since moved (docs/state.md, "load"). With Kafka partitioning by user, one instance owns a
   * user, so this is the common case. Default 10 000; 0 = off.
   */
  cacheGroups?: number;
  /** Processing time, for outbox expiry (tests). */
  now?: () => number;
}

export interface RedisStoreStats {
  /** Requests sent to Redis and answered (a pipeline counts once). */
  roundTrips: number;
  /** Seen ids dropped by the `maxSeenIds` bound before their TTL. */
  seenIdsDropped: number;
  conflicts: number;
  /** Stored events skipped on load because their encoding's schema was lost (see docs/state.md). */
  undecodable: number;
}

interface ScriptCommands {
  cwReadVersions(numKeys: number, keys: string[]): ChainableCommander;
  cwReadGroups(numKeys: number, keys: string[], outboxSince: number): ChainableCommander;
  cwSaveBatch(numKeys: number, keys: string[], args: Args): ChainableCommander;
}

type FullReply = [string[], string[], string[], string[]];
type ParsedGroup = { ref: GroupRef; reply: FullReply; events: unknown[][] };

const MINUTE = 60_000;
const KEY_NAMES_KEPT = 100_000;
const DAY = 24 * 60 * MINUTE;

/**
 * Group state in Redis: one pipeline to load a batch, one script call to save it, whatever its size.
 * The save checks every group's version first and writes nothing of the batch if any changed; then
 * every group, and the seen ids last. Layout: docs/state.md.
 */
export class RedisStore implements StateStore {
  readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly schema: Schema;
  private readonly schemas = new Map<string, Schema>();
  private readonly keyTtlMs: number;
  /** A group's key TTLs are set again by a save only this long after the last time (half the slack). */
  private readonly ttlRefreshMs: number;
  private readonly seenTtlMs: number;
  private readonly outboxTtlMs: number;
  private readonly seenShards: number;
  private readonly maxSeenPerShard: number;
  private readonly connectTimeoutMs: number;
  private readonly now: () => number;
  private readonly counters: RedisStoreStats = {
    roundTrips: 0,
    seenIdsDropped: 0,
    conflicts: 0,
    undecodable: 0,
  };
  private lastError: Error | undefined;
  private readonly cache: GroupCache;
  /** Each group's key names, built once: a group comes back batch after batch. Bounded like the cache. */
  private readonly keysOf: (groupKey: string) => GroupKeys;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.prefix ?? "cw:";
    if (!(opts.retentionMs >= 0))
      throw new RangeError(`RedisStore: retentionMs must be >= 0, got ${opts.retentionMs}`);
    const slackMs = opts.ttlSlackMs ?? 5 * MINUTE;
    this.keyTtlMs = Math.max(1, Math.ceil(opts.retentionMs + slackMs));
    this.ttlRefreshMs = Math.max(0, Math.floor(slackMs / 2));
    this.seenTtlMs = positive(opts.seenTtlMs ?? DAY, "seenTtlMs");
    this.outboxTtlMs = positive(opts.outboxTtlMs ?? DAY, "outboxTtlMs");
    this.seenShards = Math.floor(positive(opts.seenShards ?? 16, "seenShards"));
    this.maxSeenPerShard = Math.ceil(positive(opts.maxSeenIds ?? 2_000_000, "maxSeenIds") / this.seenShards);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    this.now = opts.now ?? Date.now;
    this.cache = new GroupCache(Math.max(0, Math.floor(opts.cacheGroups ?? 10_000)));
    this.keysOf = remembered((key) => groupKeys(this.prefix, key), KEY_NAMES_KEPT);
    this.schema = schemaFor(opts.fields, opts.topic);
    this.schemas.set(this.schema.id, this.schema);

    if (typeof opts.redis === "string") {
      this.owned = true;
      this.redis = new Redis(opts.redis, {
        lazyConnect: true,
        // Fail fast: no queueing while disconnected, one retry per command, bounded waits.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: this.connectTimeoutMs,
        commandTimeout: opts.commandTimeoutMs ?? 5000,
        retryStrategy: (times) => Math.min(times * 200, 2000),
      });
    } else {
      this.owned = false;
      this.redis = opts.redis;
    }
    // Only on a client this store owns: a shared client outlives many stores (one per pattern reload).
    if (this.owned) {
      this.redis.on("error", (err: Error) => {
        this.lastError = err;
      });
    }
    // Variable key counts: the caller passes the count first.
    this.redis.defineCommand("cwReadVersions", { lua: READ_VERSIONS, readOnly: true });
    this.redis.defineCommand("cwReadGroups", { lua: READ_GROUPS, readOnly: true });
    this.redis.defineCommand("cwSaveBatch", { lua: SAVE_BATCH });
  }

  stats(): RedisStoreStats {
    return { ...this.counters };
  }

  /** Requests answered by Redis so far (a pipeline counts once). */
  get roundTrips(): number {
    return this.counters.roundTrips;
  }

  async load(refs: GroupRef[], eventIds: string[]): Promise<LoadedBatch> {
    const unique = new Map<string, GroupRef>();
    for (const ref of refs) if (!unique.has(ref.key)) unique.set(ref.key, ref);
    const ids = [...new Set(eventIds)];
    const members = ids.map(seenMember);
    const byShard = this.byShard(members);

    // Cached groups are used as they are, unread: if another writer moved one since (a rebalance), the
    // save's version check refuses the batch, which then comes back here with the group uncached.
    const current = new Map<string, GroupState>();
    const hits: GroupState[] = [];
    const misses: GroupRef[] = [];
    for (const ref of unique.values()) {
      const hit = this.cache.checkout(ref.key);
      if (hit) {
        current.set(ref.key, hit);
        hits.push(hit);
      } else misses.push(ref);
    }
    const p = this.redis.pipeline();
    if (misses.length > 0) this.readGroups(p as unknown as ScriptCommands, misses);
    for (const [shard, ms] of byShard) p.zmscore(seenShardKey(this.prefix, shard), ms);
    const replies = misses.length + byShard.size > 0 ? await this.exec(p) : [];

    let i = 0;
    const read = misses.length > 0 ? (replies[i++] as FullReply[]) : [];
    const seenMembers = new Set<string>();
    for (const [, ms] of byShard) {
      const scores = replies[i++] as Array<string | null>;
      ms.forEach((m, j) => {
        if (scores[j] !== null) seenMembers.add(m);
      });
    }
    await this.toStates(misses, read, current);
    // A re-delivered event re-publishes what its groups' outboxes recorded, and a duplicate's groups are
    // not saved, so no version check would catch a stale copy there: with seen ids in the batch
    // (re-deliveries, rare), the cached groups are checked first, and those that moved read again.
    if (seenMembers.size > 0 && hits.length > 0) await this.refreshStale(hits, unique, current);
    // In the caller's order.
    const groups = new Map<string, GroupState>();
    for (const key of unique.keys()) groups.set(key, current.get(key)!);
    const seen = new Set<string>();
    ids.forEach((id, j) => {
      if (seenMembers.has(members[j]!)) seen.add(id);
    });
    return { groups, seen };
  }

  /** Replaces in `current` each cached state whose version Redis no longer holds by a fresh read. */
  private async refreshStale(
    hits: GroupState[],
    refs: Map<string, GroupRef>,
    current: Map<string, GroupState>,
  ): Promise<void> {
    const p = this.redis.pipeline();
    (p as unknown as ScriptCommands).cwReadVersions(
      hits.length,
      hits.map((s) => this.keysOf(s.key).meta),
    );
    const [versions] = (await this.exec(p)) as [number[]];
    const stale = hits.filter((s, j) => versions[j] !== s.version).map((s) => refs.get(s.key)!);
    if (stale.length === 0) return;
    const again = this.redis.pipeline();
    this.readGroups(again as unknown as ScriptCommands, stale);
    const [reread] = (await this.exec(again)) as [FullReply[]];
    await this.toStates(stale, reread, current);
  }

  private readGroups(cmd: ScriptCommands, refs: GroupRef[]): void {
    const keys: string[] = [];
    for (const ref of refs) {
      const k = this.keysOf(ref.key);
      keys.push(k.meta, k.events, k.outbox, k.outboxIndex);
    }
    cmd.cwReadGroups(keys.length, keys, this.now() - this.outboxTtlMs);
  }

  /** Decodes full group replies into states (fetching unknown event encodings first). */
  private async toStates(
    refs: GroupRef[],
    replies: FullReply[],
    into: Map<string, GroupState>,
  ): Promise<void> {
    const parsed: ParsedGroup[] = [];
    const unknownSchemas = new Set<string>();
    refs.forEach((ref, j) => {
      const reply = replies[j]!;
      const events = reply[1].map((r) => {
        const a = parseStored(r);
        setStoredForm(a, r);
        if (!this.schemas.has(schemaIdOf(a))) unknownSchemas.add(schemaIdOf(a));
        return a;
      });
      parsed.push({ ref, reply, events });
    });
    // Events stored under another field set (patterns changed): one more round trip, rarely.
    if (unknownSchemas.size > 0) await this.fetchSchemas([...unknownSchemas]);
    for (const g of parsed) into.set(g.ref.key, this.toState(g));
  }

  async save(input: SaveBatch): Promise<void> {
    // One entry per group: a group listed twice would conflict with itself.
    const groups = [...new Map(input.groups.map((g) => [g.key, g])).values()];
    const seenShards = this.seenArgs(input.seen);
    if (groups.length === 0 && seenShards.size === 0) return;
    const now = this.now();
    const shardKeys = [...seenShards.keys()].map((shard) => seenShardKey(this.prefix, shard));
    const keys: string[] = [schemaRegistryKey(this.prefix), ...shardKeys];
    const args: Args = [
      groups.length,
      seenShards.size,
      this.keyTtlMs,
      this.outboxTtlMs,
      now,
      this.seenTtlMs,
      this.maxSeenPerShard,
      this.seenTtlMs + this.keyTtlMs,
      this.schema.id,
      registryEntry(this.schema),
      Math.max(this.keyTtlMs, this.outboxTtlMs),
      this.ttlRefreshMs,
    ];
    if (args.length !== SAVE_HEADER) throw new Error("SAVE_BATCH header out of step with the script");
    args.push(groups.map((g) => g.version).join(" "));
    const pending: Array<{ state: GroupState; added: Array<string | undefined> }> = [];
    for (const state of groups) {
      keys.push(this.keysOf(state.key).meta);
      pending.push({
        state,
        added: pushGroupArgs(args, state, (ev) => encodeEvent(ev, this.schema, state.values)),
      });
    }
    for (const pairs of seenShards.values()) args.push(pairs.join(" "));
    // Whatever happens next, these objects are the engine's work in progress, not Redis' copy.
    for (const { state } of pending) this.cache.drop(state.key);
    const p = this.redis.pipeline();
    (p as unknown as ScriptCommands).cwSaveBatch(keys.length, keys, args);
    const [reply] = (await this.exec(p)) as [[0, number[], number?] | [1, number[], number[]]];

    if (reply[0] !== 1) {
      // Nothing written: a group of the batch changed since it was loaded, or one of its new event ids
      // was saved meanwhile by another writer (the same event_id on another partition).
      const conflicts = reply[1].map((n) => groups[n - 1]!.key);
      const taken = reply[2] ?? 0;
      this.counters.conflicts += conflicts.length + taken;
      throw conflicts.length > 0
        ? new StateConflictError(conflicts)
        : new StateConflictError([`${taken} event id${taken === 1 ? "" : "s"}`], "seen event ids");
    }
    const [, versions, dropped] = reply;
    for (let j = 0; j < pending.length; j++) {
      const { state, added } = pending[j]!;
      state.version = versions[j]!;
      const c = state.changes;
      for (let n = 0; n < c.added.length; n++) {
        const r = added[n];
        if (r !== undefined) setStoredForm(c.added[n]!, r);
      }
      // Emptied in place: a group is saved batch after batch, and fresh collections are garbage.
      c.added.length = 0;
      c.evicted.length = 0;
      c.marks.clear();
      c.outbox.length = 0;
      this.cache.remember(state);
    }
    for (const d of dropped) this.counters.seenIdsDropped += d;
  }

  async ping(): Promise<void> {
    await waitReady(this.redis, this.connectTimeoutMs, this.lastError);
    try {
      await this.redis.ping();
      this.counters.roundTrips++;
    } catch (err) {
      throw toStateError(err);
    }
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    if (this.redis.status === "end") return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  /** Deletes every key under this store's prefix (tests and benches). SCAN, so not for production. */
  async deleteAll(): Promise<number> {
    await waitReady(this.redis, this.connectTimeoutMs, this.lastError);
    let deleted = 0;
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    const stream = this.redis.scanStream({ match: pattern, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await this.redis.unlink(...keys);
    }
    return deleted;
  }

  private toState({ ref, reply, events }: ParsedGroup): GroupState {
    const [metaFlat, , outboxIds, outboxValues] = reply;
    const state = newGroupState(ref.key, ref.groupingId, { ...ref.values });
    // Before the version check: the outbox outlives the group's other keys (outboxTtlMs), so a group
    // idle past its retention still hands a re-delivered event its recorded alerts.
    outboxIds.forEach((id, j) => {
      const v = outboxValues[j];
      if (v) state.outbox.set(id, decodeOutbox(v));
    });
    for (let j = 0; j < metaFlat.length; j += 2)
      if (metaFlat[j] === "v") state.version = Number(metaFlat[j + 1]);
    if (state.version === 0) return state;
    for (let j = 0; j < metaFlat.length; j += 2) {
      const field = metaFlat[j]!;
      const value = metaFlat[j + 1]!;
      if (field === "n") state.nextSeq = Number(value);
      else if (field === "t") state.newest = Number(value);
      else if (field === "k" && value !== ref.key)
        throw new Error(`Redis key collision: ${ref.key} and ${value} share a hash tag`);
      else if (field.startsWith("p:")) state.marks.set(field.slice(2), decodeMark(value));
    }
    const bySeq = new Map<number, StoredEvent>();
    for (const a of events) {
      const schema = this.schemas.get(schemaIdOf(a));
      if (!schema) {
        this.counters.undecodable++;
        continue;
      }
      const ev = decodeEvent(a, schema, state.values);
      setStoredForm(ev, storedFormOf(a)!);
      bySeq.set(ev.seq, ev);
    }
    state.events = [...bySeq.values()].sort((a, b) => a.event.timestamp - b.event.timestamp || a.seq - b.seq);
    return state;
  }

  private async fetchSchemas(ids: string[]): Promise<void> {
    const p = this.redis.pipeline();
    p.hmget(schemaRegistryKey(this.prefix), ...ids);
    const [found] = (await this.exec(p)) as [Array<string | null>];
    ids.forEach((id, j) => {
      const json = found[j];
      if (!json) return;
      const schema = schemaFromRegistry(json);
      if (schema.id !== id) throw new DecodeError(`schema registry entry ${id} does not match its paths`);
      this.schemas.set(id, schema);
    });
  }

  private seenArgs(seen: SaveBatch["seen"]): Map<number, string[]> {
    const shards = this.seenShards;
    // Each id hashed once (the shard is read off its member).
    const members = seen.map((s) => ({ member: seenMember(s.id), timestamp: s.timestamp }));
    return byShard(
      members,
      (s) => seenShardOf(s.member, shards),
      (a, s) => a.push(String(s.timestamp), s.member),
    );
  }

  private byShard(members: string[]): Map<number, string[]> {
    const shards = this.seenShards;
    return byShard(
      members,
      (m) => seenShardOf(m, shards),
      (a, m) => a.push(m),
    );
  }

  /** Runs a pipeline: one round trip. Any failed command fails the call (nothing is half-applied per group). */
  private async exec(p: ChainableCommander): Promise<unknown[]> {
    await waitReady(this.redis, this.connectTimeoutMs, this.lastError);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await p.exec();
    } catch (err) {
      throw toStateError(err);
    }
    this.counters.roundTrips++;
    if (!results) throw new StateUnavailableError("Redis pipeline was discarded");
    const failed = results.find(([err]) => err);
    if (failed) throw toStateError(failed[0]);
    return results.map(([, v]) => v);
  }
}

function positive(n: number, name: string): number {
  if (!(n > 0)) throw new RangeError(`RedisStore: ${name} must be > 0, got ${n}`);
  return n;
}
