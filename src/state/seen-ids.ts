import { hashOf } from "../engine/string-hash.js";

/**
 * The memory store's seen event ids, oldest first, each with its event timestamp. A `Map` of a few
 * hundred thousand string keys costs several cache misses per lookup (bucket, entry, key string for
 * its hash) and is copied whole as it grows; here an id is a linear-probing table slot pointing into
 * a ring of ids (with their 32-bit hashes) in insertion order, and a byte per slot filters probes: a
 * lookup of a new id (the usual one) reads a byte or two, the ring only when a byte matches. Exact:
 * a hash match is confirmed on the id.
 *
 * Ring entries are numbered by insertion (`seq`); an entry lives at `seq & ringMask`, so the ring
 * grows without renumbering and the table (which holds seq + 1) survives a ring growth untouched.
 */
export class SeenIds {
  /** `undefined` marks an entry whose id was added again later (or one already dropped). */
  private ids!: Array<string | undefined>;
  private times!: Float64Array;
  private hashes!: Int32Array;
  private ringMask = 0;
  /** Seq of the oldest ring entry and of the next one. */
  private head = 0;
  private tail = 0;
  /**
   * At most half full: per slot the seq + 1 of its id's ring entry (0 = empty); the id's hash is in
   * the ring (`hashes`). Four bytes a slot: a growing table is mostly fresh memory to fault in.
   */
  private table!: Int32Array;
  /**
   * Per slot a byte of its id's hash (never 0), 0 when empty: what a probe reads first. A quarter
   * of the table's size, it mostly stays in cache where the table does not: looking up a new id,
   * the usual case, then touches neither the table nor the ring, and adding one only writes to them.
   */
  private marks!: Uint8Array;
  private mask = 0;
  size = 0;

  /** `maxSeq`: where seqs are shifted down (lower only in tests). */
  constructor(
    capacity = 1024,
    private readonly maxSeq = 2 ** 30,
  ) {
    this.reset(capacity);
  }

  private reset(capacity: number): void {
    const c = 1 << Math.ceil(Math.log2(Math.max(capacity, 16)));
    this.ids = new Array(c);
    this.times = new Float64Array(c);
    this.hashes = new Int32Array(c);
    this.ringMask = c - 1;
    this.table = new Int32Array(2 * c);
    this.marks = new Uint8Array(2 * c);
    this.mask = 2 * c - 1;
    this.head = 0;
    this.tail = 0;
    this.size = 0;
  }

  has(id: string): boolean {
    return this.find(id, hashOf(id)) >= 0;
  }

  /** Remembers `id` as just seen: one seen before moves to the end, with this timestamp. */
  add(id: string, timestamp: number): void {
    if (this.tail - this.head > this.ringMask) this.growRing();
    if (2 * (this.size + 1) > this.mask + 1) this.rehash(2 * (this.mask + 1));
    if (this.tail >= this.maxSeq) this.rebase();
    const h = hashOf(id);
    let s = this.find(id, h);
    if (s >= 0) this.ids[(this.table[s]! - 1) & this.ringMask] = undefined;
    else {
      s = this.freeSlot(h);
      this.marks[s] = markOf(h);
      this.size++;
    }
    const at = this.tail & this.ringMask;
    this.ids[at] = id;
    this.times[at] = timestamp;
    this.hashes[at] = h;
    this.table[s] = ++this.tail;
  }

  /** The oldest id's timestamp (undefined when empty). */
  oldestTime(): number | undefined {
    this.skipDead();
    return this.head < this.tail ? this.times[this.head & this.ringMask] : undefined;
  }

  /** Forgets the oldest id. */
  dropOldest(): void {
    this.skipDead();
    if (this.head === this.tail) return;
    const at = this.head & this.ringMask;
    this.removeSlot(this.find(this.ids[at]!, this.hashes[at]!));
    this.ids[at] = undefined;
    this.head++;
    this.size--;
  }

  private skipDead(): void {
    while (this.head < this.tail && this.ids[this.head & this.ringMask] === undefined) this.head++;
  }

  /** Table slot of `id`, or -1. */
  private find(id: string, h: number): number {
    const marks = this.marks;
    const mask = this.mask;
    const mark = markOf(h);
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const m = marks[s]!;
      if (m === 0) return -1;
      if (m !== mark) continue;
      const at = (this.table[s]! - 1) & this.ringMask;
      if (this.hashes[at] === h && this.ids[at] === id) return s;
    }
  }

  private freeSlot(h: number): number {
    let s = h & this.mask;
    while (this.marks[s] !== 0) s = (s + 1) & this.mask;
    return s;
  }

  /** Backward-shift deletion: later entries of the probe run move up, no tombstones. */
  private removeSlot(i: number): void {
    const table = this.table;
    const marks = this.marks;
    const mask = this.mask;
    for (let j = (i + 1) & mask; marks[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[(table[j]! - 1) & this.ringMask]! & mask;
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      table[i] = table[j]!;
      marks[i] = marks[j]!;
      i = j;
    }
    table[i] = 0;
    marks[i] = 0;
  }

  /** Doubles the ring; every entry keeps its seq. Mostly dead (ids added twice): compacted instead. */
  private growRing(): void {
    if (this.tail - this.head > 4 * this.size + 64) {
      this.compact();
      return;
    }
    const old = this.ids;
    const oldTimes = this.times;
    const oldHashes = this.hashes;
    const oldMask = this.ringMask;
    const c = 2 * old.length;
    this.ids = new Array(c);
    this.times = new Float64Array(c);
    this.hashes = new Int32Array(c);
    this.ringMask = c - 1;
    for (let seq = this.head; seq < this.tail; seq++) {
      const from = seq & oldMask;
      const to = seq & this.ringMask;
      this.ids[to] = old[from];
      this.times[to] = oldTimes[from]!;
      this.hashes[to] = oldHashes[from]!;
    }
  }

  /**
   * A larger table, filled in the old one's slot order: that order follows the hashes, so the new
   * table is written in a few sequential runs rather than at random.
   */
  private rehash(capacity: number): void {
    const old = this.table;
    const oldMarks = this.marks;
    this.table = new Int32Array(capacity);
    this.marks = new Uint8Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < old.length; i++) {
      const seq = old[i]!;
      if (seq === 0) continue;
      const s = this.freeSlot(this.hashes[(seq - 1) & this.ringMask]!);
      this.table[s] = seq;
      this.marks[s] = oldMarks[i]!;
    }
  }

  /** Seqs stay below 2^31 (the table is an Int32Array): shifted down by a multiple of the ring size. */
  private rebase(): void {
    const by = this.head - (this.head & this.ringMask);
    const table = this.table;
    for (let i = 0; i < table.length; i++) if (table[i] !== 0) table[i] -= by;
    this.head -= by;
    this.tail -= by;
  }

  /** Live entries renumbered from 0 into a fresh ring and table. */
  private compact(): void {
    const live: Array<[string, number]> = [];
    for (let seq = this.head; seq < this.tail; seq++) {
      const at = seq & this.ringMask;
      const id = this.ids[at];
      if (id !== undefined) live.push([id, this.times[at]!]);
    }
    this.reset(2 * live.length);
    for (const [id, ts] of live) this.add(id, ts);
  }
}

/** The slot byte of a hash: its top bits (the low ones pick the slot), never 0. */
function markOf(h: number): number {
  return (h >>> 24) | 1;
}
