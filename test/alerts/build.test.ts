import { webcrypto } from "node:crypto";
import { describe, expect, it } from "vitest";
import { alertIdOf, buildAlert, encodeAlert, traceparentOf } from "../../src/alerts/build.js";
import { alertSchema } from "../../src/alerts/schema.js";
import { formatDuration, summarize } from "../../src/alerts/summary.js";
import type { Match } from "../../src/alerts/types.js";
import type { StoredEvent } from "../../src/engine/group-state.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import type { CompiledPattern, CompiledStep } from "../../src/patterns/compiled.js";

const T0 = Date.UTC(2026, 10, 20, 9, 14, 3, 120);

function step(id: string, index: number, count?: CompiledStep["count"]): CompiledStep {
  const s: CompiledStep = { id, index, where: { test: () => true, hint: {}, fields: [] } };
  if (count) s.count = count;
  return s;
}

const pattern: CompiledPattern = {
  id: "exfil.enumerate-export-transmit",
  version: 3,
  title: "Enumerate records, export them, send them out",
  severity: "high",
  tags: ["safe.t1914"],
  groupBy: ["user_id"],
  groupingId: "user_id",
  withinMs: 600_000,
  steps: [step("enumerate", 0, { min: 3 }), step("export", 1), step("transmit", 2)],
  orderEdges: [
    [0, 1],
    [1, 2],
  ],
  joins: [],
  absent: [],
  edgesWithin: [],
  suppressMs: 0,
  tests: [],
  source: "x.json",
  fields: [],
};

let seq = 0;
function stored(id: string, offsetMs: number, tool: string, extra: Partial<ToolCallEvent> = {}): StoredEvent {
  const event: ToolCallEvent = {
    event_id: id,
    timestamp: T0 + offsetMs,
    user_id: "u-481",
    server: "ehr",
    tool,
    method: "tools/call",
    outcome: "success",
    schema_version: 1,
    ...extra,
  };
  return { seq: seq++, event, source: { line: seq } };
}

function exampleMatch(): Match {
  const list = [
    stored("l1", 0, "list_patients", { session_id: "s-1" }),
    stored("l2", 1000, "list_patients"),
    stored("l3", 2000, "list_patients"),
  ];
  const exp = stored("x", 60_000, "export_data", { agent_id: "claude" });
  const send = stored("01JDX3K8Q1", 252_000, "send_email");
  return {
    pattern,
    groupValues: { user_id: "u-481" },
    trigger: send,
    steps: [list, [exp], [send]],
    firstSeen: T0,
    lastSeen: T0 + 252_000,
  };
}

describe("alert id", () => {
  it("is the first 32 hex of SHA-256 over id, version, group values, trigger, joined by newlines", async () => {
    // Known answer from `printf '…' | sha256sum`, and recomputed with WebCrypto.
    const id = alertIdOf(pattern, { user_id: "u-481" }, "01JDX3K8Q1");
    expect(id).toBe("5a5a74e88ce19c68e553a8efaac761bf");
    const digest = await webcrypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode("exfil.enumerate-export-transmit\n3\nu-481\n01JDX3K8Q1"),
    );
    expect(Buffer.from(digest).toString("hex").slice(0, 32)).toBe(id);
  });

  it("takes several group values in group_by order, not key order", () => {
    const p = { ...pattern, id: "p.multi", version: 12, groupBy: ["labels.tenant", "arguments.n"] };
    expect(alertIdOf(p, { "arguments.n": "7", "labels.tenant": "acme" }, "e-1")).toBe(
      "2a2ab5ec2548e3241bbb2de5923114ab",
    );
  });
});

describe("buildAlert", () => {
  it("builds a schema-valid alert with steps, compact events, graph and summary", () => {
    const match = exampleMatch();
    const alert = buildAlert(match, T0 + 300_000);
    expect(alertSchema.safeParse(alert).success).toBe(true);
    expect(alert.first_seen).toBe("2026-11-20T09:14:03.120Z");
    expect(alert.last_seen).toBe("2026-11-20T09:18:15.120Z");
    expect(alert.detected_at).toBe("2026-11-20T09:19:03.120Z");
    expect(alert.trigger_event_id).toBe("01JDX3K8Q1");
    expect(alert.group).toEqual({ user_id: "u-481" });
    expect(alert.steps).toEqual([
      { step: "enumerate", event_ids: ["l1", "l2", "l3"] },
      { step: "export", event_ids: ["x"] },
      { step: "transmit", event_ids: ["01JDX3K8Q1"] },
    ]);
    expect(alert.events[0]).toEqual({
      event_id: "l1",
      timestamp: "2026-11-20T09:14:03.120Z",
      step: "enumerate",
      server: "ehr",
      tool: "list_patients",
      session_id: "s-1",
      source: match.steps[0]![0]!.source,
    });
    expect(alert.events.map((e) => e.event_id)).toEqual(["l1", "l2", "l3", "x", "01JDX3K8Q1"]);
    expect(alert.events[3]!.agent_id).toBe("claude");
    expect(alert.graph.nodes).toEqual([
      { id: "l1", step: "enumerate", tool: "list_patients" },
      { id: "l2", step: "enumerate", tool: "list_patients" },
      { id: "l3", step: "enumerate", tool: "list_patients" },
      { id: "x", step: "export", tool: "export_data" },
      { id: "01JDX3K8Q1", step: "transmit", tool: "send_email" },
    ]);
    // Every realised order edge: each enumerate event → export, export → transmit.
    expect(alert.graph.edges).toEqual([
      { from: "l1", to: "x" },
      { from: "l2", to: "x" },
      { from: "l3", to: "x" },
      { from: "x", to: "01JDX3K8Q1" },
    ]);
    expect(alert.summary).toBe("u-481: list_patients ×3 → export_data → send_email within 4m12s");
    expect(alert.schema_version).toBe(1);
    expect(JSON.parse(encodeAlert(alert).toString("utf8"))).toEqual(alert);
  });

  it("the schema rejects a malformed alert", () => {
    const alert = buildAlert(exampleMatch(), T0);
    expect(alertSchema.safeParse({ ...alert, alert_id: "XYZ" }).success).toBe(false);
    expect(alertSchema.safeParse({ ...alert, first_seen: "yesterday" }).success).toBe(false);
    const { summary: _omit, ...withoutSummary } = alert;
    expect(alertSchema.safeParse(withoutSummary).success).toBe(false);
  });
});

describe("summary", () => {
  it("formats durations", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(42_000)).toBe("42s");
    expect(formatDuration(252_000)).toBe("4m12s");
    expect(formatDuration(3_780_000)).toBe("1h3m");
    expect(formatDuration(120_000)).toBe("2m");
  });

  it("lists differing tools of a count step with |, and joins group values with /", () => {
    const m = exampleMatch();
    m.steps[0] = [
      stored("a", 0, "list_patients"),
      stored("b", 1, "search_records"),
      stored("c", 2, "list_patients"),
    ];
    m.pattern = { ...pattern, groupBy: ["user_id", "server"] };
    m.groupValues = { user_id: "u-481", server: "ehr" };
    expect(summarize(m)).toBe(
      "u-481/ehr: list_patients|search_records → export_data → send_email within 4m12s",
    );
  });
});

describe("traceparentOf", () => {
  it("builds a W3C traceparent only when both ids are there", () => {
    const trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    const span_id = "00f067aa0ba902b7";
    expect(traceparentOf({ trace_id, span_id })).toBe(`00-${trace_id}-${span_id}-01`);
    expect(traceparentOf({ trace_id })).toBeUndefined();
  });
});
