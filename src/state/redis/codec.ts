import { createHash } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { EventSource, OutboxEntry, PatternMark, StoredEvent } from "../../engine/group-state.js";
import { OUTCOMES, type ToolCallEvent } from "../../events/schema.js";
import { remembered } from "./remembered.js";

/**
 * Compact encoding of stored events: the values of a fixed list of fields, no names, separated by US
 * (U+001F, the ASCII unit separator), which no plain text carries:
 *
 *   schemaId US seq+call US timestamp US event_id US server US tool [US user_id] [US method]
 *     US source [US mask US …present values]
 *
 * - Integers in base 36 (seq, Kafka partition and offset) or base 64 (`0-9A-Za-z-_`: the timestamp);
 *   any other number as a tagged JSON value (a timestamp with a fraction of a millisecond).
 * - `call`, upper-case letters right after the seq's base-36 digits, is empty for the common case:
 *   `user_id` the group's `user_id` value (grouping by user), method "tools/call", outcome success.
 *   Otherwise `U` (the user_id field follows), `M` (the method field follows), then `E` (error) or `D`
 *   (denied).
 * - `source`: empty (none), `partition.offset` when the topic is the schema's (the input topic,
 *   interned), `partition.offset.topic` otherwise, or a tagged JSON object (a replay line, or Kafka
 *   coordinates outside the integer forms). One field: the base-36 numbers hold no dot.
 * - `mask`: which of the schema's paths are present, 5 paths per base-32 digit, lowest paths first; the
 *   present values follow in path order. An event with none of the paths ends after its source.
 * - Strings are written as they are. A field starting with RS (U+001E) is tagged: `RS u` + base64url
 *   of a lowercase UUID's 16 bytes; `RS x` + [prefix `.`] + base64url of a trailing run of at least 16
 *   lowercase hex digits (`sha256:<hex>` hashes, hex ids); otherwise `RS` + a JSON value (numbers,
 *   booleans, null, objects, arrays, and strings that hold US, start with RS or have a lone surrogate,
 *   which UTF-8 could not carry). So every string is told apart from every other value exactly.
 *
 * A schema is the list of extra paths (top-level paths first: most events carry a few of them, so
 * their mask digit stays low) and the input topic when the store knows it; its id is a short hash.
 * Schemas are kept in a registry (a Redis hash), so a pattern reload (new paths) never misreads events
 * stored under the old schema, and another process or a restart finds the interned topic.
 *
 * Earlier versions wrote JSON arrays (`[seq, schemaId, …]`) under `positional` and `sparse` schemas;
 * those still decode (the registry entry tells the kinds apart: a plain array, `{"s":…}`, and
 * `{"c":…,"t":topic}` for compact; the id hashes the entry). An older chainwatch cannot read compact
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

/** A sparse mask of this many bits is still an exact integer (a JSON number). */
export const MAX_SPARSE_PATHS = 52;

/** `compact` is what is written; the JSON kinds of earlier versions are only read. */
export type SchemaKind = "compact" | "sparse" | "positional";

export interface Schema {
  id: string;
  paths: string[][];
  /** Dotted form, for storing. */
  dotted: string[];
  kind: SchemaKind;
  /** Interned: an event read from it stores an empty topic (compact only). */
  topic?: string;
}

export function schemaFor(fields: Iterable<string>, topic?: string): Schema {
  const base = new Set<string>(BASE_FIELDS);
  const all = [...new Set(fields)].filter((f) => f.length > 0 && !base.has(f));
  // A path under another kept path is covered by it ("arguments" keeps "arguments.to").
  const dotted = all.filter((p) => !all.some((q) => q !== p && p.startsWith(`${q}.`)));
  dotted.sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
  return schemaOf(dotted, "compact", topic);
}

function depth(path: string): number {
  return path.split(".").length;
}

export function schemaOf(dotted: string[], kind: SchemaKind, topic?: string): Schema {
  const schema: Schema = { id: "", dotted, paths: dotted.map((p) => p.split(".")), kind };
  if (topic !== undefined && kind === "compact") schema.topic = topic;
  schema.id = createHash("sha1").update(registryEntry(schema)).digest("base64url").slice(0, 6);
  return schema;
}

/** The schema's entry in the registry (`<prefix>schemas`). */
export function registryEntry(schema: Schema): string {
  if (schema.kind === "positional") return JSON.stringify(schema.dotted);
  return JSON.stringify(
    schema.kind === "sparse" ? { s: schema.dotted } : { c: schema.dotted, t: schema.topic },
  );
}

