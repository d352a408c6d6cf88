import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../src/engine/group-state.js";
import { OUTCOMES, type ToolCallEvent } from "../../src/events/schema.js";
import {
  DecodeError,
  decodeEvent,
  encodeEvent,
  MAX_SPARSE_PATHS,
  parseStored,
  registryEntry,
  schemaFor,
  schemaFromRegistry,
  schemaOf,
} from "../../src/state/redis/codec.js";

const json: fc.Arbitrary<unknown> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const text = fc.string({ minLength: 1, maxLength: 12 });

const storedEvent: fc.Arbitrary<StoredEvent> = fc
  .record(
    {
      seq: fc.nat(),
      event_id: text,
      timestamp: fc.nat({ max: 4_000_000_000_000 }),
      user_id: fc.constantFrom("alice", "bob"),
      server: text,
      tool: text,
      method: fc.constantFrom("tools/call", "resources/read"),
      outcome: fc.constantFrom(...OUTCOMES),
      session_id: text,
      arguments: fc.dictionary(fc.constantFrom("to", "path", "n", "__proto__", "x"), json),
      result: fc.dictionary(fc.constantFrom("text", "ids"), json),
      duration_ms: fc.constantFrom(0, 1, 2.5),
      source: fc.oneof(
        fc.record({ line: fc.nat() }),
        fc.record({ topic: text, partition: fc.nat(99), offset: fc.oneof(fc.nat().map(String), text) }),
      ),
    },
    { requiredKeys: ["seq", "event_id", "timestamp", "user_id", "server", "tool", "method", "outcome"] },
  )
  .map(({ seq, source, ...e }) => {
    const stored: StoredEvent = { seq, event: { ...e, schema_version: 1 } as ToolCallEvent };
    if (source) stored.source = source;
    return stored;
  });

