import { randomUUID } from "node:crypto";

/**
 * A UUIDv7 (RFC 9562): 48-bit epoch-ms prefix, so ids sort roughly by time, and 74 random bits from
 * node:crypto. Built on randomUUID, whose pooled entropy makes this a few hundred nanoseconds.
 */
export function uuidv7(now: number = Date.now()): string {
  const ts = now.toString(16).padStart(12, "0");
  const r = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V already the RFC variant
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${r.slice(15, 18)}-${r.slice(19)}`;
}
