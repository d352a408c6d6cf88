/**
 * The hand-written accepting path (src/events/fast-validate.ts) against zod, the contract's single
 * source: on random event-shaped JSON, every event the fast path accepts is one zod accepts, with an
 * equal result and the same keys in the same order; and on JSON without `__proto__` keys the two agree
 * on what is valid (the fast path declines `__proto__` label keys that zod skips, leaving them to zod).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fastValidate } from "../../src/events/fast-validate.js";
import { parseEvent, validateEvent } from "../../src/events/parse.js";

const str = (max: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 6 }) },
    { weight: 1, arbitrary: fc.constant("") },
    { weight: 1, arbitrary: fc.string({ minLength: max - 1, maxLength: max + 1 }) },
  );
const junk = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.string({ maxLength: 4 }),
  fc.array(fc.string({ maxLength: 2 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);
/** Mostly one of `good`, rarely one of `bad`. */
const pick = (good: unknown[], bad: unknown[]) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...good) },
    { weight: 1, arbitrary: fc.constantFrom(...bad) },
  );
/** A field's value: mostly plausible (every event has ~20 of them), sometimes anything. */
const field = (good: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 40, arbitrary: good }, { weight: 1, arbitrary: junk });

const keys = (proto: boolean) =>
  proto
    ? fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("__proto__", "constructor", "toString"))
    : fc.string({ maxLength: 4 }).filter((k) => k !== "__proto__");

const eventLike = (proto: boolean) =>
  fc.record(
    {
      event_id: field(str(128)),
      timestamp: field(
        fc.oneof(
          { weight: 3, arbitrary: fc.nat() },
          { weight: 1, arbitrary: fc.double({ min: -0.5, max: 2e12, noNaN: true }) },
          {
            weight: 2,
            arbitrary: fc.constantFrom(
              "2026-11-20T09:14:03.120Z",
              "2026-11-20T09:14:03+02:00",
              "2026-11-20",
              "later",
            ),
          },
        ),
      ),
      user_id: field(str(256)),
      server: field(str(256)),
      tool: field(str(256)),
      method: field(pick(["tools/call", "resources/read"], [""])),
      session_id: field(fc.string({ maxLength: 4 })),
      agent_id: field(fc.string({ maxLength: 4 })),
      outcome: field(pick(["success", "error", "denied"], ["ok", ""])),
      duration_ms: field(fc.oneof(fc.nat(), fc.double({ min: -0.01, max: 1e6, noNaN: true }))),
      arguments: field(fc.dictionary(keys(proto), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
      arguments_hash: field(fc.string({ maxLength: 4 })),
      result: field(fc.dictionary(keys(proto), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
      result_summary: field(str(1024)),
      risk_level: field(pick(["low", "medium", "high", "critical"], ["severe"])),
      hitl: field(
        fc.record(
          {
            required: field(fc.boolean()),
            approved: field(fc.oneof(fc.boolean(), fc.constant(null))),
            x: junk,
          },
          { requiredKeys: [] },
        ),
      ),
      categories: field(fc.array(field(fc.constantFrom("export", "public_sink", "")), { maxLength: 3 })),
      trace_id: field(pick(["0af7651916cd43dd8448eb211c80319c"], ["0AF7651916CD43DD8448EB211C80319C", ""])),
      span_id: field(pick(["b7ad6b7169203331"], ["b7ad6b716920333", ""])),
      labels: field(fc.dictionary(keys(proto), field(fc.string({ maxLength: 3 })), { maxKeys: 3 })),
      schema_version: field(pick([1], [2])),
      extra: junk,
    },
    // Required ones go missing through `junk` (null is absent in the envelope) and the other fields.
    { requiredKeys: ["event_id", "timestamp", "user_id", "server", "tool"] },
  );

/** As JSON.parse gives it: the fast path's input. */
const asJson = (o: unknown) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>;

function keyOrder(x: unknown): unknown {
  if (typeof x !== "object" || x === null) return x;
  if (Array.isArray(x)) return x.map(keyOrder);
  return Object.entries(x).map(([k, v]) => [k, keyOrder(v)]);
}

describe("fastValidate agrees with the zod schema", () => {
  it("accepts only what zod accepts, with an equal result in the same key order", () => {
    let accepted = 0;
    fc.assert(
      fc.property(eventLike(true), (o) => {
        const v = asJson(o);
        const fast = fastValidate(v);
        if (!fast) return;
        accepted++;
        const slow = validateEvent(asJson(o));
        expect(slow.ok).toBe(true);
        if (slow.ok) expect(keyOrder(fast)).toEqual(keyOrder(slow.event));
      }),
      { numRuns: 4000 },
    );
    // The generator must reach the accepting path often, or the property says little.
    expect(accepted).toBeGreaterThan(200);
  });

  it("declines nothing zod accepts (JSON without __proto__ keys)", () => {
    let valid = 0;
    fc.assert(
      fc.property(eventLike(false), (o) => {
        const v = asJson(o);
        const ok = validateEvent(asJson(o)).ok;
        if (ok) valid++;
        expect(fastValidate(v) !== undefined).toBe(ok);
      }),
      { numRuns: 4000 },
    );
    expect(valid).toBeGreaterThan(200);
  });

  it("parseEvent gives the same event whichever path took it", () => {
    const text =
      '{"event_id":"e1","timestamp":"2026-11-20T09:14:03.120+01:00","user_id":"u","server":"s","tool":"t",' +
      '"hitl":{"required":true,"approved":null,"by":"x"},"categories":["a"],"labels":{"k":"v"},"zz":1}';
    const r = parseEvent(text);
    expect(r.ok).toBe(true);
    const slow = validateEvent(JSON.parse(text));
    expect(r.ok && slow.ok && keyOrder(r.event)).toEqual(slow.ok && keyOrder(slow.event));
    expect(r.ok && r.event.timestamp).toBe(Date.UTC(2026, 10, 20, 8, 14, 3, 120));
  });
});
