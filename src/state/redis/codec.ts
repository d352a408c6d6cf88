import { createHash } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { EventSource, OutboxEntry, PatternMark, StoredEvent } from "../../engine/group-state.js";
import { OUTCOMES, type ToolCallEvent } from "../../events/schema.js";

/**
 * Compact encoding of stored events: a JSON array in a fixed order, no field names.
 *
 *   [seq, schemaId, source, event_id, timestamp, user_id, server, tool, method, outcome, ...extras]
 *
 * - `source`: 0 (none) | [line] | [topic, partition, offset] (offset a number when it is one exactly).
 * - `user_id`: 0 when equal to the group's `user_id` value (grouping by user is the common case).
 * - `method`: 0 for the default "tools/call"; `outcome`: index into OUTCOMES.
 * - `extras`: values of the schema's paths, in schema order. Absent is `0` and trailing absent values
 *   are cut; a present value that is the number 0 is listed, when there is one, in one more trailing
 *   element `{"z":[indices]}` (the array then has exactly base + paths + 1 elements, so it is never
 *   mistaken for a value).
 *
 * A schema is the sorted list of extra paths; its id is a short hash. Schemas are kept in a registry
 * (a Redis hash), so a pattern reload (new paths) never misreads events stored under the old schema.
 *
 * Sparse schemas (every schema `schemaFor` makes of at most MAX_SPARSE_PATHS paths) list only the
 * values present, after a bit mask of which paths they are, instead of a `0` per absent path (most
 * events have few of the paths a pattern set reads):
 *
 *   [...base, mask, ...present values]       (no mask and no values when none is present)
 *
 * A sparse schema's registry entry is `{"s":[paths]}` (a plain array for a positional one) and its id
 * hashes that marker too, so both kinds decode side by side. An older chainwatch cannot read sparse
 * schemas (its load fails on the registry entry): upgrade all instances of a deployment together.
 */

export const BASE_FIELDS = [
  "event_id",
  "timestamp",
  "user_id",
  "server",
  "tool",
  "method",
  "outcome",
  "schema_version",
] as const;
const BASE = 10;

/** A mask of this many bits is still an exact integer (a JSON number). */
export const MAX_SPARSE_PATHS = 52;

export interface Schema {
  id: string;
  paths: string[][];
  /** Dotted form, for storing. */
  dotted: string[];
  /** Present values after a bit mask (else one element per path, `0` when absent). */
  sparse: boolean;
}

export function schemaFor(fields: Iterable<string>): Schema {
  const base = new Set<string>(BASE_FIELDS);
  const all = [...new Set(fields)].filter((f) => f.length > 0 && !base.has(f)).sort();
  // A path under another kept path is covered by it ("arguments" keeps "arguments.to").
  const dotted = all.filter((p) => !all.some((q) => q !== p && p.startsWith(`${q}.`)));
  return schemaOf(dotted, dotted.length <= MAX_SPARSE_PATHS);
}

export function schemaOf(dotted: string[], sparse = false): Schema {
  const id = createHash("sha1").update(registryEntryOf(dotted, sparse)).digest("base64url").slice(0, 6);
  return { id, dotted, paths: dotted.map((p) => p.split(".")), sparse };
}

function registryEntryOf(dotted: string[], sparse: boolean): string {
  return JSON.stringify(sparse ? { s: dotted } : dotted);
}

/** The schema's entry in the registry (`<prefix>schemas`). */
export function registryEntry(schema: Schema): string {
  return registryEntryOf(schema.dotted, schema.sparse);
}

/** A schema from its registry entry; DecodeError when the entry is not one. */
export function schemaFromRegistry(json: string): Schema {
  const v = JSON.parse(json) as unknown;
  const isPaths = (x: unknown): x is string[] => Array.isArray(x) && x.every((p) => typeof p === "string");
  if (isPaths(v)) return schemaOf(v, false);
  if (typeof v === "object" && v !== null && isPaths((v as { s?: unknown }).s)) {
    const paths = (v as { s: string[] }).s;
    if (paths.length <= MAX_SPARSE_PATHS) return schemaOf(paths, true);
  }
  throw new DecodeError(`schema registry entry is not a list of paths: ${json.slice(0, 120)}`);
}

export function encodeEvent(
  stored: StoredEvent,
  schema: Schema,
  groupValues: Record<string, string>,
): string {
  const e = stored.event;
  const out: unknown[] = [
    stored.seq,
    schema.id,
    encodeSource(stored.source),
    e.event_id,
    e.timestamp,
    groupValues.user_id === e.user_id ? 0 : e.user_id,
    e.server,
    e.tool,
    e.method === "tools/call" ? 0 : e.method,
    Math.max(0, OUTCOMES.indexOf(e.outcome)),
  ];
  if (schema.sparse) return JSON.stringify(appendSparse(out, e, schema));
  const zeros: number[] = [];
  let last = BASE - 1;
  for (let i = 0; i < schema.paths.length; i++) {
    const v = read(e, schema.paths[i]!);
    if (v === undefined) {
      out.push(0);
      continue;
    }
    if (v === 0) zeros.push(i);
    out.push(v);
    last = BASE + i;
  }
  if (zeros.length > 0) {
    out.length = BASE + schema.paths.length;
    out.push({ z: zeros });
  } else {
    out.length = last + 1;
  }
  return JSON.stringify(out);
}

