import { buildAlert } from "../alerts/build.js";
import type { Alert } from "../alerts/types.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { PatternSet } from "../patterns/compiled.js";
import type { GroupRef } from "../state/store.js";
import type { DetectorOptions, Engine, EventOutcome } from "./api.js";
import { Classifier, Dispatcher } from "./dispatch.js";
import { DistinctPlan, DistinctSeen } from "./distinct.js";
import { GroupIndex, holdsEvent } from "./group-index.js";
import type { EventSource, GroupState, StoredEvent } from "./group-state.js";
import { Grouping } from "./grouping.js";
import { feasibleAnchorSteps, findMatch } from "./matcher.js";
import { compareStored, dropFront, insertSorted } from "./order.js";
import { type PatternPlan, planPattern } from "./plan.js";

export const DEFAULT_MAX_EVENTS_PER_GROUP = 10_000;

/**
 * Fields every alert reads from a stored event, besides what the patterns read. Trace context is not
 * among them: an alert's `traceparent` comes from its trigger, which is always the arriving event.
 */
const ALERT_FIELDS = ["event_id", "timestamp", "server", "tool", "session_id", "agent_id"];

interface GroupingRuntime {
  /** Names this runtime's slot ids in a group index (a number: a copied state drags no runtime). */
  id: number;
  grouping: Grouping;
  plans: PatternPlan[];
  dispatcher: Dispatcher;
  /** The `count.distinct` steps, for the pre-check on the values a group has seen. */
  distinct: DistinctPlan;
  /** Scratch: per plan, the steps the arriving event satisfies (all 0 between searches). */
  masks: Int32Array;
  /** Scratch: the plans with a non-zero mask, ascending. */
  touched: Int32Array;
  /**
   * Scratch, per slot: its list of the group's events, built during the search stamped `search`
   * (`builtIn`), and its count of them, written at the start of that search (`countedIn`).
   */
  lists: StoredEvent[][];
  builtIn: Int32Array;
  counts: Int32Array;
  countedIn: Int32Array;
  search: number;
}

let runtimeIds = 0;

const NO_ALERTS: Alert[] = Object.freeze([]) as unknown as Alert[];

const NOTHING: EventOutcome = Object.freeze({
  status: "ok",
  alerts: Object.freeze([]) as unknown as Alert[],
  evicted: 0,
});

/**
 * The detection engine (patterns.md "Matching semantics", docs/semantics.md): pure, no I/O. Patterns
 * are planned and indexed once at construction; per event only the `where`s its tool and categories
 * admit are evaluated, once, and the search runs only for patterns with a step the event satisfies.
 */
export class Detector implements Engine {
  readonly storedFields: ReadonlySet<string>;
  readonly retentionMs: number;
  /** Searches given up after MAX_EXTENSIONS count-set extensions (each reported no match). */
  readonly searchStats = { aborted: 0 };
  private readonly runtimes = new Map<string, GroupingRuntime>();
  private readonly groupingList: Grouping[] = [];
  private lastGroupingId: string | undefined;
  private lastRuntime: GroupingRuntime | undefined;
  private readonly classifier: Classifier;
  private readonly maxEvents: number;
  private readonly now: () => number;
  private readonly outbox: boolean;

  constructor(
    readonly set: PatternSet,
    opts: DetectorOptions = {},
  ) {
    this.retentionMs = set.retentionMs;
    this.maxEvents = opts.maxEventsPerGroup ?? DEFAULT_MAX_EVENTS_PER_GROUP;
    if (!(this.maxEvents >= 1)) throw new RangeError(`maxEventsPerGroup must be >= 1, got ${this.maxEvents}`);
    this.now = opts.now ?? Date.now;
    this.outbox = opts.outbox ?? true;
    this.classifier = new Classifier(set.taxonomy);

    const byGrouping = new Map<string, PatternSet["patterns"]>();
    for (const p of set.patterns) {
      const list = byGrouping.get(p.groupingId) ?? [];
      list.push(p);
      byGrouping.set(p.groupingId, list);
    }
    const fields = new Set<string>([...ALERT_FIELDS, "categories", "user_id"]);
    for (const [id, patterns] of byGrouping) {
      const grouping = new Grouping(id, patterns[0]!.groupBy);
      const plans = patterns.map((p, i) => planPattern(p, i));
      const dispatcher = new Dispatcher(plans);
      this.runtimes.set(id, {
        id: ++runtimeIds,
        grouping,
        plans,
        dispatcher,
        distinct: new DistinctPlan(plans, dispatcher.stepSlot, dispatcher.slots.length),
        masks: new Int32Array(plans.length),
        touched: new Int32Array(plans.length),
        lists: [],
        builtIn: new Int32Array(0),
        counts: new Int32Array(0),
        countedIn: new Int32Array(0),
        search: 0,
      });
      this.groupingList.push(grouping);
      for (const p of patterns) {
        for (const f of p.fields) fields.add(f);
        for (const g of p.groupBy) fields.add(g);
      }
    }
    this.storedFields = fields;
  }

