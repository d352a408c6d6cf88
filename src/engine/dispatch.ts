import { compilePath, readPath } from "../events/path.js";
import type { ToolCallEvent } from "../events/schema.js";
import { ToolCache } from "../events/tool-cache.js";
import type { CompiledWhere, Taxonomy } from "../patterns/compiled.js";
import type { PatternPlan } from "./plan.js";

/** One `where` of a grouping's patterns: a step's, or an `absent`'s. */
export interface WhereEntry {
  plan: PatternPlan;
  kind: "step" | "absent";
  /** Step index, or index into `pattern.absent`. */
  index: number;
  /** The slot evaluating (and indexing) this `where`. */
  slot: number;
}

/**
 * A distinct `where` of the grouping: entries whose `where`s have the same `key` share one slot, so it
 * is evaluated once per event and the group index keeps one count (and builds one list) for all.
 */
export interface Slot {
  id: number;
  where: CompiledWhere;
  entries: WhereEntry[];
  /** The step entries (a hit on one may start a search; absents alone never do). */
  steps: WhereEntry[];
  /** The step entries of steps nothing must follow: all an arriving event that goes last can fill. */
  lastSteps: WhereEntry[];
  /**
   * `steps` and `lastSteps` flat, as (plan index, step index) pairs: the search reads a few
   * contiguous numbers per hit instead of an entry and a plan object each (with a large library,
   * every such object is a cache miss).
   */
  stepRefs: Int32Array;
  lastStepRefs: Int32Array;
}

/** An event's categories and the key its candidate slots are cached under. */
export interface Classified {
  categories: ReadonlySet<string>;
  key: string;
  /**
   * The cache entry of the dispatcher that last looked this classification up (a classification is
   * shared by the events of one server/tool): the usual event needs no lookup by key.
   */
  entryOf: Dispatcher | undefined;
  entry: CacheEntry | undefined;
}

const MAX_CACHE = 20_000;

/**
 * Evaluates the taxonomy once per distinct `server/tool` (events without categories of their own:
 * the taxonomy is a function of server and tool) and once per event otherwise. The key names
 * server, tool and categories, so anything that depends on those alone can be cached under it.
 */
export class Classifier {
  private readonly cache = new ToolCache<Classified>(MAX_CACHE);
  constructor(private readonly taxonomy: Taxonomy) {}

  classify(event: ToolCallEvent): Classified {
    const own = event.categories;
    if (own !== undefined) {
      // The key holds the event's own list as given (order, repeats, empty): a `where` may read the
      // `categories` field itself, and a static one is cached under this key.
      const categories = this.taxonomy.categoriesOf(event);
      const key = `c\u0000${event.server}\u0000${event.tool}\u0000${JSON.stringify(own)}`;
      return { categories, key, entryOf: undefined, entry: undefined };
    }
    let hit = this.cache.get(event.server, event.tool);
    if (!hit) {
      hit = {
        categories: this.taxonomy.categoriesOf(event),
        key: `s\u0000${event.server}\u0000${event.tool}`,
        entryOf: undefined,
        entry: undefined,
      };
      this.cache.set(event.server, event.tool, hit);
    }
    return hit;
  }
}

export interface Candidate {
  slot: Slot;
  /** The `where` is known to hold (it reads only what the cache key fixes). */
  known: boolean;
  /** For an unknown one: its memo group in the cache entry, and its place in that group. */
  group?: MemoGroup;
  at?: number;
}

/**
 * Unknown candidates of one classification that read the same other fields (besides tool, server,
 * categories, which the classification fixes). Their answers are a function of those fields' values
 * (CompiledWhere.fields: an event keeping only those paths gives the same answer), so when the values
 * are all scalars they are remembered per value tuple: e.g. every `risk_level`/`hitl.approved` where
 * of a library costs one lookup per event instead of one evaluation each.
 */
