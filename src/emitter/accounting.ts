import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";

export interface DeliveryStats {
  /** Events handed to the emitter (one per tool call). */
  emitted: number;
  /** Events the broker acknowledged. */
  sent: number;
  /** Events lost: queue full, a batch the broker refused for good, or still queued when close() gave up. */
  dropped: number;
  /** Events sent with the placeholder user id. */
  anonymous: number;
  /** Events waiting in memory now. */
  queued: number;
  /** Failed produce attempts (each retried, unless the error is permanent). */
  sendErrors: number;
}

/**
 * The emitter's OTel counters. Made when a server is instrumented, not when this module loads: the
 * metrics API has no proxy, so a meter taken before the application registers its MeterProvider
 * would stay a no-op forever.
 */
function makeCounters() {
  const meter = metrics.getMeter("chainwatch-emitter");
  return {
    dropped: meter.createCounter("chainwatch.emitter.events.dropped", {
      description: "Tool-call events the emitter could not deliver",
    }),
    sent: meter.createCounter("chainwatch.emitter.events.sent", {
      description: "Tool-call events acknowledged by Kafka",
    }),
    anonymous: meter.createCounter("chainwatch.emitter.events.anonymous", {
      description: "Tool-call events sent without a known user",
    }),
  };
}

/** What a delivery path counts, as stats and OTel counters, and its rate-limited warning about drops. */
export class DeliveryAccounting {
  readonly counts = { emitted: 0, sent: 0, dropped: 0, anonymous: 0, sendErrors: 0 };
  private readonly otel = makeCounters();
  private lastWarnAt = 0;
  private droppedSinceWarn = 0;

  constructor(
    private readonly logger: Logger,
    private readonly warnIntervalMs: number,
    private readonly queueSize: number,
  ) {}

  emitted(anonymous: boolean): void {
    this.counts.emitted++;
    if (anonymous) {
      this.counts.anonymous++;
      this.otel.anonymous.add(1);
    }
  }

  sent(n: number): void {
    this.counts.sent += n;
    this.otel.sent.add(n);
  }

  stats(queued: number): DeliveryStats {
    return { ...this.counts, queued };
  }

  /** Counts lost events; warns at most once per interval ("rejected" ones are logged by the sender). */
  drop(n: number, reason: string): void {
    this.counts.dropped += n;
    this.droppedSinceWarn += n;
    this.otel.dropped.add(n, { reason });
    const now = Date.now();
    if (now - this.lastWarnAt >= this.warnIntervalMs) {
      this.logger.warn(
        {
          dropped: this.droppedSinceWarn,
          droppedTotal: this.counts.dropped,
          reason,
          queueSize: this.queueSize,
        },
        "chainwatch emitter is dropping tool-call events (Kafka slow or unreachable)",
      );
      this.lastWarnAt = now;
      this.droppedSinceWarn = 0;
    }
  }
}

/** Errors that retrying cannot fix (a message too large, no such topic without auto-create, auth). */
export function isPermanent(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { retriable?: unknown; name?: unknown; type?: unknown };
  if (e.name === "KafkaJSProtocolError" && e.retriable === false) return true;
  return (
    e.type === "MESSAGE_TOO_LARGE" ||
    e.type === "RECORD_LIST_TOO_LARGE" ||
    e.type === "TOPIC_AUTHORIZATION_FAILED"
  );
}

export const MIN_BACKOFF_MS = 100;
export const MAX_BACKOFF_MS = 5_000;
