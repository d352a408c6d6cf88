import type { Match } from "../alerts/types.js";
import { readPath } from "../events/path.js";
import type { CompiledJoin } from "../patterns/compiled.js";
import type { StoredEvent } from "./group-state.js";
import { compareStored, containsSorted, countBefore } from "./order.js";
import type { PatternPlan } from "./plan.js";
import { joinContains, joinEquals, jsonEqual } from "./values.js";

/** What one search needs besides the plan: the group's candidate lists and marks. */
export interface SearchInput {
  plan: PatternPlan;
  /** Per step, the stored events satisfying its `where`, sorted by (timestamp, seq). */
  steps: ReadonlyArray<readonly StoredEvent[]>;
  /** Per absent, the stored events satisfying its `where`, sorted. */
  absents: ReadonlyArray<readonly StoredEvent[]>;
  /** The arriving event; every match must contain it. */
  anchor: StoredEvent;
  /** Bit s set when the anchor satisfies step s. */
  anchorMask: number;
  /** Only events with timestamp > consumed may be used. */
  consumed: number;
  /** A match is eligible only when its latest timestamp >= this (last alert + suppress). */
  eligibleFrom: number;
}

type Found = Omit<Match, "groupValues" | "trigger">;

/**
 * Backtracking temporal monomorphism, anchored on the arriving event (patterns.md rules 2–4,
 * docs/semantics.md "which match is reported"). Single steps are assigned from the last step of the
 * array to the first, candidates from latest to earliest; then count steps, each branching on its
 * set's latest event and filling greedily downwards. The first full match found is the reported one.
 */
export function findMatch(input: SearchInput, stats?: { aborted: number }): Found | null {
  if (input.anchor.event.timestamp <= input.consumed) return null;
  try {
    return new Search(input).run();
  } catch (err) {
    if (err !== BUDGET_EXHAUSTED) throw err;
    if (stats) stats.aborted++;
    return null;
  }
}

/**
 * Cheap necessary conditions, checked before any search: every step has enough events, and the
 * anchor can sit in step s only if every step ordered after s has an event after the anchor and every
 * step ordered before s one before it (the usual arriving event, the group's newest, fails this for all
 * but the last steps). Returns the steps of `mask` that pass, 0 when no search is needed.
 */
