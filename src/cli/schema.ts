import type { Command } from "commander";
import { jsonSchemaOf, SCHEMA_NAMES, type SchemaName } from "../schemas.js";
import type { CliContext } from "./errors.js";
import { UsageError } from "./errors.js";

export function registerSchema(program: Command, _ctx: CliContext): void {
  program
    .command("schema")
    .description(`print a JSON Schema: ${SCHEMA_NAMES.join(" | ")}`)
    .argument("<name>", SCHEMA_NAMES.join(" | "))
    .action((name: string) => {
      if (!(SCHEMA_NAMES as readonly string[]).includes(name)) {
        throw new UsageError(`schema: unknown schema '${name}', expected one of ${SCHEMA_NAMES.join(", ")}`);
      }
      process.stdout.write(`${JSON.stringify(jsonSchemaOf(name as SchemaName), null, 2)}\n`);
    });
}
