import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { detect, detectRun } from "../../helpers/detect.js";
import { ev, fired, pattern } from "./scenario.js";

// patterns.md rule 5: alert id = first 32 hex of SHA-256 over pattern id, version, group values and
// the trigger's event_id joined by "\n"; replays give the same alerts; a re-delivered event_id
// yields nothing.

const sha = (parts: string[]) => createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32);

const chain = (extra: Record<string, unknown> = {}) =>
  pattern({
    id: "exfil.read-send",
    version: 7,
    within: "1m",
    steps: [
      { id: "a", where: { tool: "read" } },
      { id: "b", where: { tool: "send" } },
    ],
    ...extra,
  });

const trace = [
  ev("r1", 0, "read"),
  ev("s1", 1, "send"),
  ev("r2", 1, "read", { user_id: "u2" }),
  ev("r3", 2, "read"),
  ev("s2", 3, "send", { user_id: "u2" }),
  ev("s3", 2, "send"),
  ev("s4", 4, "send"),
  ev("r4", 3.5, "read"),
];

describe("rule 5: alert id", () => {
  it("is SHA-256 of id, version, group value and trigger event_id, cut to 32 hex", async () => {
    const alerts = await detect(chain(), [ev("r1", 0, "read"), ev("s1", 1, "send")]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.alert_id).toBe(sha(["exfil.read-send", "7", "u1", "s1"]));
    expect(alerts[0]!.alert_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it("takes every group value, in group_by order", async () => {
    const alerts = await detect(chain({ group_by: ["session_id", "user_id"] }), [
      ev("r1", 0, "read", { session_id: "sess-9" }),
      ev("s1", 1, "send", { session_id: "sess-9" }),
    ]);
    expect(alerts[0]!.alert_id).toBe(sha(["exfil.read-send", "7", "sess-9", "u1", "s1"]));
  });

  it("changes with the version", async () => {
    const alerts = await detect(chain({ version: 8 }), [ev("r1", 0, "read"), ev("s1", 1, "send")]);
    expect(alerts[0]!.alert_id).toBe(sha(["exfil.read-send", "8", "u1", "s1"]));
  });

  it("carries the pattern, group and trigger it is computed from", async () => {
    const alerts = await detect(chain({ tags: ["safe.t1914"] }), [ev("r1", 0, "read"), ev("s1", 1, "send")]);
    const a = alerts[0]!;
    expect(a.pattern).toEqual({
      id: "exfil.read-send",
      version: 7,
      title: "rule test",
      severity: "high",
      tags: ["safe.t1914"],
    });
    expect(a.group).toEqual({ user_id: "u1" });
    expect(a.trigger_event_id).toBe("s1");
    expect(a.schema_version).toBe(1);
  });
});

describe("rule 5: determinism", () => {
  it("replaying the same events yields the same alerts with the same ids", async () => {
    const first = await detect(chain(), trace);
    const second = await detect(chain(), trace);
    expect(first.length).toBeGreaterThan(1);
    expect(second).toEqual(first);
  });

  it("the batch size changes nothing", async () => {
    const one = await detect(chain(), trace, { batchSize: 1 });
    expect(fired(one)).toEqual([
      { trigger: "s1", steps: { a: ["r1"], b: ["s1"] } },
      { trigger: "s2", steps: { a: ["r2"], b: ["s2"] } },
      { trigger: "s3", steps: { a: ["r3"], b: ["s3"] } },
      { trigger: "r4", steps: { a: ["r4"], b: ["s4"] } },
    ]);
    for (const batchSize of [2, 3, 5, trace.length]) {
      const other = await detect(chain(), trace, { batchSize });
      expect(other.map((a) => [a.alert_id, a.first_seen, a.last_seen, a.steps])).toEqual(
        one.map((a) => [a.alert_id, a.first_seen, a.last_seen, a.steps]),
      );
    }
  });
});

describe("rule 5: duplicates", () => {
  it("a re-delivered event_id yields nothing", async () => {
    const run = await detectRun(chain(), [ev("r1", 0, "read"), ev("s1", 1, "send"), ev("s1", 1, "send")]);
    expect(fired(run.alerts)).toEqual([{ trigger: "s1", steps: { a: ["r1"], b: ["s1"] } }]);
    expect(run.duplicates).toBe(1);
  });

  it("even with different content or another user", async () => {
    const run = await detectRun(chain(), [
      ev("r1", 0, "read"),
      ev("r1", 0, "read", { user_id: "u2" }), // same id, other user: a duplicate, not u2's read
      ev("x", 1, "send", { user_id: "u2" }),
      ev("x", 2, "send"), // same id as u2's send, different content: nothing
    ]);
    expect(run.alerts).toEqual([]);
    expect(run.duplicates).toBe(2);
  });

  it("a duplicate inside one batch is a duplicate too", async () => {
    const events = [ev("r1", 0, "read"), ev("r1", 0.5, "send"), ev("s1", 1, "send")];
    const run = await detectRun(chain(), events, { batchSize: 3 });
    expect(fired(run.alerts)).toEqual([{ trigger: "s1", steps: { a: ["r1"], b: ["s1"] } }]);
    expect(run.duplicates).toBe(1);
  });

  it("a duplicate never re-fires an alert, across batches", async () => {
    const events = [ev("r1", 0, "read"), ev("s1", 1, "send"), ev("r2", 2, "read"), ev("s1", 3, "send")];
    const run = await detectRun(chain(), events, { batchSize: 2 });
    expect(run.alerts.map((a) => a.trigger_event_id)).toEqual(["s1"]);
    expect(run.duplicates).toBe(1);
  });
});
