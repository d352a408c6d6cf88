import type { Alert } from "../alerts/types.js";
import type { Engine } from "../engine/api.js";
import { parseEvent } from "../events/parse.js";
import type { StateStore } from "../state/store.js";
import { traceparentOfEvent } from "./alert-message.js";
import type { BatchItem, BatchResult } from "./batch.js";
import type { InMessage } from "./port.js";

/** What the pipeline reads of `processBatch`'s result. */
export type BatchOutcome = Omit<BatchResult, "perEvent">;

/** `processBatch` of src/stream/batch.ts: one state load, the engine, one state save. */
export type ProcessBatch = (engine: Engine, store: StateStore, items: BatchItem[]) => Promise<BatchOutcome>;

/**
 * One message of a chunk as the work needs it: where it was read, its bytes, its trace header. A
 * consumed `InMessage` is one as it is.
 */
export type ChunkMessage = Pick<InMessage, "topic" | "partition" | "offset" | "value"> & {
  headers: { traceparent?: string };
};

/** What the batch work made of a chunk. */
export interface ChunkResult {
  /** Messages that are not valid events (by position in the chunk), for the dead-letter topic. */
  invalid: Array<{ index: number; reason: string }>;
  outcome: BatchOutcome;
  /** Trace context of each alert's trigger, in `outcome.republished` then `outcome.alerts` order. */
  traceparents: Array<string | undefined>;
}

/**
 * Parse → state + engine for one chunk of one partition's messages, with its state saved (the
 * outbox included) when it resolves. Throws what the store throws (`StateConflictError`: redo it).
 * Runs on the Kafka thread (`inThreadWork`) or on a worker thread (src/stream/threads).
 */
export type ChunkWork = (messages: readonly ChunkMessage[]) => Promise<ChunkResult>;

const noOutcome = (): BatchOutcome => ({
  alerts: [],
  republished: [],
  duplicates: 0,
  tooLate: 0,
  evicted: 0,
});

/**
 * The batch work in this thread. `current` is read once per call, so a pattern reload swaps engine and
 * store between chunks, never inside one.
 */
export function inThreadWork(opts: {
  current: () => { engine: Engine; store: StateStore };
  processBatch: ProcessBatch;
  maxEventBytes: number;
}): ChunkWork {
  return async (messages) => {
    const items: BatchItem[] = [];
    const invalid: ChunkResult["invalid"] = [];
    /** The message of each item, by position. */
    const itemMessages: ChunkMessage[] = [];
    for (let index = 0; index < messages.length; index++) {
      const m = messages[index]!;
      const parsed = m.value
        ? parseEvent(m.value, { maxBytes: opts.maxEventBytes })
        : { ok: false as const, reason: "empty message value" };
      if (!parsed.ok) {
        invalid.push({ index, reason: parsed.reason });
        continue;
      }
      items.push({
        event: parsed.event,
        source: { topic: m.topic, partition: m.partition, offset: m.offset },
      });
      itemMessages.push(m);
    }
    const { engine, store } = opts.current();
    const outcome = items.length ? await opts.processBatch(engine, store, items) : noOutcome();
    return { invalid, outcome, traceparents: triggerTraceparents(outcome, items, itemMessages) };
  };
}

/**
 * An alert links to the call that triggered it: the trace context the event carries, else its
 * message's header. Most chunks fire few alerts, so the index by event id is built only when needed.
 */
function triggerTraceparents(
  outcome: BatchOutcome,
  items: BatchItem[],
  itemMessages: ChunkMessage[],
): Array<string | undefined> {
  if (outcome.alerts.length + outcome.republished.length === 0) return [];
  const byId = new Map<string, number>();
  for (let j = 0; j < items.length; j++) {
    const id = items[j]!.event.event_id;
    if (!byId.has(id)) byId.set(id, j);
  }
  const of = (alert: Alert) => {
    const j = byId.get(alert.trigger_event_id);
    if (j === undefined) return undefined;
    return traceparentOfEvent(items[j]!.event) ?? itemMessages[j]!.headers.traceparent;
  };
  return [...outcome.republished.map(of), ...outcome.alerts.map(of)];
}