interface MemoGroup {
  paths: string[][];
  slots: Slot[];
  /**
   * Value tuple (one map level per path) → id of the answer (per slot) in `answers`; undefined once
   * too many tuples.
   */
  memo: MemoLevel | undefined;
  /** Value tuples remembered. */
  size: number;
  /** The distinct answers remembered, by id; `answerIds` finds one by its text ("0110…"). */
  answers: Uint8Array[];
  answerIds: Map<string, number>;
  /** Scratch: this event's values of `paths`. */
  values: unknown[];
  /** This event's answers (set at the start of each evaluation). */
  current: Uint8Array;
  /** Scratch for answers computed directly (non-scalar values, or no memo). */
  direct: Uint8Array;
}

type MemoLevel = Map<unknown, unknown>;

/** Most value tuples remembered per group; beyond it the group is evaluated directly for good. */
const MAX_MEMO = 256;

const STATIC_FIELDS = new Set(["tool", "server", "categories"]);

function isStatic(where: CompiledWhere): boolean {
  return where.fields.every((f) => STATIC_FIELDS.has(f));
}

/**
 * Per grouping: which `where`s an event could satisfy, from the dispatch hints (tool names,
 * categories) plus the wildcard list of those without a hint. The candidate list depends only on
 * server, tool and categories, so it is cached per classification key.
 */
export class Dispatcher {
  readonly slots: Slot[] = [];
  /** stepSlot[plan.index][step] / absentSlot[plan.index][absent] → slot id. */
  readonly stepSlot: number[][] = [];
  readonly absentSlot: number[][] = [];
  /**
   * Per plan, what its steps need, flat: `needs[needStart[p] ..< needStart[p + 1]]` holds (slot id,
   * least events) pairs, one per step. A pattern is ruled out by these and the group's counts alone.
   */
  readonly needStart: Int32Array;
  readonly needs: Int32Array;
  private readonly byKey = new Map<string, Slot>();
  private readonly byTool = new Map<string, Slot[]>();
  private readonly byCategory = new Map<string, Slot[]>();
  private readonly wildcard: Slot[] = [];
  private readonly cache = new Map<string, CacheEntry>();
  /** Scratch for one event's hits (the slot count bounds its length). */
  private scratch: number[] = [];

  constructor(plans: PatternPlan[]) {
    const needs: number[] = [];
    this.needStart = new Int32Array(plans.length + 1);
    for (const plan of plans) {
      const steps = plan.pattern.steps.map((s) => this.add(plan, "step", s.index, s.where));
      this.stepSlot.push(steps);
      this.absentSlot.push(plan.pattern.absent.map((a, i) => this.add(plan, "absent", i, a.where)));
      for (let s = 0; s < steps.length; s++) needs.push(steps[s]!, plan.minEvents[s]!);
      this.needStart[plan.index + 1] = needs.length;
    }
    this.needs = Int32Array.from(needs);
    for (const slot of this.slots) {
      slot.stepRefs = Int32Array.from(slot.steps.flatMap((e) => [e.plan.index, e.index]));
      slot.lastStepRefs = Int32Array.from(slot.lastSteps.flatMap((e) => [e.plan.index, e.index]));
    }
  }

  private add(plan: PatternPlan, kind: WhereEntry["kind"], index: number, where: CompiledWhere): number {
    let slot = where.key === undefined ? undefined : this.byKey.get(where.key);
    if (!slot) {
      slot = {
        id: this.slots.length,
        where,
        entries: [],
        steps: [],
        lastSteps: [],
        stepRefs: NO_REFS,
        lastStepRefs: NO_REFS,
      };
      this.slots.push(slot);
      if (where.key !== undefined) this.byKey.set(where.key, slot);
      const { tools, categories } = where.hint;
      if (tools) for (const t of tools) push(this.byTool, t, slot);
      else if (categories) for (const c of categories) push(this.byCategory, c, slot);
      else this.wildcard.push(slot);
    }
    const entry: WhereEntry = { plan, kind, index, slot: slot.id };
    slot.entries.push(entry);
    if (kind === "step") {
      slot.steps.push(entry);
      if ((plan.lastStepsMask & (1 << index)) !== 0) slot.lastSteps.push(entry);
    }
    return slot.id;
  }

