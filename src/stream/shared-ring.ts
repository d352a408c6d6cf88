/**
 * A queue of keyed messages (UTF-8 key and value) in shared memory, between one writing thread and
 * one reading thread. The writer never waits, never allocates per message and makes no system call:
 * a message is encoded straight into the buffer and published with one atomic store. The reader reads
 * ahead of what it has acknowledged; only `ack` frees space, so a reader that dies before acknowledging
 * leaves its messages to the next reader (one attached anew starts at the oldest unacknowledged).
 *
 * Layout: a control block of Int32 cells and a data area of `capacity` bytes. A record is an 8-byte
 * header (key length, or NULL_KEY; value length) and the key and value bytes, padded to 4 bytes.
 * A record never wraps: where one does not fit before the end, the writer leaves a WRAP header (or,
 * with fewer than 8 bytes left, nothing) and starts at byte 0. An empty ring starts over at 0. Counters are wrapping int32s: only
 * their differences, which stay far below 2^31, are ever read.
 */

/** Control cells (Int32 indexes). */
const HEAD = 0; // byte where the next record goes (writer)
const WRITTEN = 1; // records written (writer)
const TAIL = 2; // byte of the first unacknowledged record (reader)
const ACKED = 3; // records acknowledged (reader)
/** Cells from here on are free for the owner's own counters (see `cell`). */
export const FIRST_FREE_CELL = 4;
const CONTROL_CELLS = 16;

const HEADER = 8;
const NULL_KEY = -1;
const WRAP = -2;

export interface RingRecord {
  key: string | null;
  value: Buffer;
}

/** What a reader got: the records, and where they end (to `ack` them). */
export interface RingRead {
  records: RingRecord[];
  end: number;
}

export class SharedRing {
  readonly control: Int32Array;
  private readonly bytes: Buffer;
  private readonly words: Int32Array;
  /** Reader side: the next byte and record it reads (ahead of TAIL / ACKED). */
  private readAt: number;
  private readCount: number;

  /** Makes a new ring of `capacity` bytes (rounded up to 4), or attaches to another thread's one. */
  constructor(from: number | { control: SharedArrayBuffer; data: SharedArrayBuffer }) {
    const control = typeof from === "number" ? new SharedArrayBuffer(CONTROL_CELLS * 4) : from.control;
    const data =
      typeof from === "number" ? new SharedArrayBuffer(Math.max(64, Math.ceil(from / 4) * 4)) : from.data;
    this.control = new Int32Array(control);
    this.bytes = Buffer.from(data);
    this.words = new Int32Array(data);
    this.readAt = Atomics.load(this.control, TAIL);
    this.readCount = Atomics.load(this.control, ACKED);
  }

  /** What another thread needs to attach to this ring. */
  get buffers(): { control: SharedArrayBuffer; data: SharedArrayBuffer } {
    return {
      control: this.control.buffer as SharedArrayBuffer,
      data: this.words.buffer as SharedArrayBuffer,
    };
  }

  get capacity(): number {
    return this.bytes.length;
  }

  /** Records written and not yet acknowledged. */
  get pending(): number {
    return (Atomics.load(this.control, WRITTEN) - Atomics.load(this.control, ACKED)) | 0;
  }

  // --- writer ----------------------------------------------------------------------------------

  /** Appends one message; false (nothing written) when it does not fit in the free space. */
  write(key: string | null, value: string): boolean {
    const keyBytes = key === null ? 0 : Buffer.byteLength(key);
    const valueBytes = Buffer.byteLength(value);
    const size = HEADER + ((keyBytes + valueBytes + 3) & ~3);
    const at = this.place(size);
    if (at < 0) return false;
    const words = this.words;
    words[at >> 2] = key === null ? NULL_KEY : keyBytes;
    words[(at >> 2) + 1] = valueBytes;
    if (key !== null) this.bytes.write(key, at + HEADER, keyBytes, "utf8");
    this.bytes.write(value, at + HEADER + keyBytes, valueBytes, "utf8");
    // The store publishes the bytes above to the reader (Atomics are sequentially consistent).
    Atomics.store(this.control, HEAD, at + size === this.capacity ? 0 : at + size);
    Atomics.add(this.control, WRITTEN, 1);
    return true;
  }

  /** Where a record of `size` bytes goes, writing a WRAP header if it starts over at 0; -1 if full. */
  private place(size: number): number {
    const cap = this.capacity;
    if (size > cap - HEADER) return -1;
    if (this.pending === 0) {
      // Empty: start over at 0. The reader, holding nothing unacknowledged, reads from TAIL; no one
      // else writes TAIL while the ring is empty.
      Atomics.store(this.control, TAIL, 0);
      return 0;
    }
    const head = Atomics.load(this.control, HEAD);
    const tail = Atomics.load(this.control, TAIL);
    // Free space is [head, tail) going round; head === tail would read as full, so it never happens.
    if (head < tail) return tail - head > size ? head : -1;
    if (cap - head >= size && (tail > 0 || cap - head > size)) return head;
    if (tail <= size) return -1;
    if (cap - head >= HEADER) this.words[head >> 2] = WRAP;
    return 0;
  }

  // --- reader ----------------------------------------------------------------------------------

  /** Written records not yet read by this reader. */
  get unread(): number {
    return (Atomics.load(this.control, WRITTEN) - this.readCount) | 0;
  }

  /** Reads up to `max` records past what was read already; they stay in the ring until `ack`. */
  read(max: number): RingRead {
    const records: RingRecord[] = [];
    const n = Math.min(max, this.unread);
    // Nothing of ours unacknowledged: the writer may have started over at 0 (see `place`).
    if (this.readCount === Atomics.load(this.control, ACKED)) this.readAt = Atomics.load(this.control, TAIL);
    let at = this.readAt;
    for (let i = 0; i < n; i++) {
      if (this.capacity - at < HEADER || this.words[at >> 2] === WRAP) at = 0;
      const keyLength = this.words[at >> 2]!;
      const valueBytes = this.words[(at >> 2) + 1]!;
      const keyBytes = keyLength === NULL_KEY ? 0 : keyLength;
      const start = at + HEADER;
      records.push({
        key: keyLength === NULL_KEY ? null : this.bytes.toString("utf8", start, start + keyBytes),
        // A copy: the ring's bytes are reused once acknowledged.
        value: Buffer.from(this.bytes.subarray(start + keyBytes, start + keyBytes + valueBytes)),
      });
      at = start + ((keyBytes + valueBytes + 3) & ~3);
      if (at === this.capacity) at = 0;
    }
    this.readAt = at;
    this.readCount = (this.readCount + n) | 0;
    return { records, end: at };
  }

  /** Frees the `count` oldest unacknowledged records, which end at byte `end` (from `read`). */
  ack(count: number, end: number): void {
    Atomics.store(this.control, TAIL, end);
    Atomics.add(this.control, ACKED, count);
    Atomics.notify(this.control, ACKED);
  }

  /** Resolves at the next `ack`, or after `timeoutMs`; at once when nothing is pending. */
  async nextAck(timeoutMs: number): Promise<void> {
    const acked = Atomics.load(this.control, ACKED);
    if (this.pending === 0) return;
    const wait = Atomics.waitAsync(this.control, ACKED, acked, timeoutMs);
    if (wait.async) await wait.value;
  }
}
