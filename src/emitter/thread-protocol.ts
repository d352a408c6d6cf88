import type { KafkaSecurity } from "../stream/kafkajs/client.js";
/**
 * What the server's thread and the emitter's producer thread share: the queue's extra control
 * cells and the few messages they exchange (everything per event goes through the shared ring).
 */
import { FIRST_FREE_CELL } from "../stream/shared-ring.js";
import type { EventBuild } from "./event.js";

/** Counters and flags in the ring's control block (Int32 cells, read and written with Atomics). */
export const Cell = {
  /** Events Kafka acknowledged (thread). */
  SENT: FIRST_FREE_CELL,
  /** Events dropped because Kafka refused their batch for good (thread). */
  REJECTED: FIRST_FREE_CELL + 1,
  /** Failed produce attempts (thread). */
  SEND_ERRORS: FIRST_FREE_CELL + 2,
  /** Bumped (and notified) by the server's thread to wake the producer thread early. */
  WAKE: FIRST_FREE_CELL + 3,
  /** Non-zero while someone waits for the queue to drain: the thread does not linger. */
  URGENT: FIRST_FREE_CELL + 4,
  /** Set once by close(): the thread stops sending and disconnects. */
  STOP: FIRST_FREE_CELL + 5,
  /** Non-zero while the thread sleeps until woken (nothing to send for a while). */
  PARKED: FIRST_FREE_CELL + 6,
  /** Call records the thread could not build an event from (thread). */
  BUILD_FAILED: FIRST_FREE_CELL + 7,
} as const;

/** What the producer thread is started with (its `workerData`). */
export interface ThreadConfig extends KafkaSecurity {
  brokers: string[];
  clientId: string;
  topic: string;
  batchSize: number;
  lingerMs: number;
  ring: { control: SharedArrayBuffer; data: SharedArrayBuffer };
  /** The ring holds call records (`CallRecord`): the thread builds each event (ids, hash, masking) with these. */
  build: EventBuild;
}

export type FromThread =
  | { op: "log"; level: "warn" | "error"; fields: Record<string, unknown>; message: string }
  /** The thread found nothing to send for a while and parks: the process need not wait for it. */
  | { op: "idle" }
  | { op: "closed"; error?: string };
