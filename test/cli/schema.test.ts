// `chainwatch schema <name>` as a user runs it: the real bin, a separate process, the built dist/
// (`npm test` builds it first; while developing, `npm run build`).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, chainwatch as run } from "../helpers/cli.js";

const chainwatch = (...args: string[]) => run(args);

const committed = (name: string) =>
  JSON.parse(readFileSync(resolve(repoRoot, "schemas", `${name}.schema.json`), "utf8")) as Record<
    string,
    unknown
  >;

describe("chainwatch schema", () => {
  it("prints the event schema exactly as committed in schemas/event.schema.json", async () => {
    const run = await chainwatch("schema", "event");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(printed).toEqual(committed("event"));
    // It is the real event contract, not an empty object that would match an empty file.
    expect(printed.type).toBe("object");
    expect(printed.required).toEqual(
      expect.arrayContaining(["event_id", "timestamp", "user_id", "server", "tool"]),
    );
    expect(Object.keys(printed.properties as object)).toEqual(
      expect.arrayContaining(["event_id", "arguments", "result", "hitl", "labels", "schema_version"]),
    );
  });

  it.each(["pattern", "alert", "taxonomy"])("prints the %s schema as committed in schemas/", async (name) => {
    const run = await chainwatch("schema", name);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(committed(name));
  });

  it("exits 2 and names the choices for an unknown schema", async () => {
    const run = await chainwatch("schema", "evnet");
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/unknown schema 'evnet'/);
    expect(run.stderr).toMatch(/event/);
    expect(run.stderr).toMatch(/pattern/);
  });

  it("exits 2 when the name is missing", async () => {
    const run = await chainwatch("schema");
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/missing required argument/i);
  });
});
