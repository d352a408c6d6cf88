import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Classifier, Dispatcher } from "../../src/engine/dispatch.js";
import { planPattern } from "../../src/engine/plan.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import type { CompiledPattern, Taxonomy } from "../../src/patterns/compiled.js";
import { compileWhere } from "../../src/patterns/predicate.js";
import type { Where } from "../../src/patterns/schema.js";

/**
 * The dispatcher's answers (candidate index, known static wheres, answers remembered per value tuple
 * of the fields a where reads) against evaluating every `where` on every event.
 */

const taxonomy: Taxonomy = {
  categoriesOf: (e) => {
    const cats = new Set(e.categories ?? []);
    if (e.tool.startsWith("read")) cats.add("private_data");
    if (e.tool.startsWith("send")) cats.add("public_sink");
    return cats;
  },
};

const WHERES: Where[] = [
  { risk_level: { gte: "high" }, "hitl.approved": false, server: "ehr" },
  { risk_level: { gte: "critical" }, "hitl.approved": false, server: "mail" },
  { risk_level: "low", server: "ehr" },
  { category: "private_data", outcome: "success", server: "ehr" },
  { category: "private_data", outcome: "error" },
  { category: "public_sink", "arguments.to": { not: { glob: "*@corp.example" } } },
  { category: "public_sink", "arguments.to": { in: ["a@x", 3, true, null] } },
  { tool: "read_chart", "arguments.n": { gt: 2 } },
  { tool: { in: ["read_chart", "send_email"] }, "result.file_id": { exists: true } },
  { duration_ms: { lt: 100 } },
  { "arguments.v": "1" },
  { "arguments.v": 1 },
  { "arguments.v": { contains: "x" } },
  { arguments: { exists: true } },
];

function patternOf(where: Where, i: number): CompiledPattern {
  return {
    id: `p${i}`,
    version: 1,
    title: `p${i}`,
    severity: "high",
    tags: [],
    groupBy: ["user_id"],
    groupingId: "user_id",
    withinMs: 0,
    steps: [{ id: "s", index: 0, where: compileWhere(where) }],
    orderEdges: [],
    joins: [],
    absent: [],
    edgesWithin: [],
    suppressMs: 0,
    tests: [],
    source: "test",
    fields: [],
  };
}

const scalar = fc.oneof(
  fc.constantFrom("a@x", "b@corp.example", "x", "1", "", "a\u0000s1:b"),
  fc.constantFrom(1, 1.0, 3, 0, -0, 2.5),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  fc.array(scalar, { maxLength: 3 }),
  fc.constant({ k: 1 }),
);

let nextId = 0;
const eventArb = fc
  .record(
    {
      server: fc.constantFrom("ehr", "mail"),
      tool: fc.constantFrom("read_chart", "send_email", "list_patients"),
      risk_level: fc.constantFrom("low", "medium", "high", "critical"),
      outcome: fc.constantFrom("success", "error"),
      duration_ms: fc.constantFrom(5, 99, 100, 400),
      hitl: fc.option(fc.record({ required: fc.boolean(), approved: fc.option(fc.boolean()) }), {
        nil: undefined,
      }),
      arguments: fc.option(fc.dictionary(fc.constantFrom("to", "n", "v"), value, { maxKeys: 3 }), {
        nil: undefined,
      }),
      result: fc.option(fc.record({ file_id: value }, { requiredKeys: [] }), { nil: undefined }),
      categories: fc.option(fc.array(fc.constantFrom("private_data", "approval"), { maxLength: 2 }), {
        nil: undefined,
      }),
    },
    { requiredKeys: ["server", "tool", "risk_level", "outcome", "duration_ms"] },
  )
  .map((r) => ({
    event_id: `e${nextId++}`,
    timestamp: 0,
    user_id: "u",
    method: "tools/call",
    schema_version: 1,
    ...r,
  })) as unknown as fc.Arbitrary<ToolCallEvent>;

describe("Dispatcher.evaluate", () => {
  it("hits exactly the wheres that hold, event after event (memo and shared hit lists included)", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 300 }), (events) => {
        const patterns = WHERES.map(patternOf);
        const dispatcher = new Dispatcher(patterns.map((p, i) => planPattern(p, i)));
        const classifier = new Classifier(taxonomy);
        for (const event of events) {
          const cats = taxonomy.categoriesOf(event);
          const expected = patterns
            .map((p, i) => (p.steps[0]!.where.test(event, cats) ? dispatcher.stepSlot[i]![0]! : -1))
            .filter((slot) => slot >= 0);
          expect([...dispatcher.evaluate(event, classifier.classify(event))]).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('tells values apart by JSON type: the string "1", the number 1, true, null and missing', () => {
    const patterns = [patternOf({ "arguments.v": "1" }, 0), patternOf({ "arguments.v": 1 }, 1)];
    const dispatcher = new Dispatcher(patterns.map((p, i) => planPattern(p, i)));
    const classifier = new Classifier(taxonomy);
    const cases: Array<[unknown, number[]]> = [
      ["1", [0]],
      [1, [1]],
      ["1", [0]],
      [true, []],
      [null, []],
      [undefined, []],
      [1, [1]],
    ];
    for (const [v, expected] of cases) {
      const event = {
        event_id: "e",
        timestamp: 0,
        user_id: "u",
        server: "s",
        tool: "t",
        method: "tools/call",
        schema_version: 1,
        arguments: v === undefined ? {} : { v },
      } as unknown as ToolCallEvent;
      const hits = dispatcher.evaluate(event, classifier.classify(event));
      expect([...hits]).toEqual(expected.map((p) => dispatcher.stepSlot[p]![0]!));
    }
  });

  it("a where on the event's own categories field is told apart per event, not per server/tool", () => {
    const patterns = [
      patternOf({ categories: { exists: true } }, 0),
      patternOf({ categories: ["b", "a"] }, 1),
    ];
    const dispatcher = new Dispatcher(patterns.map((p, i) => planPattern(p, i)));
    const classifier = new Classifier(taxonomy);
    const cases: Array<[string[] | undefined, number[]]> = [
      [[], [0]],
      [undefined, []],
      [["a", "b"], [0]],
      [
        ["b", "a"],
        [0, 1],
      ],
      [[], [0]],
    ];
    for (const [categories, expected] of cases) {
      const event = {
        event_id: "e",
        timestamp: 0,
        user_id: "u",
        server: "s",
        tool: "t",
        method: "tools/call",
        schema_version: 1,
        ...(categories ? { categories } : {}),
      } as unknown as ToolCallEvent;
      const hits = dispatcher.evaluate(event, classifier.classify(event));
      expect([...hits]).toEqual(expected.map((p) => dispatcher.stepSlot[p]![0]!));
    }
  });

  it("keeps answering right once a where's values are too many to remember", () => {
    const patterns = [patternOf({ "arguments.to": { glob: "*7" } }, 0)];
    const dispatcher = new Dispatcher(patterns.map((p, i) => planPattern(p, i)));
    const classifier = new Classifier(taxonomy);
    for (let i = 0; i < 1000; i++) {
      const event = {
        event_id: `e${i}`,
        timestamp: 0,
        user_id: "u",
        server: "s",
        tool: "t",
        method: "tools/call",
        schema_version: 1,
        arguments: { to: `x${i % 600}` },
      } as unknown as ToolCallEvent;
      const hit = dispatcher.evaluate(event, classifier.classify(event)).length === 1;
      expect(hit).toBe((i % 600) % 10 === 7);
    }
  });
});
