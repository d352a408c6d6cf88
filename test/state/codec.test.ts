import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventSource, StoredEvent } from "../../src/engine/group-state.js";
import { OUTCOMES, type ToolCallEvent } from "../../src/events/schema.js";
import {
  DecodeError,
  decodeEvent,
  encodeEvent,
  MAX_SPARSE_PATHS,
  parseStored,
  registryEntry,
  type Schema,
  type SchemaKind,
  schemaFor,
  schemaFromRegistry,
  schemaIdOf,
  schemaOf,
} from "../../src/state/redis/codec.js";

const US = "\u001f";
const RS = "\u001e";

/** Strings the compact forms must tell apart: UUIDs, hex runs, and their look-alikes; separators. */
const hexDigits = (digits: string) => fc.string({ unit: fc.constantFrom(...digits), maxLength: 70 });
const tricky: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uuid().map((u) => u.slice(1)),
  fc
    .tuple(
      fc.constantFrom("", "sha256:", "a", "x.", ".", RS, `${RS}x`, `${RS}u`, US, "\ud800", "é", "ab."),
      fc.oneof(hexDigits("0123456789abcdef"), hexDigits("0123456789abcdefA"), hexDigits("0123456789")),
      fc.constantFrom("", "", "g", ".", "\udc00"),
    )
    .map((parts) => parts.join("")),
  fc.constantFrom(
    "",
    RS,
    US,
    `${RS}x`,
    `${RS}u`,
    `${RS}"a"`,
    `${RS}1`,
    "\ud800",
    "a\udc00b",
    "😀",
    "0",
    "tools/call",
  ),
);
const json: fc.Arbitrary<unknown> = fc
  .oneof(fc.jsonValue(), tricky)
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const text = fc.string({ minLength: 1, maxLength: 12 });

const storedEvent: fc.Arbitrary<StoredEvent> = fc
  .record(
    {
      seq: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
      event_id: fc.oneof(text, tricky),
      timestamp: fc.oneof(fc.nat({ max: 4_000_000_000_000 }), fc.double({ min: 0, max: 4e12, noNaN: true })),
      user_id: fc.oneof(fc.constantFrom("alice", "bob"), tricky),
      server: tricky,
      tool: tricky,
      method: fc.oneof(fc.constantFrom("tools/call", "resources/read"), tricky),
      outcome: fc.constantFrom(...OUTCOMES),
      session_id: tricky,
      agent_id: tricky,
      arguments_hash: tricky,
      arguments: fc.dictionary(fc.constantFrom("to", "path", "n", "__proto__", "x"), json),
      result: fc.dictionary(fc.constantFrom("text", "ids"), json),
      duration_ms: fc.constantFrom(0, 1, 2.5),
      source: fc.oneof(
        fc.record({ line: fc.nat() }),
        fc.record({
          topic: fc.oneof(tricky, fc.constant("audit")),
          partition: fc.oneof(fc.nat(99), fc.constantFrom(-1, 1.5)),
          offset: fc.oneof(fc.nat().map(String), fc.constantFrom("007", "-0", "-1", "1e3", ""), tricky),
        }),
      ),
    },
    { requiredKeys: ["seq", "event_id", "timestamp", "user_id", "server", "tool", "method", "outcome"] },
  )
  .map(({ seq, source, ...e }) => {
    const stored: StoredEvent = { seq, event: { ...e, schema_version: 1 } as ToolCallEvent };
    if (source) stored.source = source as EventSource;
    return stored;
  });

/** A call with every base field set; `over` replaces or adds fields. */
function call(over: Partial<ToolCallEvent> = {}): ToolCallEvent {
  return {
    event_id: "01JD7Y3ZQ4N8M2K5V6W7X8Y9Z0",
    timestamp: 1_764_000_000_000,
    user_id: "u-118",
    server: "mail",
    tool: "send_email",
    method: "tools/call",
    outcome: "success",
    schema_version: 1,
    ...over,
  };
}
const group = { user_id: "u-118" };

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

/**
 * What earlier versions wrote (JSON arrays), frozen here: the store no longer writes these, but
 * events stored by them must still decode.
 */
