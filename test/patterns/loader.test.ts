import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseDuration } from "../../src/patterns/duration.js";
import { PatternLoadError } from "../../src/patterns/errors.js";
import {
  BUILTIN_PATTERNS_DIR,
  type JsonSource,
  loadPatternSet,
  patternSetFromJson,
} from "../../src/patterns/loader.js";

const base = {
  id: "exfil.x",
  version: 1,
  title: "Enumerate, export, transmit",
  severity: "high",
  within: "10m",
  steps: [
    {
      id: "enumerate",
      where: { category: "enumerate" },
      count: { min: 3, distinct: "arguments.patient_id" },
    },
    { id: "export", where: { tool: { glob: "export_*" }, outcome: "success" } },
    {
      id: "transmit",
      where: { category: "public_sink", "arguments.to": { not: { glob: "*@hospital.example" } } },
    },
  ],
};

/** Pattern JSON = base with overrides (undefined deletes a key). */
function pattern(over: Record<string, unknown> = {}): Record<string, unknown> {
  const p: Record<string, unknown> = { ...base, ...over };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return p;
}

/** The `file: path: message` lines a load of these patterns fails with. */
function errorsOf(...patterns: Array<Record<string, unknown> | JsonSource>): string[] {
  const sources = patterns.map((p, i) =>
    "source" in p && "json" in p ? (p as JsonSource) : { json: p, source: `p${i}.json` },
  );
  try {
    patternSetFromJson(sources);
  } catch (err) {
    expect(err).toBeInstanceOf(PatternLoadError);
    return (err as PatternLoadError).message.split("\n");
  }
  return [];
}

describe("durations", () => {
  it("integer + unit", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("0s")).toBe(0);
  });
  it("rejects what ms alone would accept", () => {
    for (const bad of ["1.5h", "10", "2 days", "10M", "-1s", "01s", "1w", " 1s"]) {
      expect(() => parseDuration(bad)).toThrow();
      expect(errorsOf(pattern({ within: bad }))).toEqual([
        "p0.json: within: expected a duration: an integer and a unit ms, s, m, h or d (500ms, 30s, 10m, 2h, 1d)",
      ]);
    }
  });
  it("caps durations at 365d", () => {
    expect(errorsOf(pattern({ within: "366d" }))).toEqual(["p0.json: within: longer than 365d"]);
    expect(errorsOf(pattern({ within: "365d" }))).toEqual([]);
  });
});

