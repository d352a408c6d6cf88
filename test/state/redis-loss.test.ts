import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisStore } from "../../src/state/redis/store.js";
import { StateUnavailableError } from "../../src/state/store.js";
import { freePort } from "../helpers/services.js";
import { add, event, ref, T0 } from "./build.js";

/**
 * Losing Redis for real: a private redis-server (append-only file, fsync always) is killed with
 * SIGKILL while batches are being saved, then restarted on the same files. Every batch is all or
 * nothing (its groups and its seen ids together), every acknowledged batch survives, and calls made
 * while Redis is gone fail with StateUnavailableError instead of hanging.
 */

const FIELDS = new Set(["arguments"]);
const USERS = Array.from({ length: 20 }, (_, i) => `loss-${i}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  // Append-only file, fsync always: an acknowledged write is on disk before the reply.
  const args = ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--dir", dir];
  args.push("--appendonly", "yes", "--appendfsync", "always");
  const proc = spawn("redis-server", args, { stdio: "ignore" });
  const probe = new Redis(port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => null });
  probe.on("error", () => {});
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return proc;
    } catch {
      await sleep(100);
    }
  }
  probe.disconnect();
  proc.kill("SIGKILL");
  throw new Error(`redis-server did not start on port ${port}`);
}

describe("RedisStore when Redis is killed mid-stream", () => {
  const dir = mkdtempSync(join(tmpdir(), "cw-redis-loss-"));
  const procs: ChildProcess[] = [];

  afterAll(() => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every batch whole and every acknowledged batch, and fails fast meanwhile", {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    let server = await startRedis(port, dir);
    procs.push(server);
    const store = new RedisStore({ redis: url, prefix: "loss:", fields: FIELDS, retentionMs: 3_600_000 });

    const acknowledged: number[] = [];
    const failures: unknown[] = [];
    const batchIds = (b: number) => USERS.map((u) => `b${b}-${u}`);
    let killed = false;
    for (let b = 0; b < 400 && failures.length < 5; b++) {
      try {
        const loaded = await store.load(
          USERS.map((u) => ref(u)),
          batchIds(b),
        );
        for (const u of USERS) {
          add(loaded.groups.get(ref(u).key)!, event(u, T0 + b, { event_id: `b${b}-${u}`, arguments: { b } }));
        }
        if (b === 60) {
          // While this batch's save is on its way.
          setImmediate(() => server.kill("SIGKILL"));
          killed = true;
        }
        await store.save({
          groups: [...loaded.groups.values()],
          seen: batchIds(b).map((id) => ({ id, timestamp: T0 + b })),
        });
        acknowledged.push(b);
      } catch (err) {
        if (!killed) throw err;
        failures.push(err);
      }
    }
    await store.close();
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);
    expect(failures.length).toBe(5);
    for (const err of failures) expect(err).toBeInstanceOf(StateUnavailableError);

    server = await startRedis(port, dir);
    procs.push(server);
    const reader = new RedisStore({ redis: url, prefix: "loss:", fields: FIELDS, retentionMs: 3_600_000 });
    try {
      const all = Array.from({ length: 61 }, (_, b) => batchIds(b)).flat();
      const back = await reader.load(
        USERS.map((u) => ref(u)),
        all,
      );
      for (let b = 0; b <= 60; b++) {
        const stored = USERS.map((u) =>
          back.groups.get(ref(u).key)!.events.some((e) => e.event.event_id === `b${b}-${u}`),
        );
        const seen = batchIds(b).map((id) => back.seen.has(id));
        // All or nothing, groups and seen ids alike; acknowledged means present.
        const present = stored[0]!;
        expect(
          stored.every((x) => x === present),
          `batch ${b} groups`,
        ).toBe(true);
        expect(
          seen.every((x) => x === present),
          `batch ${b} seen ids`,
        ).toBe(true);
        if (acknowledged.includes(b)) expect(present, `acknowledged batch ${b}`).toBe(true);
      }
      for (const u of USERS) {
        const st = back.groups.get(ref(u).key)!;
        expect(st.nextSeq).toBe(st.events.length); // no seq handed out twice or lost
      }
    } finally {
      await reader.close();
      server.kill("SIGTERM");
    }
  });
});
