import type { Command } from "commander";
import { type Config, ConfigError, loadConfig, redactConfig } from "../config/load.js";
import { faultHookFromEnv } from "../stream/fault.js";
import { loadEngine, StreamService } from "../stream/service.js";
import { installMetrics, startOpsServer } from "../telemetry/http.js";
import { createLogger } from "../telemetry/logger.js";
import { type CliContext, UsageError } from "./errors.js";

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command("run")
    .description(
      "The stream service: Kafka in, Redis state, alerts out. Configuration from --config (JSON) and " +
        "CHAINWATCH_* environment variables (env wins); see docs/operations.md. Health and metrics over " +
        "HTTP (/healthz, /readyz, /metrics). SIGTERM/SIGINT: finish the batch in hand, commit, exit 0. " +
        "SIGHUP: reload patterns (the old set stays if the new one is invalid).",
    )
    .option("--config <file>", "JSON configuration file")
    .option("--print-config", "print the effective configuration (secrets redacted) and exit")
    .action(async (opts: { config?: string; printConfig?: boolean }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ logLevel: string }>();
      const fromCli = cmd.parent?.getOptionValueSource("logLevel") === "cli";
      const config = readConfig(opts.config, fromCli ? globals.logLevel : undefined);
      if (opts.printConfig) {
        process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
        return;
      }
      ctx.setExitCode(await run(config, ctx.takeSignals));
    });
}

function readConfig(file: string | undefined, logLevel: string | undefined): Config {
  try {
    return loadConfig({ file, flags: logLevel ? { logLevel } : undefined });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`invalid configuration:\n${err.message}`);
    throw err;
  }
}

export async function run(config: Config, takeSignals?: () => NodeJS.Signals[]): Promise<number> {
  const logger = createLogger(config.logLevel, { command: "run", group: config.kafka.groupId });
  // Signals are ours from the first moment: a stop while patterns load or the HTTP server starts is
  // a clean stop too, not the default handler's exit 143.
  let stopRequested = false;
  let service: StreamService | undefined;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopRequested) return;
    stopRequested = true;
    logger.info({ signal }, "stopping: finishing the batch in hand");
    service?.stop().catch((err) => logger.error({ err }, "error while stopping"));
  };
  const onHup = () => {
    if (!service) return;
    logger.info("SIGHUP: reloading patterns");
    service.reload().then(
      () => logger.info("patterns reloaded; the new set applies from the next batch"),
      (err) =>
        logger.error(
          { err: err instanceof Error ? err.message : err },
          "pattern reload failed; keeping the old set",
        ),
    );
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHup);
  for (const signal of takeSignals?.() ?? []) onStop(signal);
  try {
    return await serve(
      config,
      logger,
      () => stopRequested,
      (s) => {
        service = s;
      },
    );
  } finally {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHup);
  }
}

async function serve(
  config: Config,
  logger: ReturnType<typeof createLogger>,
  stopRequested: () => boolean,
  started: (service: StreamService) => void,
): Promise<number> {
  let fault: ReturnType<typeof faultHookFromEnv>;
  try {
    fault = faultHookFromEnv(process.env.CHAINWATCH_FAULT);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let patterns: Awaited<ReturnType<typeof loadEngine>>;
  try {
    patterns = await loadEngine(config);
  } catch (err) {
    // Pattern errors name file and JSON path; they are usage errors (exit 2), like in `replay`.
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }

  const telemetry = installMetrics();
  const service = new StreamService({ config, logger, fault, patterns });
  const ops = await startOpsServer({
    port: config.http.port,
    host: config.http.host,
    exporter: telemetry.exporter,
    readiness: () => service.readiness(),
  }).catch((err: Error) => {
    throw new UsageError(
      `CHAINWATCH_HTTP_HOST / CHAINWATCH_HTTP_PORT: cannot listen on ${config.http.host}:${config.http.port}: ${err.message}`,
    );
  });
  logger.info({ httpPort: ops.port, config: redactConfig(config) }, "chainwatch run starting");

  let code = 0;
  try {
    if (!stopRequested()) {
      // From here a stop signal stops the service (start itself runs without a pause to stop in).
      started(service);
      await service.start();
      logger.info({ httpPort: ops.port }, "consuming");
      await service.stopped;
    }
    if (!stopRequested()) {
      logger.error("the Kafka consumer stopped on its own; exiting");
      code = 1;
    }
  } catch (err) {
    // A failure after a stop was asked for (Kafka unreachable while connecting) ends a clean stop.
    if (stopRequested())
      logger.info({ err: err instanceof Error ? err.message : err }, "stopped while starting");
    else {
      logger.error({ err }, "chainwatch run failed");
      code = 1;
    }
  } finally {
    await service.stop().catch(() => {});
    await ops.close();
    await telemetry.shutdown().catch(() => {});
  }
  logger.info({ code }, "stopped");
  // A Kafka client still retrying a connection in the background keeps timers alive: everything
  // that matters is closed, so do not linger on them.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}