/** A schema from its registry entry; DecodeError when the entry is not one. */
export function schemaFromRegistry(json: string): Schema {
  const v = JSON.parse(json) as unknown;
  const isPaths = (x: unknown): x is string[] => Array.isArray(x) && x.every((p) => typeof p === "string");
  if (isPaths(v)) return schemaOf(v, "positional");
  if (typeof v === "object" && v !== null) {
    const { s, c, t } = v as { s?: unknown; c?: unknown; t?: unknown };
    if (isPaths(c) && (t === undefined || typeof t === "string")) return schemaOf(c, "compact", t);
    if (isPaths(s) && s.length <= MAX_SPARSE_PATHS) return schemaOf(s, "sparse");
  }
  throw new DecodeError(`schema registry entry is not a list of paths: ${json.slice(0, 120)}`);
}

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

const US = "\u001f";
const RS = "\u001e";
const DIGITS = "0123456789abcdefghijklmnopqrstuv";
const DIGITS64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
/** The call flag per outcome index (success has none). */
const OUTCOME_FLAGS = ["", "E", "D"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A shorter hex run saves too little for its tag. */
const MIN_HEX = 16;
/** Fields up to and including the first of the source. */
const COMPACT_BASE = 7;

export function encodeEvent(
  stored: StoredEvent,
  schema: Schema,
  groupValues: Record<string, string>,
): string {
  if (schema.kind !== "compact") throw new Error(`${schema.kind} schemas are read, not written`);
  const e = stored.event;
  if (!Number.isSafeInteger(stored.seq) || stored.seq < 0)
    throw new RangeError(`stored event seq must be a non-negative integer, got ${stored.seq}`);
  const outcome = OUTCOMES.indexOf(e.outcome);
  const ownUser = e.user_id !== groupValues.user_id;
  const ownMethod = e.method !== "tools/call";
  const call = `${ownUser ? "U" : ""}${ownMethod ? "M" : ""}${outcome > 0 ? OUTCOME_FLAGS[outcome] : ""}`;
  const out = [
    schema.id,
    stored.seq.toString(36) + call,
    time(e.timestamp),
    text(e.event_id),
    nameText(e.server),
    nameText(e.tool),
  ];
  if (ownUser) out.push(text(e.user_id));
  if (ownMethod) out.push(text(e.method));
  encodeSource(stored.source, schema, out);
  // The mask, one base-32 digit per five paths (trailing zero digits left out), then the values.
  const paths = schema.paths;
  let mask = "";
  let zeroDigits = 0;
  let values = "";
  for (let d = 0; d * 5 < paths.length; d++) {
    let bits = 0;
    for (let b = 0, i = d * 5; b < 5 && i < paths.length; b++, i++) {
      const v = read(e, paths[i]!);
      if (v === undefined) continue;
      bits |= 1 << b;
      values += US + (typeof v === "string" ? text(v) : RS + JSON.stringify(v));
    }
    if (bits === 0) zeroDigits++;
    else {
      mask += DIGITS[0]!.repeat(zeroDigits) + DIGITS[bits];
      zeroDigits = 0;
    }
  }
  const head = out.join(US);
  return values === "" ? head : head + US + mask + values;
}

/**
 * Epoch milliseconds in base 64 (7 digits until the year 2109, one fewer than base 36; every stored
 * event has one); any other number as a tagged JSON value.
 */
function time(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) return RS + JSON.stringify(n);
  let out = "";
  do {
    out = DIGITS64[n % 64]! + out;
    n = Math.floor(n / 64);
  } while (n > 0);
  return out;
}

function unTime(f: string): number {
  if (f.startsWith(RS)) return unInt(f);
  let n = 0;
  for (let i = 0; i < f.length; i++) {
    const d = DIGITS64.indexOf(f[i]!);
    if (d < 0) badField(f);
    n = n * 64 + d;
  }
  return f === "" || !Number.isSafeInteger(n) ? badField(f) : n;
}

/**
 * `text` of server and tool names, remembered: a deployment has a few hundred of them and every event
 * carries two (event ids, unique per event, are not worth remembering).
 */
const nameText = remembered((s: string) => text(s), 10_000);

