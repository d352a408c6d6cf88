import { readFileSync } from "node:fs";
import { KEYS, type KeySpec, type LOG_LEVELS } from "./keys.js";

export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated configuration of `chainwatch run` (see src/config/keys.ts for every key). */
export interface Config {
  kafka: {
    brokers: string[];
    clientId: string;
    groupId: string;
    inputTopic: string;
    alertTopic: string;
    dlqTopic: string;
    ssl: boolean;
    sslCaFile?: string;
    sasl?: { mechanism: SaslMechanism; username: string; password: string };
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    rebalanceTimeoutMs: number;
    partitionsConcurrency: number;
    maxBytesPerPartition: number;
  };
  redis: { url: string; username?: string; password?: string; tlsCaFile?: string; prefix: string };
  /** Empty = the built-in library. */
  patterns: string[];
  taxonomy: string[];
  http: { port: number; host: string };
  limits: { maxEventBytes: number; maxEventsPerGroup: number; batchSize: number; workerThreads: number };
  logLevel: LogLevel;
}

/** One message per wrong key, each naming the key (env name or `file: path`). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

export interface LoadOptions {
  /** JSON config file (`--config`). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line values (e.g. `--log-level`), above the file, below env. Keyed by path. */
  flags?: Record<string, unknown>;
}

/** Reads file + env (env wins), validates every key, reports every problem at once. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const problems: string[] = [];
  const fileValues = opts.file ? readConfigFile(opts.file, problems) : new Map<string, unknown>();
  const config = readKeys(KEYS, opts, fileValues, problems) as unknown as Config;
  for (const unknownPath of fileValues.keys()) problems.push(`${opts.file}: ${unknownPath}: unknown key`);
  if (problems.length === 0) crossChecks(config, problems);
  if (problems.length) throw new ConfigError(problems);
  config.kafka.dlqTopic ??= `${config.kafka.inputTopic}.dlq`;
  config.patterns ??= [];
  config.taxonomy ??= [];
  if (config.kafka.sslCaFile) config.kafka.ssl = true;
  return config;
}

/** What `chainwatch produce` needs of the configuration: the Kafka connection and the input topic. */
export type ProducerConfig = Pick<
  Config["kafka"],
  "brokers" | "clientId" | "inputTopic" | "ssl" | "sslCaFile" | "sasl"
>;

const PRODUCER_KEYS = new Set([
  "kafka.brokers",
  "kafka.inputTopic",
  "kafka.ssl",
  "kafka.sslCaFile",
  "kafka.sasl.mechanism",
  "kafka.sasl.username",
  "kafka.sasl.password",
]);

/**
 * The keys `chainwatch produce` shares with `run`, from the environment only, with the same rules and
 * messages; the other keys (Redis, patterns…) are not read, so a value `run` alone uses cannot fail it.
 */
export function loadProducerConfig(
  opts: { env?: NodeJS.ProcessEnv /** `--topic`, above the environment. */; topic?: string } = {},
): ProducerConfig {
  const problems: string[] = [];
  const keys = KEYS.filter(
    (k) => PRODUCER_KEYS.has(k.path) && (opts.topic === undefined || k.path !== "kafka.inputTopic"),
  );
  const { kafka } = readKeys(keys, opts, new Map(), problems) as { kafka: Config["kafka"] };
  if (opts.topic !== undefined) {
    const checked = KEYS.find((k) => k.path === "kafka.inputTopic")!.schema.safeParse(opts.topic);
    if (checked.success) kafka.inputTopic = checked.data as string;
    else
      problems.push(
        `--topic: ${checked.error.issues[0]?.message ?? "invalid"}, got ${JSON.stringify(opts.topic)}`,
      );
  }
  if (problems.length === 0) saslCheck(kafka, problems);
  if (problems.length) throw new ConfigError(problems);
  const out: ProducerConfig = { ...kafka, clientId: "chainwatch-produce" };
  if (out.sslCaFile) out.ssl = true;
  return out;
}

