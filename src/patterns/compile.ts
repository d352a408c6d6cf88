import { dirname, resolve } from "node:path";
import { compilePath } from "../events/path.js";
import type { CompiledPattern, CompiledStep, PatternSet, StepPath, Taxonomy } from "./compiled.js";
import { parseDuration } from "./duration.js";
import { compileWhere } from "./predicate.js";
import type { PatternFile } from "./schema.js";

export const DEFAULT_GROUP_BY = ["user_id"];

/**
 * A validated pattern (schema + checkPattern) → what the engine runs. `source` is the file it came
 * from; fixture paths are resolved against its directory.
 */
export function compilePattern(p: PatternFile, source: string): CompiledPattern {
  const index = new Map(p.steps.map((s, i) => [s.id, i]));
  const stepIndex = (id: string): number => {
    const i = index.get(id);
    if (i === undefined) throw new Error(`${source}: unknown step "${id}" (pattern not checked?)`);
    return i;
  };
  const stepPath = (ref: string): StepPath => {
    const dot = ref.indexOf(".");
    return { step: stepIndex(ref.slice(0, dot)), path: compilePath(ref.slice(dot + 1)) };
  };

  const steps: CompiledStep[] = p.steps.map((s, i) => {
    const step: CompiledStep = { id: s.id, index: i, where: compileWhere(s.where) };
    if (s.count) {
      step.count = { min: s.count.min };
      if (s.count.distinct !== undefined) step.count.distinct = compilePath(s.count.distinct);
    }
    return step;
  });

  const order = p.order ?? "sequence";
  const orderEdges: Array<[number, number]> =
    order === "sequence"
      ? steps.slice(1).map((_, i) => [i, i + 1])
      : order === "any"
        ? []
        : order.map(([a, b]) => [stepIndex(a), stepIndex(b)]);

  const joins = (p.join ?? []).map((j) => ({
    left: stepPath(j.left),
    right: stepPath(j.right),
    op: j.op ?? "equals",
  }));
  const absent = (p.absent ?? []).map((a) => ({
    where: compileWhere(a.where),
    after: stepIndex(a.after),
    before: stepIndex(a.before),
  }));
  const edgesWithin = (p.edges_within ?? []).map((e) => ({
    from: stepIndex(e.from),
    to: stepIndex(e.to),
    withinMs: parseDuration(e.within),
  }));
  const groupBy = p.group_by ?? DEFAULT_GROUP_BY;

  // Exact dotted paths: the store keeps only these of a stored event (src/state/redis/codec.ts).
  const fields = new Set<string>();
  for (const s of steps) for (const f of s.where.fields) fields.add(f);
  for (const a of absent) for (const f of a.where.fields) fields.add(f);
  for (const j of joins) fields.add(j.left.path.join(".")).add(j.right.path.join("."));
  for (const s of steps) if (s.count?.distinct) fields.add(s.count.distinct.join("."));
  for (const g of groupBy) fields.add(g);

  const compiled: CompiledPattern = {
    id: p.id,
    version: p.version,
    title: p.title,
    severity: p.severity,
    tags: p.tags ?? [],
    groupBy,
    groupingId: groupBy.join(","),
    withinMs: p.within === undefined ? 0 : parseDuration(p.within),
    steps,
    orderEdges,
    joins,
    absent,
    edgesWithin,
    suppressMs: parseDuration(p.suppress ?? "0s"),
    tests: (p.tests ?? []).map((t) => ({
      name: t.name,
      events: resolve(dirname(source), t.events),
      expect: t.expect,
    })),
    source,
    fields: [...fields],
  };
  if (p.description !== undefined) compiled.description = p.description;
  return compiled;
}

/**
 * The longest `within` of the set (patterns.md rules 6 and "too late"). An `edges_within` never needs
 * more: every event of a match already lies within its pattern's `within`, so a longer edge span
 * bounds nothing, and counting it would keep (and match) events the spec calls too late.
 */
export function retentionOf(patterns: readonly CompiledPattern[]): number {
  let longest = 0;
  for (const p of patterns) longest = Math.max(longest, p.withinMs);
  return longest;
}

export function makePatternSet(patterns: CompiledPattern[], taxonomy: Taxonomy): PatternSet {
  return { patterns, taxonomy, retentionMs: retentionOf(patterns) };
}
