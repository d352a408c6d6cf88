import { isUtf8 } from "node:buffer";
import { fastValidate } from "./fast-validate.js";
import { eventSchema, MAX_TIMESTAMP_MS, TIMESTAMP_RANGE_ERROR, type ToolCallEvent } from "./schema.js";

export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;
/** Deeper JSON than this is hostile, not an audit event. */
export const MAX_DEPTH = 64;

export type ParseResult = { ok: true; event: ToolCallEvent } | { ok: false; reason: string };

export interface ParseOptions {
  maxBytes?: number;
}

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;

/** Raw bytes (or a decoded line) to a validated, normalised event, or a precise reason why not. */
export function parseEvent(raw: Uint8Array | string, opts: ParseOptions = {}): ParseResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const size = typeof raw === "string" ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > maxBytes) return { ok: false, reason: `event too large: ${kib(size)} > ${kib(maxBytes)}` };
  let text: string;
  // A leading byte order mark is tolerated (RFC 8259 §8.1 lets a parser ignore it); byte offsets in
  // errors still count it, so they point into the bytes as sent.
  let skipped = 0;
  if (typeof raw === "string") {
    skipped = raw.charCodeAt(0) === 0xfeff ? 3 : 0;
    text = skipped ? raw.slice(1) : raw;
  } else {
    const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    // Decoding would silently turn invalid bytes into U+FFFD, and a changed event_id or argument is a
    // different event: reject instead.
    if (!isUtf8(bytes)) return { ok: false, reason: `not UTF-8 at byte ${firstInvalidUtf8(bytes)}` };
    skipped = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    text = bytes.toString("utf8", skipped);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: notJsonReason(text, err, skipped) };
  }
  return validateEvent(value, true);
}

const LOWER_T_OR_Z = /[tz]/;

/**
 * Validates an already-decoded JSON value. `fromJson`: the value is JSON.parse's own output (no
 * `undefined`, plain objects only), which the fast path relies on.
 */
export function validateEvent(value: unknown, fromJson = false): ParseResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: `expected a JSON object, got ${describe(value)}` };
  }
  if (depthExceeds(value, MAX_DEPTH)) return { ok: false, reason: `nesting deeper than ${MAX_DEPTH} levels` };
  // RFC 3339 (5.6) lets "T" and "Z" be written in lower case; the validator wants them upper.
  const ts = (value as Record<string, unknown>).timestamp;
  if (typeof ts === "string" && LOWER_T_OR_Z.test(ts)) value = { ...value, timestamp: ts.toUpperCase() };
  if (fromJson) {
    const fast = fastValidate(value as Record<string, unknown>);
    if (fast) return { ok: true, event: fast };
  }
  const result = eventSchema.safeParse(dropEnvelopeNulls(value as Record<string, unknown>));
  if (!result.success) {
    const reason = result.error.issues
      .map((i) => `${i.path.length ? i.path.join(".") : "(event)"}: ${i.message}`)
      .join("; ");
    return { ok: false, reason };
  }
  const e = result.data;
  const timestamp = typeof e.timestamp === "number" ? e.timestamp : Date.parse(e.timestamp);
  // A string with a negative offset can still land past the last instant RFC 3339 can write.
  if (timestamp > MAX_TIMESTAMP_MS) return { ok: false, reason: `timestamp: ${TIMESTAMP_RANGE_ERROR}` };
  const event = { ...e, timestamp } as ToolCallEvent;
  // zod rebuilds records key by key and leaves out a "__proto__" key (JSON.parse makes it an ordinary
  // own property). The records are validated as they are, so keep the decoded objects: nothing an
  // emitter sent is lost, and no prototype is touched.
  const input = value as Record<string, unknown>;
  if (event.arguments) event.arguments = input.arguments as Record<string, unknown>;
  if (event.result) event.result = input.result as Record<string, unknown>;
  if (event.labels) event.labels = input.labels as Record<string, string>;
  return { ok: true, event };
}

/** In the envelope `null` means absent (events.md); inside arguments/result it is a value. */
function dropEnvelopeNulls(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    if (obj[key] === null) {
      out ??= { ...obj };
      delete out[key];
    }
  }
  return out ?? obj;
}

