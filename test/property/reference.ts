import { createHash } from "node:crypto";
import { readPath, type ToolCallEvent } from "../../src/events/index.js";
import type { CompiledWhere, PatternSet } from "../../src/patterns/compiled.js";

/**
 * A brute-force reading of shared/spec/patterns.md (rules 1–6, "Details that matter") and
 * docs/semantics.md, written to check the engine, so it shares no code with src/engine.
 *
 * From the compiled set it borrows only the `where` predicates and the taxonomy (operator semantics are
 * tested elsewhere). Everything structural — steps, order, within, edges_within, joins, absent,
 * suppress, group_by, the retention window — is read again from the pattern JSON.
 *
 * On each arrival it enumerates EVERY assignment of stored events to steps (every subset for a count
 * step), keeps the valid, eligible ones containing the arriving event, and picks the reported one by the
 * procedure of docs/semantics.md ("Reported match"). Exponential on purpose: keep traces small.
 */

export interface RefAlert {
  alert_id: string;
  pattern_id: string;
  group: Record<string, string>;
  trigger_event_id: string;
  first_seen: string;
  last_seen: string;
  steps: Array<{ step: string; event_ids: string[] }>;
}

export interface RefOutcome {
  duplicate: boolean;
  /** Groups (one per grouping) in which the event was too late. */
  tooLateGroups: number;
  alerts: RefAlert[];
}

export interface RefOptions {
  maxEventsPerGroup?: number;
}

/** The pattern JSON fields this reference reads (the rest is irrelevant to matching). */
export interface PatternJson {
  id: string;
  version: number;
  group_by?: string[];
  within?: string;
  steps: Array<{ id: string; where: unknown; count?: { min: number; distinct?: string } }>;
  order?: "sequence" | "any" | Array<[string, string]>;
  join?: Array<{ left: string; right: string; op?: "equals" | "contains" }>;
  absent?: Array<{ where: unknown; after: string; before: string }>;
  edges_within?: Array<{ from: string; to: string; within: string }>;
  suppress?: string;
}

interface Step {
  id: string;
  where: CompiledWhere;
  count?: { min: number; distinct?: string[] };
}

interface Pattern {
  id: string;
  version: number;
  groupBy: string[];
  groupingKey: string;
  withinMs: number;
  steps: Step[];
  edges: Array<[number, number]>;
  joins: Array<{ left: [number, string[]]; right: [number, string[]]; op: "equals" | "contains" }>;
  absent: Array<{ where: CompiledWhere; after: number; before: number }>;
  edgesWithin: Array<{ from: number; to: number; ms: number }>;
  suppressMs: number;
}

interface Ev {
  ev: ToolCallEvent;
  seq: number;
  cats: ReadonlySet<string>;
}

interface Group {
  values: string[];
  events: Ev[];
  newest: number;
  nextSeq: number;
  marks: Map<string, { consumed: number; lastAlert: number | null }>;
}

