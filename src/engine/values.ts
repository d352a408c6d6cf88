/** Join value semantics (patterns.md "join", docs/semantics.md "join values"). */

/** JSON-typed deep equality: `false` ≠ `0`, `1` = `1.0`, objects by keys, arrays by position. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const aa = Array.isArray(a);
  if (aa !== Array.isArray(b)) return false;
  if (aa) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!jsonEqual(x[i], y[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) if (!Object.hasOwn(y, k) || !jsonEqual(x[k], y[k])) return false;
  return true;
}

/** `equals`: both present and equal; with an array on either side, any element equal also holds. */
export function joinEquals(left: unknown, right: unknown): boolean {
  if (left === undefined || right === undefined) return false;
  if (jsonEqual(left, right)) return true;
  const la = Array.isArray(left);
  const ra = Array.isArray(right);
  if (la && (left as unknown[]).some((x) => jsonEqual(x, right))) return true;
  if (ra && (right as unknown[]).some((y) => jsonEqual(left, y))) return true;
  if (la && ra) return (left as unknown[]).some((x) => (right as unknown[]).some((y) => jsonEqual(x, y)));
  return false;
}

/**
 * `contains`: a string left contains a string right (case-sensitive substring); an array left holds
 * an element equal to the right; an array right holds if any of its elements qualifies.
 */
export function joinContains(left: unknown, right: unknown): boolean {
  if (left === undefined || right === undefined) return false;
  if (Array.isArray(right)) return right.some((r) => containsOne(left, r));
  return containsOne(left, right);
}

function containsOne(left: unknown, right: unknown): boolean {
  if (typeof left === "string") return typeof right === "string" && left.includes(right);
  if (Array.isArray(left)) return left.some((x) => jsonEqual(x, right));
  return false;
}
