import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/telemetry/logger.js";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger("info", {}, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { lines, logger };
}

describe("the service's logger", () => {
  it("logs binary values at any depth as their size (the redaction used to throw on them)", () => {
    const { lines, logger } = capture();
    // What kafkajs logs for a request: its payload, a Buffer, a few levels down.
    logger.info({ request: { payload: { buffer: Buffer.from("abc") } }, list: [new Uint8Array(5)] }, "req");
    logger.info({ a: { b: Buffer.from("xy") } }, "nested");
    expect(lines.map((l) => [l.request ?? l.a, l.list])).toEqual([
      [{ payload: { buffer: "<3 bytes>" } }, ["<5 bytes>"]],
      [{ b: "<2 bytes>" }, undefined],
    ]);
  });

  it("still censors passwords wherever they are, next to binary values too", () => {
    const { lines, logger } = capture();
    const fields = {
      password: "p0",
      sasl: { password: "p1" },
      a: { b: { password: "p2", raw: Buffer.from("z") } },
    };
    logger.info(fields, "secrets");
    const text = JSON.stringify(lines);
    for (const secret of ["p0", "p1", "p2"]) expect(text).not.toContain(`"${secret}"`);
    expect(lines[0]).toMatchObject({
      password: "***",
      sasl: { password: "***" },
      a: { b: { password: "***", raw: "<1 bytes>" } },
    });
    // The caller's object is not changed.
    expect(Buffer.isBuffer(fields.a.b.raw)).toBe(true);
  });

  it("keeps errors as errors (type, message and stack)", () => {
    const { lines, logger } = capture();
    logger.error({ err: new TypeError("boom") }, "failed");
    expect(lines[0]!.err).toMatchObject({ type: "TypeError", message: "boom" });
    expect(String((lines[0]!.err as { stack: string }).stack)).toContain("boom");
  });
});