  /**
   * The slots that could hold for an event with this classification, in id order. A `where` that
   * reads only tool, server and categories has the same result for every event of the key: it is
   * evaluated once here, dropped when false and marked `known` when true.
   */
  candidates(event: ToolCallEvent, cls: Classified): Candidate[] {
    return this.entryFor(event, cls).list;
  }

  private entryFor(event: ToolCallEvent, cls: Classified): CacheEntry {
    if (cls.entryOf === this) return cls.entry!;
    let entry = this.cache.get(cls.key);
    if (!entry) entry = this.newEntry(event, cls);
    cls.entryOf = this;
    cls.entry = entry;
    return entry;
  }

  private newEntry(event: ToolCallEvent, cls: Classified): CacheEntry {
    const found = new Set<Slot>(this.wildcard);
    for (const s of this.byTool.get(event.tool) ?? []) found.add(s);
    for (const c of cls.categories) for (const s of this.byCategory.get(c) ?? []) found.add(s);
    const list: Candidate[] = [];
    const groups = new Map<string, MemoGroup>();
    for (const slot of [...found].sort((a, b) => a.id - b.id)) {
      if (!isStatic(slot.where)) {
        const read = slot.where.fields.filter((f) => !STATIC_FIELDS.has(f)).sort();
        const sig = read.join("\u0000");
        let group = groups.get(sig);
        if (!group) {
          group = {
            paths: read.map(compilePath),
            slots: [],
            memo: new Map(),
            size: 0,
            answers: [],
            answerIds: new Map(),
            values: [],
            current: EMPTY_ANSWERS,
            direct: EMPTY_ANSWERS,
          };
          groups.set(sig, group);
        }
        list.push({ slot, known: false, group, at: group.slots.length });
        group.slots.push(slot);
      } else if (slot.where.test(event, cls.categories)) list.push({ slot, known: true });
    }
    for (const g of groups.values()) g.direct = new Uint8Array(g.slots.length);
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    const memoGroups = [...groups.values()];
    const entry: CacheEntry = {
      list,
      recent: [NO_HITS],
      groups: memoGroups,
      fixed: memoGroups.length === 0 ? hitsOf(list, this.scratch) : undefined,
      byAnswers: memoGroups.length <= MAX_KEYED_GROUPS ? new Map() : undefined,
    };
    this.cache.set(cls.key, entry);
    return entry;
  }

  /**
   * Ids (ascending) of the slots whose `where` holds for the event; each evaluated at most once.
   * The result is shared and must not be modified (the group index keeps it per stored event: no
   * new array per event). With every memo group answering from memory, the list is itself
   * remembered per combination of answers: the usual event costs a few value reads and lookups.
   */
  evaluate(event: ToolCallEvent, cls: Classified): readonly number[] {
    const entry = this.entryFor(event, cls);
    if (entry.fixed !== undefined) return entry.fixed;
    const groups = entry.groups;
    const byAnswers = entry.byAnswers;
    // Answer ids in mixed radix (each below MAX_MEMO + 1): exact for up to MAX_KEYED_GROUPS groups.
    let combo = 0;
    let keyed = byAnswers !== undefined;
    for (let g = 0; g < groups.length; g++) {
      const id = answer(groups[g]!, event, cls.categories);
      if (id < 0) keyed = false;
      else combo = combo * (MAX_MEMO + 1) + id;
    }
    if (keyed) {
      const known = byAnswers!.get(combo);
      if (known !== undefined) return known;
    }
    const hits = this.shared(entry, hitsOf(entry.list, this.scratch));
    if (keyed && byAnswers!.size < MAX_COMBOS) byAnswers!.set(combo, hits);
    return hits;
  }

