import { z } from "zod";

/** The single source of the tool-call audit event contract (shared/spec/events.md, version 1). */

export const OUTCOMES = ["success", "error", "denied"] as const;
export const RISK_LEVELS = ["low", "medium", "high", "critical"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** "required" for a missing field (or envelope null); zod's own message otherwise. */
const requiredError = (issue: { input?: unknown }) => (issue.input === undefined ? "required" : undefined);

const boundedString = (max: number) =>
  z.string({ error: requiredError }).min(1, "must not be empty").max(max, `longer than ${max} chars`);

const TIMESTAMP_ERROR = "expected RFC 3339 or epoch ms";
/**
 * The last instant RFC 3339 can write (its years have four digits): alerts carry event times as RFC
 * 3339 text, so a later one (an epoch in µs or ns sent as ms, a year-10000 offset) is refused here.
 */
export const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const TIMESTAMP_RANGE_ERROR = "after 9999-12-31T23:59:59.999Z (epoch ms, not µs or ns?)";
export const timestampSchema = z.union(
  [
    z.iso.datetime({ offset: true, error: TIMESTAMP_ERROR }),
    z
      .number({ error: TIMESTAMP_ERROR })
      .finite({ error: TIMESTAMP_ERROR })
      .nonnegative({ error: TIMESTAMP_ERROR })
      .max(MAX_TIMESTAMP_MS, { error: TIMESTAMP_RANGE_ERROR }),
  ],
  {
    error: (issue) =>
      requiredError(issue) ??
      (typeof issue.input === "number" && issue.input > MAX_TIMESTAMP_MS
        ? TIMESTAMP_RANGE_ERROR
        : TIMESTAMP_ERROR),
  },
);

export const hitlSchema = z.object({
  required: z.boolean(),
  approved: z.boolean().nullable(),
});

/** Wire shape of an event. Unknown top-level fields are stripped, never rejected. */
export const eventSchema = z
  .object({
    event_id: boundedString(128).describe("Unique id of this event; the idempotency key."),
    timestamp: timestampSchema.describe(
      "When the server received the call: RFC 3339 with offset, or epoch ms.",
    ),
    user_id: boundedString(256).describe("The end user on whose behalf the agent acted (OTel user.id)."),
    server: boundedString(256).describe("MCP server name."),
    tool: boundedString(256).describe("Tool name (OTel gen_ai.tool.name)."),
    method: z.string().default("tools/call").describe("MCP method (OTel mcp.method.name)."),
    session_id: z.string().optional().describe("MCP session (OTel mcp.session.id)."),
    agent_id: z.string().optional().describe("The agent / client (OTel gen_ai.agent.id)."),
    outcome: z.enum(OUTCOMES).default("success").describe("How the call ended."),
    duration_ms: z.number().finite().nonnegative().optional().describe("Call duration in ms."),
    arguments: z.record(z.string(), z.unknown()).optional().describe("Arguments after redaction."),
    arguments_hash: z.string().optional().describe("Hash of the canonical full arguments."),
    result: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Selected result fields for data-flow joins, and `text`, the output text."),
    result_summary: z.string().max(1024, "longer than 1024 chars").optional(),
    risk_level: z.enum(RISK_LEVELS).optional().describe("The server's own risk class of this tool."),
    hitl: hitlSchema.optional().describe("Human-in-the-loop gate state for this call."),
    categories: z.array(z.string()).optional().describe("Categories the emitter already knows."),
    trace_id: z
      .string()
      .regex(/^[0-9a-f]{32}$/, "expected 32 lowercase hex")
      .optional(),
    span_id: z
      .string()
      .regex(/^[0-9a-f]{16}$/, "expected 16 lowercase hex")
      .optional(),
    labels: z.record(z.string(), z.string()).optional().describe("Free-form tags."),
    schema_version: z.literal(1).default(1),
  })
  .describe("chainwatch tool-call audit event, version 1");

export type EventInput = z.input<typeof eventSchema>;

/** A validated event with defaults applied and `timestamp` as epoch ms. */
export interface ToolCallEvent {
  event_id: string;
  timestamp: number;
  user_id: string;
  server: string;
  tool: string;
  method: string;
  session_id?: string;
  agent_id?: string;
  outcome: Outcome;
  duration_ms?: number;
  arguments?: Record<string, unknown>;
  arguments_hash?: string;
  result?: Record<string, unknown>;
  result_summary?: string;
  risk_level?: RiskLevel;
  hitl?: { required: boolean; approved: boolean | null };
  categories?: string[];
  trace_id?: string;
  span_id?: string;
  labels?: Record<string, string>;
  schema_version: 1;
}
