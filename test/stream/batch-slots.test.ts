import { describe, expect, it } from "vitest";
import type { Engine } from "../../src/engine/api.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import type { GroupRef } from "../../src/state/store.js";
import { batchSlots } from "../../src/stream/batch-slots.js";

const userRef = (id: string): GroupRef => ({
  key: `u:${id}`,
  groupingId: "user_id",
  values: { user_id: id },
  batchStamp: 0,
  batchSlot: 0,
});

const item = (id: string, user: string) => ({ event: { event_id: id, user_id: user } as ToolCallEvent });

/** An engine handing out one ref per user (as the user grouping does) and a fresh one per tool. */
function engine(refs: Map<string, GroupRef>, onEvent?: (id: string) => void): Engine {
  return {
    groupsInto(event: ToolCallEvent, out: GroupRef[]): number {
      onEvent?.(event.event_id);
      let ref = refs.get(event.user_id!);
      if (!ref) {
        ref = userRef(event.user_id!);
        refs.set(event.user_id!, ref);
      }
      out[0] = ref;
      out[1] = { key: "g:tool:x", groupingId: "tool", values: { tool: "x" } };
      return 2;
    },
  } as unknown as Engine;
}

describe("batchSlots", () => {
  it("gives each group one slot, batch after batch, and marks repeated ids", () => {
    const refs = new Map<string, GroupRef>();
    const e = engine(refs);
    for (let round = 0; round < 2; round++) {
      const s = batchSlots(e, [
        item("e1", "a"),
        item("e2", "b"),
        item("e1", "a"),
        item("e3", "a"),
        item("e2", "c"),
      ]);
      expect(s.refs.map((r) => r.key)).toEqual(["u:a", "g:tool:x", "u:b", "u:c"]);
      expect(s.slotList).toEqual([0, 1, 2, 1, 0, 1, 0, 1, 3, 1]);
      expect([...s.slotStart]).toEqual([0, 2, 4, 6, 8, 10]);
      expect([...s.repeat]).toEqual([0, 0, 1, 0, 1]);
      expect(s.ids).toEqual(["e1", "e2", "e1", "e3", "e2"]);
    }
  });

  it("keeps one slot per key when the engine lets go of a ref in the middle of a batch", () => {
    const refs = new Map<string, GroupRef>();
    const e = engine(refs, (id) => {
      if (id !== "e3") return;
      // What UserRefs.clear does: the old ref is marked, the next event of the user gets a new one.
      for (const ref of refs.values()) ref.batchStamp = -1;
      refs.clear();
    });
    const s = batchSlots(e, [item("e1", "a"), item("e2", "b"), item("e3", "a"), item("e4", "b")]);
    expect(s.refs.map((r) => r.key)).toEqual(["u:a", "g:tool:x", "u:b"]);
    expect(s.slotList).toEqual([0, 1, 2, 1, 0, 1, 2, 1]);
  });
});
