import type { Config } from "../../config/load.js";
import type { ChunkMessage, ChunkResult } from "../chunk-work.js";
import type { PatternSources } from "../state-setup.js";

/** What a batch worker starts with (`workerData`). */
export interface WorkerInit {
  index: number;
  config: Config;
  patterns: PatternSources;
}

/**
 * A chunk in transit: every value in one transferred buffer (moved, not copied, to the worker),
 * `ends[i]` where value i ends in it (-1: no value; it starts where the last value before it ended).
 */
export interface ChunkRequest {
  op: "chunk";
  id: number;
  topic: string;
  partition: number;
  data: ArrayBuffer;
  ends: Int32Array;
  offsets: string[];
  /** Per message, when any message has the header. */
  traceparents?: Array<string | undefined>;
}

export type ToWorker =
  | ChunkRequest
  | { op: "reload"; id: number; patterns: PatternSources }
  | { op: "close"; id: number };

export interface WireError {
  name: string;
  message: string;
  /** StateConflictError's keys. */
  keys?: string[];
  /** Where it was thrown, in the worker (for the logs). */
  stack?: string;
}

export type FromWorker =
  | { op: "ready" }
  | { op: "failed"; error: WireError }
  | { op: "done"; id: number; result?: ChunkResult; error?: WireError };

export function encodeChunk(
  id: number,
  messages: readonly ChunkMessage[],
): { request: ChunkRequest; transfer: ArrayBuffer[] } {
  const n = messages.length;
  let total = 0;
  let anyTrace = false;
  for (const m of messages) {
    total += m.value?.length ?? 0;
    if (m.headers.traceparent !== undefined) anyTrace = true;
  }
  const data = new ArrayBuffer(total);
  const bytes = new Uint8Array(data);
  const ends = new Int32Array(n);
  const offsets: string[] = new Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    offsets[i] = m.offset;
    if (m.value === null) {
      ends[i] = -1;
      continue;
    }
    bytes.set(m.value, at);
    at += m.value.length;
    ends[i] = at;
  }
  const first = messages[0];
  const request: ChunkRequest = {
    op: "chunk",
    id,
    topic: first?.topic ?? "",
    partition: first?.partition ?? 0,
    data,
    ends,
    offsets,
  };
  if (anyTrace) request.traceparents = messages.map((m) => m.headers.traceparent);
  return { request, transfer: [data, ends.buffer as ArrayBuffer] };
}

const NO_HEADERS: ChunkMessage["headers"] = Object.freeze({});

export function decodeChunk(r: ChunkRequest): ChunkMessage[] {
  const out: ChunkMessage[] = new Array(r.offsets.length);
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    const end = r.ends[i]!;
    const value = end < 0 ? null : Buffer.from(r.data, start, end - start);
    if (end >= 0) start = end;
    const traceparent = r.traceparents?.[i];
    // Most messages have no header: they share one empty record (the work only reads it).
    const headers = traceparent === undefined ? NO_HEADERS : { traceparent };
    out[i] = { topic: r.topic, partition: r.partition, offset: r.offsets[i]!, value, headers };
  }
  return out;
}

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const wire: WireError = { name: err.name, message: err.message };
  if (err.stack) wire.stack = err.stack;
  const keys = (err as { keys?: unknown }).keys;
  if (Array.isArray(keys)) wire.keys = keys.map(String);
  return wire;
}
