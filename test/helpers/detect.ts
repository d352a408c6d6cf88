import type { Alert } from "../../src/alerts/types.js";
import { Detector } from "../../src/engine/detector.js";
import { type ToolCallEvent, validateEvent } from "../../src/events/index.js";
import type { PatternSet } from "../../src/patterns/compiled.js";
import { patternSetFromJson } from "../../src/patterns/index.js";
import { MemoryStore } from "../../src/state/memory.js";
import { processBatch } from "../../src/stream/batch.js";

/**
 * Runs patterns over events the way production does: events validated by `validateEvent` (so defaults
 * apply), patterns compiled by `patternSetFromJson`, `Detector` + `MemoryStore` driven by `processBatch`
 * in batches of `batchSize` (default 1).
 */
export interface DetectOptions {
  batchSize?: number;
  /** A taxonomy file's JSON (`{ categories: { … } }`). */
  taxonomy?: unknown;
  maxEventsPerGroup?: number;
}

export interface DetectRun {
  alerts: Alert[];
  duplicates: number;
  tooLate: number;
}

/** A validated event from its JSON form; throws with the reason when it is invalid. */
export function toEvent(raw: unknown): ToolCallEvent {
  const r = validateEvent(raw);
  if (!r.ok) throw new Error(`invalid test event ${JSON.stringify(raw)}: ${r.reason}`);
  return r.event;
}

export function compile(patternsJson: unknown | unknown[], taxonomy?: unknown): PatternSet {
  const list = Array.isArray(patternsJson) ? patternsJson : [patternsJson];
  return patternSetFromJson(
    list.map((json, i) => ({ json, source: `test-pattern-${i}.json` })),
    taxonomy === undefined ? undefined : [{ json: taxonomy, source: "test-taxonomy.json" }],
  );
}

export async function detectRun(
  patternsJson: unknown | unknown[],
  events: unknown[],
  opts: DetectOptions = {},
): Promise<DetectRun> {
  const set = compile(patternsJson, opts.taxonomy);
  const engine = new Detector(set, {
    ...(opts.maxEventsPerGroup === undefined ? {} : { maxEventsPerGroup: opts.maxEventsPerGroup }),
    now: () => Date.UTC(2026, 0, 1),
  });
  const store = new MemoryStore();
  const size = opts.batchSize ?? 1;
  const items = events.map((raw, i) => ({ event: toEvent(raw), source: { line: i + 1 } }));
  const run: DetectRun = { alerts: [], duplicates: 0, tooLate: 0 };
  for (let i = 0; i < items.length; i += size) {
    const r = await processBatch(engine, store, items.slice(i, i + size));
    run.alerts.push(...r.alerts);
    run.duplicates += r.duplicates;
    run.tooLate += r.tooLate;
  }
  return run;
}

export async function detect(
  patternsJson: unknown | unknown[],
  events: unknown[],
  opts: DetectOptions = {},
): Promise<Alert[]> {
  return (await detectRun(patternsJson, events, opts)).alerts;
}
