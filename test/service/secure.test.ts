import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { loadConfig } from "../../src/config/load.js";
import { createKafka } from "../../src/stream/kafkajs/client.js";
import {
  readAll,
  type SecureKafka,
  startSecureKafka,
  startTlsRedis,
  type TlsRedis,
} from "../helpers/secure-services.js";
import { uniqueName } from "../helpers/services.js";
import { expectedAlerts, FIXTURE_PATTERNS, generateStream, ids, REPO, startRun } from "./helpers.js";

/**
 * The connection settings of `chainwatch run` and `chainwatch produce` against servers that demand
 * them: a broker with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS listeners, and a Redis that
 * speaks TLS only and admits an ACL user confined to the run's key prefix (test/helpers/secure-services.ts).
 */

const BIN = resolve(REPO, "bin/chainwatch.js");
const quiet = pino({ level: "silent" });

function produce(file: string, env: Record<string, string>) {
  return new Promise<{ code: number; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [BIN, "produce", "--input", file],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, _stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

function jsonl(lines: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), "cw-secure-")), "events.jsonl");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

describe("secure connections (real broker with SASL and TLS, real Redis with TLS and ACL)", () => {
  let kafka: SecureKafka;
  let redis: TlsRedis;

  beforeAll(async () => {
    [kafka, redis] = await Promise.all([startSecureKafka(), startTlsRedis()]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([kafka?.stop(), redis?.stop()]);
  });

  const sasl = (mechanism: string) => ({
    CHAINWATCH_KAFKA_BROKERS: kafka.saslPlaintext,
    CHAINWATCH_KAFKA_SASL_MECHANISM: mechanism,
    CHAINWATCH_KAFKA_SASL_USERNAME: kafka.user,
    CHAINWATCH_KAFKA_SASL_PASSWORD: kafka.password,
  });
  const variants: Array<[string, () => Record<string, string>]> = [
    ["SASL PLAIN", () => sasl("plain")],
    ["SASL SCRAM-SHA-256", () => sasl("scram-sha-256")],
    ["SASL SCRAM-SHA-512", () => sasl("scram-sha-512")],
    [
      "TLS with a private CA",
      () => ({ CHAINWATCH_KAFKA_BROKERS: kafka.tls, CHAINWATCH_KAFKA_TLS_CA: kafka.caFile }),
    ],
  ];

  it.each(variants)(
    "%s: `chainwatch produce` sends, a client from the same settings reads back",
    async (_, env) => {
      const topic = uniqueName("secure-produce");
      const lines = generateStream({ users: 3, events: 5, seed: 3 });
      const settings = { ...env(), CHAINWATCH_INPUT_TOPIC: topic };
      const sent = await produce(jsonl(lines), settings);
      expect(sent.stderr).toMatch(/5 events sent/);
      expect(sent.code).toBe(0);
      const client = createKafka(loadConfig({ env: settings }).kafka, quiet);
      const got = await readAll(client, topic, lines.length);
      expect(got.map((m) => m.value).sort()).toEqual([...lines].sort());
      for (const m of got) expect(m.key).toBe(JSON.parse(m.value).user_id);
    },
  );

  it("refuses a wrong SASL password with an authentication error that does not print it", async () => {
    const wrong = `wrong-${kafka.password}`;
    const r = await produce(jsonl(generateStream({ users: 1, events: 1 })), {
      ...sasl("scram-sha-512"),
      CHAINWATCH_KAFKA_SASL_PASSWORD: wrong,
      CHAINWATCH_INPUT_TOPIC: uniqueName("secure-refused"),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/SASL SCRAM SHA512 authentication failed/i);
    expect(r.stderr).not.toContain(wrong);
  });

  it("runs the service over SASL_SSL (SCRAM-SHA-512) with Redis over TLS as an ACL user, secrets never printed", async () => {
    const id = uniqueName("secure-run");
    const prefix = `${id}:`;
    const redisUser = "cw-service";
    const redisPassword = `pw-${id}`;
    const tls = { ca: [readFileSync(redis.caFile, "utf8")] };
    const admin = new Redis(redis.url, { tls });
    // Only the run's own keys: a store that wrote outside its prefix would fail here.
    await admin.acl("SETUSER", redisUser, "on", `>${redisPassword}`, `~${prefix}*`, "+@all");
    const env = {
      CHAINWATCH_KAFKA_BROKERS: kafka.saslTls,
      CHAINWATCH_KAFKA_TLS_CA: kafka.caFile,
      CHAINWATCH_KAFKA_SASL_MECHANISM: "scram-sha-512",
      CHAINWATCH_KAFKA_SASL_USERNAME: kafka.user,
      CHAINWATCH_KAFKA_SASL_PASSWORD: kafka.password,
      CHAINWATCH_REDIS_URL: redis.url,
      CHAINWATCH_REDIS_TLS_CA: redis.caFile,
      CHAINWATCH_REDIS_USERNAME: redisUser,
      CHAINWATCH_REDIS_PASSWORD: redisPassword,
      CHAINWATCH_REDIS_PREFIX: prefix,
      CHAINWATCH_GROUP_ID: `${id}-group`,
      CHAINWATCH_INPUT_TOPIC: `${id}-in`,
      CHAINWATCH_ALERT_TOPIC: `${id}-alerts`,
      CHAINWATCH_PATTERNS: FIXTURE_PATTERNS,
      CHAINWATCH_HTTP_PORT: "0",
      CHAINWATCH_LOG_LEVEL: "debug",
    };
    const lines = generateStream({ users: 6, events: 120, seed: 11 });
    const expected = await expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(3);
    expect((await produce(jsonl(lines), env)).code).toBe(0);

    const client = createKafka(loadConfig({ env }).kafka, quiet);
    const kafkaAdmin = client.admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({ waitForLeaders: true, topics: [{ topic: env.CHAINWATCH_ALERT_TOPIC }] });
    await kafkaAdmin.disconnect();
    const child = startRun(env);
    try {
      const got = await readAll(client, env.CHAINWATCH_ALERT_TOPIC, expected.length);
      expect(ids(got.map((m) => JSON.parse(m.value) as Alert))).toEqual(ids(expected));
      const port = await child.httpPort;
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      child.proc.kill("SIGTERM");
      await child.exited;
      await admin.acl("DELUSER", redisUser);
    }
    const keys = await admin.keys("*");
    admin.disconnect();
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.startsWith(prefix)).toBe(true);
    const logs = child.stderr();
    expect(logs).toMatch(/"msg":"consuming"|joined consumer group/);
    expect(logs).not.toContain(kafka.password);
    expect(logs).not.toContain(redisPassword);
  });
});
