import { type Logger, pino } from "pino";

/** JSON logs on stderr (stdout stays clean for data). Secrets are censored wherever they appear. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { service: "chainwatch", pid: process.pid, ...bindings },
      redact: {
        paths: [
          "password",
          "*.password",
          "*.*.password",
          "*.*.*.password",
          "sasl.password",
          "config.kafka.sasl.password",
          "config.redis.password",
        ],
        censor: "***",
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
