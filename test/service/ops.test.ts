import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort } from "../helpers/services.js";
import {
  ALT_PATTERN,
  alertsOf,
  createTopics,
  expectedAlerts,
  expectedAlertsPhased,
  FIXTURE_PATTERNS,
  generateStream,
  ids,
  kafka,
  produceLines,
  REPO,
  readTopic,
  serviceEnv,
  sleep,
  startRun,
  waitCaughtUp,
  waitLog,
} from "./helpers.js";

const run = promisify(execFile);

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
};

describe("operations: health, readiness, metrics", () => {
  it("/readyz is 503 naming Redis while Redis is a closed port, the batch waits uncommitted, and all resumes when Redis is back", {
    timeout: 90_000,
  }, async () => {
    const redisPort = await freePort();
    const t = serviceEnv("ready", { CHAINWATCH_REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    const lines = generateStream({ users: 4, events: 60, seed: 13 });
    await createTopics([t.input, t.alerts], 1);
    await produceLines(t.input, lines);
    const child = startRun(t.env);
    const port = await child.httpPort;
    expect((await get(port, "/healthz")).status).toBe(200);
    await waitLog(child, /state store failed, retrying/);
    const ready = await get(port, "/readyz");
    expect(ready.status).toBe(503);
    const reasons: string[] = JSON.parse(ready.body).reasons;
    expect(reasons.some((r) => r.startsWith("redis:"))).toBe(true);
    expect(reasons.some((r) => r.startsWith("state:"))).toBe(true);
    // Nothing is committed while the state store is down.
    await expect(waitCaughtUp(t.group, t.input, 500)).rejects.toThrow(/did not catch up/);

    const redisSh = (cmd: string) =>
      run("bash", [resolve(REPO, "deploy/redis.sh"), cmd], {
        env: { ...process.env, REDIS_PORT: String(redisPort) },
      });
    await redisSh("start");
    try {
      await waitCaughtUp(t.group, t.input, 30_000);
      expect((await get(port, "/readyz")).status).toBe(200);
      child.proc.kill("SIGTERM");
      expect(await child.exited).toBe(0);
      const expected = await expectedAlerts(lines);
      const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length, idleMs: 1000 }));
      expect(ids(alerts)).toEqual(ids(expected));
    } finally {
      child.proc.kill("SIGKILL");
      await redisSh("stop");
    }
  });

  it("SIGTERM while Redis is down gives the batch up uncommitted and exits 0", {
    timeout: 60_000,
  }, async () => {
    const t = serviceEnv("ready-stop", { CHAINWATCH_REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    await createTopics([t.input], 1);
    await produceLines(t.input, generateStream({ users: 2, events: 10 }));
    const child = startRun(t.env);
    await waitLog(child, /state store failed, retrying/);
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    await expect(waitCaughtUp(t.group, t.input, 500)).rejects.toThrow(/did not catch up/);
  });

  it("/readyz is 200 and /metrics counts events, alerts by pattern and severity, batch latency", {
    timeout: 60_000,
  }, async () => {
    const t = serviceEnv("metrics");
    const lines = generateStream({ users: 5, events: 120, invalidEvery: 30, seed: 5 });
    await createTopics([t.input], 2);
    await produceLines(t.input, lines);
    const child = startRun(t.env);
    const port = await child.httpPort;
    await waitCaughtUp(t.group, t.input);
    const ready = await get(port, "/readyz");
    expect(ready).toEqual({ status: 200, body: '{"ready":true,"reasons":[]}\n' });
    const metrics = (await get(port, "/metrics")).body;
    expect(metrics).toMatch(/chainwatch_events_in_total(\{[^}]*\})? 124\b/);
    expect(metrics).toMatch(/chainwatch_events_invalid_total(\{[^}]*\})? 4\b/);
    const expected = await expectedAlerts(lines);
    const bySeverity = expected.filter((a) => a.pattern.id === "test.read-then-send").length;
    expect(bySeverity).toBeGreaterThan(0);
    expect(metrics).toMatch(
      new RegExp(
        `chainwatch_alerts_total\\{pattern="test.read-then-send",severity="high"[^}]*\\} ${bySeverity}\\n`,
      ),
    );
    expect(metrics).toMatch(/chainwatch_batch_duration_milliseconds_bucket|chainwatch_batch_duration_bucket/);
    expect(metrics).toMatch(/chainwatch_consumer_lag\{[^}]*partition="[01]"[^}]*\} 0/);
    expect(metrics).toMatch(/chainwatch_redis_round_trips_total(\{[^}]*\})? \d+/);
    // The resource names the service (it was `unknown_service:node`).
    expect(metrics).toMatch(/target_info\{[^}]*service_name="chainwatch"/);
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });
});

describe("stopping at any moment", () => {
  it("SIGTERM while Kafka is unreachable exits 0 at once, not after kafkajs's retries", {
    timeout: 60_000,
  }, async () => {
    const t = serviceEnv("stop-kafka-down", { CHAINWATCH_KAFKA_BROKERS: `127.0.0.1:${await freePort()}` });
    const child = startRun(t.env);
    await waitLog(child, /Connection error/);
    const asked = Date.now();
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(Date.now() - asked).toBeLessThan(5_000);
  });

  it("SIGTERM while patterns load or the service starts exits 0 (no default handler's 143)", {
    timeout: 60_000,
  }, async () => {
    // 200 ms lands while the modules or the patterns load (the service logs nothing before ~400 ms here).
    for (const delayMs of [200, 700]) {
      const t = serviceEnv("stop-early");
      const child = startRun(t.env);
      await sleep(delayMs);
      child.proc.kill("SIGTERM");
      expect(await child.exited, `SIGTERM after ${delayMs} ms:\n${child.stderr()}`).toBe(0);
    }
    // With worker threads, start also waits for them to build their engines: a stop lands there too.
    const t = serviceEnv("stop-early", { CHAINWATCH_WORKER_THREADS: "2" });
    const child = startRun(t.env);
    await waitLog(child, /chainwatch run starting/);
    const asked = Date.now();
    child.proc.kill("SIGTERM");
    expect(await child.exited, child.stderr()).toBe(0);
    expect(Date.now() - asked).toBeLessThan(5_000);
  });
});

