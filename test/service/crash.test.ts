import { describe, expect, it } from "vitest";
import {
  alertsOf,
  createTopics,
  expectedAlerts,
  generateStream,
  ids,
  produceLines,
  readTopic,
  serviceEnv,
  startRun,
  waitCaughtUp,
} from "./helpers.js";

/**
 * The delivery guarantee: `chainwatch run` (the real binary, dist/) is killed with SIGKILL at a
 * point of its Nth batch by the fault hook, restarted without it, and the alert topic, read
 * read_committed, holds exactly the alerts of an uninterrupted run: same ids, each once.
 */
describe("crash recovery: no alert lost, none duplicated", () => {
  const lines = generateStream({ users: 15, events: 300, invalidEvery: 50, seed: 11 });

  // The last two with the batch work on worker threads (the crash kills them with the process).
  it.each([
    ["crash-before-save", 3, 0],
    ["crash-after-save", 3, 0],
    ["crash-mid-transaction", 4, 0],
    ["crash-after-commit", 2, 0],
    ["crash-after-save", 1, 0],
    ["crash-after-save", 3, 2],
    ["crash-mid-transaction", 4, 2],
  ])("%s on batch %i, %i worker threads", { timeout: 120_000 }, async (point, n, threads) => {
    const t = serviceEnv("crash", {
      CHAINWATCH_PARTITIONS_CONCURRENCY: "3",
      CHAINWATCH_WORKER_THREADS: String(threads),
    });
    await createTopics([t.input, t.alerts, `${t.input}.dlq`], 3);
    await produceLines(t.input, lines);
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(10);

    const crashing = startRun({ ...t.env, CHAINWATCH_FAULT: `${point}:${n}` });
    expect(await crashing.exited).toBe("SIGKILL");
    expect(crashing.stderr()).toContain(`fault hook ${point}:${n}`);

    const restarted = startRun(t.env);
    await waitCaughtUp(t.group, t.input, 90_000);
    restarted.proc.kill("SIGTERM");
    expect(await restarted.exited).toBe(0);

    const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length, idleMs: 1500 }));
    expect(ids(alerts)).toEqual(ids(expected));
    expect(new Set(ids(alerts)).size).toBe(alerts.length);
    // The DLQ holds each invalid line once too.
    const dlq = await readTopic(`${t.input}.dlq`, { count: 6, idleMs: 1000 });
    expect(dlq).toHaveLength(6);
  });
});