  groupsOf(event: ToolCallEvent): GroupRef[] {
    const refs: GroupRef[] = [];
    this.groupsInto(event, refs);
    return refs;
  }

  groupsInto(event: ToolCallEvent, out: GroupRef[]): number {
    const list = this.groupingList;
    let n = 0;
    for (let g = 0; g < list.length; g++) {
      const ref = list[g]!.refOf(event);
      if (ref) out[n++] = ref;
    }
    return n;
  }

  onEvent(state: GroupState, event: ToolCallEvent, source?: EventSource): EventOutcome {
    const rt = this.runtimeOf(state.groupingId);
    const index = rt ? this.indexFor(state, rt) : undefined;
    const id = event.event_id;
    const ts = event.timestamp;
    // A group holds an event (or its outbox entry) only at a timestamp it has seen: in-order events
    // skip both lookups.
    if (
      ts <= state.newest &&
      ((state.outbox.size > 0 && state.outbox.has(id)) || holdsEvent(state.events, id, ts))
    )
      return NOTHING;
    if (ts < state.newest - this.retentionMs) return { status: "too_late", alerts: [], evicted: 0 };
    // Not older than anything the group has seen: it goes last, no need to look at the stored events.
    const inOrder = ts >= state.newest;
    if (ts > state.newest) state.newest = ts;
    if (!rt || !index) return NOTHING;

    const hits = rt.dispatcher.evaluate(event, this.classifier.classify(event));
    let stored: StoredEvent | undefined;
    if (hits.length > 0) {
      stored =
        source === undefined ? { seq: state.nextSeq++, event } : { seq: state.nextSeq++, event, source };
      const events = state.events;
      const position = inOrder ? events.push(stored) - 1 : insertSorted(events, stored);
      index.insert(position, stored, hits, this.forgetBefore(state));
      if (!state.live) state.changes.added.push(stored);
    }
    const evicted = this.trim(state, index);
    index.markSynced(state);
    // Removal cuts a prefix: the new event is still stored unless it sorts before the first kept one
    // (never when it went last: it is within the window, and the bound keeps at least one event).
    if (!stored || (!inOrder && (state.events.length === 0 || compareStored(stored, state.events[0]!) < 0)))
      return evicted ? { status: "ok", alerts: [], evicted } : NOTHING;

    const alerts = this.search(state, rt, index, stored, hits);
    if (alerts.length > 0 && this.outbox) {
      state.outbox.set(id, source === undefined ? { alerts } : { source, alerts });
      state.changes.outbox.push(id);
      state.changes.outboxGroups?.push(state);
    }
    return alerts.length || evicted ? { status: "ok", alerts, evicted } : NOTHING;
  }

  /** Drops events older than the window, then the oldest beyond the bound; returns the bound's count. */
  private trim(state: GroupState, index: GroupIndex): number {
    const events = state.events;
    const cutoff = state.newest - this.retentionMs;
    // Usual case, decided without touching the (cold) oldest event.
    if (!index.hasOlder(cutoff) && events.length <= this.maxEvents) return 0;
    const old = index.countOlder(cutoff);
    const over = Math.max(0, events.length - old - this.maxEvents);
    const drop = old + over;
    if (drop === 0) return 0;
    index.removeOldest(drop);
    if (!state.live) {
      const added = state.changes.added;
      for (let r = 0; r < drop; r++) {
        const ev = events[r]!;
        // An event added and dropped within the same batch never reaches the store.
        const i = added.lastIndexOf(ev);
        if (i >= 0) added.splice(i, 1);
        else state.changes.evicted.push(ev);
      }
    }
    dropFront(events, drop);
    return over;
  }

