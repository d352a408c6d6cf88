import type { Command } from "commander";
import type { CliContext } from "./errors.js";

// Placeholder until the command lands; see shared/spec/cli.md.
export function registerReplay(program: Command, _ctx: CliContext): void {
  program.command("replay").description("(not yet implemented)");
}
