import type { GroupRef } from "../state/store.js";
import { hashOf } from "./string-hash.js";

/**
 * The user grouping's refs by user id (key `u:<id>`), reused while they last: no key string or
 * objects per event. A `Map` by user id read three cold places per event besides the ref: its bucket,
 * its entry and the key string of the entry to compare with; here a linear-probing table of 32-bit
 * hashes leads to the ref, and the id is compared with the ref's own key string, which the batch
 * reads next anyway (it looks the group up by that key). Exact: a hash match is confirmed on the key.
 */
export class UserRefs {
  /** Slot s: `table[2s]` = index into `refs` + 1 (0 = empty), `table[2s + 1]` = the id's hash. */
  private table = new Int32Array(2 * 1024);
  private mask = 1023;
  private refs: GroupRef[] = [];

  get size(): number {
    return this.refs.length;
  }

  get(id: string): GroupRef | undefined {
    const h = hashOf(id);
    const table = this.table;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const at = table[2 * s]!;
      if (at === 0) return undefined;
      if (table[2 * s + 1] !== h) continue;
      const ref = this.refs[at - 1]!;
      const key = ref.key;
      if (key.length === id.length + 2 && key.endsWith(id)) return ref;
    }
  }

  /** `ref` (key `u:<id>`) must be the first for `id`. */
  add(id: string, ref: GroupRef): void {
    // At most half full.
    if (2 * (this.refs.length + 1) > this.mask + 1) this.grow();
    this.refs.push(ref);
    this.place(hashOf(id), this.refs.length);
  }

  clear(): void {
    this.table = new Int32Array(2 * 1024);
    this.mask = 1023;
    this.refs = [];
  }

  private place(h: number, at: number): void {
    let s = h & this.mask;
    while (this.table[2 * s] !== 0) s = (s + 1) & this.mask;
    this.table[2 * s] = at;
    this.table[2 * s + 1] = h;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Int32Array(2 * old.length);
    this.mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.place(old[i + 1]!, old[i]!);
  }
}
