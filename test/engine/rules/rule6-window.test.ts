import { describe, expect, it } from "vitest";
import { detect, detectRun } from "../../helpers/detect.js";
import { ev, fired, pattern } from "./scenario.js";

// patterns.md rule 6 and docs/semantics.md "Time, order, window": a group keeps the events of the
// longest within of the loaded set (W); an event strictly older than the group's newest minus W is too
// late: counted, its id seen, sent to no pattern; at most max_events_per_group events per group.

const chain = (within = "10s", extra: Record<string, unknown> = {}) =>
  pattern({
    within,
    steps: [
      { id: "a", where: { tool: "a" } },
      { id: "b", where: { tool: "b" } },
    ],
    ...extra,
  });

describe("rule 6: too late", () => {
  it("an event exactly newest - W old is not too late, and is matched normally", async () => {
    const run = await detectRun(chain(), [ev("b1", 100, "b"), ev("a1", 90, "a")]);
    expect(fired(run.alerts)).toEqual([{ trigger: "a1", steps: { a: ["a1"], b: ["b1"] } }]);
    expect(run.tooLate).toBe(0);
  });

  it("an event strictly older than newest - W is too late: counted, sent to no pattern", async () => {
    const run = await detectRun(chain(), [ev("b1", 100, "b"), ev("a1", 89.999, "a")]);
    expect(run.alerts).toEqual([]);
    expect(run.tooLate).toBe(1);
  });

  it("a too-late event is not stored: a later event cannot use it", async () => {
    const run = await detectRun(chain("20s"), [
      ev("z", 100, "noise"), // irrelevant to the pattern, still advances the group's newest
      ev("a1", 79, "a"), // too late (79 < 100 - 20)
      ev("b1", 80, "b"), // a1 would have been within 20s of it
    ]);
    expect(run.alerts).toEqual([]);
    expect(run.tooLate).toBe(1);
  });

  it("a too-late event's id counts as seen", async () => {
    const run = await detectRun(chain(), [
      ev("b1", 100, "b"),
      ev("a1", 80, "a"), // too late
      ev("a1", 100.5, "a"), // same id: a duplicate, though in time now
      ev("b2", 101, "b"),
    ]);
    expect(run.alerts).toEqual([]);
    expect(run.tooLate).toBe(1);
    expect(run.duplicates).toBe(1);
  });

  it("W is the longest within of the loaded set, not the pattern's own", async () => {
    const wide = pattern({ id: "rule.wide", within: "1m", steps: [{ id: "q", where: { tool: "q" } }] });
    const run = await detectRun(
      [chain(), wide],
      [ev("b1", 100, "b"), ev("a1", 89, "a"), ev("b2", 98.5, "b")],
    );
    // a1 is not too late under W = 1m; 11s from b1 is beyond chain's 10s, but b2 is within it.
    expect(run.tooLate).toBe(0);
    expect(fired(run.alerts)).toEqual([{ trigger: "b2", steps: { a: ["a1"], b: ["b2"] } }]);
  });

  it("a longer edges_within does not widen W: too late is judged by the longest within alone", async () => {
    const p = chain("5s", { edges_within: [{ from: "a", to: "b", within: "30s" }] });
    // W = 5s: a1 (30s behind z) is too late, a2 (5s behind) is kept; a2 and b1 then match.
    const run = await detectRun(p, [
      ev("z", 100, "noise"),
      ev("a1", 70, "a"),
      ev("a2", 95, "a"),
      ev("b1", 99, "b"),
    ]);
    expect(run.tooLate).toBe(1);
    expect(fired(run.alerts)).toEqual([{ trigger: "b1", steps: { a: ["a2"], b: ["b1"] } }]);
  });

  it("a one-step pattern without within has W = 0: any event older than the newest is too late", async () => {
    const p = pattern({ steps: [{ id: "d", where: { tool: "delete" } }] });
    const run = await detectRun(p, [
      ev("d1", 10, "delete"),
      ev("d2", 9.999, "delete"), // too late
      ev("d3", 10, "delete"), // in time (not older than the newest), but consumed by d1's alert (rule 3)
      ev("d4", 10.001, "delete"),
    ]);
    expect(fired(run.alerts).map((f) => f.trigger)).toEqual(["d1", "d4"]);
    expect(run.tooLate).toBe(1);
  });

  it("too late is judged per group: another user's newest does not count", async () => {
    const run = await detectRun(chain(), [
      ev("b9", 100, "b", { user_id: "u9" }),
      ev("a1", 50, "a"),
      ev("b1", 55, "b"),
    ]);
    expect(run.tooLate).toBe(0);
    expect(fired(run.alerts)).toEqual([{ trigger: "b1", steps: { a: ["a1"], b: ["b1"] } }]);
  });

  it("too late is judged per grouping: late for the user, in time for the session", async () => {
    const byUser = chain("10s", { id: "rule.by-user" });
    const bySession = chain("10s", { id: "rule.by-session", group_by: ["session_id"] });
    const run = await detectRun(
      [byUser, bySession],
      [
        ev("z", 100, "noise", { session_id: "s-1" }), // user u1 and session s-1 at 100
        ev("b2", 50, "b", { session_id: "s-2" }), // late for u1, first event of s-2
        ev("a2", 45, "a", { session_id: "s-2" }),
      ],
    );
    expect(run.tooLate).toBe(2);
    expect(run.alerts.map((a) => [a.pattern.id, a.trigger_event_id])).toEqual([["rule.by-session", "a2"]]);
  });

  it("events fallen out of the window are gone, even for an out-of-order event that is in time", async () => {
    // z advances the newest to 15: a1 at 0 is < 15 - 10 and dropped; b1 at 8 is not too late
    // (8 >= 5), and a1 would be within 10s of it, but it is no longer kept.
    const run = await detectRun(chain(), [ev("a1", 0, "a"), ev("z", 15, "noise"), ev("b1", 8, "b")]);
    expect(run.tooLate).toBe(0);
    expect(run.alerts).toEqual([]);
  });
});