describe("schema errors", () => {
  it("accepts the spec's example and $schema", () => {
    expect(
      errorsOf(
        pattern({
          $schema: "../schemas/pattern.schema.json",
          description: "d",
          tags: ["safe.t1914"],
          group_by: ["user_id"],
          order: "sequence",
          join: [{ left: "export.result.file_id", right: "transmit.arguments.attachment" }],
          absent: [{ where: { tool: "hitl_approve" }, after: "export", before: "transmit" }],
          edges_within: [{ from: "export", to: "transmit", within: "30s" }],
          suppress: "1h",
        }),
      ),
    ).toEqual([]);
  });
  it("reports unknown keys anywhere (a typo must not disable a check)", () => {
    expect(errorsOf(pattern({ wihtin: "10m" }))).toEqual(["p0.json: wihtin: unknown key"]);
    expect(
      errorsOf(pattern({ steps: [{ id: "a", where: { tool: { gob: "x*" } } }], within: undefined })),
    ).toEqual(["p0.json: steps[0].where.tool.gob: unknown key"]);
    expect(errorsOf(pattern({ steps: [{ id: "a", where: {}, cuont: { min: 2 } }] }))).toEqual([
      "p0.json: steps[0].cuont: unknown key",
    ]);
  });
  it("reports a wrong operator operand at its path", () => {
    const steps = [...base.steps];
    steps[2] = { id: "transmit", where: { tool: { glob: 5 } } } as never;
    expect(errorsOf(pattern({ steps }))).toEqual([
      "p0.json: steps[2].where.tool.glob: expected string, got number",
    ]);
    expect(errorsOf(pattern({ steps: [{ id: "a", where: { tool: { not: { in: "x" } } } }] }))).toEqual([
      "p0.json: steps[0].where.tool.not.in: expected array, got string",
    ]);
  });
  it("rejects where keys that are not event fields", () => {
    const [line] = errorsOf(pattern({ steps: [{ id: "a", where: { tol: "x" } }] }));
    expect(line).toMatch(/^p0\.json: steps\[0\]\.where\.tol: expected "category" or an event field path/);
    expect(errorsOf(pattern({ steps: [{ id: "a", where: { "tool.name": "x" } }] }))).toHaveLength(1);
    expect(
      errorsOf(pattern({ steps: [{ id: "a", where: { "arguments.a.b": 1, "labels.t": "x" } }] })),
    ).toEqual([]);
  });
  it("rejects group_by fields that are not event field paths", () => {
    const [line] = errorsOf(pattern({ group_by: ["user_id", "usr"] }));
    expect(line).toMatch(/^p0\.json: group_by\[1\]: expected an event field path/);
  });
  it("checks ids, version, severity and limits", () => {
    expect(errorsOf(pattern({ id: "Exfil" }))).toEqual(["p0.json: id: expected [a-z0-9][a-z0-9._-]*"]);
    expect(errorsOf(pattern({ version: 0 }))).toEqual(["p0.json: version: must be > 0"]);
    expect(errorsOf(pattern({ version: 1.5 }))).toEqual([
      "p0.json: version: expected an integer, got number 1.5",
    ]);
    expect(errorsOf(pattern({ severity: "urgent" }))).toEqual([
      'p0.json: severity: expected "low" | "medium" | "high" | "critical"',
    ]);
    expect(errorsOf(pattern({ title: undefined }))).toEqual(["p0.json: title: required"]);
    const many = Array.from({ length: 17 }, (_, i) => ({ id: `s${i}`, where: {} }));
    expect(errorsOf(pattern({ steps: many }))).toEqual(["p0.json: steps: at most 16 steps"]);
    expect(errorsOf(pattern({ steps: [] }))).toEqual(["p0.json: steps: expected at least one step"]);
    expect(errorsOf(pattern({ steps: [{ id: "a", where: {}, count: { min: 10_001 } }] }))).toEqual([
      "p0.json: steps[0].count.min: must be ≤ 10000",
    ]);
    expect(errorsOf(pattern({ steps: [{ id: "a", where: {}, count: { min: 0 } }] }))).toEqual([
      "p0.json: steps[0].count.min: must be ≥ 1",
    ]);
    expect(errorsOf(pattern({ steps: [{ id: "a.b", where: {} }] }))).toEqual([
      "p0.json: steps[0].id: expected a step id: letters, digits, _ and - (no dots)",
    ]);
  });
  it("rejects a level name compared on another field, and a misspelt level", () => {
    expect(errorsOf(pattern({ steps: [{ id: "a", where: { duration_ms: { gt: "high" } } }] }))).toEqual([
      'p0.json: steps[0].where.duration_ms.gt: a level name ("high") compares only on risk_level; expected a number',
    ]);
    expect(errorsOf(pattern({ steps: [{ id: "a", where: { risk_level: { gte: "hgh" } } }] }))).toEqual([
      'p0.json: steps[0].where.risk_level.gte: expected number or "low" or "medium" or "high" or "critical", got string',
    ]);
  });
  it("a pattern that is not an object", () => {
    expect(errorsOf({ json: [1], source: "arr.json" })).toEqual(["arr.json: expected object, got array"]);
  });
});

