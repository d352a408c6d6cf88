import { describe, expect, it } from "vitest";
import { detect } from "../../helpers/detect.js";
import { ev, fired, pattern } from "./scenario.js";

// patterns.md rule 1 and `group_by`: events are grouped by the pattern's group_by values; an event
// missing one of them is ignored by that pattern.

const chain = (extra: Record<string, unknown> = {}) =>
  pattern({
    within: "1m",
    steps: [
      { id: "a", where: { tool: "read" } },
      { id: "b", where: { tool: "send" } },
    ],
    ...extra,
  });

describe("rule 1: grouping", () => {
  it("groups by user_id by default: steps of two users never combine", async () => {
    const alerts = await detect(chain(), [
      ev("r1", 0, "read", { user_id: "u1" }),
      ev("s2", 1, "send", { user_id: "u2" }),
      ev("r2", 2, "read", { user_id: "u2" }),
      ev("s1", 3, "send", { user_id: "u1" }),
      ev("s2b", 4, "send", { user_id: "u2" }),
    ]);
    expect(fired(alerts)).toEqual([
      { trigger: "s1", steps: { a: ["r1"], b: ["s1"] } },
      { trigger: "s2b", steps: { a: ["r2"], b: ["s2b"] } },
    ]);
    expect(alerts.map((a) => a.group)).toEqual([{ user_id: "u1" }, { user_id: "u2" }]);
  });

  it("groups by a custom field: one user's two sessions are two groups", async () => {
    const alerts = await detect(chain({ group_by: ["session_id"] }), [
      ev("r1", 0, "read", { session_id: "s-1" }),
      ev("x1", 1, "send", { session_id: "s-2" }),
      ev("x2", 2, "send", { session_id: "s-1", user_id: "u9" }),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "x2", steps: { a: ["r1"], b: ["x2"] } }]);
    expect(alerts[0]!.group).toEqual({ session_id: "s-1" });
  });

  it("an event missing a group field is ignored by that pattern", async () => {
    const alerts = await detect(chain({ group_by: ["session_id"] }), [
      ev("r1", 0, "read"), // no session: ignored
      ev("s1", 1, "send", { session_id: "s-1" }),
      ev("r2", 2, "read", { session_id: "s-1" }),
      ev("s2", 3, "send"), // no session: ignored, even though it would complete the chain
    ]);
    expect(alerts).toEqual([]);
  });

  it("an envelope null counts as missing", async () => {
    const alerts = await detect(chain({ group_by: ["session_id"] }), [
      ev("r1", 0, "read", { session_id: null }),
      ev("s1", 1, "send", { session_id: null }),
    ]);
    expect(alerts).toEqual([]);
  });

  it("several group fields form one group together, reported in group_by order", async () => {
    const alerts = await detect(chain({ group_by: ["user_id", "session_id"] }), [
      ev("r1", 0, "read", { session_id: "s-1" }),
      ev("x1", 1, "send", { session_id: "s-1", user_id: "u2" }), // other user, same session
      ev("x2", 2, "send", { session_id: "s-2" }), // same user, other session
      ev("x3", 3, "send", { session_id: "s-1" }),
    ]);
    expect(fired(alerts)).toEqual([{ trigger: "x3", steps: { a: ["r1"], b: ["x3"] } }]);
    expect(alerts[0]!.group).toEqual({ user_id: "u1", session_id: "s-1" });
    expect(Object.keys(alerts[0]!.group)).toEqual(["user_id", "session_id"]);
  });

  it("patterns with different group_by each see the event in their own group", async () => {
    const byUser = chain({ id: "by.user" });
    const bySession = chain({ id: "by.session", group_by: ["session_id"] });
    const alerts = await detect(
      [byUser, bySession],
      [
        ev("r1", 0, "read", { session_id: "s-1" }),
        ev("s1", 1, "send", { session_id: "s-2" }), // completes by.user only
        ev("s2", 2, "send", { session_id: "s-1", user_id: "u2" }), // completes by.session only
      ],
    );
    expect(alerts.map((a) => [a.pattern.id, a.trigger_event_id, a.group])).toEqual([
      ["by.user", "s1", { user_id: "u1" }],
      ["by.session", "s2", { session_id: "s-1" }],
    ]);
  });

  it("within a group, events are ordered by timestamp, not by arrival", async () => {
    const alerts = await detect(chain(), [ev("s1", 5, "send"), ev("r1", 2, "read")]);
    expect(fired(alerts)).toEqual([{ trigger: "r1", steps: { a: ["r1"], b: ["s1"] } }]);
  });
});
