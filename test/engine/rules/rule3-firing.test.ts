import { describe, expect, it } from "vitest";
import { detect } from "../../helpers/detect.js";
import { ev, fired, pattern, span } from "./scenario.js";

// patterns.md rule 3: a match containing the arriving event, from events not yet consumed, fires one
// alert; then every event with a timestamp <= its latest is consumed ("skip past last event").

const chain = (extra: Record<string, unknown> = {}) =>
  pattern({
    within: "1m",
    steps: [
      { id: "a", where: { tool: "a" } },
      { id: "b", where: { tool: "b" } },
    ],
    ...extra,
  });

describe("rule 3: when an alert fires", () => {
  it("one chain instance, one alert: a new chain needs new events", async () => {
    const alerts = await detect(chain(), [
      ev("a1", 0, "a"),
      ev("b1", 1, "b"),
      ev("b2", 2, "b"), // a1 is consumed
      ev("a2", 3, "a"),
      ev("b3", 4, "b"),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "b1", steps: { a: ["a1"], b: ["b1"] } },
      { trigger: "b3", steps: { a: ["a2"], b: ["b3"] } },
    ]);
  });

  it("the alert fires on the event that completes the match, and only then", async () => {
    const alerts = await detect(chain(), [
      ev("a1", 0, "a"),
      ev("a2", 1, "a"),
      ev("b1", 2, "b"),
      ev("a3", 3, "a"),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "b1", steps: { a: ["a2"], b: ["b1"] } }]);
  });

  it("consumption skips past the last event: a count needs min new events", async () => {
    const p = pattern({ within: "1m", steps: [{ id: "l", where: { tool: "list" }, count: { min: 2 } }] });
    const alerts = await detect(p, [
      ev("l1", 0, "list"),
      ev("l2", 1, "list"),
      ev("l3", 2, "list"),
      ev("l4", 3, "list"),
      ev("l5", 4, "list"),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "l2", steps: { l: ["l1", "l2"] } },
      { trigger: "l4", steps: { l: ["l3", "l4"] } },
    ]);
  });

  it("an out-of-order event carrying an old timestamp is consumed", async () => {
    const alerts = await detect(chain(), [
      ev("a1", 0, "a"),
      ev("b1", 5, "b"), // alert; consumed up to 5
      ev("a2", 3, "a"), // arrives late with an old timestamp: consumed
      ev("b2", 6, "b"), // a2 cannot be used
      ev("a3", 7, "a"),
      ev("b3", 8, "b"),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "b1", steps: { a: ["a1"], b: ["b1"] } },
      { trigger: "b3", steps: { a: ["a3"], b: ["b3"] } },
    ]);
  });

  it("an event at exactly the consumed timestamp is consumed too", async () => {
    const alerts = await detect(chain(), [
      ev("a1", 0, "a"),
      ev("b1", 5, "b"),
      ev("a2", 5, "a"),
      ev("b2", 6, "b"),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "b1", steps: { a: ["a1"], b: ["b1"] } }]);
  });

  it("an out-of-order arrival that completes a match fires on that arrival", async () => {
    const alerts = await detect(chain(), [ev("b1", 5, "b"), ev("a1", 2, "a")]);
    expect(fired(alerts)).toEqual([{ trigger: "a1", steps: { a: ["a1"], b: ["b1"] } }]);
    expect(span(alerts[0]!)).toEqual([2, 5]);
  });

  it("consumption is per pattern: another pattern still uses the events", async () => {
    const alerts = await detect(
      [chain({ id: "p.one" }), chain({ id: "p.two" })],
      [ev("a1", 0, "a"), ev("b1", 1, "b")],
    );
    expect(alerts.map((a) => [a.pattern.id, a.trigger_event_id])).toEqual([
      ["p.one", "b1"],
      ["p.two", "b1"],
    ]);
  });

  it("consumption is per group: another user's events are untouched", async () => {
    const alerts = await detect(chain(), [
      ev("a1", 0, "a"),
      ev("a2", 0, "a", { user_id: "u2" }),
      ev("b1", 1, "b"),
      ev("b2", 1, "b", { user_id: "u2" }),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "b1", steps: { a: ["a1"], b: ["b1"] } },
      { trigger: "b2", steps: { a: ["a2"], b: ["b2"] } },
    ]);
  });
});

