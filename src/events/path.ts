import type { ToolCallEvent } from "./schema.js";

/** Splits a dotted field path once, so the hot path only walks arrays of keys. */
export function compilePath(path: string): string[] {
  return path.split(".");
}

/**
 * Reads a dotted path (`arguments.to`, `hitl.approved`) from an event.
 * Only own properties are followed, so `__proto__`-shaped paths never reach a prototype.
 * Returns `undefined` when the path is absent; `null` inside arguments/result is a present value.
 */
export function readPath(event: ToolCallEvent, keys: readonly string[]): unknown {
  let v: unknown = event;
  for (const k of keys) {
    if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
