/**
 * Lua run by Redis, one call per group (atomic per group). Each script only touches keys of one hash
 * tag (one Cluster slot) except the batch marker, see docs/state.md. The `#!lua` shebang makes Redis
 * check OOM and read-only-replica conditions before the script runs, so a refused script writes nothing.
 *
 * Group keys: KEYS[1] meta hash, KEYS[2] event list, KEYS[3] outbox hash, KEYS[4] outbox index zset.
 */

/**
 * ARGV: knownVersion (the version of the caller's cached copy, 0 = none), outboxSince (ms).
 * Returns {version} when the cached copy is current, else {version, metaFlat, events, outboxIds,
 * outboxValues}.
 */
export const READ_GROUP = `#!lua flags=no-writes
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v > 0 and v == tonumber(ARGV[1]) then return {v} end
local meta = redis.call('HGETALL', KEYS[1])
local events = redis.call('LRANGE', KEYS[2], 0, -1)
local ids = redis.call('ZRANGE', KEYS[4], ARGV[2], '+inf', 'BYSCORE')
local values = {}
for i = 1, #ids do values[i] = redis.call('HGET', KEYS[3], ids[i]) or '' end
return {v, meta, events, ids, values}
`;

/**
 * Runs first in a save's transaction: compares every group's stored version with the one its batch
 * loaded and, on any mismatch, sets the batch marker, so that no group and no seen id of the batch is
 * written. KEYS[1] the batch marker, KEYS[2..] the groups' meta hashes; ARGV the expected versions.
 * Returns the (1-based) positions of the groups that changed.
 */
export const CHECK_VERSIONS = `#!lua
local changed = {}
for i = 2, #KEYS do
  local v = tonumber(redis.call('HGET', KEYS[i], 'v') or '0')
  if v ~= tonumber(ARGV[i - 1]) then changed[#changed + 1] = i - 1 end
end
if #changed > 0 then redis.call('SET', KEYS[1], '1', 'PX', 60000) end
return changed
`;

/**
 * KEYS[5]: the batch marker: when set (a group of the batch conflicted), nothing is written.
 * ARGV: expectedVersion, ttlMs, outboxTtlMs, now, nextSeq, newest ('' = none), groupKey,
 *       nAdded, nEvicted, nMarks, nOutbox, then the added events, the evicted events,
 *       (patternId, mark) pairs, (eventId, entry) pairs.
 * Returns {1, newVersion}, or {0, currentVersion} when skipped (nothing written).
 */
export const APPLY_GROUP = `#!lua
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if redis.call('EXISTS', KEYS[5]) == 1 then return {0, v} end
if v ~= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[5], '1', 'PX', 60000)
  return {0, v}
end
local ttl, obTtl, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local nAdd, nEv, nMark, nOb = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local i = 12
local chunk = {}
for _ = 1, nAdd do
  chunk[#chunk + 1] = ARGV[i]
  i = i + 1
  if #chunk == 500 then
    redis.call('RPUSH', KEYS[2], unpack(chunk))
    chunk = {}
  end
end
local evStart = i
i = i + nEv
if #chunk > 0 then redis.call('RPUSH', KEYS[2], unpack(chunk)) end
-- Evicted events are the oldest, near the head: LREM from the head finds them quickly.
for j = evStart, evStart + nEv - 1 do redis.call('LREM', KEYS[2], 1, ARGV[j]) end
local nv = v + 1
local h = {'v', nv, 'n', ARGV[5], 'k', ARGV[7]}
if ARGV[6] ~= '' then h[#h + 1] = 't'; h[#h + 1] = ARGV[6] end
for _ = 1, nMark do
  h[#h + 1] = 'p:' .. ARGV[i]
  h[#h + 1] = ARGV[i + 1]
  i = i + 2
end
redis.call('HSET', KEYS[1], unpack(h))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
-- The outbox only changes when entries are added; then expired ones go and its TTL is refreshed.
if nOb > 0 then
  for _ = 1, nOb do
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[4], now, ARGV[i])
    i = i + 2
  end
  local old = redis.call('ZRANGE', KEYS[4], '-inf', '(' .. string.format('%.0f', now - obTtl), 'BYSCORE')
  for j = 1, #old do
    redis.call('HDEL', KEYS[3], old[j])
    redis.call('ZREM', KEYS[4], old[j])
  end
  local obKeyTtl = math.max(ttl, obTtl)
  redis.call('PEXPIRE', KEYS[3], obKeyTtl)
  redis.call('PEXPIRE', KEYS[4], obKeyTtl)
end
return {1, nv}
`;

/**
 * Records seen ids in one shard (a sorted set scored by event time), unless the batch marker says a
 * group of this batch was not saved. KEYS[1] shard, KEYS[2] batch marker.
 * ARGV: ttlMs (event time), maxIds, keyTtlMs, now (processing ms: event times beyond it do not move
 * the horizon), then (timestamp, member) pairs.
 * Returns the number of ids dropped by the bound before their TTL, or -1 when skipped.
 */
export const ADD_SEEN = `#!lua
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local chunk = {}
for i = 5, #ARGV, 2 do
  chunk[#chunk + 1] = ARGV[i]
  chunk[#chunk + 1] = ARGV[i + 1]
  if #chunk == 1000 then
    redis.call('ZADD', KEYS[1], 'GT', unpack(chunk))
    chunk = {}
  end
end
if #chunk > 0 then redis.call('ZADD', KEYS[1], 'GT', unpack(chunk)) end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 2 then
  local horizon = math.min(tonumber(top[2]), tonumber(ARGV[4])) - tonumber(ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', horizon))
end
local dropped = 0
local card = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[2])
if card > max then
  dropped = card - max
  redis.call('ZPOPMIN', KEYS[1], dropped)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return dropped
`;
