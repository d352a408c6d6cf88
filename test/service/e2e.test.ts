import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { alertsOf, createTopics, REPO, readTopic, serviceEnv, startRun, waitCaughtUp } from "./helpers.js";

const run = promisify(execFile);
const BIN = resolve(REPO, "bin/chainwatch.js");
const STREAM = resolve(REPO, "examples/stream.jsonl");

/** An alert without what legitimately differs between the service and replay. */
function comparable(a: Alert) {
  return {
    ...a,
    detected_at: undefined,
    events: a.events.map((e) => ({ ...e, source: undefined })),
  };
}

/**
 * The demo stream through the real thing: `chainwatch produce` into the broker, `chainwatch run`
 * (built-in library) against Kafka + Redis, the alerts read back read_committed — and compared, alert
 * for alert, with what `chainwatch replay --input` prints for the same file.
 */
describe.each([0, 2])("end to end: the service equals replay (%i worker threads)", (threads) => {
  it.runIf(existsSync(STREAM))("examples/stream.jsonl", { timeout: 120_000 }, async () => {
    const t = serviceEnv("e2e", { CHAINWATCH_PATTERNS: "", CHAINWATCH_WORKER_THREADS: String(threads) });
    await createTopics([t.input, t.alerts], 3);

    const replay = await run(process.execPath, [BIN, "replay", "--input", STREAM], { maxBuffer: 64 << 20 });
    const expected = replay.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Alert);
    expect(expected.length).toBeGreaterThan(0);

    const produced = await run(process.execPath, [BIN, "produce", "--input", STREAM], {
      env: { ...process.env, ...t.env },
    });
    expect(produced.stderr).toMatch(/produce: \d+ events sent/);

    const child = startRun(t.env);
    await waitCaughtUp(t.group, t.input);
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(child.stderr().includes('"workerThreads":2')).toBe(threads === 2);

    const messages = await readTopic(t.alerts, { count: expected.length, idleMs: 1500 });
    const alerts = alertsOf(messages);
    const byId = (xs: Alert[]) => [...xs].sort((a, b) => a.alert_id.localeCompare(b.alert_id));
    expect(byId(alerts).map((a) => a.alert_id)).toEqual(byId(expected).map((a) => a.alert_id));
    expect(byId(alerts).map(comparable)).toEqual(byId(expected).map(comparable));
    for (const a of alerts) for (const e of a.events) expect(e.source).toMatchObject({ topic: t.input });
  });
});
