import { describe, expect, it } from "vitest";
import { type ToolCallEvent, validateEvent } from "../../src/events/index.js";
import { compileWhere, jsonEquals } from "../../src/patterns/predicate.js";
import type { Where } from "../../src/patterns/schema.js";
import { whereSchema } from "../../src/patterns/schema.js";

function event(fields: Record<string, unknown> = {}): ToolCallEvent {
  const r = validateEvent({
    event_id: "e1",
    timestamp: 1,
    user_id: "u",
    server: "srv",
    tool: "t",
    ...fields,
  });
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

/** Compiles `where` (after validating it against the schema, as the loader does) and tests one event. */
function holds(where: Where, ev: ToolCallEvent, categories: string[] = []): boolean {
  const parsed = whereSchema.parse(where);
  return compileWhere(parsed).test(ev, new Set(categories));
}

const args = (a: Record<string, unknown>) => event({ arguments: a });

describe("literal (equality)", () => {
  it("strings compare exactly (case-sensitive)", () => {
    expect(holds({ tool: "send_email" }, event({ tool: "send_email" }))).toBe(true);
    expect(holds({ tool: "send_email" }, event({ tool: "Send_email" }))).toBe(false);
  });
  it("is JSON-typed: false ≠ 0, 1 = 1.0, '1' ≠ 1", () => {
    expect(holds({ "arguments.x": false }, args({ x: 0 }))).toBe(false);
    expect(holds({ "arguments.x": 0 }, args({ x: false }))).toBe(false);
    expect(holds({ "arguments.x": 1 }, args({ x: 1.0 }))).toBe(true);
    expect(holds({ "arguments.x": 1 }, args({ x: "1" }))).toBe(false);
  });
  it("null inside arguments is a present value", () => {
    expect(holds({ "arguments.x": null }, args({ x: null }))).toBe(true);
    expect(holds({ "arguments.x": null }, args({}))).toBe(false);
  });
  it("missing field fails", () => {
    expect(holds({ "arguments.to": "a" }, event())).toBe(false);
  });
  it("on an array field holds if any element equals", () => {
    expect(holds({ "arguments.to": "b" }, args({ to: ["a", "b"] }))).toBe(true);
    expect(holds({ "arguments.to": "c" }, args({ to: ["a", "b"] }))).toBe(false);
  });
  it("an array literal compares deeply, with the whole value or an element", () => {
    expect(holds({ "arguments.x": [1, 2] }, args({ x: [1, 2] }))).toBe(true);
    expect(holds({ "arguments.x": [1, 2] }, args({ x: [2, 1] }))).toBe(false);
    expect(holds({ "arguments.x": [1, 2] }, args({ x: [[1, 2], 3] }))).toBe(true);
  });
  it("defaults apply before matching: outcome success, method tools/call", () => {
    expect(holds({ outcome: "success", method: "tools/call" }, event())).toBe(true);
    expect(holds({ outcome: "success" }, event({ outcome: "error" }))).toBe(false);
  });
  it("envelope null means absent", () => {
    expect(holds({ session_id: { exists: false } }, event({ session_id: null }))).toBe(true);
  });
  it("nested paths: hitl.approved, labels.tenant", () => {
    expect(holds({ "hitl.approved": false }, event({ hitl: { required: true, approved: false } }))).toBe(
      true,
    );
    expect(holds({ "hitl.approved": false }, event({ hitl: { required: true, approved: null } }))).toBe(
      false,
    );
    expect(holds({ "labels.tenant": "acme" }, event({ labels: { tenant: "acme" } }))).toBe(true);
  });
});

describe("in", () => {
  it("equal to one of, JSON-typed", () => {
    expect(holds({ tool: { in: ["a", "t"] } }, event())).toBe(true);
    expect(holds({ tool: { in: ["a", "b"] } }, event())).toBe(false);
    expect(holds({ "arguments.n": { in: [1, true] } }, args({ n: 1.0 }))).toBe(true);
    expect(holds({ "arguments.n": { in: [true] } }, args({ n: 1 }))).toBe(false);
    expect(holds({ "arguments.n": { in: [0] } }, args({ n: false }))).toBe(false);
  });
  it("objects compare deeply, key order irrelevant", () => {
    expect(holds({ "arguments.o": { in: [{ a: 1, b: [2] }] } }, args({ o: { b: [2], a: 1 } }))).toBe(true);
    expect(holds({ "arguments.o": { in: [{ a: 1 }] } }, args({ o: { a: 1, b: 2 } }))).toBe(false);
  });
  it("missing fails, array holds if any element, null is a value", () => {
    expect(holds({ "arguments.x": { in: ["a"] } }, args({}))).toBe(false);
    expect(holds({ "arguments.x": { in: ["a"] } }, args({ x: ["z", "a"] }))).toBe(true);
    expect(holds({ "arguments.x": { in: [null] } }, args({ x: null }))).toBe(true);
  });
});

describe("glob", () => {
  it("matches shell-style, anchored", () => {
    expect(holds({ tool: { glob: "send_*" } }, event({ tool: "send_email" }))).toBe(true);
    expect(holds({ tool: { glob: "send_*" } }, event({ tool: "resend_email" }))).toBe(false);
    expect(holds({ tool: { glob: "get_?" } }, event({ tool: "get_x" }))).toBe(true);
    expect(holds({ tool: { glob: "get_[xy]" } }, event({ tool: "get_z" }))).toBe(false);
  });
  it("* and ? match / too", () => {
    expect(holds({ "arguments.path": { glob: "/etc/*" } }, args({ path: "/etc/ssh/sshd_config" }))).toBe(
      true,
    );
    expect(
      holds({ "arguments.url": { glob: "https://*.example/*" } }, args({ url: "https://a.example/x/y" })),
    ).toBe(true);
    expect(holds({ "arguments.p": { glob: "a?b" } }, args({ p: "a/b" }))).toBe(true);
  });
  it("is case-sensitive", () => {
    expect(holds({ tool: { glob: "Send_*" } }, event({ tool: "send_x" }))).toBe(false);
  });
  it("missing, non-string and null fail; array holds if any element matches", () => {
    expect(holds({ "arguments.to": { glob: "*" } }, args({}))).toBe(false);
    expect(holds({ "arguments.to": { glob: "*" } }, args({ to: 5 }))).toBe(false);
    expect(holds({ "arguments.to": { glob: "*" } }, args({ to: null }))).toBe(false);
    expect(
      holds({ "arguments.to": { glob: "*@gmail.com" } }, args({ to: ["a@corp.example", "b@gmail.com"] })),
    ).toBe(true);
  });
});

describe("regex", () => {
  it("is unanchored RegExp.test", () => {
    expect(holds({ "arguments.q": { regex: "DROP\\s+TABLE" } }, args({ q: "x; DROP  TABLE users" }))).toBe(
      true,
    );
    expect(holds({ "arguments.q": { regex: "^DROP" } }, args({ q: "x; DROP TABLE" }))).toBe(false);
    expect(holds({ "arguments.iban": { regex: "^[A-Z]{2}\\d+$" } }, args({ iban: "DE123" }))).toBe(true);
  });
  it("missing, non-string, null fail; array holds if any element matches", () => {
    expect(holds({ "arguments.q": { regex: "." } }, args({}))).toBe(false);
    expect(holds({ "arguments.q": { regex: "1" } }, args({ q: 1 }))).toBe(false);
    expect(holds({ "arguments.q": { regex: "." } }, args({ q: null }))).toBe(false);
    expect(holds({ "arguments.q": { regex: "^b" } }, args({ q: ["a", "b"] }))).toBe(true);
  });
});

describe("comparisons", () => {
  it("gt / gte / lt / lte on numbers", () => {
    const e = event({ duration_ms: 100 });
    expect(holds({ duration_ms: { gt: 99 } }, e)).toBe(true);
    expect(holds({ duration_ms: { gt: 100 } }, e)).toBe(false);
    expect(holds({ duration_ms: { gte: 100 } }, e)).toBe(true);
    expect(holds({ duration_ms: { lt: 100 } }, e)).toBe(false);
    expect(holds({ duration_ms: { lte: 100 } }, e)).toBe(true);
  });
  it("missing, strings, null fail; arrays hold if any element compares", () => {
    expect(holds({ duration_ms: { gt: 0 } }, event())).toBe(false);
    expect(holds({ "arguments.n": { gt: 0 } }, args({ n: "5" }))).toBe(false);
    expect(holds({ "arguments.n": { lt: 1 } }, args({ n: null }))).toBe(false);
    expect(holds({ "arguments.n": { gt: 10 } }, args({ n: [1, 20] }))).toBe(true);
  });
  it("risk_level is ordinal with level names; missing risk fails", () => {
    expect(holds({ risk_level: { gte: "high" } }, event({ risk_level: "critical" }))).toBe(true);
    expect(holds({ risk_level: { gte: "high" } }, event({ risk_level: "high" }))).toBe(true);
    expect(holds({ risk_level: { gte: "high" } }, event({ risk_level: "medium" }))).toBe(false);
    expect(holds({ risk_level: { lt: "medium" } }, event({ risk_level: "low" }))).toBe(true);
    expect(holds({ risk_level: { gt: "low" } }, event())).toBe(false);
    expect(holds({ risk_level: { lt: "critical" } }, event())).toBe(false);
  });
});

describe("exists", () => {
  it("tests presence, also of null inside arguments", () => {
    expect(holds({ "arguments.x": { exists: true } }, args({ x: null }))).toBe(true);
    expect(holds({ "arguments.x": { exists: true } }, args({}))).toBe(false);
    expect(holds({ "arguments.x": { exists: false } }, args({}))).toBe(true);
    expect(holds({ "arguments.x": { exists: false } }, args({ x: [] }))).toBe(false);
    expect(holds({ hitl: { exists: false } }, event())).toBe(true);
  });
});

describe("contains", () => {
  it("substring of a string", () => {
    expect(
      holds(
        { "result.text": { contains: "IGNORE PREVIOUS" } },
        event({ result: { text: "x IGNORE PREVIOUS y" } }),
      ),
    ).toBe(true);
    expect(
      holds(
        { "result.text": { contains: "ignore previous" } },
        event({ result: { text: "IGNORE PREVIOUS" } }),
      ),
    ).toBe(false);
  });
  it("element of an array (JSON-typed), not substring of an element", () => {
    expect(holds({ "arguments.to": { contains: "b@x" } }, args({ to: ["a@x", "b@x"] }))).toBe(true);
    expect(holds({ "arguments.to": { contains: "b" } }, args({ to: ["a@x", "b@x"] }))).toBe(false);
    expect(holds({ "arguments.ids": { contains: 1 } }, args({ ids: [true, 1.0] }))).toBe(true);
    expect(holds({ "arguments.ids": { contains: 1 } }, args({ ids: [true] }))).toBe(false);
  });
  it("missing, null and numbers fail", () => {
    expect(holds({ "arguments.x": { contains: "a" } }, args({}))).toBe(false);
    expect(holds({ "arguments.x": { contains: "a" } }, args({ x: null }))).toBe(false);
    expect(holds({ "arguments.x": { contains: "1" } }, args({ x: 123 }))).toBe(false);
  });
});

describe("combinators", () => {
  it("not negates, and holds on a missing field", () => {
    const w: Where = { "arguments.to": { not: { glob: "*@corp.example" } } };
    expect(holds(w, args({ to: "x@gmail.com" }))).toBe(true);
    expect(holds(w, args({ to: "x@corp.example" }))).toBe(false);
    expect(holds(w, args({}))).toBe(true);
  });
  it("not on an array negates the whole: no element matches", () => {
    const w: Where = { "arguments.to": { not: { glob: "*@corp.example" } } };
    expect(holds(w, args({ to: ["a@corp.example", "b@gmail.com"] }))).toBe(false);
    expect(holds(w, args({ to: ["b@gmail.com"] }))).toBe(true);
  });
  it("not with a literal is inequality", () => {
    expect(holds({ outcome: { not: "success" } }, event({ outcome: "denied" }))).toBe(true);
    expect(holds({ outcome: { not: "success" } }, event())).toBe(false);
  });
  it("any / all", () => {
    const any: Where = { tool: { any: [{ glob: "send_*" }, "post_message"] } };
    expect(holds(any, event({ tool: "post_message" }))).toBe(true);
    expect(holds(any, event({ tool: "send_x" }))).toBe(true);
    expect(holds(any, event({ tool: "read" }))).toBe(false);
    const all: Where = { tool: { all: [{ glob: "send_*" }, { not: "send_test" }] } };
    expect(holds(all, event({ tool: "send_x" }))).toBe(true);
    expect(holds(all, event({ tool: "send_test" }))).toBe(false);
  });
  it("an operator object with several keys is the AND", () => {
    const w: Where = { duration_ms: { gte: 10, lt: 20 } };
    expect(holds(w, event({ duration_ms: 10 }))).toBe(true);
    expect(holds(w, event({ duration_ms: 20 }))).toBe(false);
    expect(holds(w, event({ duration_ms: 9 }))).toBe(false);
    const g: Where = { tool: { glob: "send_*", not: { in: ["send_test"] } } };
    expect(holds(g, event({ tool: "send_x" }))).toBe(true);
    expect(holds(g, event({ tool: "send_test" }))).toBe(false);
  });
  it("every key of a where must hold", () => {
    const w: Where = { tool: "export_data", outcome: "success" };
    expect(holds(w, event({ tool: "export_data" }))).toBe(true);
    expect(holds(w, event({ tool: "export_data", outcome: "error" }))).toBe(false);
  });
  it("an empty where holds for every event", () => {
    expect(holds({}, event())).toBe(true);
  });
});

describe("category", () => {
  it("a literal holds if the event's categories include it", () => {
    expect(holds({ category: "public_sink" }, event(), ["enumerate", "public_sink"])).toBe(true);
    expect(holds({ category: "public_sink" }, event(), ["enumerate"])).toBe(false);
    expect(holds({ category: "public_sink" }, event(), [])).toBe(false);
  });
  it("with an operator, any category satisfying it", () => {
    expect(holds({ category: { in: ["a", "b"] } }, event(), ["b"])).toBe(true);
    expect(holds({ category: { in: ["a", "b"] } }, event(), ["c"])).toBe(false);
    expect(holds({ category: { glob: "private_*" } }, event(), ["x", "private_data"])).toBe(true);
    expect(holds({ category: { regex: "sink$" } }, event(), ["public_sink"])).toBe(true);
    expect(holds({ category: { glob: "private_*" } }, event(), [])).toBe(false);
  });
  it("not negates the whole set; exists tests for any category", () => {
    expect(holds({ category: { not: "public_sink" } }, event(), ["enumerate"])).toBe(true);
    expect(holds({ category: { not: "public_sink" } }, event(), ["enumerate", "public_sink"])).toBe(false);
    expect(holds({ category: { exists: true } }, event(), [])).toBe(false);
    expect(holds({ category: { exists: true } }, event(), ["a"])).toBe(true);
    expect(holds({ category: { contains: "a" } }, event(), ["a"])).toBe(true);
    expect(holds({ category: { any: ["a", { glob: "z*" }] } }, event(), ["zed"])).toBe(true);
  });
  it("reads the categories parameter, not the event field alone", () => {
    expect(holds({ category: "x" }, event({ categories: ["x"] }), [])).toBe(false);
  });
});

describe("dispatch hint and fields", () => {
  it("literal and in on tool / category at the top level", () => {
    expect(compileWhere({ tool: "a" }).hint).toEqual({ tools: ["a"] });
    expect(compileWhere({ tool: { in: ["a", "b"] } }).hint).toEqual({ tools: ["a", "b"] });
    expect(compileWhere({ category: "c", tool: { in: ["a"], not: "b" } }).hint).toEqual({
      tools: ["a"],
      categories: ["c"],
    });
  });
  it("anything else leaves the hint empty (any event)", () => {
    expect(compileWhere({ tool: { glob: "a*" } }).hint).toEqual({});
    expect(compileWhere({ tool: { any: ["a"] } }).hint).toEqual({});
    expect(compileWhere({ "arguments.x": 1 }).hint).toEqual({});
  });
  it("fields lists the exact paths read, whatever the operators", () => {
    expect(compileWhere({ "arguments.to": "x", "hitl.approved": false, tool: "t" }).fields.sort()).toEqual([
      "arguments.to",
      "hitl.approved",
      "tool",
    ]);
    expect(
      compileWhere({
        "arguments.a.b": { not: { any: [{ exists: true }, { all: [{ in: [1] }, { contains: "x" }] }] } },
        arguments: { exists: true },
      }).fields.sort(),
    ).toEqual(["arguments", "arguments.a.b"]);
    expect(compileWhere({ category: "c" }).fields.sort()).toEqual(["categories", "server", "tool"]);
  });
});

describe("jsonEquals", () => {
  it("is JSON-typed and deep", () => {
    expect(jsonEquals(1, 1.0)).toBe(true);
    expect(jsonEquals(false, 0)).toBe(false);
    expect(jsonEquals({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(jsonEquals({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEquals([1], { 0: 1 })).toBe(false);
  });
});