function appendSparse(out: unknown[], e: ToolCallEvent, schema: Schema): unknown[] {
  let mask = 0;
  const values: unknown[] = [];
  for (let i = 0; i < schema.paths.length; i++) {
    const v = read(e, schema.paths[i]!);
    if (v === undefined) continue;
    mask += 2 ** i;
    values.push(v);
  }
  if (mask > 0) out.push(mask, ...values);
  return out;
}

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** The raw array of a stored event, and its schema id (to find the schema before decoding). */
export function parseStored(raw: string): unknown[] {
  const a = JSON.parse(raw) as unknown;
  if (!Array.isArray(a) || a.length < BASE || typeof a[1] !== "string") {
    throw new DecodeError(`stored event is not an event array: ${raw.slice(0, 120)}`);
  }
  return a;
}

export function schemaIdOf(a: unknown[]): string {
  return a[1] as string;
}

export function decodeEvent(a: unknown[], schema: Schema, groupValues: Record<string, string>): StoredEvent {
  const event: ToolCallEvent = {
    event_id: a[3] as string,
    timestamp: a[4] as number,
    user_id: a[5] === 0 ? (groupValues.user_id ?? "") : (a[5] as string),
    server: a[6] as string,
    tool: a[7] as string,
    method: a[8] === 0 ? "tools/call" : (a[8] as string),
    outcome: OUTCOMES[a[9] as number] ?? "success",
    schema_version: 1,
  };
  if (schema.sparse) decodeSparse(a, schema, event);
  else decodePositional(a, schema, event);
  const stored: StoredEvent = { seq: a[0] as number, event };
  const source = decodeSource(a[2]);
  if (source) stored.source = source;
  return stored;
}

function decodeSparse(a: unknown[], schema: Schema, event: ToolCallEvent): void {
  if (a.length === BASE) return;
  const head = a[BASE];
  if (
    typeof head !== "number" ||
    !Number.isSafeInteger(head) ||
    head < 1 ||
    head >= 2 ** schema.paths.length
  ) {
    throw new DecodeError(`stored event has no valid path mask: ${JSON.stringify(a).slice(0, 120)}`);
  }
  let mask = head;
  let next = BASE + 1;
  for (let i = 0; mask > 0; i++, mask = Math.floor(mask / 2)) {
    if (mask % 2 === 0) continue;
    if (next >= a.length)
      throw new DecodeError(`stored event lacks values its mask lists: ${JSON.stringify(a).slice(0, 120)}`);
    write(event, schema.paths[i]!, a[next++]);
  }
  if (next !== a.length)
    throw new DecodeError(
      `stored event has values its mask does not list: ${JSON.stringify(a).slice(0, 120)}`,
    );
}

function decodePositional(a: unknown[], schema: Schema, event: ToolCallEvent): void {
  const n = schema.paths.length;
  const zerosAt = a.length === BASE + n + 1 ? new Set((a[BASE + n] as { z: number[] }).z) : undefined;
  for (let i = 0; i < n && BASE + i < a.length; i++) {
    const v = a[BASE + i];
    if (v === 0 && !zerosAt?.has(i)) continue;
    write(event, schema.paths[i]!, v);
  }
}

function encodeSource(s: EventSource | undefined): unknown {
  if (!s) return 0;
  if ("line" in s) return [s.line];
  const n = Number(s.offset);
  return [s.topic, s.partition, Number.isSafeInteger(n) && String(n) === s.offset ? n : s.offset];
}

function decodeSource(v: unknown): EventSource | undefined {
  if (!Array.isArray(v)) return undefined;
  if (v.length === 1) return { line: v[0] as number };
  return { topic: v[0] as string, partition: v[1] as number, offset: String(v[2]) };
}

function read(e: ToolCallEvent, keys: readonly string[]): unknown {
  let v: unknown = e;
  for (const k of keys) {
    if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function write(e: ToolCallEvent, keys: readonly string[], value: unknown): void {
  let o = e as unknown as Record<string, unknown>;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    let next = Object.hasOwn(o, k) ? o[k] : undefined;
    if (typeof next !== "object" || next === null) {
      next = {};
      Object.defineProperty(o, k, { value: next, enumerable: true, writable: true, configurable: true });
    }
    o = next as Record<string, unknown>;
  }
  // defineProperty, not assignment: a stored key named "__proto__" stays a plain own property.
  Object.defineProperty(o, keys[keys.length - 1]!, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Marks: "consumed|lastAlert" with lastAlert empty for null. */
export function encodeMark(m: PatternMark): string {
  return `${m.consumed}|${m.lastAlert ?? ""}`;
}

export function decodeMark(raw: string): PatternMark {
  const [c, l] = raw.split("|");
  return { consumed: Number(c), lastAlert: l === undefined || l === "" ? null : Number(l) };
}

/**
 * Outbox entries: `[alerts, source?]` as JSON, deflated and base64-encoded behind a "z" tag. An alert
 * repeats its pattern, events and graph, so this takes it to about a third; entries are written once per
 * alert and read back only on re-delivery, so the CPU is spent rarely.
 */
export function encodeOutbox(o: OutboxEntry): string {
  const json = JSON.stringify(o.source ? [o.alerts, encodeSource(o.source)] : [o.alerts]);
  return `z${deflateRawSync(json).toString("base64")}`;
}

export function decodeOutbox(raw: string): OutboxEntry {
  const json = raw.startsWith("z")
    ? inflateRawSync(Buffer.from(raw.slice(1), "base64")).toString("utf8")
    : raw;
  const a = JSON.parse(json) as [OutboxEntry["alerts"], unknown?];
  const entry: OutboxEntry = { alerts: a[0] };
  const source = decodeSource(a[1]);
  if (source) entry.source = source;
  return entry;
}
