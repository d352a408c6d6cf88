import type { ToolCallEvent } from "../events/schema.js";

/**
 * A pattern after loading and compiling: everything the matcher needs, nothing it must re-parse.
 * Produced by `compilePattern` (src/patterns/compile.ts), consumed by src/engine.
 */

/** `categories` = the event's own categories plus those the taxonomy gives its tool. */
export type EventPredicate = (event: ToolCallEvent, categories: ReadonlySet<string>) => boolean;

/** Hints for the per-event dispatch index: what an event must have for this `where` to hold. */
export interface DispatchHint {
  /** The `where` can only hold for these tool names (literal / `in` on `tool`). */
  tools?: string[];
  /** The `where` can only hold for events having one of these categories (literal / `in` on `category`). */
  categories?: string[];
}

export interface CompiledWhere {
  test: EventPredicate;
  hint: DispatchHint;
  /**
   * Event field paths the predicate reads, exactly as dotted paths ("arguments.to", "hitl.approved",
   * "tool"; `category` reads "categories", "tool" and "server"). A path names a value the predicate
   * reads as a whole: an event keeping only these paths (and what lies under them) gives the same answer.
   */
  fields: string[];
  /**
   * Optional canonical form of the `where` (e.g. its JSON with sorted keys): `where`s with the same
   * key hold for the same events, so the engine evaluates and indexes them once for all patterns.
   */
  key?: string;
}

export interface CompiledStep {
  id: string;
  index: number;
  where: CompiledWhere;
  count?: { min: number; distinct?: string[] /* path, split on dots */ };
}

export interface StepPath {
  step: number;
  path: string[];
}

export interface CompiledJoin {
  left: StepPath;
  right: StepPath;
  op: "equals" | "contains";
}

export interface CompiledAbsent {
  where: CompiledWhere;
  after: number;
  before: number;
}

export interface CompiledEdgeWithin {
  from: number;
  to: number;
  withinMs: number;
}

export interface PatternTest {
  name: string;
  /** Absolute path of the JSONL fixture. */
  events: string;
  expect: number;
}

export type Severity = "low" | "medium" | "high" | "critical";

export interface CompiledPattern {
  id: string;
  version: number;
  title: string;
  description?: string;
  severity: Severity;
  tags: string[];
  /** Field paths forming the group (default ["user_id"]). */
  groupBy: string[];
  /** Same for every pattern with the same group_by list: `groupBy.join(",")`. */
  groupingId: string;
  /** 0 for a one-step pattern without `within`. */
  withinMs: number;
  steps: CompiledStep[];
  /** Order edges as step indexes; "sequence" becomes i -> i+1, "any" none. Acyclic. */
  orderEdges: Array<[number, number]>;
  joins: CompiledJoin[];
  absent: CompiledAbsent[];
  edgesWithin: CompiledEdgeWithin[];
  suppressMs: number;
  tests: PatternTest[];
  /** File the pattern was loaded from (for messages). */
  source: string;
  /**
   * Event field paths (dotted, e.g. "arguments.to", "result.file_id", "user_id") any predicate, join,
   * distinct or group_by of this pattern reads, each read as a whole value; paths are followed through
   * objects only (never into arrays), as `readPath` does. A path may lie under another listed path.
   */
  fields: string[];
}

/** Maps an event to the categories of the loaded taxonomies (merged). */
export interface Taxonomy {
  categoriesOf(event: ToolCallEvent): ReadonlySet<string>;
}

export interface PatternSet {
  patterns: CompiledPattern[];
  taxonomy: Taxonomy;
  /** Longest `within` / `edges_within` of the loaded patterns: the window every group keeps. */
  retentionMs: number;
}
