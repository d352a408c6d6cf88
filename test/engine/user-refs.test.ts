import { describe, expect, it } from "vitest";
import { UserRefs } from "../../src/engine/user-refs.js";
import type { GroupRef } from "../../src/state/store.js";

const refOf = (id: string): GroupRef => ({ key: `u:${id}`, groupingId: "user_id", values: { user_id: id } });

describe("UserRefs", () => {
  it("finds exactly the ref added for an id, across growth, suffixes and look-alikes", () => {
    const refs = new UserRefs();
    const ref = new Map<string, GroupRef>();
    // Ids that end like others ("1", "11", "u:1"), empty, non-ASCII, and enough to grow the table.
    const ids = [
      "",
      "1",
      "11",
      "u:1",
      ":1",
      "é",
      "e\u0301",
      ...Array.from({ length: 5000 }, (_, i) => `u-${i * 7}`),
    ];
    for (const id of ids) {
      expect(refs.get(id)).toBeUndefined();
      const r = refOf(id);
      refs.add(id, r);
      ref.set(id, r);
    }
    expect(refs.size).toBe(ids.length);
    for (const id of ids) expect(refs.get(id)).toBe(ref.get(id));
    // A fresh string with the same text finds the same ref; unknown ids find none.
    expect(refs.get(["u", "-", "7"].join(""))).toBe(ref.get("u-7"));
    for (const id of ["2", "111", "u-1", "u:11", "u-35000"]) expect(refs.get(id)).toBeUndefined();
    refs.clear();
    expect(refs.size).toBe(0);
    expect(refs.get("1")).toBeUndefined();
  });
});
