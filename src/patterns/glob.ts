/**
 * Shell-style globs as patterns.md defines them: `*` any run of characters, `?` one character,
 * `[abc]` / `[a-z]` / `[!abc]` / `[^abc]` a class, `\x` a literal x. `*` and `?` also match `/`;
 * case-sensitive; anchored at both ends.
 *
 * Why not picomatch (checked, v4): it is path-oriented — `?` never matches `/` under any option, `*`
 * refuses `.`/`..` segments, and `(`…`)` stay regex groups even with `noextglob`. And a regex-based
 * glob can backtrack polynomially (`*a*a*a*b`) on arguments an attacker controls. This matcher is the
 * classic greedy-star walk: O(glob × input) worst case, no regex, no allocation per call.
 */

const LIT = 0;
const ONE = 1;
const STAR = 2;
const CLASS = 3;

interface CharClass {
  negate: boolean;
  /** Inclusive code-unit ranges, flattened: [lo0, hi0, lo1, hi1, …]. */
  ranges: number[];
}

export type GlobMatcher = (s: string) => boolean;

export function compileGlob(glob: string): GlobMatcher {
  const kinds: number[] = [];
  const codes: number[] = [];
  const classes: Array<CharClass | undefined> = [];
  let i = 0;
  while (i < glob.length) {
    const c = glob[i]!;
    if (c === "*") {
      if (kinds[kinds.length - 1] !== STAR) push(STAR, 0);
      i++;
    } else if (c === "?") {
      push(ONE, 0);
      i++;
    } else if (c === "[") {
      const parsed = parseClass(glob, i);
      if (parsed) {
        push(CLASS, 0, parsed.cls);
        i = parsed.end;
      } else {
        push(LIT, c.charCodeAt(0)); // an unclosed [ is a literal
        i++;
      }
    } else if (c === "\\" && i + 1 < glob.length) {
      push(LIT, glob.charCodeAt(i + 1));
      i += 2;
    } else {
      push(LIT, glob.charCodeAt(i));
      i++;
    }
  }

  function push(kind: number, code: number, cls?: CharClass): void {
    kinds.push(kind);
    codes.push(code);
    classes.push(cls);
  }

  const fast = fastPath(kinds, codes);
  if (fast) return fast;

  const n = kinds.length;
  const kindArr = Int8Array.from(kinds);
  const codeArr = Int32Array.from(codes);
  const one = (p: number, ch: number): boolean => {
    const k = kindArr[p];
    if (k === LIT) return codeArr[p] === ch;
    if (k === ONE) return true;
    return inClass(classes[p]!, ch);
  };
  return (s: string): boolean => {
    let p = 0;
    let i = 0;
    let starP = -1;
    let starI = 0;
    const len = s.length;
    while (i < len) {
      if (p < n && kindArr[p] === STAR) {
        starP = p++;
        starI = i;
      } else if (p < n && one(p, s.charCodeAt(i))) {
        p++;
        i++;
      } else if (starP >= 0) {
        p = starP + 1;
        i = ++starI;
      } else return false;
    }
    while (p < n && kindArr[p] === STAR) p++;
    return p === n;
  };
}

/** Literal, `lit*`, `*lit`, `*lit*`: the common taxonomy shapes, as plain string operations. */
function fastPath(kinds: number[], codes: number[]): GlobMatcher | undefined {
  const starAtStart = kinds[0] === STAR;
  const starAtEnd = kinds.length > 1 && kinds[kinds.length - 1] === STAR;
  const inner = kinds.slice(starAtStart ? 1 : 0, starAtEnd ? -1 : undefined);
  if (!inner.every((k) => k === LIT)) return undefined;
  const lit = String.fromCharCode(...codes.slice(starAtStart ? 1 : 0, starAtEnd ? -1 : undefined));
  if (kinds.length === 1 && starAtStart) return () => true;
  if (starAtStart && starAtEnd) return (s) => s.includes(lit);
  if (starAtStart) return (s) => s.endsWith(lit);
  if (starAtEnd) return (s) => s.startsWith(lit);
  return (s) => s === lit;
}

/** Parses `[…]` at `start`; undefined when it is not closed. `]` right after `[` or `[!` is a member. */
function parseClass(glob: string, start: number): { cls: CharClass; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (glob[i] === "!" || glob[i] === "^") {
    negate = true;
    i++;
  }
  const ranges: number[] = [];
  let first = true;
  while (i < glob.length) {
    let c = glob[i]!;
    if (c === "]" && !first) return { cls: { negate, ranges }, end: i + 1 };
    first = false;
    if (c === "\\" && i + 1 < glob.length) c = glob[++i]!;
    const lo = c.charCodeAt(0);
    if (glob[i + 1] === "-" && i + 2 < glob.length && glob[i + 2] !== "]") {
      let hiChar = glob[i + 2]!;
      let skip = 3;
      if (hiChar === "\\" && i + 3 < glob.length) {
        hiChar = glob[i + 3]!;
        skip = 4;
      }
      ranges.push(lo, hiChar.charCodeAt(0));
      i += skip;
    } else {
      ranges.push(lo, lo);
      i++;
    }
  }
  return undefined;
}

function inClass(cls: CharClass, ch: number): boolean {
  const r = cls.ranges;
  let hit = false;
  for (let k = 0; k < r.length; k += 2) {
    if (ch >= r[k]! && ch <= r[k + 1]!) {
      hit = true;
      break;
    }
  }
  return hit !== cls.negate;
}
