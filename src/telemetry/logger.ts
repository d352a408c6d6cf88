import { type DestinationStream, type Logger, pino } from "pino";

/**
 * Binary values (Buffers, typed arrays) in a log call's fields, as their size: the redaction's
 * wildcard paths walk into a Buffer's getters and throw (a Kafka request's payload logged by kafkajs
 * crashed its consumer that way), and their bytes say nothing in a log line. Plain objects and arrays
 * are walked as deep as the redaction looks, copied only where something changes.
 */
function withoutBinary<T>(value: T, depth = 0): T {
  if (ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>` as T;
  if (depth >= 4 || typeof value !== "object" || value === null || value instanceof Error) return value;
  let out: Record<string, unknown> | unknown[] | undefined;
  const entries = Array.isArray(value) ? value.entries() : Object.entries(value);
  for (const [k, v] of entries) {
    const w = withoutBinary(v, depth + 1);
    if (w === v) continue;
    out ??= Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
    (out as Record<string | number, unknown>)[k] = w;
  }
  return (out ?? value) as T;
}

/** JSON logs on stderr (stdout stays clean for data). Secrets are censored wherever they appear. */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  /** Where the lines go (tests); default standard error. */
  destination: DestinationStream = pino.destination({ fd: 2, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { service: "chainwatch", pid: process.pid, ...bindings },
      formatters: { log: (fields) => withoutBinary(fields) },
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
    destination,
  );
}

export type { Logger };