/** One assignment: per step index, its events sorted by (timestamp, seq). */
type Assignment = Ev[][];

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`reference: bad duration ${text}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** (timestamp, arrival) order. */
function before(a: Ev, b: Ev): boolean {
  return a.ev.timestamp < b.ev.timestamp || (a.ev.timestamp === b.ev.timestamp && a.seq < b.seq);
}

function cmp(a: Ev, b: Ev): number {
  return a.ev.timestamp - b.ev.timestamp || a.seq - b.seq;
}

/** JSON-typed deep equality. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  return (
    ak.length === Object.keys(bo).length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]))
  );
}

/**
 * docs/semantics.md: deep equality; with an array on either side, any element equal also holds. With
 * arrays on both sides the text can be read two ways (an element of one equal to the whole other, or
 * any two elements equal); this follows the second, the rule applied to each side in turn (reported).
 */
function joinEquals(l: unknown, r: unknown): boolean {
  if (jsonEqual(l, r)) return true;
  if (Array.isArray(l) && l.some((x) => jsonEqual(x, r))) return true;
  if (Array.isArray(r) && r.some((y) => jsonEqual(l, y))) return true;
  if (Array.isArray(l) && Array.isArray(r)) return l.some((x) => r.some((y) => jsonEqual(x, y)));
  return false;
}

/** patterns.md: string left needs a string right (substring); array left: element equality; array right: any element. */
function joinContains(l: unknown, r: unknown): boolean {
  if (Array.isArray(r)) return r.some((x) => joinContains(l, x));
  if (typeof l === "string") return typeof r === "string" && l.includes(r);
  if (Array.isArray(l)) return l.some((x) => jsonEqual(x, r));
  return false;
}

/**
 * Group values compare as strings (docs/semantics.md). A value that is no scalar (null, an array, an
 * object inside arguments/result) has no string form the docs define; read as missing (reported).
 */
function groupValue(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

export class Reference {
  private readonly patterns: Pattern[];
  private readonly windowMs: number;
  private readonly maxEvents: number;
  private readonly seen = new Set<string>();
  /** grouping key → group key → group. */
  private readonly groups = new Map<string, Map<string, Group>>();
  private readonly groupings: string[][] = [];

  constructor(
    private readonly set: PatternSet,
    patternJson: PatternJson[],
    opts: RefOptions = {},
  ) {
    this.maxEvents = opts.maxEventsPerGroup ?? 10_000;
    this.patterns = patternJson.map((json) => {
      const compiled = set.patterns.find((p) => p.id === json.id);
      if (!compiled) throw new Error(`reference: pattern ${json.id} not in the compiled set`);
      return readPattern(json, compiled);
    });
    // patterns.md rule 6 and "too late": the longest `within` (an edge's span never needs more).
    let w = 0;
    for (const p of this.patterns) w = Math.max(w, p.withinMs);
    this.windowMs = w;
    for (const p of this.patterns) {
      if (!this.groupings.some((g) => g.join(",") === p.groupingKey)) this.groupings.push(p.groupBy);
    }
  }

  push(ev: ToolCallEvent): RefOutcome {
    const out: RefOutcome = { duplicate: false, tooLateGroups: 0, alerts: [] };
    if (this.seen.has(ev.event_id)) {
      out.duplicate = true;
      return out;
    }
    this.seen.add(ev.event_id);
    const cats = this.set.taxonomy.categoriesOf(ev);
    for (const fields of this.groupings) {
      const maybeValues = fields.map((f) => groupValue(readPath(ev, f.split("."))));
      if (maybeValues.some((v) => v === undefined)) continue;
      const values = maybeValues as string[];
      const gk = fields.join(",");
      const byKey = this.groups.get(gk) ?? new Map<string, Group>();
      this.groups.set(gk, byKey);
      const key = JSON.stringify(values);
      const g = byKey.get(key) ?? {
        values,
        events: [],
        newest: Number.NEGATIVE_INFINITY,
        nextSeq: 0,
        marks: new Map(),
      };
      byKey.set(key, g);

      if (ev.timestamp < g.newest - this.windowMs) {
        out.tooLateGroups++;
        continue;
      }
      g.newest = Math.max(g.newest, ev.timestamp);
      const horizon = g.newest - this.windowMs;
      g.events = g.events.filter((x) => x.ev.timestamp >= horizon);
      // "Only events that some loaded pattern could use are stored": read per grouping (a pattern of
      // another grouping never looks at this group), which matters only to the bound.
      const usable = this.patterns.some(
        (p) =>
          p.groupingKey === gk &&
          (p.steps.some((s) => s.where.test(ev, cats)) || p.absent.some((a) => a.where.test(ev, cats))),
      );
      if (!usable) continue;
      const me: Ev = { ev, seq: g.nextSeq++, cats };
      g.events.push(me);
      g.events.sort(cmp);
      while (g.events.length > this.maxEvents) g.events.shift();
      if (!g.events.includes(me)) continue;

      for (const p of this.patterns) {
        if (p.groupingKey !== gk) continue;
        const alert = this.search(p, g, me);
        if (alert) out.alerts.push(alert);
      }
    }
    return out;
  }

  private search(p: Pattern, g: Group, trigger: Ev): RefAlert | undefined {
    const mark = g.marks.get(p.id) ?? { consumed: Number.NEGATIVE_INFINITY, lastAlert: null };
    if (trigger.ev.timestamp <= mark.consumed) return undefined;
    const pool = g.events.filter((x) => x.ev.timestamp > mark.consumed);
    const all = enumerate(p, pool, g.events).filter((a) => {
      if (!a.some((evs) => evs.includes(trigger))) return false;
      if (mark.lastAlert === null) return true;
      return lastSeen(a) >= mark.lastAlert + p.suppressMs;
    });
    if (all.length === 0) return undefined;
    const chosen = report(p, all, trigger, pool);
    const first = Math.min(...chosen.flat().map((x) => x.ev.timestamp));
    const last = lastSeen(chosen);
    g.marks.set(p.id, { consumed: last, lastAlert: last });
    const group: Record<string, string> = {};
    p.groupBy.forEach((f, i) => {
      group[f] = g.values[i]!;
    });
    return {
      alert_id: alertId(p.id, p.version, g.values, trigger.ev.event_id),
      pattern_id: p.id,
      group,
      trigger_event_id: trigger.ev.event_id,
      first_seen: new Date(first).toISOString(),
      last_seen: new Date(last).toISOString(),
      steps: p.steps.map((s, i) => ({ step: s.id, event_ids: chosen[i]!.map((x) => x.ev.event_id) })),
    };
  }
}

export function alertId(id: string, version: number, groupValues: string[], triggerId: string): string {
  return createHash("sha256")
    .update([id, String(version), ...groupValues, triggerId].join("\n"))
    .digest("hex")
    .slice(0, 32);
}

function lastSeen(a: Assignment): number {
  return Math.max(...a.flat().map((x) => x.ev.timestamp));
}

function readPattern(json: PatternJson, compiled: PatternSet["patterns"][number]): Pattern {
  const index = new Map(json.steps.map((s, i) => [s.id, i]));
  const ix = (id: string): number => {
    const i = index.get(id);
    if (i === undefined) throw new Error(`reference: unknown step ${id}`);
    return i;
  };
  const order = json.order ?? "sequence";
  const edges: Array<[number, number]> =
    order === "sequence"
      ? json.steps.slice(1).map((_, i) => [i, i + 1])
      : order === "any"
        ? []
        : order.map(([a, b]) => [ix(a), ix(b)]);
  const stepPath = (ref: string): [number, string[]] => {
    const dot = ref.indexOf(".");
    return [ix(ref.slice(0, dot)), ref.slice(dot + 1).split(".")];
  };
  const groupBy = json.group_by ?? ["user_id"];
  return {
    id: json.id,
    version: json.version,
    groupBy,
    groupingKey: groupBy.join(","),
    withinMs: json.within === undefined ? 0 : durationMs(json.within),
    steps: json.steps.map((s, i) => ({
      id: s.id,
      where: compiled.steps[i]!.where,
      count: s.count && {
        min: s.count.min,
        ...(s.count.distinct === undefined ? {} : { distinct: s.count.distinct.split(".") }),
      },
    })),
    edges,
    joins: (json.join ?? []).map((j) => ({
      left: stepPath(j.left),
      right: stepPath(j.right),
      op: j.op ?? "equals",
    })),
    absent: (json.absent ?? []).map((a, k) => ({
      where: compiled.absent[k]!.where,
      after: ix(a.after),
      before: ix(a.before),
    })),
    edgesWithin: (json.edges_within ?? []).map((e) => ({
      from: ix(e.from),
      to: ix(e.to),
      ms: durationMs(e.within),
    })),
    suppressMs: json.suppress === undefined ? 0 : durationMs(json.suppress),
  };
}

/** Distinct present values of the count's `distinct` path among `evs` (JSON-typed). */
function distinctValues(evs: Ev[], path: string[]): unknown[] {
  const vals: unknown[] = [];
  for (const x of evs) {
    const v = readPath(x.ev, path);
    if (v !== undefined && !vals.some((u) => jsonEqual(u, v))) vals.push(v);
  }
  return vals;
}

function countMet(step: Step, evs: Ev[]): boolean {
  const c = step.count!;
  if (evs.length < c.min) return false;
  return c.distinct === undefined || distinctValues(evs, c.distinct).length >= c.min;
}

/** A pairwise constraint between an event placed in step `i` and one placed in step `j`. */
function pairOk(p: Pattern, i: number, x: Ev, j: number, y: Ev): boolean {
  for (const [a, b] of p.edges) {
    if (a === i && b === j && !before(x, y)) return false;
    if (a === j && b === i && !before(y, x)) return false;
  }
  for (const jn of p.joins) {
    let l: Ev | undefined;
    let r: Ev | undefined;
    if (jn.left[0] === i && jn.right[0] === j) [l, r] = [x, y];
    else if (jn.left[0] === j && jn.right[0] === i) [l, r] = [y, x];
    else continue;
    const lv = readPath(l.ev, jn.left[1]);
    const rv = readPath(r.ev, jn.right[1]);
    if (lv === undefined || rv === undefined) return false;
    if (!(jn.op === "equals" ? joinEquals(lv, rv) : joinContains(lv, rv))) return false;
  }
  return true;
}

function spanOk(evs: Ev[], limit: number): boolean {
  if (evs.length === 0) return true;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of evs) {
    lo = Math.min(lo, x.ev.timestamp);
    hi = Math.max(hi, x.ev.timestamp);
  }
  return hi - lo <= limit;
}

/** Checks everything that only needs a complete assignment: spans, joins inside one step, absent. */
function completeOk(p: Pattern, a: Assignment, stored: Ev[]): boolean {
  if (!spanOk(a.flat(), p.withinMs)) return false;
  for (const e of p.edgesWithin) if (!spanOk([...a[e.from]!, ...a[e.to]!], e.ms)) return false;
  for (const ab of p.absent) {
    const lo = a[ab.after]!.reduce((m, x) => (before(m, x) ? x : m));
    const hi = a[ab.before]!.reduce((m, x) => (before(x, m) ? x : m));
    const own = new Set(a.flat());
    const blocked = stored.some(
      (z) => !own.has(z) && before(lo, z) && before(z, hi) && ab.where.test(z.ev, z.cats),
    );
    if (blocked) return false;
  }
  return true;
}

/** Every valid assignment over `pool` (the unconsumed stored events); `stored` is every stored event. */
function enumerate(p: Pattern, pool: Ev[], stored: Ev[]): Assignment[] {
  const n = p.steps.length;
  const cands = p.steps.map((s) => pool.filter((x) => s.where.test(x.ev, x.cats)));
  const out: Assignment[] = [];
  const assigned: Ev[][] = [];
  const used = new Set<Ev>();
  const fits = (i: number, x: Ev): boolean => {
    if (used.has(x)) return false;
    for (let j = 0; j < i; j++) for (const y of assigned[j]!) if (!pairOk(p, i, x, j, y)) return false;
    // Prune early on the overall span; the exact check runs on the complete assignment.
    for (let j = 0; j < i; j++)
      for (const y of assigned[j]!) if (Math.abs(x.ev.timestamp - y.ev.timestamp) > p.withinMs) return false;
    return true;
  };
  const step = (i: number): void => {
    if (i === n) {
      const a = assigned.map((evs) => [...evs].sort(cmp));
      if (completeOk(p, a, stored)) out.push(a);
      return;
    }
    const s = p.steps[i]!;
    const cs = cands[i]!.filter((x) => fits(i, x));
    if (!s.count) {
      for (const x of cs.filter((y) => innerOk(p, i, [y]))) {
        assigned[i] = [x];
        used.add(x);
        step(i + 1);
        used.delete(x);
      }
      return;
    }
    // Every subset of the fitting candidates; pairs inside the step are checked here.
    const chosen: Ev[] = [];
    const sub = (k: number): void => {
      if (k === cs.length) {
        if (countMet(s, chosen) && innerOk(p, i, chosen)) {
          assigned[i] = [...chosen];
          for (const x of chosen) used.add(x);
          step(i + 1);
          for (const x of chosen) used.delete(x);
        }
        return;
      }
      sub(k + 1);
      const x = cs[k]!;
      if (chosen.every((y) => Math.abs(x.ev.timestamp - y.ev.timestamp) <= p.withinMs)) {
        chosen.push(x);
        sub(k + 1);
        chosen.pop();
      }
    };
    sub(0);
  };
  step(0);
  return out;
}

/**
 * A join whose two sides name one step holds when it holds on each event of that step on its own
 * (docs/semantics.md "Engine details").
 */
function innerOk(p: Pattern, i: number, evs: Ev[]): boolean {
  return evs.every((x) => pairOk(p, i, x, i, x));
}

/**
 * docs/semantics.md "Reported match": single steps last to first, each its latest event that still
 * allows a match; then count steps last to first, each settled completely before the next: its latest
 * possible latest event, then its set from that event downwards — that event, the arriving event if it
 * can be in this step (and is in no later step), then the latest events that still allow a match (with
 * `distinct`, only an event adding a new present value: the latest occurrence of each value) until the
 * count is met. (The docs leave open whether all latest events are chosen before any set is built; the
 * step-by-step reading is rule 4's "each picks" applied to a count step as a whole.)
 */
function report(p: Pattern, all: Assignment[], trigger: Ev, pool: Ev[]): Assignment {
  let ms = all;
  const order = p.steps.map((_, i) => i).reverse();
  const latest = (evs: Ev[]): Ev => evs.reduce((m, x) => (before(m, x) ? x : m));
  const pickLatest = (key: (a: Assignment) => Ev): Ev => {
    const best = ms.map(key).reduce((m, x) => (before(m, x) ? x : m));
    ms = ms.filter((a) => key(a) === best);
    return best;
  };
  for (const i of order) if (!p.steps[i]!.count) pickLatest((a) => a[i]![0]!);
  let triggerPlaced = ms[0]!.some((evs, i) => !p.steps[i]!.count && evs[0] === trigger);
  for (const i of order) {
    const s = p.steps[i]!;
    if (!s.count) continue;
    const top = pickLatest((a) => latest(a[i]!));
    const set = new Set<Ev>([top]);
    if (!triggerPlaced && ms.some((a) => a[i]!.includes(trigger))) {
      ms = ms.filter((a) => a[i]!.includes(trigger));
      set.add(trigger);
      triggerPlaced = true;
    }
    const below = pool.filter((x) => before(x, top) && !set.has(x)).sort((a, b) => cmp(b, a));
    for (const x of below) {
      if (countMet(s, [...set])) break;
      if (s.count.distinct) {
        const v = readPath(x.ev, s.count.distinct);
        if (v === undefined || distinctValues([...set], s.count.distinct).some((u) => jsonEqual(u, v)))
          continue;
      }
      const want = [...set, x];
      if (ms.some((a) => want.every((y) => a[i]!.includes(y)))) set.add(x);
    }
    const exactly = (a: Assignment) => a[i]!.length === set.size && a[i]!.every((y) => set.has(y));
    if (!ms.some(exactly)) {
      // The docs' set is no match, yet a larger one is (it takes in what would block an `absent`, or
      // an event a `distinct` walk skips): the docs are silent; keep taking the latest events that
      // still allow a match until the set is one (reported as an open point).
      for (const x of below) {
        if (ms.some(exactly)) break;
        if (!set.has(x) && ms.some((a) => [...set, x].every((y) => a[i]!.includes(y)))) set.add(x);
      }
    }
    ms = ms.filter(exactly);
    if (ms.length === 0) {
      throw new Error(
        `reference: the reported set of step ${s.id} is not a match (a greedy case the generator avoids)`,
      );
    }
  }
  return ms[0]!;
}
