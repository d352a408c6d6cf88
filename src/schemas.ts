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
  const schema = z.toJSONSchema(registry[name], { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: `https://chainwatch.dev/schemas/${name}.schema.json`,
    title: `chainwatch ${name}`,
  };
}
