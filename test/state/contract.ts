import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import type { GroupState } from "../../src/engine/group-state.js";
import { type SaveBatch, StateConflictError, type StateStore } from "../../src/state/store.js";
import { add, event, evictOldest, persisted, ref, T0, trimWindow } from "./build.js";

/**
 * What every StateStore must do, run against each adapter (memory.test.ts, redis.test.ts).
 *
 * Stores opened from one harness share their data: for Redis two opens are two clients (two writers)
 * over one key prefix; for memory they are the same instance.
 */
export interface StoreHarness {
  open(): StateStore;
  /** Separate opens are separate writers whose conflicts the store detects. */
  separateWriters: boolean;
  /** Requests the store sent so far (pipelines count once); absent when it has no server. */
  roundTrips?(store: StateStore): number;
  /**
   * A store whose groups expire when idle, and how to make time pass for it: processing time for
   * Redis (key TTLs), event time for memory (`idleMs`).
   */
  expiring(): { store: StateStore; makeIdle(latestEventTime: number): Promise<void> };
  cleanup(): Promise<void>;
}

export function describeStoreContract(name: string, factory: () => Promise<StoreHarness>): void {
  describe(`StateStore contract: ${name}`, () => {
    let h: StoreHarness;
    const opened: StateStore[] = [];
    const open = () => {
      const s = h.open();
      opened.push(s);
      return s;
    };

    beforeAll(async () => {
      h = await factory();
    });
    afterAll(async () => {
      for (const s of opened) await s.close();
      await h.cleanup();
    });

    async function loadOne(store: StateStore, user: string): Promise<GroupState> {
      const r = ref(user);
      return (await store.load([r], [])).groups.get(r.key)!;
    }

    it("an unknown group loads empty", async () => {
      const s = open();
      const state = await loadOne(s, "nobody");
      expect(state.events).toEqual([]);
      expect(state.nextSeq).toBe(0);
      expect(state.newest).toBe(Number.NEGATIVE_INFINITY);
      expect(state.marks.size).toBe(0);
      expect(state.outbox.size).toBe(0);
      expect(state.values).toEqual({ user_id: "nobody" });
    });

    it("a saved state loads back equal: events in (timestamp, seq) order, marks, outbox, newest, nextSeq", async () => {
      const writer = open();
      const state = await loadOne(writer, "alice");
      add(
        state,
        event("alice", T0 + 300, { arguments: { path: "/etc/passwd", n: 0, deep: { x: [1, null] } } }),
        {
          topic: "audit",
          partition: 2,
          offset: "17",
        },
      );
      add(state, event("alice", T0 + 100, { session_id: "s1", result: { text: "hello", none: null } }), {
        line: 4,
      });
      add(state, event("alice", T0 + 200, { tool: "send_email", outcome: "error", method: "tools/other" }));
      add(state, event("bob-not-the-group", T0 + 200, { labels: { env: "prod" } }));
      state.marks.set("exfil", { consumed: T0 + 200, lastAlert: T0 + 200 });
      state.marks.set("quiet", { consumed: T0, lastAlert: null });
      state.changes.marks.add("exfil").add("quiet");
      state.outbox.set("ev-x", {
        alerts: [fakeAlert("a1")],
        source: { topic: "audit", partition: 2, offset: "17" },
      });
      state.changes.outbox.push("ev-x");
      const expected = persisted(state);
      await writer.save({ groups: [state], seen: [] });
      expect(state.changes.added).toEqual([]);

      const back = await loadOne(open(), "alice");
      expect(persisted(back)).toEqual(expected);
      expect(back.events.map((e) => e.event.timestamp)).toEqual([T0 + 100, T0 + 200, T0 + 200, T0 + 300]);
      expect(back.events.map((e) => e.seq)).toEqual([1, 2, 3, 0]);
    });

    it("equal timestamps keep seq order across batches", async () => {
      const s = open();
      const a = await loadOne(s, "ties");
      const first = [add(a, event("ties", T0)), add(a, event("ties", T0))];
      await s.save({ groups: [a], seen: [] });
      const b = await loadOne(s, "ties");
      const second = [add(b, event("ties", T0)), add(b, event("ties", T0 - 1))];
      await s.save({ groups: [b], seen: [] });
      const back = await loadOne(open(), "ties");
      expect(back.events.map((e) => e.event.event_id)).toEqual(
        [second[1]!, first[0]!, first[1]!, second[0]!].map((e) => e.event.event_id),
      );
      expect(back.nextSeq).toBe(4);
    });

    it("reports saved event ids as seen, globally and only those", async () => {
      const s = open();
      const state = await loadOne(s, "carol");
      const e1 = add(state, event("carol", T0 + 1)).event;
      const e2 = event("carol", T0 + 2); // processed, not stored: still seen
      await s.save({
        groups: [state],
        seen: [
          { id: e1.event_id, timestamp: e1.timestamp },
          { id: e2.event_id, timestamp: e2.timestamp },
        ],
      });
      const other = ref("dave");
      const loaded = await open().load([other], [e1.event_id, "never-seen", e2.event_id]);
      expect([...loaded.seen].sort()).toEqual([e1.event_id, e2.event_id].sort());
    });

    it("re-applying the same changes (a retry) does not duplicate events", async () => {
      const s = open();
      const state = await loadOne(s, "erin");
      add(state, event("erin", T0 + 1));
      add(state, event("erin", T0 + 2));
      const retry: GroupState = { ...state, changes: { ...state.changes, marks: new Set(), outbox: [] } };
      await s.save({ groups: [state], seen: [] });
      // The same changes again, as a caller that did not see the first reply would send them.
      await s.save({ groups: [retry], seen: [] }).catch((err) => {
        expect(err).toBeInstanceOf(StateConflictError);
      });
      const back = await loadOne(open(), "erin");
      expect(back.events.map((e) => e.seq)).toEqual([0, 1]);
    });

    it("persists window trimming and bound eviction, including of events loaded earlier", async () => {
      const s = open();
      const a = await loadOne(s, "frank");
      for (let i = 0; i < 10; i++) add(a, event("frank", T0 + i * 1000));
      await s.save({ groups: [a], seen: [] });

      // A later batch (through another client: the evicted events were never seen by it as added).
      const other = open();
      const b = await loadOne(other, "frank");
      add(b, event("frank", T0 + 20_000));
      const trimmed = trimWindow(b, 15_000); // keeps timestamps >= T0 + 5000
      expect(trimmed).toHaveLength(5);
      const bounded = evictOldest(b, 2); // bound: drop the two oldest left
      expect(bounded.map((e) => e.event.timestamp)).toEqual([T0 + 5000, T0 + 6000]);
      const expected = persisted(b);
      await other.save({ groups: [b], seen: [] });

      const back = await loadOne(open(), "frank");
      expect(persisted(back)).toEqual(expected);
      expect(back.events.map((e) => e.event.timestamp)).toEqual([7, 8, 9, 20].map((k) => T0 + k * 1000));
    });

    it("an event added and evicted in the same batch is not stored", async () => {
      const s = open();
      const a = await loadOne(s, "gina");
      add(a, event("gina", T0 + 5));
      add(a, event("gina", T0 + 1));
      evictOldest(a, 1);
      await s.save({ groups: [a], seen: [] });
      const back = await loadOne(open(), "gina");
      expect(back.events.map((e) => e.event.timestamp)).toEqual([T0 + 5]);
      expect(back.nextSeq).toBe(2);
    });

    it("updates only the marks that changed", async () => {
      const s = open();
      const a = await loadOne(s, "hank");
      a.marks.set("p1", { consumed: T0 + 10, lastAlert: T0 + 10 });
      a.marks.set("p2", { consumed: Number.NEGATIVE_INFINITY, lastAlert: null });
      a.changes.marks.add("p1").add("p2");
      await s.save({ groups: [a], seen: [] });
      const b = await loadOne(s, "hank");
      expect(b.marks.get("p2")).toEqual({ consumed: Number.NEGATIVE_INFINITY, lastAlert: null });
      b.marks.set("p1", { consumed: T0 + 50, lastAlert: T0 + 40 });
      b.changes.marks.add("p1");
      await s.save({ groups: [b], seen: [] });
      const back = await loadOne(open(), "hank");
      expect([...back.marks].sort()).toEqual([
        ["p1", { consumed: T0 + 50, lastAlert: T0 + 40 }],
        ["p2", { consumed: Number.NEGATIVE_INFINITY, lastAlert: null }],
      ]);
    });

    it("keeps outbox entries across batches", async () => {
      const s = open();
      const a = await loadOne(s, "ida");
      a.outbox.set("e-1", { alerts: [fakeAlert("x1"), fakeAlert("x2")], source: { line: 9 } });
      a.changes.outbox.push("e-1");
      await s.save({ groups: [a], seen: [] });
      const b = await loadOne(s, "ida");
      b.outbox.set("e-2", { alerts: [] });
      b.changes.outbox.push("e-2");
      await s.save({ groups: [b], seen: [] });
      const back = await loadOne(open(), "ida");
      expect([...back.outbox].sort(([x], [y]) => x.localeCompare(y))).toEqual([
        ["e-1", { alerts: [fakeAlert("x1"), fakeAlert("x2")], source: { line: 9 } }],
        ["e-2", { alerts: [] }],
      ]);
    });

    it("saves concurrent batches of different groups without interference", async () => {
      const users = Array.from({ length: 8 }, (_, i) => `par-${i}`);
      await Promise.all(
        users.map(async (u, i) => {
          const s = open();
          const st = await loadOne(s, u);
          for (let k = 0; k <= i; k++) add(st, event(u, T0 + k));
          st.marks.set("m", { consumed: T0 + i, lastAlert: null });
          st.changes.marks.add("m");
          await s.save({ groups: [st], seen: [] });
        }),
      );
      const reader = open();
      const loaded = await reader.load(
        users.map((u) => ref(u)),
        [],
      );
      users.forEach((u, i) => {
        const st = loaded.groups.get(ref(u).key)!;
        expect(st.events).toHaveLength(i + 1);
        expect(st.events.every((e) => e.event.user_id === u)).toBe(true);
        expect(st.marks.get("m")).toEqual({ consumed: T0 + i, lastAlert: null });
      });
    });

    it("an idle group expires and comes back empty; an active one stays", async () => {
      const { store, makeIdle } = h.expiring();
      opened.push(store);
      const r = ref("idle-user");
      const st = (await store.load([r], [])).groups.get(r.key)!;
      add(st, event("idle-user", T0));
      st.marks.set("p", { consumed: T0, lastAlert: T0 });
      st.changes.marks.add("p");
      await store.save({ groups: [st], seen: [] });
      expect((await store.load([r], [])).groups.get(r.key)!.events).toHaveLength(1);
      await makeIdle(T0);
      const back = (await store.load([r], [])).groups.get(r.key)!;
      expect(back.events).toEqual([]);
      expect(back.marks.size).toBe(0);
      expect(back.nextSeq).toBe(0);
    });

    it("detects a version conflict and applies nothing of the batch", async () => {
      if (!h.separateWriters) return; // one in-process writer: nothing to conflict with
      const w1 = open();
      const w2 = open();
      const [x, y] = [ref("conflict-x"), ref("conflict-y")];
      const s1 = (await w1.load([x], [])).groups.get(x.key)!;
      const loaded2 = await w2.load([x, y], []);
      const s2x = loaded2.groups.get(x.key)!;
      const s2y = loaded2.groups.get(y.key)!;
      const mine = add(s1, event("conflict-x", T0 + 1));
      await w1.save({ groups: [s1], seen: [{ id: mine.event.event_id, timestamp: T0 + 1 }] });

      // The batch touches y first, then the group another writer changed.
      const ok = add(s2y, event("conflict-y", T0 + 3));
      s2y.marks.set("p", { consumed: T0 + 3, lastAlert: null });
      s2y.changes.marks.add("p");
      const theirs = add(s2x, event("conflict-x", T0 + 2));
      s2x.marks.set("p", { consumed: T0 + 2, lastAlert: T0 + 2 });
      s2x.changes.marks.add("p");
      const batch: SaveBatch = {
        groups: [s2y, s2x],
        seen: [
          { id: theirs.event.event_id, timestamp: T0 + 2 },
          { id: ok.event.event_id, timestamp: T0 + 3 },
        ],
      };
      const err = await w2.save(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StateConflictError);
      expect((err as StateConflictError).keys).toEqual([x.key]);
      expect(s2x.changes.added).toHaveLength(1); // left as it was: the caller retries from load

      // Nothing of the batch is written: not the conflicting group, not the other one, no seen id.
      const reader = open();
      const back = await reader.load([x, y], [theirs.event.event_id, ok.event.event_id]);
      const bx = back.groups.get(x.key)!;
      expect(bx.events.map((e) => e.event.event_id)).toEqual([mine.event.event_id]);
      expect(bx.marks.size).toBe(0);
      const by = back.groups.get(y.key)!;
      expect(by.events).toEqual([]);
      expect(by.marks.size).toBe(0);
      expect(back.seen.size).toBe(0);

      // The retry: reload, redo the batch, save.
      const retry = await w2.load([x, y], [theirs.event.event_id, ok.event.event_id]);
      expect(retry.seen.size).toBe(0);
      add(retry.groups.get(x.key)!, theirs.event);
      add(retry.groups.get(y.key)!, ok.event);
      await w2.save({ groups: [...retry.groups.values()], seen: batch.seen });
      const final = await reader.load([x, y], [theirs.event.event_id, ok.event.event_id]);
      expect(final.groups.get(x.key)!.events.map((e) => e.event.event_id)).toEqual([
        mine.event.event_id,
        theirs.event.event_id,
      ]);
      expect(final.groups.get(y.key)!.events.map((e) => e.event.event_id)).toEqual([ok.event.event_id]);
      expect(final.seen.size).toBe(2);
    });

    it("loads and saves a batch of 500 events over many groups in at most 2 round trips", async () => {
      const s = open();
      const users = Array.from({ length: 200 }, (_, i) => `bulk-${i}`);
      const events = Array.from({ length: 500 }, (_, i) => event(users[i % users.length]!, T0 + i));
      const before = h.roundTrips?.(s) ?? 0;
      const loaded = await s.load(
        users.map((u) => ref(u)),
        events.map((e) => e.event_id),
      );
      for (const e of events) add(loaded.groups.get(ref(e.user_id).key)!, e);
      await s.save({
        groups: [...loaded.groups.values()],
        seen: events.map((e) => ({ id: e.event_id, timestamp: e.timestamp })),
      });
      if (h.roundTrips) expect(h.roundTrips(s) - before).toBeLessThanOrEqual(2);
      const back = await open().load(
        users.map((u) => ref(u)),
        events.map((e) => e.event_id),
      );
      expect(back.seen.size).toBe(500);
      const total = [...back.groups.values()].reduce((n, st) => n + st.events.length, 0);
      expect(total).toBe(500);
    });

    it("ping answers", async () => {
      await expect(open().ping()).resolves.toBeUndefined();
    });
  });
}

export function fakeAlert(id: string): Alert {
  return {
    alert_id: id,
    pattern: { id: "p", version: 1, title: "t", severity: "high", tags: [] },
    group: { user_id: "u" },
    trigger_event_id: "e",
    first_seen: "2026-01-01T00:00:00.000Z",
    last_seen: "2026-01-01T00:00:00.000Z",
    detected_at: "2026-01-01T00:00:00.000Z",
    steps: [{ step: "a", event_ids: ["e"] }],
    events: [{ event_id: "e", timestamp: "2026-01-01T00:00:00.000Z", step: "a", server: "s", tool: "t" }],
    graph: { nodes: [{ id: "e", step: "a", tool: "t" }], edges: [] },
    summary: "s",
    schema_version: 1,
  };
}