function depthExceeds(root: object, limit: number): boolean {
  // Two parallel stacks, not a pair per node: most events are shallow and this runs on every one.
  const values: object[] = [root];
  const depths: number[] = [1];
  while (values.length) {
    const v = values.pop()!;
    const d = depths.pop()!;
    if (d > limit) return true;
    for (const k in v) {
      const child = (v as Record<string, unknown>)[k];
      if (typeof child === "object" && child !== null) {
        values.push(child);
        depths.push(d + 1);
      }
    }
  }
  return false;
}

function notJsonReason(text: string, err: unknown, skippedBytes: number): string {
  if (err instanceof RangeError) return `not JSON: nesting too deep`;
  // V8's messages name a position for some errors and not for others ("Unexpected token '}', ... is not
  // valid JSON"), so find it ourselves.
  const index = jsonErrorIndex(text);
  if (index < 0) return `not JSON: ${(err instanceof Error ? err.message : String(err)).slice(0, 120)}`;
  const at = skippedBytes + Buffer.byteLength(text.slice(0, index));
  return index >= text.length ? `not JSON at byte ${at}: unexpected end` : `not JSON at byte ${at}`;
}

const JSON_WS = new Set([" ", "\t", "\n", "\r"]);
const SIMPLE_ESCAPE = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const HEX_DIGIT = /^[0-9a-fA-F]$/;

/**
 * Index (in UTF-16 units) of the first character at which `text` stops being one JSON value
 * (RFC 8259), `text.length` when it ends too early, or -1 when it is valid. Only called after JSON.parse
 * failed; iterative, so hostile nesting cannot overflow the stack.
 */
export function jsonErrorIndex(text: string): number {
  const n = text.length;
  const open: string[] = [];
  let i = 0;
  const skipWs = () => {
    while (i < n && JSON_WS.has(text[i]!)) i++;
  };
  // Scans the string starting at text[i] === '"'; false on error (i at the offending character).
  const scanString = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        i++;
        if (text[i] === "u") {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!HEX_DIGIT.test(text[i] ?? "")) return false;
          }
          i++;
        } else if (SIMPLE_ESCAPE.has(text[i] ?? "")) i++;
        else return false;
      } else i++;
    }
    return false;
  };
  const digits = (): boolean => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    return i > start;
  };
  // Scans a number at text[i]; false on error (i at the first character that cannot continue it).
  const scanNumber = (): boolean => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else if (!digits()) return false;
    if (text[i] === ".") {
      i++;
      if (!digits()) return false;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      if (!digits()) return false;
    }
    return true;
  };
  // Expects `"key" :` in an object; false on error.
  const scanKey = (): boolean => {
    skipWs();
    if (text[i] !== '"' || !scanString()) return false;
    skipWs();
    if (text[i] !== ":") return false;
    i++;
    return true;
  };

  for (;;) {
    // A value starts here.
    skipWs();
    const c = text[i];
    if (c === "{" || c === "[") {
      i++;
      skipWs();
      if (text[i] === (c === "{" ? "}" : "]")) {
        i++;
      } else {
        open.push(c);
        if (c === "{" && !scanKey()) return i;
        continue;
      }
    } else if (c === '"') {
      if (!scanString()) return i;
    } else if (c === "t" || c === "f" || c === "n") {
      const word = c === "t" ? "true" : c === "f" ? "false" : "null";
      for (const w of word) {
        if (text[i] !== w) return i;
        i++;
      }
    } else if (!scanNumber()) return i;
    // After a value: close containers, or a comma leads to the next value.
    for (;;) {
      skipWs();
      const top = open.at(-1);
      if (top === undefined) return i === n ? -1 : i;
      if (text[i] === ",") {
        i++;
        if (top === "{" && !scanKey()) return i;
        break;
      }
      if (text[i] !== (top === "{" ? "}" : "]")) return i;
      open.pop();
      i++;
    }
  }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    // Unicode 15, table 3-7: the allowed range of the second byte depends on the first.
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}
