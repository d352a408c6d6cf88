/**
 * Lua run by Redis: one call reads every group of a batch, one call saves the whole batch. A call per
 * batch, not per group, because per-call overhead dominated: with one call per group Redis spent ~30 µs
 * per group in script setup and the client built a command object per group (docs/state.md, figures).
 * A script call is atomic, so the save is all of the batch or nothing without a transaction around it.
 * The `#!lua` shebang makes Redis check OOM and read-only-replica conditions before the script runs,
 * so a refused save writes nothing.
 *
 * Group keys, four per group: meta hash, event list, outbox hash, outbox index zset (keys.ts). The
 * save names only each group's meta hash and derives the other three from it: they share its hash
 * tag (one Cluster slot), and three arguments fewer per group are a third of what the client spends
 * framing a save. The read of a whole group (rare: the cache serves most) names all four.
 * Scripts declare a key of every slot they touch (KEYS); a batch's keys span many slots, which Redis
 * Cluster refuses: see docs/state.md for what Cluster would change.
 */

/**
 * Lists of numbers and of (timestamp, member) pairs travel as one space-separated string each: the
 * client's cost is per argument (each one framed and measured separately), and Lua splits them cheaply.
 */

/** KEYS: groups' meta hashes. Returns their versions (0 = no such group). */
export const READ_VERSIONS = `#!lua flags=no-writes
local out = {}
for g = 1, #KEYS do out[g] = tonumber(redis.call('HGET', KEYS[g], 'v') or '0') end
return out
`;

/**
 * KEYS: four per group. ARGV[1] outboxSince (ms). Returns per group
 * {metaFlat, events, outboxIds, outboxValues}; the version is the meta hash's `v` (none: 0).
 */
export const READ_GROUPS = `#!lua flags=no-writes
local out = {}
local since = ARGV[1]
for g = 1, #KEYS / 4 do
  local b = (g - 1) * 4
  local meta = redis.call('HGETALL', KEYS[b + 1])
  local events = redis.call('LRANGE', KEYS[b + 2], 0, -1)
  local ids = redis.call('ZRANGE', KEYS[b + 4], since, '+inf', 'BYSCORE')
  local values = {}
  for i = 1, #ids do values[i] = redis.call('HGET', KEYS[b + 3], ids[i]) or '' end
  out[g] = {meta, events, ids, values}
end
return out
`;

/** Number of header values before the groups' versions in SAVE_BATCH's ARGV. */
export const SAVE_HEADER = 12;

/**
 * Saves a batch: checks every group's version first and, if any differs from the one the batch
 * loaded, writes nothing and returns {0, positions of the groups that changed (1-based)}. Then checks
 * that none of the batch's new ids became seen since its load (another partition or instance saved
 * the same event_id meanwhile: duplicates are global) and, if one did, writes nothing and returns
 * {0, {}, number of such ids}. Otherwise
 * registers the event encoding, applies every group, records the seen ids last, and returns
 * {1, new versions in group order, per shard the ids dropped by the bound before their TTL}.
 *
 * KEYS: [1] the schema registry, [2 .. 1 + nShards] the seen shards, then each group's meta hash
 *       (`<prefix>{<tag>}:m`; the script derives `:e`, `:o`, `:oi`).
 * ARGV: nGroups, nShards, keyTtlMs, outboxTtlMs, now (processing ms), seenTtlMs, maxIdsPerShard,
 *       seenKeyTtlMs, schemaId, schemaEntry, registryTtlMs, ttlRefreshMs (SAVE_HEADER values);
 *       the expected versions of the groups (one string);
 *       per group: "nextSeq newest nAdded nEvicted nMarks nOutbox" (newest '-' = none), the group key
 *         (for the collision check on load; '' when the group already exists, which wrote it), then
 *         the added events, the evicted events, (patternId, mark) pairs, (eventId, entry) pairs;
 *       per shard: "timestamp member timestamp member …" (one string).
 */
