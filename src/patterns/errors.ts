import type { z } from "zod";

/** One problem in a pattern or taxonomy file, located by file and JSON path. */
export interface PatternIssue {
  file: string;
  /** `steps[2].where.tool.glob`; empty for the file as a whole. */
  path: string;
  message: string;
}

export function formatIssue(i: PatternIssue): string {
  return i.path ? `${i.file}: ${i.path}: ${i.message}` : `${i.file}: ${i.message}`;
}

/** A pattern set failed to load. Lists every problem found; nothing of the set was loaded. */
export class PatternLoadError extends Error {
  constructor(readonly errors: PatternIssue[]) {
    super(errors.map(formatIssue).join("\n"));
    this.name = "PatternLoadError";
  }
}

/** A JSON path as authors read it: `steps[2].where["odd key"]`. Dotted field paths stay as they are. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z0-9_$][A-Za-z0-9_$.-]*$/.test(seg))
      out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

type Issue = z.core.$ZodIssue;

/** zod issues → author-facing messages. Unions report the branch that got furthest, not all of them. */
export function zodIssues(file: string, issues: readonly Issue[], base: PropertyKey[] = []): PatternIssue[] {
  const out: PatternIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    switch (issue.code) {
      case "invalid_union": {
        const best = bestBranch(issue.errors);
        // A wrong enum value among other types ("gte": "hgh"): say every alternative, not just the enum.
        const onlyValue = best?.every((i) => i.code === "invalid_value" && i.path.length === 0);
        if (best && !onlyValue) out.push(...zodIssues(file, best, path));
        else out.push({ file, path: formatPath(path), message: unionMessage(issue) });
        break;
      }
      case "unrecognized_keys":
        for (const key of issue.keys)
          out.push({ file, path: formatPath([...path, key]), message: "unknown key" });
        break;
      case "invalid_key":
        out.push(...zodIssues(file, issue.issues, path));
        break;
      case "invalid_type":
        out.push({ file, path: formatPath(path), message: typeMessage(issue) });
        break;
      default:
        out.push({ file, path: formatPath(path), message: plainMessage(issue) });
    }
  }
  return out;
}

/**
 * The branch whose issues lie deepest: for `{ "glob": 5 }` the operator-object branch (issue at
 * `.glob`) rather than the string branch (issue at the value itself). When every branch fails at the
 * value itself with a type error, none is better: the caller reports what was expected instead.
 */
function bestBranch(branches: Issue[][]): Issue[] | undefined {
  let best: Issue[] | undefined;
  let bestDepth = 0;
  for (const branch of branches) {
    const d = depth(branch);
    if (d > bestDepth) {
      best = branch;
      bestDepth = d;
    }
  }
  return best;
}

function depth(branch: Issue[]): number {
  let d = 0;
  for (const i of branch) {
    let here = i.path.length;
    if (i.code === "invalid_union") {
      const inner = bestBranch(i.errors);
      here += inner ? depth(inner) : 0;
    } else if (i.code !== "invalid_type") here += 0.5; // reached the value with the right type
    if (here > d) d = here;
  }
  return d;
}

function unionMessage(issue: Extract<Issue, { code: "invalid_union" }>): string {
  const expected = new Set<string>();
  const collect = (issues: Issue[]) => {
    for (const i of issues) {
      if (i.code === "invalid_type") expected.add(i.expected === "tuple" ? "array" : i.expected);
      else if (i.code === "invalid_union") i.errors.forEach(collect);
      else if (i.code === "invalid_value") for (const v of i.values) expected.add(JSON.stringify(v));
    }
  };
  issue.errors.forEach(collect);
  const got = describe((issue as { input?: unknown }).input);
  return expected.size ? `expected ${[...expected].join(" or ")}, got ${got}` : issue.message;
}

function typeMessage(issue: Extract<Issue, { code: "invalid_type" }>): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return "required";
  const expected = issue.expected === "int" ? "an integer" : issue.expected;
  return `expected ${expected}, got ${describe(input)}`;
}

function plainMessage(issue: Issue): string {
  if (issue.code === "invalid_value")
    return `expected ${issue.values.map((v) => JSON.stringify(v)).join(" | ")}`;
  if (issue.code === "too_small" && issue.origin === "number")
    return `must be ${issue.inclusive ? "≥" : ">"} ${String(issue.minimum)}`;
  if (issue.code === "too_big" && issue.origin === "number")
    return `must be ${issue.inclusive ? "≤" : "<"} ${String(issue.maximum)}`;
  return issue.message;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number" && !Number.isInteger(v)) return `number ${v}`;
  return typeof v;
}
