import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_EVENT_BYTES,
  jsonErrorIndex,
  MAX_DEPTH,
  type ParseResult,
  parseEvent,
} from "../../src/events/parse.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import { minimalEvent } from "../helpers/events.js";

const base = minimalEvent;

function ok(result: ParseResult): ToolCallEvent {
  if (!result.ok) throw new Error(`expected a valid event, got: ${result.reason}`);
  return result.event;
}

function reason(result: ParseResult): string {
  if (result.ok) throw new Error(`expected an invalid event, got ${JSON.stringify(result.event)}`);
  return result.reason;
}

const parseObject = (o: Record<string, unknown>) => parseEvent(JSON.stringify(o));

/** The JSON text of `base` plus one extra field whose string value pads it to exactly `bytes` bytes. */
function eventOfSize(bytes: number): string {
  const empty = JSON.stringify({ ...base, pad: "" });
  const text = JSON.stringify({ ...base, pad: "x".repeat(bytes - Buffer.byteLength(empty)) });
  expect(Buffer.byteLength(text)).toBe(bytes);
  return text;
}

/** `levels` objects nested inside each other, innermost `{}`. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe("parseEvent: valid events", () => {
  it("parses the spec's example and applies the defaults", () => {
    const e = ok(
      parseEvent(
        '{"event_id":"01JDX3K8Q1","timestamp":"2026-11-20T09:14:03.120Z","user_id":"u-481",' +
          '"session_id":"s-77","agent_id":"claude-desktop","server":"ehr","tool":"export_data",' +
          '"arguments":{"dataset":"patients","format":"csv"},"result":{"file_id":"f-9"},' +
          '"risk_level":"high","outcome":"success","duration_ms":230}',
      ),
    );
    expect(e).toEqual({
      event_id: "01JDX3K8Q1",
      timestamp: Date.UTC(2026, 10, 20, 9, 14, 3, 120),
      user_id: "u-481",
      session_id: "s-77",
      agent_id: "claude-desktop",
      server: "ehr",
      tool: "export_data",
      method: "tools/call",
      arguments: { dataset: "patients", format: "csv" },
      result: { file_id: "f-9" },
      risk_level: "high",
      outcome: "success",
      duration_ms: 230,
      schema_version: 1,
    });
  });

  it("applies defaults: method tools/call, outcome success, schema_version 1", () => {
    const e = ok(parseObject(base));
    expect(e.method).toBe("tools/call");
    expect(e.outcome).toBe("success");
    expect(e.schema_version).toBe(1);
    const given = ok(
      parseObject({ ...base, method: "resources/read", outcome: "denied", schema_version: 1 }),
    );
    expect([given.method, given.outcome]).toEqual(["resources/read", "denied"]);
  });

  it("reads the lower-case t and z that RFC 3339 allows", () => {
    expect(ok(parseObject({ ...base, timestamp: "2026-11-20t09:14:03.120z" })).timestamp).toBe(
      Date.UTC(2026, 10, 20, 9, 14, 3, 120),
    );
    expect(ok(parseObject({ ...base, timestamp: "2026-11-20t10:14:03+01:00" })).timestamp).toBe(
      Date.UTC(2026, 10, 20, 9, 14, 3),
    );
  });

  it("reads RFC 3339 timestamps with Z and with offsets, to epoch ms", () => {
    const at = (timestamp: string) => ok(parseObject({ ...base, timestamp })).timestamp;
    expect(at("2026-11-20T09:14:03Z")).toBe(Date.UTC(2026, 10, 20, 9, 14, 3));
    expect(at("2026-11-20T09:14:03.120Z")).toBe(Date.UTC(2026, 10, 20, 9, 14, 3, 120));
    expect(at("2026-11-20T11:14:03.120+02:00")).toBe(Date.UTC(2026, 10, 20, 9, 14, 3, 120));
    expect(at("2026-11-20T03:44:03-05:30")).toBe(Date.UTC(2026, 10, 20, 9, 14, 3));
    expect(at("2026-11-20T09:14:03+00:00")).toBe(Date.UTC(2026, 10, 20, 9, 14, 3));
    // Sub-millisecond digits are allowed and cut to the millisecond.
    expect(at("2026-11-20T09:14:03.123456789Z")).toBe(Date.UTC(2026, 10, 20, 9, 14, 3, 123));
  });

  it("reads epoch-ms timestamps as they are", () => {
    expect(ok(parseObject({ ...base, timestamp: 1_795_166_043_120 })).timestamp).toBe(1_795_166_043_120);
    expect(ok(parseObject({ ...base, timestamp: 0 })).timestamp).toBe(0);
  });

  it("treats an envelope null as absent, but keeps nulls inside arguments, result and hitl", () => {
    const e = ok(
      parseObject({
        ...base,
        session_id: null,
        method: null,
        outcome: null,
        risk_level: null,
        arguments: { to: null },
        result: { file_id: null },
        hitl: { required: true, approved: null },
      }),
    );
    expect("session_id" in e).toBe(false);
    expect("risk_level" in e).toBe(false);
    expect(e.method).toBe("tools/call");
    expect(e.outcome).toBe("success");
    expect(e.arguments).toEqual({ to: null });
    expect(e.result).toEqual({ file_id: null });
    expect(e.hitl).toEqual({ required: true, approved: null });
  });

  it("ignores unknown top-level fields (a newer emitter must not break us)", () => {
    const e = ok(parseObject({ ...base, schema_version: 1, brand_new_field: { x: 1 }, other: [1, 2] }));
    expect(e).not.toHaveProperty("brand_new_field");
    expect(e).not.toHaveProperty("other");
    expect(e.event_id).toBe(base.event_id);
  });

  it("accepts every optional field in its documented shape", () => {
    const e = ok(
      parseObject({
        ...base,
        arguments_hash: "sha256:abc",
        result_summary: "exported 3 rows",
        categories: ["enumerate", "private_data"],
        trace_id: "0af7651916cd43dd8448eb211c80319c",
        span_id: "b7ad6b7169203331",
        labels: { tenant: "acme", env: "prod" },
        duration_ms: 0,
      }),
    );
    expect(e.labels).toEqual({ tenant: "acme", env: "prod" });
    expect(e.categories).toEqual(["enumerate", "private_data"]);
  });

  it("accepts bytes as well as a string, and a leading UTF-8 byte order mark", () => {
    const text = JSON.stringify({ ...base, arguments: { note: "héllo ✓ 😀" } });
    const fromString = ok(parseEvent(text));
    expect(ok(parseEvent(new TextEncoder().encode(text)))).toEqual(fromString);
    expect(ok(parseEvent(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])))).toEqual(
      fromString,
    );
    expect(ok(parseEvent(`\uFEFF${text}`))).toEqual(fromString);
    // A view into a larger buffer reads only its own bytes.
    const big = Buffer.from(`xxxx${text}yyyy`);
    expect(ok(parseEvent(new Uint8Array(big.buffer, big.byteOffset + 4, big.length - 8)))).toEqual(
      fromString,
    );
  });
});

describe("parseEvent: borderline", () => {
  it("takes an event of exactly the limit (64 KiB) and refuses one byte more", () => {
    expect(DEFAULT_MAX_EVENT_BYTES).toBe(64 * 1024);
    ok(parseEvent(eventOfSize(64 * 1024)));
    ok(parseEvent(Buffer.from(eventOfSize(64 * 1024))));
    expect(reason(parseEvent(eventOfSize(64 * 1024 + 1)))).toBe("event too large: 65 KiB > 64 KiB");
    expect(reason(parseEvent(eventOfSize(70 * 1024)))).toBe("event too large: 70 KiB > 64 KiB");
  });

  it("counts bytes, not characters, against the limit", () => {
    // 3 bytes per character: 22 000 characters are 66 000 bytes.
    const text = JSON.stringify({ ...base, arguments: { s: "€".repeat(22_000) } });
    expect(text.length).toBeLessThan(64 * 1024);
    expect(reason(parseEvent(text))).toMatch(/^event too large: 65 KiB > 64 KiB$/);
  });

  it("honours a configured limit", () => {
    const text = eventOfSize(2048);
    ok(parseEvent(text, { maxBytes: 2048 }));
    expect(reason(parseEvent(text, { maxBytes: 2047 }))).toBe("event too large: 2 KiB > 2 KiB");
    expect(reason(parseEvent(eventOfSize(3000), { maxBytes: 1024 }))).toBe("event too large: 3 KiB > 1 KiB");
  });

  it("takes a 128-char event_id and refuses 129", () => {
    expect(ok(parseObject({ ...base, event_id: "e".repeat(128) })).event_id).toHaveLength(128);
    expect(reason(parseObject({ ...base, event_id: "e".repeat(129) }))).toBe(
      "event_id: longer than 128 chars",
    );
  });

  it("takes 256-char user_id, server and tool and refuses 257", () => {
    for (const field of ["user_id", "server", "tool"]) {
      ok(parseObject({ ...base, [field]: "x".repeat(256) }));
      expect(reason(parseObject({ ...base, [field]: "x".repeat(257) }))).toBe(
        `${field}: longer than 256 chars`,
      );
    }
  });

  it("refuses empty required strings, naming the field", () => {
    for (const field of ["event_id", "user_id", "server", "tool"]) {
      expect(reason(parseObject({ ...base, [field]: "" }))).toBe(`${field}: must not be empty`);
    }
    expect(reason(parseObject({ ...base, timestamp: "" }))).toBe("timestamp: expected RFC 3339 or epoch ms");
  });

  it("result_summary: 1024 chars are fine, 1025 are not", () => {
    ok(parseObject({ ...base, result_summary: "s".repeat(1024) }));
    expect(reason(parseObject({ ...base, result_summary: "s".repeat(1025) }))).toBe(
      "result_summary: longer than 1024 chars",
    );
  });

  it(`takes nesting of exactly ${MAX_DEPTH} levels and refuses ${MAX_DEPTH + 1}`, () => {
    // The event object is level 1, `arguments` level 2.
    ok(parseObject({ ...base, arguments: nested(MAX_DEPTH - 1) }));
    expect(reason(parseObject({ ...base, arguments: nested(MAX_DEPTH) }))).toBe(
      `nesting deeper than ${MAX_DEPTH} levels`,
    );
  });
});

describe("parseEvent: wrong and missing fields", () => {
  it("names each missing required field", () => {
    expect(reason(parseEvent("{}"))).toBe(
      "event_id: required; timestamp: required; user_id: required; server: required; tool: required",
    );
    const { tool: _tool, ...noTool } = base;
    expect(reason(parseObject(noTool))).toBe("tool: required");
    expect(reason(parseObject({ ...base, event_id: null }))).toBe("event_id: required");
    expect(reason(parseObject({ ...base, timestamp: null }))).toBe("timestamp: required");
  });

  it("names the field of a wrong type, nested paths with dots", () => {
    expect(reason(parseObject({ ...base, user_id: 481 }))).toBe(
      "user_id: Invalid input: expected string, received number",
    );
    expect(reason(parseObject({ ...base, duration_ms: "230" }))).toMatch(/^duration_ms: /);
    expect(reason(parseObject({ ...base, duration_ms: -1 }))).toMatch(/^duration_ms: /);
    expect(reason(parseObject({ ...base, arguments: ["a"] }))).toMatch(/^arguments: .*record.*array/);
    expect(reason(parseObject({ ...base, result: "f-9" }))).toMatch(/^result: /);
    expect(reason(parseObject({ ...base, hitl: { required: true, approved: "yes" } }))).toBe(
      "hitl.approved: Invalid input: expected boolean, received string",
    );
    expect(reason(parseObject({ ...base, hitl: { approved: true } }))).toMatch(/^hitl\.required: /);
    expect(reason(parseObject({ ...base, labels: { tenant: 7 } }))).toBe(
      "labels.tenant: Invalid input: expected string, received number",
    );
    expect(reason(parseObject({ ...base, categories: ["ok", 3] }))).toMatch(/^categories\.1: /);
    expect(reason(parseObject({ ...base, outcome: "failed" }))).toMatch(
      /^outcome: .*"success"\|"error"\|"denied"/,
    );
    expect(reason(parseObject({ ...base, risk_level: "red" }))).toMatch(/^risk_level: /);
    expect(reason(parseObject({ ...base, trace_id: "0AF7651916CD43DD8448EB211C80319C" }))).toBe(
      "trace_id: expected 32 lowercase hex",
    );
    expect(reason(parseObject({ ...base, span_id: "b7ad6b716920333" }))).toBe(
      "span_id: expected 16 lowercase hex",
    );
    expect(reason(parseObject({ ...base, schema_version: 2 }))).toMatch(/^schema_version: /);
  });

  it("reports every problem of an event, not only the first", () => {
    expect(reason(parseObject({ ...base, user_id: "", outcome: "maybe" }))).toMatch(
      /^user_id: must not be empty; outcome: /,
    );
  });

  it("refuses timestamps that are not RFC 3339 with offset or epoch ms", () => {
    const bad = [
      "2026-11-20T09:14:03", // no offset: local time is ambiguous
      "2026-11-20 09:14:03Z",
      "2026-11-20T09:14:03+0200",
      "2026-02-30T00:00:00Z",
      "2026-11-20T24:00:00Z",
      "20 Nov 2026 09:14:03 GMT",
      "1795166043120", // epoch ms must be a number
      "yesterday",
      -1,
      true,
      [],
      {},
    ];
    for (const timestamp of bad) {
      expect(reason(parseObject({ ...base, timestamp })), String(timestamp)).toBe(
        "timestamp: expected RFC 3339 or epoch ms",
      );
    }
  });
});

describe("parseEvent: timestamps RFC 3339 cannot write", () => {
  // Alerts carry event times as RFC 3339 (four-digit years): a later one once passed validation and then
  // made building the alert throw, ending replay (and every redelivery in the service).
  it("refuses an epoch past 9999-12-31T23:59:59.999Z, naming the likely unit mix-up", () => {
    for (const timestamp of [1e16, 253_402_300_800_000, Number.MAX_VALUE, "9999-12-31T23:00:00-05:00"]) {
      expect(reason(parseObject({ ...base, timestamp })), String(timestamp)).toBe(
        "timestamp: after 9999-12-31T23:59:59.999Z (epoch ms, not µs or ns?)",
      );
    }
  });

  it("accepts the last instant RFC 3339 can write", () => {
    expect(ok(parseObject({ ...base, timestamp: 253_402_300_799_999 })).timestamp).toBe(253_402_300_799_999);
    expect(ok(parseObject({ ...base, timestamp: "9999-12-31T23:59:59.999Z" })).timestamp).toBe(
      253_402_300_799_999,
    );
  });
});

describe("parseEvent: hostile input", () => {
  it("refuses non-objects at the top level", () => {
    expect(reason(parseEvent("[]"))).toBe("expected a JSON object, got an array");
    expect(reason(parseEvent(`[${JSON.stringify(base)}]`))).toBe("expected a JSON object, got an array");
    expect(reason(parseEvent("null"))).toBe("expected a JSON object, got null");
    expect(reason(parseEvent("42"))).toBe("expected a JSON object, got a number");
    expect(reason(parseEvent('"event"'))).toBe("expected a JSON object, got a string");
    expect(reason(parseEvent("true"))).toBe("expected a JSON object, got a boolean");
  });

  it("says where the JSON breaks, in bytes", () => {
    expect(reason(parseEvent('{"event_id":"e1",}'))).toBe("not JSON at byte 17");
    expect(reason(parseEvent('{"a":}'))).toBe("not JSON at byte 5");
    expect(reason(parseEvent('{"a":1} x'))).toBe("not JSON at byte 8");
    expect(reason(parseEvent("{'a':1}"))).toBe("not JSON at byte 1");
    expect(reason(parseEvent('{"a":01}'))).toBe("not JSON at byte 6");
    expect(reason(parseEvent('{"a":"tab\there"}'))).toBe("not JSON at byte 9");
    expect(reason(parseEvent('{"a":"\\x"}'))).toBe("not JSON at byte 7");
    // Multi-byte characters before the error count as their UTF-8 bytes.
    expect(reason(parseEvent('{"é":"ü",}'))).toBe("not JSON at byte 11");
    expect(reason(parseEvent(Buffer.from('{"é":"ü",}')))).toBe("not JSON at byte 11");
    // After a byte order mark, offsets still count from the first byte sent.
    expect(reason(parseEvent(Buffer.from('\uFEFF{"a":}')))).toBe("not JSON at byte 8");
  });

  it("says when the JSON ends too early", () => {
    expect(reason(parseEvent(""))).toBe("not JSON at byte 0: unexpected end");
    expect(reason(parseEvent("   "))).toBe("not JSON at byte 3: unexpected end");
    expect(reason(parseEvent('{"event_id":"e1"'))).toBe("not JSON at byte 16: unexpected end");
    expect(reason(parseEvent('{"event_id":"e1'))).toBe("not JSON at byte 15: unexpected end");
    expect(reason(parseEvent("nul"))).toBe("not JSON at byte 3: unexpected end");
  });

  it("refuses deep nesting with a clear error, however deep", () => {
    expect(reason(parseObject({ ...base, arguments: nested(200) }))).toBe(
      `nesting deeper than ${MAX_DEPTH} levels`,
    );
    // 30 000 levels of arrays still fit in 64 KiB.
    const deepArrays = `{"event_id":"e","timestamp":1,"user_id":"u","server":"s","tool":"t","arguments":{"x":${"[".repeat(30_000)}${"]".repeat(30_000)}}}`;
    expect(reason(parseEvent(deepArrays))).toBe(`nesting deeper than ${MAX_DEPTH} levels`);
    // Unbalanced deep nesting is a JSON error at the end, found without recursion.
    expect(reason(parseEvent("[".repeat(60_000)))).toBe("not JSON at byte 60000: unexpected end");
  });

  it("refuses huge strings by size before parsing them", () => {
    const huge = JSON.stringify({ ...base, arguments: { blob: "A".repeat(10 * 1024 * 1024) } });
    expect(reason(parseEvent(huge))).toBe("event too large: 10241 KiB > 64 KiB");
  });

  it("keeps __proto__ and constructor keys inside arguments as data and pollutes no prototype", () => {
    const text =
      '{"event_id":"e1","timestamp":1,"user_id":"u","server":"s","tool":"t",' +
      '"arguments":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted2":"yes"}},' +
      '"nested":{"__proto__":{"isAdmin":true}}},' +
      '"result":{"__proto__":{"polluted3":"yes"}},"labels":{"__proto__":"tag"},' +
      '"__proto__":{"top":"yes"}}';
    const e = ok(parseEvent(text));
    const args = e.arguments as Record<string, unknown>;
    // The keys are the emitter's data: all there, as own properties.
    expect(Object.keys(args)).toEqual(["__proto__", "constructor", "nested"]);
    expect(Object.getOwnPropertyDescriptor(args, "__proto__")?.value).toEqual({ polluted: "yes" });
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(e.result, "__proto__")?.value).toEqual({ polluted3: "yes" });
    expect(Object.getOwnPropertyDescriptor(e.labels, "__proto__")?.value).toBe("tag");
    expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
    expect(e).not.toHaveProperty("top");
    // Nothing leaked into the prototypes every object shares.
    const probe: Record<string, unknown> = {};
    for (const key of ["polluted", "polluted2", "polluted3", "isAdmin", "top"])
      expect(probe[key]).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it("refuses bytes that are not UTF-8, saying where", () => {
    const withBytes = (bytes: number[]) =>
      Buffer.concat([
        Buffer.from('{"event_id":"e'),
        Buffer.from(bytes),
        Buffer.from('","timestamp":1,"user_id":"u","server":"s","tool":"t"}'),
      ]);
    expect(reason(parseEvent(withBytes([0xff])))).toBe("not UTF-8 at byte 14");
    expect(reason(parseEvent(withBytes([0xc3])))).toBe("not UTF-8 at byte 14"); // truncated 2-byte
    expect(reason(parseEvent(withBytes([0xc0, 0xaf])))).toBe("not UTF-8 at byte 14"); // overlong "/"
    expect(reason(parseEvent(withBytes([0xed, 0xa0, 0x80])))).toBe("not UTF-8 at byte 14"); // surrogate
    expect(reason(parseEvent(withBytes([0xf4, 0x90, 0x80, 0x80])))).toBe("not UTF-8 at byte 14"); // > U+10FFFF
    expect(reason(parseEvent(withBytes([0xc3, 0xa9, 0xe2, 0x82])))).toBe("not UTF-8 at byte 16");
    // The same positions with valid sequences parse, and the characters survive.
    expect(ok(parseEvent(withBytes([0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]))).event_id).toBe("eé😀");
  });
});

describe("parseEvent: properties", () => {
  const jsonObject = fc.dictionary(
    fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "prototype", "toString")),
    fc.jsonValue({ maxDepth: 4 }),
    { maxKeys: 8 },
  );

  it("keeps any JSON object in arguments and result exactly as sent", () => {
    fc.assert(
      fc.property(jsonObject, jsonObject, (args, result) => {
        // JSON.parse gives "__proto__" keys as own properties, as an emitter's bytes would.
        const sent = JSON.parse(JSON.stringify({ ...base, arguments: args, result }));
        const e = ok(parseEvent(JSON.stringify(sent)));
        // Compared as JSON text: same keys (own "__proto__" included), order and values. (vitest's
        // deep equality reads a "constructor" key as the object's class, so it can't be used here.)
        expect(JSON.stringify(e.arguments)).toBe(JSON.stringify(sent.arguments));
        expect(JSON.stringify(e.result)).toBe(JSON.stringify(sent.result));
      }),
      { numRuns: 300 },
    );
  });

  it("finds a JSON error exactly when JSON.parse does", () => {
    const valid = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v, null, 1));
    // Break valid JSON by deleting, inserting or replacing one character, or take arbitrary text.
    const broken = fc.oneof(
      fc
        .tuple(valid, fc.nat(), fc.constantFrom("", ",", "}", "]", '"', ":", "x", "\\", "0", "-", ".", "\n"))
        .map(([text, at, ch]) => {
          const i = at % (text.length + 1);
          return text.slice(0, i) + ch + text.slice(i + (at % 2));
        }),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(broken, (text) => {
        let v8Message: string | undefined;
        try {
          JSON.parse(text);
        } catch (err) {
          v8Message = (err as Error).message;
        }
        const index = jsonErrorIndex(text);
        expect(index === -1, `${JSON.stringify(text)} → ${index}`).toBe(v8Message === undefined);
        if (v8Message !== undefined) {
          expect(index).toBeGreaterThanOrEqual(0);
          expect(index).toBeLessThanOrEqual(text.length);
          // Where V8 names a position, it is the same one.
          const v8Position = /at position (\d+)/.exec(v8Message)?.[1];
          if (v8Position !== undefined)
            expect(index, `${JSON.stringify(text)}: ${v8Message}`).toBe(Number(v8Position));
          if (/Unexpected end of JSON input/.test(v8Message)) expect(index).toBe(text.length);
          // Where V8 names the offending character instead, it is the one at our position.
          const v8Token = /^Unexpected token '(.)'/su.exec(v8Message)?.[1];
          if (v8Token !== undefined) expect([...text.slice(index)][0]).toBe(v8Token);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = parseEvent(bytes);
        expect(typeof (r.ok ? r.event.event_id : r.reason)).toBe("string");
      }),
      { numRuns: 1000 },
    );
  });
});