export function feasibleAnchorSteps(
  plan: PatternPlan,
  steps: ReadonlyArray<readonly StoredEvent[]>,
  anchor: StoredEvent,
  mask: number,
): number {
  for (let s = 0; s < plan.stepCount; s++) if (steps[s]!.length < plan.minEvents[s]!) return 0;
  let out = 0;
  for (let s = 0; s < plan.stepCount; s++) {
    if ((mask & (1 << s)) === 0) continue;
    let ok = true;
    for (const t of plan.after[s]!) {
      const list = steps[t]!;
      if (compareStored(list[list.length - 1]!, anchor) <= 0) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    for (const t of plan.before[s]!) {
      if (compareStored(steps[t]![0]!, anchor) >= 0) {
        ok = false;
        break;
      }
    }
    // A count set holding the anchor lies within `within` of it: it needs that many events there.
    if (ok && plan.isCount[s] && !enoughNear(steps[s]!, anchor, plan.pattern.withinMs, plan.minEvents[s]!))
      ok = false;
    if (ok) out |= 1 << s;
  }
  return out;
}

function enoughNear(
  list: readonly StoredEvent[],
  anchor: StoredEvent,
  withinMs: number,
  min: number,
): boolean {
  if (list.length < min || !Number.isFinite(withinMs)) return list.length >= min;
  const ts = anchor.event.timestamp;
  const hi = countBefore(list, ts + withinMs, Number.POSITIVE_INFINITY);
  const lo = countBefore(list, ts - withinMs, Number.NEGATIVE_INFINITY);
  return hi - lo >= min;
}

/** A count step's choices of whether its set holds the anchor (constants: one per search was garbage). */
const WITH_ANCHOR: readonly boolean[] = [true];
const EITHER: readonly boolean[] = [true, false];
const WITHOUT_ANCHOR: readonly boolean[] = [false];

class Search {
  private readonly plan: PatternPlan;
  private readonly n: number;
  private readonly withinMs: number;
  /** Assigned events per step (one for a single step), sorted ascending; undefined = unassigned. */
  private readonly assigned: Array<StoredEvent[] | undefined>;
  private readonly used = new Set<StoredEvent>();
  /** suffixMask[k] = bits of the steps at search positions >= k. */
  private readonly suffixMask: readonly number[];
  /** Per step, its bounds object, filled by `bounds` (a step sits at one search position). */
  private readonly boundsOf: Array<Bounds | undefined>;
  /** What `range` found: [rangeLo, rangeHi). */
  private rangeLo = 0;
  private rangeHi = 0;
  private anchorUsed = false;
  private budget = MAX_EXTENSIONS;

  constructor(private readonly input: SearchInput) {
    this.plan = input.plan;
    this.n = input.plan.stepCount;
    this.withinMs = input.plan.pattern.withinMs;
    this.assigned = new Array(this.n).fill(undefined);
    this.boundsOf = new Array(this.n);
    this.suffixMask = this.plan.suffixMask;
  }

  run(): Found | null {
    if (!this.dfs(0)) return null;
    const stepsOut = this.assigned.map((a) => a!);
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const ev of this.used) {
      const ts = ev.event.timestamp;
      if (ts < first) first = ts;
      if (ts > last) last = ts;
    }
    return { pattern: this.plan.pattern, steps: stepsOut, firstSeen: first, lastSeen: last };
  }

  private dfs(k: number): boolean {
    const order = this.plan.searchOrder;
    if (k === order.length) return this.complete();
    const { anchorMask } = this.input;
    if (!this.anchorUsed && (anchorMask & this.suffixMask[k]!) === 0) return false;
    const s = order[k]!;
    // The anchor must go here when no later step can take it.
    const forced = !this.anchorUsed && (anchorMask & this.suffixMask[k + 1]!) === 0;
    return this.plan.isCount[s] ? this.assignCount(k, s, forced) : this.assignSingle(k, s, forced);
  }

  private complete(): boolean {
    if (!this.anchorUsed) return false;
    let last = Number.NEGATIVE_INFINITY;
    for (const ev of this.used) if (ev.event.timestamp > last) last = ev.event.timestamp;
    if (last < this.input.eligibleFrom) return false;
    const absent = this.plan.pattern.absent;
    for (let a = 0; a < absent.length; a++) if (!this.absentHolds(a, true)) return false;
    return true;
  }

  /** Bounds for a candidate of step s from what is assigned. */
  private bounds(s: number): Bounds {
    let b = this.boundsOf[s];
    if (b === undefined) {
      b = { loTs: 0, minTs: 0, maxTs: 0, after: undefined, before: undefined };
      this.boundsOf[s] = b;
    }
    b.loTs = this.input.consumed;
    b.minTs = Number.NEGATIVE_INFINITY;
    b.maxTs = Number.POSITIVE_INFINITY;
    b.after = undefined;
    b.before = undefined;
    let gMin = Number.POSITIVE_INFINITY;
    let gMax = Number.NEGATIVE_INFINITY;
    for (const ev of this.used) {
      const ts = ev.event.timestamp;
      if (ts < gMin) gMin = ts;
      if (ts > gMax) gMax = ts;
    }
    if (this.used.size > 0) {
      b.minTs = gMax - this.withinMs;
      b.maxTs = gMin + this.withinMs;
    }
    for (const t of this.plan.before[s]!) {
      const set = this.assigned[t];
      if (!set) continue;
      const latest = set[set.length - 1]!;
      if (!b.after || compareStored(latest, b.after) > 0) b.after = latest;
    }
    for (const t of this.plan.after[s]!) {
      const set = this.assigned[t];
      if (!set) continue;
      const earliest = set[0]!;
      if (!b.before || compareStored(earliest, b.before) < 0) b.before = earliest;
    }
    for (const { other, withinMs } of this.plan.spans[s]!) {
      const set = this.assigned[other];
      if (!set) continue;
      b.minTs = Math.max(b.minTs, set[set.length - 1]!.event.timestamp - withinMs);
      b.maxTs = Math.min(b.maxTs, set[0]!.event.timestamp + withinMs);
    }
    return b;
  }

  /** Index range [rangeLo, rangeHi) of `list` within the bounds. */
  private range(list: readonly StoredEvent[], b: Bounds): void {
    let hi = countBefore(list, b.maxTs, Number.POSITIVE_INFINITY);
    if (b.before) hi = Math.min(hi, countBefore(list, b.before.event.timestamp, b.before.seq));
    // Strictly above consumed and >= minTs, and strictly after `b.after`.
    let lo = Math.max(
      countBefore(list, b.loTs, Number.POSITIVE_INFINITY),
      countBefore(list, b.minTs, Number.NEGATIVE_INFINITY),
    );
    if (b.after) lo = Math.max(lo, countBefore(list, b.after.event.timestamp, b.after.seq + 1));
    this.rangeLo = lo;
    this.rangeHi = hi;
  }

  private inBounds(ev: StoredEvent, b: Bounds): boolean {
    const ts = ev.event.timestamp;
    if (ts <= b.loTs || ts < b.minTs || ts > b.maxTs) return false;
    if (b.after && compareStored(ev, b.after) <= 0) return false;
    if (b.before && compareStored(ev, b.before) >= 0) return false;
    return true;
  }

  private assignSingle(k: number, s: number, forced: boolean): boolean {
    const anchor = this.input.anchor;
    const b = this.bounds(s);
    if (forced) {
      if (!this.inBounds(anchor, b)) return false;
      return this.trySingle(k, s, anchor);
    }
    const list = this.input.steps[s]!;
    this.range(list, b);
    const lo = this.rangeLo;
    for (let i = this.rangeHi - 1; i >= lo; i--) {
      const ev = list[i]!;
      if (this.used.has(ev)) continue;
      if (this.trySingle(k, s, ev)) return true;
    }
    return false;
  }

  private trySingle(k: number, s: number, ev: StoredEvent): boolean {
    if (!this.joinsHold(s, ev)) return false;
    const set = [ev];
    this.place(s, set);
    if (this.absentsHoldFor(s) && this.dfs(k + 1)) return true;
    this.unplace(s, set);
    return false;
  }

  private assignCount(k: number, s: number, forced: boolean): boolean {
    const step = this.plan.pattern.steps[s]!;
    const anchor = this.input.anchor;
    const list = this.input.steps[s]!;
    const b = this.bounds(s);
    this.range(list, b);
    const lo = this.rangeLo;
    const hi = this.rangeHi;
    const anchorHere =
      !this.anchorUsed &&
      (this.input.anchorMask & (1 << s)) !== 0 &&
      this.inBounds(anchor, b) &&
      this.joinsHold(s, anchor);
    if (forced && !anchorHere) return false;
    // The anchor may also fit a later count step: then try this step without it as well.
    const options = anchorHere ? (forced ? WITH_ANCHOR : EITHER) : WITHOUT_ANCHOR;
    // With the anchor in every set, a set's latest event is the anchor or later; the list is sorted,
    // so below the anchor nothing is left to try (rather than skipping every event down to lo).
    const anchorOnly = anchorHere && forced;
    const fill: Fill = {
      s,
      k,
      list,
      lo,
      min: step.count!.min,
      distinct: step.count!.distinct,
      floorTs: 0,
      below: 0,
      set: [],
      values: [],
    };
    for (let i = hi - 1; i >= lo; i--) {
      const latest = list[i]!;
      if (i - lo + 1 < fill.min) return false;
      if (anchorOnly && compareStored(anchor, latest) > 0) return false;
      if (this.used.has(latest)) continue;
      if (!this.joinsHold(s, latest)) continue;
      // Members lie within `within` of the latest event, and within each `edges_within` span of the step.
      fill.floorTs = Math.max(b.minTs, latest.event.timestamp - this.withinMs);
      for (const { withinMs } of this.plan.spans[s]!)
        fill.floorTs = Math.max(fill.floorTs, latest.event.timestamp - withinMs);
      for (const withAnchor of options) {
        if (withAnchor && compareStored(anchor, latest) > 0) continue;
        if (!withAnchor && latest === anchor) continue;
        if (withAnchor && anchor.event.timestamp < fill.floorTs) continue;
        fill.set = [latest];
        fill.values = [];
        fill.below = i - 1;
        this.note(fill, latest);
        if (withAnchor && anchor !== latest) {
          fill.set.push(anchor);
          this.note(fill, anchor);
        }
        if (this.plan.exhaustiveCounts ? this.extend(fill, i - 1) : this.greedy(fill, i - 1)) return true;
      }
    }
    return false;
  }

  private note(fill: Fill, ev: StoredEvent): boolean {
    if (!fill.distinct) return false;
    const v = readPath(ev.event, fill.distinct);
    if (v === undefined || fill.values.some((x) => jsonEqual(x, v))) return false;
    fill.values.push(v);
    return true;
  }

  private enough(fill: Fill): boolean {
    return fill.distinct ? fill.values.length >= fill.min : fill.set.length >= fill.min;
  }

  /** Whether `ev` (below the set's latest event) may join the set being filled. */
  private admissible(fill: Fill, ev: StoredEvent): boolean {
    return !(ev === this.input.anchor || this.used.has(ev)) && this.joinsHold(fill.s, ev);
  }

  /** Places the set and searches the remaining steps. */
  private tryFill(fill: Fill): boolean {
    const set = [...fill.set].sort(compareStored);
    this.place(fill.s, set);
    if (this.absentsHoldFor(fill.s) && this.dfs(fill.k + 1)) return true;
    this.unplace(fill.s, set);
    return false;
  }

  /**
   * docs/semantics.md: from the set's latest event downwards, the latest qualifying events (one per
   * distinct value, its latest occurrence) until `min` is reached. Enough when this step is the only
   * thing a count set can affect (one count step, no `absent`).
   */
  private greedy(fill: Fill, top: number): boolean {
    for (let i = top; i >= fill.lo && !this.enough(fill); i--) {
      const ev = fill.list[i]!;
      if (ev.event.timestamp < fill.floorTs) break;
      if (!this.admissible(fill, ev)) continue;
      if (fill.distinct) {
        if (!this.note(fill, ev)) continue;
      }
      fill.set.push(ev);
    }
    return this.enough(fill) && this.tryFill(fill);
  }

  /**
   * With several count steps or an `absent`, a set's members matter beyond their number: take, from
   * the latest down, each event that still allows a match (include first, else skip it; with
   * `distinct`, only events adding a value) until `min` is reached.
   */
  private extend(fill: Fill, top: number): boolean {
    if (--this.budget < 0) throw BUDGET_EXHAUSTED;
    if (this.enough(fill)) return this.tryFill(fill) || this.grow(fill, fill.below);
    for (let i = top; i >= fill.lo; i--) {
      const ev = fill.list[i]!;
      if (ev.event.timestamp < fill.floorTs) break;
      if (!this.admissible(fill, ev)) continue;
      const added = fill.distinct ? this.note(fill, ev) : false;
      if (fill.distinct && !added) continue;
      fill.set.push(ev);
      if (this.extend(fill, i - 1)) return true;
      fill.set.pop();
      if (added) fill.values.pop();
    }
    return false;
  }

  /**
   * The set at `min` is no match: a larger one may be (it takes in what would block an `absent`).
   * Keep taking the latest events below the set's latest that allow a match, skipped ones included.
   */
  private grow(fill: Fill, top: number): boolean {
    for (let i = top; i >= fill.lo; i--) {
      if (--this.budget < 0) throw BUDGET_EXHAUSTED;
      const ev = fill.list[i]!;
      if (ev.event.timestamp < fill.floorTs) break;
      if (fill.set.includes(ev) || !this.admissible(fill, ev)) continue;
      fill.set.push(ev);
      if (this.tryFill(fill) || this.grow(fill, i - 1)) return true;
      fill.set.pop();
    }
    return false;
  }

  private place(s: number, set: StoredEvent[]): void {
    this.assigned[s] = set;
    for (const ev of set) {
      this.used.add(ev);
      if (ev === this.input.anchor) this.anchorUsed = true;
    }
  }

  private unplace(s: number, set: StoredEvent[]): void {
    this.assigned[s] = undefined;
    for (const ev of set) {
      this.used.delete(ev);
      if (ev === this.input.anchor) this.anchorUsed = false;
    }
  }

  /**
   * Joins of step `step` that can be checked with `ev` in it: against assigned steps (every pair),
   * and a join of the step with itself on `ev` alone.
   */
  private joinsHold(step: number, ev: StoredEvent): boolean {
    for (const j of this.plan.joins[step]!) {
      const sameStep = j.left.step === j.right.step;
      if (sameStep) {
        if (!joinHolds(j, ev, ev)) return false;
        continue;
      }
      const evIsLeft = j.left.step === step;
      const other = this.assigned[evIsLeft ? j.right.step : j.left.step];
      if (!other) continue;
      for (const o of other) {
        if (!(evIsLeft ? joinHolds(j, ev, o) : joinHolds(j, o, ev))) return false;
      }
    }
    return true;
  }

  /** Absents touching step s whose both ends are assigned. */
  private absentsHoldFor(s: number): boolean {
    for (const a of this.plan.absents[s]!) if (!this.absentHolds(a, false)) return false;
    return true;
  }

  /**
   * No stored event matching the absent's `where` strictly between the latest event of `after` and
   * the earliest of `before`, other than the match's own events. Before the match is complete, a
   * blocker that a still unassigned step could take does not fail the branch yet.
   */
  private absentHolds(a: number, exact: boolean): boolean {
    const abs = this.plan.pattern.absent[a]!;
    const afterSet = this.assigned[abs.after];
    const beforeSet = this.assigned[abs.before];
    if (!afterSet || !beforeSet) return true;
    const from = afterSet[afterSet.length - 1]!;
    const to = beforeSet[0]!;
    if (compareStored(from, to) >= 0) return true;
    const list = this.input.absents[a]!;
    const lo = countBefore(list, from.event.timestamp, from.seq + 1);
    const hi = countBefore(list, to.event.timestamp, to.seq);
    for (let i = lo; i < hi; i++) {
      const ev = list[i]!;
      if (this.used.has(ev)) continue;
      if (exact || !this.couldStillBeUsed(ev)) return false;
    }
    return true;
  }

  private couldStillBeUsed(ev: StoredEvent): boolean {
    for (let s = 0; s < this.n; s++) {
      if (this.assigned[s]) continue;
      if (containsSorted(this.input.steps[s]!, ev) && ev.event.timestamp > this.input.consumed) return true;
    }
    return false;
  }
}

