import type { Match } from "./types.js";

/** `250ms`, `42s`, `4m12s`, `1h3m` (hours keep counting past a day: `26h5m`). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalS = Math.floor(ms / 1000);
  if (totalS < 60) return `${totalS}s`;
  const totalM = Math.floor(totalS / 60);
  const s = totalS % 60;
  if (totalM < 60) return s ? `${totalM}m${s}s` : `${totalM}m`;
  const h = Math.floor(totalM / 60);
  const m = totalM % 60;
  return m ? `${h}h${m}m` : `${h}h`;
}

/**
 * One line for humans: `u-481: list_patients ×3 → export_data → send_email within 4m12s`. Per step
 * (in the pattern's step order) its tool; a count step whose events share a tool shows `×N`, one
 * whose tools differ lists them joined by `|`. A single-event match has no `within`.
 */
export function summarize(match: Match): string {
  const group = match.pattern.groupBy.map((f) => match.groupValues[f] ?? "").join("/");
  const parts = match.steps.map((events, s) => {
    const tools = [...new Set(events.map((e) => e.event.tool))];
    if (tools.length > 1) return tools.join("|");
    return match.pattern.steps[s]!.count ? `${tools[0]} ×${events.length}` : tools[0]!;
  });
  const total = match.steps.reduce((n, events) => n + events.length, 0);
  const span = total > 1 ? ` within ${formatDuration(match.lastSeen - match.firstSeen)}` : "";
  return `${group}: ${parts.join(" → ")}${span}`;
}
