import { describe, expect, it } from "vitest";
import { Dispatcher } from "../../src/engine/dispatch.js";
import { DistinctPlan, DistinctSeen } from "../../src/engine/distinct.js";
import type { StoredEvent } from "../../src/engine/group-state.js";
import { planPattern } from "../../src/engine/plan.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import { patternSetFromJson } from "../../src/patterns/index.js";

/** One pattern: ≥ `min` reads with distinct `agent_id` within 5 minutes (values of any JSON type, as a test). */
function setup(min: number) {
  const set = patternSetFromJson([
    {
      json: {
        id: "t.distinct",
        version: 1,
        title: "t",
        severity: "low",
        within: "5m",
        steps: [{ id: "r", where: { tool: "read" }, count: { min, distinct: "agent_id" } }],
      },
      source: "t.json",
    },
  ]);
  const plans = set.patterns.map((p, i) => planPattern(p, i));
  const dispatcher = new Dispatcher(plans);
  const plan = new DistinctPlan(plans, dispatcher.stepSlot, dispatcher.slots.length);
  const slot = dispatcher.stepSlot[0]![0]!;
  return { plan, slot, seen: new DistinctSeen(plan) };
}

let seq = 0;
function stored(ts: number, v: unknown): StoredEvent {
  const event = {
    event_id: `e${seq}`,
    timestamp: ts,
    user_id: "u",
    server: "s",
    tool: "read",
    ...(v === undefined ? {} : { agent_id: v }),
  } as ToolCallEvent;
  return { seq: seq++, event };
}

describe("DistinctSeen: the distinct values a group's count step can still gather", () => {
  it("plans one tracker per path, fed by the slots of its steps, with each step's min and window", () => {
    const { plan, slot } = setup(3);
    expect(plan.paths).toEqual([["agent_id"]]);
    expect(plan.bySlot[slot]).toEqual([0]);
    expect([...plan.needs]).toEqual([0, 3, 300_000]);
    expect(plan.caps).toEqual([16]);
  });

  it("counts values whose latest occurrence is at or after the floor, JSON-typed", () => {
    const { slot, seen } = setup(3);
    // 1 and "1" are different values; two equal strings are one; null is a value; absent is none.
    for (const [ts, v] of [
      [1000, 1],
      [2000, "1"],
      [3000, "1"],
      [4000, null],
      [5000, undefined],
    ] as const)
      seen.add(stored(ts, v), [slot], Number.NEGATIVE_INFINITY);
    expect(seen.atLeast(0, 0, 3)).toBe(true);
    expect(seen.atLeast(0, 0, 4)).toBe(false);
    // From 1500 on: "1" (latest 3000) and null; the number 1 is only at 1000.
    expect(seen.atLeast(0, 1500, 2)).toBe(true);
    expect(seen.atLeast(0, 1500, 3)).toBe(false);
  });

  it("keeps each value's latest timestamp, in whatever order its occurrences arrive", () => {
    const { slot, seen } = setup(1);
    seen.add(stored(9000, "a"), [slot], Number.NEGATIVE_INFINITY);
    seen.add(stored(1000, "a"), [slot], Number.NEGATIVE_INFINITY);
    seen.add(stored(1000, "b"), [slot], Number.NEGATIVE_INFINITY);
    seen.add(stored(9000, "b"), [slot], Number.NEGATIVE_INFINITY);
    expect(seen.atLeast(0, 8000, 2)).toBe(true);
    expect(seen.atLeast(0, 9001, 1)).toBe(false);
  });

  it("counts objects and arrays once per event (never fewer than the true distinct values)", () => {
    const { slot, seen } = setup(2);
    seen.add(stored(1000, [1, "a"]), [slot], Number.NEGATIVE_INFINITY);
    seen.add(stored(2000, { k: 1 }), [slot], Number.NEGATIVE_INFINITY);
    expect(seen.atLeast(0, 0, 2)).toBe(true);
  });

  it("ignores events of other slots", () => {
    const { slot, seen } = setup(1);
    seen.add(stored(1000, "a"), [slot + 1], Number.NEGATIVE_INFINITY);
    expect(seen.atLeast(0, 0, 1)).toBe(false);
  });

  it("forgets values no search can reach, and keeps answering exactly", () => {
    const { slot, seen } = setup(1);
    // A new value every 20 minutes for a day; nothing older than 10 minutes can be reached.
    const step = 20 * 60_000;
    for (let t = 0; t < 72; t++) seen.add(stored(t * step, `v${t}`), [slot], t * step - 600_000);
    const map = (seen as unknown as { maps: Array<Map<unknown, number> | null> }).maps[0]!;
    expect(map).not.toBeNull();
    expect(map.size).toBeLessThanOrEqual(16);
    expect(seen.atLeast(0, 71 * step - 1, 1)).toBe(true);
    expect(seen.atLeast(0, 71 * step - 1, 2)).toBe(false);
  });

  it("gives up a path of near-unique values (bounded memory; every answer is then maybe)", () => {
    const { slot, seen } = setup(1);
    // One unique value per second for a day, all within reach: past the cap the group stops tracking.
    for (let t = 0; t < 86_400; t++) seen.add(stored(t * 1000, `v${t}`), [slot], (t - 3600) * 1000);
    expect((seen as unknown as { maps: unknown[] }).maps[0]).toBeNull();
    expect(seen.atLeast(0, 0, 1_000_000)).toBe(true);
  });

  it("is fed once per event, whichever of its slots the event satisfies", () => {
    const { slot, seen } = setup(2);
    const ev = stored(1000, "a");
    seen.add(ev, [slot, slot], Number.NEGATIVE_INFINITY);
    expect(seen.atLeast(0, 0, 1)).toBe(true);
    expect(seen.atLeast(0, 0, 2)).toBe(false);
  });
});