  private search(
    state: GroupState,
    rt: GroupingRuntime,
    index: GroupIndex,
    anchor: StoredEvent,
    hits: readonly number[],
  ): Alert[] {
    // The usual arriving event is the group's latest: it can only fill steps nothing must follow.
    const latest = state.events[state.events.length - 1] === anchor;
    const { slots, stepSlot, absentSlot, needStart, needs } = rt.dispatcher;
    const masks = rt.masks;
    const touched = rt.touched;
    let count = 0;
    for (let h = 0; h < hits.length; h++) {
      const slot = slots[hits[h]!]!;
      const refs = latest ? slot.lastStepRefs : slot.stepRefs;
      for (let e = 0; e < refs.length; e += 2) {
        const p = refs[e]!;
        if (masks[p] === 0) touched[count++] = p;
        masks[p]! |= 1 << refs[e + 1]!;
      }
    }
    if (count === 0) return NO_ALERTS;
    // Patterns in load order, so alerts of one event come out in a stable order: a few are put in
    // order by insertion, more by a numeric sort, most of a library (a where it shares) by one pass
    // over the masks.
    if (count <= 16) {
      for (let i = 1; i < count; i++) {
        const p = touched[i]!;
        let at = i;
        while (at > 0 && touched[at - 1]! > p) {
          touched[at] = touched[at - 1]!;
          at--;
        }
        touched[at] = p;
      }
    } else if (count * 16 < masks.length) touched.subarray(0, count).sort();
    else {
      let n = 0;
      for (let p = 0; p < masks.length; p++) if (masks[p] !== 0) touched[n++] = p;
    }
    let alerts: Alert[] | undefined;
    // Counts and lists, looked up or built once, serve every pattern of this search (their slots are
    // often shared).
    const slotCount = rt.dispatcher.slots.length;
    if (rt.builtIn.length !== slotCount) {
      rt.builtIn = new Int32Array(slotCount);
      rt.counts = new Int32Array(slotCount);
      rt.countedIn = new Int32Array(slotCount);
    }
    const search = (rt.search + 1) | 0 || 1;
    rt.search = search;
    const counts = rt.counts;
    const countedIn = rt.countedIn;
    const { start: dStart, needs: dNeeds } = rt.distinct;
    index.countsInto(counts, countedIn, search);
    for (let t = 0; t < count; t++) {
      const p = touched[t]!;
      let mask = masks[p]!;
      masks[p] = 0;
      // A step with fewer stored events than it needs rules the pattern out before any list is built
      // (or the plan is looked at).
      let enough = true;
      for (let r = needStart[p]!, end = needStart[p + 1]!; r < end && enough; r += 2) {
        const slot = needs[r]!;
        enough = countedIn[slot] === search && counts[slot]! >= needs[r + 1]!;
      }
      // A count step needing more distinct values than the group has seen since the window's floor
      // is ruled out the same way.
      for (let r = dStart[p]!, end = dStart[p + 1]!; r < end && enough; r += 3) {
        enough = index.distinct!.atLeast(dNeeds[r]!, anchor.event.timestamp - dNeeds[r + 2]!, dNeeds[r + 1]!);
      }
      if (!enough) continue;
      const plan = rt.plans[p]!;
      const pattern = plan.pattern;
      const stepLists = plan.scratchSteps;
      const stepIds = stepSlot[p]!;
      for (let s = 0; s < stepIds.length; s++) stepLists[s] = listOf(rt, index, stepIds[s]!);
      mask = feasibleAnchorSteps(plan, stepLists, anchor, mask);
      if (mask === 0) continue;
      const absentLists = plan.scratchAbsents;
      const absentIds = absentSlot[p]!;
      for (let a = 0; a < absentIds.length; a++) absentLists[a] = listOf(rt, index, absentIds[a]!);
      const mark = state.marks.get(pattern.id);
      const consumed = mark ? mark.consumed : Number.NEGATIVE_INFINITY;
      const eligibleFrom =
        mark?.lastAlert != null ? mark.lastAlert + pattern.suppressMs : Number.NEGATIVE_INFINITY;
      const found = findMatch(
        {
          plan,
          steps: stepLists,
          absents: absentLists,
          anchor,
          anchorMask: mask,
          consumed,
          eligibleFrom,
        },
        this.searchStats,
      );
      if (!found) continue;
      const alert = buildAlert({ ...found, groupValues: state.values, trigger: anchor }, this.now());
      state.marks.set(pattern.id, { consumed: found.lastSeen, lastAlert: found.lastSeen });
      state.changes.marks.add(pattern.id);
      alerts ??= [];
      alerts.push(alert);
    }
    return alerts ?? NO_ALERTS;
  }

  /**
   * Before this timestamp no later search of the group looks: an arriving event is at most the
   * retention behind the newest (else too late), and a match at most the longest `within` (≤ the
   * retention) before it.
   */
  private forgetBefore(state: GroupState): number {
    return state.newest - 2 * this.retentionMs;
  }

  /** The runtime of a grouping; the last one asked is kept (a batch mostly asks the same). */
  private runtimeOf(groupingId: string): GroupingRuntime | undefined {
    if (groupingId === this.lastGroupingId) return this.lastRuntime;
    const rt = this.runtimes.get(groupingId);
    this.lastGroupingId = groupingId;
    this.lastRuntime = rt;
    return rt;
  }

  private indexFor(state: GroupState, rt: GroupingRuntime): GroupIndex {
    const cached = state.engineIndex;
    // Another detector's index (other slot ids) is not this one's: rebuilt, as for a fresh state.
    if (cached instanceof GroupIndex && cached.owner === rt.id && cached.inSync(state)) return cached;
    // A state loaded fresh (or changed outside the engine): index its events once.
    const index = new GroupIndex(state, rt.id, rt.distinct.empty ? undefined : new DistinctSeen(rt.distinct));
    const forgetBefore = this.forgetBefore(state);
    state.events.forEach((ev, i) => {
      index.insert(i, ev, rt.dispatcher.evaluate(ev.event, this.classifier.classify(ev.event)), forgetBefore);
    });
    index.markSynced(state);
    state.engineIndex = index;
    return index;
  }
}

/** The group's events satisfying `slot`, built once per search (a scratch list of the runtime's). */
function listOf(rt: GroupingRuntime, index: GroupIndex, slot: number): readonly StoredEvent[] {
  let list = rt.lists[slot];
  if (list === undefined) {
    list = [];
    rt.lists[slot] = list;
  }
  if (rt.builtIn[slot] === rt.search) return list;
  rt.builtIn[slot] = rt.search;
  return index.listInto(slot, list);
}
