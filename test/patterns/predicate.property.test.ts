import fc from "fast-check";
import { describe, it } from "vitest";
import type { ToolCallEvent } from "../../src/events/index.js";
import { compileWhere } from "../../src/patterns/predicate.js";
import { type Condition, type JsonValue, whereSchema } from "../../src/patterns/schema.js";

/**
 * The compiled closures against a direct, slow reading of patterns.md "Details that matter", on random
 * conditions and values (missing, null, scalars of every JSON type, arrays, objects).
 */

const deepEq = (a: unknown, b: unknown): boolean =>
  JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}
const anyElem = (v: unknown, f: (x: unknown) => boolean) =>
  v !== undefined && (f(v) || (Array.isArray(v) && v.some(f)));
const globRe = (g: string) =>
  new RegExp(
    `^${[...g].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[./]/, "\\$&"))).join("")}$`,
    "s",
  );

function reference(c: Condition, v: unknown): boolean {
  if (typeof c !== "object" || c === null || Array.isArray(c)) return anyElem(v, (x) => deepEq(x, c));
  const parts: boolean[] = [];
  if (c.in) parts.push(anyElem(v, (x) => c.in!.some((l) => deepEq(x, l))));
  if (c.glob !== undefined) parts.push(anyElem(v, (x) => typeof x === "string" && globRe(c.glob!).test(x)));
  if (c.regex !== undefined)
    parts.push(anyElem(v, (x) => typeof x === "string" && new RegExp(c.regex!).test(x)));
  if (typeof c.gt === "number") parts.push(anyElem(v, (x) => typeof x === "number" && x > (c.gt as number)));
  if (typeof c.lte === "number")
    parts.push(anyElem(v, (x) => typeof x === "number" && x <= (c.lte as number)));
  if (c.exists !== undefined) parts.push((v !== undefined) === c.exists);
  if (c.contains !== undefined)
    parts.push(
      typeof v === "string"
        ? typeof c.contains === "string" && v.includes(c.contains)
        : Array.isArray(v) && v.some((x) => deepEq(x, c.contains)),
    );
  if (c.not !== undefined) parts.push(!reference(c.not, v));
  if (c.any) parts.push(c.any.some((x) => reference(x, v)));
  if (c.all) parts.push(c.all.every((x) => reference(x, v)));
  return parts.every(Boolean);
}

const scalar = fc.constantFrom<JsonValue>(null, true, false, 0, 1, 1.5, -2, "", "a", "ab", "a/b", "b.a", "1");
const value: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("k", "j"), scalar, { maxKeys: 2 }) },
);
const globText = fc
  .array(fc.constantFrom("a", "b", "/", ".", "*", "?"), { maxLength: 4 })
  .map((a) => a.join("") || "*");

/** One operator; kept small so that results are not mostly false (which would hide differences). */
const condition: fc.Arbitrary<Condition> = fc.letrec<{ cond: Condition; ops: Condition; op: Condition }>(
  (tie) => ({
    cond: fc.oneof(
      { weight: 2, arbitrary: scalar as fc.Arbitrary<Condition> },
      { weight: 3, arbitrary: tie("ops") },
    ),
    ops: fc.oneof(
      { weight: 4, arbitrary: tie("op") },
      // several keys in one object: the AND of them
      {
        weight: 1,
        arbitrary: fc.tuple(tie("op"), tie("op")).map(([a, b]) => ({ ...(a as object), ...(b as object) })),
      },
    ),
    op: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.array(value, { minLength: 1, maxLength: 3 }).map((v) => ({ in: v })),
      globText.map((glob) => ({ glob })),
      fc.constantFrom("a", "^a", "b$", "a/b", "\\d").map((regex) => ({ regex })),
      fc.constantFrom(0, 1).map((gt) => ({ gt })),
      fc.constantFrom(0, 1.5).map((lte) => ({ lte })),
      fc.boolean().map((exists) => ({ exists })),
      scalar.map((contains) => ({ contains })),
      tie("cond").map((not) => ({ not })),
      fc.array(tie("cond"), { minLength: 1, maxLength: 2 }).map((any) => ({ any })),
      fc.array(tie("cond"), { minLength: 1, maxLength: 2 }).map((all) => ({ all })),
    ) as fc.Arbitrary<Condition>,
  }),
).cond;

describe("compiled where = reference reading of the spec", () => {
  it("on arguments.x (missing, null, any JSON value)", () => {
    fc.assert(
      fc.property(condition, fc.option(value, { nil: undefined }), (cond, x) => {
        const where = whereSchema.parse({ "arguments.x": cond });
        const event = {
          event_id: "e",
          timestamp: 0,
          user_id: "u",
          server: "s",
          tool: "t",
          method: "tools/call",
          outcome: "success",
          schema_version: 1,
          arguments: x === undefined ? {} : { x },
        } as ToolCallEvent;
        return compileWhere(where).test(event, new Set()) === reference(cond, x);
      }),
      { numRuns: 5000 },
    );
  });
});
