import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { Detector } from "../../src/engine/detector.js";
import { type GroupState, newGroupState } from "../../src/engine/group-state.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import type { CompiledPattern, CompiledStep, PatternSet } from "../../src/patterns/compiled.js";
import { MemoryStore } from "../../src/state/memory.js";
import { processBatch } from "../../src/stream/batch.js";

// Hand-built compiled patterns: the engine is tested on its own, independent of the compiler.

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
const s = (n: number) => T0 + n * 1000;

function ev(id: string, sec: number, tool: string, extra: Partial<ToolCallEvent> = {}): ToolCallEvent {
  return {
    event_id: id,
    timestamp: s(sec),
    user_id: "u-1",
    server: "srv",
    tool,
    method: "tools/call",
    outcome: "success",
    schema_version: 1,
    ...extra,
  };
}

function toolStep(id: string, index: number, tool: string, count?: CompiledStep["count"]): CompiledStep {
  const step: CompiledStep = {
    id,
    index,
    where: { test: (e) => e.tool === tool, hint: { tools: [tool] }, fields: ["tool"] },
  };
  if (count) step.count = count;
  return step;
}

function pattern(over: Partial<CompiledPattern> & Pick<CompiledPattern, "id" | "steps">): CompiledPattern {
  const n = over.steps.length;
  return {
    version: 1,
    title: over.id,
    severity: "high",
    tags: [],
    groupBy: ["user_id"],
    groupingId: "user_id",
    withinMs: 600_000,
    orderEdges: Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]),
    joins: [],
    absent: [],
    edgesWithin: [],
    suppressMs: 0,
    tests: [],
    source: "test",
    fields: ["tool", "arguments", "result"],
    ...over,
  };
}

function setOf(...patterns: CompiledPattern[]): PatternSet {
  const retentionMs = Math.max(0, ...patterns.map((p) => p.withinMs));
  return { patterns, taxonomy: { categoriesOf: (e) => new Set(e.categories ?? []) }, retentionMs };
}

const abc = () =>
  pattern({ id: "abc", steps: [toolStep("a", 0, "A"), toolStep("b", 1, "B"), toolStep("c", 2, "C")] });

/** Runs events one by one through one group; returns the alerts per event. */
function run(set: PatternSet, events: ToolCallEvent[], opts: { max?: number } = {}) {
  const det = new Detector(set, { now: () => T0, ...(opts.max ? { maxEventsPerGroup: opts.max } : {}) });
  const state = newGroupState("u:u-1", "user_id", { user_id: "u-1" });
  const out = events.map((e, i) => det.onEvent(state, e, { line: i + 1 }));
  return { det, state, out, alerts: out.flatMap((o) => o.alerts) };
}

const ids = (a: Alert) => a.steps.map((st) => `${st.step}:${st.event_ids.join(",")}`).join(" ");