describe("static checks", () => {
  it("duplicate pattern ids across files", () => {
    expect(errorsOf({ json: pattern(), source: "a.json" }, { json: pattern(), source: "b.json" })).toEqual([
      'b.json: id: duplicate pattern id "exfil.x" (also in a.json)',
    ]);
  });
  it("duplicate step ids", () => {
    const steps = [base.steps[0], { ...base.steps[1], id: "enumerate" }, base.steps[2]];
    expect(errorsOf(pattern({ steps }))).toEqual(['p0.json: steps[1].id: duplicate step id "enumerate"']);
  });
  it("unknown step ids in order, join, absent, edges_within", () => {
    expect(
      errorsOf(
        pattern({
          order: [["enumerate", "exprt"]],
          join: [{ left: "exprt.result.file_id", right: "transmit.arguments.attachment" }],
          absent: [{ where: { tool: "hitl_approve" }, after: "export", before: "transmt" }],
          edges_within: [{ from: "nope", to: "transmit", within: "30s" }],
        }),
      ),
    ).toEqual([
      'p0.json: order[0][1]: unknown step "exprt" (steps: enumerate, export, transmit)',
      'p0.json: join[0].left: unknown step "exprt" (steps: enumerate, export, transmit)',
      'p0.json: absent[0].before: unknown step "transmt" (steps: enumerate, export, transmit)',
      'p0.json: edges_within[0].from: unknown step "nope" (steps: enumerate, export, transmit)',
    ]);
  });
  it("join paths must start with a step id and continue with an event field path", () => {
    expect(errorsOf(pattern({ join: [{ left: "file_id", right: "transmit.arguments.x" }] }))).toEqual([
      'p0.json: join[0].left: expected step.path (e.g. export.result.file_id), got "file_id"',
    ]);
    expect(
      errorsOf(pattern({ join: [{ left: "export.reslt.file_id", right: "transmit.arguments.x" }] })),
    ).toEqual(['p0.json: join[0].left: "reslt.file_id" is not an event field path']);
  });
  it("cycles in order", () => {
    expect(
      errorsOf(
        pattern({
          order: [
            ["enumerate", "export"],
            ["export", "transmit"],
            ["transmit", "export"],
          ],
        }),
      ),
    ).toEqual(["p0.json: order: cycle: export → transmit → export (order must be a DAG)"]);
    expect(errorsOf(pattern({ order: [["export", "export"]] }))).toEqual([
      "p0.json: order: cycle: export → export (order must be a DAG)",
    ]);
    expect(
      errorsOf(
        pattern({
          order: [
            ["enumerate", "transmit"],
            ["export", "transmit"],
          ],
        }),
      ),
    ).toEqual([]);
  });
  it("regexes: catastrophic backtracking, length, syntax", () => {
    const w = (regex: string) => pattern({ steps: [{ id: "a", where: { "arguments.q": { regex } } }] });
    expect(errorsOf(w("(a+)+$"))).toEqual([
      "p0.json: steps[0].where.arguments.q.regex: regex can backtrack catastrophically (nested quantifiers); simplify it",
    ]);
    expect(errorsOf(w("a".repeat(257)))).toEqual([
      "p0.json: steps[0].where.arguments.q.regex: longer than 256 chars",
    ]);
    expect(errorsOf(w("(unclosed"))).toEqual([
      "p0.json: steps[0].where.arguments.q.regex: invalid regex: /(unclosed/: Unterminated group",
    ]);
    const nested = pattern({
      steps: [{ id: "a", where: { "arguments.q": { not: { any: [{ regex: "ok" }, { regex: "(x*)*" }] } } } }],
    });
    expect(errorsOf(nested)).toEqual([
      "p0.json: steps[0].where.arguments.q.not.any[1].regex: regex can backtrack catastrophically (nested quantifiers); simplify it",
    ]);
  });
  it("within: required unless one step without count", () => {
    expect(errorsOf(pattern({ within: undefined }))).toEqual([
      "p0.json: within: required (only a pattern with one step and no count may omit it)",
    ]);
    expect(
      errorsOf(pattern({ within: undefined, steps: [{ id: "a", where: {}, count: { min: 2 } }] })),
    ).toEqual(["p0.json: within: required (only a pattern with one step and no count may omit it)"]);
    expect(errorsOf(pattern({ within: undefined, steps: [{ id: "a", where: {} }] }))).toEqual([]);
  });
  it("absent after = before, edges_within from = to", () => {
    expect(errorsOf(pattern({ absent: [{ where: {}, after: "export", before: "export" }] }))).toEqual([
      'p0.json: absent[0]: after and before are the same step "export"',
    ]);
    expect(errorsOf(pattern({ edges_within: [{ from: "export", to: "export", within: "1s" }] }))).toEqual([
      'p0.json: edges_within[0]: from and to are the same step "export"',
    ]);
  });
  it("lists every error of every file at once, and loads nothing", () => {
    const lines = errorsOf(
      { json: pattern({ version: 0, wihtin: "1m" }), source: "a.json" },
      { json: pattern({ id: "ok.one" }), source: "ok.json" },
      { json: pattern({ id: "c", order: [["export", "export"]], within: undefined }), source: "c.json" },
    );
    expect(lines).toEqual([
      "a.json: version: must be > 0",
      "a.json: wihtin: unknown key",
      "c.json: within: required (only a pattern with one step and no count may omit it)",
      "c.json: order: cycle: export → export (order must be a DAG)",
    ]);
    const err = (() => {
      try {
        patternSetFromJson([{ json: pattern({ version: 0 }), source: "a.json" }]);
      } catch (e) {
        return e as PatternLoadError;
      }
    })();
    expect(err?.errors).toEqual([{ file: "a.json", path: "version", message: "must be > 0" }]);
  });
});

