import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The real bin (it imports dist/), on temp files: exit codes and output format. */
const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "cw-cli-patterns-"));

function chainwatch(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin/chainwatch.js"), ...args], {
    cwd: dir,
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(rel: string, content: unknown): void {
  const path = join(dir, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
}

const exfil = {
  id: "exfil.export-send",
  version: 1,
  title: "Export, then send",
  severity: "high",
  within: "10m",
  steps: [
    { id: "export", where: { tool: { glob: "export_*" } } },
    { id: "send", where: { category: "public_sink" } },
  ],
  join: [{ left: "export.result.file_id", right: "send.arguments.attachment" }],
  tests: [
    { name: "fires", events: "fixtures/positive.jsonl", expect: 1 },
    { name: "quiet", events: "fixtures/negative.jsonl", expect: 0 },
  ],
};
const ev = (id: string, t: number, tool: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ event_id: id, timestamp: t, user_id: "u1", server: "s", tool, ...extra });

beforeAll(() => {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "ignore" });
  write("good/exfil.json", exfil);
  write("good/taxonomy.json", { categories: { public_sink: ["send_*"] } });
  write(
    "good/fixtures/positive.jsonl",
    [
      ev("a1", 1000, "export_data", { result: { file_id: "f-9" } }),
      "",
      ev("a2", 2000, "send_email", { arguments: { attachment: "f-9" } }),
    ].join("\n"),
  );
  write(
    "good/fixtures/negative.jsonl",
    [
      ev("b1", 1000, "export_data", { result: { file_id: "f-9" } }),
      ev("b2", 2000, "send_email", { arguments: { attachment: "f-1" } }),
    ].join("\n"),
  );
  write("bad/a.json", {
    ...exfil,
    tests: undefined,
    wihtin: "1m",
    steps: [{ id: "x", where: { tool: { glob: 5 } } }],
  });
  write("bad/b.json", '{\n  "id": "b",\n}');
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("chainwatch patterns validate", () => {
  it("exit 0 and a one-line summary on a good set", () => {
    const r = chainwatch("patterns", "validate", "good");
    expect(r).toMatchObject({ code: 0, stdout: "1 pattern, 1 taxonomy: ok\n" });
  });
  it("exit 1 and every error as file: json.path: message", () => {
    const r = chainwatch("patterns", "validate", "bad", "good");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")).toEqual([
      "bad/a.json: steps[0].where.tool.glob: expected string, got number",
      "bad/a.json: wihtin: unknown key",
      "bad/b.json: 3:1: not JSON: Expected double-quoted property name",
      "3 errors",
      "",
    ]);
  });
  it("names each file as it was given: an absolute path, ./, a directory's files under the directory", () => {
    const errorOf = (path: string) => `${path}: steps[0].where.tool.glob: expected string, got number`;
    // Inside the working directory too: an absolute path stays absolute.
    expect(chainwatch("patterns", "validate", join(dir, "bad/a.json")).stderr).toContain(
      errorOf(join(dir, "bad/a.json")),
    );
    expect(chainwatch("patterns", "validate", "./bad/a.json").stderr).toContain(errorOf("./bad/a.json"));
    expect(chainwatch("patterns", "validate", join(dir, "bad")).stderr).toContain(
      errorOf(join(dir, "bad", "a.json")),
    );
  });
  it("reports a fixture that does not exist", () => {
    write("nofix/p.json", { ...exfil, tests: [{ name: "t", events: "fixtures/gone.jsonl", expect: 1 }] });
    const r = chainwatch("patterns", "validate", "nofix/p.json");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "nofix/p.json: tests[0].events: fixture not found: nofix/fixtures/gone.jsonl\n1 error\n",
    );
  });
  it("warns (exit 0) about a category no taxonomy defines; a lone taxonomy validates", () => {
    write("warn/p.json", {
      ...exfil,
      id: "w",
      tests: undefined,
      join: undefined,
      steps: [{ id: "a", where: { category: "pubic_sink" } }],
    });
    const r = chainwatch("patterns", "validate", "warn/p.json", "good/taxonomy.json");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: warn\/p\.json: steps\[0\]\.where\.category: category "pubic_sink" is not defined/,
    );
    expect(r.stdout).toBe("1 pattern, 1 taxonomy: ok\n");
    expect(chainwatch("patterns", "validate", "good/taxonomy.json").stdout).toBe(
      "0 patterns, 1 taxonomy: ok\n",
    );
  });
  it("without a path validates the built-in library", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/chainwatch.js"), "patterns", "validate"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+ patterns, 1 taxonomy: ok\n$/);
  });
  it("--help on each subcommand", () => {
    expect(chainwatch("patterns", "validate", "--help")).toMatchObject({ code: 0 });
    expect(chainwatch("patterns", "validate", "--help").stdout).toContain(
      "Usage: chainwatch patterns validate",
    );
    expect(chainwatch("patterns", "test", "--help").stdout).toContain("Usage: chainwatch patterns test");
  });
});

describe("chainwatch patterns test", () => {
  it("a line per test and the summary; exit 0 when all pass", () => {
    const r = chainwatch("patterns", "test", "good");
    expect(r.stdout).toBe(
      [
        "ok   exfil.export-send › fires (1 alert)",
        "ok   exfil.export-send › quiet (0 alerts)",
        "2 passed, 0 failed",
        "",
      ].join("\n"),
    );
    expect(r.code).toBe(0);
  });
  it("exit 1 on a wrong count and on an invalid fixture line, naming file:line", () => {
    write("failing/exfil.json", {
      ...exfil,
      tests: [...exfil.tests, { name: "wrong", events: "fixtures/positive.jsonl", expect: 2 }],
    });
    write("failing/taxonomy.json", { categories: { public_sink: ["send_*"] } });
    write(
      "failing/fixtures/positive.jsonl",
      `${ev("a1", 1000, "export_data", { result: { file_id: "f-9" } })}\n${ev("a2", 2000, "send_email", { arguments: { attachment: "f-9" } })}\n`,
    );
    write("failing/fixtures/negative.jsonl", `${ev("b1", 1000, "export_data")}\n{"event_id": "x"}\n`);
    const r = chainwatch("patterns", "test", "failing");
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("ok   exfil.export-send › fires (1 alert)");
    expect(lines[1]).toMatch(
      /^FAIL exfil\.export-send › quiet: failing\/fixtures\/negative\.jsonl:2: invalid event: /,
    );
    expect(lines[2]).toBe("FAIL exfil.export-send › wrong: expected 2, got 1");
    expect(lines[3]).toBe("1 passed, 2 failed");
  });
  it("a load error fails with exit 1 before any test runs", () => {
    const r = chainwatch("patterns", "test", "bad");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("bad/a.json: wihtin: unknown key");
  });
});
