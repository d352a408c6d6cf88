import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/state/memory.js";
import { add, event, ref, T0 } from "./build.js";
import { describeStoreContract } from "./contract.js";

describeStoreContract("MemoryStore", async () => {
  const store = new MemoryStore();
  return {
    open: () => store,
    separateWriters: false,
    expiring: () => {
      const idleMs = 60_000;
      const s = new MemoryStore({ idleMs });
      return {
        store: s,
        // Event time moves on: another group receives an event far past the idle horizon.
        async makeIdle(latest) {
          const r = ref("someone-else");
          const other = (await s.load([r], [])).groups.get(r.key)!;
          add(other, event("someone-else", latest + idleMs + 1));
          await s.save({ groups: [other], seen: [] });
        },
      };
    },
    cleanup: async () => {},
  };
});

describe("MemoryStore bounds", () => {
  it("drops the least recently used groups beyond maxGroups", async () => {
    const s = new MemoryStore({ maxGroups: 2 });
    for (const u of ["a", "b"]) {
      const st = (await s.load([ref(u)], [])).groups.get(ref(u).key)!;
      add(st, event(u, T0));
      await s.save({ groups: [st], seen: [] });
    }
    await s.load([ref("a")], []); // a is now more recent than b
    const c = (await s.load([ref("c")], [])).groups.get(ref("c").key)!;
    await s.save({ groups: [c], seen: [] });
    const back = await s.load([ref("a"), ref("b")], []);
    expect(back.groups.get(ref("a").key)!.events).toHaveLength(1);
    expect(back.groups.get(ref("b").key)!.events).toHaveLength(0);
    expect(s.stats().groupsEvicted).toBeGreaterThanOrEqual(1);
  });

  it("remembers seen ids for seenTtlMs of event time behind the newest event", async () => {
    const s = new MemoryStore({ seenTtlMs: 1000 });
    await s.save({ groups: [], seen: [{ id: "old", timestamp: T0 }] });
    await s.save({ groups: [], seen: [{ id: "mid", timestamp: T0 + 1000 }] });
    expect([...(await s.load([], ["old", "mid"])).seen].sort()).toEqual(["mid", "old"]);
    await s.save({ groups: [], seen: [{ id: "new", timestamp: T0 + 1001 }] });
    expect([...(await s.load([], ["old", "mid", "new"])).seen].sort()).toEqual(["mid", "new"]);
    expect(s.stats().seenIdsDropped).toBe(0);
  });

  it("does not let an event stamped far in the future expire every other seen id", async () => {
    const s = new MemoryStore({ seenTtlMs: 1000 });
    const now = Date.now();
    await s.save({ groups: [], seen: [{ id: "now", timestamp: now }] });
    await s.save({ groups: [], seen: [{ id: "2100", timestamp: Date.UTC(2100, 0, 1) }] });
    expect([...(await s.load([], ["now", "2100"])).seen].sort()).toEqual(["2100", "now"]);
  });

  it("bounds seen ids, oldest dropped first, and counts what the bound dropped", async () => {
    const s = new MemoryStore({ maxSeenIds: 3 });
    await s.save({ groups: [], seen: ["a", "b", "c", "d", "e"].map((id, i) => ({ id, timestamp: T0 + i })) });
    expect([...(await s.load([], ["a", "b", "c", "d", "e"])).seen].sort()).toEqual(["c", "d", "e"]);
    expect(s.stats().seenIdsDropped).toBe(2);
  });

  it("finds a group through a reused ref only while it holds that very state", async () => {
    const s = new MemoryStore({ maxGroups: 1 });
    const a = ref("a"); // one object for every load, as the engine hands out per user
    const first = (await s.load([a], [])).groups.get(a.key)!;
    add(first, event("a", T0));
    await s.save({ groups: [first], seen: [] });
    expect((await s.load([a], [])).groups.get(a.key)).toBe(first);
    // Evicted: the ref still names the dropped state, which must not come back.
    const b = (await s.load([ref("b")], [])).groups.get(ref("b").key)!;
    await s.save({ groups: [b], seen: [] });
    const fresh = (await s.load([a], [])).groups.get(a.key)!;
    expect(fresh).not.toBe(first);
    expect(fresh.events).toHaveLength(0);
    // Replaced by a saved copy: the copy is the state from now on, not the one the ref last named.
    const copy = structuredClone(fresh);
    add(copy, event("a", T0 + 1));
    await s.save({ groups: [copy], seen: [] });
    expect((await s.load([a], [])).groups.get(a.key)).toBe(copy);
  });

  it("trims an outbox that grew past maxOutboxPerGroup, whichever of the batch's groups it is", async () => {
    const s = new MemoryStore({ maxOutboxPerGroup: 2 });
    const loaded = await s.load([ref("a"), ref("b")], []);
    const [a, b] = [loaded.groups.get(ref("a").key)!, loaded.groups.get(ref("b").key)!];
    for (const id of ["e1", "e2", "e3"]) {
      b.outbox.set(id, { alerts: [] });
      b.changes.outbox.push(id);
    }
    a.outbox.set("x", { alerts: [] });
    a.changes.outbox.push("x");
    await s.save({ groups: [a, b], seen: [] });
    expect([...b.outbox.keys()]).toEqual(["e2", "e3"]);
    expect([...a.outbox.keys()]).toEqual(["x"]);
    expect(b.changes.outbox).toEqual([]);
    expect(a.changes.outbox).toEqual([]);
  });

  it("puts back a group evicted between its load and its save", async () => {
    const s = new MemoryStore({ maxGroups: 1 });
    const a = (await s.load([ref("a")], [])).groups.get(ref("a").key)!;
    await s.load([ref("b")], []);
    const b = (await s.load([ref("b")], [])).groups.get(ref("b").key)!;
    await s.save({ groups: [b], seen: [] }); // evicts a
    add(a, event("a", T0));
    await s.save({ groups: [a], seen: [] });
    expect((await s.load([ref("a")], [])).groups.get(ref("a").key)!.events).toHaveLength(1);
  });
});
