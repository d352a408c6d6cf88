import { z } from "zod";
import { RISK_LEVELS } from "../events/index.js";
import type { EmitterOptions } from "./options.js";

const fieldPath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => !p.split(".").includes(""), "empty segment in dotted path");

const toolPolicy = z.strictObject({
  arguments: z.array(fieldPath).optional(),
  result: z.array(fieldPath).optional(),
  risk: z.enum(RISK_LEVELS).optional(),
  categories: z.array(z.string().min(1)).optional(),
});

const positiveInt = z.number().int().positive();

const optionsSchema = z.looseObject({
  brokers: z.array(z.string().min(1)).min(1).optional(),
  clientId: z.string().min(1).optional(),
  ssl: z
    .union([
      z.boolean(),
      z.strictObject({ ca: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]) }),
    ])
    .optional(),
  sasl: z
    .strictObject({
      mechanism: z.enum(["plain", "scram-sha-256", "scram-sha-512"]),
      username: z.string(),
      password: z.string(),
    })
    .optional(),
  topic: z.string().min(1).optional(),
  serverName: z.string().min(1).max(256).optional(),
  anonymousUserId: z.string().min(1).max(256).optional(),
  tools: z.record(z.string(), toolPolicy).optional(),
  resultTextLimit: positiveInt.optional(),
  errorSummary: z.boolean().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  queueSize: positiveInt.optional(),
  // Byte offsets in the shared queue are int32.
  queueBytes: positiveInt
    .min(1024)
    .max(2 ** 30)
    .optional(),
  batchSize: positiveInt.optional(),
  lingerMs: z.number().nonnegative().optional(),
  closeTimeoutMs: z.number().nonnegative().optional(),
  warnIntervalMs: z.number().nonnegative().optional(),
  userId: z.function().optional(),
  isDenied: z.function().optional(),
});

/** Rejects a misconfiguration at start, naming the option, rather than emitting wrong events later. */
export function validateOptions(options: EmitterOptions): void {
  const result = optionsSchema.safeParse(options);
  if (result.success) return;
  const issues = result.error.issues.map((i) => `${["options", ...i.path].join(".")}: ${i.message}`);
  throw new TypeError(`chainwatch emitter: invalid options: ${issues.join("; ")}`);
}