describe("dead letters near the broker's size limit", () => {
  it("sends the copy of an invalid event too large to forward whole cut and marked, and goes on", {
    timeout: 90_000,
  }, async () => {
    const t = serviceEnv("dlq-too-large");
    await createTopics([t.input, t.alerts, `${t.input}.dlq`], 1);
    // The largest value the broker takes on the input topic: its dead-letter copy, with the reason
    // headers added, is then refused.
    const producer = kafka().producer();
    await producer.connect();
    let size = 1_048_588;
    for (;;) {
      try {
        await producer.send({
          topic: t.input,
          acks: -1,
          messages: [{ key: "u-big", value: Buffer.alloc(size, 0x61) }],
        });
        break;
      } catch {
        size -= 64;
      }
    }
    await producer.disconnect();
    const after = generateStream({ users: 2, events: 30, seed: 21 });
    await produceLines(t.input, after);
    const child = startRun(t.env);
    await waitCaughtUp(t.group, t.input);
    const expected = await expectedAlerts(after);
    expect(expected.length).toBeGreaterThan(0);
    const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length, idleMs: 1500 }));
    expect(ids(alerts).sort()).toEqual(ids(expected).sort());
    const [dead] = await readTopic(`${t.input}.dlq`, { count: 1, idleMs: 1000 });
    expect(dead!.headers["chainwatch-value-truncated"]).toBe(String(size));
    expect(dead!.headers["chainwatch-error"]).toMatch(/event too large/);
    expect(dead!.value!.length).toBe(65_536);
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });
});

describe("start before the input topic exists", () => {
  it("waits for the topic (not ready, still running) and then consumes it", { timeout: 90_000 }, async () => {
    const t = serviceEnv("no-topic-yet");
    // Only the alert topic: the input topic appears when the first MCP server produces to it.
    await createTopics([t.alerts], 1);
    const child = startRun(t.env);
    await waitLog(child, /joined consumer group/);
    expect(child.proc.exitCode).toBe(null);
    // Before any event, every counter without attributes is already exported, at 0.
    const idle = (await get(await child.httpPort, "/metrics")).body;
    for (const name of [
      "events_in",
      "events_invalid",
      "events_too_late",
      "events_duplicate",
      "redis_round_trips",
    ])
      expect(idle).toMatch(new RegExp(`chainwatch_${name}_total(\\{[^}]*\\})? 0\\n`));
    const lines = generateStream({ users: 3, events: 40, seed: 11 });
    await produceLines(t.input, lines);
    await waitCaughtUp(t.group, t.input);
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(0);
    const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length, idleMs: 1500 }));
    expect(ids(alerts).sort()).toEqual(ids(expected).sort());
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  });
});

describe("SIGHUP pattern reload", () => {
  it("swaps in a valid new set between batches and keeps the old set when the new one is invalid", {
    timeout: 90_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-patterns-"));
    for (const f of readdirSync(FIXTURE_PATTERNS)) copyFileSync(join(FIXTURE_PATTERNS, f), join(dir, f));
    const t = serviceEnv("hup", { CHAINWATCH_PATTERNS: dir });
    const lines = generateStream({ users: 6, events: 270, seed: 3 });
    const phase = (k: number) => lines.slice(k * 90, (k + 1) * 90);
    await createTopics([t.input, t.alerts], 2);

    const child = startRun(t.env);
    await produceLines(t.input, phase(0));
    await waitCaughtUp(t.group, t.input);

    // Valid reload: a new pattern applies to what arrives after it.
    copyFileSync(ALT_PATTERN, join(dir, "alt.json"));
    child.proc.kill("SIGHUP");
    await waitLog(child, /patterns reloaded/);
    await produceLines(t.input, phase(1));
    await waitCaughtUp(t.group, t.input);

    // Invalid reload: logged, the running set stays.
    writeFileSync(join(dir, "broken.json"), '{ "id": "Broken!", "version": 0 }');
    child.proc.kill("SIGHUP");
    await waitLog(child, /pattern reload failed; keeping the old set/);
    expect(child.stderr()).toMatch(/broken\.json/);
    await produceLines(t.input, phase(2));
    await waitCaughtUp(t.group, t.input);
    await sleep(100);
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(0);

    const withAlt = [FIXTURE_PATTERNS, ALT_PATTERN];
    const expected = await expectedAlertsPhased([
      { lines: phase(0), patterns: [FIXTURE_PATTERNS] },
      { lines: phase(1), patterns: withAlt },
      { lines: phase(2), patterns: withAlt },
    ]);
    const deletes = expected.filter((a) => a.pattern.id === "test.any-delete");
    expect(deletes.length).toBeGreaterThan(3);
    // None before the reload: phase 0 has delete_all calls, and the old set did not alert on them.
    expect(phase(0).some((l) => l.includes('"delete_all"'))).toBe(true);
    const alerts = alertsOf(await readTopic(t.alerts, { count: expected.length, idleMs: 1500 }));
    expect(ids(alerts)).toEqual(ids(expected));
  });
});
