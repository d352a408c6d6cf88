import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Kafka } from "kafkajs";
import { freePort } from "./services.js";

/**
 * Real servers that demand credentials and TLS, for the tests of chainwatch's secure connection
 * settings: a second Kafka broker (from the same Maven Central jars as deploy/kafka.sh) with SASL
 * (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS listeners, and a redis-server speaking TLS only.
 * Each runs from a temporary directory with a self-signed certificate made for it, and is killed
 * and removed by `stop`.
 */

const REPO = resolve(import.meta.dirname, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createServer().listen(port, "127.0.0.1");
    socket.once("listening", () => socket.close(() => done(false)));
    socket.once("error", () => done(true));
  });
}

/** Kills a child's whole process group and waits for it to go. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
  await gone;
}

export interface SecureKafka {
  /** `host:port` per listener. */
  saslPlaintext: string;
  tls: string;
  saslTls: string;
  /** PEM of the broker's self-signed certificate: the CA a client must trust. */
  caFile: string;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/**
 * A single-node KRaft broker with one listener per protocol the config offers (SASL_PLAINTEXT, SSL,
 * SASL_SSL), every SASL mechanism enabled, and one user known to all of them (SCRAM credentials are
 * written into the metadata log when the storage is formatted).
 */
export async function startSecureKafka(): Promise<SecureKafka> {
  const libs = execFileSync("bash", [join(REPO, "deploy/kafka.sh"), "jars"], { encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1)!;
  const dir = mkdtempSync(join(tmpdir(), "cw-secure-kafka-"));
  const user = "cw-user";
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const storePass = randomBytes(8).toString("hex");
  const keystore = join(dir, "broker.p12");
  const caFile = join(dir, "ca.pem");
  const keytool = (args: string[]) => execFileSync("keytool", args, { stdio: "pipe" });
  keytool([
    ...["-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2"],
    ...["-keystore", keystore, "-storetype", "PKCS12", "-storepass", storePass, "-keypass", storePass],
    ...["-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost"],
  ]);
  keytool([
    "-exportcert",
    "-rfc",
    "-alias",
    "broker",
    "-keystore",
    keystore,
    "-storepass",
    storePass,
    "-file",
    caFile,
  ]);

  const [internal, controller, saslPlain, ssl, saslSsl] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const listeners = {
    INTERNAL: internal,
    SASL_PLAINTEXT: saslPlain,
    SSL: ssl,
    SASL_SSL: saslSsl,
  } as const;
  const at = (ls: Record<string, number>) =>
    Object.entries(ls)
      .map(([name, port]) => `${name}://127.0.0.1:${port}`)
      .join(",");
  const plain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${user}="${password}";`;
  const scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
  const jaas = ["sasl_plaintext", "sasl_ssl"].flatMap((l) => [
    `listener.name.${l}.plain.sasl.jaas.config=${plain}`,
    `listener.name.${l}.scram-sha-256.sasl.jaas.config=${scram}`,
    `listener.name.${l}.scram-sha-512.sasl.jaas.config=${scram}`,
  ]);
  const props = join(dir, "server.properties");
  writeFileSync(
    props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=${at({ ...listeners, CONTROLLER: controller })}`,
      `advertised.listeners=${at(listeners)}`,
      "listener.security.protocol.map=INTERNAL:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=INTERNAL",
      "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
      ...jaas,
      "ssl.keystore.type=PKCS12",
      `ssl.keystore.location=${keystore}`,
      `ssl.keystore.password=${storePass}`,
      `ssl.key.password=${storePass}`,
      "ssl.client.auth=none",
      `log.dirs=${join(dir, "data")}`,
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=1",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "transaction.state.log.num.partitions=1",
      "group.initial.rebalance.delay.ms=0",
      "auto.create.topics.enable=true",
      "num.partitions=1",
      "num.network.threads=1",
      "num.io.threads=2",
      "",
    ].join("\n"),
  );
  const java = (args: string[]) => [
    ...["-Xms256m", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"],
    `-Dlog4j.configuration=file:${join(REPO, "deploy/kafka/log4j.properties")}`,
    ...["-cp", `${libs}/*`, ...args],
  ];
  // One id in 64 starts with "-", which the tool reads as an option after a separate "-t".
  const clusterId = randomBytes(16).toString("base64url");
  const scramCreds = ["SCRAM-SHA-256", "SCRAM-SHA-512"].flatMap((m) => [
    "--add-scram",
    `${m}=[name=${user},password=${password}]`,
  ]);
  execFileSync(
    "java",
    java(["kafka.tools.StorageTool", "format", `--cluster-id=${clusterId}`, "-c", props, ...scramCreds]),
    {
      stdio: "pipe",
    },
  );
  const logFile = join(dir, "kafka.log");
  const out = openSync(logFile, "w");
  const child = spawn("java", java(["kafka.Kafka", props]), { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  const stop = async () => {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  while (!readFileSync(logFile, "utf8").includes("Kafka Server started")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n");
      await stop();
      throw new Error(`the TLS + SASL test broker did not start:\n${log}`);
    }
    await sleep(250);
  }
  return {
    saslPlaintext: `127.0.0.1:${saslPlain}`,
    tls: `127.0.0.1:${ssl}`,
    saslTls: `127.0.0.1:${saslSsl}`,
    caFile,
    user,
    password,
    stop,
  };
}

export interface TlsRedis {
  /** `rediss://` URL of the server. */
  url: string;
  caFile: string;
  stop(): Promise<void>;
}

/** A redis-server that speaks TLS only (no plain port), with a self-signed certificate. */
export async function startTlsRedis(): Promise<TlsRedis> {
  const dir = mkdtempSync(join(tmpdir(), "cw-tls-redis-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
    ],
    { stdio: "pipe" },
  );
  const port = await freePort();
  const child = spawn(
    "redis-server",
    [
      ...["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
      ...["--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert],
      ...["--tls-auth-clients", "no"],
    ],
    { detached: true, stdio: "ignore" },
  );
  const stop = async () => {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server with TLS on port ${port} did not start (is it built with TLS?)`);
    }
    await sleep(100);
  }
  return { url: `rediss://127.0.0.1:${port}`, caFile: cert, stop };
}

/** Everything in a topic, read_committed, through a client built from chainwatch's own settings. */
export async function readAll(kafka: Kafka, topic: string, count: number) {
  const consumer = kafka.consumer({
    groupId: `secure-reader-${randomBytes(4).toString("hex")}`,
    maxWaitTimeInMs: 100,
  });
  const got: Array<{ key: string; value: string }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push({ key: String(message.key), value: String(message.value) });
      },
    });
    const deadline = Date.now() + 60_000;
    while (got.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return got;
}
