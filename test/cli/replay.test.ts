// `chainwatch replay` as the README's main job runs it: the real bin on the bundled example stream,
// plus stdin, --output, --dlq, batch-size independence and pattern errors.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { alertSchema } from "../../src/alerts/schema.js";
import { chainwatch, repoRoot } from "../helpers/cli.js";

const example = resolve(repoRoot, "examples/stream.jsonl");
const exampleText = readFileSync(example, "utf8");
const parseAlerts = (jsonl: string) =>
  jsonl
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(
      (l) => JSON.parse(l) as { alert_id: string; pattern: { id: string }; group: Record<string, string> },
    );

/** The lines of the example stream that are not valid events, found independently of the CLI. */
function invalidExampleLines(): number[] {
  const bad: number[] = [];
  exampleText.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      for (const f of ["event_id", "timestamp", "user_id", "server", "tool"])
        if (v[f] === undefined) throw new Error(f);
    } catch {
      bad.push(i + 1);
    }
  });
  return bad;
}

describe("chainwatch replay", () => {
  it("replays the bundled example: schema-valid alerts on stdout, invalid lines and a summary on stderr", async () => {
    const run = await chainwatch(["replay", "--input", example]);
    expect(run.code).toBe(0);
    const alerts = parseAlerts(run.stdout);
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const a of alerts) expect(alertSchema.safeParse(a).success).toBe(true);
    expect(new Set(alerts.map((a) => a.pattern.id)).size).toBeGreaterThanOrEqual(5);
    const bad = invalidExampleLines();
    expect(bad.length).toBeGreaterThan(0);
    for (const n of bad) expect(run.stderr).toMatch(new RegExp(`^line ${n}: `, "m"));
    expect(run.stderr).toMatch(new RegExp(`${bad.length} invalid`));
    expect(run.stderr).toMatch(new RegExp(`${alerts.length} alerts`));
  });

  it("gives the same alert ids from stdin, in any batch size, and into --output / --dlq files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-replay-"));
    const fromFile = parseAlerts((await chainwatch(["replay", "--input", example])).stdout);
    const fromStdin = await chainwatch(["replay", "--batch-size", "1"], { input: exampleText });
    expect(fromStdin.code).toBe(0);
    expect(parseAlerts(fromStdin.stdout).map((a) => a.alert_id)).toEqual(fromFile.map((a) => a.alert_id));

    const out = join(dir, "alerts.jsonl");
    const dlq = join(dir, "dlq.jsonl");
    const toFiles = await chainwatch([
      "replay",
      "--input",
      example,
      "--output",
      out,
      "--dlq",
      dlq,
      "--batch-size",
      "7",
    ]);
    expect(toFiles.code).toBe(0);
    expect(toFiles.stdout).toBe("");
    expect(parseAlerts(readFileSync(out, "utf8")).map((a) => a.alert_id)).toEqual(
      fromFile.map((a) => a.alert_id),
    );
    const dead = readFileSync(dlq, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; reason: string; raw: string });
    expect(dead.map((d) => d.line)).toEqual(invalidExampleLines());
    for (const d of dead) {
      expect(d.reason).not.toBe("");
      expect(exampleText.split("\n")[d.line - 1]).toBe(d.raw);
      expect(toFiles.stderr).not.toMatch(new RegExp(`^line ${d.line}: `, "m"));
    }
  });

  it("fires a user's own pattern and taxonomy, and ignores a re-delivered event", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-replay-"));
    mkdirSync(join(dir, "p"));
    writeFileSync(
      join(dir, "p", "two.json"),
      JSON.stringify({
        id: "t.read-then-send",
        version: 3,
        title: "read then send",
        severity: "high",
        within: "1m",
        steps: [
          { id: "read", where: { category: "secret" } },
          { id: "send", where: { tool: "send_email" } },
        ],
      }),
    );
    writeFileSync(join(dir, "tax.json"), JSON.stringify({ categories: { secret: ["vault/*"] } }));
    const ev = (id: string, ts: number, server: string, tool: string) =>
      JSON.stringify({ event_id: id, timestamp: ts, user_id: "u1", server, tool });
    const input = [
      ev("a", 1000, "vault", "get"),
      ev("b", 2000, "mail", "send_email"),
      ev("b", 2000, "mail", "send_email"),
    ].join("\n");
    const run = await chainwatch(
      ["replay", "--patterns", join(dir, "p"), "--taxonomy", join(dir, "tax.json")],
      { input },
    );
    expect(run.code).toBe(0);
    const alerts = parseAlerts(run.stdout);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.group).toEqual({ user_id: "u1" });
    expect(run.stderr).toMatch(/1 duplicates?/);
  });

  it("exits 2 naming the file and JSON path of a broken pattern", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-replay-"));
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        id: "x",
        version: 1,
        title: "t",
        severity: "low",
        steps: [{ id: "s", where: { tool: { glob: 5 } } }],
      }),
    );
    const run = await chainwatch(["replay", "--patterns", file], { input: "" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("bad.json");
    expect(run.stderr).toContain("steps[0].where.tool.glob");
    expect(run.stdout).toBe("");
  });

  it("exits 2 naming the choices for an unknown --log-level, before or after the command", async () => {
    for (const args of [
      ["--log-level", "bogus", "replay"],
      ["replay", "--log-level", "bogus"],
    ]) {
      const run = await chainwatch(args, { input: "" });
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toContain("expected fatal, error, warn, info, debug, trace or silent");
      expect(run.stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
    }
    // Levels are read case-insensitively, as CHAINWATCH_LOG_LEVEL is.
    expect((await chainwatch(["--log-level", "WARN", "replay"], { input: "" })).code).toBe(0);
  });

  it("remembers an id for the whole input: a duplicate two days of event time later yields nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-replay-"));
    writeFileSync(
      join(dir, "p.json"),
      JSON.stringify({
        id: "one",
        version: 1,
        title: "one",
        severity: "low",
        steps: [{ id: "d", where: { tool: "delete_all" } }],
      }),
    );
    const at = (ms: number) => new Date(Date.UTC(2026, 10, 20) + ms).toISOString();
    const event = (id: string, user: string, ms: number, tool: string) =>
      JSON.stringify({ event_id: id, timestamp: at(ms), user_id: user, server: "s", tool });
    const day = 86_400_000;
    const input = [
      event("d1", "u1", 0, "delete_all"),
      // Another user moves event time two days on: u1's group is idle long enough to be let go.
      event("x1", "u2", 2 * day, "read"),
      event("x2", "u2", 2 * day + 1, "read"),
      event("d1", "u1", 0, "delete_all"),
    ].join("\n");
    // One event per batch: a repeat within a batch is caught before the store is asked.
    const run = await chainwatch(["replay", "--batch-size", "1", "--patterns", join(dir, "p.json")], {
      input,
    });
    expect(run.code).toBe(0);
    expect(parseAlerts(run.stdout)).toHaveLength(1);
    expect(run.stderr).toMatch(/1 duplicates?/);
  });

  it("refuses a line that is not UTF-8 (as the service does) and goes on; CRLF endings are fine", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-replay-"));
    const line = (id: string) =>
      `{"event_id":"${id}","timestamp":"2026-11-20T09:00:00Z","user_id":"u1","server":"s","tool":"t"}`;
    const file = join(dir, "in.jsonl");
    // Line 2's id carries a byte that is not UTF-8: decoded, it would pass as a different id (U+FFFD).
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from(`${line("e1")}\r\n`),
        Buffer.from(line("e2"), "utf8").subarray(0, 15),
        Buffer.from([0xff]),
        Buffer.from(`${line("e2").slice(15)}\r\n${line("e3")}\r\n`),
      ]),
    );
    const run = await chainwatch(["replay", "--input", file]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^line 2: not UTF-8 at byte 15$/m);
    expect(run.stderr).toMatch(/2 events read \(3 lines\), 1 invalid/);
  });
});
