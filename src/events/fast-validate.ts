import { MAX_TIMESTAMP_MS, OUTCOMES, RISK_LEVELS, type ToolCallEvent, timestampSchema } from "./schema.js";

/**
 * The event schema's accepting path, written out by hand. zod rebuilds every record key by key and
 * allocates per check (about 5 KB per event, a quarter of the service's garbage); this takes the common
 * valid event without allocating beyond the result. It answers only when it is sure: `undefined` means
 * "ask zod", which also writes every error message, so zod stays the single source of what is valid and
 * of what is said about invalid input. test/events/fast-validate.test.ts checks on random events that
 * whatever this accepts, zod accepts with an equal result (same keys in the same order).
 */
export function fastValidate(v: Record<string, unknown>): ToolCallEvent | undefined {
  if (Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  const event_id = v.event_id;
  const user_id = v.user_id;
  const server = v.server;
  const tool = v.tool;
  if (!bounded(event_id, 128) || !bounded(user_id, 256) || !bounded(server, 256) || !bounded(tool, 256))
    return undefined;
  let timestamp = v.timestamp;
  if (typeof timestamp === "number") {
    if (!(Number.isFinite(timestamp) && timestamp >= 0 && timestamp <= MAX_TIMESTAMP_MS)) return undefined;
  } else if (typeof timestamp === "string" && timestampSchema.safeParse(timestamp).success) {
    timestamp = Date.parse(timestamp);
    if (!((timestamp as number) <= MAX_TIMESTAMP_MS)) return undefined;
  } else return undefined;

  // Output keys in the schema's order, as zod writes them; an envelope null is absent (events.md).
  const out: Record<string, unknown> = { event_id, timestamp, user_id, server, tool };
  let x = v.method;
  if (x == null) out.method = "tools/call";
  else if (typeof x === "string") out.method = x;
  else return undefined;
  if (!optionalString(v, "session_id", out) || !optionalString(v, "agent_id", out)) return undefined;
  x = v.outcome;
  if (x == null) out.outcome = "success";
  else if (OUTCOMES.includes(x as never)) out.outcome = x;
  else return undefined;
  x = v.duration_ms;
  if (x != null) {
    if (!(typeof x === "number" && Number.isFinite(x) && x >= 0)) return undefined;
    out.duration_ms = x;
  }
  // Records are kept as decoded (validateEvent does the same after zod): nothing sent is lost.
  if (!optionalRecord(v, "arguments", out)) return undefined;
  if (!optionalString(v, "arguments_hash", out)) return undefined;
  if (!optionalRecord(v, "result", out)) return undefined;
  x = v.result_summary;
  if (x != null) {
    if (!(typeof x === "string" && x.length <= 1024)) return undefined;
    out.result_summary = x;
  }
  x = v.risk_level;
  if (x != null) {
    if (!RISK_LEVELS.includes(x as never)) return undefined;
    out.risk_level = x;
  }
  x = v.hitl;
  if (x != null) {
    if (!isPlainObject(x)) return undefined;
    const { required, approved } = x;
    if (typeof required !== "boolean" || !(approved === null || typeof approved === "boolean"))
      return undefined;
    out.hitl = { required, approved };
  }
  x = v.categories;
  if (x != null) {
    if (!Array.isArray(x)) return undefined;
    for (let i = 0; i < x.length; i++) if (typeof x[i] !== "string") return undefined;
    out.categories = x.slice();
  }
  x = v.trace_id;
  if (x != null) {
    if (!(typeof x === "string" && TRACE_ID.test(x))) return undefined;
    out.trace_id = x;
  }
  x = v.span_id;
  if (x != null) {
    if (!(typeof x === "string" && SPAN_ID.test(x))) return undefined;
    out.span_id = x;
  }
  x = v.labels;
  if (x != null) {
    if (!isPlainObject(x)) return undefined;
    for (const k in x) if (typeof x[k] !== "string") return undefined;
    out.labels = x;
  }
  x = v.schema_version;
  if (x != null && x !== 1) return undefined;
  out.schema_version = 1;
  return out as unknown as ToolCallEvent;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

function bounded(x: unknown, max: number): x is string {
  return typeof x === "string" && x.length >= 1 && x.length <= max;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function optionalString(v: Record<string, unknown>, key: string, out: Record<string, unknown>): boolean {
  const x = v[key];
  if (x == null) return true;
  if (typeof x !== "string") return false;
  out[key] = x;
  return true;
}

function optionalRecord(v: Record<string, unknown>, key: string, out: Record<string, unknown>): boolean {
  const x = v[key];
  if (x == null) return true;
  if (!isPlainObject(x)) return false;
  out[key] = x;
  return true;
}
