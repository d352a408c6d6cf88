import type { Readable } from "node:stream";

const LF = 0x0a;
const CR = 0x0d;

/**
 * The lines of a JSONL input as the bytes they came as (LF or CRLF endings; the last line may lack
 * one). Decoding to text first (readline) would turn bytes that are not UTF-8 into U+FFFD and let the
 * event through with a changed id or argument; as bytes, `parseEvent` refuses it, as the service
 * refuses the same bytes read from Kafka.
 */
export async function* jsonlLines(input: Readable): AsyncGenerator<Buffer> {
  // A line longer than a chunk is gathered in parts and joined once, not re-copied per chunk.
  let parts: Buffer[] = [];
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(LF); nl >= 0; nl = buf.indexOf(LF, start)) {
      const piece = buf.subarray(start, nl);
      start = nl + 1;
      if (parts.length === 0) yield withoutCr(piece);
      else {
        parts.push(piece);
        yield withoutCr(Buffer.concat(parts));
        parts = [];
      }
    }
    if (start < buf.length) parts.push(buf.subarray(start));
  }
  if (parts.length > 0) yield withoutCr(Buffer.concat(parts));
}

function withoutCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
}

/** A line of only spaces, tabs and CRs (skipped, not counted as invalid). */
export function isBlankLine(line: Uint8Array): boolean {
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (b !== 0x20 && b !== 0x09 && b !== CR) return false;
  }
  return true;
}
