import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { groupTag, seenMember, seenShardOf } from "../../src/state/redis/keys.js";

// Ids already in Redis were hashed and sharded by these definitions: a new version must agree exactly.
const hash96 = (s: string) => createHash("sha256").update(s).digest("base64url").slice(0, 16);
const shardByBuffer = (m: string, shards: number) =>
  Buffer.from(m.slice(0, 4), "base64url").readUIntBE(0, 3) % shards;

describe("key derivation stays what earlier versions stored", () => {
  it("seen members and group tags are the 96-bit SHA-256 prefix, remembered or not", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 130 }), (id) => {
        expect(seenMember(id)).toBe(hash96(id));
        expect(seenMember(id)).toBe(hash96(id));
        expect(groupTag(id)).toBe(hash96(id));
      }),
    );
  });

  it("a member's shard is its first 24 bits modulo the shard count", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 1024 }), (id, shards) => {
        const m = seenMember(id);
        expect(seenShardOf(m, shards)).toBe(shardByBuffer(m, shards));
      }),
    );
    expect(() => seenShardOf("ab+/xyz", 16)).toThrow(/base64url/);
  });
});
