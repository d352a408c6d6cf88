import type { Worker } from "node:worker_threads";
import type { Config } from "../../config/load.js";
import { StateConflictError, StateUnavailableError } from "../../state/store.js";
import type { Logger } from "../../telemetry/logger.js";
import { startWorkerNextTo } from "../../worker-thread.js";
import type { ChunkResult, ChunkWork } from "../chunk-work.js";
import type { PatternSources } from "../state-setup.js";
import { withTimeout } from "../timeout.js";
import { encodeChunk, type FromWorker, type ToWorker, type WireError, type WorkerInit } from "./protocol.js";

export interface WorkerPoolOptions {
  threads: number;
  config: Config;
  patterns: PatternSources;
  logger: Logger;
}

interface Pending {
  resolve: (result: ChunkResult | undefined) => void;
  reject: (err: Error) => void;
}

/** One worker thread and what waits on it. */
class Slot {
  worker: Worker | undefined;
  ready: Promise<void> | undefined;
  readonly pending = new Map<number, Pending>();
  /** Partitions routed here (the pool balances new ones by this). */
  partitions = 0;

  constructor(readonly index: number) {}
}

/**
 * Batch workers (`limits.workerThreads`): the consuming thread keeps Kafka (fetch, transactions) and
 * hands each chunk's parse, state and engine work to a worker thread, so a partition's JavaScript work
 * runs beside the others' instead of after them. A partition always goes to the same worker (its
 * groups stay in that worker's cache; its chunks are processed in order, one at a time, as the
 * consumer hands them out). A worker that dies fails its chunks (the pipeline retries them, as after
 * a Redis failure) and is started again on its next chunk.
 */
export class WorkerPool {
  private readonly slots: Slot[];
  private readonly route = new Map<string, Slot>();
  private patterns: PatternSources;
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions) {
    if (!(opts.threads >= 1)) throw new RangeError(`WorkerPool: threads must be >= 1, got ${opts.threads}`);
    this.patterns = opts.patterns;
    this.slots = Array.from({ length: opts.threads }, (_, i) => new Slot(i));
  }

  /** Starts every worker; rejects if one cannot build its engine. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.spawn(s)));
  }

  readonly work: ChunkWork = async (messages) => {
    const first = messages[0];
    if (!first) throw new Error("WorkerPool: empty chunk");
    const slot = this.slotOf(`${first.topic}\u0000${first.partition}`);
    await this.spawn(slot);
    const id = this.nextId++;
    const { request, transfer } = encodeChunk(id, messages);
    const result = await this.request(slot, id, request, transfer);
    return result!;
  };

  /** Every worker swaps to this (already validated) set between chunks. */
  async reload(patterns: PatternSources): Promise<void> {
    this.patterns = patterns;
    await Promise.all(
      this.slots
        .filter((s) => s.worker)
        .map(async (s) => {
          const id = this.nextId++;
          await this.request(s, id, { op: "reload", id, patterns });
        }),
    );
  }

  /** Closes each worker's Redis connection, then ends the threads. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const worker = s.worker;
        if (!worker) return;
        const id = this.nextId++;
        // A worker that does not answer in time is ended all the same.
        await withTimeout(this.request(s, id, { op: "close", id }), 2000, "no answer").catch(() => undefined);
        await worker.terminate();
      }),
    );
  }

  /** Which worker a partition's chunks go to (assigned on its first chunk). */
  workerOf(topic: string, partition: number): number | undefined {
    return this.route.get(`${topic}\u0000${partition}`)?.index;
  }

  /** Ends worker `index` at once, as a crash would (tests): its chunks in flight fail. */
  async terminateWorker(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  private slotOf(partitionKey: string): Slot {
    let slot = this.route.get(partitionKey);
    if (!slot) {
      slot = this.slots.reduce((a, b) => (b.partitions < a.partitions ? b : a));
      slot.partitions++;
      this.route.set(partitionKey, slot);
    }
    return slot;
  }

  private request(slot: Slot, id: number, message: ToWorker, transfer: ArrayBuffer[] = []) {
    const worker = slot.worker;
    if (!worker)
      return Promise.reject(new StateUnavailableError(`batch worker ${slot.index} is not running`));
    return new Promise<ChunkResult | undefined>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      worker.postMessage(message, transfer);
    });
  }

  /** Starts the slot's worker unless it runs; resolves once it has built its engine. */
  private spawn(slot: Slot): Promise<void> {
    if (slot.worker && slot.ready) return slot.ready;
    if (this.closed) return Promise.reject(new StateUnavailableError("batch workers closed"));
    const init: WorkerInit = { index: slot.index, config: this.opts.config, patterns: this.patterns };
    const worker = startWorkerNextTo(import.meta.url, "batch-worker", init);
    slot.worker = worker;
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (m: FromWorker) => {
        if (m.op === "ready") resolve();
        else if (m.op === "failed") reject(fromWire(m.error));
        else this.settle(slot, m);
      });
      worker.on("error", (err) => {
        this.opts.logger.error({ err, worker: slot.index }, "batch worker failed");
        reject(err);
      });
      worker.on("exit", (code) => {
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        slot.ready = undefined;
        const err = new StateUnavailableError(`batch worker ${slot.index} exited (code ${code})`);
        reject(err);
        for (const p of slot.pending.values()) p.reject(err);
        slot.pending.clear();
        if (!this.closed) this.opts.logger.error({ worker: slot.index, code }, "batch worker exited");
      });
    });
    // A failed start is reported to whoever waits; the next chunk starts it again.
    slot.ready.catch(() => {
      if (slot.worker === worker) {
        slot.worker = undefined;
        slot.ready = undefined;
        void worker.terminate();
      }
    });
    return slot.ready;
  }

  private settle(slot: Slot, m: Extract<FromWorker, { op: "done" }>): void {
    const p = slot.pending.get(m.id);
    if (!p) return;
    slot.pending.delete(m.id);
    if (m.error) p.reject(fromWire(m.error));
    else p.resolve(m.result);
  }
}

function fromWire(e: WireError): Error {
  const err =
    e.name === "StateConflictError"
      ? new StateConflictError(e.keys ?? [])
      : e.name === "StateUnavailableError"
        ? new StateUnavailableError(e.message)
        : new Error(e.message);
  err.message = e.message;
  if (e.stack) err.stack = e.stack;
  if (!(err instanceof StateConflictError || err instanceof StateUnavailableError)) err.name = e.name;
  return err;
}