  /** `hits` or an equal list among the entry's few recent ones (events mostly hit the same slots). */
  private shared(entry: CacheEntry, hits: number[]): readonly number[] {
    const recent = entry.recent;
    for (let r = 0; r < recent.length; r++) if (sameIds(recent[r]!, hits)) return recent[r]!;
    if (recent.length >= RECENT_HITS) recent.pop();
    recent.unshift(hits);
    return hits;
  }
}

/** Per classification key: candidate slots, and recent distinct hit lists (most recent first). */
interface CacheEntry {
  list: Candidate[];
  recent: Array<readonly number[]>;
  /** Memo groups of the unknown candidates. */
  groups: MemoGroup[];
  /** With no memo group: the hits, the same for every event of the key. */
  fixed: readonly number[] | undefined;
  /** Hits by the combination of the groups' answer ids (undefined: too many groups to key). */
  byAnswers: Map<number, readonly number[]> | undefined;
}

/** Ids of the candidates holding for the event (its groups' `current` answers set), ascending. */
function hitsOf(list: Candidate[], scratch: number[]): number[] {
  let n = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (c.known || c.group!.current[c.at!] === 1) scratch[n++] = c.slot.id;
  }
  return scratch.slice(0, n);
}

const EMPTY_ANSWERS = new Uint8Array(0);

/**
 * Sets `group.current` to this event's answers, remembered for its value tuple or else evaluated;
 * returns the id of the remembered answer, or -1 when evaluated directly (not remembered).
 */
function answer(group: MemoGroup, event: ToolCallEvent, categories: ReadonlySet<string>): number {
  const memo = group.memo;
  if (memo) {
    const paths = group.paths;
    const values = group.values;
    let scalar = true;
    for (let i = 0; i < paths.length && scalar; i++) {
      const v = readPath(event, paths[i]!);
      values[i] = v;
      scalar = typeof v !== "object" || v === null; // an object or array: not worth remembering
    }
    if (scalar) {
      // One map level per path, keyed by the value itself (Map keys tell 1, "1" and true apart): a
      // lookup builds no key string. The last level holds the answer ids.
      const last = paths.length - 1;
      let level = memo;
      for (let i = 0; i < last; i++) {
        let next = level.get(values[i]) as MemoLevel | undefined;
        if (next === undefined) {
          next = new Map();
          level.set(values[i], next);
        }
        level = next;
      }
      const known = level.get(values[last]) as number | undefined;
      if (known !== undefined) {
        group.current = group.answers[known]!;
        return known;
      }
      if (group.size < MAX_MEMO) {
        group.size++;
        const id = answerId(group, evaluateAll(group, event, categories, group.direct));
        level.set(values[last], id);
        group.current = group.answers[id]!;
        return id;
      }
      group.memo = undefined;
    }
  }
  evaluateAll(group, event, categories, group.direct);
  return -1;
}

/** The id of an answer equal to `out` (a copy of it is kept under a new id when none is). */
function answerId(group: MemoGroup, out: Uint8Array): number {
  const text = out.join("");
  let id = group.answerIds.get(text);
  if (id === undefined) {
    id = group.answers.length;
    group.answers.push(out.slice());
    group.answerIds.set(text, id);
  }
  return id;
}

function evaluateAll(
  group: MemoGroup,
  event: ToolCallEvent,
  categories: ReadonlySet<string>,
  out: Uint8Array,
): Uint8Array {
  const slots = group.slots;
  for (let i = 0; i < slots.length; i++) out[i] = slots[i]!.where.test(event, categories) ? 1 : 0;
  group.current = out;
  return out;
}

const NO_HITS: readonly number[] = Object.freeze([]);
const NO_REFS = new Int32Array(0);
/** Distinct hit lists remembered per classification key. */
const RECENT_HITS = 4;
/** Most memo groups whose answer ids make an exact number key (257^6 < 2^53). */
const MAX_KEYED_GROUPS = 6;
/** Most answer combinations remembered per classification key. */
const MAX_COMBOS = 4096;

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
