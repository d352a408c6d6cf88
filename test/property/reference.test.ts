import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ev, iso, pattern, type Raw } from "../engine/rules/scenario.js";
import { compile, toEvent } from "../helpers/detect.js";
import { type PatternJson, type RefAlert, Reference } from "./reference.js";

/**
 * The reference on its own, against hand-derived answers: so that the property test compares the
 * engine with something known to read the spec right, not just with something that agrees with it.
 */

function run(patterns: Raw[], events: Raw[], maxEventsPerGroup?: number) {
  const ref = new Reference(
    compile(patterns),
    patterns as unknown as PatternJson[],
    maxEventsPerGroup === undefined ? {} : { maxEventsPerGroup },
  );
  const alerts: RefAlert[] = [];
  let tooLate = 0;
  let duplicates = 0;
  for (const raw of events) {
    const r = ref.push(toEvent(raw));
    alerts.push(...r.alerts);
    if (r.tooLateGroups) tooLate++;
    if (r.duplicate) duplicates++;
  }
  return { alerts, tooLate, duplicates };
}

const stepsOf = (a: RefAlert) => Object.fromEntries(a.steps.map((s) => [s.step, s.event_ids]));

const seq = (extra: Raw = {}) =>
  pattern({
    within: "1m",
    steps: [
      { id: "a", where: { tool: "a" } },
      { id: "b", where: { tool: "b" } },
    ],
    ...extra,
  });

describe("reference", () => {
  it("a sequence, its alert id, first/last seen and consumption", () => {
    const { alerts } = run([seq()], [ev("a1", 0, "a"), ev("a2", 1, "a"), ev("b1", 2, "b"), ev("b2", 3, "b")]);
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(stepsOf(a)).toEqual({ a: ["a2"], b: ["b1"] });
    expect([a.first_seen, a.last_seen]).toEqual([iso(1), iso(2)]);
    expect(a.alert_id).toBe(createHash("sha256").update("rule.test\n1\nu1\nb1").digest("hex").slice(0, 32));
  });

  it("ties by arrival, within inclusive", () => {
    expect(run([seq()], [ev("b1", 5, "b"), ev("a1", 5, "a")]).alerts).toEqual([]);
    expect(run([seq({ within: "10s" })], [ev("a1", 0, "a"), ev("b1", 10, "b")]).alerts).toHaveLength(1);
    expect(run([seq({ within: "10s" })], [ev("a1", 0, "a"), ev("b1", 10.001, "b")]).alerts).toEqual([]);
  });

  it("count with distinct: the latest occurrence of each value", () => {
    const p = pattern({
      within: "1m",
      steps: [{ id: "l", where: { tool: "l" }, count: { min: 2, distinct: "arguments.k" } }],
    });
    const { alerts } = run(
      [p],
      [
        ev("l1", 0, "l", { arguments: { k: 1 } }),
        ev("l2", 1, "l", { arguments: { k: 1 } }),
        ev("l3", 2, "l"),
      ],
    );
    expect(alerts).toEqual([]);
    const more = run(
      [p],
      [
        ev("l1", 0, "l", { arguments: { k: 1 } }),
        ev("l2", 1, "l", { arguments: { k: 1 } }),
        ev("l3", 2, "l"),
        ev("l4", 3, "l", { arguments: { k: "1" } }),
      ],
    );
    expect(more.alerts.map(stepsOf)).toEqual([{ l: ["l2", "l4"] }]);
  });

  it("absent strictly between, late approval no retraction", () => {
    const p = seq({ absent: [{ where: { tool: "ok" }, after: "a", before: "b" }] });
    expect(run([p], [ev("a1", 0, "a"), ev("ok", 1, "ok"), ev("b1", 2, "b")]).alerts).toEqual([]);
    expect(run([p], [ev("a1", 0, "a"), ev("b1", 2, "b"), ev("ok", 1, "ok")]).alerts).toHaveLength(1);
  });

  it("suppress: an ineligible match consumes nothing", () => {
    const p = pattern({
      within: "1m",
      suppress: "10s",
      steps: [{ id: "l", where: { tool: "l" }, count: { min: 2 } }],
    });
    const { alerts } = run(
      [p],
      [ev("l1", 0, "l"), ev("l2", 1, "l"), ev("l3", 5, "l"), ev("l4", 6, "l"), ev("l5", 11, "l")],
    );
    expect(alerts.map(stepsOf)).toEqual([{ l: ["l1", "l2"] }, { l: ["l4", "l5"] }]);
  });

  it("too late, duplicates, window trimming", () => {
    const r = run(
      [seq({ within: "10s" })],
      [ev("b1", 100, "b"), ev("a1", 89, "a"), ev("a1", 95, "a"), ev("b2", 96, "b")],
    );
    expect([r.alerts.length, r.tooLate, r.duplicates]).toEqual([0, 1, 1]);
    const trimmed = run([seq({ within: "10s" })], [ev("a1", 0, "a"), ev("z", 15, "z"), ev("b1", 8, "b")]);
    expect(trimmed.alerts).toEqual([]);
  });

  it("two unordered count steps: the event only one can take is left for it", () => {
    const p = pattern({
      within: "1m",
      order: "any",
      steps: [
        { id: "s0", where: { tool: "special" }, count: { min: 1 } },
        { id: "s1", where: { tool: { glob: "*" } }, count: { min: 2 } },
      ],
    });
    const { alerts } = run([p], [ev("a", 1, "other"), ev("b", 2, "special"), ev("c", 3, "other")]);
    expect(alerts.map(stepsOf)).toEqual([{ s0: ["b"], s1: ["a", "c"] }]);
  });

  it("a count set takes in what would block an absent, with distinct too", () => {
    const p = pattern({
      within: "10s",
      steps: [
        { id: "send", where: { tool: "send" } },
        { id: "reads", where: { tool: "read" }, count: { min: 2, distinct: "arguments.y" } },
        { id: "last", where: { tool: "read" } },
      ],
      absent: [{ where: { tool: "read" }, after: "send", before: "last" }],
    });
    const { alerts } = run(
      [p],
      [
        ev("s", 0, "send"),
        ev("r2", 2, "read", { arguments: { y: "b" } }),
        ev("r3", 3, "read"),
        ev("r4", 4, "read"),
        ev("c", 5, "read"),
        ev("r1", 1, "read", { arguments: { y: "a" } }),
      ],
    );
    expect(alerts.map(stepsOf)).toEqual([{ send: ["s"], reads: ["r1", "r2", "r3", "r4"], last: ["c"] }]);
  });

  it("the bound evicts the oldest by (timestamp, arrival)", () => {
    const p = pattern({
      within: "1m",
      order: "any",
      steps: [
        { id: "a", where: { tool: "a" } },
        { id: "b", where: { tool: "b" } },
        { id: "c", where: { tool: "c" } },
      ],
    });
    const events = [ev("c1", 6, "c"), ev("b0", 0, "b"), ev("b1", 5, "b"), ev("a1", 1, "a")];
    expect(run([p], events, 3).alerts.map(stepsOf)).toEqual([{ a: ["a1"], b: ["b1"], c: ["c1"] }]);
    expect(run([p], events, 2).alerts).toEqual([]);
  });
});
