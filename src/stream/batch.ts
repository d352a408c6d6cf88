import type { Alert } from "../alerts/types.js";
import type { Engine } from "../engine/api.js";
import type { EventSource, GroupState } from "../engine/group-state.js";
import { newGroupState } from "../engine/group-state.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { GroupRef, StateStore } from "../state/store.js";
import { batchSlots } from "./batch-slots.js";

export interface BatchItem {
  event: ToolCallEvent;
  source?: EventSource;
}

export type ItemStatus = "ok" | "duplicate" | "too_late" | "republished";

export interface ItemResult {
  status: ItemStatus;
  /** Alerts made (or, for `republished`, re-published) for this item. */
  alerts: Alert[];
}

export interface BatchResult {
  /** Alerts fired by this batch, in event order. */
  alerts: Alert[];
  /** Alerts recorded by an earlier processing of a re-delivered event (same source): publish again. */
  republished: Alert[];
  duplicates: number;
  /** Events too late in at least one of their groups. */
  tooLate: number;
  /** Events dropped by the per-group bound. */
  evicted: number;
  /** Per item, in input order (only with `{ perEvent: true }`). */
  perEvent?: ItemResult[];
}

export interface BatchOptions {
  perEvent?: boolean;
}

/**
 * One batch through the engine with exactly two store round trips, whatever its size: one `load` of
 * every group and id the batch touches, the events in arrival order, one `save`.
 */
export async function processBatch(
  engine: Engine,
  store: StateStore,
  items: readonly BatchItem[],
  opts: BatchOptions = {},
): Promise<BatchResult> {
  // After the load a group's state is an array access.
  const { refs, slotStart, slotList, ids, repeat } = batchSlots(engine, items);
  const loaded = await store.load(refs, ids);
  const byPosition = loaded.states;
  const states: Array<GroupState | undefined> = new Array(refs.length);

  const result: BatchResult = { alerts: [], republished: [], duplicates: 0, tooLate: 0, evicted: 0 };
  const perEvent: ItemResult[] | undefined = opts.perEvent ? [] : undefined;
  const newSeen: Array<{ id: string; timestamp: number }> = [];
  /** Groups an event was processed in, in first-touch order (what `save` persists). */
  const touched: GroupState[] = [];
  const isTouched = new Uint8Array(refs.length);
  const anySeen = loaded.seen.size > 0;

  for (let i = 0; i < items.length; i++) {
    const { event, source } = items[i]!;
    const id = event.event_id;
    const inBatch = repeat[i] === 1;
    if (inBatch || (anySeen && loaded.seen.has(id))) {
      const again = inBatch
        ? []
        : outboxAlerts(itemRefs(refs, slotList, slotStart, i), loaded.groups, id, source);
      // A repeat later in this batch is a plain duplicate, even at the same source (docs/semantics.md).
      if (again.length > 0) {
        result.republished.push(...again);
        perEvent?.push({ status: "republished", alerts: again });
      } else {
        result.duplicates++;
        perEvent?.push({ status: "duplicate", alerts: [] });
      }
      continue;
    }
    newSeen.push({ id, timestamp: event.timestamp });
    let late = false;
    let fired: Alert[] | undefined;
    for (let r = slotStart[i]!, end = slotStart[i + 1]!; r < end; r++) {
      const slot = slotList[r]!;
      let state = states[slot];
      if (state === undefined) {
        const ref = refs[slot]!;
        state = byPosition ? byPosition[slot] : loaded.groups.get(ref.key);
        if (!state) {
          state = newGroupState(ref.key, ref.groupingId, { ...ref.values });
          if (!byPosition) loaded.groups.set(ref.key, state);
        }
        states[slot] = state;
      }
      if (isTouched[slot] === 0) {
        isTouched[slot] = 1;
        touched.push(state);
      }
      const outcome = engine.onEvent(state, event, source);
      if (outcome.status === "too_late") late = true;
      result.evicted += outcome.evicted;
      if (outcome.alerts.length > 0) {
        result.alerts.push(...outcome.alerts);
        if (perEvent) {
          fired ??= [];
          fired.push(...outcome.alerts);
        }
      }
    }
    if (late) result.tooLate++;
    perEvent?.push({ status: late ? "too_late" : "ok", alerts: fired ?? [] });
  }

  await store.save({ groups: touched, seen: newSeen });
  if (perEvent) result.perEvent = perEvent;
  return result;
}

function itemRefs(refs: GroupRef[], slotList: number[], slotStart: Int32Array, i: number): GroupRef[] {
  const out: GroupRef[] = [];
  for (let r = slotStart[i]!; r < slotStart[i + 1]!; r++) out.push(refs[slotList[r]!]!);
  return out;
}

/** Alerts an earlier processing of this event recorded, when it was read at the same source. */
function outboxAlerts(
  refs: GroupRef[],
  groups: Map<string, GroupState>,
  id: string,
  source: EventSource | undefined,
): Alert[] {
  if (source === undefined) return [];
  const out: Alert[] = [];
  for (const ref of refs) {
    const entry = groups.get(ref.key)?.outbox.get(id);
    if (entry && sameSource(entry.source, source)) out.push(...entry.alerts);
  }
  return out;
}

function sameSource(a: EventSource | undefined, b: EventSource): boolean {
  if (a === undefined) return false;
  if ("line" in a || "line" in b) return "line" in a && "line" in b && a.line === b.line;
  return a.topic === b.topic && a.partition === b.partition && a.offset === b.offset;
}
