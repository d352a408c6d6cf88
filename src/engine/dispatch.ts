import type { ToolCallEvent } from "../events/schema.js";
import type { CompiledWhere, Taxonomy } from "../patterns/compiled.js";
import type { PatternPlan } from "./plan.js";

/** One `where` of a grouping's patterns: a step's, or an `absent`'s. */
export interface WhereEntry {
  /** Dense id within the grouping; the group index keys its candidate lists by it. */
  id: number;
  plan: PatternPlan;
  kind: "step" | "absent";
  /** Step index, or index into `pattern.absent`. */
  index: number;
  where: CompiledWhere;
}

/** An event's categories and the key its candidate entries are cached under. */
export interface Classified {
  categories: ReadonlySet<string>;
  key: string;
}

const MAX_CACHE = 20_000;

/**
 * Evaluates the taxonomy once per distinct `server/tool` (events without categories of their own:
 * the taxonomy is a function of server and tool) and once per event otherwise. The key names
 * server, tool and categories, so anything that depends on those alone can be cached under it.
 */
export class Classifier {
  private readonly cache = new Map<string, Classified>();
  constructor(private readonly taxonomy: Taxonomy) {}

  classify(event: ToolCallEvent): Classified {
    const own = event.categories;
    if (own && own.length > 0) {
      const categories = this.taxonomy.categoriesOf(event);
      const key = `c\u0000${event.server}\u0000${event.tool}\u0000${[...categories].sort().join("\u0000")}`;
      return { categories, key };
    }
    const key = `s\u0000${event.server}\u0000${event.tool}`;
    let hit = this.cache.get(key);
    if (!hit) {
      if (this.cache.size >= MAX_CACHE) this.cache.clear();
      hit = { categories: this.taxonomy.categoriesOf(event), key };
      this.cache.set(key, hit);
    }
    return hit;
  }
}

/**
 * Per grouping: which `where`s an event could satisfy, from the dispatch hints (tool names,
 * categories) plus the wildcard list of those without a hint. The candidate list depends only on the
 * tool and the categories, so it is cached per classification key.
 */
export class Dispatcher {
  readonly entries: WhereEntry[] = [];
  /** stepEntry[plan.index][step] / absentEntry[plan.index][absent] → entry id. */
  readonly stepEntry: number[][] = [];
  readonly absentEntry: number[][] = [];
  private readonly byTool = new Map<string, WhereEntry[]>();
  private readonly byCategory = new Map<string, WhereEntry[]>();
  private readonly wildcard: WhereEntry[] = [];
  private readonly cache = new Map<string, Candidate[]>();

  constructor(plans: PatternPlan[]) {
    for (const plan of plans) {
      this.stepEntry.push(plan.pattern.steps.map((s) => this.add(plan, "step", s.index, s.where)));
      this.absentEntry.push(plan.pattern.absent.map((a, i) => this.add(plan, "absent", i, a.where)));
    }
  }

  private add(plan: PatternPlan, kind: WhereEntry["kind"], index: number, where: CompiledWhere): number {
    const entry: WhereEntry = { id: this.entries.length, plan, kind, index, where };
    this.entries.push(entry);
    const { tools, categories } = where.hint;
    if (tools) for (const t of tools) push(this.byTool, t, entry);
    else if (categories) for (const c of categories) push(this.byCategory, c, entry);
    else this.wildcard.push(entry);
    return entry.id;
  }

  /**
   * The entries that could hold for an event with this classification, in id order. A `where` that
   * reads only tool, server and categories has the same result for every event of the key: it is
   * evaluated once here, dropped when false and marked `known` when true.
   */
  candidates(event: ToolCallEvent, cls: Classified): Candidate[] {
    let list = this.cache.get(cls.key);
    if (list) return list;
    const ids = new Set<WhereEntry>(this.wildcard);
    for (const e of this.byTool.get(event.tool) ?? []) ids.add(e);
    for (const c of cls.categories) for (const e of this.byCategory.get(c) ?? []) ids.add(e);
    list = [];
    for (const entry of [...ids].sort((a, b) => a.id - b.id)) {
      if (!isStatic(entry.where)) list.push({ entry, known: false });
      else if (entry.where.test(event, cls.categories)) list.push({ entry, known: true });
    }
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(cls.key, list);
    return list;
  }

  /** Ids (ascending) of the entries whose `where` holds for the event; each evaluated at most once. */
  evaluate(event: ToolCallEvent, cls: Classified): number[] {
    const hits: number[] = [];
    for (const c of this.candidates(event, cls)) {
      if (c.known || c.entry.where.test(event, cls.categories)) hits.push(c.entry.id);
    }
    return hits;
  }
}

export interface Candidate {
  entry: WhereEntry;
  /** The `where` is known to hold (it reads only what the cache key fixes). */
  known: boolean;
}

const STATIC_FIELDS = new Set(["tool", "server", "categories"]);

function isStatic(where: CompiledWhere): boolean {
  return where.fields.every((f) => STATIC_FIELDS.has(f));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
