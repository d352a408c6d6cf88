import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStore, type RedisStoreOptions } from "../../src/state/redis/store.js";
import { StateConflictError, StateUnavailableError } from "../../src/state/store.js";
import { redisUrl, uniqueName } from "../helpers/services.js";
import { add, event, ref, T0 } from "./build.js";
import { describeStoreContract } from "./contract.js";

/** What the contract's events carry beyond the base fields: stored in full. */
const FIELDS = new Set(["arguments", "result", "labels", "session_id", "agent_id"]);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function store(prefix: string, extra: Partial<RedisStoreOptions> = {}): RedisStore {
  return new RedisStore({ redis: redisUrl(), prefix, fields: FIELDS, retentionMs: 60_000, ...extra });
}

for (const cacheGroups of [10_000, 0]) {
  describeStoreContract(`RedisStore (group cache ${cacheGroups})`, async () => {
    const prefix = `${uniqueName("cwtest")}:`;
    return {
      open: () => store(prefix, { cacheGroups }),
      separateWriters: true,
      roundTrips: (s) => (s as RedisStore).roundTrips,
      expiring: () => ({
        // Keys live retention + slack = 300 ms of processing time after their last write.
        store: store(prefix, { retentionMs: 200, ttlSlackMs: 100, cacheGroups }),
        makeIdle: () => sleep(600),
      }),
      cleanup: async () => {
        const s = store(prefix);
        await s.deleteAll();
        await s.close();
      },
    };
  });
}

