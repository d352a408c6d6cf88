/**
 * Mends kafkajs 2.2.4's request queue, which re-arms a 1 ms timer for ever on every broker connection
 * once it has answered a request, even with nothing waiting to be sent (tulios/kafkajs#1556, #1704;
 * fixes proposed in #1667 and #1768, never released: kafkajs is in maintenance mode).
 *
 * Measured here: the emitter's producer thread spent ~30 ms of CPU per second on that timer with no
 * event to send, and woke ~1 000 times a second, on a core the MCP server's own thread needs. In
 * `chainwatch run` every consumer and transactional producer connection does the same.
 *
 * The check only ever matters while requests wait in `pending` (a full in-flight window or a broker's
 * throttle): a request pushed later schedules its own check, and every response runs one. So the
 * timer is armed only while something waits, exactly as before in that case.
 *
 * Applied once, on import, to kafkajs's shared `RequestQueue` class; a kafkajs whose queue has
 * another shape is left alone.
 */
import { createRequire } from "node:module";

/** What this file touches of kafkajs's (untyped, internal) RequestQueue. */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own interval between looks at a queue whose in-flight window is full. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;
const PATCHED = Symbol.for("chainwatch.kafkajs.requestQueueFix");

function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL,
  );
}

/** The kafkajs class this mends (exported for its test). */
export const RequestQueue = loadRequestQueue();

function loadRequestQueue(): (new (options: object) => RequestQueueInternals) | undefined {
  try {
    const require = createRequire(import.meta.url);
    return require("kafkajs/src/network/requestQueue/index.js");
  } catch {
    return undefined; // another kafkajs layout: nothing to mend
  }
}

/** True when kafkajs's queue is the mended one. */
export function requestQueueMended(): boolean {
  return (RequestQueue?.prototype as unknown as Record<symbol, boolean> | undefined)?.[PATCHED] === true;
}

const proto = RequestQueue?.prototype as (RequestQueueInternals & Record<symbol, boolean>) | undefined;
if (proto && !proto[PATCHED] && typeof proto.scheduleCheckPendingRequests === "function") {
  proto.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  proto[PATCHED] = true;
}