describe("Detector", () => {
  it("fires a sequence once when its last step arrives, then consumes its events", () => {
    const { out, alerts, state } = run(setOf(abc()), [
      ev("1", 0, "A"),
      ev("2", 10, "B"),
      ev("3", 20, "C"),
      ev("4", 30, "C"),
    ]);
    expect(out.map((o) => o.alerts.length)).toEqual([0, 0, 1, 0]);
    expect(ids(alerts[0]!)).toBe("a:1 b:2 c:3");
    expect(state.marks.get("abc")).toEqual({ consumed: s(20), lastAlert: s(20) });
    expect(state.outbox.get("3")?.alerts).toEqual(alerts);
    expect(state.changes.marks.has("abc")).toBe(true);
  });

  it("reports the most recent match (rule 4) and respects strict order", () => {
    const { alerts } = run(setOf(abc()), [
      ev("a1", 0, "A"),
      ev("a2", 5, "A"),
      ev("b1", 5, "B"), // same timestamp as a2 but arrived later: a2 < b1
      ev("c1", 9, "C"),
    ]);
    expect(alerts).toHaveLength(1);
    expect(ids(alerts[0]!)).toBe("a:a2 b:b1 c:c1");
  });

  it("does not match out of order, and honours within", () => {
    const wrongOrder = run(setOf(abc()), [ev("1", 0, "C"), ev("2", 1, "B"), ev("3", 2, "A")]);
    expect(wrongOrder.alerts).toHaveLength(0);
    const tooSlow = run(setOf(abc()), [ev("1", 0, "A"), ev("2", 1, "B"), ev("3", 601, "C")]);
    expect(tooSlow.alerts).toHaveLength(0);
    const justInTime = run(setOf(abc()), [ev("1", 0, "A"), ev("2", 1, "B"), ev("3", 600, "C")]);
    expect(justInTime.alerts).toHaveLength(1);
  });

  it("matches an out-of-order arrival anchored on an earlier step", () => {
    const { out } = run(setOf(abc()), [ev("2", 10, "B"), ev("3", 20, "C"), ev("1", 5, "A")]);
    expect(out.map((o) => o.alerts.length)).toEqual([0, 0, 1]);
    expect(out[2]!.alerts[0]!.trigger_event_id).toBe("1");
  });

  it("counts distinct values, latest first, including the arriving event", () => {
    const p = pattern({
      id: "enum",
      steps: [toolStep("list", 0, "L", { min: 3, distinct: ["arguments", "id"] }), toolStep("x", 1, "X")],
    });
    const arg = (id: unknown) => ({ arguments: { id } });
    const { out, alerts } = run(setOf(p), [
      ev("1", 0, "L", arg(1)),
      ev("2", 1, "L", arg(2)),
      ev("3", 2, "L", arg(2)),
      ev("4", 3, "X"),
      ev("5", 4, "L", arg(3)),
      ev("6", 5, "X"),
    ]);
    expect(out.map((o) => o.alerts.length)).toEqual([0, 0, 0, 0, 0, 1]);
    // Latest occurrence per value: 5 (3), 3 (2), 1 (1).
    expect(ids(alerts[0]!)).toBe("list:1,3,5 x:6");
    expect(alerts[0]!.summary).toBe("u-1: L ×3 → X within 5s");
  });

  it("builds count sets with lookahead when two count steps compete for events", () => {
    // s0 needs one distinct arguments.id, s1 any two events: the greedy set {3, 2} for s1 would leave
    // s0 nothing with an id; the set that still allows a match is {3, 1}.
    const p = pattern({
      id: "two-counts",
      steps: [
        toolStep("s0", 0, "L", { min: 1, distinct: ["arguments", "id"] }),
        toolStep("s1", 1, "L", { min: 2 }),
      ],
      orderEdges: [],
      withinMs: 0,
    });
    const { alerts } = run(setOf(p), [
      ev("1", 0, "L"),
      ev("2", 0, "L", { arguments: { id: 1 } }),
      ev("3", 0, "L", { arguments: { id: 1 } }),
    ]);
    expect(alerts.map(ids)).toEqual(["s0:2 s1:1,3"]);
  });

  it("blocks on an absent event strictly between, not on one outside", () => {
    const p = pattern({
      id: "noapprove",
      steps: [toolStep("export", 0, "E"), toolStep("send", 1, "S")],
      absent: [
        {
          where: { test: (e) => e.tool === "OK", hint: { tools: ["OK"] }, fields: ["tool"] },
          after: 0,
          before: 1,
        },
      ],
    });
    const blocked = run(setOf(p), [ev("1", 0, "E"), ev("2", 1, "OK"), ev("3", 2, "S")]);
    expect(blocked.alerts).toHaveLength(0);
    const before = run(setOf(p), [ev("2", 0, "OK"), ev("1", 1, "E"), ev("3", 2, "S")]);
    expect(before.alerts).toHaveLength(1);
  });

  it("checks joins and picks the candidate that satisfies them", () => {
    const p = pattern({
      id: "flow",
      steps: [toolStep("export", 0, "E"), toolStep("send", 1, "S")],
      joins: [
        {
          left: { step: 0, path: ["result", "file"] },
          right: { step: 1, path: ["arguments", "att"] },
          op: "equals",
        },
      ],
    });
    const { alerts } = run(setOf(p), [
      ev("e1", 0, "E", { result: { file: "f-1" } }),
      ev("e2", 1, "E", { result: { file: "f-2" } }),
      ev("s1", 2, "S", { arguments: { att: ["x", "f-1"] } }),
    ]);
    expect(alerts).toHaveLength(1);
    expect(ids(alerts[0]!)).toBe("export:e1 send:s1");
  });

  it("is idempotent per group, and reports too-late events", () => {
    const { det, state, alerts } = run(setOf(abc()), [ev("1", 0, "A"), ev("2", 10, "B"), ev("3", 20, "C")]);
    expect(alerts).toHaveLength(1);
    expect(det.onEvent(state, ev("3", 20, "C"))).toMatchObject({ status: "ok", alerts: [] });
    expect(det.onEvent(state, ev("2", 10, "B"))).toMatchObject({ status: "ok", alerts: [] });
    expect(state.events).toHaveLength(3);
    const late = det.onEvent(state, ev("old", 20 - 601, "A"));
    expect(late.status).toBe("too_late");
    expect(state.events).toHaveLength(3);
  });

  it("suppresses a second alert until suppress has passed since the last one", () => {
    const p = { ...abc(), suppressMs: 60_000 };
    const seq = (base: number, tag: string) => [
      ev(`${tag}a`, base, "A"),
      ev(`${tag}b`, base + 1, "B"),
      ev(`${tag}c`, base + 2, "C"),
    ];
    const { alerts } = run(setOf(p), [...seq(0, "x"), ...seq(10, "y"), ...seq(70, "z")]);
    expect(alerts.map((a) => a.trigger_event_id)).toEqual(["xc", "zc"]);
  });

  it("stores only usable events and evicts the oldest beyond the bound", () => {
    const { state, out } = run(
      setOf(abc()),
      [ev("1", 0, "A"), ev("n", 1, "NOPE"), ev("2", 2, "A"), ev("3", 3, "A")],
      { max: 2 },
    );
    expect(state.events.map((e) => e.event.event_id)).toEqual(["2", "3"]);
    expect(out.map((o) => o.evicted)).toEqual([0, 0, 0, 1]);
    expect(state.changes.added.map((e) => e.event.event_id)).toEqual(["2", "3"]);
    expect(state.newest).toBe(s(3));
  });

  it("gives the same result on a state loaded fresh (index rebuilt from stored events)", () => {
    const set = setOf(abc());
    const first = run(set, [ev("1", 0, "A"), ev("2", 10, "B")]);
    const copy: GroupState = { ...first.state, events: first.state.events.map((e) => ({ ...e })) };
    const det = new Detector(set, { now: () => T0 });
    const out = det.onEvent(copy, ev("3", 20, "C"));
    expect(out.alerts).toHaveLength(1);
    expect(ids(out.alerts[0]!)).toBe("a:1 b:2 c:3");
  });

  it("shares one evaluation among patterns whose wheres have the same key, each pattern still fires", () => {
    let evaluations = 0;
    const keyed = (id: string, index: number, tool: string): CompiledStep => ({
      id,
      index,
      where: {
        test: (e) => {
          evaluations++;
          return e.tool === tool && e.outcome === "success";
        },
        hint: { tools: [tool] },
        fields: ["tool", "outcome"],
        key: `tool=${tool},outcome=success`,
      },
    });
    const p1 = pattern({ id: "p1", steps: [keyed("a", 0, "A"), keyed("b", 1, "B")] });
    const p2 = pattern({ id: "p2", steps: [keyed("x", 0, "A"), keyed("y", 1, "B")], withinMs: 5_000 });
    const { alerts } = run(setOf(p1, p2), [ev("1", 0, "A"), ev("2", 10, "B")]);
    expect(alerts.map((a) => a.pattern.id)).toEqual(["p1"]);
    expect(evaluations).toBe(2);
    const both = run(setOf(p1, p2), [ev("1", 0, "A"), ev("2", 1, "B")]);
    expect(both.alerts.map((a) => `${a.pattern.id} ${ids(a)}`)).toEqual(["p1 a:1 b:2", "p2 x:1 y:2"]);
  });

  it("groups by other fields with collision-free keys", () => {
    const p = { ...abc(), groupBy: ["labels.tenant", "server"], groupingId: "labels.tenant,server" };
    const det = new Detector(setOf(p));
    const refs = det.groupsOf(ev("1", 0, "A", { labels: { tenant: "a:b" }, server: "c" }));
    const other = det.groupsOf(ev("2", 0, "A", { labels: { tenant: "a" }, server: "b:c" }));
    expect(refs).toHaveLength(1);
    expect(refs[0]!.values).toEqual({ "labels.tenant": "a:b", server: "c" });
    expect(refs[0]!.key).not.toBe(other[0]!.key);
    expect(det.groupsOf(ev("3", 0, "A"))).toEqual([]);
  });
});

