import { z } from "zod";
import { eventSchema, RISK_LEVELS } from "../events/schema.js";

/**
 * The single source of the pattern language v1 (shared/spec/patterns.md) and the taxonomy file.
 * Structure only: checks that need the whole pattern (step references, cycles, regex safety) live in
 * check.ts. Objects are strict because a typo in a key must be an error, never a silently dropped check.
 */

export const MAX_STEPS = 16;
export const MAX_COUNT_MIN = 10_000;
export const MAX_REGEX_LENGTH = 256;

// --- durations -----------------------------------------------------------------------------------

export const DURATION_RE = /^(0|[1-9][0-9]{0,9})(ms|s|m|h|d)$/;
const DURATION_MESSAGE =
  "expected a duration: an integer and a unit ms, s, m, h or d (500ms, 30s, 10m, 2h, 1d)";
export const duration = z.string().regex(DURATION_RE, DURATION_MESSAGE);

// --- field paths ---------------------------------------------------------------------------------

/** Object fields of the event whose members a path may address (`arguments.to`, `labels.tenant`). */
const OPEN_OBJECTS = ["arguments", "result"];
const SCALAR_FIELDS = Object.keys(eventSchema.shape).filter(
  (k) => !OPEN_OBJECTS.includes(k) && k !== "labels" && k !== "hitl",
);
export const EVENT_FIELDS: readonly string[] = Object.keys(eventSchema.shape);

/** Field paths into the event (events.md): envelope fields, `hitl.*`, `labels.<key>`, any depth below arguments/result. */
export const FIELD_PATH_RE = new RegExp(
  `^(?:${SCALAR_FIELDS.join("|")}|hitl(?:\\.(?:required|approved))?|labels(?:\\.[^.]+)?|(?:${OPEN_OBJECTS.join("|")})(?:\\.[^.]+)*)$`,
);
const FIELD_PATH_MESSAGE = `expected an event field path (${SCALAR_FIELDS.slice(0, 6).join(", ")}, …, hitl.approved, labels.<key>, arguments.<path>, result.<path>)`;
export const fieldPath = z.string().regex(FIELD_PATH_RE, FIELD_PATH_MESSAGE);

/** A `where` key: a field path or the virtual `category`. */
export const WHERE_KEY_RE = new RegExp(`^(?:category|${FIELD_PATH_RE.source.slice(1, -1)})$`);
const whereKey = z
  .string()
  .regex(WHERE_KEY_RE, `expected "category" or an event field path (tool, arguments.to, hitl.approved, …)`);

// --- where ---------------------------------------------------------------------------------------

export type Scalar = string | number | boolean | null;
export type JsonValue = Scalar | JsonValue[] | { [key: string]: JsonValue };
/** A literal (equality) or an operator object. */
export type Condition = Scalar | JsonValue[] | Operators;
export interface Operators {
  in?: JsonValue[];
  glob?: string;
  regex?: string;
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
  exists?: boolean;
  contains?: Scalar;
  not?: Condition;
  any?: Condition[];
  all?: Condition[];
}
export type Where = Record<string, Condition>;

export const OPERATOR_NAMES = [
  "in",
  "glob",
  "regex",
  "gt",
  "gte",
  "lt",
  "lte",
  "exists",
  "contains",
  "not",
  "any",
  "all",
] as const;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const jsonValue = z.json();
/** A number, or on `risk_level` a level name (ordinal low < medium < high < critical). */
const comparand = z.union([z.number(), z.enum(RISK_LEVELS)]);

export const condition: z.ZodType<Condition> = z.lazy(() =>
  z
    .union([scalar, z.array(jsonValue), operators])
    .describe("A literal (JSON-typed equality) or an operator object."),
);

const operators: z.ZodType<Operators> = z.lazy(() =>
  z
    .strictObject({
      in: z.array(jsonValue).describe("Equal to one of these values."),
      glob: z
        .string()
        .min(1)
        .describe("Shell-style glob (*, ?, [abc]); * and ? also match /; case-sensitive."),
      regex: z
        .string()
        .min(1)
        .max(MAX_REGEX_LENGTH, `longer than ${MAX_REGEX_LENGTH} chars`)
        .describe("ECMAScript regex, unanchored; no nested quantifiers."),
      gt: comparand,
      gte: comparand,
      lt: comparand,
      lte: comparand,
      exists: z.boolean().describe("The path is present (true) / absent (false)."),
      contains: scalar.describe("Substring of a string, or element of an array."),
      not: condition,
      any: z.array(condition).min(1, "expected at least one condition"),
      all: z.array(condition).min(1, "expected at least one condition"),
    })
    .partial()
    .refine((o) => Object.keys(o).length > 0, {
      message: `expected at least one operator (${OPERATOR_NAMES.join(", ")})`,
      // an unknown key is already reported; "no operator" on top of it would only confuse
      when: (payload) => payload.issues.length === 0,
    })
    .describe("Operators; several keys are the AND of them."),
);

