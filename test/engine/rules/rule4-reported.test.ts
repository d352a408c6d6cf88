import { describe, expect, it } from "vitest";
import { detect } from "../../helpers/detect.js";
import { ev, fired, pattern, span } from "./scenario.js";

// patterns.md rule 4: the reported match is the most recent one — taking steps from the latest to the
// earliest in order, each picks the latest event that still allows a match (docs/semantics.md
// "Reported match" for count steps and non-sequence orders).

const three = (extra: Record<string, unknown> = {}) =>
  pattern({
    within: "1m",
    steps: [
      { id: "a", where: { tool: "a" } },
      { id: "b", where: { tool: "b" } },
      { id: "c", where: { tool: "c" } },
    ],
    ...extra,
  });

describe("rule 4: which match is reported", () => {
  it("each step its latest event, from the last step back", async () => {
    const alerts = await detect(three(), [
      ev("a1", 0, "a"),
      ev("b1", 1, "b"),
      ev("a2", 2, "a"),
      ev("b2", 3, "b"),
      ev("a3", 4, "a"), // after every b: cannot be the a of a match
      ev("c1", 5, "c"),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "c1", steps: { a: ["a2"], b: ["b2"], c: ["c1"] } }]);
    expect(span(alerts[0]!)).toEqual([2, 5]);
  });

  it("a later step's latest choice comes first, even if an earlier step then picks an older event", async () => {
    // b2 is the latest b; the only a before b2 with the join is a1, although a2 is later.
    const p = three({ join: [{ left: "a.arguments.k", right: "b.arguments.k" }] });
    const alerts = await detect(p, [
      ev("a1", 0, "a", { arguments: { k: 1 } }),
      ev("a2", 1, "a", { arguments: { k: 2 } }),
      ev("b1", 2, "b", { arguments: { k: 2 } }),
      ev("b2", 3, "b", { arguments: { k: 1 } }),
      ev("c1", 4, "c"),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "c1", steps: { a: ["a1"], b: ["b2"], c: ["c1"] } }]);
    expect(span(alerts[0]!)).toEqual([0, 4]);
  });

  it('"any": the last step in the array picks first', async () => {
    const p = pattern({
      within: "1m",
      order: "any",
      steps: [
        { id: "x", where: { tool: "t" } },
        { id: "y", where: { tool: "t" } },
      ],
    });
    const alerts = await detect(p, [ev("t1", 0, "t"), ev("t2", 1, "t")]);
    expect(fired(alerts)).toEqual([{ trigger: "t2", steps: { x: ["t1"], y: ["t2"] } }]);
  });

  it("an out-of-order arrival: the match contains it, the other steps still their latest events", async () => {
    // b0 arrives late with an old timestamp and completes the chain.
    const p = three({ order: "any" });
    const alerts = await detect(p, [
      ev("c1", 10, "c"),
      ev("a1", 11, "a"),
      ev("b0", 3, "b"), // completes {a1, b0, c1}
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "b0", steps: { a: ["a1"], b: ["b0"], c: ["c1"] } }]);
    expect(span(alerts[0]!)).toEqual([3, 11]);
  });

  it("a count step: its latest qualifying events, min of them", async () => {
    const p = pattern({
      within: "1m",
      steps: [
        { id: "list", where: { tool: "list" }, count: { min: 2 } },
        { id: "send", where: { tool: "send" } },
      ],
    });
    const alerts = await detect(p, [
      ev("l1", 0, "list"),
      ev("l2", 1, "list"),
      ev("l3", 2, "list"),
      ev("l4", 3, "list"),
      ev("s1", 4, "send"),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "s1", steps: { list: ["l3", "l4"], send: ["s1"] } }]);
  });

  it("a count step with distinct: the latest occurrence of each value", async () => {
    const p = pattern({
      within: "1m",
      steps: [
        { id: "list", where: { tool: "list" }, count: { min: 2, distinct: "arguments.pid" } },
        { id: "send", where: { tool: "send" } },
      ],
    });
    const alerts = await detect(p, [
      ev("l1", 0, "list", { arguments: { pid: 1 } }),
      ev("l2", 1, "list", { arguments: { pid: 2 } }),
      ev("l3", 2, "list", { arguments: { pid: 1 } }),
      ev("l4", 3, "list", { arguments: { pid: 1 } }),
      ev("s1", 4, "send"),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "s1", steps: { list: ["l2", "l4"], send: ["s1"] } }]);
    expect(span(alerts[0]!)).toEqual([1, 4]);
  });

  it("a count step always includes the arriving event", async () => {
    // s1 is stored first; the count completes when l0 arrives late with an older value.
    const p = pattern({
      within: "1m",
      steps: [
        { id: "list", where: { tool: "list" }, count: { min: 2, distinct: "arguments.pid" } },
        { id: "send", where: { tool: "send" } },
      ],
    });
    const alerts = await detect(p, [
      ev("s1", 10, "send"),
      ev("l8", 8, "list", { arguments: { pid: 1 } }),
      ev("l9", 9, "list", { arguments: { pid: 1 } }),
      ev("l0", 2, "list", { arguments: { pid: 2 } }),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "l0", steps: { list: ["l0", "l9"], send: ["s1"] } }]);
    expect(span(alerts[0]!)).toEqual([2, 10]);
  });

  it("a count step's latest event is its latest possible one, the arriving event added to the set", async () => {
    // min 1 distinct: l8 has no pid, so {l8} alone is no match, but {l0, l8} is — and l8 is the
    // latest possible latest event of the step; the set is l8, then the arriving l0.
    const p = pattern({
      within: "1m",
      steps: [
        { id: "list", where: { tool: "list" }, count: { min: 1, distinct: "arguments.pid" } },
        { id: "send", where: { tool: "send" } },
      ],
    });
    const alerts = await detect(p, [
      ev("s1", 10, "send"),
      ev("l8", 8, "list"),
      ev("l0", 2, "list", { arguments: { pid: 2 } }),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "l0", steps: { list: ["l0", "l8"], send: ["s1"] } }]);
  });

  it("steps list their events in time order, ties by arrival", async () => {
    const p = pattern({ within: "1m", steps: [{ id: "l", where: { tool: "list" }, count: { min: 3 } }] });
    const alerts = await detect(p, [ev("l3", 5, "list"), ev("l1", 5, "list"), ev("l2", 4, "list")]);
    expect(fired(alerts)).toEqual([{ trigger: "l2", steps: { l: ["l2", "l3", "l1"] } }]);
  });
});