/** A count step's set under construction. */
interface Fill {
  s: number;
  /** Search position of the step. */
  k: number;
  list: readonly StoredEvent[];
  lo: number;
  min: number;
  distinct: string[] | undefined;
  floorTs: number;
  /** Index (in `list`) just below the set's latest event. */
  below: number;
  set: StoredEvent[];
  values: unknown[];
}

/** Thrown when a search exceeds its budget of count-set extensions (see MAX_EXTENSIONS). */
const BUDGET_EXHAUSTED = new Error("match search budget exhausted");

/**
 * Count sets built by lookahead can in the worst case try many subsets; a search that has tried this
 * many gives up (no match) and is counted, rather than stall the partition.
 */
export const MAX_EXTENSIONS = 50_000;

interface Bounds {
  /** Timestamps must be > loTs (the consumption mark). */
  loTs: number;
  /** Inclusive timestamp window from `within` / `edges_within`. */
  minTs: number;
  maxTs: number;
  /** Strictly after this event / strictly before this event, by (timestamp, seq). */
  after: StoredEvent | undefined;
  before: StoredEvent | undefined;
}

function joinHolds(j: CompiledJoin, left: StoredEvent, right: StoredEvent): boolean {
  const l = readPath(left.event, j.left.path);
  const r = readPath(right.event, j.right.path);
  return j.op === "contains" ? joinContains(l, r) : joinEquals(l, r);
}