/** What the codec keeps of an event for a field set: base fields plus the listed paths. */
function kept(e: ToolCallEvent, paths: string[]): ToolCallEvent {
  const out: Record<string, unknown> = {
    event_id: e.event_id,
    timestamp: e.timestamp,
    user_id: e.user_id,
    server: e.server,
    tool: e.tool,
    method: e.method,
    outcome: e.outcome,
    schema_version: 1,
  };
  for (const p of paths) {
    const [head, sub] = p.split(".") as [keyof ToolCallEvent, string?];
    const v = e[head] as unknown;
    if (v === undefined) continue;
    if (sub === undefined) out[head] = v;
    else if (v !== null && typeof v === "object" && Object.hasOwn(v, sub)) {
      if (out[head] === undefined) out[head] = {};
      const into = out[head] as Record<string, unknown>;
      Object.defineProperty(into, sub, {
        value: (v as Record<string, unknown>)[sub],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return out as unknown as ToolCallEvent;
}

describe("stored event codec", () => {
  it("round-trips every stored field exactly (nulls, zeros, nested values, sources)", () => {
    const fieldSets = [
      ["arguments", "result", "session_id", "duration_ms"],
      ["arguments.to", "arguments.n", "arguments.__proto__", "result.text", "duration_ms"],
      ["arguments", "arguments.to"],
      [],
    ];
    fc.assert(
      fc.property(
        storedEvent,
        fc.constantFrom(...fieldSets),
        fc.boolean(),
        fc.boolean(),
        (stored, fields, byGroup, positional) => {
          // sparse (what schemaFor makes) and positional (events stored by an earlier version)
          const sparse = schemaFor(fields);
          const schema = positional ? schemaOf(sparse.dotted, false) : sparse;
          expect(schemaFromRegistry(registryEntry(schema))).toEqual(schema);
          const values = { user_id: byGroup ? stored.event.user_id : "someone" };
          const raw = encodeEvent(stored, schema, values);
          const back = decodeEvent(parseStored(raw), schema, values);
          expect(back.seq).toBe(stored.seq);
          expect(back.source).toEqual(stored.source);
          const want = kept(stored.event, schema.dotted);
          expect(back.event).toEqual(want);
          // JSON text too: it shows own "__proto__" keys and undefined-vs-absent that toEqual skips.
          expect(JSON.stringify(back.event)).toBe(JSON.stringify(want));
          expect(encodeEvent(back, schema, values)).toBe(raw); // deterministic: LREM finds it
        },
      ),
      { numRuns: 500 },
    );
  });

  it("keeps a covering path only once and ignores base fields", () => {
    expect(schemaFor(["arguments.to", "arguments", "tool", "event_id", "result.text"]).dotted).toEqual([
      "arguments",
      "result.text",
    ]);
  });

  it("writes a typical event compactly", () => {
    const schema = schemaFor(["arguments.to", "session_id"]);
    const raw = encodeEvent(
      {
        seq: 41,
        event: {
          event_id: "01JD7Y3ZQ4N8M2K5V6W7X8Y9Z0",
          timestamp: 1_764_000_000_000,
          user_id: "u-118",
          server: "mail",
          tool: "send_email",
          method: "tools/call",
          outcome: "success",
          schema_version: 1,
          session_id: "s-1",
          arguments: { to: "x@evil.example", body: "dropped" },
        },
        source: { topic: "audit", partition: 3, offset: "123456" },
      },
      schema,
      { user_id: "u-118" },
    );
    // mask 3: both paths present
    expect(raw).toBe(
      `[41,"${schema.id}",["audit",3,123456],"01JD7Y3ZQ4N8M2K5V6W7X8Y9Z0",1764000000000,0,"mail","send_email",0,0,3,"x@evil.example","s-1"]`,
    );
  });

  it("sparse: lists only present values after their mask; positional schemas are told apart", () => {
    const schema = schemaFor(["arguments.a", "arguments.b", "arguments.c", "session_id"]);
    expect(schema.sparse).toBe(true);
    const stored = {
      seq: 1,
      event: {
        event_id: "e",
        timestamp: 5,
        user_id: "u",
        server: "s",
        tool: "t",
        method: "tools/call",
        outcome: "success",
        schema_version: 1,
        arguments: { b: 0, c: null },
      } as ToolCallEvent,
    };
    const raw = encodeEvent(stored, schema, { user_id: "u" });
    expect(raw).toBe(`[1,"${schema.id}",0,"e",5,0,"s","t",0,0,6,0,null]`);
    expect(decodeEvent(parseStored(raw), schema, { user_id: "u" }).event.arguments).toEqual({
      b: 0,
      c: null,
    });
    const none = encodeEvent({ ...stored, event: { ...stored.event, arguments: {} } }, schema, {
      user_id: "u",
    });
    expect(none).toBe(`[1,"${schema.id}",0,"e",5,0,"s","t",0,0]`);
    // the same paths positional: another id, another registry entry
    const positional = schemaOf(schema.dotted, false);
    expect(positional.id).not.toBe(schema.id);
    expect(registryEntry(positional)).toBe(JSON.stringify(schema.dotted));
    expect(registryEntry(schema)).toBe(JSON.stringify({ s: schema.dotted }));
    // malformed: a mask listing more or fewer values than there are, or a bad mask
    for (const bad of [
      '[1,"x",0,"e",5,0,"s","t",0,0,6,0]',
      '[1,"x",0,"e",5,0,"s","t",0,0,2,0,1]',
      '[1,"x",0,"e",5,0,"s","t",0,0,"6",0,1]',
      '[1,"x",0,"e",5,0,"s","t",0,0,16,0]',
    ]) {
      expect(() => decodeEvent(parseStored(bad), schema, { user_id: "u" })).toThrow(DecodeError);
    }
    expect(() => schemaFromRegistry('{"x":1}')).toThrow(DecodeError);
    // beyond what a mask can hold exactly: positional
    const many = Array.from({ length: MAX_SPARSE_PATHS + 1 }, (_, i) => `arguments.p${i}`);
    expect(schemaFor(many).sparse).toBe(false);
    expect(schemaFor(many.slice(1)).sparse).toBe(true);
  });
});