function legacyEncode(stored: StoredEvent, schema: Schema, groupValues: Record<string, string>): string {
  const e = stored.event;
  const s = stored.source;
  const offset = (o: string) => (Number.isSafeInteger(Number(o)) && String(Number(o)) === o ? Number(o) : o);
  const out: unknown[] = [
    stored.seq,
    schema.id,
    !s ? 0 : "line" in s ? [s.line] : [s.topic, s.partition, offset(s.offset)],
    e.event_id,
    e.timestamp,
    groupValues.user_id === e.user_id ? 0 : e.user_id,
    e.server,
    e.tool,
    e.method === "tools/call" ? 0 : e.method,
    Math.max(0, OUTCOMES.indexOf(e.outcome)),
  ];
  const values = schema.dotted.map((p) => {
    const [head, sub] = p.split(".") as [keyof ToolCallEvent, string?];
    const v = e[head] as unknown;
    if (sub === undefined) return v;
    return v !== null && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, sub)
      ? (v as Record<string, unknown>)[sub]
      : undefined;
  });
  if (schema.kind === "sparse") {
    const present = values.filter((v) => v !== undefined);
    const mask = values.reduce<number>((m, v, i) => (v === undefined ? m : m + 2 ** i), 0);
    return JSON.stringify(mask > 0 ? [...out, mask, ...present] : out);
  }
  const zeros = values.flatMap((v, i) => (v === 0 ? [i] : []));
  const last = values.reduce<number>((l, v, i) => (v === undefined ? l : i), -1);
  const listed = values.map((v) => (v === undefined ? 0 : v));
  if (zeros.length > 0) return JSON.stringify([...out, ...listed, { z: zeros }]);
  return JSON.stringify([...out, ...listed.slice(0, last + 1)]);
}

const fieldSets = [
  ["arguments", "result", "session_id", "duration_ms"],
  ["arguments.to", "arguments.n", "arguments.__proto__", "result.text", "duration_ms"],
  ["arguments", "arguments.to"],
  [
    "agent_id",
    "arguments.path",
    "arguments.to",
    "arguments.x",
    "arguments_hash",
    "categories",
    "hitl.approved",
    "result.ids",
    "result.text",
    "risk_level",
    "session_id",
  ],
  [],
];

function roundTrip(stored: StoredEvent, schema: Schema, raw: string, values: Record<string, string>): void {
  const a = parseStored(raw);
  expect(schemaIdOf(a)).toBe(schema.id);
  const back = decodeEvent(a, schema, values);
  expect(back.seq).toBe(stored.seq);
  expect(back.source).toEqual(stored.source);
  const want = kept(stored.event, schema.dotted);
  expect(back.event).toEqual(want);
  // JSON text too: it shows own "__proto__" keys and undefined-vs-absent that toEqual skips.
  expect(JSON.stringify(back.event)).toBe(JSON.stringify(want));
}

