import { compilePath, readPath } from "../events/path.js";
import type { ToolCallEvent } from "../events/schema.js";
import { RISK_LEVELS } from "../events/schema.js";
import type { CompiledWhere, DispatchHint } from "./compiled.js";
import { compileGlob } from "./glob.js";
import type { Condition, JsonValue, Operators, Where } from "./schema.js";
import { whereKey } from "./where-key.js";

/**
 * `where` → a closure tree, built once per pattern. Per event: no allocation, no string splitting;
 * paths are pre-split, globs and regexes pre-compiled, `in` sets pre-built.
 *
 * Semantics (patterns.md "Details that matter"):
 * - a missing field makes every value operator false; `exists` tests presence; `not` negates;
 * - on an array, a value operator (literal, in, glob, regex, comparisons) holds if any element does;
 *   `contains` tests membership (substring on strings); combinators pass the whole value on, so
 *   `not` on an array means "no element";
 * - equality is JSON-typed (`false` ≠ `0`, `1` = `1.0`, deep for objects and arrays);
 * - comparisons with a level name are ordinal (`low < medium < high < critical`);
 * - `category` is the event's category set: treated like an array field of strings.
 */

type ValueTest = (v: unknown) => boolean;

const LEVEL_RANK: ReadonlyMap<unknown, number> = new Map(RISK_LEVELS.map((l, i) => [l, i]));

export function compileWhere(where: Where): CompiledWhere {
  const tests: EventTest[] = [];
  const fields = new Set<string>();
  for (const [key, cond] of Object.entries(where)) {
    if (key === "category") {
      const test = compileSetCondition(cond);
      tests.push((_e, cats) => test(cats));
      fields.add("categories").add("tool").add("server");
    } else {
      const keys = compilePath(key);
      const test = compileCondition(cond);
      tests.push(keys.length === 1 ? (e) => test(readTop(e, keys[0]!)) : (e) => test(readPath(e, keys)));
      // the exact path: operators and combinators (not/any/all) only ever read the value at it
      fields.add(key);
    }
  }
  return { test: andEvent(tests), hint: dispatchHint(where), fields: [...fields], key: whereKey(where) };
}

function readTop(e: ToolCallEvent, key: string): unknown {
  return Object.hasOwn(e, key) ? (e as unknown as Record<string, unknown>)[key] : undefined;
}

type EventTest = (event: ToolCallEvent, categories: ReadonlySet<string>) => boolean;

/** AND without rest parameters, so a call allocates nothing. */
function andEvent(tests: EventTest[]): EventTest {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [EventTest, EventTest];
    return (e, c) => a(e, c) && b(e, c);
  }
  return (e, c) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(e, c)) return false;
    return true;
  };
}

function and<T>(tests: Array<(x: T) => boolean>): (x: T) => boolean {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [(x: T) => boolean, (x: T) => boolean];
    return (x) => a(x) && b(x);
  }
  return (x) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(x)) return false;
    return true;
  };
}

// --- conditions on one value ---------------------------------------------------------------------

export function compileCondition(cond: Condition): ValueTest {
  if (!isOperators(cond)) return anyElement(equalsTest(cond));
  const parts: ValueTest[] = [];
  const o = cond;
  if (o.in !== undefined) parts.push(anyElement(inTest(o.in)));
  if (o.glob !== undefined) {
    const m = compileGlob(o.glob);
    parts.push(anyElement((v) => typeof v === "string" && m(v)));
  }
  if (o.regex !== undefined) {
    const re = new RegExp(o.regex);
    parts.push(anyElement((v) => typeof v === "string" && re.test(v)));
  }
  if (o.gt !== undefined) parts.push(anyElement(compare(o.gt, (a, b) => a > b)));
  if (o.gte !== undefined) parts.push(anyElement(compare(o.gte, (a, b) => a >= b)));
  if (o.lt !== undefined) parts.push(anyElement(compare(o.lt, (a, b) => a < b)));
  if (o.lte !== undefined) parts.push(anyElement(compare(o.lte, (a, b) => a <= b)));
  if (o.exists !== undefined) {
    const want = o.exists;
    parts.push((v) => (v !== undefined) === want);
  }
  if (o.contains !== undefined) parts.push(containsTest(o.contains));
  if (o.not !== undefined) {
    const inner = compileCondition(o.not);
    parts.push((v) => !inner(v));
  }
  if (o.any !== undefined) {
    const inner = o.any.map(compileCondition);
    parts.push((v) => {
      for (let i = 0; i < inner.length; i++) if (inner[i]!(v)) return true;
      return false;
    });
  }
  if (o.all !== undefined) parts.push(and(o.all.map(compileCondition)));
  return and(parts);
}

