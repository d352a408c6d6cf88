// Run as a worker thread by shared-ring.threads.test.ts: reads the ring as the producer thread does
// (in batches, acknowledging each), checks each message, and reports what it saw.
import { parentPort, workerData } from "node:worker_threads";
import { SharedRing } from "../../src/stream/shared-ring.js";

const { ring: buffers, total } = workerData as {
  ring: { control: SharedArrayBuffer; data: SharedArrayBuffer };
  total: number;
};
const ring = new SharedRing(buffers);
let next = 0;
let bad = 0;
let batches = 0;
while (next < total) {
  const batch = ring.read(1 + (batches % 37));
  if (batch.records.length === 0) {
    // Nothing yet: wait a little for the writer without spinning hard.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0.05);
    continue;
  }
  for (const r of batch.records) {
    const [n, filler] = r.value.toString("utf8").split("|");
    if (Number(n) !== next || r.key !== `u-${next % 97}` || filler !== "é".repeat(next % 300)) bad++;
    next++;
  }
  ring.ack(batch.records.length, batch.end);
  batches++;
}
parentPort!.postMessage({ read: next, bad, batches });