describe("processBatch", () => {
  it("processes in two round trips, counts duplicates, republishes a re-delivery", async () => {
    const det = new Detector(setOf(abc()), { now: () => T0 });
    const store = new MemoryStore();
    let calls = 0;
    const counting = {
      load: (...a: Parameters<MemoryStore["load"]>) => {
        calls++;
        return store.load(...a);
      },
      save: (...a: Parameters<MemoryStore["save"]>) => {
        calls++;
        return store.save(...a);
      },
      ping: () => store.ping(),
      close: () => store.close(),
    };
    const items = [ev("1", 0, "A"), ev("2", 10, "B"), ev("3", 20, "C"), ev("2", 10, "B")].map((event, i) => ({
      event,
      source: { line: i + 1 },
    }));
    const r1 = await processBatch(det, counting, items);
    expect(calls).toBe(2);
    expect(r1.alerts).toHaveLength(1);
    expect(r1.duplicates).toBe(1);
    const again = await processBatch(det, counting, [
      items[2]!,
      { event: items[2]!.event, source: { line: 99 } },
    ]);
    expect(again.republished).toEqual(r1.alerts);
    expect(again.alerts).toEqual([]);
    expect(again.duplicates).toBe(1);
    // The same re-delivered item twice in one batch re-publishes once: the repeat is a duplicate.
    const twice = await processBatch(det, counting, [items[2]!, items[2]!]);
    expect(twice.republished).toEqual(r1.alerts);
    expect(twice.duplicates).toBe(1);
  });
});