describe("rule 6: max_events_per_group", () => {
  const three = pattern({
    within: "1m",
    steps: [
      { id: "a", where: { tool: "a" } },
      { id: "b", where: { tool: "b" } },
      { id: "c", where: { tool: "c" } },
    ],
  });
  const events = [ev("a1", 0, "a"), ev("b1", 1, "b"), ev("c1", 2, "c")];

  it("when the bound cuts, the oldest events go first", async () => {
    expect(await detect(three, events, { maxEventsPerGroup: 2 })).toEqual([]);
    expect(fired(await detect(three, events, { maxEventsPerGroup: 3 }))).toEqual([
      { trigger: "c1", steps: { a: ["a1"], b: ["b1"], c: ["c1"] } },
    ]);
  });

  it("oldest by (timestamp, arrival), not by arrival alone", async () => {
    // c1 arrived first, b0 is the oldest in time: when a1 arrives, b0 is evicted and the chain stands.
    const p = pattern({
      within: "1m",
      order: "any",
      steps: [
        { id: "a", where: { tool: "a" } },
        { id: "b", where: { tool: "b" } },
        { id: "c", where: { tool: "c" } },
      ],
    });
    const alerts = await detect(p, [ev("c1", 6, "c"), ev("b0", 0, "b"), ev("b1", 5, "b"), ev("a1", 1, "a")], {
      maxEventsPerGroup: 3,
    });
    expect(fired(alerts)).toEqual([{ trigger: "a1", steps: { a: ["a1"], b: ["b1"], c: ["c1"] } }]);
  });

  it("events no pattern can use are not stored and do not count", async () => {
    const noisy = [
      ev("a1", 0, "a"),
      ev("n1", 0.1, "noise"),
      ev("n2", 0.2, "noise"),
      ev("b1", 1, "b"),
      ev("c1", 2, "c"),
    ];
    expect(fired(await detect(three, noisy, { maxEventsPerGroup: 3 }))).toEqual([
      { trigger: "c1", steps: { a: ["a1"], b: ["b1"], c: ["c1"] } },
    ]);
  });

  it("the bound is per group", async () => {
    const twoUsers = [
      ev("a1", 0, "a"),
      ev("x1", 0, "a", { user_id: "u2" }),
      ev("x2", 0.5, "b", { user_id: "u2" }),
      ev("b1", 1, "b"),
      ev("c1", 2, "c"),
    ];
    expect(fired(await detect(three, twoUsers, { maxEventsPerGroup: 3 }))).toEqual([
      { trigger: "c1", steps: { a: ["a1"], b: ["b1"], c: ["c1"] } },
    ]);
  });
});
