import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { putUtf8, SharedRing } from "../../src/stream/shared-ring.js";

// The emitter's queue between the server's thread and its producer thread. What must hold: every
// message written comes out once, whole and in order, across wrap-arounds; space comes back only
// with `ack`; a write is refused only when the ring is really short of room; a new reader starts at
// the oldest unacknowledged message.

const HEADER = 8;
const recordBytes = (key: string | null, value: string) =>
  HEADER + Math.ceil(((key === null ? 0 : Buffer.byteLength(key)) + Buffer.byteLength(value)) / 4) * 4;

const message = fc.record({
  key: fc.option(fc.string({ unit: "grapheme", maxLength: 12 }), { nil: null }),
  value: fc.string({ unit: "grapheme", maxLength: 120 }),
});
const op = fc.oneof(
  { weight: 5, arbitrary: message.map((m) => ({ kind: "write" as const, ...m })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 6 }).map((max) => ({ kind: "read" as const, max })) },
  { weight: 2, arbitrary: fc.constant({ kind: "ack" as const }) },
);

describe("SharedRing", () => {
  it("gives back every message written, once, in order, and refuses a write only when short of room", () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 2048 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const ring = new SharedRing(capacity);
        const unread: Array<{ key: string | null; value: string }> = [];
        const reads: Array<{ count: number; end: number; bytes: number }> = [];
        let heldBytes = 0; // bytes of written, unacknowledged records
        let largest = 0; // a wrap leaves less than one record's size unused at the end
        for (const o of ops) {
          if (o.kind === "write") {
            const size = recordBytes(o.key, o.value);
            const wasEmpty = ring.pending === 0;
            const ok = ring.write(o.key, o.value);
            // Room for the record wherever the free space is split, after the worst waste of a wrap.
            const roomy = heldBytes + largest + 2 * size + HEADER < ring.capacity;
            if ((wasEmpty && size <= ring.capacity - HEADER) || roomy) expect(ok).toBe(true);
            if (ok) {
              unread.push({ key: o.key, value: o.value });
              heldBytes += size;
              largest = Math.max(largest, size);
            }
          } else if (o.kind === "read") {
            const got = ring.read(o.max);
            const want = unread.splice(0, o.max);
            expect(got.records.map((r) => ({ key: r.key, value: r.value.toString("utf8") }))).toEqual(want);
            const bytes = want.reduce((n, m) => n + recordBytes(m.key, m.value), 0);
            if (want.length > 0) reads.push({ count: want.length, end: got.end, bytes });
          } else {
            const oldest = reads.shift();
            if (oldest) {
              ring.ack(oldest.count, oldest.end);
              heldBytes -= oldest.bytes;
            }
          }
          expect(ring.pending).toBe(unread.length + reads.reduce((n, r) => n + r.count, 0));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("keeps a read but unacknowledged message for a new reader, and frees space only on ack", () => {
    const writer = new SharedRing(256);
    for (let i = 0; i < 5; i++) expect(writer.write(`u-${i}`, "x".repeat(30))).toBe(true);
    // Full: 5 records of 8 + 36 bytes; a sixth does not fit until some are acknowledged.
    expect(writer.write("u-5", "x".repeat(30))).toBe(false);

    const first = new SharedRing(writer.buffers);
    const batch = first.read(3);
    expect(batch.records.map((r) => r.key)).toEqual(["u-0", "u-1", "u-2"]);
    // That reader dies before acknowledging: the next one starts at the oldest message again.
    const second = new SharedRing(writer.buffers);
    const again = second.read(10);
    expect(again.records.map((r) => r.key)).toEqual(["u-0", "u-1", "u-2", "u-3", "u-4"]);
    expect(writer.write("u-5", "x".repeat(30))).toBe(false);
    second.ack(5, again.end);
    expect(writer.pending).toBe(0);
    expect(writer.write("u-5", "x".repeat(30))).toBe(true);
    expect(second.read(10).records.map((r) => [r.key, r.value.toString()])).toEqual([
      ["u-5", "x".repeat(30)],
    ]);
  });

  it("wraps a message that does not fit before the end into the space acknowledged at the start", () => {
    const ring = new SharedRing(256);
    const value = (i: number) => `${i}`.padEnd(37, "v"); // 8 + 40 bytes with its 3-byte key
    for (let i = 0; i < 4; i++) expect(ring.write(`k${i}a`.slice(0, 3), value(i))).toBe(true);
    const front = ring.read(2);
    ring.ack(2, front.end); // bytes 0..95 are free again; 96..191 still held
    expect(ring.write("k4a", value(4))).toBe(true); // 192..239
    expect(ring.write("k5a", value(5))).toBe(true); // 16 bytes left at the end: wraps to 0
    expect(ring.write("k6a", value(6))).toBe(false); // 48..95 would leave no gap before the tail
    expect(ring.read(10).records.map((r) => r.value.toString())).toEqual([2, 3, 4, 5].map(value));
  });

  it("refuses a message larger than the ring, and one with a null key round-trips", () => {
    const ring = new SharedRing(128);
    expect(ring.write("k", "y".repeat(200))).toBe(false);
    expect(ring.pending).toBe(0);
    expect(ring.write(null, "é✓")).toBe(true);
    const [r] = ring.read(1).records;
    expect(r).toEqual({ key: null, value: Buffer.from("é✓") });
  });

  it("writeWith: the value ends where the encoder says, and is asked again at 0 when the end is short", () => {
    const ring = new SharedRing(256);
    // Writes `n` bytes of `fill`, or says it needs more room.
    const fill = (bytes: Buffer, at: number, end: number, n: number) => {
      if (end - at < n) return -1;
      bytes.fill(0x61 + (n % 26), at, at + n);
      return at + n;
    };
    const rooms: number[] = [];
    const asking = (bytes: Buffer, at: number, end: number, n: number) => {
      rooms.push(end - at);
      return fill(bytes, at, end, n);
    };
    for (let i = 0; i < 4; i++) expect(ring.writeWith("k", fill, 45)).toBe(true); // 4 × 56 bytes
    const front = ring.read(2);
    expect(front.records.map((r) => r.value.length)).toEqual([45, 45]);
    ring.ack(2, front.end); // 0..111 free, 112..223 held, 32 bytes left at the end
    expect(ring.writeWith("k", asking, 60)).toBe(true);
    // 32 − 8 − 1 bytes at the end, then from 0 up to a word before the tail.
    expect(rooms).toEqual([23, 112 - 4 - 8 - 1]);
    expect(ring.read(10).records.map((r) => r.value.toString())).toEqual([
      "t".repeat(45),
      "t".repeat(45),
      "i".repeat(60),
    ]);
    expect(ring.writeWith("k", fill, 60)).toBe(false);
    expect(ring.pending).toBe(3);
  });

  it("putUtf8 writes a text whole or not at all, never part of a character", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 40 }),
        fc.integer({ min: 0, max: 130 }),
        (text, room) => {
          const bytes = Buffer.alloc(200, 0xff);
          const want = Buffer.from(text, "utf8");
          const end = putUtf8(bytes, 10, 10 + room, text);
          if (want.length > room) expect(end).toBe(-1);
          else {
            expect(end).toBe(10 + want.length);
            expect(bytes.subarray(10, end)).toEqual(want);
          }
          expect(bytes.subarray(10 + room).every((b) => b === 0xff)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
