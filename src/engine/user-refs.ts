import type { GroupRef } from "../state/store.js";
import { hashOf } from "./string-hash.js";

/**
 * The user grouping's refs by user id (key `u:<id>`), reused while they last: no key string or
 * objects per event. A `Map` by user id read three cold places per event besides the ref: its bucket,
 * its entry and the key string of the entry to compare with; here a linear-probing table leads to the
 * ref, and the id is compared with the ref's own key string, which the batch reads next anyway (it
 * looks the group up by that key). Exact: a hash match is confirmed on the key.
 */
export class UserRefs {
  /**
   * Slot s: `table[2s]` = the id's hash (a small integer: no box), `table[2s + 1]` = its ref, both in
   * one cache line (a table of numbers pointing into an array of refs was one more cold read).
   */
  private table: Array<number | GroupRef | undefined> = new Array(2 * 1024).fill(undefined);
  private mask = 1023;
  private refs: GroupRef[] = [];

  get size(): number {
    return this.refs.length;
  }

  get(id: string): GroupRef | undefined {
    const h = hashOf(id);
    const table = this.table;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const ref = table[2 * s + 1] as GroupRef | undefined;
      if (ref === undefined) return undefined;
      if (table[2 * s] !== h) continue;
      const key = ref.key;
      if (key.length === id.length + 2 && key.endsWith(id)) return ref;
    }
  }

  /** `ref` (key `u:<id>`) must be the first for `id`. */
  add(id: string, ref: GroupRef): void {
    // At most half full.
    if (2 * (this.refs.length + 1) > this.mask + 1) this.grow();
    this.refs.push(ref);
    this.place(hashOf(id), ref);
  }

  clear(): void {
    // A batch may hold one of these refs: its note says the group has a new ref object now.
    for (const ref of this.refs) ref.batchStamp = -1;
    this.table = new Array(2 * 1024).fill(undefined);
    this.mask = 1023;
    this.refs = [];
  }

  private place(h: number, ref: GroupRef): void {
    let s = h & this.mask;
    while (this.table[2 * s + 1] !== undefined) s = (s + 1) & this.mask;
    this.table[2 * s] = h;
    this.table[2 * s + 1] = ref;
  }

  private grow(): void {
    const old = this.table;
    this.table = new Array(2 * old.length).fill(undefined);
    this.mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) {
      const ref = old[i + 1] as GroupRef | undefined;
      if (ref !== undefined) this.place(old[i] as number, ref);
    }
  }
}
