// Proof that the Redis the global setup provides is real and does what the state store relies on:
// plain keys, Lua scripts run by SHA, pipelines and expiry.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisUrl, uniqueName } from "../helpers/services.js";

// Appends a value to a list and trims it to a maximum length, atomically; returns the new length.
const appendCapped = `
local n = redis.call("RPUSH", KEYS[1], ARGV[1])
local cap = tonumber(ARGV[2])
if n > cap then
  redis.call("LTRIM", KEYS[1], n - cap, -1)
  n = cap
end
return n
`;

describe("Redis (real server)", () => {
  let redis: Redis;
  const prefix = `${uniqueName("cw-redis-test")}:`;

  beforeAll(async () => {
    redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await redis.quit();
  });

  it("answers PING and keeps what was set", async () => {
    expect(await redis.ping()).toBe("PONG");
    await redis.set(`${prefix}greeting`, "héllo ✓");
    expect(await redis.get(`${prefix}greeting`)).toBe("héllo ✓");
    expect(await redis.get(`${prefix}absent`)).toBeNull();
    const buf = Buffer.from([0xff, 0x00, 0xfe]);
    await redis.set(`${prefix}bytes`, buf);
    expect(await redis.getBuffer(`${prefix}bytes`)).toEqual(buf);
  });

  it("runs a Lua script by SHA (script load + evalsha)", async () => {
    const sha = (await redis.script("LOAD", appendCapped)) as string;
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const key = `${prefix}capped`;
    const lengths: number[] = [];
    for (const v of ["a", "b", "c", "d", "e"]) {
      lengths.push((await redis.evalsha(sha, 1, key, v, 3)) as number);
    }
    expect(lengths).toEqual([1, 2, 3, 3, 3]);
    expect(await redis.lrange(key, 0, -1)).toEqual(["c", "d", "e"]);
  });

  it("runs a Lua script defined as a command (defineCommand)", async () => {
    const client = redis.duplicate();
    client.defineCommand("appendCapped", { numberOfKeys: 1, lua: appendCapped });
    const appendCappedCmd = (client as unknown as Record<string, (...a: unknown[]) => Promise<number>>)
      .appendCapped;
    const key = `${prefix}capped-cmd`;
    expect(await appendCappedCmd.call(client, key, "x", 2)).toBe(1);
    expect(await appendCappedCmd.call(client, key, "y", 2)).toBe(2);
    expect(await appendCappedCmd.call(client, key, "z", 2)).toBe(2);
    expect(await redis.lrange(key, 0, -1)).toEqual(["y", "z"]);
    await client.quit();
  });

  it("pipelines commands and returns each reply in order", async () => {
    const key = `${prefix}pipe`;
    const replies = await redis
      .pipeline()
      .hset(key, "calls", "0")
      .hincrby(key, "calls", 5)
      .hincrby(key, "calls", -2)
      .hget(key, "calls")
      .hgetall(key)
      .exec();
    expect(replies).not.toBeNull();
    expect(replies?.map(([err]) => err)).toEqual([null, null, null, null, null]);
    expect(replies?.map(([, value]) => value)).toEqual([1, 5, 3, "3", { calls: "3" }]);

    // A failing command fails alone; the others still run.
    const mixed = await redis
      .pipeline()
      .set(`${prefix}s`, "v")
      .hget(`${prefix}s`, "f")
      .get(`${prefix}s`)
      .exec();
    expect(mixed?.[0]).toEqual([null, "OK"]);
    expect(mixed?.[1]?.[0]).toBeInstanceOf(Error);
    expect(String(mixed?.[1]?.[0])).toMatch(/WRONGTYPE/);
    expect(mixed?.[2]).toEqual([null, "v"]);
  });

  it("expires keys after their TTL", async () => {
    const key = `${prefix}ttl`;
    await redis.set(key, "soon gone", "PX", 150);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(150);
    expect(await redis.ttl(`${prefix}greeting`)).toBe(-1); // no expiry
    expect(await redis.ttl(`${prefix}never-set`)).toBe(-2); // no key

    const deadline = Date.now() + 5_000;
    while ((await redis.exists(key)) === 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await redis.get(key)).toBeNull();
  });
});
