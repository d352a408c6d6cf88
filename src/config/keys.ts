import { z } from "zod";

/** pino's levels, for `logLevel` and every command's `--log-level`. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_LEVEL_ERROR = "expected fatal, error, warn, info, debug, trace or silent";
const logLevelSchema = z.enum(LOG_LEVELS, { error: LOG_LEVEL_ERROR });
const logLevelText = (raw: string) => raw.trim().toLowerCase();

/** A log level as written in the environment or on the command line, or undefined if it is none. */
export function parseLogLevel(raw: string): (typeof LOG_LEVELS)[number] | undefined {
  const checked = logLevelSchema.safeParse(logLevelText(raw));
  return checked.success ? checked.data : undefined;
}

/**
 * Every setting of `chainwatch run`: where it lives in the config file (dotted path), its fixed
 * environment name, its default and its validation. One table so the loader, the redaction and
 * docs/operations.md cannot drift apart.
 */
export interface KeySpec {
  /** Path in the JSON config file, e.g. `kafka.brokers`. */
  path: string;
  env: string;
  /** Validates the value after env/file decoding. Error messages read "expected …". */
  schema: z.ZodType;
  /** Turns the raw environment string into the value the schema checks. */
  fromEnv: (raw: string) => unknown;
  /** Default when neither file nor env sets it; undefined = unset. */
  fallback?: unknown;
  secret?: boolean;
  doc: string;
}

const text = (raw: string) => raw;
const list = (sep: string) => (raw: string) =>
  raw
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== "");
/** Keeps what is not an integer as the original string, so the message can quote it. */
const integer = (raw: string) => (/^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw);
const boolean = (raw: string) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  return raw;
};

const int = (min: number, max: number) =>
  z
    .number({ error: `expected an integer ${min}..${max}` })
    .int({ error: `expected an integer ${min}..${max}` })
    .min(min, { error: `expected an integer ${min}..${max}` })
    .max(max, { error: `expected an integer ${min}..${max}` });
