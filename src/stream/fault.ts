/**
 * Test hook for the delivery guarantee: `CHAINWATCH_FAULT=<point>:<N>[,<point>:<N>…]` kills the
 * process with SIGKILL (no cleanup, like a power cut) the Nth time a batch reaches <point>.
 * Points, in batch order: crash-before-save, crash-after-save, crash-mid-transaction (alerts and
 * offsets sent, transaction not committed), crash-after-commit. Not for production use.
 */
export const FAULT_POINTS = [
  "crash-before-save",
  "crash-after-save",
  "crash-mid-transaction",
  "crash-after-commit",
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface FaultHook {
  reach(point: FaultPoint): void;
}

export const noFaults: FaultHook = { reach() {} };

export function parseFaultSpec(spec: string | undefined): Map<FaultPoint, number> {
  const out = new Map<FaultPoint, number>();
  if (!spec) return out;
  for (const part of spec.split(",")) {
    const m = /^\s*([a-z-]+):(\d+)\s*$/.exec(part);
    if (!m || !FAULT_POINTS.includes(m[1] as FaultPoint) || Number(m[2]) < 1) {
      throw new Error(
        `CHAINWATCH_FAULT: expected <point>:<N> with point one of ${FAULT_POINTS.join(", ")} and N >= 1, got ${JSON.stringify(part)}`,
      );
    }
    out.set(m[1] as FaultPoint, Number(m[2]));
  }
  return out;
}

export function faultHookFromEnv(
  spec: string | undefined,
  kill: () => void = () => process.kill(process.pid, "SIGKILL"),
): FaultHook {
  const targets = parseFaultSpec(spec);
  if (targets.size === 0) return noFaults;
  const seen = new Map<FaultPoint, number>();
  return {
    reach(point) {
      const n = (seen.get(point) ?? 0) + 1;
      seen.set(point, n);
      if (targets.get(point) === n) {
        process.stderr.write(`chainwatch: fault hook ${point}:${n}, killing the process\n`);
        kill();
      }
    },
  };
}