describe("compiled pattern", () => {
  const set = patternSetFromJson([
    {
      json: pattern({
        join: [{ left: "export.result.file_id", right: "transmit.arguments.attachment", op: "contains" }],
        absent: [{ where: { tool: "hitl_approve" }, after: "export", before: "transmit" }],
        edges_within: [{ from: "export", to: "transmit", within: "20m" }],
        suppress: "1h",
        tests: [{ name: "fires", events: "fixtures/x.jsonl", expect: 1 }],
      }),
      source: "lib/exfil.json",
    },
    {
      json: pattern({ id: "any", order: "any", group_by: ["labels.tenant", "user_id"] }),
      source: "any.json",
    },
    { json: pattern({ id: "one", within: undefined, steps: [{ id: "a", where: {} }] }), source: "one.json" },
  ]);
  const [p, any, one] = set.patterns as [
    (typeof set.patterns)[0],
    (typeof set.patterns)[0],
    (typeof set.patterns)[0],
  ];
  it("order edges: sequence → i→i+1, any → none", () => {
    expect(p.orderEdges).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(any.orderEdges).toEqual([]);
  });
  it("durations, joins, absent, counts, group_by", () => {
    expect(p.withinMs).toBe(600_000);
    expect(p.suppressMs).toBe(3_600_000);
    expect(one.withinMs).toBe(0);
    expect(one.suppressMs).toBe(0);
    expect(p.joins).toEqual([
      {
        left: { step: 1, path: ["result", "file_id"] },
        right: { step: 2, path: ["arguments", "attachment"] },
        op: "contains",
      },
    ]);
    expect(p.absent.map((a) => [a.after, a.before])).toEqual([[1, 2]]);
    expect(p.edgesWithin).toEqual([{ from: 1, to: 2, withinMs: 1_200_000 }]);
    expect(p.steps[0]!.count).toEqual({ min: 3, distinct: ["arguments", "patient_id"] });
    expect(p.groupBy).toEqual(["user_id"]);
    expect(p.groupingId).toBe("user_id");
    expect(any.groupingId).toBe("labels.tenant,user_id");
  });
  it("retention is the longest within: a longer edges_within does not widen it (rule 6)", () => {
    expect(p.edgesWithin[0]!.withinMs).toBeGreaterThan(p.withinMs);
    expect(set.retentionMs).toBe(Math.max(...set.patterns.map((q) => q.withinMs)));
    expect(set.retentionMs).toBe(600_000);
  });
  it("fixture paths resolve against the pattern file; fields cover what is read", () => {
    expect(p.tests[0]!.events).toBe(join(process.cwd(), "lib/fixtures/x.jsonl"));
    // exact paths: wheres (category → categories, server, tool), the absent's where, the join's two
    // sides, the distinct path and group_by
    expect(p.fields.sort()).toEqual([
      "arguments.attachment",
      "arguments.patient_id",
      "arguments.to",
      "categories",
      "outcome",
      "result.file_id",
      "server",
      "tool",
      "user_id",
    ]);
    expect(any.fields).toContain("labels.tenant");
    expect(any.fields).not.toContain("labels");
  });
});

