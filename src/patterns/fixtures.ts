import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import type { Alert } from "../alerts/types.js";
import { Detector } from "../engine/detector.js";
import { parseEvent } from "../events/parse.js";
import { MemoryStore } from "../state/memory.js";
import { type BatchItem, processBatch } from "../stream/batch.js";
import type { CompiledPattern, PatternSet, PatternTest } from "./compiled.js";

/** An invalid fixture line: the test fails and names it. */
export interface InvalidLine {
  file: string;
  line: number;
  reason: string;
}

export interface FixtureRun {
  /** Alerts of the pattern under test only (the other patterns of the set run too, unreported). */
  alerts: Alert[];
  invalid: InvalidLine[];
}

const BATCH = 256;

/**
 * Runs one fixture (JSONL events) through the whole loaded set — so the taxonomy, the retention
 * window and `group_by` are the real ones — with the production engine, memory store and batch
 * processor, and returns the alerts of `pattern`. Blank lines are skipped; invalid lines are reported
 * and the valid ones still run.
 */
export async function runFixture(
  set: PatternSet,
  pattern: CompiledPattern,
  test: PatternTest,
): Promise<FixtureRun> {
  const shown = displayPath(test.events);
  const text = await readFile(test.events, "utf8");
  const items: BatchItem[] = [];
  const invalid: InvalidLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const r = parseEvent(line);
    if (r.ok) items.push({ event: r.event, source: { line: i + 1 } });
    else invalid.push({ file: shown, line: i + 1, reason: r.reason });
  }
  const engine = new Detector(set);
  const store = new MemoryStore();
  const alerts: Alert[] = [];
  try {
    for (let i = 0; i < items.length; i += BATCH) {
      const r = await processBatch(engine, store, items.slice(i, i + BATCH));
      for (const a of r.alerts) if (a.pattern.id === pattern.id) alerts.push(a);
    }
  } finally {
    await store.close();
  }
  return { alerts, invalid };
}

export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith("..") ? rel : abs;
}
