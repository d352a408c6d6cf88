import { readPath } from "../events/path.js";
import type { StoredEvent } from "./group-state.js";
import type { PatternPlan } from "./plan.js";

/**
 * What the `count.distinct` steps of a grouping's patterns read (those on `FEW_VALUES` paths), for
 * the pre-check of `DistinctSeen`: a tracker per path, the slots whose events feed it, and per plan
 * the (tracker, min, window) of each such step.
 */
export class DistinctPlan {
  /** Tracker id → the path its values are read at. */
  readonly paths: string[][] = [];
  /**
   * Tracker id → how many values a group's tracker holds at most: past it (a path of near-unique
   * values, where the pre-check would rarely rule anything out) the group stops tracking it.
   */
  readonly caps: number[] = [];
  /** Slot id → the trackers its events feed (undefined for most slots). */
  readonly bySlot: Array<number[] | undefined>;
  /** Per plan, flat `(tracker, min, withinMs)` triples in `needs[start[p] ..< start[p + 1]]`. */
  readonly start: Int32Array;
  readonly needs: Float64Array;
  /** `trackersOf`'s answers, by the (shared) hit list they were asked for. */
  private readonly bySlots = new WeakMap<readonly number[], readonly number[]>();

  constructor(plans: readonly PatternPlan[], stepSlot: readonly number[][], slotCount: number) {
    // Dense (every slot present), so the lookup for each slot an event satisfies stays a fast one.
    this.bySlot = new Array(slotCount).fill(undefined);
    const ids = new Map<string, number>();
    const needs: number[] = [];
    this.start = new Int32Array(plans.length + 1);
    for (const plan of plans) {
      const { pattern } = plan;
      for (const step of pattern.steps) {
        const distinct = step.count?.distinct;
        const field = distinct?.length === 1 ? distinct[0]! : undefined;
        if (field === undefined || !FEW_VALUES.has(field)) continue;
        let id = ids.get(field);
        if (id === undefined) {
          id = this.paths.length;
          ids.set(field, id);
          this.paths.push(distinct!);
          this.caps.push(MIN_CAP);
        }
        this.caps[id] = Math.max(this.caps[id]!, 4 * step.count!.min);
        const slot = stepSlot[plan.index]![step.index]!;
        const list = this.bySlot[slot] ?? [];
        if (!list.includes(id)) list.push(id);
        this.bySlot[slot] = list;
        // Every event of a match lies within `within` of the one that arrived (a count pattern always
        // has a `within`; without one nothing bounds the window).
        const unbounded = pattern.steps.length === 1 && pattern.withinMs === 0;
        needs.push(id, step.count!.min, unbounded ? Number.POSITIVE_INFINITY : pattern.withinMs);
      }
      this.start[plan.index + 1] = needs.length;
    }
    this.needs = Float64Array.from(needs);
  }

  /**
   * The trackers an event satisfying `slots` feeds, each once. The dispatcher hands out the same
   * array for the events of a server/tool that hit the same slots, so this is mostly one lookup.
   */
  trackersOf(slots: readonly number[]): readonly number[] {
    let trackers = this.bySlots.get(slots);
    if (trackers === undefined) {
      const ids = new Set<number>();
      for (const slot of slots) for (const t of this.bySlot[slot] ?? []) ids.add(t);
      trackers = ids.size === 0 ? NONE : [...ids];
      this.bySlots.set(slots, trackers);
    }
    return trackers;
  }

  get empty(): boolean {
    return this.paths.length === 0;
  }
}

const NONE: readonly number[] = Object.freeze([]);

/**
 * The paths tracked: fields of the call's envelope, of which one user's calls show a handful of values
 * (servers, tools, agents, sessions), so the bound often rules a step out. Distinct argument or
 * result values (patients, files, argument hashes) are mostly new with each call: a map of them per
 * group cost more to keep (bench:engine, -15 % with distinct patient ids) than the searches it saved.
 */
const FEW_VALUES = new Set(["server", "tool", "method", "outcome", "agent_id", "session_id", "risk_level"]);

/** The fewest values a tracker may hold before a group gives it up. */
const MIN_CAP = 16;

/** A group's tracker that was given up: every question about it answers "maybe". */
const GAVE_UP = null;

/**
 * One group's values seen by each tracker, with the latest timestamp of each. How many values have
 * one at or after a floor bounds from above the distinct values any set of the events feeding the
 * tracker at or after that floor can hold (every occurrence of a value is at or before its latest;
 * a tracker fed by several slots holds a superset of each one's values). So a count step that needs
 * more distinct values than that is ruled out without building its list or reading an event: for
 * `distinct: "server"` over a chatty user's reads, a handful of map entries on every arriving read
 * instead of the window's events. An overcount only costs a search; a value is never undercounted:
 * equal values share a key (strings, numbers, booleans and null are Map keys as they are, which is
 * JSON equality for them), an object or array counts once per event.
 */
export class DistinctSeen {
  private readonly maps: Array<Map<unknown, number> | typeof GAVE_UP | undefined> = [];

  constructor(private readonly plan: DistinctPlan) {}

  /**
   * Notes a stored event under the trackers of the slots it satisfies. `forgetBefore`: a timestamp
   * no later search reaches back to (values last seen before it are dropped when the map is full).
   */
  add(item: StoredEvent, slots: readonly number[], forgetBefore: number): void {
    const trackers = this.plan.trackersOf(slots);
    for (let i = 0; i < trackers.length; i++) {
      const t = trackers[i]!;
      let map = this.maps[t];
      if (map === GAVE_UP) continue;
      const v = readPath(item.event, this.plan.paths[t]!);
      if (v === undefined) continue;
      if (map === undefined) {
        map = new Map();
        this.maps[t] = map;
      }
      const key = typeof v === "object" && v !== null ? item : v;
      const ts = item.event.timestamp;
      const was = map.get(key);
      if (was === undefined) {
        map.set(key, ts);
        if (map.size > this.plan.caps[t]!) this.sweep(t, map, forgetBefore);
      } else if (was < ts) map.set(key, ts);
    }
  }

  /**
   * Whether tracker `t` may have at least `min` values with a latest timestamp ≥ `floor` (false
   * means it has not).
   */
  atLeast(t: number, floor: number, min: number): boolean {
    const map = this.maps[t];
    if (map === GAVE_UP || min <= 0) return true;
    if (map === undefined) return false;
    let n = 0;
    for (const ts of map.values()) if (ts >= floor && ++n >= min) return true;
    return false;
  }

  /** Drops the values no search can reach; if that leaves the map over half full, gives it up. */
  private sweep(t: number, map: Map<unknown, number>, forgetBefore: number): void {
    for (const [key, ts] of map) if (ts < forgetBefore) map.delete(key);
    if (2 * map.size > this.plan.caps[t]!) this.maps[t] = GAVE_UP;
  }
}
