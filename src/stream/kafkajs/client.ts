import { readFileSync } from "node:fs";
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import type { Logger } from "pino";
// Imported for their effects on kafkajs (see the files): its idle 1 ms timer per connection stopped,
// and its read_committed filter mended for overlapping transactions.
import "./read-committed-fix.js";
import "./request-queue-fix.js";

/** What a Kafka connection needs; a subset of the service config so `produce` can use it too. */
export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  sslCaFile?: string;
  sasl?: { mechanism: "plain" | "scram-sha-256" | "scram-sha-512"; username: string; password: string };
}

/** TLS and SASL for a Kafka connection: plain data, so it can cross to a worker thread. */
export interface KafkaSecurity {
  /** TLS: true (the system's CAs) or the PEM text of the CAs to trust. */
  ssl?: boolean | { ca: string[] };
  sasl?: KafkaConnection["sasl"];
}

/** A connection's TLS and SASL settings, its CA file read now. */
export function kafkaSecurity(conn: Pick<KafkaConnection, "ssl" | "sslCaFile" | "sasl">): KafkaSecurity {
  const out: KafkaSecurity = {};
  if (conn.sslCaFile) out.ssl = { ca: [readFileSync(conn.sslCaFile, "utf8")] };
  else if (conn.ssl) out.ssl = true;
  if (conn.sasl) out.sasl = { ...conn.sasl };
  return out;
}

/** The same, as kafkajs's client settings. */
export function kafkajsSecurity(s: KafkaSecurity): Pick<KafkaConfig, "ssl" | "sasl"> {
  return {
    ...(s.ssl ? { ssl: s.ssl } : {}),
    ...(s.sasl ? { sasl: { ...s.sasl } as SASLOptions } : {}),
  };
}

/**
 * Broker answers retried, not failures (kafkajsLogCreator): what a broker says while it starts, while
 * a coordinator or a partition leader moves, or for a few milliseconds after a transaction's commit.
 * kafkajs's own texts (src/protocol/error.js); a retry that runs out surfaces as the call's error.
 */
const RETRIED_ANSWERS = [
  "This server does not host this topic-partition", // UNKNOWN_TOPIC_OR_PARTITION
  "There is no leader for this topic-partition", // LEADER_NOT_AVAILABLE
  "This server is not the leader for that topic-partition", // NOT_LEADER_FOR_PARTITION
  "The coordinator is loading and hence can't process requests", // COORDINATOR_LOAD_IN_PROGRESS
  "The group coordinator is not available", // COORDINATOR_NOT_AVAILABLE
  "This is not the correct coordinator for this group", // NOT_COORDINATOR_FOR_GROUP
  "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing", // CONCURRENT_TRANSACTIONS
];

/** A broker answer in `error`, or in the text of kafkajs's "Failed to send messages: …" retry line. */
function isRetriedAnswer(error: string, message: string): boolean {
  for (const answer of RETRIED_ANSWERS) {
    if (error.startsWith(answer) || message.includes(answer)) return true;
  }
  return false;
}

/** Where kafkajs's log lines go: a pino logger, or what forwards them from a worker (no debug there). */
export type KafkajsLogSink = Pick<Logger, "warn" | "error"> & Partial<Pick<Logger, "debug">>;

/**
 * kafkajs's log lines as pino lines (`component: "kafkajs"`). Left out of warn and error: the idempotent
 * producer's note that it limits retries (a transaction aborts on a failed send; the emitter's
 * delivery loop retries with the same producer id and sequence numbers), and broker answers that
 * kafkajs, or the sink for a transaction's steps, waits out and retries (RETRIED_ANSWERS): those go
 * to debug where there is one.
 */
export function kafkajsLogCreator(sink: KafkajsLogSink): NonNullable<KafkaConfig["logCreator"]> {
  return () => (entry) => {
    const { message, ...rest } = entry.log;
    if (message.startsWith("Limiting retries for the idempotent producer")) return;
    const fields = { component: "kafkajs", namespace: entry.namespace, ...rest };
    const error = String(rest.error ?? "");
    if (isRetriedAnswer(error, message)) sink.debug?.(fields, message);
    else if (entry.level <= logLevel.ERROR) sink.error(fields, message);
    else if (entry.level === logLevel.WARN) sink.warn(fields, message);
    else sink.debug?.(fields, message);
  };
}

/** A kafkajs client whose own logs go through pino (JSON on stderr), at warn and above. */
export function createKafka(conn: KafkaConnection, logger: Logger): Kafka {
  const config: KafkaConfig = {
    clientId: conn.clientId,
    brokers: conn.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(logger),
    retry: { initialRetryTime: 100, retries: 8 },
    ...kafkajsSecurity(kafkaSecurity(conn)),
  };
  return new Kafka(config);
}
