import type { Engine } from "../engine/api.js";
import { hashOf } from "../engine/string-hash.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { GroupRef } from "../state/store.js";

/**
 * A batch's groups, found before its `load`: `refs` unique by key, and per item its groups as indexes
 * into `refs`, flat (item i's are `slotList[slotStart[i] ..< slotStart[i + 1]]`). `repeat[i]` is 1
 * when an earlier item of the batch has item i's event id.
 */
export interface BatchSlots {
  refs: GroupRef[];
  slotStart: Int32Array;
  slotList: number[];
  ids: string[];
  repeat: Uint8Array;
}

/** Scratch for one event's groups and for the id table: used only synchronously, within one call. */
const groupScratch: GroupRef[] = [];
let idTable = new Int32Array(2048);
let idHashes = new Int32Array(1024);

/** Numbers each grouping pass: a ref stamped with the current one has its slot in `batchSlot`. */
let passStamp = 0;

export function batchSlots(engine: Engine, items: ReadonlyArray<{ event: ToolCallEvent }>): BatchSlots {
  const out: BatchSlots = {
    refs: [],
    slotStart: new Int32Array(items.length + 1),
    slotList: [],
    ids: new Array(items.length),
    repeat: new Uint8Array(items.length),
  };
  if (!group(engine, items, out, true)) {
    out.refs.length = 0;
    out.slotList.length = 0;
    group(engine, items, out, false);
  }
  markRepeats(out.ids, out.repeat);
  return out;
}

/**
 * A ref the engine hands out for every event of its group (one carrying `batchStamp`) notes its slot
 * on itself: no lookup by key. Other refs are told apart by key. Returns false when a noted ref was
 * retired during the pass (a new object may then stand for the same group): group again by key.
 */
function group(
  engine: Engine,
  items: ReadonlyArray<{ event: ToolCallEvent }>,
  out: BatchSlots,
  byStamp: boolean,
): boolean {
  const stamp = ++passStamp;
  const { refs, slotStart, slotList, ids } = out;
  const own = groupScratch;
  let byKey: Map<string, number> | undefined;
  for (let i = 0; i < items.length; i++) {
    const event = items[i]!.event;
    const count = engine.groupsInto(event, own);
    ids[i] = event.event_id;
    for (let r = 0; r < count; r++) {
      const ref = own[r]!;
      let slot: number | undefined;
      if (byStamp && ref.batchStamp !== undefined) {
        if (ref.batchStamp === stamp) slot = ref.batchSlot!;
        else {
          slot = refs.length;
          ref.batchStamp = stamp;
          ref.batchSlot = slot;
          refs.push(ref);
        }
      } else {
        byKey ??= new Map();
        slot = byKey.get(ref.key);
        if (slot === undefined) {
          slot = refs.length;
          byKey.set(ref.key, slot);
          refs.push(ref);
        }
      }
      slotList.push(slot);
    }
    slotStart[i + 1] = slotList.length;
  }
  if (byStamp)
    for (const ref of refs) if (ref.batchStamp !== undefined && ref.batchStamp !== stamp) return false;
  return true;
}

/**
 * Sets `repeat[i]` for each id an earlier one equals: a table of the ids' hashes reused by every
 * batch, where a `Set` of the ids grew (and was thrown away) per batch. Exact: a hash match is
 * confirmed on the ids.
 */
function markRepeats(ids: string[], repeat: Uint8Array): void {
  const n = ids.length;
  if (idHashes.length < n) idHashes = new Int32Array(2 * n);
  if (idTable.length < 2 * n) idTable = new Int32Array(1 << Math.ceil(Math.log2(4 * n)));
  const table = idTable;
  const hashes = idHashes;
  const mask = table.length - 1;
  table.fill(0);
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    const h = hashOf(id);
    hashes[i] = h;
    let s = h & mask;
    for (let at = table[s]!; at !== 0; at = table[s]!) {
      if (hashes[at - 1] === h && ids[at - 1] === id) {
        repeat[i] = 1;
        break;
      }
      s = (s + 1) & mask;
    }
    if (repeat[i] === 0) table[s] = i + 1;
  }
}
