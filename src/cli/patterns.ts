import type { Command } from "commander";
import type { CliContext } from "./errors.js";

// Placeholder until the command lands; see shared/spec/cli.md.
export function registerPatterns(program: Command, _ctx: CliContext): void {
  program.command("patterns").description("(not yet implemented)");
}