export function isOperators(c: Condition): c is Operators {
  return typeof c === "object" && c !== null && !Array.isArray(c);
}

/** A value operator on an array holds if any element satisfies it; missing (undefined) fails. */
function anyElement(test: ValueTest): ValueTest {
  return (v) => {
    if (v === undefined) return false;
    if (test(v)) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (test(v[i])) return true;
    }
    return false;
  };
}

function equalsTest(lit: JsonValue): ValueTest {
  if (typeof lit !== "object" || lit === null) return (v) => v === lit;
  return (v) => jsonEquals(v, lit);
}

function inTest(values: JsonValue[]): ValueTest {
  const scalars = new Set<unknown>();
  const structured: JsonValue[] = [];
  for (const v of values) {
    if (typeof v === "object" && v !== null) structured.push(v);
    else scalars.add(v);
  }
  if (structured.length === 0) return (v) => scalars.has(v);
  return (v) => {
    if (typeof v !== "object" || v === null) return scalars.has(v);
    for (let i = 0; i < structured.length; i++) if (jsonEquals(v, structured[i])) return true;
    return false;
  };
}

function compare(operand: number | string, op: (a: number, b: number) => boolean): ValueTest {
  if (typeof operand === "number") return (v) => typeof v === "number" && op(v, operand);
  const rank = LEVEL_RANK.get(operand)!;
  return (v) => {
    const r = LEVEL_RANK.get(v);
    return r !== undefined && op(r, rank);
  };
}

function containsTest(needle: JsonValue): ValueTest {
  return (v) => {
    if (typeof v === "string") return typeof needle === "string" && v.includes(needle);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (jsonEquals(v[i], needle)) return true;
    }
    return false;
  };
}

/** JSON-typed deep equality: `1` = `1.0`, `false` ≠ `0`, key order irrelevant. */
export function jsonEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEquals(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!jsonEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

// --- category: conditions on the event's category set --------------------------------------------

type SetTest = (cats: ReadonlySet<string>) => boolean;

/**
 * `category` reads like an array field of strings (never missing): a literal holds if the set has
 * it, a value operator if any category satisfies it, `contains` tests membership, `exists` whether
 * the event has any category, and combinators apply to the whole set.
 */
export function compileSetCondition(cond: Condition): SetTest {
  if (!isOperators(cond)) {
    if (typeof cond === "string") return (cats) => cats.has(cond);
    return () => false; // categories are strings: no other literal can equal one
  }
  const parts: SetTest[] = [];
  const o = cond;
  if (o.in !== undefined) {
    const names = o.in.filter((v): v is string => typeof v === "string");
    parts.push((cats) => {
      for (let i = 0; i < names.length; i++) if (cats.has(names[i]!)) return true;
      return false;
    });
  }
  const { in: _in, exists, contains, not, any, all, ...valueOps } = o;
  if (Object.keys(valueOps).length > 0) {
    const test = compileCondition(valueOps);
    parts.push((cats) => {
      for (const c of cats) if (test(c)) return true;
      return false;
    });
  }
  if (exists !== undefined) parts.push((cats) => cats.size > 0 === exists);
  if (contains !== undefined) parts.push((cats) => typeof contains === "string" && cats.has(contains));
  if (not !== undefined) {
    const inner = compileSetCondition(not);
    parts.push((cats) => !inner(cats));
  }
  if (any !== undefined) {
    const inner = any.map(compileSetCondition);
    parts.push((cats) => {
      for (let i = 0; i < inner.length; i++) if (inner[i]!(cats)) return true;
      return false;
    });
  }
  if (all !== undefined) parts.push(and(all.map(compileSetCondition)));
  return and(parts);
}

// --- dispatch hint -------------------------------------------------------------------------------

/** Tools / categories the `where` can only hold for, from a top-level literal or `in` (possibly ANDed). */
function dispatchHint(where: Where): DispatchHint {
  const hint: DispatchHint = {};
  const tools = stringsOf(where.tool);
  if (tools) hint.tools = tools;
  const categories = stringsOf(where.category);
  if (categories) hint.categories = categories;
  return hint;
}

function stringsOf(cond: Condition | undefined): string[] | undefined {
  if (cond === undefined) return undefined;
  if (typeof cond === "string") return [cond];
  if (isOperators(cond) && cond.in !== undefined) {
    return [...new Set(cond.in.filter((v): v is string => typeof v === "string"))];
  }
  return undefined;
}
