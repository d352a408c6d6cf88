import { z } from "zod";
import { alertSchema } from "./alerts/schema.js";
import { eventSchema } from "./events/schema.js";
import { patternSchema, taxonomySchema } from "./patterns/schema.js";

/**
 * The JSON Schemas of the contract, generated from the zod definitions the code validates with.
 * `npm run schemas` writes them to schemas/; CI checks they are up to date.
 * Pattern, taxonomy and alert schemas register here when their zod definitions land.
 */
const registry = {
  event: eventSchema,
  alert: alertSchema,
  pattern: patternSchema,
  taxonomy: taxonomySchema,
} as const satisfies Record<string, z.ZodType>;

export const SCHEMA_NAMES = Object.keys(registry) as Array<keyof typeof registry>;
export type SchemaName = keyof typeof registry;

export function jsonSchemaOf(name: SchemaName): Record<string, unknown> {
  let schema = z.toJSONSchema(registry[name], { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  if (name === "event") schema = envelopeNullsAllowed(schema);
  return {
    ...schema,
    $id: `https://chainwatch.dev/schemas/${name}.schema.json`,
    title: `chainwatch ${name}`,
  };
}

/**
 * events.md: in the envelope `null` for an optional field means absent, and the code drops such nulls
 * before validating (src/events/parse.ts). The published schema says the same, so an emitter that
 * validates with it accepts what the service accepts: each optional top-level property also allows
 * `null` (inside `arguments` and `result` a null is a value, and their schemas already allow anything).
 */
function envelopeNullsAllowed(schema: Record<string, unknown>): Record<string, unknown> {
  const required = new Set(schema.required as string[]);
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    if (required.has(key)) {
      out[key] = property;
      continue;
    }
    const { description, ...rest } = property;
    out[key] = {
      ...(description === undefined ? {} : { description }),
      anyOf: [rest, { type: "null" }],
    };
  }
  return { ...schema, properties: out };
}