describe("rule 3: suppress", () => {
  it("no further alert of the pattern for the group until suppress has passed since last_seen", async () => {
    const p = pattern({ suppress: "10s", steps: [{ id: "d", where: { tool: "delete" } }] });
    const alerts = await detect(p, [
      ev("d1", 0, "delete"),
      ev("d2", 5, "delete"),
      ev("d3", 9.999, "delete"),
      ev("d4", 10, "delete"), // last_seen 10 >= 0 + 10: eligible
      ev("d5", 15, "delete"),
      ev("d6", 20, "delete"),
    ]);
    expect(fired(alerts).map((f) => f.trigger)).toEqual(["d1", "d4", "d6"]);
  });

  it("suppress is per group", async () => {
    const p = pattern({ suppress: "1h", steps: [{ id: "d", where: { tool: "delete" } }] });
    const alerts = await detect(p, [ev("d1", 0, "delete"), ev("d2", 1, "delete", { user_id: "u2" })]);
    expect(fired(alerts).map((f) => f.trigger)).toEqual(["d1", "d2"]);
  });

  it("an ineligible match fires nothing and consumes nothing", async () => {
    const p = pattern({
      within: "1m",
      suppress: "10s",
      steps: [{ id: "l", where: { tool: "list" }, count: { min: 2 } }],
    });
    const alerts = await detect(p, [
      ev("l1", 0, "list"),
      ev("l2", 1, "list"), // alert, last_seen 1: nothing until 11
      ev("l3", 5, "list"),
      ev("l4", 6, "list"), // {l3, l4} is a match but ineligible: l3 and l4 stay unconsumed
      ev("l5", 11, "list"), // eligible: the latest set {l4, l5}
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "l2", steps: { l: ["l1", "l2"] } },
      { trigger: "l5", steps: { l: ["l4", "l5"] } },
    ]);
    expect(span(alerts[1]!)).toEqual([6, 11]);
  });

  it("an ineligible most recent match does not hide an eligible one (suppress is part of the search)", async () => {
    // docs/semantics.md: after the alert at 5 (suppress 10s), c7 arrives late. The most recent match
    // {a6, b8, c7} ends at 8 (< 15, ineligible); {a20, b7, c7} ends at 20: that one is reported.
    const p = pattern({
      within: "1m",
      order: "any",
      suppress: "10s",
      steps: [
        { id: "a", where: { tool: "a" } },
        { id: "b", where: { tool: "b" } },
        { id: "c", where: { tool: "c" } },
      ],
      join: [{ left: "a.arguments.k", right: "b.arguments.k" }],
    });
    const k = (v: number) => ({ arguments: { k: v } });
    const alerts = await detect(p, [
      ev("a0", 0, "a", k(0)),
      ev("b0", 4, "b", k(0)),
      ev("c0", 5, "c"), // alert, last_seen 5
      ev("a6", 6, "a", k(1)),
      ev("b8", 8, "b", k(1)),
      ev("b7", 7, "b", k(2)),
      ev("a20", 20, "a", k(2)),
      ev("c7", 7, "c"),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "c0", steps: { a: ["a0"], b: ["b0"], c: ["c0"] } },
      { trigger: "c7", steps: { a: ["a20"], b: ["b7"], c: ["c7"] } },
    ]);
    expect(span(alerts[1]!)).toEqual([7, 20]);
  });

  it("suppress judges the match's latest timestamp, not its trigger's", async () => {
    // After the alert at 0 (suppress 10s), a late `a` completes a chain whose latest event (b2 at 12)
    // is past the suppression: eligible, fired by the late event.
    const p = chain({ suppress: "10s" });
    const alerts = await detect(p, [
      ev("a1", 0, "a"),
      ev("b1", 0, "b"),
      ev("b2", 12, "b"),
      ev("a2", 11, "a"),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "b1", steps: { a: ["a1"], b: ["b1"] } },
      { trigger: "a2", steps: { a: ["a2"], b: ["b2"] } },
    ]);
  });
});
