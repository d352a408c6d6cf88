import ms from "ms";
import { DURATION_RE } from "./schema.js";

/** Longest duration a pattern may use: a window longer than this is a state-size accident. */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;

/**
 * `500ms`, `30s`, `10m`, `2h`, `1d` → milliseconds. The strict regex comes first because `ms` alone
 * also accepts `1.5h`, `2 days` and bare numbers, which the pattern language does not.
 */
export function parseDuration(text: string): number {
  if (!DURATION_RE.test(text)) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return ms(text as ms.StringValue);
}
