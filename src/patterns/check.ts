import { DirectedGraph } from "graphology";
import safeRegex from "safe-regex2";
import { MAX_DURATION_MS, parseDuration } from "./duration.js";
import { formatPath } from "./errors.js";
import { isOperators } from "./predicate.js";
import { type Condition, FIELD_PATH_RE, type PatternFile, type Where } from "./schema.js";

/** A problem found by a whole-pattern check: JSON path (segments) and message. */
export interface CheckIssue {
  path: string;
  message: string;
}

/**
 * Checks a structurally valid pattern for what its schema cannot express: step references, cycles,
 * regex safety, `within` rules. Returns every problem, not just the first.
 */
export function checkPattern(p: PatternFile): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const report = (path: PropertyKey[], message: string) => issues.push({ path: formatPath(path), message });

  const stepIds = new Set<string>();
  p.steps.forEach((step, i) => {
    if (stepIds.has(step.id)) report(["steps", i, "id"], `duplicate step id "${step.id}"`);
    stepIds.add(step.id);
    checkWhere(step.where, ["steps", i, "where"], report);
  });
  const knownStep = (id: string, path: PropertyKey[]): boolean => {
    if (stepIds.has(id)) return true;
    report(path, `unknown step "${id}" (steps: ${[...stepIds].join(", ")})`);
    return false;
  };

  if (p.within === undefined && !(p.steps.length === 1 && p.steps[0]!.count === undefined)) {
    report(["within"], "required (only a pattern with one step and no count may omit it)");
  }
  for (const key of ["within", "suppress"] as const) {
    const d = p[key];
    if (d !== undefined && parseDuration(d) > MAX_DURATION_MS) report([key], "longer than 365d");
  }

  if (Array.isArray(p.order)) {
    let allKnown = true;
    p.order.forEach(([a, b], i) => {
      allKnown = knownStep(a, ["order", i, 0]) && allKnown;
      allKnown = knownStep(b, ["order", i, 1]) && allKnown;
    });
    if (allKnown) {
      const cycle = findCycle([...stepIds], p.order);
      if (cycle) report(["order"], `cycle: ${cycle.join(" → ")} (order must be a DAG)`);
    }
  }

  p.join?.forEach((j, i) => {
    for (const side of ["left", "right"] as const) {
      const ref = j[side];
      const dot = ref.indexOf(".");
      if (dot <= 0) {
        report(["join", i, side], `expected step.path (e.g. export.result.file_id), got "${ref}"`);
        continue;
      }
      knownStep(ref.slice(0, dot), ["join", i, side]);
      const field = ref.slice(dot + 1);
      if (!FIELD_PATH_RE.test(field)) report(["join", i, side], `"${field}" is not an event field path`);
    }
  });

  p.absent?.forEach((a, i) => {
    knownStep(a.after, ["absent", i, "after"]);
    knownStep(a.before, ["absent", i, "before"]);
    if (a.after === a.before) report(["absent", i], `after and before are the same step "${a.after}"`);
    checkWhere(a.where, ["absent", i, "where"], report);
  });

  p.edges_within?.forEach((e, i) => {
    knownStep(e.from, ["edges_within", i, "from"]);
    knownStep(e.to, ["edges_within", i, "to"]);
    if (e.from === e.to) report(["edges_within", i], `from and to are the same step "${e.from}"`);
    if (parseDuration(e.within) > MAX_DURATION_MS) report(["edges_within", i, "within"], "longer than 365d");
  });

  return issues;
}

/**
 * A cycle of the order graph as step ids (`a → b → a`), or undefined when it is a DAG.
 * Kahn's topological sort: whatever it cannot remove lies on or behind a cycle.
 */
