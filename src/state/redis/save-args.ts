import type { GroupState, StoredEvent } from "../../engine/group-state.js";
import { encodeMark, encodeOutbox } from "./codec.js";
import { storedFormOf } from "./stored-form.js";

/** Script arguments. ioredis flattens array arguments one level: no spreading of batch-sized lists. */
export type Args = Array<string | number>;

/**
 * Appends a group's part of SAVE_BATCH's ARGV (layout in scripts.ts) and returns each added event's
 * stored form, by position (undefined for one evicted in the same batch, which never reaches Redis).
 * An evicted event is removed by value: by the text it was read or written as (stored-form.ts).
 */
export function pushGroupArgs(
  args: Args,
  state: GroupState,
  encode: (ev: StoredEvent) => string,
): Array<string | undefined> {
  const c = state.changes;
  const evictedNow = c.evicted.length > 0 ? new Set(c.evicted) : undefined;
  const added: Array<string | undefined> = new Array(c.added.length);
  const adds: string[] = [];
  for (let n = 0; n < c.added.length; n++) {
    const ev = c.added[n]!;
    if (evictedNow?.has(ev)) continue;
    const r = encode(ev);
    added[n] = r;
    adds.push(r);
  }
  let evicted: string[] = [];
  if (evictedNow) {
    const addedSet = new Set(c.added);
    evicted = c.evicted.filter((ev) => !addedSet.has(ev)).map((ev) => storedFormOf(ev) ?? encode(ev));
  }
  const marks: string[] = [];
  for (const id of c.marks) {
    const m = state.marks.get(id);
    if (m) marks.push(id, encodeMark(m));
  }
  const outbox: string[] = [];
  for (const id of c.outbox) {
    const o = state.outbox.get(id);
    if (o) outbox.push(id, encodeOutbox(o));
  }
  const newest = Number.isFinite(state.newest) ? String(state.newest) : "-";
  args.push(
    `${state.nextSeq} ${newest} ${adds.length} ${evicted.length} ${marks.length / 2} ${outbox.length / 2}`,
    // Written once, with the group's first save: a group's key never changes.
    state.version === 0 ? state.key : "",
  );
  for (const a of adds) args.push(a);
  for (const e of evicted) args.push(e);
  for (const m of marks) args.push(m);
  for (const o of outbox) args.push(o);
  return added;
}

/** Items spread over seen shards: per shard, what `put` appends for each of its items. */
export function byShard<T>(
  items: readonly T[],
  shardOf: (item: T) => number,
  put: (into: string[], item: T) => void,
): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const item of items) {
    const shard = shardOf(item);
    let a = out.get(shard);
    if (a === undefined) {
      a = [];
      out.set(shard, a);
    }
    put(a, item);
  }
  return out;
}
