import { createReadStream } from "node:fs";
import type { Command } from "commander";
import { ConfigError, loadProducerConfig, type ProducerConfig } from "../config/load.js";
import { isBlankLine, jsonlLines } from "../events/jsonl.js";
import { DEFAULT_MAX_EVENT_BYTES, parseEvent } from "../events/parse.js";
import { createKafka } from "../stream/kafkajs/client.js";
import { KafkajsProducer } from "../stream/kafkajs/producer.js";
import type { OutMessage } from "../stream/port.js";
import { createLogger } from "../telemetry/logger.js";
import { type CliContext, UsageError } from "./errors.js";

const BATCH = 1000;

export function registerProduce(program: Command, ctx: CliContext): void {
  program
    .command("produce")
    .description(
      "Send JSONL events to Kafka, keyed by user_id (demos, load tests, back-fills). Brokers from " +
        "CHAINWATCH_KAFKA_BROKERS, topic from --topic or CHAINWATCH_INPUT_TOPIC. Invalid lines are " +
        "reported with their line number on stderr and skipped.",
    )
    .requiredOption("--input <file>", "JSONL file of events, or - for stdin")
    .option("--topic <topic>", "topic to send to (default: CHAINWATCH_INPUT_TOPIC or mcp.tool-calls)")
    .action(async (opts: { input: string; topic?: string }, cmd: Command) => {
      const { logLevel } = cmd.optsWithGlobals<{ logLevel: string }>();
      ctx.setExitCode(await produce({ input: opts.input, topic: opts.topic, logLevel }));
    });
}

/** The env settings `produce` shares with `run` (brokers, TLS, SASL, input topic), same rules. */
function settings(topicFlag: string | undefined): ProducerConfig {
  try {
    return loadProducerConfig({ topic: topicFlag });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.problems.join("\n"));
    throw err;
  }
}

export async function produce(opts: { input: string; topic?: string; logLevel: string }): Promise<number> {
  const kafka = settings(opts.topic);
  const topic = kafka.inputTopic;
  const logger = createLogger(opts.logLevel, { command: "produce" });
  const input = opts.input === "-" ? process.stdin : createReadStream(opts.input);
  const opened = new Promise<void>((resolve, reject) => {
    if (opts.input === "-") resolve();
    input.once("open", () => resolve());
    input.once("error", (err: Error) => reject(new UsageError(`--input ${opts.input}: ${err.message}`)));
  });
  await opened;

  let producer: KafkajsProducer;
  try {
    producer = await KafkajsProducer.connect(createKafka(kafka, logger));
  } catch (err) {
    logger.error({ err, brokers: kafka.brokers }, "cannot connect to Kafka");
    return 1;
  }
  let sent = 0;
  let invalid = 0;
  let lineNo = 0;
  let pending: OutMessage[] = [];
  const started = Date.now();
  let lastProgress = started;
  const flush = async () => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    await producer.send(batch);
    sent += batch.length;
    if (Date.now() - lastProgress >= 1000) {
      lastProgress = Date.now();
      const rate = Math.round(sent / ((lastProgress - started) / 1000));
      process.stderr.write(`produce: ${sent} events sent, ${invalid} invalid (${rate} events/s)\n`);
    }
  };
  try {
    for await (const line of jsonlLines(input)) {
      lineNo++;
      if (isBlankLine(line)) continue;
      const parsed = parseEvent(line, { maxBytes: DEFAULT_MAX_EVENT_BYTES });
      if (!parsed.ok) {
        invalid++;
        process.stderr.write(`line ${lineNo}: ${parsed.reason} (skipped)\n`);
        continue;
      }
      // The original bytes go out, not the normalised event: the service validates them itself.
      pending.push({ topic, key: parsed.event.user_id, value: line });
      if (pending.length >= BATCH) await flush();
    }
    await flush();
  } catch (err) {
    // What was sent before stays sent (the summary is not printed: the count would be wrong).
    logger.error({ err, sent, lines: lineNo }, "sending to Kafka failed");
    return 1;
  } finally {
    await producer.close().catch(() => {});
  }
  const seconds = (Date.now() - started) / 1000;
  const rate = Math.round(sent / Math.max(seconds, 0.001));
  process.stderr.write(
    `produce: ${sent} events sent to ${topic} (${lineNo} lines), ${invalid} invalid, in ${seconds.toFixed(2)}s (${rate} events/s)\n`,
  );
  return 0;
}
