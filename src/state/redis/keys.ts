import { createHash } from "node:crypto";

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

export function groupTag(groupKey: string): string {
  return createHash("sha256").update(groupKey).digest("base64url").slice(0, 16);
}

export function groupKeys(prefix: string, groupKey: string): GroupKeys {
  const base = `${prefix}{${groupTag(groupKey)}}:`;
  return { meta: `${base}m`, events: `${base}e`, outbox: `${base}o`, outboxIndex: `${base}oi` };
}

/** Seen ids are spread over `shards` sorted sets, each its own slot. */
export function seenShardKey(prefix: string, shard: number): string {
  return `${prefix}{seen-${shard}}:s`;
}

/** A seen id is stored as a 96-bit hash: fixed 16 bytes whatever the id's length (ids go up to 128). */
export function seenMember(eventId: string): string {
  return createHash("sha256").update(eventId).digest("base64url").slice(0, 16);
}

export function seenShardOf(member: string, shards: number): number {
  // The member is already a uniform hash: its first 4 chars (24 bits) pick the shard.
  return Buffer.from(member.slice(0, 4), "base64url").readUIntBE(0, 3) % shards;
}

/** Event encodings (schema id → stored paths), shared by all groups of a deployment. */
export function schemaRegistryKey(prefix: string): string {
  return `${prefix}schemas`;
}
