import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, KEYS, loadConfig, loadProducerConfig, redactConfig } from "../../src/config/index.js";

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "cw-config-"));
  const file = join(dir, "chainwatch.json");
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

describe("config", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({ env: {} });
    expect(c.kafka.brokers).toEqual(["127.0.0.1:9092"]);
    expect(c.kafka.groupId).toBe("chainwatch");
    expect(c.kafka.inputTopic).toBe("mcp.tool-calls");
    expect(c.kafka.alertTopic).toBe("chainwatch.alerts");
    expect(c.kafka.dlqTopic).toBe("mcp.tool-calls.dlq");
    expect(c.redis.url).toBe("redis://127.0.0.1:6379");
    expect(c.redis.prefix).toBe("cw:");
    expect(c.http.port).toBe(9464);
    expect(c.patterns).toEqual([]);
    expect(c.limits.maxEventBytes).toBe(64 * 1024);
    expect(c.limits.maxEventsPerGroup).toBe(10_000);
    expect(c.limits.workerThreads).toBe(0);
    expect(c.kafka.maxBytesPerPartition).toBe(1024 * 1024);
  });

  it("reads the worker threads and the fetch size, and names them when wrong", () => {
    const c = loadConfig({
      env: { CHAINWATCH_WORKER_THREADS: "3", CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION: "2097152" },
    });
    expect(c.limits.workerThreads).toBe(3);
    expect(c.kafka.maxBytesPerPartition).toBe(2097152);
    const problems = problemsOf(() =>
      loadConfig({
        env: { CHAINWATCH_WORKER_THREADS: "-1", CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION: "10" },
      }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/CHAINWATCH_WORKER_THREADS|CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION/);
    expect(problems.join("\n")).toMatch(/CHAINWATCH_WORKER_THREADS/);
    expect(problems.join("\n")).toMatch(/CHAINWATCH_KAFKA_MAX_BYTES_PER_PARTITION/);
  });

  it("reads the fixed CHAINWATCH_* names; DLQ follows the input topic", () => {
    const c = loadConfig({
      env: {
        CHAINWATCH_KAFKA_BROKERS: "k1:9092, k2:9093",
        CHAINWATCH_GROUP_ID: "g1",
        CHAINWATCH_INPUT_TOPIC: "in.t",
        CHAINWATCH_ALERT_TOPIC: "out.t",
        CHAINWATCH_REDIS_URL: "rediss://cache:6380/2",
        CHAINWATCH_REDIS_PREFIX: "x:",
        CHAINWATCH_PATTERNS: "/a:/b/c",
        CHAINWATCH_TAXONOMY: "/t.json",
        CHAINWATCH_HTTP_PORT: "0",
      },
    });
    expect(c.kafka.brokers).toEqual(["k1:9092", "k2:9093"]);
    expect(c.kafka.groupId).toBe("g1");
    expect(c.kafka.dlqTopic).toBe("in.t.dlq");
    expect(c.redis.url).toBe("rediss://cache:6380/2");
    expect(c.patterns).toEqual(["/a", "/b/c"]);
    expect(c.taxonomy).toEqual(["/t.json"]);
    expect(c.http.port).toBe(0);
  });

  it("env wins over the file; the file wins over defaults", () => {
    const file = configFile({
      kafka: { groupId: "from-file", alertTopic: "file.alerts" },
      http: { port: 1234 },
    });
    const c = loadConfig({ file, env: { CHAINWATCH_GROUP_ID: "from-env" } });
    expect(c.kafka.groupId).toBe("from-env");
    expect(c.kafka.alertTopic).toBe("file.alerts");
    expect(c.http.port).toBe(1234);
  });

  it("names every wrong key in one message each, with the value it got", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: {
          CHAINWATCH_HTTP_PORT: "abc",
          CHAINWATCH_KAFKA_BROKERS: "nohostport",
          CHAINWATCH_REDIS_URL: "http://x",
          CHAINWATCH_BATCH_SIZE: "0",
          CHAINWATCH_KAFKA_SASL_MECHANISM: "gssapi",
        },
      }),
    );
    expect(problems).toContain('CHAINWATCH_HTTP_PORT: expected an integer 0..65535, got "abc"');
    expect(problems).toContain('CHAINWATCH_KAFKA_BROKERS: expected host:port, got "nohostport"');
    expect(problems).toContain('CHAINWATCH_BATCH_SIZE: expected an integer 1..100000, got "0"');
    expect(
      problems.some((p) => p.startsWith("CHAINWATCH_REDIS_URL: expected a redis:// or rediss:// URL")),
    ).toBe(true);
    expect(problems.some((p) => p.startsWith("CHAINWATCH_KAFKA_SASL_MECHANISM: expected plain"))).toBe(true);
    expect(problems).toHaveLength(5);
  });

  it("takes the CHAINWATCH_* names as flat file keys too, written as in the environment", () => {
    const file = configFile({
      CHAINWATCH_INPUT_TOPIC: "flat.in",
      CHAINWATCH_KAFKA_BROKERS: "k1:9092,k2:9092",
      CHAINWATCH_HTTP_PORT: "9500",
      CHAINWATCH_BATCH_SIZE: 250,
      kafka: { groupId: "nested" },
    });
    const c = loadConfig({ file, env: { CHAINWATCH_BATCH_SIZE: "100" } });
    expect(c.kafka.inputTopic).toBe("flat.in");
    expect(c.kafka.dlqTopic).toBe("flat.in.dlq");
    expect(c.kafka.brokers).toEqual(["k1:9092", "k2:9092"]);
    expect(c.http.port).toBe(9500);
    expect(c.kafka.groupId).toBe("nested");
    expect(c.limits.batchSize).toBe(100); // env still wins
    expect(
      problemsOf(() => loadConfig({ file: configFile({ CHAINWATCH_HTTP_PORT: "x" }), env: {} }))[0],
    ).toMatch(/: CHAINWATCH_HTTP_PORT: expected an integer 0\.\.65535, got "x"$/);
    expect(
      problemsOf(() =>
        loadConfig({ file: configFile({ CHAINWATCH_GROUP_ID: "a", kafka: { groupId: "b" } }), env: {} }),
      ),
    ).toEqual([
      expect.stringMatching(/kafka\.groupId and CHAINWATCH_GROUP_ID are the same setting: give one$/),
    ]);
  });

  it("reports file keys by file and path, and unknown keys", () => {
    const file = configFile({ http: { port: 70000 }, kafka: { grupId: "typo" } });
    const problems = problemsOf(() => loadConfig({ file, env: {} }));
    expect(problems).toEqual([
      `${file}: http.port: expected an integer 0..65535, got 70000`,
      `${file}: kafka.grupId: unknown key`,
    ]);
    expect(problemsOf(() => loadConfig({ file: configFile("{ nope"), env: {} }))[0]).toMatch(/not JSON/);
  });

  it("takes --log-level below env and names it as a flag", () => {
    expect(loadConfig({ env: {}, flags: { logLevel: "debug" } }).logLevel).toBe("debug");
    expect(loadConfig({ env: { CHAINWATCH_LOG_LEVEL: "warn" }, flags: { logLevel: "debug" } }).logLevel).toBe(
      "warn",
    );
    expect(problemsOf(() => loadConfig({ env: {}, flags: { logLevel: "nope" } }))).toEqual([
      '--log-level: expected fatal, error, warn, info, debug, trace or silent, got "nope"',
    ]);
  });

  it("requires SASL mechanism, user and password together", () => {
    const problems = problemsOf(() =>
      loadConfig({
        env: { CHAINWATCH_KAFKA_SASL_MECHANISM: "scram-sha-512", CHAINWATCH_KAFKA_SASL_USERNAME: "u" },
      }),
    );
    expect(problems[0]).toMatch(/expected all three or none/);
    const ok = loadConfig({
      env: {
        CHAINWATCH_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
        CHAINWATCH_KAFKA_SASL_USERNAME: "u",
        CHAINWATCH_KAFKA_SASL_PASSWORD: "s3cret",
      },
    });
    expect(ok.kafka.sasl).toEqual({ mechanism: "scram-sha-512", username: "u", password: "s3cret" });
  });

  it("never shows secrets: redacted config and error messages", () => {
    const c = loadConfig({
      env: {
        CHAINWATCH_REDIS_URL: "rediss://cw:hunter2@cache:6380",
        CHAINWATCH_REDIS_PASSWORD: "pw-redis",
        CHAINWATCH_KAFKA_SASL_MECHANISM: "plain",
        CHAINWATCH_KAFKA_SASL_USERNAME: "u",
        CHAINWATCH_KAFKA_SASL_PASSWORD: "pw-kafka",
      },
    });
    const shown = JSON.stringify(redactConfig(c));
    expect(shown).not.toMatch(/hunter2|pw-redis|pw-kafka/);
    expect(shown).toContain("rediss://cw:***@cache:6380");
    expect(c.redis.url).toContain("hunter2");
    const problems = problemsOf(() => loadConfig({ env: { CHAINWATCH_REDIS_URL: "ftp://u:hunter2@x" } }));
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("every key has a distinct CHAINWATCH_ env name and a doc line", () => {
    const envs = KEYS.map((k) => k.env);
    expect(new Set(envs).size).toBe(envs.length);
    for (const k of KEYS) {
      expect(k.env).toMatch(/^CHAINWATCH_[A-Z0-9_]+$/);
      expect(k.doc.length).toBeGreaterThan(10);
    }
  });

  describe("what `chainwatch produce` reads", () => {
    it("takes the Kafka connection of `run` (TLS, SASL) and its input topic, nothing else", () => {
      const c = loadProducerConfig({
        env: {
          CHAINWATCH_KAFKA_BROKERS: "k1:9093,k2:9093",
          CHAINWATCH_KAFKA_TLS_CA: "/etc/ca.pem",
          CHAINWATCH_KAFKA_SASL_MECHANISM: "scram-sha-512",
          CHAINWATCH_KAFKA_SASL_USERNAME: "svc",
          CHAINWATCH_KAFKA_SASL_PASSWORD: "s3cret",
          CHAINWATCH_INPUT_TOPIC: "audit",
          // Keys only `run` reads cannot fail `produce`.
          CHAINWATCH_REDIS_URL: "not a url",
          CHAINWATCH_HTTP_PORT: "-1",
        },
      });
      expect(c).toEqual({
        brokers: ["k1:9093", "k2:9093"],
        clientId: "chainwatch-produce",
        inputTopic: "audit",
        ssl: true,
        sslCaFile: "/etc/ca.pem",
        sasl: { mechanism: "scram-sha-512", username: "svc", password: "s3cret" },
      });
    });

    it("lets --topic win over the environment and names it when wrong; checks SASL is all or nothing", () => {
      expect(loadProducerConfig({ env: { CHAINWATCH_INPUT_TOPIC: "a" }, topic: "b" }).inputTopic).toBe("b");
      expect(problemsOf(() => loadProducerConfig({ env: {}, topic: "bad topic!" }))).toEqual([
        expect.stringMatching(/^--topic: /),
      ]);
      expect(
        problemsOf(() => loadProducerConfig({ env: { CHAINWATCH_KAFKA_SASL_USERNAME: "svc" } })),
      ).toEqual([expect.stringMatching(/expected all three or none/)]);
      const wrong = problemsOf(() =>
        loadProducerConfig({
          env: { CHAINWATCH_KAFKA_SASL_MECHANISM: "gssapi", CHAINWATCH_KAFKA_SASL_PASSWORD: "s3cret" },
        }),
      );
      expect(wrong.join("\n")).toMatch(/CHAINWATCH_KAFKA_SASL_MECHANISM/);
      expect(wrong.join("\n")).not.toContain("s3cret");
    });
  });
});
