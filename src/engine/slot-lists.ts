import type { StoredEvent } from "./group-state.js";

/**
 * Slot id → list of stored events, the storage of a group index. A group's first four lists are
 * fields of the object itself, read along with it: a lookup touches no separate hash table (one or
 * two cache misses fewer per list, on the path every stored event takes). Further lists go to a Map.
 * Slot ids are >= 0; -1 marks a free field.
 */
export class SlotLists {
  private s0 = -1;
  private s1 = -1;
  private s2 = -1;
  private s3 = -1;
  private l0: StoredEvent[] = NONE;
  private l1: StoredEvent[] = NONE;
  private l2: StoredEvent[] = NONE;
  private l3: StoredEvent[] = NONE;
  private more: Map<number, StoredEvent[]> | undefined;

  protected getList(id: number): StoredEvent[] | undefined {
    if (id === this.s0) return this.l0;
    if (id === this.s1) return this.l1;
    if (id === this.s2) return this.l2;
    if (id === this.s3) return this.l3;
    return this.more?.get(id);
  }

  /** `id` must have no list yet. */
  protected addList(id: number, list: StoredEvent[]): void {
    if (this.s0 < 0) {
      this.s0 = id;
      this.l0 = list;
    } else if (this.s1 < 0) {
      this.s1 = id;
      this.l1 = list;
    } else if (this.s2 < 0) {
      this.s2 = id;
      this.l2 = list;
    } else if (this.s3 < 0) {
      this.s3 = id;
      this.l3 = list;
    } else {
      this.more ??= new Map();
      this.more.set(id, list);
    }
  }

  protected deleteList(id: number): void {
    if (id === this.s0) {
      this.s0 = -1;
      this.l0 = NONE;
    } else if (id === this.s1) {
      this.s1 = -1;
      this.l1 = NONE;
    } else if (id === this.s2) {
      this.s2 = -1;
      this.l2 = NONE;
    } else if (id === this.s3) {
      this.s3 = -1;
      this.l3 = NONE;
    } else this.more?.delete(id);
  }
}

/** A free field's list: never handed out (no slot id is -1), never written. */
const NONE: StoredEvent[] = [];