describe("RedisStore specifics", () => {
  const prefix = `${uniqueName("cwtest")}:`;
  const raw = new Redis(redisUrl());
  const stores: RedisStore[] = [];
  const open = (extra: Partial<RedisStoreOptions> = {}, p = prefix) => {
    const s = store(p, extra);
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    await raw.ping();
  });
  afterAll(async () => {
    for (const s of stores) {
      await s.deleteAll().catch(() => {});
      await s.close();
    }
    await raw.quit();
  });

  async function keysOf(p: string): Promise<string[]> {
    const out: string[] = [];
    for await (const ks of raw.scanStream({ match: `${p}*`, count: 1000 }) as AsyncIterable<string[]>)
      out.push(...ks);
    return out.sort();
  }

  it("puts a group's keys under one hash tag, each with a TTL just above the retention", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const s = open({ retentionMs: 60_000, ttlSlackMs: 5_000, outboxTtlMs: 30_000 }, p);
    const r = ref("tagged");
    const st = (await s.load([r], [])).groups.get(r.key)!;
    const e = add(st, event("tagged", T0));
    st.outbox.set(e.event.event_id, { alerts: [] });
    st.changes.outbox.push(e.event.event_id);
    await s.save({ groups: [st], seen: [{ id: e.event.event_id, timestamp: T0 }] });
    const keys = await keysOf(p);
    const groupKeys = keys.filter((k) => !k.includes("{seen-") && !k.endsWith(":schemas"));
    expect(groupKeys).toHaveLength(4); // meta, events, outbox, outbox index
    const tags = new Set(groupKeys.map((k) => /\{([^}]+)\}/.exec(k)![1]));
    expect(tags.size).toBe(1);
    for (const k of keys) {
      const ttl = await raw.pttl(k);
      expect(ttl, k).toBeGreaterThan(0);
      if (groupKeys.includes(k)) {
        expect(ttl, k).toBeGreaterThan(60_000);
        expect(ttl, k).toBeLessThanOrEqual(65_000);
      }
    }
  });

  it("sets a group's key TTLs again only once half the slack has passed since the last time", async () => {
    const p = `${uniqueName("cwtest")}:`;
    let now = 1_000_000;
    // TTL = retention + slack = 60 s + 10 s; set again by a save 5 s (of processing time) after the last.
    const s = open({ retentionMs: 60_000, ttlSlackMs: 10_000, now: () => now, cacheGroups: 0 }, p);
    const r = ref("refresh");
    const save = async (ts: number) => {
      const st = (await s.load([r], [])).groups.get(r.key)!;
      add(st, event("refresh", ts));
      await s.save({ groups: [st], seen: [] });
    };
    const ttls = async () => {
      const keys = (await keysOf(p)).filter((k) => k.endsWith(":m") || k.endsWith(":e"));
      expect(keys).toHaveLength(2);
      return Promise.all(keys.map((k) => raw.pttl(k)));
    };
    await save(T0);
    for (const k of (await keysOf(p)).filter((k) => k.endsWith(":m") || k.endsWith(":e")))
      await raw.pexpire(k, 40_000); // as if set a while ago
    now += 4_999;
    await save(T0 + 1);
    for (const ttl of await ttls()) expect(ttl).toBeLessThanOrEqual(40_000); // left alone
    now += 1;
    await save(T0 + 2);
    for (const ttl of await ttls()) expect(ttl).toBeGreaterThan(65_000); // set again: 70 s
  });

  it("gives an event list the meta hash's TTL when a save between refreshes creates it", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const s = open({ retentionMs: 60_000, ttlSlackMs: 10_000, now: () => 1_000_000, cacheGroups: 0 }, p);
    const r = ref("recreated");
    // A save without events: the meta hash only (its TTLs set, 70 s).
    await s.save({ groups: [(await s.load([r], [])).groups.get(r.key)!], seen: [] });
    const [meta] = (await keysOf(p)).filter((k) => k.endsWith(":m"));
    await raw.pexpire(meta!, 30_000);
    const st = (await s.load([r], [])).groups.get(r.key)!;
    add(st, event("recreated", T0));
    await s.save({ groups: [st], seen: [] });
    const [list] = (await keysOf(p)).filter((k) => k.endsWith(":e"));
    const ttl = await raw.pttl(list!);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it("stores only the configured fields, compactly", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const s = open({ fields: new Set(["arguments.to"]) }, p);
    const r = ref("compact");
    const st = (await s.load([r], [])).groups.get(r.key)!;
    add(
      st,
      event("compact", T0, {
        arguments: { to: "x@evil.example", body: "SECRET-BODY" },
        session_id: "sess-1",
      }),
    );
    await s.save({ groups: [st], seen: [] });
    const listKey = (await keysOf(p)).find((k) => k.endsWith(":e"))!;
    const [stored] = await raw.lrange(listKey, 0, -1);
    expect(stored).not.toContain("SECRET-BODY");
    expect(stored).not.toContain("sess-1");
    expect(stored).not.toContain('"compact"'); // user_id equals the group value: not repeated
    const back = (await open({ fields: new Set(["arguments.to"]) }, p).load([r], [])).groups.get(r.key)!;
    expect(back.events[0]!.event.arguments).toEqual({ to: "x@evil.example" });
    expect(back.events[0]!.event.user_id).toBe("compact");
    expect(back.events[0]!.event.session_id).toBeUndefined();
  });

  it("reads events stored under an earlier field set after the patterns change", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const before = open({ fields: new Set(["arguments.path"]) }, p);
    const r = ref("reload");
    const st = (await before.load([r], [])).groups.get(r.key)!;
    add(st, event("reload", T0, { arguments: { path: "/a", to: "b" } }));
    await before.save({ groups: [st], seen: [] });

    const after = open({ fields: new Set(["arguments.to", "session_id"]) }, p);
    const st2 = (await after.load([r], [])).groups.get(r.key)!;
    add(st2, event("reload", T0 + 1, { arguments: { path: "/c", to: "d" }, session_id: "s" }));
    await after.save({ groups: [st2], seen: [] });

    const back = (await open({}, p).load([r], [])).groups.get(r.key)!;
    expect(back.events.map((e) => e.event.arguments)).toEqual([{ path: "/a" }, { to: "d" }]);
    expect(back.events[1]!.event.session_id).toBe("s");
  });

  it("skips and counts events whose encoding was lost, instead of failing every batch", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const before = open({ fields: new Set(["arguments.path"]) }, p);
    const r = ref("lost-schema");
    const st = (await before.load([r], [])).groups.get(r.key)!;
    add(st, event("lost-schema", T0, { arguments: { path: "/a" } }));
    await before.save({ groups: [st], seen: [] });
    await raw.del(`${p}schemas`);
    const after = open({ fields: new Set(["arguments.to"]) }, p);
    const back = (await after.load([r], [])).groups.get(r.key)!;
    expect(back.events).toEqual([]);
    expect(back.nextSeq).toBe(1);
    expect(after.stats().undecodable).toBe(1);
  });

  it("expires outbox entries after outboxTtlMs", async () => {
    let now = Date.now();
    // Without the group cache: this is about what Redis keeps (a cached copy may keep entries longer).
    const s = open({ outboxTtlMs: 1000, now: () => now, cacheGroups: 0 });
    const r = ref("outbox-ttl");
    const st = (await s.load([r], [])).groups.get(r.key)!;
    st.outbox.set("old", { alerts: [] });
    st.changes.outbox.push("old");
    await s.save({ groups: [st], seen: [] });
    now += 600;
    const st2 = (await s.load([r], [])).groups.get(r.key)!;
    expect([...st2.outbox.keys()]).toEqual(["old"]);
    st2.outbox.set("new", { alerts: [] });
    st2.changes.outbox.push("new");
    await s.save({ groups: [st2], seen: [] });
    now += 600;
    const st3 = (await s.load([r], [])).groups.get(r.key)!;
    expect([...st3.outbox.keys()]).toEqual(["new"]);
  });

  it("hands back a group's outbox after its other keys expired, so a late re-delivery republishes", async () => {
    // Keys of the group live retention + slack = 300 ms; the outbox lives outboxTtlMs (24 h).
    const s = open({ retentionMs: 200, ttlSlackMs: 100, cacheGroups: 0 });
    const r = ref("outbox-outlives");
    const st = (await s.load([r], [])).groups.get(r.key)!;
    const e = add(st, event("outbox-outlives", T0));
    const source = { topic: "in", partition: 3, offset: "41" };
    st.outbox.set(e.event.event_id, { alerts: [], source });
    st.changes.outbox.push(e.event.event_id);
    await s.save({ groups: [st], seen: [{ id: e.event.event_id, timestamp: T0 }] });
    await sleep(600);
    const back = (await s.load([r], [e.event.event_id])).groups.get(r.key)!;
    expect(back.version).toBe(0);
    expect(back.events).toEqual([]);
    expect(back.outbox.get(e.event.event_id)).toEqual({ alerts: [], source });
    // The group starts afresh around the kept outbox.
    add(back, event("outbox-outlives", T0 + 1));
    await s.save({ groups: [back], seen: [] });
    const again = (await s.load([r], [])).groups.get(r.key)!;
    expect(again.version).toBe(1);
    expect(again.events).toHaveLength(1);
    expect([...again.outbox.keys()]).toEqual([e.event.event_id]);
  });

  it("forgets seen ids seenTtlMs of event time behind the newest, and counts ids the bound drops", async () => {
    const s = open({ seenTtlMs: 1000, seenShards: 1, maxSeenIds: 3 });
    await s.save({ groups: [], seen: [{ id: "t-old", timestamp: T0 }] });
    await s.save({ groups: [], seen: [{ id: "t-mid", timestamp: T0 + 1000 }] });
    expect([...(await s.load([], ["t-old", "t-mid"])).seen].sort()).toEqual(["t-mid", "t-old"]);
    await s.save({ groups: [], seen: [{ id: "t-new", timestamp: T0 + 1001 }] });
    expect([...(await s.load([], ["t-old", "t-mid", "t-new"])).seen].sort()).toEqual(["t-mid", "t-new"]);
    expect(s.stats().seenIdsDropped).toBe(0);
    await s.save({
      groups: [],
      seen: ["b1", "b2", "b3"].map((id, i) => ({ id, timestamp: T0 + 1002 + i })),
    });
    expect([...(await s.load([], ["t-mid", "t-new", "b1", "b2", "b3"])).seen].sort()).toEqual([
      "b1",
      "b2",
      "b3",
    ]);
    expect(s.stats().seenIdsDropped).toBe(2);
  });

  it("does not let an event stamped far in the future expire every other seen id", async () => {
    const s = open({ seenTtlMs: 1000, seenShards: 1 });
    await s.save({ groups: [], seen: [{ id: "f-now", timestamp: Date.now() }] });
    await s.save({ groups: [], seen: [{ id: "f-2100", timestamp: Date.UTC(2100, 0, 1) }] });
    expect([...(await s.load([], ["f-now", "f-2100"])).seen].sort()).toEqual(["f-2100", "f-now"]);
  });

  it("writes a group's key with its first save only, and refuses a group whose tag another key holds", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const s = open({ cacheGroups: 0 }, p);
    // Spaces, digits and a line break: the key travels at the end of the save's counts argument.
    const user = "owner 1 2 3 4 5 6\n7";
    const r = ref(user);
    for (const ts of [T0, T0 + 1]) {
      const st = (await s.load([r], [])).groups.get(r.key)!;
      add(st, event(user, ts));
      await s.save({ groups: [st], seen: [] });
    }
    const [meta] = (await keysOf(p)).filter((k) => k.endsWith(":m"));
    expect(await raw.hget(meta!, "k")).toBe(r.key);
    expect(await raw.hget(meta!, "v")).toBe("2");
    // As if another group key hashed to the same tag.
    await raw.hset(meta!, "k", "someone-else");
    await expect(s.load([r], [])).rejects.toThrow(/key collision/);
  });

  it("keeps deployments with different prefixes apart", async () => {
    const a = open({}, `${uniqueName("cwtest")}:`);
    const b = open({}, `${uniqueName("cwtest")}:`);
    const r = ref("shared-user");
    const st = (await a.load([r], [])).groups.get(r.key)!;
    const e = add(st, event("shared-user", T0));
    await a.save({ groups: [st], seen: [{ id: e.event.event_id, timestamp: T0 }] });
    const other = await b.load([r], [e.event.event_id]);
    expect(other.groups.get(r.key)!.events).toEqual([]);
    expect(other.seen.size).toBe(0);
  });

  describe("group cache", () => {
    it("reuses a saved group unread; once another writer moved it, the save conflicts and the next load reads it", async () => {
      const p = `${uniqueName("cwtest")}:`;
      const a = open({}, p);
      const b = open({ cacheGroups: 0 }, p);
      const r = ref("cached");
      const s1 = (await a.load([r], [])).groups.get(r.key)!;
      add(s1, event("cached", T0));
      await a.save({ groups: [s1], seen: [] });
      const trips = a.roundTrips;
      expect((await a.load([r], [])).groups.get(r.key)).toBe(s1); // no events travelled
      expect(a.roundTrips - trips).toBe(0); // nor any request
      add(s1, event("cached", T0 + 1));
      await a.save({ groups: [s1], seen: [] });

      const sb = (await b.load([r], [])).groups.get(r.key)!;
      add(sb, event("cached", T0 + 2));
      await b.save({ groups: [sb], seen: [] });
      const stale = (await a.load([r], [])).groups.get(r.key)!;
      expect(stale).toBe(s1);
      add(stale, event("cached", T0 + 3));
      await expect(a.save({ groups: [stale], seen: [] })).rejects.toBeInstanceOf(StateConflictError);
      const again = (await a.load([r], [])).groups.get(r.key)!;
      expect(again).not.toBe(s1);
      expect(again.events.map((e) => e.event.timestamp)).toEqual([T0, T0 + 1, T0 + 2]);
    });

    it("with a seen id in the batch (a re-delivery), checks the cached groups and reads those that moved", async () => {
      const p = `${uniqueName("cwtest")}:`;
      const a = open({}, p);
      const b = open({ cacheGroups: 0 }, p);
      const [r, q] = [ref("stale"), ref("fresh")];
      const first = await a.load([r, q], []);
      add(first.groups.get(r.key)!, event("stale", T0));
      add(first.groups.get(q.key)!, event("fresh", T0));
      await a.save({ groups: [...first.groups.values()], seen: [] });

      const sb = (await b.load([r], [])).groups.get(r.key)!;
      const redelivered = add(sb, event("stale", T0 + 1));
      await b.save({ groups: [sb], seen: [{ id: redelivered.event.event_id, timestamp: T0 + 1 }] });
      const trips = a.roundTrips;
      const again = await a.load([r, q], [redelivered.event.event_id]);
      expect(again.seen.has(redelivered.event.event_id)).toBe(true);
      expect(a.roundTrips - trips).toBe(3); // seen ids, then the versions, then the group that moved
      expect(again.groups.get(q.key)).toBe(first.groups.get(q.key)); // still current: reused
      expect(again.groups.get(r.key)).not.toBe(first.groups.get(r.key));
      expect(again.groups.get(r.key)!.events.map((e) => e.event.timestamp)).toEqual([T0, T0 + 1]);
    });

    it("gives overlapping batches of one store their own objects, so the later save conflicts", async () => {
      const s = open();
      const r = ref("overlap");
      const s0 = (await s.load([r], [])).groups.get(r.key)!;
      add(s0, event("overlap", T0));
      await s.save({ groups: [s0], seen: [] }); // now cached
      const [a, b] = await Promise.all([s.load([r], []), s.load([r], [])]);
      const sa = a.groups.get(r.key)!;
      const sb = b.groups.get(r.key)!;
      expect(sa).not.toBe(sb);
      add(sa, event("overlap", T0 + 1));
      add(sb, event("overlap", T0 + 2));
      await s.save({ groups: [sa], seen: [] });
      await expect(s.save({ groups: [sb], seen: [] })).rejects.toBeInstanceOf(StateConflictError);
      const retry = (await s.load([r], [])).groups.get(r.key)!;
      add(retry, event("overlap", T0 + 2));
      await s.save({ groups: [retry], seen: [] });
      const back = (await open({ cacheGroups: 0 }).load([r], [])).groups.get(r.key)!;
      expect(back.events.map((e) => e.event.timestamp)).toEqual([T0, T0 + 1, T0 + 2]);
    });

    it("refuses a save whose new event id another writer saved since the load: duplicates are global", async () => {
      // One event_id under two users (two groups, two partitions): both batches load it as new.
      const p = `${uniqueName("cwtest")}:`;
      const a = open({}, p);
      const b = open({}, p);
      const [ra, rb] = [ref("dup-a"), ref("dup-b")];
      const la = await a.load([ra], ["e-shared"]);
      const lb = await b.load([rb], ["e-shared"]);
      expect(la.seen.has("e-shared") || lb.seen.has("e-shared")).toBe(false);
      const sa = la.groups.get(ra.key)!;
      const sb = lb.groups.get(rb.key)!;
      add(sa, event("dup-a", T0));
      add(sb, event("dup-b", T0));
      await b.save({ groups: [sb], seen: [{ id: "e-shared", timestamp: T0 }] });
      const refused = a.save({ groups: [sa], seen: [{ id: "e-shared", timestamp: T0 }] });
      await expect(refused).rejects.toBeInstanceOf(StateConflictError);
      await expect(refused).rejects.toThrow(/seen event ids changed by another writer: 1 event id/);
      // Nothing of the refused batch was written; its retry loads the id as seen.
      const back = (await open({ cacheGroups: 0 }, p).load([ra], ["e-shared"])).groups.get(ra.key);
      expect(back?.events ?? []).toEqual([]);
      expect((await a.load([ra], ["e-shared"])).seen.has("e-shared")).toBe(true);
    });

    it("never serves a state the engine changed without a successful save", async () => {
      const p = `${uniqueName("cwtest")}:`;
      const a = open({}, p);
      const b = open({}, p);
      const r = ref("dirty");
      const s1 = (await a.load([r], [])).groups.get(r.key)!;
      add(s1, event("dirty", T0));
      await a.save({ groups: [s1], seen: [] });

      // Changed, never saved (the batch failed before save).
      const s2 = (await a.load([r], [])).groups.get(r.key)!;
      add(s2, event("dirty", T0 + 1));
      const s3 = (await a.load([r], [])).groups.get(r.key)!;
      expect(s3.events.map((e) => e.event.timestamp)).toEqual([T0]);

      // Changed, save refused (another writer got there first).
      const sb = (await b.load([r], [])).groups.get(r.key)!;
      add(sb, event("dirty", T0 + 2));
      await b.save({ groups: [sb], seen: [] });
      add(s3, event("dirty", T0 + 3));
      await expect(a.save({ groups: [s3], seen: [] })).rejects.toBeInstanceOf(StateConflictError);
      const s4 = (await a.load([r], [])).groups.get(r.key)!;
      expect(s4.events.map((e) => e.event.timestamp)).toEqual([T0, T0 + 2]);
    });
  });

  it("reports a command Redis rejects for good as a plain error, not as unavailability", async () => {
    const p = `${uniqueName("cwtest")}:`;
    const s = open({}, p);
    const r = ref("wrong-type");
    const st = (await s.load([r], [])).groups.get(r.key)!;
    add(st, event("wrong-type", T0));
    await s.save({ groups: [st], seen: [] });
    const meta = (await keysOf(p)).find((k) => k.endsWith(":m"))!;
    await raw.del(meta);
    await raw.set(meta, "not a hash"); // someone else's key under our prefix
    const err = await open({ cacheGroups: 0 }, p)
      .load([r], [])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(StateUnavailableError);
    expect(String(err)).toMatch(/WRONGTYPE/);
  });

  it("fails fast with StateUnavailableError when Redis is unreachable", { timeout: 15_000 }, async () => {
    const s = new RedisStore({ redis: "redis://127.0.0.1:1", fields: FIELDS, retentionMs: 1000 });
    try {
      await expect(s.load([ref("x")], ["e"])).rejects.toBeInstanceOf(StateUnavailableError);
      await expect(s.save({ groups: [], seen: [{ id: "e", timestamp: T0 }] })).rejects.toBeInstanceOf(
        StateUnavailableError,
      );
      await expect(s.ping()).rejects.toBeInstanceOf(StateUnavailableError);
    } finally {
      await s.close();
    }
  });

  it("after its connection is killed, fails cleanly or answers, and recovers", {
    timeout: 15_000,
  }, async () => {
    const s = open();
    await s.ping();
    const id = await s.redis.client("ID");
    await raw.client("KILL", "ID", String(id));
    const outcomes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await s.load([ref("revived")], []).then(
        () => "ok",
        (e: unknown) => (e instanceof StateUnavailableError ? "unavailable" : `other: ${String(e)}`),
      );
      outcomes.push(r);
      if (r === "ok") break;
      await sleep(100);
    }
    expect(outcomes.filter((o) => o !== "ok" && o !== "unavailable")).toEqual([]);
    expect(outcomes.at(-1)).toBe("ok");
  });
});
