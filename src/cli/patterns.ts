import type { Command } from "commander";
import { formatIssue, PatternLoadError } from "../patterns/errors.js";
import { displayPath, runFixture } from "../patterns/fixtures.js";
import { BUILTIN_PATTERNS_DIR, type LoadedPatternSet, loadPatternSet } from "../patterns/loader.js";
import type { CliContext } from "./errors.js";

/** `chainwatch patterns validate|test PATH…` (shared/spec/cli.md). Both exit 1 on any problem. */
export function registerPatterns(program: Command, ctx: CliContext): void {
  const patterns = program
    .command("patterns")
    .description("check attack patterns and taxonomies, run their test fixtures");

  patterns
    .command("validate")
    .description(
      "load and check patterns and taxonomies; prints each error as `file: json.path: message`, exit 1 if any",
    )
    .argument(
      "[paths...]",
      "pattern files or directories (read recursively for *.json); a file named taxonomy.json, or one " +
        "whose top level is {categories}, is a taxonomy. Default: the built-in library",
    )
    .action(async (paths: string[]) => {
      const set = await load(paths, ctx);
      if (!set) return;
      for (const w of set.warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
      process.stdout.write(`${summary(set)}: ok\n`);
    });

  patterns
    .command("test")
    .description(
      "run every loaded pattern's `tests` fixtures with the whole loaded set (so the taxonomy and " +
        "window are the real ones), counting that pattern's alerts only; exit 1 if any test failed",
    )
    .argument("[paths...]", "pattern files or directories, as for validate. Default: the built-in library")
    .action(async (paths: string[]) => {
      const set = await load(paths, ctx);
      if (!set) return;
      let passed = 0;
      let failed = 0;
      for (const pattern of set.patterns) {
        for (const test of pattern.tests) {
          const label = `${pattern.id} › ${test.name}`;
          let problems: string[];
          let got = 0;
          try {
            const run = await runFixture(set, pattern, test);
            got = run.alerts.length;
            problems = run.invalid.map((l) => `${l.file}:${l.line}: invalid event: ${l.reason}`);
            if (got !== test.expect) problems.unshift(`expected ${test.expect}, got ${got}`);
          } catch (err) {
            problems = [`${displayPath(test.events)}: ${err instanceof Error ? err.message : String(err)}`];
          }
          if (problems.length === 0) {
            passed++;
            process.stdout.write(`ok   ${label} (${plural(got, "alert")})\n`);
          } else {
            failed++;
            process.stdout.write(`FAIL ${label}: ${problems.join("; ")}\n`);
          }
        }
      }
      process.stdout.write(`${passed} passed, ${failed} failed\n`);
      if (failed) ctx.setExitCode(1);
    });
}

/** Loads the set, or prints every load error to stderr, sets exit 1 and returns undefined. */
async function load(paths: string[], ctx: CliContext): Promise<LoadedPatternSet | undefined> {
  try {
    return await loadPatternSet({
      patterns: paths.length ? paths : [BUILTIN_PATTERNS_DIR],
      checkFixtures: true,
    });
  } catch (err) {
    if (!(err instanceof PatternLoadError)) throw err;
    for (const issue of err.errors) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write(`${plural(err.errors.length, "error")}\n`);
    ctx.setExitCode(1);
    return undefined;
  }
}

function summary(set: LoadedPatternSet): string {
  const tax = set.taxonomyFiles.length;
  return `${plural(set.patterns.length, "pattern")}, ${tax} ${tax === 1 ? "taxonomy" : "taxonomies"}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
