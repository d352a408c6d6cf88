import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { LOG_LEVEL_ERROR, LOG_LEVELS, parseLogLevel } from "../config/keys.js";
import { UsageError } from "./errors.js";
import { registerPatterns } from "./patterns.js";
import { registerProduce } from "./produce.js";
import { registerReplay } from "./replay.js";
import { registerRun } from "./run.js";
import { registerSchema } from "./schema.js";

/** Builds the CLI. Each command's action resolves to the process exit code. */
export function buildProgram(
  setExitCode: (code: number) => void,
  takeSignals?: () => NodeJS.Signals[],
): Command {
  const program = new Command("chainwatch")
    .description("Catches AI agents being turned against the systems they work on.")
    .addOption(
      new Option("--log-level <level>", `pino log level: ${LOG_LEVELS.join(", ")} (logs are JSON on stderr)`)
        .default("info")
        .argParser(logLevel),
    )
    .exitOverride()
    .showHelpAfterError();
  const ctx = { setExitCode, takeSignals };
  registerReplay(program, ctx);
  registerRun(program, ctx);
  registerPatterns(program, ctx);
  registerSchema(program, ctx);
  registerProduce(program, ctx);
  return program;
}

/** Every command's `--log-level`, checked where it is parsed: an unknown level is a usage error (exit 2). */
function logLevel(raw: string): string {
  const level = parseLogLevel(raw);
  if (level === undefined) throw new InvalidArgumentError(LOG_LEVEL_ERROR);
  return level;
}

export async function main(
  argv: string[],
  opts: { takeSignals?: () => NodeJS.Signals[] } = {},
): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  }, opts.takeSignals);
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
