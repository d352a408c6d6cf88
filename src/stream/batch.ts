import type { Alert } from "../alerts/types.js";
import type { Engine } from "../engine/api.js";
import type { EventSource, GroupState } from "../engine/group-state.js";
import { newGroupState } from "../engine/group-state.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { GroupRef, StateStore } from "../state/store.js";

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
  const refsPerItem: GroupRef[][] = new Array(items.length);
  const refs: GroupRef[] = [];
  const refKeys = new Set<string>();
  const ids: string[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const event = items[i]!.event;
    const own = engine.groupsOf(event);
    refsPerItem[i] = own;
    ids[i] = event.event_id;
    for (const r of own) {
      if (refKeys.has(r.key)) continue;
      refKeys.add(r.key);
      refs.push(r);
    }
  }
  const loaded = await store.load(refs, ids);

  const result: BatchResult = { alerts: [], republished: [], duplicates: 0, tooLate: 0, evicted: 0 };
  const perEvent: ItemResult[] | undefined = opts.perEvent ? [] : undefined;
  const batchSeen = new Set<string>();
  const newSeen: Array<{ id: string; timestamp: number }> = [];
  const touched = new Set<GroupState>();
  const stateOf = (ref: GroupRef): GroupState => {
    let state = loaded.groups.get(ref.key);
    if (!state) {
      state = newGroupState(ref.key, ref.groupingId, { ...ref.values });
      loaded.groups.set(ref.key, state);
    }
    return state;
  };

  for (let i = 0; i < items.length; i++) {
    const { event, source } = items[i]!;
    const id = event.event_id;
    if (batchSeen.has(id) || loaded.seen.has(id)) {
      const again = batchSeen.has(id) ? [] : outboxAlerts(refsPerItem[i]!, loaded.groups, id, source);
      if (again.length > 0) {
        result.republished.push(...again);
        perEvent?.push({ status: "republished", alerts: again });
      } else {
        result.duplicates++;
        perEvent?.push({ status: "duplicate", alerts: [] });
      }
      continue;
    }
    batchSeen.add(id);
    newSeen.push({ id, timestamp: event.timestamp });
    let late = false;
    let fired: Alert[] | undefined;
    for (const ref of refsPerItem[i]!) {
      const state = stateOf(ref);
      touched.add(state);
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

  await store.save({ groups: [...touched], seen: newSeen });
  if (perEvent) result.perEvent = perEvent;
  return result;
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
