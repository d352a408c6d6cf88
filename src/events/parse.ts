import { eventSchema, type ToolCallEvent } from "./schema.js";

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
  const text =
    typeof raw === "string" ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: notJsonReason(text, err) };
  }
  return validateEvent(value);
}

/** Validates an already-decoded JSON value. */
export function validateEvent(value: unknown): ParseResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: `expected a JSON object, got ${describe(value)}` };
  }
  if (depthExceeds(value, MAX_DEPTH)) return { ok: false, reason: `nesting deeper than ${MAX_DEPTH} levels` };
  const result = eventSchema.safeParse(dropEnvelopeNulls(value as Record<string, unknown>));
  if (!result.success) {
    const reason = result.error.issues
      .map((i) => `${i.path.length ? i.path.join(".") : "(event)"}: ${i.message}`)
      .join("; ");
    return { ok: false, reason };
  }
  const e = result.data;
  const timestamp = typeof e.timestamp === "number" ? e.timestamp : Date.parse(e.timestamp);
  return { ok: true, event: { ...e, timestamp } as ToolCallEvent };
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

function depthExceeds(root: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > limit) return true;
    if (typeof v === "object" && v !== null) {
      for (const child of Object.values(v))
        if (typeof child === "object" && child !== null) stack.push([child, d + 1]);
    }
  }
  return false;
}

function notJsonReason(text: string, err: unknown): string {
  if (err instanceof RangeError) return `not JSON: nesting too deep`;
  const msg = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(msg);
  if (m) return `not JSON at byte ${Buffer.byteLength(text.slice(0, Number(m[1])))}`;
  if (/Unexpected end/.test(msg) || text.trim() === "")
    return `not JSON at byte ${Buffer.byteLength(text)}: unexpected end`;
  return `not JSON: ${msg.slice(0, 120)}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}
