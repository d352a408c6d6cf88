import { readFileSync } from "node:fs";
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import type { Logger } from "pino";
// Imported for its effect: kafkajs's idle 1 ms timer per connection stopped (see the file).
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

/** Broker answers retried, not failures: logged at debug, not as kafkajs's error lines. */
const RETRIED_ANSWERS = [
  "This server does not host this topic-partition",
  "The coordinator is loading and hence can't process requests",
  "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
];

/** Whether a kafkajs log line's `error` is a broker answer that is retried, not a failure. */
export function isRetriedAnswer(error: unknown): boolean {
  const text = String(error ?? "");
  return RETRIED_ANSWERS.some((prefix) => text.startsWith(prefix));
}

/** A kafkajs client whose own logs go through pino (JSON on stderr), at warn and above. */
export function createKafka(conn: KafkaConnection, logger: Logger): Kafka {
  const config: KafkaConfig = {
    clientId: conn.clientId,
    brokers: conn.brokers,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, ...rest } = entry.log;
      // Transactions abort on a failed send, so bounded retries don't weaken our guarantee.
      if (message.startsWith("Limiting retries for the idempotent producer")) return;
      // Answers that kafkajs (or our sink, for a transaction's steps) waits out and retries: a topic
      // being auto-created, a coordinator still loading or still writing the last commit's markers.
      if (isRetriedAnswer(rest.error)) {
        logger.debug({ component: "kafkajs", namespace: entry.namespace, ...rest }, message);
        return;
      }
      const fields = { component: "kafkajs", namespace: entry.namespace, ...rest };
      if (entry.level <= logLevel.ERROR) logger.error(fields, message);
      else if (entry.level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    },
    retry: { initialRetryTime: 100, retries: 8 },
    ...kafkajsSecurity(kafkaSecurity(conn)),
  };
  return new Kafka(config);
}
