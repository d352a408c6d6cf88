import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBlankLine, jsonlLines } from "../../src/events/jsonl.js";

async function linesOf(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of jsonlLines(Readable.from(chunks))) out.push(line.toString("latin1"));
  return out;
}

describe("jsonlLines", () => {
  it("splits on LF and CRLF, keeps a last line without an ending, and keeps empty lines (they are counted)", async () => {
    expect(await linesOf([Buffer.from('{"a":1}\r\n\n{"b":2}\n  \n{"c":3}')])).toEqual([
      '{"a":1}',
      "",
      '{"b":2}',
      "  ",
      '{"c":3}',
    ]);
    expect(await linesOf([Buffer.from("x\n")])).toEqual(["x"]);
    expect(await linesOf([])).toEqual([]);
  });

  it("gives the same lines however the input is cut into chunks, CR and LF split included", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("a", "é", "\r", "\n", "{", "\r\n", "\u00ff"), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        async (pieces, cuts) => {
          const bytes = Buffer.from(pieces.join(""), "utf8");
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length]!;
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          const whole = bytes.toString("latin1");
          const expected =
            whole === ""
              ? []
              : whole
                  .replace(/\n$/, "")
                  .split("\n")
                  .map((l) => l.replace(/\r$/, ""));
          expect(await linesOf(chunks)).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("hands over the bytes as they came: an invalid UTF-8 sequence is not replaced", async () => {
    const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]);
    const [line] = await (async () => {
      const out: Buffer[] = [];
      for await (const l of jsonlLines(Readable.from([bad]))) out.push(l);
      return out;
    })();
    expect([...line!]).toEqual([0x7b, 0xff, 0xfe, 0x7d]);
  });

  it("isBlankLine: only spaces, tabs and CRs", () => {
    expect(isBlankLine(Buffer.from(" \t\r"))).toBe(true);
    expect(isBlankLine(Buffer.from(""))).toBe(true);
    expect(isBlankLine(Buffer.from(" x "))).toBe(false);
  });
});
