import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { kafkaBrokers, uniqueName } from "../helpers/services.js";
import { createTopics, REPO, readTopic } from "./helpers.js";

const run = promisify(execFile);
const BIN = resolve(REPO, "bin/chainwatch.js");

describe("chainwatch produce", { timeout: 60_000 }, () => {
  it("sends valid lines keyed by user_id, reports invalid ones by line number and skips them", async () => {
    const topic = uniqueName("produce");
    await createTopics([topic], 2);
    const file = join(mkdtempSync(join(tmpdir(), "cw-produce-")), "events.jsonl");
    const ev = (id: string, user: string) =>
      JSON.stringify({ event_id: id, timestamp: 1_790_000_000_000, user_id: user, server: "s", tool: "t" });
    writeFileSync(
      file,
      [ev("a", "u-1"), "{not json", "", ev("b", "u-2"), '{"event_id":"c"}', ev("c", "u-1")].join("\n"),
    );

    const out = await run(process.execPath, [BIN, "produce", "--input", file, "--topic", topic], {
      env: { ...process.env, CHAINWATCH_KAFKA_BROKERS: kafkaBrokers().join(",") },
    });
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^line 2: not JSON at byte \d+.*\(skipped\)$/m);
    expect(out.stderr).toMatch(/^line 5: .*timestamp.*\(skipped\)$/m);
    expect(out.stderr).toMatch(/produce: 3 events sent to \S+ \(6 lines\), 2 invalid/);

    const messages = await readTopic(topic, { count: 3 });
    const got = messages.map((m) => [m.key?.toString(), JSON.parse(m.value!.toString()).event_id]).sort();
    expect(got).toEqual([
      ["u-1", "a"],
      ["u-1", "c"],
      ["u-2", "b"],
    ]);
    // One user's events land on one partition, in file order.
    const u1 = messages.filter((m) => m.key?.toString() === "u-1");
    expect(new Set(u1.map((m) => m.partition)).size).toBe(1);
  });

  it("exits 2 naming a missing input file or a bad topic", async () => {
    const missing = run(process.execPath, [BIN, "produce", "--input", "/nonexistent/x.jsonl"]);
    await expect(missing).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--input \/nonexistent\/x.jsonl: ENOENT/),
    });
    const badTopic = run(process.execPath, [BIN, "produce", "--input", "-", "--topic", "bad topic!"]);
    await expect(badTopic).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--topic: expected a topic name/),
    });
  });
});
