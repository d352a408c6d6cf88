import { cpus } from "node:os";
import type { Redis } from "ioredis";

/**
 * Where a machine's CPU went during a phase of a benchmark: this process, the Redis server, and the
 * rest (on the benchmark machines: the Kafka broker). A throughput that stops growing while the
 * machine has idle cores is waiting on something; one that stops with every core busy is CPU-bound,
 * and the split says whose CPU.
 */
export interface CpuSnapshot {
  machineBusyMs: number;
  processMs: number;
  /** The Redis server's own CPU (INFO cpu), when a client was given. */
  redisMs: number;
}

export interface CpuUse {
  /** Cores kept busy on average over the phase, machine-wide. */
  machine_cores: number;
  process_cores: number;
  redis_cores: number;
  /** Machine-wide minus this process and Redis. */
  other_cores: number;
  /** CPU time per event, µs, of each. */
  machine_us_per_event: number;
  process_us_per_event: number;
  redis_us_per_event: number;
  other_us_per_event: number;
}

export async function cpuSnapshot(redis?: Redis): Promise<CpuSnapshot> {
  let machineBusyMs = 0;
  for (const c of cpus()) machineBusyMs += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  const own = process.cpuUsage();
  let redisMs = 0;
  if (redis) {
    const info = await redis.info("cpu");
    const sec = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
    redisMs = (sec("used_cpu_user") + sec("used_cpu_sys")) * 1000;
  }
  return { machineBusyMs, processMs: (own.user + own.system) / 1000, redisMs };
}

export function cpuUse(from: CpuSnapshot, to: CpuSnapshot, seconds: number, events: number): CpuUse {
  const machine = to.machineBusyMs - from.machineBusyMs;
  const own = to.processMs - from.processMs;
  const redis = to.redisMs - from.redisMs;
  const other = Math.max(0, machine - own - redis);
  const cores = (ms: number) => Number((ms / 1000 / seconds).toFixed(2));
  const perEvent = (ms: number) => Number(((ms * 1000) / events).toFixed(1));
  return {
    machine_cores: cores(machine),
    process_cores: cores(own),
    redis_cores: cores(redis),
    other_cores: cores(other),
    machine_us_per_event: perEvent(machine),
    process_us_per_event: perEvent(own),
    redis_us_per_event: perEvent(redis),
    other_us_per_event: perEvent(other),
  };
}
