import { DirectedGraph } from "graphology";
import type { CompiledJoin, CompiledPattern } from "../patterns/compiled.js";
import type { StoredEvent } from "./group-state.js";

/**
 * Everything the matcher needs about one pattern's shape, derived once at construction: the step
 * graph, its transitive order relation (so a bound can come from any assigned ancestor, not only a
 * direct one), the search order of rule 4, and per-step lists of the constraints touching a step.
 */
export interface PatternPlan {
  pattern: CompiledPattern;
  /** Index of the pattern within its grouping. */
  index: number;
  stepCount: number;
  /** Search order: single steps from the last of the array to the first, then count steps likewise. */
  searchOrder: number[];
  isCount: boolean[];
  /** before[s] = steps that must be strictly earlier than s (transitive); after[s] likewise later. */
  before: number[][];
  after: number[][];
  /** Per step: spans that involve it — the pattern's `within` and each `edges_within`. */
  spans: Array<Array<{ other: number; withinMs: number }>>;
  /** Per step: joins it takes part in (left or right). */
  joins: CompiledJoin[][];
  /** Per step: indexes into pattern.absent where it is `after` or `before`. */
  absents: number[][];
  /** Direct order edges, for the alert graph. */
  edges: Array<[number, number]>;
  /** Step indexes in a topological order of the order DAG. */
  topo: number[];
  /**
   * Count sets are built with lookahead (not greedily) when their members can matter beyond their
   * number: several count steps, or an `absent` (whose range a set may fix or absorb a blocker of).
   */
  exhaustiveCounts: boolean;
  /** Bits of the steps no order edge leaves (only they can hold the group's latest event). */
  lastStepsMask: number;
  /** Least number of events per step (count.min, else 1). */
  minEvents: number[];
  /** suffixMask[k] = bits of the steps at search positions >= k. */
  suffixMask: number[];
  /** Reusable per-search arrays (the engine is synchronous: one search at a time per plan). */
  scratchSteps: Array<readonly StoredEvent[]>;
  scratchAbsents: Array<readonly StoredEvent[]>;
}

export function planPattern(pattern: CompiledPattern, index: number): PatternPlan {
  const n = pattern.steps.length;
  const graph = new DirectedGraph();
  for (let s = 0; s < n; s++) graph.addNode(s);
  for (const [a, b] of pattern.orderEdges) graph.mergeEdge(a, b);
  const topo = topologicalOrder(graph, n, pattern.id);

  // Transitive closure by walking the topological order backwards.
  const reach: Array<Set<number>> = Array.from({ length: n }, () => new Set<number>());
  for (let i = topo.length - 1; i >= 0; i--) {
    const s = topo[i]!;
    graph.forEachOutNeighbor(s, (t) => {
      const ti = Number(t);
      reach[s]!.add(ti);
      for (const r of reach[ti]!) reach[s]!.add(r);
    });
  }
  const before: number[][] = Array.from({ length: n }, () => []);
  const after: number[][] = Array.from({ length: n }, () => []);
  for (let s = 0; s < n; s++) {
    for (const t of reach[s]!) {
      after[s]!.push(t);
      before[t]!.push(s);
    }
  }

  const isCount = pattern.steps.map((s) => s.count !== undefined);
  const searchOrder: number[] = [];
  for (let s = n - 1; s >= 0; s--) if (!isCount[s]) searchOrder.push(s);
  for (let s = n - 1; s >= 0; s--) if (isCount[s]) searchOrder.push(s);

  const spans: PatternPlan["spans"] = Array.from({ length: n }, () => []);
  for (const e of pattern.edgesWithin) {
    spans[e.from]!.push({ other: e.to, withinMs: e.withinMs });
    if (e.to !== e.from) spans[e.to]!.push({ other: e.from, withinMs: e.withinMs });
  }
  const joins: CompiledJoin[][] = Array.from({ length: n }, () => []);
  for (const j of pattern.joins) {
    joins[j.left.step]!.push(j);
    if (j.right.step !== j.left.step) joins[j.right.step]!.push(j);
  }
  const absents: number[][] = Array.from({ length: n }, () => []);
  pattern.absent.forEach((a, i) => {
    absents[a.after]!.push(i);
    if (a.before !== a.after) absents[a.before]!.push(i);
  });

  return {
    pattern,
    index,
    stepCount: n,
    searchOrder,
    isCount,
    before,
    after,
    spans,
    joins,
    absents,
    edges: pattern.orderEdges.map(([a, b]) => [a, b] as [number, number]),
    topo,
    exhaustiveCounts:
      isCount.filter(Boolean).length >= 2 || (isCount.some(Boolean) && pattern.absent.length > 0),
    lastStepsMask: after.reduce((m, a, s) => (a.length === 0 ? m | (1 << s) : m), 0),
    minEvents: pattern.steps.map((s) => s.count?.min ?? 1),
    suffixMask: suffixMasks(searchOrder),
    scratchSteps: new Array(n),
    scratchAbsents: new Array(pattern.absent.length),
  };
}

function suffixMasks(order: readonly number[]): number[] {
  const out = new Array<number>(order.length + 1).fill(0);
  for (let k = order.length - 1; k >= 0; k--) out[k] = out[k + 1]! | (1 << order[k]!);
  return out;
}

function topologicalOrder(graph: DirectedGraph, n: number, id: string): number[] {
  const indegree = new Array<number>(n).fill(0);
  graph.forEachEdge((_e, _attr, _source, target) => {
    indegree[Number(target)]!++;
  });
  const ready: number[] = [];
  for (let s = 0; s < n; s++) if (indegree[s] === 0) ready.push(s);
  const order: number[] = [];
  while (ready.length) {
    const s = ready.shift()!;
    order.push(s);
    graph.forEachOutNeighbor(s, (t) => {
      const ti = Number(t);
      if (--indegree[ti]! === 0) ready.push(ti);
    });
  }
  if (order.length !== n) throw new Error(`pattern ${id}: order edges form a cycle`);
  return order;
}