describe("loadPatternSet (files)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cw-patterns-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, content: unknown) => {
    const path = join(dir, rel);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return path;
  };

  it("reads directories recursively, loads taxonomy.json as a taxonomy, skips fixtures/", async () => {
    const lib = join(dir, "lib");
    write("lib/a.json", pattern({ id: "a", tests: [{ name: "t", events: "fixtures/a.jsonl", expect: 0 }] }));
    write("lib/sub/b.json", pattern({ id: "b" }));
    write("lib/taxonomy.json", { categories: { public_sink: ["send_*"] } });
    write("lib/fixtures/a.jsonl", "");
    write("lib/fixtures/not-a-pattern.json", { nonsense: true });
    write("lib/notes.txt", "ignored");
    const set = await loadPatternSet({ patterns: [lib] });
    expect(set.patterns.map((p) => p.id)).toEqual(["a", "b"]);
    expect(set.taxonomyFiles).toHaveLength(1);
    expect(set.patterns[0]!.tests[0]!.events).toBe(join(lib, "fixtures/a.jsonl"));
  });
  it("merges explicit taxonomies with the one found among the patterns", async () => {
    const extra = write("extra-tax.json", { categories: { enumerate: ["list_*"] } });
    const set = await loadPatternSet({ patterns: [join(dir, "lib")], taxonomies: [extra] });
    const ev = {
      event_id: "e",
      timestamp: 0,
      user_id: "u",
      server: "s",
      method: "tools/call",
      outcome: "success",
      schema_version: 1,
    } as const;
    expect([...set.taxonomy.categoriesOf({ ...ev, tool: "list_x" })]).toEqual(["enumerate"]);
    expect([...set.taxonomy.categoriesOf({ ...ev, tool: "send_x" })]).toEqual(["public_sink"]);
  });
  it("treats a file whose top level is {categories} as a taxonomy", async () => {
    const tax = write("my-categories.json", { categories: { x: ["y"] } });
    const p = write("single.json", pattern({ id: "single" }));
    const set = await loadPatternSet({ patterns: [p, tax] });
    expect(set.patterns.map((x) => x.id)).toEqual(["single"]);
    expect(set.taxonomyFiles).toHaveLength(1);
  });
  it("reports not-JSON with line:column, and every other file's errors too, in file order", async () => {
    const bad = join(dir, "bad");
    write("bad/broken.json", '{\n  "id": "x",\n  "version": 1,\n  "title": }\n');
    write("bad/trailing.json", '{"id": "x",}');
    write("bad/schema.json", pattern({ severity: "nope" }));
    write("bad/tax/taxonomy.json", { categories: { x: "send_*" } });
    const err = await loadPatternSet({ patterns: [bad] }).catch((e) => e);
    expect(err).toBeInstanceOf(PatternLoadError);
    const rel = (f: string) => join(dir, "bad", f).replace(`${process.cwd()}/`, "");
    expect(err.message.split("\n")).toEqual([
      `${rel("broken.json")}: 4:12: not JSON: Unexpected token '}'`,
      `${rel("schema.json")}: severity: expected "low" | "medium" | "high" | "critical"`,
      `${rel("tax/taxonomy.json")}: categories.x: expected array, got string`,
      `${rel("trailing.json")}: 1:12: not JSON: Expected double-quoted property name`,
    ]);
  });
  it("reports missing paths and missing fixtures", async () => {
    const p = write(
      "nofix/p.json",
      pattern({ tests: [{ name: "t", events: "fixtures/missing.jsonl", expect: 1 }] }),
    );
    const err = await loadPatternSet({
      patterns: [p, join(dir, "does-not-exist")],
      checkFixtures: true,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(PatternLoadError);
    const lines: string[] = err.message.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/does-not-exist: no such file or directory$/);
    expect(lines[0]).toMatch(
      /nofix\/p\.json: tests\[0\]\.events: fixture not found: .*nofix\/fixtures\/missing\.jsonl$/,
    );
  });
  it("missing fixtures do not stop a load for detection", async () => {
    const set = await loadPatternSet({ patterns: [join(dir, "nofix/p.json")] });
    expect(set.patterns).toHaveLength(1);
  });
  it("a directory without patterns is an error", async () => {
    mkdirSync(join(dir, "empty"));
    await expect(loadPatternSet({ patterns: [join(dir, "empty")] })).rejects.toThrow(
      /no pattern or taxonomy files/,
    );
  });
  it("warns about categories no loaded taxonomy defines", async () => {
    const p = write(
      "warn/p.json",
      pattern({
        steps: [
          { id: "a", where: { category: "public_sink" } },
          { id: "b", where: { category: { not: { in: ["pubic_sink", 3] } } } },
        ],
      }),
    );
    write("warn/taxonomy.json", { categories: { public_sink: ["send_*"] } });
    const set = await loadPatternSet({ patterns: [join(dir, "warn")] });
    expect(set.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      'steps[1].where.category.not: category "pubic_sink" is not defined by any loaded taxonomy (only events carrying it themselves can match)',
    ]);
    const alone = await loadPatternSet({ patterns: [p] });
    expect(alone.warnings).toEqual([]); // no taxonomy loaded: nothing to compare with
  });
  it("without paths loads the built-in library", async () => {
    const set = await loadPatternSet();
    expect(BUILTIN_PATTERNS_DIR).toBe(join(process.cwd(), "patterns"));
    expect(set.patterns.length).toBeGreaterThan(0);
    expect(set.taxonomyFiles).toEqual(["patterns/taxonomy.json"]);
    expect(set.warnings).toEqual([]);
  });
});