/** Each key from env, else a flag, else the file, else its fallback; validated; nested by path. */
function readKeys(
  keys: readonly KeySpec[],
  opts: Pick<LoadOptions, "env" | "flags" | "file">,
  fileValues: Map<string, unknown>,
  problems: string[],
): Record<string, unknown> {
  const env = opts.env ?? process.env;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    let value: unknown;
    let where: string;
    const envRaw = env[key.env];
    if (envRaw !== undefined && envRaw !== "") {
      value = key.fromEnv(envRaw);
      where = key.env;
    } else if (opts.flags?.[key.path] !== undefined) {
      value = opts.flags[key.path];
      where = `--${key.path.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    } else if (fileValues.has(key.path) || fileValues.has(key.env)) {
      // cli.md names only the CHAINWATCH_* names, "also settable in the config file": a file may use
      // them as flat keys (with the same text as in the environment) or the nested paths.
      const byEnvName = !fileValues.has(key.path);
      if (!byEnvName && fileValues.has(key.env))
        problems.push(`${opts.file}: ${key.path} and ${key.env} are the same setting: give one`);
      const raw = fileValues.get(byEnvName ? key.env : key.path);
      value = byEnvName && typeof raw === "string" ? key.fromEnv(raw) : raw;
      where = `${opts.file}: ${byEnvName ? key.env : key.path}`;
    } else {
      value = key.fallback;
      where = key.path;
    }
    fileValues.delete(key.path);
    fileValues.delete(key.env);
    if (value === undefined) continue;
    const checked = key.schema.safeParse(value);
    if (!checked.success) {
      const shown = envRaw !== undefined && envRaw !== "" && !key.secret ? envRaw : value;
      problems.push(`${where}: ${checked.error.issues[0]?.message ?? "invalid"}, got ${show(shown, key)}`);
      continue;
    }
    setPath(out, key.path, checked.data);
  }
  return out;
}

function saslCheck(kafka: Config["kafka"], problems: string[]): void {
  const sasl = kafka.sasl as Partial<NonNullable<Config["kafka"]["sasl"]>> | undefined;
  if (sasl && (!sasl.mechanism || sasl.username === undefined || sasl.password === undefined)) {
    problems.push(
      "CHAINWATCH_KAFKA_SASL_MECHANISM / _USERNAME / _PASSWORD (kafka.sasl): expected all three or none",
    );
  }
}

function crossChecks(c: Config, problems: string[]): void {
  saslCheck(c.kafka, problems);
  if (c.kafka.heartbeatIntervalMs >= c.kafka.sessionTimeoutMs) {
    problems.push(
      `CHAINWATCH_KAFKA_HEARTBEAT_INTERVAL_MS (kafka.heartbeatIntervalMs): expected less than the session timeout (${c.kafka.sessionTimeoutMs}), got ${c.kafka.heartbeatIntervalMs}`,
    );
  }
  const topics = [c.kafka.inputTopic, c.kafka.alertTopic, c.kafka.dlqTopic ?? `${c.kafka.inputTopic}.dlq`];
  if (new Set(topics).size !== topics.length) {
    problems.push(`kafka topics: input, alert and DLQ topics must differ, got ${topics.join(", ")}`);
  }
}

function readConfigFile(file: string, problems: string[]): Map<string, unknown> {
  const values = new Map<string, unknown>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    problems.push(
      `${file}: ${err instanceof SyntaxError ? `not JSON: ${err.message}` : (err as Error).message}`,
    );
    return values;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`${file}: expected a JSON object`);
    return values;
  }
  const leaves = new Set(KEYS.map((k) => k.path));
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${k}` : k;
      const isBranch = [...leaves].some((l) => l.startsWith(`${path}.`));
      if (!leaves.has(path) && isBranch && typeof v === "object" && v !== null && !Array.isArray(v)) {
        walk(v as Record<string, unknown>, path);
      } else {
        values.set(path, v);
      }
    }
  };
  walk(parsed as Record<string, unknown>, "");
  return values;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    cur[p] ??= {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function show(value: unknown, key: KeySpec): string {
  if (key.secret) return '"***"';
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** A copy safe to print or log: passwords masked, credentials stripped from URLs. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.kafka.sasl) copy.kafka.sasl.password = "***";
  if (copy.redis.password !== undefined) copy.redis.password = "***";
  copy.redis.url = redactUrl(copy.redis.url);
  return copy;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "***";
  }
}