export function findCycle(
  steps: string[],
  edges: ReadonlyArray<readonly [string, string]>,
): string[] | undefined {
  const g = new DirectedGraph();
  for (const s of steps) g.mergeNode(s);
  for (const [a, b] of edges) g.mergeEdge(a, b);
  const indegree = new Map<string, number>();
  g.forEachNode((n) => {
    indegree.set(n, g.inDegree(n));
  });
  const ready = [...indegree].filter(([, d]) => d === 0).map(([n]) => n);
  while (ready.length) {
    const n = ready.pop()!;
    indegree.delete(n);
    g.forEachOutNeighbor(n, (m) => {
      const d = indegree.get(m)! - 1;
      indegree.set(m, d);
      if (d === 0) ready.push(m);
    });
  }
  if (indegree.size === 0) return undefined;
  // Every remaining node has a remaining predecessor: walk backwards until a node repeats.
  const path: string[] = [];
  const at = new Map<string, number>();
  let n = indegree.keys().next().value!;
  while (!at.has(n)) {
    at.set(n, path.length);
    path.push(n);
    n = g.inNeighbors(n).find((m) => indegree.has(m))!;
  }
  return [...path.slice(at.get(n)!), n].reverse();
}

type Report = (path: PropertyKey[], message: string) => void;

function checkWhere(where: Where, base: PropertyKey[], report: Report): void {
  for (const [key, cond] of Object.entries(where)) checkCondition(cond, key, [...base, key], report);
}

function checkCondition(cond: Condition, field: string, path: PropertyKey[], report: Report): void {
  if (!isOperators(cond)) return;
  if (cond.regex !== undefined) {
    const problem = regexProblem(cond.regex);
    if (problem) report([...path, "regex"], problem);
  }
  for (const op of ["gt", "gte", "lt", "lte"] as const) {
    const v = cond[op];
    if (typeof v === "string" && field !== "risk_level") {
      report([...path, op], `a level name ("${v}") compares only on risk_level; expected a number`);
    }
  }
  if (cond.not !== undefined) checkCondition(cond.not, field, [...path, "not"], report);
  for (const [i, c] of (cond.any ?? []).entries()) checkCondition(c, field, [...path, "any", i], report);
  for (const [i, c] of (cond.all ?? []).entries()) checkCondition(c, field, [...path, "all", i], report);
}

function regexProblem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch (err) {
    return `invalid regex: ${(err as Error).message.replace(/^Invalid regular expression: /, "")}`;
  }
  if (!safeRegex(source)) return "regex can backtrack catastrophically (nested quantifiers); simplify it";
  return undefined;
}

/**
 * Category names a pattern tests by value (literal, `in`, `contains`) that no loaded taxonomy defines:
 * likely typos, since such a step can then only match events that carry the category themselves.
 * A warning, not an error, for exactly that reason.
 */
export function unknownCategories(p: PatternFile, known: ReadonlySet<string>): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const visit = (cond: Condition, path: PropertyKey[]) => {
    const names: string[] = [];
    if (typeof cond === "string") names.push(cond);
    else if (isOperators(cond)) {
      for (const v of cond.in ?? []) if (typeof v === "string") names.push(v);
      if (typeof cond.contains === "string") names.push(cond.contains);
      if (cond.not !== undefined) visit(cond.not, [...path, "not"]);
      for (const [i, c] of (cond.any ?? []).entries()) visit(c, [...path, "any", i]);
      for (const [i, c] of (cond.all ?? []).entries()) visit(c, [...path, "all", i]);
    }
    for (const name of names) {
      if (!known.has(name)) {
        issues.push({
          path: formatPath(path),
          message: `category "${name}" is not defined by any loaded taxonomy (only events carrying it themselves can match)`,
        });
      }
    }
  };
  const wheres: Array<[Where, PropertyKey[]]> = [
    ...p.steps.map((s, i): [Where, PropertyKey[]] => [s.where, ["steps", i, "where"]]),
    ...(p.absent ?? []).map((a, i): [Where, PropertyKey[]] => [a.where, ["absent", i, "where"]]),
  ];
  for (const [where, base] of wheres)
    if (where.category !== undefined) visit(where.category, [...base, "category"]);
  return issues;
}
