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
  sleep,
  startRun,
  waitCaughtUp,
  waitLog,
} from "./helpers.js";

/**
 * Instances join and leave one consumer group mid-stream (a clean stop and a SIGKILL): partitions
 * move between them, and the alert topic still holds exactly the alerts of one uninterrupted run.
 * One instance does its batch work on worker threads, the others in their Kafka thread.
 */
describe("rebalancing", () => {
  it("adding and removing instances mid-stream leaves the alert set unchanged", {
    timeout: 180_000,
  }, async () => {
    const t = serviceEnv("rebal", { CHAINWATCH_BATCH_SIZE: "5", CHAINWATCH_PARTITIONS_CONCURRENCY: "2" });
    const lines = generateStream({ users: 30, events: 900, seed: 23 });
    await createTopics([t.input, t.alerts], 4);
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(30);
    const wave = (k: number) => lines.slice((k * lines.length) / 4, ((k + 1) * lines.length) / 4);

    const a = startRun(t.env);
    await produceLines(t.input, wave(0));
    await waitLog(a, /joined consumer group/);

    // b does its batch work on worker threads: partitions move to and from it all the same.
    const b = startRun({ ...t.env, CHAINWATCH_WORKER_THREADS: "2" });
    await waitLog(b, /joined consumer group/);
    await produceLines(t.input, wave(1));

    const c = startRun(t.env);
    await waitLog(c, /joined consumer group/);
    await produceLines(t.input, wave(2));
    await sleep(300);
    c.proc.kill("SIGKILL");
    expect(await c.exited).toBe("SIGKILL");

    a.proc.kill("SIGTERM");
    await produceLines(t.input, wave(3));
    expect(await a.exited).toBe(0);

    await waitCaughtUp(t.group, t.input, 120_000);
    b.proc.kill("SIGTERM");
    expect(await b.exited).toBe(0);

    const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length, idleMs: 1500 }));
    expect(ids(alerts)).toEqual(ids(expected));
    // All three instances took part.
    for (const child of [a, b, c]) expect(child.stderr()).toMatch(/"assignment":\{"[^"]+":\[\d/);
  });
});
