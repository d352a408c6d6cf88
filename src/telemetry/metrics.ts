import { type Attributes, metrics } from "@opentelemetry/api";

/**
 * The service's instruments, recorded through @opentelemetry/api only. The SDK MeterProvider and the
 * Prometheus reader are wired by the app (src/telemetry/http.ts, `chainwatch run`); without them
 * every instrument is a no-op, which is what tests and library users get.
 */
export function createStreamMetrics() {
  const meter = metrics.getMeter("chainwatch");
  const instruments = {
    eventsIn: meter.createCounter("chainwatch_events_in", {
      description: "Messages read from the input topic",
    }),
    invalid: meter.createCounter("chainwatch_events_invalid", {
      description: "Invalid events sent to the DLQ",
    }),
    duplicates: meter.createCounter("chainwatch_events_duplicate", {
      description: "Events whose event_id was already seen",
    }),
    tooLate: meter.createCounter("chainwatch_events_too_late", {
      description: "Events older than the group's window when they arrived",
    }),
    evicted: meter.createCounter("chainwatch_events_evicted", {
      description: "Stored events evicted by the per-group bound",
    }),
    alerts: meter.createCounter("chainwatch_alerts", {
      description: "Alerts produced (attributes: pattern, severity)",
    }),
    republished: meter.createCounter("chainwatch_alerts_republished", {
      description: "Alerts re-published from the outbox for re-delivered events",
    }),
    redelivered: meter.createCounter("chainwatch_events_redelivered_committed", {
      description: "Re-delivered messages skipped because the partition's committed offset covers them",
    }),
    batchLatency: meter.createHistogram("chainwatch_batch_duration", {
      description: "Time from batch start to Kafka transaction commit",
      unit: "ms",
      advice: { explicitBucketBoundaries: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] },
    }),
    batchSize: meter.createHistogram("chainwatch_batch_messages", {
      description: "Messages per processed batch",
      advice: { explicitBucketBoundaries: [1, 10, 50, 100, 250, 500, 1000, 5000] },
    }),
    consumerLag: meter.createGauge("chainwatch_consumer_lag", {
      description: "Messages behind the partition's high watermark after a batch",
    }),
    redisRoundTrips: meter.createCounter("chainwatch_redis_round_trips", {
      description: "State store round trips (load + save)",
    }),
    stateErrors: meter.createCounter("chainwatch_state_errors", {
      description: "State store failures (attribute kind: unavailable, conflict)",
    }),
    commitErrors: meter.createCounter("chainwatch_kafka_commit_errors", {
      description: "Kafka transactions aborted",
    }),
    reloads: meter.createCounter("chainwatch_pattern_reloads", {
      description: "Pattern reloads on SIGHUP (attribute result: ok, error)",
    }),
  };
  // The counters without attributes are exported from the start, at 0: a dashboard or an alert rule
  // on `chainwatch_events_invalid_total` finds the series before the first invalid event.
  for (const counter of [
    instruments.eventsIn,
    instruments.invalid,
    instruments.duplicates,
    instruments.tooLate,
    instruments.evicted,
    instruments.republished,
    instruments.redelivered,
    instruments.redisRoundTrips,
    instruments.commitErrors,
  ])
    counter.add(0);
  return instruments;
}

export type StreamMetrics = ReturnType<typeof createStreamMetrics>;
export type { Attributes };