export const SAVE_BATCH = `#!lua
local nGroups, nShards = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl, obTtl, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local seenTtl, maxIds, seenKeyTtl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local refreshAfter = tonumber(ARGV[12])
local H = ${SAVE_HEADER}
local first = 1 + nShards
local expected, versions, refreshed, changed = {}, {}, {}, {}
for n in string.gmatch(ARGV[H + 1], '%S+') do expected[#expected + 1] = tonumber(n) end
for g = 1, nGroups do
  local vx = redis.call('HMGET', KEYS[first + g], 'v', 'x')
  local v = tonumber(vx[1] or '0')
  versions[g] = v
  refreshed[g] = tonumber(vx[2] or '-1')
  if v ~= expected[g] then changed[#changed + 1] = g end
end
if #changed > 0 then return {0, changed} end
-- The batch's new ids, per shard (the last nShards values of ARGV), read once: checked here, written last.
local seenPairs = {}
local seenAt = #ARGV - nShards + 1
local taken = 0
for s = 1, nShards do
  local flat, members = {}, {}
  for score, member in string.gmatch(ARGV[seenAt + s - 1], '(%S+) (%S+)') do
    flat[#flat + 1] = score
    flat[#flat + 1] = member
    members[#members + 1] = member
  end
  seenPairs[s] = flat
  for j = 1, #members, 1000 do
    local scores = redis.call('ZMSCORE', KEYS[1 + s], unpack(members, j, math.min(j + 999, #members)))
    for k = 1, #scores do
      if scores[k] then taken = taken + 1 end
    end
  end
end
if taken > 0 then return {0, {}, taken} end
if nGroups > 0 then
  -- Before any group refers to it; refreshed by every save, so stored events never outlive it.
  redis.call('HSET', KEYS[1], ARGV[9], ARGV[10])
  redis.call('PEXPIRE', KEYS[1], ARGV[11])
end
local i = H + 2
local newVersions = {}
for g = 1, nGroups do
  local meta = KEYS[first + g]
  local base = string.sub(meta, 1, -2)
  local list, outbox, outboxIndex = base .. 'e', base .. 'o', base .. 'oi'
  local nextSeq, newest, nAdd, nEv, nMark, nOb = string.match(ARGV[i], '^(%S+) (%S+) (%d+) (%d+) (%d+) (%d+)$')
  local groupKey = ARGV[i + 1]
  nAdd, nEv, nMark, nOb = tonumber(nAdd), tonumber(nEv), tonumber(nMark), tonumber(nOb)
  i = i + 2
  -- The TTLs of the meta hash and event list are set again only once refreshAfter has passed since
  -- the last time (field x): two calls fewer for most saves, and the keys still outlive every write
  -- by at least the retention plus half the slack.
  local refresh = refreshed[g] < 0 or now - refreshed[g] >= refreshAfter
  -- unpack has a stack limit: long runs of values go in chunks.
  local j, last = i, i + nAdd - 1
  while j <= last do
    local to = math.min(j + 499, last)
    local len = redis.call('RPUSH', list, unpack(ARGV, j, to))
    -- A list RPUSH just created has no TTL: it gets the meta hash's.
    if not refresh and len == to - j + 1 then
      local left = redis.call('PTTL', meta)
      redis.call('PEXPIRE', list, left > 0 and left or ttl)
    end
    j = to + 1
  end
  i = i + nAdd
  -- Evicted events are the oldest, near the head: LREM from the head finds them quickly.
  for j = i, i + nEv - 1 do redis.call('LREM', list, 1, ARGV[j]) end
  i = i + nEv
  local nv = versions[g] + 1
  newVersions[g] = nv
  local h = {'v', nv, 'n', nextSeq}
  if groupKey ~= '' then h[#h + 1] = 'k'; h[#h + 1] = groupKey end
  if newest ~= '-' then h[#h + 1] = 't'; h[#h + 1] = newest end
  if refresh then h[#h + 1] = 'x'; h[#h + 1] = now end
  for _ = 1, nMark do
    h[#h + 1] = 'p:' .. ARGV[i]
    h[#h + 1] = ARGV[i + 1]
    i = i + 2
  end
  redis.call('HSET', meta, unpack(h))
  if refresh then
    redis.call('PEXPIRE', meta, ttl)
    redis.call('PEXPIRE', list, ttl)
  end
  -- The outbox only changes when entries are added; then expired ones go and its TTL is refreshed.
  if nOb > 0 then
    for _ = 1, nOb do
      redis.call('HSET', outbox, ARGV[i], ARGV[i + 1])
      redis.call('ZADD', outboxIndex, now, ARGV[i])
      i = i + 2
    end
    local old = redis.call('ZRANGE', outboxIndex, '-inf', '(' .. string.format('%.0f', now - obTtl), 'BYSCORE')
    for j = 1, #old do
      redis.call('HDEL', outbox, old[j])
      redis.call('ZREM', outboxIndex, old[j])
    end
    local obKeyTtl = math.max(ttl, obTtl)
    redis.call('PEXPIRE', outbox, obKeyTtl)
    redis.call('PEXPIRE', outboxIndex, obKeyTtl)
  end
end
-- Seen ids, per shard: a sorted set scored by event time.
local dropped = {}
for s = 1, nShards do
  local key = KEYS[1 + s]
  local flat = seenPairs[s]
  for j = 1, #flat, 1000 do
    redis.call('ZADD', key, 'GT', unpack(flat, j, math.min(j + 999, #flat)))
  end
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #top == 2 then
    -- Event times beyond processing time do not move the horizon (a bad clock must not expire every id).
    local horizon = math.min(tonumber(top[2]), now) - seenTtl
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.0f', horizon))
  end
  local d = 0
  local card = redis.call('ZCARD', key)
  if card > maxIds then
    d = card - maxIds
    redis.call('ZPOPMIN', key, d)
  end
  redis.call('PEXPIRE', key, seenKeyTtl)
  dropped[s] = d
end
return {1, newVersions, dropped}
`;
