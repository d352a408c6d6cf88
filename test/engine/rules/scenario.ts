import type { Alert } from "../../../src/alerts/types.js";

/** Small builders for hand-written rule scenarios: times in seconds from T0, one user unless told. */

export const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);

/** Epoch ms of `sec` seconds after T0. */
export const at = (sec: number): number => T0 + Math.round(sec * 1000);

/** RFC 3339 UTC text of `sec` seconds after T0, as alerts carry it. */
export const iso = (sec: number): string => new Date(at(sec)).toISOString();

export type Raw = Record<string, unknown>;

/** An event `id` of `tool` at `sec`, user u1, plus any fields. */
export function ev(id: string, sec: number, tool: string, extra: Raw = {}): Raw {
  return { event_id: id, timestamp: at(sec), user_id: "u1", server: "srv", tool, ...extra };
}

/** A pattern with the required keys filled in. */
export function pattern(body: Raw): Raw {
  return { id: "rule.test", version: 1, title: "rule test", severity: "high", ...body };
}

/** What a scenario asserts of an alert: the trigger and, per step, its event ids. */
export interface Fired {
  trigger: string;
  steps: Record<string, string[]>;
}

export function fired(alerts: Alert[]): Fired[] {
  return alerts.map((a) => ({
    trigger: a.trigger_event_id,
    steps: Object.fromEntries(a.steps.map((s) => [s.step, s.event_ids])),
  }));
}

/** first_seen / last_seen as seconds from T0. */
export function span(a: Alert): [number, number] {
  return [(Date.parse(a.first_seen) - T0) / 1000, (Date.parse(a.last_seen) - T0) / 1000];
}
