import type { Condition, JsonValue, Where } from "./schema.js";

/**
 * The canonical text of a `where` (CompiledWhere.key): JSON with object keys sorted, and only
 * rewrites that cannot change what the predicate means, so two wheres share a key only when they are
 * the same predicate (the engine then evaluates them once for all steps and patterns).
 *
 * - object keys are sorted everywhere: a `where` is an AND of its keys, an operator object the AND of
 *   its operators, and literal objects compare regardless of key order (jsonEquals);
 * - `in` is a set: its values are sorted (by their canonical text) and deduplicated;
 * - nothing else: arrays of literals keep their order (an array literal is compared element-wise), and
 *   `any` / `all` keep theirs (same meaning either way, but a missed share only costs a second evaluation);
 * - text is built directly, never through an object, so a key named `__proto__` stays a key.
 */
export function whereKey(where: Where): string {
  return objectText(where as Record<string, unknown>, (v) => conditionText(v as Condition));
}

function conditionText(c: Condition): string {
  // as in predicate.ts: an object in condition position is an operator object, never a literal
  if (typeof c !== "object" || c === null || Array.isArray(c)) return valueText(c);
  return objectText(c as Record<string, unknown>, (v, op) => {
    switch (op) {
      case "in":
        return `[${[...new Set((v as JsonValue[]).map(valueText))].sort().join(",")}]`;
      case "not":
        return conditionText(v as Condition);
      case "any":
      case "all":
        return `[${(v as Condition[]).map(conditionText).join(",")}]`;
      default:
        return valueText(v as JsonValue);
    }
  });
}

function valueText(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(valueText).join(",")}]`;
  if (typeof v === "object" && v !== null) return objectText(v, (x) => valueText(x as JsonValue));
  return JSON.stringify(v);
}

/** `{"a":…,"b":…}` with keys in code-unit order; undefined members (never read) are left out. */
function objectText(o: Record<string, unknown>, member: (v: unknown, key: string) => string): string {
  const parts: string[] = [];
  for (const k of Object.keys(o).sort()) {
    const v = o[k];
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${member(v, k)}`);
  }
  return `{${parts.join(",")}}`;
}
