// kafkajs's log lines as createKafka passes them to pino: answers that are retried stay out of the
// error level, real failures stay in it.
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createKafka, kafkajsLogCreator } from "../../src/stream/kafkajs/client.js";

function capture() {
  const lines: { level: number; msg: string }[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: pino({ level: "debug" }, out) };
}

describe("createKafka's log lines", () => {
  it("logs a coordinator's retried answers at debug and other broker errors at error", async () => {
    const { lines, logger } = capture();
    const log = createKafka({ brokers: ["127.0.0.1:1"], clientId: "t" }, logger).logger();
    log.error("Response AddOffsetsToTxn(key: 25, version: 1)", {
      error:
        "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
    });
    log.error("Response InitProducerId(key: 22, version: 1)", {
      error: "The coordinator is loading and hence can't process requests for this group",
    });
    // What a fresh broker answers a service that starts with it.
    log.error("Response GroupCoordinator(key: 10, version: 2)", {
      error: "The group coordinator is not available",
    });
    log.error("Response InitProducerId(key: 22, version: 1)", {
      error: "This is not the correct coordinator for this group",
    });
    log.error("Response Metadata(key: 3, version: 6)", {
      error: "There is no leader for this topic-partition as we are in the middle of a leadership election",
    });
    // kafkajs's producer retries a send itself and names the answer in its message, not in `error`.
    log.error(
      "Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
      { retryCount: 0, retryTime: 9 },
    );
    log.error("Response Produce(key: 0, version: 7)", {
      error: "The request included a message larger than the max message size the server will accept",
    });
    log.error("Failed to send messages: Topic authorization failed", { retryCount: 0, retryTime: 9 });
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [20, "Response AddOffsetsToTxn(key: 25, version: 1)"],
      [20, "Response InitProducerId(key: 22, version: 1)"],
      [20, "Response GroupCoordinator(key: 10, version: 2)"],
      [20, "Response InitProducerId(key: 22, version: 1)"],
      [20, "Response Metadata(key: 3, version: 6)"],
      [
        20,
        "Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
      ],
      [50, "Response Produce(key: 0, version: 7)"],
      [50, "Failed to send messages: Topic authorization failed"],
    ]);
  });

  it("drops the retried answers for a sink with no debug (the emitter's thread forwards warn and error only)", async () => {
    const { lines, logger } = capture();
    const line = kafkajsLogCreator({ warn: logger.warn.bind(logger), error: logger.error.bind(logger) })(0);
    const entry = (message: string, error: string) => ({
      namespace: "Connection",
      level: 1,
      label: "ERROR",
      log: { timestamp: "", message, error },
    });
    line(
      entry(
        "Response InitProducerId",
        "The coordinator is loading and hence can't process requests for this group",
      ),
    );
    line(entry("Response Produce", "The request included a message larger than the max message size"));
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[50, "Response Produce"]]);
  });
});
