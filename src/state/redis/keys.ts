import { sha256 } from "../../sha256.js";

/**
 * Key layout. Every key of one group shares the hash tag `{<tag>}`, so a group lives in one Redis
 * Cluster slot and its Lua script may touch all of them. The tag is a 96-bit hash of the group key:
 * group keys are arbitrary text (they may contain `{` or `}`) and can be long.
 */
export interface GroupKeys {
  meta: string;
  events: string;
  outbox: string;
  outboxIndex: string;
}

const hash96 = (s: string) => sha256(s, "base64url").slice(0, 16);

/** Not remembered here: the store keeps each group's key names, built once (RedisStore.keysOf). */
export const groupTag: (groupKey: string) => string = hash96;

/** SAVE_BATCH (scripts.ts) derives the other three from `meta` by its last letter: keep them in step. */
export function groupKeys(prefix: string, groupKey: string): GroupKeys {
  const base = `${prefix}{${groupTag(groupKey)}}:`;
  return { meta: `${base}m`, events: `${base}e`, outbox: `${base}o`, outboxIndex: `${base}oi` };
}

/** Seen ids are spread over `shards` sorted sets, each its own slot. */
export function seenShardKey(prefix: string, shard: number): string {
  return `${prefix}{seen-${shard}}:s`;
}

/**
 * A seen id is stored as a 96-bit hash: fixed 16 bytes whatever the id's length (ids go up to 128).
 * Computed again by a batch's save rather than remembered from its load: with the one-shot hash
 * (~0.4 µs) that is cheaper than a map of every id of the last batches.
 */
export const seenMember: (eventId: string) => string = hash96;

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) SEXTET[BASE64URL.charCodeAt(i)] = i;

export function seenShardOf(member: string, shards: number): number {
  // The member is already a uniform hash: its first 4 chars (24 bits, big-endian) pick the shard.
  let bits = 0;
  for (let i = 0; i < 4; i++) {
    const c = member.charCodeAt(i);
    const v = c < 128 ? SEXTET[c]! : -1;
    if (v < 0) throw new RangeError(`seen member is not base64url: ${member}`);
    bits = (bits << 6) | v;
  }
  return bits % shards;
}

/** Event encodings (schema id → stored paths), shared by all groups of a deployment. */
export function schemaRegistryKey(prefix: string): string {
  return `${prefix}schemas`;
}
