import { z } from "zod";

/** Alert, version 1 (shared/spec/alerts.md): the single source of the alert's JSON Schema. */

const rfc3339 = z.iso.datetime({ offset: true });

export const eventSourceSchema = z.union([
  z
    .object({ topic: z.string(), partition: z.number().int().nonnegative(), offset: z.string() })
    .strict()
    .describe("Kafka coordinates the event was read at (the service)."),
  z
    .object({ line: z.number().int().positive() })
    .strict()
    .describe("Line number of the event in the input (replay)."),
]);

export const alertSchema = z
  .object({
    alert_id: z
      .string()
      .regex(/^[0-9a-f]{32}$/, "expected 32 lowercase hex")
      .describe("Deterministic id (patterns.md rule 5); subscribers de-duplicate on it."),
    pattern: z
      .object({
        id: z.string().min(1),
        version: z.number().int().positive(),
        title: z.string(),
        severity: z.enum(["low", "medium", "high", "critical"]),
        tags: z.array(z.string()),
      })
      .strict(),
    group: z.record(z.string(), z.string()).describe("The group values, e.g. { user_id: 'u-481' }."),
    trigger_event_id: z.string().min(1).describe("The event whose arrival fired the alert."),
    first_seen: rfc3339.describe("Earliest matched event time, RFC 3339 UTC."),
    last_seen: rfc3339.describe("Latest matched event time, RFC 3339 UTC."),
    detected_at: rfc3339.describe("Processing time when the alert was made, RFC 3339 UTC."),
    steps: z
      .array(z.object({ step: z.string(), event_ids: z.array(z.string()).min(1) }).strict())
      .min(1)
      .describe("Per step, in the pattern's step order, the matched event ids."),
    events: z
      .array(
        z
          .object({
            event_id: z.string(),
            timestamp: rfc3339,
            step: z.string(),
            server: z.string(),
            tool: z.string(),
            session_id: z.string().optional(),
            agent_id: z.string().optional(),
            source: eventSourceSchema.optional(),
          })
          .strict(),
      )
      .min(1)
      .describe("The matched events, compact, in (timestamp, arrival) order."),
    graph: z
      .object({
        nodes: z.array(z.object({ id: z.string(), step: z.string(), tool: z.string() }).strict()),
        edges: z.array(z.object({ from: z.string(), to: z.string() }).strict()),
      })
      .strict()
      .describe("The matched subgraph: one node per event, the order edges realised between them."),
    summary: z.string().describe("One line for humans."),
    schema_version: z.literal(1),
  })
  .strict()
  .describe("chainwatch alert, version 1");
