import { Command, CommanderError } from "commander";
import { UsageError } from "./errors.js";
import { registerPatterns } from "./patterns.js";
import { registerProduce } from "./produce.js";
import { registerReplay } from "./replay.js";
import { registerRun } from "./run.js";
import { registerSchema } from "./schema.js";

/** Builds the CLI. Each command's action resolves to the process exit code. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command("chainwatch")
    .description("Catches AI agents being turned against the systems they work on.")
    .option("--log-level <level>", "pino log level (logs are JSON on stderr)", "info")
    .exitOverride()
    .showHelpAfterError();
  const ctx = { setExitCode };
  registerReplay(program, ctx);
  registerRun(program, ctx);
  registerPatterns(program, ctx);
  registerSchema(program, ctx);
  registerProduce(program, ctx);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      process.stderr.write(`chainwatch: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
