import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CallEncoding, decodeCall, encodeCall } from "../../src/emitter/call-codec.js";
import {
  buildEvent,
  buildFromRecord,
  type CallFacts,
  type CallRecord,
  isObject,
  resultText,
  toCallRecord,
} from "../../src/emitter/event.js";
import { policyResolver, type ResolvedPolicy } from "../../src/emitter/options.js";
import { cutUtf8, maskSecrets, selectFields } from "../../src/emitter/redact.js";
import { SharedRing } from "../../src/stream/shared-ring.js";
import { callRecord } from "./call-record.js";

/** The event's `result` as the emitter made it before the split, in one pass over the raw result. */
function referenceResult(result: unknown, policy: ResolvedPolicy, limit: number) {
  if (!isObject(result)) return undefined;
  let out: Record<string, unknown> | undefined;
  if (policy.result.length) {
    let source: Record<string, unknown> | undefined;
    if (isObject(result.structuredContent)) source = result.structuredContent;
    else {
      const text = resultText(result);
      try {
        const parsed: unknown = text?.trimStart().startsWith("{") ? JSON.parse(text) : undefined;
        source = isObject(parsed) ? parsed : undefined;
      } catch {
        source = undefined;
      }
    }
    out = selectFields(source, policy.result);
  }
  if (policy.resultText) {
    const text = resultText(result);
    if (text !== undefined) {
      out ??= {};
      out.text = cutUtf8(maskSecrets(text.slice(0, limit + 1024)), limit);
    }
  }
  return out;
}

// The built-in producer builds events in its thread from a call record the server's thread made
// (extract on one side, ids, hash and masking on the other, JSON in between). Whatever the call,
// that must give the event building it in one go gives (the event id aside, which is random).

const secretish = fc.constantFrom(
  "Bearer abcdefghijklmnopqrstuvwxyz012345",
  "AKIAABCDEFGHIJKLMNOP",
  "password=hunter22hunter22",
  "sk-proj-abcdefghijklmnopqrstuvwx",
  "plain words",
);
const leaf = fc.oneof(fc.string({ maxLength: 40 }), secretish, fc.integer(), fc.boolean(), fc.constant(null));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("value"), { maxLength: 3 }), tie("object")),
  object: fc.dictionary(
    fc.constantFrom("to", "body", "token", "options", "format", "id", "api_key"),
    tie("value"),
    {
      maxKeys: 4,
    },
  ),
})).object as fc.Arbitrary<Record<string, unknown>>;
const paths = fc.uniqueArray(
  fc.constantFrom("to", "body", "token", "options", "options.format", "id", "api_key", "text"),
  { maxLength: 4 },
);
const result = fc.oneof(
  fc.constant(undefined),
  fc.record({
    content: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant("text"), text: fc.oneof(fc.string({ maxLength: 60 }), secretish) }),
        json.map((o) => ({ type: "text", text: JSON.stringify(o) })),
        fc.constant({ type: "image", data: "aGVsbG8=", mimeType: "image/png" }),
      ),
      { maxLength: 3 },
    ),
    structuredContent: fc.option(json, { nil: undefined }),
    isError: fc.option(fc.boolean(), { nil: undefined }),
  }),
);

/** A call record as the producer thread gets it: written into a shared ring, read back. */
function throughRing(record: CallRecord): CallRecord {
  const ring = new SharedRing(1 << 16);
  expect(ring.writeWith(record.userId, encodeCall, new CallEncoding().prepare(record))).toBe(true);
  const [read] = ring.read(1).records;
  // The key is UTF-8 (a lone surrogate in it comes out as U+FFFD, as it always did).
  expect(read!.key).toBe(Buffer.from(record.userId).toString());
  return decodeCall(read!.value);
}

// Lone surrogates too (a client may send them, a cut may make one): UTF-8 cannot carry them.
const surrogateish = fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c));
const text = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: surrogateish, maxLength: 6 }),
);
const facts = fc.record({
  receivedAt: fc.integer({ min: 0, max: 2 ** 48 }),
  durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  tool: text,
  userId: text,
  server: text,
  sessionId: fc.option(text, { nil: undefined }),
  agentId: fc.option(text, { nil: undefined }),
  outcome: fc.constantFrom("success" as const, "error" as const, "denied" as const),
  errorMessage: fc.option(fc.oneof(text, secretish), { nil: undefined }),
  trace: fc.option(fc.record({ trace_id: fc.string(), span_id: fc.string() }), { nil: undefined }),
});

describe("building an event in two halves (server's thread, then producer thread)", () => {
  it("gives the same event as building it in one go, and the result the emitter always made", () => {
    fc.assert(
      fc.property(
        facts,
        fc.option(json, { nil: undefined }),
        result,
        paths,
        paths,
        fc.integer({ min: 1, max: 80 }),
        (known, args, res, argPaths, resPaths, limit) => {
          const policy = policyResolver({ t: { arguments: argPaths, result: resPaths, risk: "high" } })("t");
          const settings = { resultTextLimit: limit, errorSummary: true, labels: { env: "test" } };
          const f: CallFacts = { ...known, rawArguments: args, result: res };
          const whole = buildEvent(f, policy, settings);
          const record = toCallRecord(f, policy, settings);
          // The ring carries what JSON would, and nothing else.
          const carried = throughRing(record);
          expect(carried).toEqual(JSON.parse(JSON.stringify(record)));
          const halves = buildFromRecord(carried, policy, settings);
          expect({ ...halves, event_id: "" }).toEqual({ ...whole, event_id: "" });
          expect(halves.result).toEqual(referenceResult(res, policy, limit));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses, before anything is written, an error message that is not a string", () => {
    const odd = callRecord({ outcome: "error", errorMessage: 42 as unknown as string });
    expect(() => new CallEncoding().prepare(odd)).toThrow(TypeError);
  });

  it("never hands the thread what the policy does not allow, nor more text than the limit needs", () => {
    const policy = policyResolver({ t: { arguments: [], result: ["id"] } })("t");
    const record = toCallRecord(
      {
        ...callRecord({ rawArguments: { body: "secret stuff" } }),
        result: {
          content: [{ type: "text", text: "x".repeat(100_000) }],
          structuredContent: { id: 7, ssn: "123" },
        },
      },
      policy,
      { resultTextLimit: 8192, errorSummary: true, labels: undefined },
    );
    // The arguments go whole (the hash needs them), the result only as allowed: no text, no ssn.
    expect(record.result).toEqual({ structured: { id: 7 } });
  });

  it("takes overlapping fields without writing into the tool's (frozen) result", () => {
    const policy = policyResolver({ t: { result: ["a.b", "a", "c.d.e", "c.d"] } })("t");
    const structured = Object.freeze({
      a: Object.freeze({ b: 1, x: "kept" }),
      c: Object.freeze({ d: Object.freeze({ e: 2, f: 3 }) }),
    });
    const facts: CallFacts = { ...callRecord(), result: { content: [], structuredContent: structured } };
    const settings = { resultTextLimit: 100, errorSummary: true, labels: undefined };
    const record = toCallRecord(facts, policy, settings);
    expect(JSON.parse(JSON.stringify(record.result))).toEqual({
      structured: { a: { b: 1, x: "kept" }, c: { d: { e: 2, f: 3 } } },
    });
    expect(buildFromRecord(throughRing(record), policy, settings).result).toEqual(
      referenceResult(facts.result, policy, 100),
    );
  });
});
