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
  /** The ring's own bytes, not a copy: valid until the record is acknowledged (then reused). */
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
    return this.writeWith(key, putUtf8, value);
  }

  /**
   * Appends one message whose value `encode` writes straight into the ring: from `at`, ending by
   * `end` (exclusive), returning where it ended, or -1 when that is too little room. It may be
   * asked twice (where the free space is split, at the head, then from the start). False (nothing
   * written) when the value does not fit in the free space.
   */
  writeWith<T>(
    key: string | null,
    encode: (bytes: Buffer, at: number, end: number, arg: T) => number,
    arg: T,
  ): boolean {
    const keyBytes = key === null ? 0 : Buffer.byteLength(key);
    const cap = this.capacity;
    if (this.pending === 0) {
      // Empty: start over at 0. The reader, holding nothing unacknowledged, reads from TAIL; no one
      // else writes TAIL while the ring is empty.
      Atomics.store(this.control, TAIL, 0);
      return this.put(0, cap - HEADER, key, keyBytes, encode, arg);
    }
    const head = Atomics.load(this.control, HEAD);
    const tail = Atomics.load(this.control, TAIL);
    // Free space is [head, tail) going round; head === tail would read as full, so a record ends
    // before the tail, and at the very end only if the tail is not at 0.
    if (head < tail) return this.put(head, tail - 1, key, keyBytes, encode, arg);
    if (this.put(head, tail > 0 ? cap : cap - 1, key, keyBytes, encode, arg)) return true;
    return tail > 0 && this.put(0, tail - 1, key, keyBytes, encode, arg, head);
  }

  /**
   * Writes a record at `at` if it ends by `limit`, and publishes it. `wrapFrom`: the head, when the
   * record starts over at 0 (a WRAP header there tells the reader, if there is room for one).
   */
  private put<T>(
    at: number,
    limit: number,
    key: string | null,
    keyBytes: number,
    encode: (bytes: Buffer, at: number, end: number, arg: T) => number,
    arg: T,
    wrapFrom = -1,
  ): boolean {
    // Whole words only: a value that ends by `end` still fits once padded to 4 bytes.
    const end = at + ((limit - at) & ~3);
    const valueAt = at + HEADER + keyBytes;
    if (valueAt > end) return false;
    const stop = encode(this.bytes, valueAt, end, arg);
    if (stop < 0) return false;
    const valueBytes = stop - valueAt;
    const size = HEADER + ((keyBytes + valueBytes + 3) & ~3);
    const words = this.words;
    if (wrapFrom >= 0 && this.capacity - wrapFrom >= HEADER) words[wrapFrom >> 2] = WRAP;
    words[at >> 2] = key === null ? NULL_KEY : keyBytes;
    words[(at >> 2) + 1] = valueBytes;
    if (key !== null) this.bytes.write(key, at + HEADER, keyBytes, "utf8");
    // The store publishes the bytes above to the reader (Atomics are sequentially consistent).
    Atomics.store(this.control, HEAD, at + size === this.capacity ? 0 : at + size);
    Atomics.add(this.control, WRITTEN, 1);
    return true;
  }

  // --- reader ----------------------------------------------------------------------------------

  /** Written records not yet read by this reader. */
  get unread(): number {
    return (Atomics.load(this.control, WRITTEN) - this.readCount) | 0;
  }

  /**
   * Reads up to `max` records past what was read already; they stay in the ring until `ack`, and
   * their values are views of it, to be used before then.
   */
  read(max: number): RingRead {
    const records: RingRecord[] = [];
    const n = Math.min(max, this.unread);
    // Nothing of ours unacknowledged: the writer may have started over at 0 (see `writeWith`).
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
        value: this.bytes.subarray(start + keyBytes, start + keyBytes + valueBytes),
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

/** Texts up to this many UTF-16 units are tried as ASCII first (see `putUtf8`). */
const SHORT = 32;

/**
 * Writes `text` as UTF-8 into `bytes` from `at`, ending by `end`: where it ended, or -1 if it does
 * not fit whole. Measures the text only when it may not fit.
 */
export function putUtf8(bytes: Buffer, at: number, end: number, text: string): number {
  const room = end - at;
  if (room <= 0) return room === 0 && text.length === 0 ? at : -1;
  const length = text.length;
  if (length <= SHORT && length <= room) {
    // A short ASCII text (an id, a name) is copied here: cheaper than a call into the runtime.
    let i = 0;
    for (; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[at + i] = c;
    }
    if (i === length) return at + length;
  }
  const n = bytes.write(text, at, room, "utf8");
  // A write cut short leaves less room than the next character takes (at most 4 bytes); each
  // UTF-16 unit is at most 3 bytes.
  if (room - n >= 4 || length * 3 <= room || n === Buffer.byteLength(text)) return at + n;
  return -1;
}
