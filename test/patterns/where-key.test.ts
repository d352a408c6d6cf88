import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ToolCallEvent, validateEvent } from "../../src/events/index.js";
import { compileWhere } from "../../src/patterns/predicate.js";
import {
  type Condition,
  type JsonValue,
  type Scalar,
  type Where,
  whereSchema,
} from "../../src/patterns/schema.js";

/** CompiledWhere.key: equal keys only for the same predicate; harmless rewrites give equal keys. */

const keyOf = (w: unknown): string => compileWhere(whereSchema.parse(w)).key!;
const parseJson = (text: string): unknown => JSON.parse(text);

describe("CompiledWhere.key", () => {
  it("is set, and ignores the order of where keys, operators and literal-object members", () => {
    expect(keyOf({ tool: "a", outcome: "success" })).toBe(keyOf({ outcome: "success", tool: "a" }));
    expect(keyOf({ "arguments.n": { gt: 1, lt: 5 } })).toBe(keyOf({ "arguments.n": { lt: 5, gt: 1 } }));
    expect(keyOf({ "arguments.o": { in: [{ a: 1, b: 2 }] } })).toBe(
      keyOf({ "arguments.o": { in: [{ b: 2, a: 1 }] } }),
    );
    expect(keyOf({ tool: { not: { glob: "x*", regex: "y" } } })).toBe(
      keyOf({ tool: { not: { regex: "y", glob: "x*" } } }),
    );
  });

  it("treats `in` as a set (order, duplicates), also inside combinators", () => {
    expect(keyOf({ tool: { in: ["b", "a", "b"] } })).toBe(keyOf({ tool: { in: ["a", "b"] } }));
    expect(keyOf({ tool: { any: [{ in: [2, 1] }] } })).toBe(keyOf({ tool: { any: [{ in: [1, 2] }] } }));
  });

  it("differs for different predicates", () => {
    const wheres: unknown[] = [
      { tool: "a" },
      { tool: "b" },
      { server: "a" },
      { category: "a" },
      { categories: "a" },
      { "arguments.x": 1 },
      { "arguments.x": "1" },
      { "arguments.x": true },
      { "arguments.x": null },
      { "arguments.x": "null" },
      { "arguments.x": [1, 2] },
      { "arguments.x": [2, 1] },
      { "arguments.x": { in: [[1, 2]] } },
      { "arguments.x": { in: [1, 2] } },
      { "arguments.x": { contains: 1 } },
      { "arguments.x": { exists: true } },
      { "arguments.x": { exists: false } },
      { "arguments.x": { not: { exists: true } } },
      { "arguments.x": { any: [{ gt: 1 }, { lt: 0 }] } },
      { "arguments.x": { all: [{ gt: 1 }, { lt: 0 }] } },
      { "arguments.x": { gt: 1, lt: 0 } },
      { "arguments.x.y": 1 },
      { arguments: { in: [{ x: 1 }] } },
      { tool: "a", server: "a" },
      {},
    ];
    const keys = wheres.map(keyOf);
    expect(new Set(keys).size).toBe(wheres.length);
  });

  it("keeps a `__proto__` key as a key", () => {
    const w = parseJson('{"arguments.__proto__": 1}');
    expect(keyOf(w)).not.toBe(keyOf({}));
    expect(keyOf(w)).toContain("__proto__");
  });

  // Random wheres over a tiny vocabulary, so that different authored wheres often share a key: then
  // they must hold for exactly the same events; and a reshuffled where keeps its key.
  const scalar = fc.constantFrom<Scalar>(null, true, false, 0, 1, "1", "a", "b");
  const literal: fc.Arbitrary<JsonValue> = fc.oneof(
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(scalar, { maxLength: 2 }) },
    { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("k", "j"), scalar, { maxKeys: 2 }) },
  );
  const condition: fc.Arbitrary<Condition> = fc.letrec<{ cond: Condition }>((tie) => ({
    cond: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      { weight: 3, arbitrary: scalar as fc.Arbitrary<Condition> },
      { weight: 2, arbitrary: fc.record({ in: fc.array(literal, { minLength: 1, maxLength: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ exists: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ contains: scalar }) },
      { weight: 1, arbitrary: fc.record({ not: tie("cond") }) },
      { weight: 1, arbitrary: fc.record({ any: fc.array(tie("cond"), { minLength: 1, maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ all: fc.array(tie("cond"), { minLength: 1, maxLength: 2 }) }) },
    ),
  })).cond;
  const where: fc.Arbitrary<Where> = fc.dictionary(
    fc.constantFrom("arguments.x", "arguments.y", "category", "tool"),
    condition,
    { maxKeys: 2 },
  ) as fc.Arbitrary<Where>;
  const event: fc.Arbitrary<[ToolCallEvent, Set<string>]> = fc
    .tuple(
      fc.constantFrom("a", "b"),
      fc.dictionary(fc.constantFrom("x", "y"), literal, { maxKeys: 2 }),
      fc.subarray(["a", "b", "1"]),
    )
    .map(([tool, args, cats]) => {
      const r = validateEvent({
        event_id: "e",
        timestamp: 1,
        user_id: "u",
        server: "s",
        tool,
        arguments: args,
      });
      if (!r.ok) throw new Error(r.reason);
      return [r.event, new Set(cats)];
    });

  it("equal keys hold for the same events (property)", () => {
    let shared = 0;
    fc.assert(
      fc.property(where, where, fc.array(event, { minLength: 1, maxLength: 8 }), (a, b, events) => {
        const ca = compileWhere(whereSchema.parse(a));
        const cb = compileWhere(whereSchema.parse(b));
        if (ca.key !== cb.key) return;
        shared++;
        for (const [e, cats] of events) expect(cb.test(e, cats)).toBe(ca.test(e, cats));
      }),
      { numRuns: 3000 },
    );
    // the property is only worth something if equal keys come up often enough
    expect(shared).toBeGreaterThan(100);
  });

  it("a where with keys and `in` values reshuffled keeps its key (property)", () => {
    const reshuffle = (c: unknown): unknown => {
      if (Array.isArray(c)) return c.map(reshuffle);
      if (typeof c !== "object" || c === null) return c;
      const o = c as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(o).reverse())
        out[k] =
          k === "in"
            ? [...(o[k] as unknown[])].reverse().concat((o[k] as unknown[]).slice(0, 1))
            : reshuffle(o[k]);
      return out;
    };
    fc.assert(
      fc.property(where, (w) => {
        expect(keyOf(reshuffle(w))).toBe(keyOf(w));
      }),
      { numRuns: 1000 },
    );
  });
});