const name = (what: string) =>
  z
    .string({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` })
    .max(249, { error: `expected ${what} of at most 249 chars` });
const topic = name("a topic name").regex(/^[A-Za-z0-9._-]+$/, {
  error: "expected a topic name of letters, digits, '.', '_', '-'",
});
const bool = z.boolean({ error: "expected true or false" });
const broker = z.string().regex(/^[^\s:,]+:\d{1,5}$/, { error: "expected host:port" });
const paths = z.array(z.string().min(1), { error: "expected a list of paths" });

const redisUrl = z.string({ error: "expected a redis:// or rediss:// URL" }).refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === "redis:" || u.protocol === "rediss:";
    } catch {
      return false;
    }
  },
  { error: "expected a redis:// or rediss:// URL" },
);

const MAX_INT = 2 ** 31 - 1;

export const KEYS: KeySpec[] = [
  {
    path: "kafka.brokers",
    env: "CHAINWATCH_KAFKA_BROKERS",
    schema: z.array(broker, { error: "expected a list of host:port" }).min(1, "expected at least one broker"),
    fromEnv: list(","),
    fallback: ["127.0.0.1:9092"],
    doc: "Kafka bootstrap brokers, comma-separated `host:port` (file: array of strings).",
  },
  {
    path: "kafka.clientId",
    env: "CHAINWATCH_KAFKA_CLIENT_ID",
    schema: name("a client id"),
    fromEnv: text,
    fallback: "chainwatch",
    doc: "Kafka client id (shows in broker logs and quotas).",
  },
  {
    path: "kafka.groupId",
    env: "CHAINWATCH_GROUP_ID",
    schema: name("a consumer group id"),
    fromEnv: text,
    fallback: "chainwatch",
    doc: "Consumer group; instances with the same group share the input partitions. Also names the transactional ids and `ce_source`.",
  },
  {
    path: "kafka.inputTopic",
    env: "CHAINWATCH_INPUT_TOPIC",
    schema: topic,
    fromEnv: text,
    fallback: "mcp.tool-calls",
    doc: "Topic of tool-call audit events (events.md).",
  },
  {
    path: "kafka.alertTopic",
    env: "CHAINWATCH_ALERT_TOPIC",
    schema: topic,
    fromEnv: text,
    fallback: "chainwatch.alerts",
    doc: "Topic alerts are produced to (alerts.md).",
  },
  {
    path: "kafka.dlqTopic",
    env: "CHAINWATCH_DLQ_TOPIC",
    schema: topic,
    fromEnv: text,
    doc: "Dead-letter topic for invalid events. Default `<input topic>.dlq`.",
  },
  {
    path: "kafka.ssl",
    env: "CHAINWATCH_KAFKA_TLS",
    schema: bool,
    fromEnv: boolean,
    fallback: false,
    doc: "Connect to Kafka over TLS.",
  },
  {
    path: "kafka.sslCaFile",
    env: "CHAINWATCH_KAFKA_TLS_CA",
    schema: z.string().min(1, { error: "expected a file path" }),
    fromEnv: text,
    doc: "PEM file of the CA that signed the brokers' certificates (implies TLS).",
  },
  {
    path: "kafka.sasl.mechanism",
    env: "CHAINWATCH_KAFKA_SASL_MECHANISM",
    schema: z.enum(["plain", "scram-sha-256", "scram-sha-512"], {
      error: "expected plain, scram-sha-256 or scram-sha-512",
    }),
    fromEnv: (raw) => raw.trim().toLowerCase(),
    doc: "SASL mechanism; unset = no SASL.",
  },
  {
    path: "kafka.sasl.username",
    env: "CHAINWATCH_KAFKA_SASL_USERNAME",
    schema: z.string().min(1, { error: "expected a user name" }),
    fromEnv: text,
    doc: "SASL user name.",
  },
  {
    path: "kafka.sasl.password",
    env: "CHAINWATCH_KAFKA_SASL_PASSWORD",
    schema: z.string({ error: "expected a string" }),
    fromEnv: text,
    secret: true,
    doc: "SASL password (never logged).",
  },
  {
    path: "kafka.sessionTimeoutMs",
    env: "CHAINWATCH_KAFKA_SESSION_TIMEOUT_MS",
    schema: int(1000, 3_600_000),
    fromEnv: integer,
    fallback: 30_000,
    doc: "Consumer session timeout: a silent instance loses its partitions after this.",
  },
  {
    path: "kafka.heartbeatIntervalMs",
    env: "CHAINWATCH_KAFKA_HEARTBEAT_INTERVAL_MS",
    schema: int(100, 3_600_000),
    fromEnv: integer,
    fallback: 3000,
    doc: "Consumer heartbeat interval.",
  },
  {
    path: "kafka.rebalanceTimeoutMs",
    env: "CHAINWATCH_KAFKA_REBALANCE_TIMEOUT_MS",
    schema: int(1000, 3_600_000),
    fromEnv: integer,
    fallback: 60_000,
    doc: "How long a rebalance waits for members to finish their batch and rejoin.",
  },
  {
    path: "kafka.partitionsConcurrency",
    env: "CHAINWATCH_PARTITIONS_CONCURRENCY",
    schema: int(1, 1024),
    fromEnv: integer,
    fallback: 4,
    doc: "Partitions processed in parallel by one instance (one batch at a time per partition).",
  },
  {
    path: "kafka.maxBytesPerPartition",
    env: "CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION",
    schema: int(1024, 256 * 1024 * 1024),
    fromEnv: integer,
    fallback: 1024 * 1024,
    doc: "Most bytes one fetch returns per partition (Kafka's max.partition.fetch.bytes): with a backlog, how many events a batch can hold.",
  },
  {
    path: "redis.url",
    env: "CHAINWATCH_REDIS_URL",
    schema: redisUrl,
    fromEnv: text,
    fallback: "redis://127.0.0.1:6379",
    secret: true,
    doc: "Redis URL; `rediss://` for TLS. Credentials in the URL are accepted and redacted.",
  },
  {
    path: "redis.username",
    env: "CHAINWATCH_REDIS_USERNAME",
    schema: z.string().min(1, { error: "expected a user name" }),
    fromEnv: text,
    doc: "Redis ACL user (overrides the URL's).",
  },
  {
    path: "redis.password",
    env: "CHAINWATCH_REDIS_PASSWORD",
    schema: z.string({ error: "expected a string" }),
    fromEnv: text,
    secret: true,
    doc: "Redis ACL password (overrides the URL's; never logged).",
  },
  {
    path: "redis.tlsCaFile",
    env: "CHAINWATCH_REDIS_TLS_CA",
    schema: z.string().min(1, { error: "expected a file path" }),
    fromEnv: text,
    doc: "PEM CA file for a `rediss://` server with a private CA.",
  },
  {
    path: "redis.prefix",
    env: "CHAINWATCH_REDIS_PREFIX",
    schema: z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty prefix" }),
    fromEnv: text,
    fallback: "cw:",
    doc: "Prefix of every Redis key chainwatch writes.",
  },
  {
    path: "patterns",
    env: "CHAINWATCH_PATTERNS",
    schema: paths,
    fromEnv: list(":"),
    doc: "Pattern files or directories, `:`-separated (file: array). Default: the built-in library.",
  },
  {
    path: "taxonomy",
    env: "CHAINWATCH_TAXONOMY",
    schema: paths,
    fromEnv: list(":"),
    doc: "Taxonomy files, `:`-separated (file: array). Default: the built-in taxonomy when `patterns` is unset.",
  },
  {
    path: "http.port",
    env: "CHAINWATCH_HTTP_PORT",
    schema: int(0, 65535),
    fromEnv: integer,
    fallback: 9464,
    doc: "Port of /healthz, /readyz, /metrics; 0 picks a free port (logged).",
  },
  {
    path: "http.host",
    env: "CHAINWATCH_HTTP_HOST",
    schema: z.string().min(1, { error: "expected a host" }),
    fromEnv: text,
    fallback: "0.0.0.0",
    doc: "Address the HTTP server binds.",
  },
  {
    path: "limits.maxEventBytes",
    env: "CHAINWATCH_MAX_EVENT_BYTES",
    schema: int(256, 16 * 1024 * 1024),
    fromEnv: integer,
    fallback: 64 * 1024,
    doc: "Larger events are invalid (to the DLQ).",
  },
  {
    path: "limits.maxEventsPerGroup",
    env: "CHAINWATCH_MAX_EVENTS_PER_GROUP",
    schema: int(1, MAX_INT),
    fromEnv: integer,
    fallback: 10_000,
    doc: "Stored events per group; the oldest are evicted beyond it.",
  },
  {
    path: "limits.batchSize",
    env: "CHAINWATCH_BATCH_SIZE",
    schema: int(1, 100_000),
    fromEnv: integer,
    fallback: 500,
    doc: "Most messages per state round trip and Kafka transaction (a fetched batch is cut into these).",
  },
  {
    path: "limits.workerThreads",
    env: "CHAINWATCH_WORKER_THREADS",
    schema: int(0, 64),
    fromEnv: integer,
    fallback: 0,
    doc: "Threads that parse, keep state and match, beside the Kafka thread (0 = all in the Kafka thread). A partition's work stays on one thread.",
  },
  {
    path: "logLevel",
    env: "CHAINWATCH_LOG_LEVEL",
    schema: logLevelSchema,
    fromEnv: logLevelText,
    fallback: "info",
    doc: "pino log level (also `--log-level`).",
  },
];