describe("stored event codec", () => {
  it("round-trips every stored field exactly (nulls, zeros, look-alikes of hashes and uuids, sources)", () => {
    fc.assert(
      fc.property(
        storedEvent,
        fc.constantFrom(...fieldSets),
        fc.constantFrom(undefined, "audit", ""),
        fc.boolean(),
        (stored, fields, topic, byGroup) => {
          const schema = schemaFor(fields, topic);
          expect(schema.kind).toBe("compact");
          expect(schemaFromRegistry(registryEntry(schema))).toEqual(schema);
          const values = { user_id: byGroup ? stored.event.user_id : "someone" };
          const raw = encodeEvent(stored, schema, values);
          roundTrip(stored, schema, raw, values);
          const back = decodeEvent(parseStored(raw), schema, values);
          expect(encodeEvent(back, schema, values)).toBe(raw); // deterministic: LREM finds it
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("decodes the JSON arrays earlier versions wrote (positional and sparse schemas)", () => {
    fc.assert(
      fc.property(
        storedEvent,
        fc.constantFrom(...fieldSets),
        fc.constantFrom<SchemaKind>("positional", "sparse"),
        fc.boolean(),
        (stored, fields, kind, byGroup) => {
          // Their paths were in plain sorted order.
          const schema = schemaOf([...schemaFor(fields).dotted].sort(), kind);
          expect(schemaFromRegistry(registryEntry(schema))).toEqual(schema);
          const values = { user_id: byGroup ? stored.event.user_id : "someone" };
          // JSON has no place for these; the earlier encoding wrote them as they are.
          if (typeof stored.event.timestamp !== "number" || !Number.isInteger(stored.event.timestamp)) return;
          roundTrip(stored, schema, legacyEncode(stored, schema, values), values);
          expect(() => encodeEvent(stored, schema, values)).toThrow(/read, not written/);
        },
      ),
      { numRuns: 300 },
    );
    // Written by the previous version (its ids are the hash of the same registry entries).
    const sparse = schemaFromRegistry('{"s":["arguments.to","hitl.approved","session_id"]}');
    const positional = schemaFromRegistry('["arguments.n","arguments.to","session_id"]');
    expect([sparse.id, positional.id]).toEqual(["EDJpgE", "m6eyA1"]);
    const base = call();
    const decode = (raw: string, schema: Schema) => decodeEvent(parseStored(raw), schema, group);
    expect(
      decode(
        '[41,"EDJpgE",["audit",3,123456],"01JD7Y3ZQ4N8M2K5V6W7X8Y9Z0",1764000000000,0,"mail","send_email",0,0,7,"x@evil.example",null,"s-1"]',
        sparse,
      ),
    ).toEqual({
      seq: 41,
      source: { topic: "audit", partition: 3, offset: "123456" },
      event: { ...base, arguments: { to: "x@evil.example" }, hitl: { approved: null }, session_id: "s-1" },
    });
    expect(
      decode(
        '[7,"m6eyA1",[12],"01JD7Y3ZQ4N8M2K5V6W7X8Y9Z0",1764000000000,"u-2","mail","send_email","resources/read",2,0,0,0,{"z":[0]}]',
        positional,
      ),
    ).toEqual({
      seq: 7,
      source: { line: 12 },
      event: { ...base, user_id: "u-2", method: "resources/read", outcome: "denied", arguments: { n: 0 } },
    });
    expect(
      decode(
        '[8,"m6eyA1",0,"01JD7Y3ZQ4N8M2K5V6W7X8Y9Z0",1764000000000,0,"mail","send_email",0,0,0,0,"s-9"]',
        positional,
      ),
    ).toEqual({ seq: 8, event: { ...base, session_id: "s-9" } });
  });

  it("keeps a covering path only once, ignores base fields, puts top-level paths first", () => {
    expect(
      schemaFor([
        "arguments.to",
        "arguments",
        "tool",
        "event_id",
        "result.text",
        "session_id",
        "hitl.approved",
      ]).dotted,
    ).toEqual(["arguments", "session_id", "hitl.approved", "result.text"]);
  });

  it("writes typical events compactly", () => {
    const schema = schemaFor(["agent_id", "arguments.to", "arguments_hash", "session_id", "result.text"]);
    expect(schema.dotted).toEqual([
      "agent_id",
      "arguments_hash",
      "session_id",
      "arguments.to",
      "result.text",
    ]);
    // As the emitter writes it: a UUIDv7 id, a SHA-256 hex hash, read from Kafka.
    const emitted: StoredEvent = {
      seq: 41,
      event: call({
        event_id: "019ad6f2-3c4e-7b21-9f3a-5c6d7e8f9a0b",
        session_id: "s-1",
        agent_id: "claude-desktop",
        arguments_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        arguments: { to: "x@evil.example", body: "dropped" },
      }),
      source: { topic: "mcp.tool-calls", partition: 3, offset: "123456" },
    };
    const raw = encodeEvent(emitted, schema, group);
    // mask "f": the first four paths present (agent_id, arguments_hash, session_id, arguments.to)
    expect(raw.split(US)).toEqual([
      schema.id,
      "15",
      "Pgsb-W0",
      `${RS}uAZrW8jxOeyGfOlxtfo-aCw`,
      "mail",
      "send_email",
      "3.2n9c.mcp.tool-calls",
      "f",
      "claude-desktop",
      `${RS}xn4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg`,
      "s-1",
      "x@evil.example",
    ]);
    expect(Buffer.byteLength(raw)).toBe(162); // 230 as a JSON array (an earlier encoding)
    // The store's input topic is interned in its schema: left out.
    const interned = schemaFor(schema.dotted, "mcp.tool-calls");
    expect(registryEntry(interned)).toBe(JSON.stringify({ c: schema.dotted, t: "mcp.tool-calls" }));
    const short = encodeEvent(emitted, interned, group);
    expect(short.split(US).slice(6, 8)).toEqual(["3.2n9c", "f"]);
    expect(Buffer.byteLength(short)).toBe(147);
    expect(decodeEvent(parseStored(short), interned, group)).toEqual(
      decodeEvent(parseStored(raw), schema, group),
    );
    // An algorithm-prefixed hash, an error outcome, another user than the group's.
    const other = encodeEvent(
      {
        seq: 2,
        event: {
          ...emitted.event,
          user_id: "u-9",
          outcome: "error",
          arguments_hash: "sha256:7ffa1fdceca1ad09d6fd6b0db15dcfa9e86aec7a",
        },
      },
      schema,
      group,
    );
    expect(other.split(US).slice(1, 2)).toEqual(["2UE"]);
    expect(other.split(US).slice(4, 8)).toEqual(["mail", "send_email", "u-9", ""]);
    expect(other.split(US)[10]).toBe(`${RS}xsha256:.f_of3OyhrQnW_WsNsV3Pqehq7Ho`);
  });

  it("writes timestamps in base 64, any other number as JSON, and reads them back exactly", () => {
    const schema = schemaFor([]);
    for (const timestamp of [0, 1, 63, 64, 4095, 1764000000000, Number.MAX_SAFE_INTEGER, 1.5, 1e21]) {
      const raw = encodeEvent({ seq: 0, event: call({ timestamp }) }, schema, group);
      expect(decodeEvent(parseStored(raw), schema, group).event.timestamp).toBe(timestamp);
    }
    const field = (timestamp: number) =>
      encodeEvent({ seq: 0, event: call({ timestamp }) }, schema, group).split(US)[2];
    expect([field(0), field(63), field(64), field(1764000000000)]).toEqual(["0", "_", "10", "Pgsb-W0"]);
    expect(field(1.5)).toBe(`${RS}1.5`);
  });

  it("uses the short forms only for what they give back exactly", () => {
    const schema = schemaFor(["arguments.v"]);
    const form = (v: unknown) => {
      const raw = encodeEvent({ seq: 0, event: call({ arguments: { v } }) }, schema, group);
      expect(decodeEvent(parseStored(raw), schema, group).event.arguments).toEqual({ v });
      return raw.split(US).slice(8).join(US);
    };
    const hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    expect(form(hex64)).toBe(`${RS}xn4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg`);
    expect(form(hex64.toUpperCase())).toBe(hex64.toUpperCase()); // not lowercase hex: as it is
    expect(form(`a${hex64}`)).toBe(`${RS}xa.n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg`); // odd run
    expect(form(`${hex64}g`)).toBe(`${hex64}g`); // no hex run at the end
    expect(form("0123456789abcde")).toBe("0123456789abcde"); // too short to gain
    expect(form("0123456789abcdef")).toBe(`${RS}xASNFZ4mrze8`);
    expect(form("123e4567-e89b-12d3-a456-426614174000")).toBe(`${RS}uEj5FZ-ibEtOkVkJmFBdAAA`);
    expect(form("123E4567-E89B-12D3-A456-426614174000")).toBe("123E4567-E89B-12D3-A456-426614174000");
    expect(form("123e4567e89b12d3a456426614174000")).toBe(`${RS}xEj5FZ-ibEtOkVkJmFBdAAA`); // no dashes
    expect(form("x.y")).toBe("x.y");
    expect(form(`${RS}u`)).toBe(`${RS}"\\u001eu"`);
    expect(form(`a${US}b`)).toBe(`${RS}"a\\u001fb"`);
    expect(form("a\ud800")).toBe(`${RS}"a\\ud800"`);
    expect(form(`${US}${hex64}`)).toBe(`${RS}"${US.replace(US, "\\u001f")}${hex64}"`);
    expect(form("")).toBe("");
    expect(form(12)).toBe(`${RS}12`);
    expect(form("12")).toBe("12");
    expect(form(null)).toBe(`${RS}null`);
    expect(form({ a: [1] })).toBe(`${RS}{"a":[1]}`);
  });

  it("rejects malformed stored events with DecodeError", () => {
    const schema = schemaFor(["arguments.a", "arguments.b", "session_id"]);
    const ok = [schema.id, "1", "5", "e", "s", "t", "", "3", "x", "y"];
    expect(decodeEvent(parseStored(ok.join(US)), schema, { user_id: "u" }).event).toMatchObject({
      session_id: "x",
      arguments: { a: "y" },
    });
    const bad = (change: (a: string[]) => string[]) => change([...ok]).join(US);
    for (const raw of [
      bad((a) => a.slice(0, 9)), // a value the mask lists is missing
      bad((a) => [...a, "z"]), // a value the mask does not list
      bad((a) => a.with(7, "30")), // trailing zero digit
      bad((a) => a.with(7, "")),
      bad((a) => a.with(7, "w")), // not a base-32 digit
      bad((a) => a.with(7, "8")), // a path the schema does not have
      bad((a) => a.with(1, "-1")),
      bad((a) => a.with(1, "")),
      bad((a) => a.with(2, `${RS}"5"`)),
      bad((a) => a.with(2, "")),
      bad((a) => a.with(2, "5+")), // not a base-64 digit
      bad((a) => a.with(2, "_".repeat(10))), // past the exact integers
      bad((a) => a.with(3, `${RS}1`)),
      bad((a) => a.with(3, `${RS}uAAA`)),
      bad((a) => a.with(3, `${RS}x.AAA`)),
      bad((a) => a.with(3, `${RS}x!!!!!!!!!!!!!!!!!!!!!!`)),
      bad((a) => a.with(1, "1X")), // no such call flag
      bad((a) => a.with(1, "1MU")), // out of order
      bad((a) => a.with(1, "1U").slice(0, 6)), // the user_id it announces is missing
      bad((a) => a.with(6, `${RS}{"x":1}`)),
      bad((a) => a.with(6, `${RS}{`)),
      bad((a) => a.with(6, "1")), // Kafka source without its offset
      bad((a) => a.with(6, "1.")),
      bad((a) => a.with(6, "1.2")), // interned topic, but the schema has none
    ]) {
      expect(() => decodeEvent(parseStored(raw), schema, { user_id: "u" }), raw).toThrow(DecodeError);
    }
    expect(() => parseStored([schema.id, "1", "5"].join(US))).toThrow(DecodeError);
    const withTopic = schemaFor(schema.dotted, "audit");
    const interned = ok.with(0, withTopic.id).with(6, "1.2").join(US);
    expect(decodeEvent(parseStored(interned), withTopic, { user_id: "u" }).source).toEqual({
      topic: "audit",
      partition: 1,
      offset: "2",
    });
    // a compact event under a JSON schema, and the other way round
    const sparse = schemaOf(schema.dotted, "sparse");
    expect(() => decodeEvent(parseStored(ok.join(US)), sparse, { user_id: "u" })).toThrow(DecodeError);
    expect(() =>
      decodeEvent(parseStored(`[1,"${schema.id}",0,"e",5,0,"s","t",0,0]`), schema, { user_id: "u" }),
    ).toThrow(DecodeError);
  });

  it("tells the registry entries of the three kinds apart", () => {
    const paths = ["arguments.a", "session_id"];
    const kinds = (["compact", "sparse", "positional"] as const).map((k) => schemaOf(paths, k));
    expect(kinds.map(registryEntry)).toEqual([
      JSON.stringify({ c: paths }),
      JSON.stringify({ s: paths }),
      JSON.stringify(paths),
    ]);
    expect(new Set(kinds.map((s) => s.id)).size).toBe(3);
    for (const s of kinds) expect(schemaFromRegistry(registryEntry(s))).toEqual(s);
    expect(() => schemaFromRegistry('{"x":1}')).toThrow(DecodeError);
    const many = Array.from({ length: MAX_SPARSE_PATHS + 1 }, (_, i) => `arguments.p${i}`);
    expect(() => schemaFromRegistry(JSON.stringify({ s: many }))).toThrow(DecodeError);
    // compact has no bound on the paths: its mask is as long as it needs
    const wide = schemaFor(many);
    expect(schemaFromRegistry(registryEntry(wide))).toEqual(wide);
  });
});
