import type { Redis } from "ioredis";
import { StateConflictError, StateUnavailableError } from "../store.js";

/**
 * Waits at most `timeoutMs` for the client to be ready (connecting a lazy one), so a call fails fast
 * with StateUnavailableError instead of queueing while Redis is away.
 */
export async function waitReady(redis: Redis, timeoutMs: number, lastError?: Error): Promise<void> {
  if (redis.status === "ready") return;
  if (redis.status === "end") throw new StateUnavailableError("Redis connection is closed");
  if (redis.status === "wait") redis.connect().catch(() => {});
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("error", onError);
      redis.off("end", onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onError = (err: Error) => done(toStateError(err));
    const onEnd = () => done(new StateUnavailableError("Redis connection ended"));
    const timer = setTimeout(
      () => done(new StateUnavailableError(`Redis not ready after ${timeoutMs} ms`, { cause: lastError })),
      timeoutMs,
    );
    redis.on("ready", onReady);
    redis.on("error", onError);
    redis.on("end", onEnd);
  });
}

/** Redis replies that mean "not now" rather than "wrong request": the caller may retry. */
const TRANSIENT_REPLY = /^(OOM|READONLY|LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MOVED|ASK)\b/;

/**
 * Connection loss, timeouts and transient server replies become StateUnavailableError (the caller
 * retries with backoff); a reply rejecting the command for good (a bug) stays a plain Error.
 */
export function toStateError(err: unknown): Error {
  if (err instanceof StateUnavailableError || err instanceof StateConflictError) return err;
  if (err instanceof Error && err.name === "ReplyError" && !TRANSIENT_REPLY.test(err.message)) {
    return new Error(`Redis rejected a state command: ${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new StateUnavailableError(`Redis unavailable: ${message}`, { cause: err });
}