export const whereSchema = z
  .record(whereKey, condition)
  .describe("Every key must hold (AND): field paths plus the virtual field `category`.");

// --- pattern -------------------------------------------------------------------------------------

export const STEP_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
const stepId = z
  .string()
  .max(64, "longer than 64 chars")
  .regex(STEP_ID_RE, "expected a step id: letters, digits, _ and - (no dots)");

const stepRef = z.string().min(1, "expected a step id");

export const PATTERN_ID_RE = /^[a-z0-9][a-z0-9._-]*$/;

export const patternSchema = z
  .strictObject({
    $schema: z.string().optional().describe("JSON Schema reference for editors; ignored."),
    id: z
      .string()
      .max(128, "longer than 128 chars")
      .regex(PATTERN_ID_RE, "expected [a-z0-9][a-z0-9._-]*")
      .describe("Unique across the loaded set."),
    version: z.int().positive().describe("Positive integer; part of the alert id."),
    title: z.string().min(1, "must not be empty").max(200, "longer than 200 chars"),
    description: z.string().optional(),
    severity: z.enum(["low", "medium", "high", "critical"]),
    tags: z.array(z.string().min(1, "must not be empty")).optional().describe("safe.t####, attack.t####, …"),
    group_by: z
      .array(fieldPath)
      .min(1, "expected at least one field")
      .optional()
      .describe('Event fields forming the group; default ["user_id"].'),
    within: duration
      .optional()
      .describe("Latest matched event minus earliest ≤ within. Optional for one step without count."),
    steps: z
      .array(
        z.strictObject({
          id: stepId,
          where: whereSchema,
          count: z
            .strictObject({
              min: z.int().min(1).max(MAX_COUNT_MIN),
              distinct: fieldPath.optional().describe("Count distinct present values of this path."),
            })
            .optional(),
        }),
      )
      .min(1, "expected at least one step")
      .max(MAX_STEPS, `at most ${MAX_STEPS} steps`),
    order: z
      .union([z.literal("sequence"), z.literal("any"), z.array(z.tuple([stepRef, stepRef]))])
      .optional()
      .describe('"sequence" (default), "any", or DAG edges [["a","b"], …].'),
    join: z
      .array(
        z.strictObject({
          left: z.string().describe("step.path"),
          right: z.string().describe("step.path"),
          op: z.enum(["equals", "contains"]).optional(),
        }),
      )
      .optional(),
    absent: z
      .array(z.strictObject({ where: whereSchema, after: stepRef, before: stepRef }))
      .optional()
      .describe("No event matching `where` strictly between step `after` and step `before`."),
    edges_within: z.array(z.strictObject({ from: stepRef, to: stepRef, within: duration })).optional(),
    suppress: duration.optional().describe('Default "0s".'),
    tests: z
      .array(
        z.strictObject({
          name: z.string().min(1, "must not be empty"),
          events: z.string().min(1, "must not be empty").describe("JSONL path relative to the pattern file."),
          expect: z.int().min(0).describe("Number of alerts of this pattern."),
        }),
      )
      .optional(),
  })
  .describe("chainwatch attack pattern, language version 1");

export type PatternFile = z.infer<typeof patternSchema>;

// --- taxonomy ------------------------------------------------------------------------------------

export const taxonomySchema = z
  .strictObject({
    $schema: z.string().optional(),
    categories: z
      .record(
        z.string().min(1, "must not be empty"),
        z
          .array(z.string().min(1, "must not be empty"))
          .describe("Tool-name globs; with a / against server/tool."),
      )
      .describe("Category name → tool-name globs."),
  })
  .describe("chainwatch taxonomy: tool-name globs → categories");

export type TaxonomyFile = z.infer<typeof taxonomySchema>;
