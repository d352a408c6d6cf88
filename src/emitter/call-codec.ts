/**
 * A call record's form in the shared ring. The server's thread writes it straight into the ring's
 * bytes: the fields one by one, JSON only for what is free-form (the raw arguments, the result's
 * allow-listed fields), so no text of the whole record is made and then copied. The producer
 * thread reads it back into the `CallRecord` it builds the event from.
 *
 * Layout, little-endian: receivedAt and durationMs (f64 each), the outcome (u8), a u8 of flags
 * saying which optional fields follow, then each string present as a u32 byte length and its
 * UTF-8 (or its JSON, if it holds a lone surrogate: AS_JSON): tool, userId, server, then sessionId,
 * agentId, errorMessage, trace_id and span_id, arguments (JSON), result.structured (JSON),
 * result.text, those flagged.
 */
import type { Outcome } from "../events/index.js";
import { putUtf8 } from "../stream/shared-ring.js";
import type { CallRecord, ResultExtract } from "./event.js";

const OUTCOMES: readonly Outcome[] = ["success", "error", "denied"];

const SESSION = 1;
const AGENT = 2;
const ERROR = 4;
const TRACE = 8;
const ARGS = 16;
const RESULT = 32;
const STRUCTURED = 64;
const TEXT = 128;

/** Fixed part: two f64, outcome, flags, two bytes of padding. */
const FIXED = 20;

/**
 * One call record being written: the record, and its free-form parts already made JSON (that may
 * throw, on a value JSON cannot represent, so it is done before anything is counted or written).
 * Reused from call to call: writing a record allocates nothing but that JSON.
 */
export class CallEncoding {
  call: CallRecord | undefined = undefined;
  args: string | undefined = undefined;
  structured: string | undefined = undefined;

  prepare(call: CallRecord): this {
    // The one text field a caller's object supplies (an Error's message can be anything).
    if (call.errorMessage !== undefined && typeof call.errorMessage !== "string")
      throw new TypeError("chainwatch emitter: the error message is not a string");
    this.call = call;
    this.args = call.rawArguments === undefined ? undefined : JSON.stringify(call.rawArguments);
    const structured = call.result?.structured;
    this.structured = structured === undefined ? undefined : JSON.stringify(structured);
    return this;
  }

  /** Lets go of the record once written (it holds the call's arguments). */
  clear(): void {
    this.call = undefined;
    this.args = undefined;
    this.structured = undefined;
  }
}

/** Writes `e`'s record into `bytes` from `at`, ending by `end`; where it ended, or -1 if short of room. */
export function encodeCall(bytes: Buffer, at: number, end: number, e: CallEncoding): number {
  const c = e.call!;
  if (end - at < FIXED) return -1;
  const result = c.result;
  const flags =
    (c.sessionId !== undefined ? SESSION : 0) |
    (c.agentId !== undefined ? AGENT : 0) |
    (c.errorMessage !== undefined ? ERROR : 0) |
    (c.trace !== undefined ? TRACE : 0) |
    (e.args !== undefined ? ARGS : 0) |
    (result !== undefined ? RESULT : 0) |
    (e.structured !== undefined ? STRUCTURED : 0) |
    (result?.text !== undefined ? TEXT : 0);
  bytes.writeDoubleLE(c.receivedAt, at);
  bytes.writeDoubleLE(c.durationMs, at + 8);
  bytes[at + 16] = OUTCOMES.indexOf(c.outcome);
  bytes[at + 17] = flags;
  let p = at + FIXED;
  p = putString(bytes, p, end, c.tool);
  p = putString(bytes, p, end, c.userId);
  p = putString(bytes, p, end, c.server);
  if (flags & SESSION) p = putString(bytes, p, end, c.sessionId!);
  if (flags & AGENT) p = putString(bytes, p, end, c.agentId!);
  if (flags & ERROR) p = putString(bytes, p, end, c.errorMessage!);
  if (flags & TRACE) {
    p = putString(bytes, p, end, c.trace!.trace_id);
    p = putString(bytes, p, end, c.trace!.span_id);
  }
  if (flags & ARGS) p = putString(bytes, p, end, e.args!);
  if (flags & STRUCTURED) p = putString(bytes, p, end, e.structured!);
  if (flags & TEXT) p = putString(bytes, p, end, result!.text!);
  return p;
}

/**
 * Set in a string's length when it is written as JSON: UTF-8 cannot carry a lone surrogate (it
 * would come back as U+FFFD), JSON's `\u` escapes can, as when the whole record was JSON.
 */
const AS_JSON = 0x80000000;

/** A u32 byte length, then the UTF-8; -1 (and stays -1) once short of room. */
function putString(bytes: Buffer, at: number, end: number, text: string): number {
  if (at < 0 || end - at < 4) return -1;
  const wellFormed = (text as unknown as { isWellFormed(): boolean }).isWellFormed();
  const stop = putUtf8(bytes, at + 4, end, wellFormed ? text : JSON.stringify(text));
  if (stop >= 0) bytes.writeUInt32LE((stop - at - 4 + (wellFormed ? 0 : AS_JSON)) >>> 0, at);
  return stop;
}

/** Reads a record `encodeCall` wrote (all of `value`). */
export function decodeCall(value: Buffer): CallRecord {
  const flags = value[17]!;
  let p = FIXED;
  const next = (): string => {
    const word = value.readUInt32LE(p);
    const n = word & ~AS_JSON;
    const s = value.toString("utf8", p + 4, p + 4 + n);
    p += 4 + n;
    return word & AS_JSON ? (JSON.parse(s) as string) : s;
  };
  const tool = next();
  const userId = next();
  const server = next();
  const sessionId = flags & SESSION ? next() : undefined;
  const agentId = flags & AGENT ? next() : undefined;
  const errorMessage = flags & ERROR ? next() : undefined;
  const trace = flags & TRACE ? { trace_id: next(), span_id: next() } : undefined;
  const rawArguments: unknown = flags & ARGS ? JSON.parse(next()) : undefined;
  let result: ResultExtract | undefined;
  if (flags & RESULT) {
    result = {};
    if (flags & STRUCTURED) result.structured = JSON.parse(next()) as Record<string, unknown>;
    if (flags & TEXT) result.text = next();
  }
  const outcome = OUTCOMES[value[16]!];
  if (outcome === undefined) throw new Error(`chainwatch emitter: a call record with outcome ${value[16]}`);
  return {
    receivedAt: value.readDoubleLE(0),
    durationMs: value.readDoubleLE(8),
    tool,
    rawArguments,
    userId,
    server,
    sessionId,
    agentId,
    outcome,
    result,
    errorMessage,
    trace,
  };
}