function text(s: string): string {
  if (s.length === 36 && UUID.test(s))
    return `${RS}u${Buffer.from(s.replaceAll("-", ""), "hex").toString("base64url")}`;
  let start = s.length;
  while (start > 0 && isHex(s.charCodeAt(start - 1))) start--;
  if ((s.length - start) % 2 === 1) start++;
  if (s.length - start >= MIN_HEX && plain(s.slice(0, start))) {
    const bytes = Buffer.from(s.slice(start), "hex").toString("base64url");
    return start === 0 ? `${RS}x${bytes}` : `${RS}x${s.slice(0, start)}.${bytes}`;
  }
  return plain(s) && !s.startsWith(RS) ? s : RS + JSON.stringify(s);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

function plain(s: string): boolean {
  return !s.includes(US) && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function encodeSource(s: EventSource | undefined, schema: Schema, out: string[]): void {
  if (!s) out.push("");
  else if (
    "line" in s ||
    !Number.isSafeInteger(s.partition) ||
    s.partition < 0 ||
    !canonicalOffset(s.offset)
  ) {
    const { line, topic, partition, offset } = s as {
      line?: number;
      topic?: string;
      partition?: number;
      offset?: string;
    };
    out.push(RS + JSON.stringify(line !== undefined ? { line } : { topic, partition, offset }));
  } else {
    const where = `${s.partition.toString(36)}.${Number(s.offset).toString(36)}`;
    // Interned topic: nothing more. Another topic follows the second dot (a topic may hold dots).
    out.push(s.topic === schema.topic ? where : `${where}.${s.topic === "" ? `${RS}""` : text(s.topic)}`);
  }
}

function canonicalOffset(offset: string): boolean {
  const n = Number(offset);
  return Number.isSafeInteger(n) && n >= 0 && String(n) === offset;
}

/** The raw fields of a stored event, and its schema id (to find the schema before decoding). */
export function parseStored(raw: string): unknown[] {
  if (raw.startsWith("[")) {
    const a = JSON.parse(raw) as unknown;
    if (!Array.isArray(a) || a.length < JSON_BASE || typeof a[1] !== "string") {
      throw new DecodeError(`stored event is not an event array: ${raw.slice(0, 120)}`);
    }
    return a;
  }
  const a = raw.split(US);
  if (a.length < COMPACT_BASE) throw new DecodeError(`stored event has too few fields: ${show(raw)}`);
  return a;
}

export function schemaIdOf(a: unknown[]): string {
  return (typeof a[0] === "string" ? a[0] : a[1]) as string;
}

export function decodeEvent(a: unknown[], schema: Schema, groupValues: Record<string, string>): StoredEvent {
  const compact = typeof a[0] === "string";
  if (compact !== (schema.kind === "compact")) {
    throw new DecodeError(`stored event does not have the form of its ${schema.kind} schema ${schema.id}`);
  }
  return compact ? decodeCompact(a as string[], schema, groupValues) : decodeJson(a, schema, groupValues);
}

function decodeCompact(a: string[], schema: Schema, groupValues: Record<string, string>): StoredEvent {
  let i = 1;
  const next = (): string => {
    if (i >= a.length) throw new DecodeError(`stored event ends early: ${show(a.join(US))}`);
    return a[i++]!;
  };
  const call = /^([0-9a-z]+)(U?)(M?)([ED]?)$/.exec(next()) ?? badField(a[i - 1]!);
  const seq = Number.parseInt(call[1]!, 36);
  const timestamp = unTime(next());
  const eventId = unText(next());
  const server = unText(next());
  const tool = unText(next());
  const event: ToolCallEvent = {
    event_id: eventId,
    timestamp,
    user_id: call[2] ? unText(next()) : (groupValues.user_id ?? ""),
    server,
    tool,
    method: call[3] ? unText(next()) : "tools/call",
    outcome: OUTCOMES[Math.max(0, OUTCOME_FLAGS.indexOf(call[4]!))]!,
    schema_version: 1,
  };
  const stored: StoredEvent = { seq, event };
  const source = next();
  if (source.startsWith(RS)) stored.source = unSource(json(source.slice(1)));
  else if (source !== "") {
    const where = /^([0-9a-z]+)\.([0-9a-z]+)(?:\.(.*))?$/s.exec(source) ?? badField(source);
    const topic = where[3] !== undefined ? unText(where[3]) : (schema.topic ?? badField(source));
    stored.source = { topic, partition: unInt(where[1]!), offset: String(unInt(where[2]!)) };
  }
  if (i === a.length) return stored;
  const mask = next();
  if (mask === "") badField(mask);
  for (let d = 0; d < mask.length; d++) {
    const bits = DIGITS.indexOf(mask[d]!);
    if (bits <= 0 && (bits < 0 || d === mask.length - 1)) badField(mask);
    for (let b = 0; b < 5; b++) {
      if ((bits & (1 << b)) === 0) continue;
      const path = schema.paths[d * 5 + b];
      if (!path) badField(mask);
      write(event, path, unValue(next()));
    }
  }
  if (i !== a.length)
    throw new DecodeError(`stored event has values its mask does not list: ${show(a.join(US))}`);
  return stored;
}

function unInt(f: string): number {
  if (f.startsWith(RS)) {
    const n = json(f.slice(1));
    if (typeof n === "number") return n;
  } else if (/^[0-9a-z]+$/.test(f)) return Number.parseInt(f, 36);
  return badField(f);
}

function unText(f: string): string {
  const v = unValue(f);
  return typeof v === "string" ? v : badField(f);
}

function unValue(f: string): unknown {
  if (!f.startsWith(RS)) return f;
  if (f[1] === "u") {
    const h = hexOf(f.slice(2));
    if (h.length !== 32) badField(f);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (f[1] === "x") {
    const dot = f.lastIndexOf(".");
    const h = hexOf(f.slice(dot < 0 ? 2 : dot + 1));
    if (h.length < MIN_HEX) badField(f);
    return dot < 0 ? h : f.slice(2, dot) + h;
  }
  return json(f.slice(1));
}

function hexOf(b64: string): string {
  return /^[\w-]*$/.test(b64) ? Buffer.from(b64, "base64url").toString("hex") : "";
}

function unSource(v: unknown): EventSource {
  if (typeof v === "object" && v !== null) {
    const s = v as Record<string, unknown>;
    if (typeof s.line === "number") return { line: s.line };
    if (typeof s.topic === "string" && typeof s.partition === "number" && typeof s.offset === "string") {
      return { topic: s.topic, partition: s.partition, offset: s.offset };
    }
  }
  return badField(JSON.stringify(v));
}

function json(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return badField(s);
  }
}

function badField(f: string): never {
  throw new DecodeError(`stored event has a malformed field: ${show(f)}`);
}

function show(s: string): string {
  return JSON.stringify(s.slice(0, 120));
}

/**
 * JSON arrays of earlier versions:
 *   [seq, schemaId, source, event_id, timestamp, user_id, server, tool, method, outcome, ...extras]
 * `source` 0 | [line] | [topic, partition, offset]; `user_id` and `method` 0 for the default;
 * `outcome` an index. Extras: `sparse` has a bit mask of the present paths and then their values (none
 * of either when none is present); `positional` one value per path, `0` for absent, trailing absent
 * values cut, a real numeric 0 listed in one more trailing `{"z":[indices]}` element.
 */
const JSON_BASE = 10;

function decodeJson(a: unknown[], schema: Schema, groupValues: Record<string, string>): StoredEvent {
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
  if (schema.kind === "sparse") decodeSparse(a, schema, event);
  else decodePositional(a, schema, event);
  const stored: StoredEvent = { seq: a[0] as number, event };
  const source = decodeSource(a[2]);
  if (source) stored.source = source;
  return stored;
}

function decodeSparse(a: unknown[], schema: Schema, event: ToolCallEvent): void {
  if (a.length === JSON_BASE) return;
  const head = a[JSON_BASE];
  if (
    typeof head !== "number" ||
    !Number.isSafeInteger(head) ||
    head < 1 ||
    head >= 2 ** schema.paths.length
  ) {
    throw new DecodeError(`stored event has no valid path mask: ${JSON.stringify(a).slice(0, 120)}`);
  }
  let mask = head;
  let next = JSON_BASE + 1;
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
  const zerosAt =
    a.length === JSON_BASE + n + 1 ? new Set((a[JSON_BASE + n] as { z: number[] }).z) : undefined;
  for (let i = 0; i < n && JSON_BASE + i < a.length; i++) {
    const v = a[JSON_BASE + i];
    if (v === 0 && !zerosAt?.has(i)) continue;
    write(event, schema.paths[i]!, v);
  }
}

/** Sources in outbox entries (and in stored events of earlier versions). */
function encodeJsonSource(s: EventSource | undefined): unknown {
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
      put(o, k, next);
    }
    o = next as Record<string, unknown>;
  }
  put(o, keys[keys.length - 1]!, value);
}

function put(o: Record<string, unknown>, key: string, value: unknown): void {
  // "__proto__" is the one accessor objects inherit: assigning it would set the prototype instead of
  // making the plain own property the event had.
  if (key !== "__proto__") o[key] = value;
  else Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
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
  const json = JSON.stringify(o.source ? [o.alerts, encodeJsonSource(o.source)] : [o.alerts]);
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
